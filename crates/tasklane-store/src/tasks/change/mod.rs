//! Changes to one task (update, move, archive, unarchive) and deletion with its sub-tasks. The
//! write of the task itself is `write.rs`; the other rows a change touches are `around.rs`.
//!
//! On PostgreSQL every change first locks its project row and then the task row in a statement
//! of its own, then reads its context: a read that waited for a lock would otherwise see the
//! rows it joins as they were before the wait. (A coalesced change may be decided on a read
//! before the lock instead, and written only if that read still holds: `write_decided` with
//! `Unchanged`.) Then one data-modifying
//! statement writes the task, the column's append sequence and the aggregation, and logs the
//! task's event (`events::Folded`); the events that follow from the change (a derived status's
//! change, a restoration) take one more statement, only when there are any.

mod around;
mod set;
mod write;

use around::{rebalance, restore_project, set_labels};
pub(crate) use set::{SetChange, write_set};
pub(crate) use write::Unchanged;
use write::{ChangeWritten, task_after, write_change};

use sea_orm::{DatabaseTransaction, DbErr};
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::ids::TaskId;
use tasklane_domain::model::{StatusRef, Task};
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

/// Locks the project of `task_ids`, then the tasks in id order, in one statement, before
/// anything is read (PostgreSQL; SQLite's single writer needs no lock). Every writer of a
/// project's tasks takes the project row first (a creation, a change or a batch of changes, a
/// deletion), so two of them never wait for each other in opposite orders: the S3 load
/// deadlocked about once a run while changes locked their task first. `FOR NO KEY UPDATE`
/// leaves the key-share locks of inserts that reference the project (comments, labels)
/// unblocked. Returns what a decision read of each locked task can be checked against
/// (nothing on SQLite).
pub(crate) async fn lock(
    txn: &DatabaseTransaction,
    d: Dialect,
    task_ids: &[TaskId],
) -> Result<Vec<Locked>, DbErr> {
    if d == Dialect::Sqlite {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = task_ids.iter().map(ToString::to_string).collect();
    // The uncorrelated EXISTS is a one-time filter: the project is locked before any task.
    let sql = format!(
        "WITH p AS MATERIALIZED (SELECT id FROM projects \
                                 WHERE id IN (SELECT project_id FROM tasks WHERE id IN {ids}) \
                                 ORDER BY id FOR NO KEY UPDATE) \
         SELECT t.id, t.row_version, t.rank, t.comment_count FROM tasks t WHERE t.id IN {ids} AND EXISTS (SELECT 1 FROM p) \
         ORDER BY t.id FOR UPDATE OF t",
        ids = d.json_ids(1)
    );
    // Budget: a task change (3) or deletion (4), statement 1: the lock (shared by a batch).
    let rows = all(
        txn,
        d.stmt(&sql, vec![serde_json::Value::from(ids).to_string().into()]),
    )
    .await?;
    rows.iter()
        .map(|row| {
            let r = d.row(row);
            Ok(Locked {
                id: TaskId::from(r.id("id")?),
                row_version: convert::count(r.int("row_version")?)?,
                rank: r.text("rank")?,
                comment_count: convert::count(r.int("comment_count")?)?,
            })
        })
        .collect()
}

/// A task as [`lock`] found it: what moves when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locked {
    /// The task.
    pub id: TaskId,
    /// Its version.
    pub row_version: u64,
    /// Its rank's text.
    pub rank: String,
    /// Its comments.
    pub comment_count: u64,
}

impl Locked {
    /// Whether `task`, as a decision read it, is still the task as locked.
    pub(crate) fn still(&self, task: &Task) -> bool {
        self.id == task.id
            && self.row_version == task.row_version
            && self.rank == task.rank.as_str()
            && self.comment_count == task.comment_count
    }
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

pub(crate) async fn update<E>(
    store: &Store,
    request: &TaskChangeRequest,
    decide: &Decide<TaskContext, TaskUpdatePlan, E>,
    events: &ChangeEvents,
) -> Result<Logged<TaskUpdated>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(
        store.writer,
        |txn| -> Result<Logged<TaskUpdated>, Fail<E>> {
            lock(txn, d, &[request.task_id]).await?;
            apply(txn, d, request, decide, events).await
        }
    )
    .map_err(Fail::into_tx)
}

/// Reads the context of a change to a locked task, decides, and writes what was decided
/// (statements 2 and 3 of a change, and the events that follow from it).
pub(crate) async fn apply<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: &TaskChangeRequest,
    decide: &Decide<TaskContext, TaskUpdatePlan, E>,
    events: &ChangeEvents,
) -> Result<Logged<TaskUpdated>, Fail<E>> {
    let context = read_context(txn, d, request).await?;
    let task = context.task.clone();
    let plan = decide(context).map_err(Fail::Rejected)?;
    let task = task.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a task")))?;
    write_decided(txn, d, request, task, plan, events, None)
        .await?
        .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("locked task vanished")))
}

/// Whether a change can be decided before its transaction, on a context read without locks,
/// and written with [`Unchanged`] checks of everything the decision read. Changes that read
/// other tasks (a parent's chain, a move's neighbours) or set labels are decided inside the
/// transaction.
pub(crate) fn decidable_before(request: &TaskChangeRequest) -> bool {
    let lookup = &request.lookup;
    lookup.parent_id.is_none()
        && lookup.after_id.is_none()
        && lookup.before_id.is_none()
        && lookup.label_ids.is_none()
        && !lookup.subtree
}

/// Whether `plan`, decided before the transaction, can be written as decided.
pub(crate) fn writable_as_decided(plan: &TaskUpdatePlan) -> bool {
    !plan.restore_project
        && plan.patch.labels.is_none()
        && matches!(plan.patch.placement, None | Some(Placement::Append))
}

/// Writes a decided change to the locked `task`: the rows around it, the task with its events,
/// and the events that follow. With `unchanged` (a change decided before the transaction),
/// `None` when what the decision took for granted no longer holds: nothing was written.
pub(crate) async fn write_decided<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: &TaskChangeRequest,
    task: Task,
    plan: TaskUpdatePlan,
    events: &ChangeEvents,
    unchanged: Option<Unchanged>,
) -> Result<Option<Logged<TaskUpdated>>, Fail<E>> {
    let exact_rank = match &plan.patch.placement {
        Some(Placement::At(rank)) => Some(rank.clone()),
        Some(Placement::Rebalance) => {
            let status = plan
                .patch
                .status
                .as_ref()
                .map_or(task.status.id, |s: &StatusRef| s.id);
            let lookup = &request.lookup;
            match rebalance(txn, d, status, task.id, lookup.after_id, lookup.before_id).await? {
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
    let Some(ChangeWritten {
        rank,
        row_version,
        aggregation,
        logged,
    }) = write_change(txn, d, &task, &plan, exact_rank, events, unchanged).await?
    else {
        return Ok(None);
    };
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
            Ok(Some(Logged {
                value: updated,
                events: logged,
            }))
        }
        None => Ok(Some(crate::events::log(txn, d, updated, events).await?)),
    }
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
        lock(txn, d, &[request.task_id]).await?;
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
