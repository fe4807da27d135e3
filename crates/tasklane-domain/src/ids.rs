//! Identifiers: one newtype per entity over a UUID, so that a task id can never be passed where a
//! project id is expected. New ids are UUID v7 (time-ordered), which keeps B-tree inserts local.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An identifier that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a valid {kind} id: expected a UUID such as 0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"
)]
pub struct IdParseError {
    /// Which kind of id was expected (`task`, `project`, …).
    pub kind: &'static str,
    /// The rejected input.
    pub input: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (from storage or a trusted source).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(input.trim()).map(Self).map_err(|_| IdParseError {
                    kind: $kind,
                    input: input.to_owned(),
                })
            }
        }
    };
}

id_type!(
    /// A user's id.
    UserId,
    "user"
);
id_type!(
    /// A project's id.
    ProjectId,
    "project"
);
id_type!(
    /// A task's id.
    TaskId,
    "task"
);
id_type!(
    /// A workflow status's id.
    StatusId,
    "status"
);
id_type!(
    /// A comment's id.
    CommentId,
    "comment"
);
id_type!(
    /// A label's id.
    LabelId,
    "label"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = TaskId::generate();
        assert_eq!(id.to_string().parse::<TaskId>(), Ok(id));
    }

    #[test]
    fn a_malformed_id_names_its_kind_and_the_input() {
        let err = "42".parse::<ProjectId>().unwrap_err();
        assert_eq!(err.kind, "project");
        assert!(err.to_string().contains("`42` is not a valid project id"));
    }

    #[test]
    fn generated_ids_are_time_ordered() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first < second);
        assert_eq!(first.as_uuid().get_version_num(), 7);
    }
}
