//! The PostgreSQL creation: one data-modifying statement writes a whole batch of creations
//! (one request's, or a coalesced queue's), with their `task_created` events.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, DbErr, QueryResult, Value};
use tasklane_domain::access::AccessDenied;
use tasklane_domain::aggregation::{Aggregation, AggregationDelta};
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::ids::ProjectId;
use tasklane_domain::model::{Project, Task};
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, CreationEvents, Logged, ProjectState,
    TaskDraft, TasksCreated,
};
use tasklane_domain::rank::Rank;
use tasklane_domain::services::tasks::CreateTaskError;
use uuid::Uuid;

use super::context::decide_creation;
use super::{column_slots, committed_tasks, reject_foreign_keys, stale};
use crate::Store;
use crate::convert::{self, valid};
use crate::db::{Binds, Dialect, all, in_transaction};
use crate::errors::Fail;
use crate::events::{Folded, StandIn};
use crate::tasks::{after_to_change, delta_assignments, delta_values, sequence_rank_sql};

/// The parameters of [`CREATION_STATEMENT`], by position; its text and its values are both
/// written from these, so they cannot drift apart.
mod param {
    /// The project's id.
    pub const PROJECT: usize = 1;
    /// How many tasks the statement inserts.
    pub const COUNT: usize = 2;
    /// The latest creation time of the batch.
    pub const AT: usize = 3;
    /// The first of the six aggregation deltas (`delta_assignments`).
    pub const DELTAS: usize = 4;
    /// The target columns as JSON: `[{id, n, category}]`.
    pub const COLUMNS: usize = 10;
    /// The tasks as JSON (`draft_json`).
    pub const TASKS: usize = 11;
    /// The folded `task_created` events (`Folded::parameter`).
    pub const EVENTS: usize = 12;
}

/// The per-draft fields of the PostgreSQL insert, as one JSON object (see
/// [`creation_statement`]).
fn draft_json(draft: &TaskDraft, ord: usize, col_ord: u64, at: DateTime<Utc>) -> serde_json::Value {
    let time = |at: DateTime<Utc>| Dialect::Postgres.time_text(at);
    serde_json::json!({
        "id": draft.id.as_uuid(),
        "title": draft.title.as_str(),
        "description": draft.description.as_ref().map(|x| x.as_str()),
        "status_id": draft.status.id.as_uuid(),
        "priority": draft.priority.as_str(),
        "task_type": draft.task_type.as_str(),
        "story_points": draft.story_points.map(|p| p.get()),
        "due_date": draft.due_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "assignee_id": draft.assignee.as_ref().map(|u| u.id.as_uuid()),
        "reporter_id": draft.reporter.as_ref().map(|u| u.id.as_uuid()),
        "parent_id": draft.parent_id.map(|p| p.as_uuid()),
        "completed_at": draft.completed_at.map(time),
        "ord": ord,
        "col_ord": col_ord,
        "at": time(at),
    })
}

/// The PostgreSQL creation of `plans`, in order: one statement that locks and bumps the
/// project's counter (and restores it if archived), bumps each target column's append sequence,
/// inserts every task with its number and rank, updates the aggregation relatively and logs the
/// `task_created` events (`events`, see [`Folded`]), returning all of it.
///
/// Why one statement: the project row lock is held from the counter update to the commit, so
/// every round trip inside that window lowers the ceiling of creations per project
/// (docs/performance.md). Numbers and ranks are computed from the locked rows inside the statement, so
/// concurrent creations can neither repeat nor skip a number nor tie a rank.
///
/// Why its text never changes: the columns and the tasks arrive as two JSON parameters
/// (`jsonb_to_recordset`), not as a `VALUES` row per task. Every pooled connection prepares and
/// caches each distinct statement text, and PostgreSQL keeps a plan per text per connection
/// (about 0.5 MiB for this one): with a text per batch size, coalesced batches of 1 to 1,000 tasks
/// grew each backend by tens of MiB under sustained load. One text, one plan per connection.
fn creation_statement(
    plans: &[&CreateTasksPlan],
    project_id: ProjectId,
    events: &Folded,
) -> (&'static str, Vec<Value>) {
    let d = Dialect::Postgres;
    let drafts: Vec<(&TaskDraft, DateTime<Utc>)> = plans
        .iter()
        .flat_map(|plan| plan.drafts.iter().map(|draft| (draft, plan.at)))
        .collect();
    let (slots, per_status) = column_slots(drafts.iter().map(|(draft, _)| *draft));
    let latest = plans.iter().map(|plan| plan.at).max().unwrap_or_default();
    let delta: AggregationDelta = plans.iter().map(|plan| plan.delta).sum();
    let columns: Vec<serde_json::Value> = per_status
        .iter()
        .map(|(status, count)| {
            let category = drafts
                .iter()
                .find(|(draft, _)| draft.status.id == *status)
                .map_or("", |(draft, _)| draft.status.category.as_str());
            serde_json::json!({"id": status.as_uuid(), "n": count, "category": category})
        })
        .collect();
    let tasks: Vec<serde_json::Value> = drafts
        .iter()
        .enumerate()
        .map(|(i, (draft, at))| draft_json(draft, i + 1, slots[i], *at))
        .collect();
    let mut binds = Binds::default();
    binds.bind_at(param::PROJECT, d.id(project_id));
    binds.bind_at(param::COUNT, drafts.len() as i64);
    binds.bind_at(param::AT, d.time(latest));
    for (i, delta) in delta_values(&delta).into_iter().enumerate() {
        binds.bind_at(param::DELTAS + i, delta);
    }
    binds.bind_at(
        param::COLUMNS,
        serde_json::Value::Array(columns).to_string(),
    );
    binds.bind_at(param::TASKS, serde_json::Value::Array(tasks).to_string());
    binds.bind_at(param::EVENTS, events.parameter());
    (CREATION_STATEMENT.as_str(), binds.into_values())
}

/// The text of [`creation_statement`], built once.
static CREATION_STATEMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rank = sequence_rank_sql("seq.base + i.col_ord");
    format!(
        "WITH old AS (SELECT id, archived_at FROM projects WHERE id = ${project} FOR NO KEY UPDATE), \
         proj AS (UPDATE projects p SET task_counter = p.task_counter + ${count}, updated_at = GREATEST(p.updated_at, ${at}), archived_at = NULL, \
                    row_version = p.row_version + CASE WHEN old.archived_at IS NULL THEN 0 ELSE 1 END \
                  FROM old WHERE p.id = old.id \
                  RETURNING p.id, p.key, p.name, p.description, p.task_counter, p.row_version, p.archived_at, \
                    p.created_by, p.created_at, p.updated_at, old.archived_at AS was_archived), \
         seq AS (UPDATE statuses s SET append_seq = s.append_seq + c.n \
                 FROM jsonb_to_recordset(${columns}::jsonb) AS c(id uuid, n bigint, category text) \
                 WHERE s.id = c.id AND s.project_id = ${project} AND s.category = c.category \
                 RETURNING s.id, s.append_seq - c.n AS base), \
         i AS (SELECT * FROM jsonb_to_recordset(${tasks}::jsonb) AS x(id uuid, title text, description text, status_id uuid, \
                 priority text, task_type text, story_points smallint, due_date date, assignee_id uuid, reporter_id uuid, \
                 parent_id uuid, completed_at timestamptz, ord bigint, col_ord bigint, at timestamptz)), \
         ins AS (INSERT INTO tasks (id, project_id, number, title, description, status_id, priority, task_type, \
                   story_points, due_date, assignee_id, reporter_id, parent_id, rank, row_version, created_at, updated_at, completed_at) \
                 SELECT i.id, ${project}, proj.task_counter - ${count} + i.ord, i.title, i.description, i.status_id, i.priority, i.task_type, \
                   i.story_points, i.due_date, i.assignee_id, i.reporter_id, i.parent_id, {rank}, 1, i.at, i.at, i.completed_at \
                 FROM i CROSS JOIN proj JOIN seq ON seq.id = i.status_id \
                 RETURNING id, number, rank), \
         agg AS (UPDATE project_aggregations SET {deltas}, updated_at = ${at} \
                 WHERE project_id = ${project} AND EXISTS (SELECT 1 FROM proj) \
                 RETURNING total, todo, in_progress, in_review, issue, done, updated_at AS agg_updated_at), \
         {events} \
         SELECT ins.id AS task_id, ins.number AS task_number, ins.rank AS task_rank, proj.*, agg.*, {logged} \
         FROM proj LEFT JOIN ins ON true LEFT JOIN agg ON true",
        deltas = delta_assignments(param::DELTAS),
        events = Folded::sql(param::EVENTS, 1, "ins", "EXISTS (SELECT 1 FROM agg)"),
        logged = Folded::RESULT_COLUMNS,
        project = param::PROJECT,
        count = param::COUNT,
        at = param::AT,
        columns = param::COLUMNS,
        tasks = param::TASKS,
    )
});

/// Reads what [`creation_statement`] returned: one result per plan, as if each had committed
/// on its own right after the previous one (its numbers, the counter and the aggregation as
/// they stood after it).
fn read_result(
    d: Dialect,
    rows: &[QueryResult],
    plans: &[&CreateTasksPlan],
    state: &ProjectState,
) -> Result<Result<Vec<TasksCreated>, Fail<CreateTaskError>>, DbErr> {
    let Some(first) = rows.first() else {
        // The project vanished between the context read and the write.
        return Ok(Err(Fail::Rejected(AccessDenied::NotFound.into())));
    };
    let head = d.row(first);
    let Some(mut after) = convert::counts(&head)? else {
        return Ok(Err(Fail::AggregationMissing));
    };
    let mut placed = HashMap::new();
    for row in rows {
        let r = d.row(row);
        let Some(id) = r.opt_id("task_id")? else {
            continue;
        };
        let rank = valid("rank", Rank::parse(&r.text("task_rank")?))?;
        placed.insert(id, (convert::count(r.int("task_number")?)?, rank));
    }
    // A draft whose status was deleted or changed category after the context read matched no
    // column sequence and was not inserted (its aggregation delta would be wrong): the whole
    // write rolls back and the client is told to try again.
    let inserted_all = plans
        .iter()
        .flat_map(|plan| &plan.drafts)
        .all(|draft| placed.contains_key(&draft.id.as_uuid()));
    if !inserted_all {
        return Ok(Err(stale(
            "status_id",
            "was deleted or changed while the task was being created; try again",
        )));
    }
    let project = convert::project(&head, || after)?;
    let restored = head.opt_time("was_archived")?.is_some();
    let mut counter = project.task_counter;
    let mut created = Vec::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate().rev() {
        let aggregation = after_to_change(Some(after), &plan.delta)?;
        created.push(TasksCreated {
            tasks: committed_tasks(plan, state, &placed)?,
            project_restored: restored && index == 0,
            project: Project {
                task_counter: counter,
                updated_at: plan.at,
                aggregation: Aggregation {
                    counts: aggregation.after,
                    updated_at: plan.at,
                    ..project.aggregation.clone()
                },
                ..project.clone()
            },
            aggregation,
        });
        after = aggregation.before;
        counter -= plan.drafts.len() as u64;
    }
    created.reverse();
    Ok(Ok(created))
}

/// Writes `plans` (creations of `state`'s project, in order) in `txn` with their events: the
/// `task_created` events inside [`creation_statement`], the events that follow from each result
/// after it (one more statement, only when there are any). Returns one result per plan, in
/// order, with its own events.
async fn insert_batch(
    txn: &DatabaseTransaction,
    plans: &[&CreateTasksPlan],
    events: &[&CreationEvents],
    state: &ProjectState,
) -> Result<Vec<Logged<TasksCreated>>, Fail<CreateTaskError>> {
    let d = Dialect::Postgres;
    // The tasks as the plans determine them, with stand-ins for their numbers and ranks.
    let ids: Vec<Uuid> = plans
        .iter()
        .flat_map(|plan| plan.drafts.iter().map(|draft| draft.id.as_uuid()))
        .collect();
    let stand_ins: HashMap<Uuid, StandIn> =
        ids.iter().copied().zip(StandIn::draw(ids.len())).collect();
    let provisional: HashMap<Uuid, (u64, Rank)> = stand_ins
        .iter()
        .map(|(id, stand_in)| (*id, (stand_in.number(), stand_in.rank().clone())))
        .collect();
    let mut written = Vec::new();
    let mut sizes = Vec::with_capacity(plans.len());
    for (plan, events) in plans.iter().zip(events) {
        let encoded = (events.written)(&committed_tasks(plan, state, &provisional)?);
        sizes.push(encoded.len());
        written.extend(encoded);
    }
    let folded = Folded::new(written, |task| stand_ins.get(&task.as_uuid()).cloned());

    let (sql, values) = creation_statement(plans, state.id, &folded);
    // Budget: a task creation, statement 2 of 2: numbers, inserts, counts and logs in one.
    let rows = all(txn, d.stmt(sql, values))
        .await
        .map_err(reject_foreign_keys)?;
    let created = read_result(d, &rows, plans, state)??;
    let first = rows
        .first()
        .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no creation returned")))?;
    let tasks: HashMap<Uuid, &Task> = created
        .iter()
        .flat_map(|c| &c.tasks)
        .map(|task| (task.id.as_uuid(), task))
        .collect();
    let logged = folded.settle(&d.row(first), |id| {
        tasks.get(&id.as_uuid()).map(|t| (*t).clone())
    })?;
    let outcomes = created
        .iter()
        .zip(events)
        .map(|(created, events)| (events.outcome)(created))
        .collect();
    Ok(crate::events::with_outcomes(txn, d, created, logged, sizes, outcomes).await?)
}

/// Writes `plans` (creations of `state`'s project, in order) in one PostgreSQL transaction, with
/// their events, and returns one result per plan, in order, with its own events.
pub(crate) async fn write_batch(
    store: &Store,
    plans: &[&CreateTasksPlan],
    events: &[&CreationEvents],
    state: &ProjectState,
) -> Result<Vec<Logged<TasksCreated>>, Fail<CreateTaskError>> {
    in_transaction!(store.writer, |txn| -> Result<
        Vec<Logged<TasksCreated>>,
        Fail<CreateTaskError>,
    > {
        insert_batch(txn, plans, events, state).await
    })
}
/// Writes the batches of several projects (`(plans, events, state)` each, in the order given,
/// which must be the projects' order so that two groups lock their projects in one order) in
/// one PostgreSQL transaction: one result per batch, as [`write_batch`] gives it. Any failure
/// fails the whole group (the caller writes its batches again on their own).
pub(crate) async fn write_group(
    store: &Store,
    batches: &[(Vec<&CreateTasksPlan>, Vec<&CreationEvents>, &ProjectState)],
) -> Result<Vec<Vec<Logged<TasksCreated>>>, Fail<CreateTaskError>> {
    in_transaction!(store.writer, |txn| -> Result<
        Vec<Vec<Logged<TasksCreated>>>,
        Fail<CreateTaskError>,
    > {
        let mut written = Vec::with_capacity(batches.len());
        for (plans, events, state) in batches {
            written.push(insert_batch(txn, plans, events, state).await?);
        }
        Ok(written)
    })
}

/// One request's creation in its own transaction: the context read, the decision and the
/// write (when coalescing is off).
pub(crate) async fn create(
    store: &Store,
    request: CreateTasksRequest,
    decide: &Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
    events: CreationEvents,
) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
    in_transaction!(store.writer, |txn| -> Result<
        Logged<TasksCreated>,
        Fail<CreateTaskError>,
    > {
        let (plan, state) = decide_creation(txn, Dialect::Postgres, &request, decide).await?;
        insert_batch(txn, &[&plan], &[&events], &state)
            .await?
            .pop()
            .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no creation returned")))
    })
    .map_err(Fail::into_tx)
}
