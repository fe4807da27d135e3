//! Closed sets: priorities, task types, status categories and membership roles. Each parses from
//! and prints as its `snake_case` API name; a parse error lists the valid values.

use std::fmt;
use std::str::FromStr;

/// A value outside a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind}; expected one of: {}", expected.join(", "))]
pub struct ParseEnumError {
    /// What was being parsed (`priority`, `role`, …).
    pub kind: &'static str,
    /// The rejected input.
    pub input: String,
    /// Every valid value.
    pub expected: &'static [&'static str],
}

macro_rules! closed_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            /// The API name (`snake_case`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                match input {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseEnumError { kind: $kind, input: input.to_owned(), expected: Self::NAMES }),
                }
            }
        }
    };
}

closed_enum!(
    /// How urgent a task is. Ordered from `lowest` to `highest`.
    #[derive(Default)]
    Priority, "priority", {
        /// The least urgent.
        Lowest => "lowest",
        /// Below normal.
        Low => "low",
        /// Normal; the default.
        #[default]
        Medium => "medium",
        /// Above normal.
        High => "high",
        /// The most urgent.
        Highest => "highest",
    }
);

closed_enum!(
    /// What kind of work a task is.
    #[derive(Default)]
    TaskType, "task type", {
        /// A user-facing feature.
        Story => "story",
        /// A defect.
        Bug => "bug",
        /// A large body of work.
        Epic => "epic",
        /// Part of another task.
        Subtask => "subtask",
        /// Anything else; the default.
        #[default]
        Task => "task",
    }
);

closed_enum!(
    /// The category of a workflow status; the aggregation counts tasks per category.
    StatusCategory, "status category", {
        /// Not started.
        Todo => "todo",
        /// Being worked on.
        InProgress => "in_progress",
        /// Waiting for review.
        InReview => "in_review",
        /// Blocked or failing.
        Issue => "issue",
        /// Finished.
        Done => "done",
    }
);

closed_enum!(
    /// A member's role in a project. See [`crate::access`] for what each may do.
    Role, "role", {
        /// Everything, including members, statuses and the project's lifecycle.
        Owner => "owner",
        /// Task writes and the project's name and description.
        Editor => "editor",
        /// Read-only.
        Viewer => "viewer",
    }
);

impl Role {
    /// Whether a member with this role may be assigned tasks (viewers may not).
    pub const fn can_be_assignee(self) -> bool {
        !matches!(self, Role::Viewer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_value_round_trips_through_its_api_name() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(*p));
        }
        for t in TaskType::ALL {
            assert_eq!(t.to_string().parse::<TaskType>(), Ok(*t));
        }
        for c in StatusCategory::ALL {
            assert_eq!(c.as_str().parse::<StatusCategory>(), Ok(*c));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
    }

    #[test]
    fn an_unknown_value_error_lists_the_valid_ones() {
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`urgent` is not a valid priority; expected one of: lowest, low, medium, high, highest"
        );
        assert!("Owner".parse::<Role>().is_err(), "names are case-sensitive");
    }

    #[test]
    fn defaults_are_medium_priority_and_task_type() {
        assert_eq!(Priority::default(), Priority::Medium);
        assert_eq!(TaskType::default(), TaskType::Task);
        assert!(Priority::Highest > Priority::Lowest);
    }

    #[test]
    fn viewers_cannot_be_assignees() {
        assert!(Role::Owner.can_be_assignee());
        assert!(Role::Editor.can_be_assignee());
        assert!(!Role::Viewer.can_be_assignee());
    }
}
