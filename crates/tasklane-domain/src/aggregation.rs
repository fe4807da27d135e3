//! The per-project aggregation: six counters over non-archived tasks, the relative deltas every
//! task change applies to them, and the project's derived status.
//!
//! ```
//! use tasklane_domain::aggregation::{AggregationDelta, Counts, DerivationPolicy, DerivedStatus};
//! use tasklane_domain::values::StatusCategory::{Done, InProgress, Todo};
//!
//! let counts = Counts::ZERO
//!     .apply(&AggregationDelta::create(Todo)).unwrap()
//!     .apply(&AggregationDelta::status_change(Todo, InProgress)).unwrap();
//! assert_eq!((counts.total, counts.in_progress), (1, 1));
//! assert_eq!(DerivationPolicy::ActiveWins.derive(&counts), DerivedStatus::InProgress);
//! assert!(counts.apply(&AggregationDelta::archive(Done)).is_err(), "never negative");
//! ```

use std::fmt;
use std::ops::Add;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::ids::ProjectId;
use crate::values::{ParseEnumError, StatusCategory};

/// The six counters of a project's aggregation, over its non-archived tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// All non-archived tasks.
    pub total: u64,
    /// Tasks in a `todo`-category status.
    pub todo: u64,
    /// Tasks in an `in_progress`-category status.
    pub in_progress: u64,
    /// Tasks in an `in_review`-category status.
    pub in_review: u64,
    /// Tasks in an `issue`-category status.
    pub issue: u64,
    /// Tasks in a `done`-category status.
    pub done: u64,
}

/// A delta that would take a counter below zero: the aggregation and the tasks disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("applying {delta:?} to {counts:?} would make a counter negative")]
pub struct NegativeCount {
    /// The counters before.
    pub counts: Counts,
    /// The delta that did not fit.
    pub delta: AggregationDelta,
}

impl Counts {
    /// All zeros: a new project.
    pub const ZERO: Counts = Counts {
        total: 0,
        todo: 0,
        in_progress: 0,
        in_review: 0,
        issue: 0,
        done: 0,
    };

    /// The counter of `category`.
    pub const fn of(&self, category: StatusCategory) -> u64 {
        match category {
            StatusCategory::Todo => self.todo,
            StatusCategory::InProgress => self.in_progress,
            StatusCategory::InReview => self.in_review,
            StatusCategory::Issue => self.issue,
            StatusCategory::Done => self.done,
        }
    }

    /// Counts from `(category, number of tasks)` pairs, as a `GROUP BY category` returns them.
    pub fn from_category_counts(rows: impl IntoIterator<Item = (StatusCategory, u64)>) -> Self {
        rows.into_iter()
            .fold(Counts::ZERO, |mut counts, (category, n)| {
                *counts.slot(category) += n;
                counts.total += n;
                counts
            })
    }

    /// The six counters in storage order: total, todo, in progress, in review, issue, done.
    pub const fn to_array(&self) -> [u64; 6] {
        [
            self.total,
            self.todo,
            self.in_progress,
            self.in_review,
            self.issue,
            self.done,
        ]
    }

    /// Whether `total` equals the sum of the five categories.
    pub const fn is_consistent(&self) -> bool {
        self.total == self.todo + self.in_progress + self.in_review + self.issue + self.done
    }

    /// These counts with `delta` applied.
    ///
    /// # Errors
    /// [`NegativeCount`] when a counter would go below zero.
    pub fn apply(&self, delta: &AggregationDelta) -> Result<Counts, NegativeCount> {
        let shift = |value: u64, by: i64| value.checked_add_signed(by);
        let error = || NegativeCount {
            counts: *self,
            delta: *delta,
        };
        Ok(Counts {
            total: shift(self.total, delta.total).ok_or_else(error)?,
            todo: shift(self.todo, delta.todo).ok_or_else(error)?,
            in_progress: shift(self.in_progress, delta.in_progress).ok_or_else(error)?,
            in_review: shift(self.in_review, delta.in_review).ok_or_else(error)?,
            issue: shift(self.issue, delta.issue).ok_or_else(error)?,
            done: shift(self.done, delta.done).ok_or_else(error)?,
        })
    }

    fn slot(&mut self, category: StatusCategory) -> &mut u64 {
        match category {
            StatusCategory::Todo => &mut self.todo,
            StatusCategory::InProgress => &mut self.in_progress,
            StatusCategory::InReview => &mut self.in_review,
            StatusCategory::Issue => &mut self.issue,
            StatusCategory::Done => &mut self.done,
        }
    }
}

/// A relative change to the six counters, applied in the same transaction as the task change
/// (`done = done + 1`), never by writing back values read earlier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AggregationDelta {
    /// Change to `total`.
    pub total: i64,
    /// Change to `todo`.
    pub todo: i64,
    /// Change to `in_progress`.
    pub in_progress: i64,
    /// Change to `in_review`.
    pub in_review: i64,
    /// Change to `issue`.
    pub issue: i64,
    /// Change to `done`.
    pub done: i64,
}

impl AggregationDelta {
    /// No change.
    pub const ZERO: AggregationDelta = AggregationDelta {
        total: 0,
        todo: 0,
        in_progress: 0,
        in_review: 0,
        issue: 0,
        done: 0,
    };

    fn one(category: StatusCategory, by: i64) -> Self {
        let mut delta = Self {
            total: by,
            ..Self::ZERO
        };
        *delta.slot(category) += by;
        delta
    }

    /// A task created in a status of `category`: `+1` category, `+1` total.
    pub fn create(category: StatusCategory) -> Self {
        Self::one(category, 1)
    }

    /// A non-archived task moved between categories: `−1` old, `+1` new; nothing if equal.
    pub fn status_change(from: StatusCategory, to: StatusCategory) -> Self {
        if from == to {
            return Self::ZERO;
        }
        let mut delta = Self::ZERO;
        *delta.slot(from) -= 1;
        *delta.slot(to) += 1;
        delta
    }

    /// A non-archived task archived: `−1` category, `−1` total.
    pub fn archive(category: StatusCategory) -> Self {
        Self::one(category, -1)
    }

    /// A non-archived task deleted: the same as [`AggregationDelta::archive`].
    pub fn delete(category: StatusCategory) -> Self {
        Self::archive(category)
    }

    /// An archived task unarchived: `+1` category, `+1` total.
    pub fn unarchive(category: StatusCategory) -> Self {
        Self::create(category)
    }

    /// Whether this changes nothing (the store may then skip the aggregation update).
    pub fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }

    /// The opposite change.
    pub fn inverse(&self) -> Self {
        Self {
            total: -self.total,
            todo: -self.todo,
            in_progress: -self.in_progress,
            in_review: -self.in_review,
            issue: -self.issue,
            done: -self.done,
        }
    }

    fn slot(&mut self, category: StatusCategory) -> &mut i64 {
        match category {
            StatusCategory::Todo => &mut self.todo,
            StatusCategory::InProgress => &mut self.in_progress,
            StatusCategory::InReview => &mut self.in_review,
            StatusCategory::Issue => &mut self.issue,
            StatusCategory::Done => &mut self.done,
        }
    }
}

impl Add for AggregationDelta {
    type Output = AggregationDelta;

    fn add(self, other: AggregationDelta) -> AggregationDelta {
        AggregationDelta {
            total: self.total + other.total,
            todo: self.todo + other.todo,
            in_progress: self.in_progress + other.in_progress,
            in_review: self.in_review + other.in_review,
            issue: self.issue + other.issue,
            done: self.done + other.done,
        }
    }
}

impl std::iter::Sum for AggregationDelta {
    fn sum<I: Iterator<Item = AggregationDelta>>(iter: I) -> Self {
        iter.fold(AggregationDelta::ZERO, Add::add)
    }
}

/// A project's status, derived from its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivedStatus {
    /// Nothing started (or no tasks).
    Todo,
    /// Work under way.
    InProgress,
    /// At least one task has an issue.
    Issue,
    /// Every task done.
    Done,
}

impl DerivedStatus {
    /// The API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DerivedStatus::Todo => "todo",
            DerivedStatus::InProgress => "in_progress",
            DerivedStatus::Issue => "issue",
            DerivedStatus::Done => "done",
        }
    }
}

impl fmt::Display for DerivedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the derived status is computed; a server setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DerivationPolicy {
    /// The default: `total == 0` → todo; all done → done; any issue → issue; any in progress or
    /// in review → in_progress; otherwise todo.
    #[default]
    ActiveWins,
    /// As `ActiveWins`, but any todo task → todo before the in-progress rule.
    EarliestWins,
}

impl DerivationPolicy {
    /// The derived status of `counts` under this policy.
    pub fn derive(self, counts: &Counts) -> DerivedStatus {
        if counts.total == 0 {
            DerivedStatus::Todo
        } else if counts.done == counts.total {
            DerivedStatus::Done
        } else if counts.issue > 0 {
            DerivedStatus::Issue
        } else if self == DerivationPolicy::EarliestWins && counts.todo > 0 {
            DerivedStatus::Todo
        } else if counts.in_progress + counts.in_review > 0 {
            DerivedStatus::InProgress
        } else {
            DerivedStatus::Todo
        }
    }
}

impl FromStr for DerivationPolicy {
    type Err = ParseEnumError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input {
            "active_wins" => Ok(Self::ActiveWins),
            "earliest_wins" => Ok(Self::EarliestWins),
            _ => Err(ParseEnumError {
                kind: "derivation policy",
                input: input.to_owned(),
                expected: &["active_wins", "earliest_wins"],
            }),
        }
    }
}

/// A project's aggregation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// Whose aggregation.
    pub project_id: ProjectId,
    /// The counters.
    pub counts: Counts,
    /// When the counters last changed.
    pub updated_at: DateTime<Utc>,
}

/// The counters before and after one transaction's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregationChange {
    /// Before the change.
    pub before: Counts,
    /// After the change, as committed.
    pub after: Counts,
}

impl AggregationChange {
    /// The change whose committed result is `after` and whose delta was `delta`: a store that
    /// updates relatively (`RETURNING` the new values) knows `after`, and `before` follows.
    ///
    /// # Errors
    /// [`NegativeCount`] if `after − delta` is negative, which means the store applied something
    /// other than `delta`.
    pub fn from_after(after: Counts, delta: &AggregationDelta) -> Result<Self, NegativeCount> {
        Ok(Self {
            before: after.apply(&delta.inverse())?,
            after,
        })
    }

    /// `Some((old, new))` when the derived status differs before and after.
    pub fn status_transition(
        &self,
        policy: DerivationPolicy,
    ) -> Option<(DerivedStatus, DerivedStatus)> {
        let old = policy.derive(&self.before);
        let new = policy.derive(&self.after);
        (old != new).then_some((old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatusCategory::*;

    fn counts(todo: u64, in_progress: u64, in_review: u64, issue: u64, done: u64) -> Counts {
        Counts {
            total: todo + in_progress + in_review + issue + done,
            todo,
            in_progress,
            in_review,
            issue,
            done,
        }
    }

    #[test]
    fn create_adds_one_to_the_category_and_the_total() {
        let after = Counts::ZERO
            .apply(&AggregationDelta::create(InReview))
            .unwrap();
        assert_eq!(after, counts(0, 0, 1, 0, 0));
    }

    #[test]
    fn status_change_moves_one_between_categories_and_keeps_the_total() {
        let before = counts(1, 0, 0, 0, 0);
        let after = before
            .apply(&AggregationDelta::status_change(Todo, Done))
            .unwrap();
        assert_eq!(after, counts(0, 0, 0, 0, 1));
        assert!(AggregationDelta::status_change(Done, Done).is_zero());
    }

    #[test]
    fn archive_and_delete_remove_one_and_unarchive_adds_it_back() {
        let before = counts(0, 2, 0, 0, 0);
        let archived = before
            .apply(&AggregationDelta::archive(InProgress))
            .unwrap();
        assert_eq!(archived, counts(0, 1, 0, 0, 0));
        assert_eq!(
            AggregationDelta::delete(Issue),
            AggregationDelta::archive(Issue)
        );
        let back = archived
            .apply(&AggregationDelta::unarchive(InProgress))
            .unwrap();
        assert_eq!(back, before);
    }

    #[test]
    fn counters_never_go_negative() {
        let err = Counts::ZERO
            .apply(&AggregationDelta::archive(Todo))
            .unwrap_err();
        assert_eq!(err.counts, Counts::ZERO);
        let one_todo = counts(1, 0, 0, 0, 0);
        assert!(
            one_todo
                .apply(&AggregationDelta::status_change(Done, Todo))
                .is_err()
        );
    }

    #[test]
    fn deltas_add_up_and_invert() {
        let batch: AggregationDelta = [
            AggregationDelta::create(Todo),
            AggregationDelta::create(Todo),
            AggregationDelta::create(Done),
        ]
        .into_iter()
        .sum();
        assert_eq!(Counts::ZERO.apply(&batch).unwrap(), counts(2, 0, 0, 0, 1));
        assert!((batch + batch.inverse()).is_zero());
    }

    #[test]
    fn a_group_by_result_becomes_consistent_counts() {
        let recount = Counts::from_category_counts([(Todo, 3), (Done, 2), (Todo, 1)]);
        assert_eq!(recount, counts(4, 0, 0, 0, 2));
        assert!(recount.is_consistent());
        assert!(
            !Counts {
                total: 1,
                ..Counts::ZERO
            }
            .is_consistent()
        );
    }

    #[test]
    fn active_wins_follows_the_five_rules_in_order() {
        let p = DerivationPolicy::ActiveWins;
        assert_eq!(
            p.derive(&Counts::ZERO),
            DerivedStatus::Todo,
            "rule 1: no tasks"
        );
        assert_eq!(
            p.derive(&counts(0, 0, 0, 0, 3)),
            DerivedStatus::Done,
            "rule 2: all done"
        );
        assert_eq!(
            p.derive(&counts(5, 5, 0, 1, 5)),
            DerivedStatus::Issue,
            "rule 3: any issue"
        );
        assert_eq!(
            p.derive(&counts(5, 1, 0, 0, 0)),
            DerivedStatus::InProgress,
            "rule 4"
        );
        assert_eq!(
            p.derive(&counts(5, 0, 1, 0, 0)),
            DerivedStatus::InProgress,
            "rule 4: review"
        );
        assert_eq!(
            p.derive(&counts(5, 0, 0, 0, 4)),
            DerivedStatus::Todo,
            "rule 5"
        );
        assert_eq!(p.derive(&counts(0, 0, 0, 1, 0)), DerivedStatus::Issue);
    }

    #[test]
    fn earliest_wins_puts_any_todo_before_in_progress() {
        let p = DerivationPolicy::EarliestWins;
        assert_eq!(p.derive(&counts(1, 3, 0, 0, 0)), DerivedStatus::Todo);
        assert_eq!(p.derive(&counts(0, 3, 0, 0, 1)), DerivedStatus::InProgress);
        assert_eq!(
            p.derive(&counts(1, 3, 0, 1, 0)),
            DerivedStatus::Issue,
            "issue still first"
        );
        assert_eq!(p.derive(&counts(0, 0, 0, 0, 2)), DerivedStatus::Done);
        assert_eq!("earliest_wins".parse(), Ok(DerivationPolicy::EarliestWins));
        assert!("latest_wins".parse::<DerivationPolicy>().is_err());
    }

    #[test]
    fn a_change_knows_its_before_from_its_after_and_reports_status_transitions() {
        let delta = AggregationDelta::status_change(InProgress, Done);
        let change = AggregationChange::from_after(counts(0, 0, 0, 0, 1), &delta).unwrap();
        assert_eq!(change.before, counts(0, 1, 0, 0, 0));
        assert_eq!(
            change.status_transition(DerivationPolicy::ActiveWins),
            Some((DerivedStatus::InProgress, DerivedStatus::Done))
        );
        let quiet =
            AggregationChange::from_after(counts(2, 0, 0, 0, 0), &AggregationDelta::create(Todo))
                .unwrap();
        assert_eq!(quiet.status_transition(DerivationPolicy::ActiveWins), None);
    }
}
