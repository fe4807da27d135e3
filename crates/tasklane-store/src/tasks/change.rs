//! Changes to one task (update, move, archive, unarchive) and deletion with its sub-tasks.
//!
//! On PostgreSQL every change first locks the task row (and, when the tree changes, the project
//! row) in a statement of its own, then reads its context: a read that waited for a lock would
//! otherwise see the rows it joins as they were before the wait. Then one data-modifying
//! statement writes the task, the column's append sequence and the aggregation, and logs the
//! task's event (`events::Folded`); the events that follow from the change (a derived status's
//! change, a restoration) take one more statement, only when there are any.

use sea_orm::{DatabaseTransaction, DbErr, Value};
use tasklane_domain::aggregation::AggregationChange;
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::{ProjectId, StatusId, TaskId};
use tasklane_domain::model::{Label, Project, StatusRef, Task};
use tasklane_domain::ports::{
    ChangeEvents, Logged, RecordEvents, TaskChangeRequest, TaskContext, TaskDeletePlan,
    TaskDeleted, TaskRevision, TaskUpdatePlan, TaskUpdated,
};
use tasklane_domain::rank::{self, Placement, Rank};
use uuid::Uuid;

use super::change_context::read_context;
use super::{
    after_to_change, delta_assignments, delta_values, require, sequence_rank_sql,
    update_aggregation,
};
use crate::Store;
use crate::convert::{self, PROJECT_COLUMNS, PROJECT_FROM, valid};
use crate::db::{Dialect, all, exec, in_transaction, one};
use crate::errors::Fail;
use crate::events::{Folded, StandIn};

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
    all(txn, d.stmt(sql, vec![d.id(task_id)])).await?;
    Ok(())
}

/// Renumbers the live tasks of `status` (the moved task left out) as `Rank::from_sequence(1..)`
/// and places the moved task between its neighbours again (the rebalance rule of `rank.rs`).
async fn rebalance(
    txn: &DatabaseTransaction,
    d: Dialect,
    status: StatusId,
    moved: TaskId,
    after: Option<TaskId>,
    before: Option<TaskId>,
) -> Result<Placement, DbErr> {
    let stmt = d.stmt(
        "SELECT id FROM tasks WHERE status_id = $1 AND archived_at IS NULL AND id <> $2 ORDER BY rank, id",
        vec![d.id(status), d.id(moved)],
    );
    let order: Vec<Uuid> = all(txn, stmt)
        .await?
        .iter()
        .map(|row| d.row(row).id("id"))
        .collect::<Result<_, _>>()?;
    for chunk in order.chunks(500).enumerate().map(|(c, ids)| (c * 500, ids)) {
        let (offset, ids) = chunk;
        let cases: Vec<String> = (0..ids.len())
            .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
            .collect();
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", 2 * i + 1)).collect();
        let mut values = Vec::with_capacity(ids.len() * 2);
        for (i, id) in ids.iter().enumerate() {
            values.push(d.id(*id));
            values.push(Rank::from_sequence((offset + i + 1) as u64).as_str().into());
        }
        let sql = format!(
            "UPDATE tasks SET rank = CASE id {} END WHERE id IN ({})",
            cases.join(" "),
            list.join(", ")
        );
        exec(txn, d.stmt(&sql, values)).await?;
    }
    exec(
        txn,
        d.stmt(
            "UPDATE statuses SET append_seq = $2 WHERE id = $1",
            vec![d.id(status), (order.len() as i64).into()],
        ),
    )
    .await?;
    let rank_at = |index: Option<usize>| index.map(|i| Rank::from_sequence(i as u64 + 1));
    let index_of =
        |id: Option<TaskId>| id.and_then(|id| order.iter().position(|x| *x == id.as_uuid()));
    let (low, high) = match (index_of(after), index_of(before)) {
        (Some(a), _) => (
            rank_at(Some(a)),
            rank_at((a + 1 < order.len()).then_some(a + 1)),
        ),
        (None, Some(b)) => (rank_at(b.checked_sub(1)), rank_at(Some(b))),
        (None, None) => (None, None),
    };
    convert::valid("placement", rank::place(low.as_ref(), high.as_ref()))
}

/// The task after `plan`, given what the write returned.
fn task_after(task: &Task, plan: &TaskUpdatePlan, rank: Rank, row_version: u64) -> Task {
    let patch = plan.patch.clone();
    Task {
        title: patch.title.unwrap_or_else(|| task.title.clone()),
        description: patch
            .description
            .unwrap_or_else(|| task.description.clone()),
        status: patch.status.unwrap_or_else(|| task.status.clone()),
        priority: patch.priority.unwrap_or(task.priority),
        task_type: patch.task_type.unwrap_or(task.task_type),
        story_points: patch.story_points.unwrap_or(task.story_points),
        due_date: patch.due_date.unwrap_or(task.due_date),
        assignee: patch.assignee.unwrap_or_else(|| task.assignee.clone()),
        parent_id: patch.parent_id.unwrap_or(task.parent_id),
        labels: patch.labels.unwrap_or_else(|| task.labels.clone()),
        archived_at: patch.archived_at.unwrap_or(task.archived_at),
        completed_at: patch.completed_at.unwrap_or(task.completed_at),
        rank,
        row_version,
        updated_at: plan.at,
        ..task.clone()
    }
}

/// What [`write_change`] wrote.
struct ChangeWritten {
    rank: Rank,
    row_version: u64,
    aggregation: Option<AggregationChange>,
    /// The task's own events, when the statement logged them (PostgreSQL).
    logged: Option<Vec<LoggedEvent>>,
}

/// Writes the decided change: the task row (all columns, from the locked row and the patch),
/// the append sequence when the task goes to the end of a column, the aggregation delta and,
/// on PostgreSQL, the task's own events (`events.written`, see `events::Folded`).
async fn write_change<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    task: &Task,
    plan: &TaskUpdatePlan,
    exact_rank: Option<Rank>,
    events: &ChangeEvents,
) -> Result<ChangeWritten, Fail<E>> {
    let after = task_after(task, plan, task.rank.clone(), task.row_version + 1);
    let append = matches!(plan.patch.placement, Some(Placement::Append));
    let has_delta = !plan.delta.is_zero();
    let fields = |first: usize| -> (String, Vec<Value>) {
        let sql = format!(
            "title = ${}, description = ${}, status_id = ${}, priority = ${}, task_type = ${}, story_points = ${}, \
             due_date = ${}, assignee_id = ${}, parent_id = ${}, completed_at = ${}, archived_at = ${}, \
             row_version = row_version + 1, updated_at = ${}",
            first,
            first + 1,
            first + 2,
            first + 3,
            first + 4,
            first + 5,
            first + 6,
            first + 7,
            first + 8,
            first + 9,
            first + 10,
            first + 11
        );
        let values = vec![
            after.title.as_str().into(),
            after
                .description
                .as_ref()
                .map(|x| x.as_str().to_owned())
                .into(),
            d.id(after.status.id),
            after.priority.as_str().into(),
            after.task_type.as_str().into(),
            after.story_points.map(|p| i16::from(p.get())).into(),
            d.opt_date(after.due_date),
            d.opt_id(after.assignee.as_ref().map(|u| u.id)),
            d.opt_id(after.parent_id),
            d.opt_time(after.completed_at),
            d.opt_time(after.archived_at),
            d.time(plan.at),
        ];
        (sql, values)
    };
    match d {
        Dialect::Postgres => {
            // One statement: the sequence, the task, the aggregation and the task's events. The
            // rank is the database's to decide only when the task goes to the end of a column;
            // the version is the locked row's plus one.
            let stand_in = append.then(|| StandIn::draw(1).remove(0));
            let provisional_rank = match (&stand_in, &exact_rank) {
                (Some(stand_in), _) => stand_in.rank().clone(),
                (None, Some(rank)) => rank.clone(),
                (None, None) => task.rank.clone(),
            };
            let revision = TaskRevision {
                task: task_after(task, plan, provisional_rank, task.row_version + 1),
                previous: task.clone(),
            };
            let folded = Folded::new((events.written)(&revision), |_| stand_in.clone());
            let mut values = vec![
                d.id(task.id),
                d.id(after.status.id),
                append.into(),
                exact_rank.as_ref().map(|r| r.as_str().to_owned()).into(),
            ];
            values.extend(delta_values(&plan.delta)); // $5..$10
            values.push(d.id(task.project_id)); // $11
            values.push(has_delta.into()); // $12
            let (set, field_values) = fields(values.len() + 1);
            values.extend(field_values);
            let at = values.len(); // updated_at is the last field
            values.push(folded.parameter().into());
            let sql = format!(
                "WITH seq AS (UPDATE statuses SET append_seq = append_seq + 1 WHERE id = $2 AND $3 RETURNING append_seq), \
                 upd AS (UPDATE tasks SET {set}, rank = COALESCE((SELECT {rank} FROM seq), $4, rank) WHERE id = $1 \
                         RETURNING id, number, rank, row_version), \
                 agg AS (UPDATE project_aggregations SET {deltas}, updated_at = ${at} WHERE project_id = $11 AND $12 \
                         RETURNING total, todo, in_progress, in_review, issue, done), \
                 {events} \
                 SELECT upd.rank, upd.row_version, agg.*, {logged} FROM upd LEFT JOIN agg ON true",
                rank = sequence_rank_sql("append_seq"),
                deltas = delta_assignments(5),
                events = Folded::sql(
                    values.len(),
                    11,
                    "upd",
                    "EXISTS (SELECT 1 FROM upd) AND (NOT $12 OR EXISTS (SELECT 1 FROM agg))"
                ),
                logged = Folded::RESULT_COLUMNS,
            );
            let row = one(txn, d.stmt(&sql, values))
                .await?
                .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("locked task vanished")))?;
            let r = d.row(&row);
            let aggregation = if has_delta {
                Some(require(convert::counts(&r)?)?)
                    .map(|after| after_to_change(Some(after), &plan.delta))
                    .transpose()?
            } else {
                None
            };
            let rank = valid("rank", Rank::parse(&r.text("rank")?))?;
            let row_version = convert::count(r.int("row_version")?)?;
            let written = task_after(task, plan, rank.clone(), row_version);
            let logged = folded.settle(&r, |_| Some(written.clone()))?;
            Ok(ChangeWritten {
                rank,
                row_version,
                aggregation,
                logged: Some(logged),
            })
        }
        Dialect::Sqlite => {
            let rank = match (append, exact_rank) {
                (true, _) => {
                    let stmt = d.stmt(
                        "UPDATE statuses SET append_seq = append_seq + 1 WHERE id = $1 RETURNING append_seq",
                        vec![d.id(after.status.id)],
                    );
                    let row = one(txn, stmt)
                        .await?
                        .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("status vanished")))?;
                    Rank::from_sequence(convert::count(d.row(&row).int("append_seq")?)?)
                }
                (false, Some(rank)) => rank,
                (false, None) => task.rank.clone(),
            };
            let (set, mut values) = fields(3);
            values.splice(0..0, [d.id(task.id), rank.as_str().into()]);
            exec(
                txn,
                d.stmt(
                    &format!("UPDATE tasks SET {set}, rank = $2 WHERE id = $1"),
                    values,
                ),
            )
            .await?;
            let aggregation = if has_delta {
                Some(require(
                    update_aggregation(txn, d, task.project_id, &plan.delta, plan.at).await?,
                )?)
            } else {
                None
            };
            Ok(ChangeWritten {
                rank,
                row_version: task.row_version + 1,
                aggregation,
                logged: None,
            })
        }
    }
}

/// Makes `labels` the task's labels: drops the others, adds the missing ones (one statement on
/// PostgreSQL). The labels were read in the task's project under the task's lock; a label
/// deleted since makes the insert fail on its foreign key, which rolls the change back.
async fn set_labels(
    txn: &DatabaseTransaction,
    d: Dialect,
    task: &Task,
    labels: &[Label],
) -> Result<(), DbErr> {
    let ids: Vec<String> = labels.iter().map(|l| l.id.to_string()).collect();
    let values = vec![
        d.id(task.id),
        d.id(task.project_id),
        serde_json::Value::from(ids).to_string().into(),
    ];
    let drop = format!(
        "DELETE FROM task_labels WHERE task_id = $1 AND label_id NOT IN {}",
        d.json_ids(3)
    );
    match d {
        Dialect::Postgres => {
            let sql = format!(
                "WITH gone AS ({drop}) INSERT INTO task_labels (project_id, task_id, label_id) \
                 SELECT $2, $1, value::uuid FROM jsonb_array_elements_text($3::jsonb) ON CONFLICT DO NOTHING"
            );
            exec(txn, d.stmt(&sql, values)).await?;
        }
        Dialect::Sqlite => {
            exec(txn, d.stmt(&drop, values.clone())).await?;
            let add = "INSERT OR IGNORE INTO task_labels (project_id, task_id, label_id) \
                       SELECT $2, $1, value FROM json_each($3)";
            exec(txn, d.stmt(add, values)).await?;
        }
    }
    Ok(())
}

/// Clears the project's archive state and returns it (with the aggregation as it stands; the caller
/// puts the change's in).
async fn restore_project(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Project, DbErr> {
    exec(
        txn,
        d.stmt(
            "UPDATE projects SET archived_at = NULL, row_version = row_version + 1, updated_at = $2 WHERE id = $1",
            vec![d.id(project_id), d.time(at)],
        ),
    )
    .await?;
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM {PROJECT_FROM} WHERE p.id = $1");
    let row = one(txn, d.stmt(&sql, vec![d.id(project_id)]))
        .await?
        .ok_or_else(|| convert::corrupt("project", "vanished"))?;
    let counts = convert::counts(&d.row(&row))?.unwrap_or_default();
    convert::project(&d.row(&row), || counts)
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
                let mut values = vec![d.id(task.id), d.id(task.project_id), has_delta.into(), d.time(plan.at)];
                values.extend(delta_values(&plan.delta)); // $5..$10
                let sql = format!(
                    "WITH del AS (DELETE FROM tasks WHERE id = $1 RETURNING id), \
                     agg AS (UPDATE project_aggregations SET {}, updated_at = $4 WHERE project_id = $2 AND $3 \
                             RETURNING total, todo, in_progress, in_review, issue, done) \
                     SELECT (SELECT count(*) FROM del) AS deleted, agg.* FROM (SELECT 1 AS one) o LEFT JOIN agg ON true",
                    delta_assignments(5)
                );
                let row = one(txn, d.stmt(&sql, values)).await?.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no result")))?;
                match (has_delta, convert::counts(&d.row(&row))?) {
                    (false, _) => None,
                    (true, None) => return Err(Fail::AggregationMissing),
                    (true, after) => Some(after_to_change(after, &plan.delta)?),
                }
            }
            Dialect::Sqlite => {
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
