//! Task creation, one direction of dependency: the context read and the domain's decision
//! (`context.rs`), then the write of one backend (`postgres.rs`, `sqlite.rs`), with the steps
//! both share here. Coalescing (`../coalesce/creations.rs`) builds on the PostgreSQL write; nothing here
//! knows it exists. `tasks/mod.rs` chooses the path.

pub(crate) mod context;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::collections::HashMap;

use sea_orm::DbErr;
use tasklane_domain::ids::StatusId;
use tasklane_domain::model::Task;
use tasklane_domain::ports::{CreateTasksPlan, ProjectState, TaskDraft};
use tasklane_domain::rank::Rank;
use tasklane_domain::services::tasks::CreateTaskError;
use tasklane_domain::validation::ValidationErrors;
use uuid::Uuid;

use crate::convert;
use crate::errors::{Constraint, Fail, violates};

/// For each draft, its place among the drafts of the same status (1-based), and per status how
/// many drafts go there: the store appends them in draft order.
pub(super) fn column_slots<'a>(
    drafts: impl Iterator<Item = &'a TaskDraft>,
) -> (Vec<u64>, Vec<(StatusId, u64)>) {
    let mut per_status: Vec<(StatusId, u64)> = Vec::new();
    let slots = drafts
        .map(
            |draft| match per_status.iter_mut().find(|(id, _)| *id == draft.status.id) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    per_status.push((draft.status.id, 1));
                    1
                }
            },
        )
        .collect();
    (slots, per_status)
}

/// The tasks as committed, from the plan and what the write returned.
pub(super) fn committed_tasks(
    plan: &CreateTasksPlan,
    project: &ProjectState,
    numbers_and_ranks: &HashMap<Uuid, (u64, Rank)>,
) -> Result<Vec<Task>, DbErr> {
    plan.drafts
        .iter()
        .map(|draft| {
            let (number, rank) = numbers_and_ranks
                .get(&draft.id.as_uuid())
                .cloned()
                .ok_or_else(|| convert::corrupt("creation", "a task was not inserted"))?;
            Ok(draft.committed(project, number, rank, plan.at))
        })
        .collect()
}

/// A foreign key that failed because a status, parent or assignee vanished after the context
/// read is the client's problem (422), not a server error.
pub(super) fn reject_foreign_keys(error: DbErr) -> Fail<CreateTaskError> {
    let field = if violates(&error, Constraint::TaskStatus) {
        Some("status_id")
    } else if violates(&error, Constraint::TaskParent) {
        Some("parent_id")
    } else if violates(&error, Constraint::TaskAssignee) {
        Some("assignee_id")
    } else {
        None
    };
    match field {
        Some(field) => stale(field, "no longer exists in this project"),
        None => Fail::Db(error),
    }
}

/// A creation the store refuses because what it names changed after the context read.
pub(super) fn stale(field: &str, message: &str) -> Fail<CreateTaskError> {
    Fail::Rejected(CreateTaskError::Invalid(ValidationErrors::single(
        field, message,
    )))
}
