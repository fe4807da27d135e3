//! Several decided changes of one project's tasks written in one statement (PostgreSQL): the
//! tasks, their columns' append sequences, the aggregation and the tasks' events.
//!
//! Why: a coalesced batch wrote its changes one statement after the other while it held the
//! project's hot rows, and on a busy board each of those round trips cost 1.7–1.9 ms (0.3 ms of
//! execution, the rest two wake-ups on a saturated machine): nine changes were ~16 ms of the
//! ~20 ms a batch held the project (README, issue 15's fifth session).
//!
//! What it writes is what the changes would have written one after the other, in order: the
//! k-th append of a batch to a column gets the column's sequence plus k, each change's
//! aggregation is the running count after it, and the events are numbered in batch order. It
//! writes all of them or nothing: when anything one of the decisions took for granted no longer
//! holds (the [`Unchanged`] checks, for every change), the statement writes nothing and the
//! caller writes each change on its own, where each check fails or passes alone. The events that
//! follow from the changes (a derived status's change) are logged after the batch's task events,
//! as a creation batch logs them.

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;
use tasklane_domain::aggregation::AggregationDelta;
use tasklane_domain::events::EncodedEvent;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::model::Task;
use tasklane_domain::ports::{ChangeEvents, Logged, TaskRevision, TaskUpdatePlan, TaskUpdated};
use tasklane_domain::rank::{Placement, Rank};
use uuid::Uuid;

use super::write::{Unchanged, task_after};
use crate::convert::{self, valid};
use crate::db::{Binds, Dialect, all};
use crate::errors::Fail;
use crate::events::{Folded, StandIn};
use crate::tasks::{after_to_change, delta_assignments, delta_values, sequence_rank_sql};

/// A change decided before its transaction, to be written with others by [`write_set`].
pub(crate) struct SetChange<'a> {
    /// The task as the decision read it.
    pub task: &'a Task,
    /// What was decided: no placement or the end of a column, no labels, no restoration.
    pub plan: &'a TaskUpdatePlan,
    /// What the decision took for granted.
    pub unchanged: Unchanged,
    /// Its events.
    pub events: &'a ChangeEvents,
}

/// The parameters of [`SET_STATEMENT`].
mod param {
    /// The project's id.
    pub const PROJECT: usize = 1;
    /// The changes as JSON (`change_json`).
    pub const CHANGES: usize = 2;
    /// The aggregation's `updated_at`: the time of the last change that moves a count.
    pub const AT: usize = 3;
    /// Whether any change moves a count.
    pub const COUNTED: usize = 4;
    /// The first of the six summed aggregation deltas (`delta_assignments`).
    pub const DELTAS: usize = 5;
    /// The folded events of every change (`Folded::parameter`).
    pub const EVENTS: usize = 11;
}

/// The statement's text, built once: one text, one prepared plan per connection, whatever the
/// batch's size.
static SET_STATEMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH c AS (SELECT * FROM jsonb_to_recordset(${changes}::jsonb) AS x(ord bigint, id uuid, status_id uuid, append boolean, \
                      title text, description text, priority text, task_type text, story_points smallint, due_date date, \
                      assignee_id uuid, parent_id uuid, completed_at timestamptz, archived_at timestamptz, at timestamptz, \
                      seen bigint, seen_rank text, seen_comments bigint, actor uuid, role text, assignee uuid, \
                      old_status uuid, old_category text, new_category text, archived boolean)), \
         held AS (SELECT count(*) = (SELECT count(*) FROM c) AS all_hold FROM c JOIN tasks t ON t.id = c.id \
                  WHERE t.project_id = ${project} AND t.row_version = c.seen AND t.rank = c.seen_rank \
                    AND t.comment_count = c.seen_comments \
                    AND (SELECT role FROM project_members WHERE project_id = ${project} AND user_id = c.actor) IS NOT DISTINCT FROM c.role \
                    AND (c.assignee IS NULL OR EXISTS (SELECT 1 FROM project_members WHERE project_id = ${project} AND user_id = c.assignee)) \
                    AND (SELECT category FROM statuses WHERE id = c.old_status) = c.old_category \
                    AND (SELECT category FROM statuses WHERE id = c.status_id) = c.new_category \
                    AND (SELECT archived_at IS NOT NULL FROM projects WHERE id = ${project}) = c.archived), \
         a AS (SELECT c.ord, c.status_id, row_number() OVER (PARTITION BY c.status_id ORDER BY c.ord) AS k \
               FROM c WHERE c.append AND (SELECT all_hold FROM held)), \
         seq AS (UPDATE statuses s SET append_seq = s.append_seq + n.n \
                 FROM (SELECT status_id, count(*) AS n FROM a GROUP BY status_id) n WHERE s.id = n.status_id \
                 RETURNING s.id, s.append_seq - n.n AS base), \
         upd AS (UPDATE tasks t SET title = c.title, description = c.description, status_id = c.status_id, \
                   priority = c.priority, task_type = c.task_type, story_points = c.story_points, due_date = c.due_date, \
                   assignee_id = c.assignee_id, parent_id = c.parent_id, completed_at = c.completed_at, \
                   archived_at = c.archived_at, row_version = t.row_version + 1, updated_at = c.at, \
                   rank = COALESCE((SELECT {rank} FROM a JOIN seq ON seq.id = a.status_id WHERE a.ord = c.ord), t.rank) \
                 FROM c WHERE t.id = c.id AND (SELECT all_hold FROM held) \
                 RETURNING t.id, t.number, t.rank, t.row_version, c.ord), \
         agg AS (UPDATE project_aggregations SET {deltas}, updated_at = ${at} \
                 WHERE project_id = ${project} AND ${counted} AND EXISTS (SELECT 1 FROM upd) \
                 RETURNING total, todo, in_progress, in_review, issue, done), \
         {events} \
         SELECT upd.ord, upd.rank, upd.row_version, agg.*, {logged} \
         FROM (SELECT 1 AS one) one LEFT JOIN upd ON true LEFT JOIN agg ON true",
        rank = sequence_rank_sql("seq.base + a.k"),
        deltas = delta_assignments(param::DELTAS),
        events = Folded::sql(
            param::EVENTS,
            param::PROJECT,
            "upd",
            &format!(
                "EXISTS (SELECT 1 FROM upd) AND (NOT ${counted} OR EXISTS (SELECT 1 FROM agg))",
                counted = param::COUNTED
            ),
        ),
        logged = Folded::RESULT_COLUMNS,
        changes = param::CHANGES,
        project = param::PROJECT,
        at = param::AT,
        counted = param::COUNTED,
    )
});

/// One change as the statement reads it from its JSON parameter: the task as it will be, and
/// what the decision took for granted.
fn change_json(ord: usize, change: &SetChange<'_>) -> serde_json::Value {
    let time = |at| Dialect::Postgres.time_text(at);
    let (task, plan, unchanged) = (change.task, change.plan, change.unchanged);
    let after = task_after(task, plan, task.rank.clone(), task.row_version + 1);
    serde_json::json!({
        "ord": ord,
        "id": task.id.as_uuid(),
        "status_id": after.status.id.as_uuid(),
        "append": matches!(plan.patch.placement, Some(Placement::Append)),
        "title": after.title.as_str(),
        "description": after.description.as_ref().map(|x| x.as_str()),
        "priority": after.priority.as_str(),
        "task_type": after.task_type.as_str(),
        "story_points": after.story_points.map(|p| p.get()),
        "due_date": after.due_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "assignee_id": after.assignee.as_ref().map(|u| u.id.as_uuid()),
        "parent_id": after.parent_id.map(|p| p.as_uuid()),
        "completed_at": after.completed_at.map(time),
        "archived_at": after.archived_at.map(time),
        "at": time(plan.at),
        "seen": task.row_version,
        "seen_rank": task.rank.as_str(),
        "seen_comments": task.comment_count,
        "actor": unchanged.actor.as_uuid(),
        "role": unchanged.role.map(|r| r.as_str()),
        "assignee": unchanged.assignee.map(|u| u.as_uuid()),
        "old_status": task.status.id.as_uuid(),
        "old_category": task.status.category.as_str(),
        "new_category": after.status.category.as_str(),
        "archived": unchanged.project_archived,
    })
}

/// Writes `changes` (decided changes of distinct, locked tasks of `project`, in order) in one
/// statement, and the events that follow from them in one more when there are any. Returns
/// what each change wrote and the statements sent for it (the first, and the second when it
/// had events that follow); `None` when something a decision took for granted no longer holds:
/// nothing was written.
pub(crate) async fn write_set<E>(
    txn: &DatabaseTransaction,
    project: ProjectId,
    changes: &[SetChange<'_>],
) -> Result<Option<Vec<(Logged<TaskUpdated>, u32)>>, Fail<E>> {
    let d = Dialect::Postgres;
    // The events as each change writes them, an appended task's rank a stand-in.
    let appends: Vec<bool> = changes
        .iter()
        .map(|c| matches!(c.plan.patch.placement, Some(Placement::Append)))
        .collect();
    let mut draws = StandIn::draw(changes.len()).into_iter();
    let stand_ins: HashMap<Uuid, StandIn> = changes
        .iter()
        .zip(&appends)
        .filter(|(_, append)| **append)
        .filter_map(|(c, _)| Some((c.task.id.as_uuid(), draws.next()?)))
        .collect();
    let mut written = Vec::new();
    let mut sizes = Vec::with_capacity(changes.len());
    for change in changes {
        let rank = stand_ins
            .get(&change.task.id.as_uuid())
            .map_or_else(|| change.task.rank.clone(), |s| s.rank().clone());
        let revision = TaskRevision {
            task: task_after(change.task, change.plan, rank, change.task.row_version + 1),
            previous: change.task.clone(),
        };
        let encoded = (change.events.written)(&revision);
        sizes.push(encoded.len());
        written.extend(encoded);
    }
    let folded = Folded::new(written, |task| stand_ins.get(&task.as_uuid()).cloned());

    let delta: AggregationDelta = changes.iter().map(|c| c.plan.delta).sum();
    // The aggregation's time as the last change that moves a count would have left it (unused
    // when none does).
    let counted_at = changes
        .iter()
        .rev()
        .find(|c| !c.plan.delta.is_zero())
        .or(changes.last())
        .map(|c| c.plan.at)
        .unwrap_or_default();
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .enumerate()
        .map(|(i, change)| change_json(i + 1, change))
        .collect();
    let mut binds = Binds::default();
    binds.bind_at(param::PROJECT, d.id(project));
    binds.bind_at(param::CHANGES, serde_json::Value::Array(rows).to_string());
    binds.bind_at(param::AT, d.time(counted_at));
    binds.bind_at(
        param::COUNTED,
        changes.iter().any(|c| !c.plan.delta.is_zero()),
    );
    for (i, value) in delta_values(&delta).into_iter().enumerate() {
        binds.bind_at(param::DELTAS + i, value);
    }
    binds.bind_at(param::EVENTS, folded.parameter());
    // Budget: a coalesced batch's decided changes, one statement for all of them.
    let rows = all(txn, d.stmt(&SET_STATEMENT, binds.into_values())).await?;

    // What each change wrote, by its place in the batch.
    let mut placed: HashMap<usize, (Rank, u64)> = HashMap::new();
    for row in &rows {
        let r = d.row(row);
        let Some(ord) = r.opt_int("ord")? else {
            continue;
        };
        let rank = valid("rank", Rank::parse(&r.text("rank")?))?;
        placed.insert(
            usize::try_from(ord).unwrap_or(usize::MAX),
            (rank, convert::count(r.int("row_version")?)?),
        );
    }
    let Some(first) = rows.first() else {
        return Err(Fail::Corrupt(anyhow::anyhow!(
            "the change set returned nothing"
        )));
    };
    if placed.is_empty() {
        return Ok(None);
    }
    if placed.len() != changes.len() {
        return Err(Fail::Corrupt(anyhow::anyhow!(
            "{} of {} changes written",
            placed.len(),
            changes.len()
        )));
    }
    let head = d.row(first);
    let mut after = if changes.iter().all(|c| c.plan.delta.is_zero()) {
        None
    } else {
        Some(convert::counts(&head)?.ok_or(Fail::AggregationMissing)?)
    };

    // Each change as if it had committed alone right after the one before it: its aggregation
    // the running count after it, found backwards from the batch's last.
    let mut updated: Vec<TaskUpdated> = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate().rev() {
        let (rank, row_version) = placed
            .remove(&(i + 1))
            .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("change {} not written", i + 1)))?;
        let aggregation = if change.plan.delta.is_zero() {
            None
        } else {
            let change_after = after_to_change(after, &change.plan.delta)?;
            after = Some(change_after.before);
            Some(change_after)
        };
        updated.push(TaskUpdated {
            task: task_after(change.task, change.plan, rank, row_version),
            previous: change.task.clone(),
            aggregation,
            restored_project: None,
        });
    }
    updated.reverse();
    let tasks: HashMap<Uuid, Task> = updated
        .iter()
        .map(|u| (u.task.id.as_uuid(), u.task.clone()))
        .collect();
    let logged = folded.settle(&head, |id| tasks.get(&id.as_uuid()).cloned())?;
    let outcomes: Vec<Vec<EncodedEvent>> = changes
        .iter()
        .zip(&updated)
        .map(|(change, updated)| (change.events.outcome)(updated))
        .collect();
    // The batch's statement, and the one that logs what followed when something followed.
    let statements: Vec<u32> = outcomes
        .iter()
        .map(|more| 1 + u32::from(!more.is_empty()))
        .collect();
    let results = crate::events::with_outcomes(txn, d, updated, logged, sizes, outcomes)
        .await?
        .into_iter()
        .zip(statements)
        .collect();
    Ok(Some(results))
}
