//! Changes to one task (update, move, archive, unarchive) and deletion with its sub-tasks. The
//! write of the task itself is `write.rs`; the other rows a change touches are `around.rs`.
//!
//! On PostgreSQL every change first locks the task row (and, when the tree changes, the project
//! row) in a statement of its own, then reads its context: a read that waited for a lock would
//! otherwise see the rows it joins as they were before the wait. Then one data-modifying
//! statement writes the task, the column's append sequence and the aggregation, and logs the
//! task's event (`events::Folded`); the events that follow from the change (a derived status's
//! change, a restoration) take one more statement, only when there are any.

mod around;
mod write;

use around::{rebalance, restore_project, set_labels};
use write::{ChangeWritten, task_after, write_change};

use sea_orm::{DatabaseTransaction, DbErr};
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::ids::TaskId;
use tasklane_domain::model::StatusRef;
use tasklane_domain::ports::{
    ChangeEvents, Logged, RecordEvents, TaskChangeRequest, TaskContext, TaskDeletePlan,
    TaskDeleted, TaskUpdatePlan, TaskUpdated,
};
use tasklane_domain::rank::Placement;

use crate::Store;
use crate::convert::{self};
use crate::db::{Binds, Dialect, all, exec, in_transaction, one};
use crate::errors::Fail;
use crate::tasks::change_context::read_context;
use crate::tasks::{after_to_change, bind_deltas, require, update_aggregation};

/// Locks the task (and its project when `with_project`) before anything is read.
async fn lock(
    txn: &DatabaseTransaction,
    d: Dialect,
    task_id: TaskId,
    with_project: bool,
) -> Result<(), DbErr> {
    if d == Dialect::Sqlite {
        return Ok(());
    }
    let sql = if with_project {
        "SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = $1 FOR UPDATE OF t, p"
    } else {
        "SELECT id FROM tasks WHERE id = $1 FOR UPDATE"
    };
    // Budget: a task change (3) or deletion (4), statement 1: the lock.
    one(txn, d.stmt(sql, vec![d.id(task_id)])).await?;
    Ok(())
}

/// Locks every descendant of `task_id` (under the project lock, no descendant can appear).
async fn lock_subtree(txn: &DatabaseTransaction, d: Dialect, task_id: TaskId) -> Result<(), DbErr> {
    if d == Dialect::Sqlite {
        return Ok(());
    }
    let sql = "WITH RECURSIVE sub(id) AS (SELECT id FROM tasks WHERE parent_id = $1 \
                 UNION SELECT c.id FROM tasks c JOIN sub ON c.parent_id = sub.id) \
               SELECT t.id FROM tasks t WHERE t.id IN (SELECT id FROM sub) FOR UPDATE OF t";
    // Budget: a task deletion, statement 2 of 4: the sub-tree lock.
    all(txn, d.stmt(sql, vec![d.id(task_id)])).await?;
    Ok(())
}

pub(super) async fn update<E>(
    store: &Store,
    request: TaskChangeRequest,
    decide: &Decide<TaskContext, TaskUpdatePlan, E>,
    events: &ChangeEvents,
) -> Result<Logged<TaskUpdated>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(
        store.writer,
        |txn| -> Result<Logged<TaskUpdated>, Fail<E>> {
            lock(txn, d, request.task_id, request.lookup.parent_id.is_some()).await?;
            let context = read_context(txn, d, &request).await?;
            let task = context.task.clone();
            let plan = decide(context).map_err(Fail::Rejected)?;
            let task =
                task.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a task")))?;
            let exact_rank = match &plan.patch.placement {
                Some(Placement::At(rank)) => Some(rank.clone()),
                Some(Placement::Rebalance) => {
                    let status = plan
                        .patch
                        .status
                        .as_ref()
                        .map_or(task.status.id, |s: &StatusRef| s.id);
                    let lookup = &request.lookup;
                    match rebalance(txn, d, status, task.id, lookup.after_id, lookup.before_id)
                        .await?
                    {
                        Placement::At(rank) => Some(rank),
                        // An end-of-column placement after renumbering is an append.
                        _ => None,
                    }
                }
                _ => None,
            };
            let mut plan = plan;
            if exact_rank.is_none() && matches!(plan.patch.placement, Some(Placement::Rebalance)) {
                plan.patch.placement = Some(Placement::Append);
            }
            // The project row before the write: every writer takes the project's rows in the
            // order project, column sequences, aggregation, event head (which the write takes).
            let restored = if plan.restore_project {
                Some(restore_project(txn, d, task.project_id, plan.at).await?)
            } else {
                None
            };
            if let Some(labels) = &plan.patch.labels {
                set_labels(txn, d, &task, labels).await?;
            }
            let ChangeWritten {
                rank,
                row_version,
                aggregation,
                logged,
            } = write_change(txn, d, &task, &plan, exact_rank, events).await?;
            let restored_project = restored.map(|mut project| {
                if let Some(change) = &aggregation {
                    project.aggregation.counts = change.after;
                }
                project
            });
            let updated = TaskUpdated {
                task: task_after(&task, &plan, rank, row_version),
                previous: task,
                aggregation,
                restored_project,
            };
            match logged {
                // The task's events are logged; what followed from the change comes after them.
                Some(mut logged) => {
                    let outcome = (events.outcome)(&updated);
                    logged.extend(crate::events::append(txn, d, outcome).await?);
                    Ok(Logged {
                        value: updated,
                        events: logged,
                    })
                }
                None => Ok(crate::events::log(txn, d, updated, events).await?),
            }
        }
    )
    .map_err(Fail::into_tx)
}

pub(super) async fn delete<E>(
    store: &Store,
    request: TaskChangeRequest,
    decide: &Decide<TaskContext, TaskDeletePlan, E>,
    record: &RecordEvents<TaskDeleted>,
) -> Result<Logged<TaskDeleted>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<Logged<TaskDeleted>, Fail<E>> {
        // The project lock keeps sub-tasks from appearing or moving into the tree meanwhile.
        lock(txn, d, request.task_id, true).await?;
        lock_subtree(txn, d, request.task_id).await?;
        let context = read_context(txn, d, &request).await?;
        let (task, subtree) = (context.task.clone(), context.subtree.clone());
        let plan = decide(context).map_err(Fail::Rejected)?;
        let task = task.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a task")))?;
        let has_delta = !plan.delta.is_zero();
        let aggregation = match d {
            Dialect::Postgres => {
                let mut binds = Binds::default();
                let sql = format!(
                    "WITH del AS (DELETE FROM tasks WHERE id = {id} RETURNING id), \
                     agg AS (UPDATE project_aggregations SET {deltas}, updated_at = {at} WHERE project_id = {project} AND {counted} \
                             RETURNING total, todo, in_progress, in_review, issue, done) \
                     SELECT (SELECT count(*) FROM del) AS deleted, agg.* FROM (SELECT 1 AS one) o LEFT JOIN agg ON true",
                    id = binds.bind(d.id(task.id)),
                    deltas = bind_deltas(&mut binds, &plan.delta),
                    at = binds.bind(d.time(plan.at)),
                    project = binds.bind(d.id(task.project_id)),
                    counted = binds.bind(has_delta),
                );
                // Budget: a task deletion, statement 4 of 4: delete, count and log in one.
                let row = one(txn, d.stmt(&sql, binds.into_values())).await?.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no result")))?;
                match (has_delta, convert::counts(&d.row(&row))?) {
                    (false, _) => None,
                    (true, None) => return Err(Fail::AggregationMissing),
                    (true, after) => Some(after_to_change(after, &plan.delta)?),
                }
            }
            Dialect::Sqlite => {
                // Budget: a task deletion on SQLite: the delete.
                exec(txn, d.stmt("DELETE FROM tasks WHERE id = $1", vec![d.id(task.id)])).await?;
                if has_delta {
                    Some(require(update_aggregation(txn, d, task.project_id, &plan.delta, plan.at).await?)?)
                } else {
                    None
                }
            }
        };
        let deleted = TaskDeleted { task, subtree, aggregation };
        Ok(crate::events::log(txn, d, deleted, record).await?)
    })
    .map_err(Fail::into_tx)
}
