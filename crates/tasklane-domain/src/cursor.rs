//! Keyset cursors: the position after the last item of a page, as an opaque URL-safe string.
//! Keyset (not OFFSET) pagination never skips or repeats an item while rows change.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::ids::{CommentId, ProjectId, TaskId};
use crate::values::Priority;

/// A cursor that does not belong to this listing or was altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not valid for this listing; start again without one")]
pub struct CursorError;

/// The position after a project in "newest activity first" order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectCursor {
    /// The project's `updated_at`.
    pub updated_at: DateTime<Utc>,
    /// The project's id (tie-breaker).
    pub id: ProjectId,
}

/// The position after a comment in "oldest first" order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentCursor {
    /// The comment's `created_at`.
    pub created_at: DateTime<Utc>,
    /// The comment's id (tie-breaker).
    pub id: CommentId,
}

/// Task orders of the listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskOrder {
    /// Status position, then rank, then id.
    #[default]
    Board,
    /// Most recently changed first, then id.
    Updated,
    /// Soonest due first, tasks without a due date last, then id.
    Due,
    /// Highest priority first, then id.
    Priority,
}

/// The position after a task in one of the two task orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCursor {
    /// `order=board`: status position, then rank, then id.
    Board {
        /// The status's position.
        position: u32,
        /// The task's rank, as text: a cursor only positions a page, so any 1 to 64 letters and
        /// digits are accepted (the store compares them as text), not just well-formed ranks.
        rank: String,
        /// The task's id.
        id: TaskId,
    },
    /// `order=updated`: most recently changed first, then id.
    Updated {
        /// The task's `updated_at`.
        updated_at: DateTime<Utc>,
        /// The task's id.
        id: TaskId,
    },
    /// `order=due`: soonest due first, undated last, then id.
    Due {
        /// The task's due date (`None`: among the undated).
        due: Option<NaiveDate>,
        /// The task's id.
        id: TaskId,
    },
    /// `order=priority`: highest first, then id.
    Priority {
        /// The task's [`priority_rank`].
        rank: u8,
        /// The task's id.
        id: TaskId,
    },
}

/// A priority's place in `order=priority`: 0 for `highest` … 4 for `lowest`.
pub fn priority_rank(priority: Priority) -> u8 {
    match priority {
        Priority::Highest => 0,
        Priority::High => 1,
        Priority::Medium => 2,
        Priority::Low => 3,
        Priority::Lowest => 4,
    }
}

/// The latest day a due cursor holds: 9999-12-31, as days from 0001-01-01 (day 1).
const LAST_DAY: i32 = 3_652_059;

fn micros(at: &DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// `text` if it is 1 to `max` ASCII digits, optionally after a minus sign when `signed`.
fn digits(text: &str, max: usize, signed: bool) -> Result<&str, CursorError> {
    let unsigned = if signed {
        text.strip_prefix('-').unwrap_or(text)
    } else {
        text
    };
    let ok = (1..=max).contains(&unsigned.len()) && unsigned.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(text).ok_or(CursorError)
}

/// An id in its hyphenated form only (what cursors are written with, and what the OpenAPI
/// document's pattern allows: a cursor the schema refuses is refused).
fn hyphenated<T: From<uuid::Uuid>>(text: &str) -> Result<T, CursorError> {
    let hyphens = text.len() == 36
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| matches!(i, 8 | 13 | 18 | 23) == (b == b'-'));
    let id = uuid::Uuid::try_parse(text).map_err(|_| CursorError)?;
    hyphens.then(|| T::from(id)).ok_or(CursorError)
}

/// A cursor's time; only years 1 to 9999, which both databases store and compare (a forged
/// cursor must not reach the database with a time it refuses).
fn from_micros(text: &str) -> Result<DateTime<Utc>, CursorError> {
    use chrono::Datelike;
    let value: i64 = digits(text, 16, true)?.parse().map_err(|_| CursorError)?;
    DateTime::from_timestamp_micros(value)
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or(CursorError)
}

impl ProjectCursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        format!("p1.{}.{}", micros(&self.updated_at), self.id)
    }

    /// Parses [`ProjectCursor::encode`]'s output.
    ///
    /// # Errors
    /// [`CursorError`] for anything else.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let mut parts = text.split('.');
        let (Some("p1"), Some(at), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError);
        };
        Ok(Self {
            updated_at: from_micros(at)?,
            id: hyphenated(id)?,
        })
    }
}

impl CommentCursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        format!("c1.{}.{}", micros(&self.created_at), self.id)
    }

    /// Parses [`CommentCursor::encode`]'s output.
    ///
    /// # Errors
    /// [`CursorError`] for anything else.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let mut parts = text.split('.');
        let (Some("c1"), Some(at), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError);
        };
        Ok(Self {
            created_at: from_micros(at)?,
            id: hyphenated(id)?,
        })
    }
}

impl TaskCursor {
    /// The cursor just after `task` in `order`; `position` is its status's place on the board.
    pub fn after(order: TaskOrder, task: &crate::model::Task, position: u32) -> TaskCursor {
        match order {
            TaskOrder::Board => TaskCursor::Board {
                position,
                rank: task.rank.as_str().to_owned(),
                id: task.id,
            },
            TaskOrder::Updated => TaskCursor::Updated {
                updated_at: task.updated_at,
                id: task.id,
            },
            TaskOrder::Due => TaskCursor::Due {
                due: task.due_date,
                id: task.id,
            },
            TaskOrder::Priority => TaskCursor::Priority {
                rank: priority_rank(task.priority),
                id: task.id,
            },
        }
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        match self {
            TaskCursor::Board { position, rank, id } => format!("b1.{position}.{rank}.{id}"),
            TaskCursor::Updated { updated_at, id } => format!("u1.{}.{id}", micros(updated_at)),
            TaskCursor::Due { due: Some(due), id } => {
                format!("d1.{}.{id}", due.num_days_from_ce())
            }
            TaskCursor::Due { due: None, id } => format!("d1.n.{id}"),
            TaskCursor::Priority { rank, id } => format!("r1.{rank}.{id}"),
        }
    }

    /// The order this cursor continues.
    pub fn order(&self) -> TaskOrder {
        match self {
            TaskCursor::Board { .. } => TaskOrder::Board,
            TaskCursor::Updated { .. } => TaskOrder::Updated,
            TaskCursor::Due { .. } => TaskOrder::Due,
            TaskCursor::Priority { .. } => TaskOrder::Priority,
        }
    }

    /// Parses [`TaskCursor::encode`]'s output.
    ///
    /// # Errors
    /// [`CursorError`] for anything else.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let parts: Vec<&str> = text.split('.').collect();
        match parts.as_slice() {
            ["b1", position, rank, id] => Ok(TaskCursor::Board {
                position: digits(position, 9, false)?
                    .parse()
                    .map_err(|_| CursorError)?,
                rank: Some(*rank)
                    .filter(|r| {
                        (1..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                    .ok_or(CursorError)?
                    .to_owned(),
                id: hyphenated(id)?,
            }),
            ["u1", at, id] => Ok(TaskCursor::Updated {
                updated_at: from_micros(at)?,
                id: hyphenated(id)?,
            }),
            ["d1", "n", id] => Ok(TaskCursor::Due {
                due: None,
                id: hyphenated(id)?,
            }),
            // Any day number only positions the page: it is held to 0001-01-01 … 9999-12-31,
            // what both databases compare.
            ["d1", day, id] => {
                let day: i32 = digits(day, 7, false)?.parse().map_err(|_| CursorError)?;
                Ok(TaskCursor::Due {
                    due: NaiveDate::from_num_days_from_ce_opt(day.clamp(1, LAST_DAY)),
                    id: hyphenated(id)?,
                })
            }
            ["r1", rank, id] if rank.len() == 1 => Ok(TaskCursor::Priority {
                rank: rank.parse().ok().filter(|r| *r <= 4).ok_or(CursorError)?,
                id: hyphenated(id)?,
            }),
            _ => Err(CursorError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Rank;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let project = ProjectCursor {
            updated_at: at,
            id: ProjectId::generate(),
        };
        assert_eq!(ProjectCursor::decode(&project.encode()), Ok(project));
        let board = TaskCursor::Board {
            position: 3,
            rank: Rank::from_sequence(42).as_str().to_owned(),
            id: TaskId::generate(),
        };
        assert_eq!(TaskCursor::decode(&board.encode()), Ok(board.clone()));
        let updated = TaskCursor::Updated {
            updated_at: at,
            id: TaskId::generate(),
        };
        assert_eq!(TaskCursor::decode(&updated.encode()), Ok(updated));
        for due in [None, NaiveDate::from_ymd_opt(2026, 12, 1)] {
            let cursor = TaskCursor::Due {
                due,
                id: TaskId::generate(),
            };
            assert_eq!(TaskCursor::decode(&cursor.encode()), Ok(cursor));
        }
        let priority = TaskCursor::Priority {
            rank: 4,
            id: TaskId::generate(),
        };
        assert_eq!(TaskCursor::decode(&priority.encode()), Ok(priority));
        let far = "d1.9999999.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f";
        assert!(
            matches!(TaskCursor::decode(far), Ok(TaskCursor::Due { due: Some(d), .. }) if d.year() == 9999),
            "held to the last day"
        );
        for bad in [
            "",
            "b1.x.a0.y",
            "p1.1",
            "u1.1.not-a-uuid",
            "b1.1.a-0.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "u1.-9000000000000000000.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "u1.253402300800000000.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "u1.+5.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "u1.5.0190b3a47c1e7d2a9f001a2b3c4d5e6f",
            "u1.5.{0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f}",
            "u1.5. 0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "b1.1234567890.a1.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "d1.12345678.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "d1.-5.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "r1.5.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
            "r1.12.0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f",
        ] {
            assert_eq!(TaskCursor::decode(bad), Err(CursorError), "{bad}");
        }
        assert_eq!(ProjectCursor::decode(&board.encode()), Err(CursorError));
    }
}
