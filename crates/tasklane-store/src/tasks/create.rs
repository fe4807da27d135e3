//! Task creation. One context read and the domain's decision (`create_context.rs`), then the
//! write: on PostgreSQL one data-modifying statement ([`create_statement_pg`]), shared by the
//! concurrent creations of a project when coalescing is on (`coalesce.rs`), which also logs the
//! `task_created` events (`events::Folded`); on SQLite four plain statements under the single
//! writer, then the events in one more statement (`events.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, DbErr, QueryResult, Value};
use tasklane_domain::aggregation::{Aggregation, AggregationChange, AggregationDelta};
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::events::{EncodedEvent, LoggedEvent};
use tasklane_domain::ids::{ProjectId, StatusId};
use tasklane_domain::model::{Project, Task};
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, CreationEvents, Logged, ProjectState,
    TaskDraft, TasksCreated,
};
use tasklane_domain::rank::Rank;
use tasklane_domain::services::tasks::CreateTaskError;
use tasklane_domain::values::TaskKey;
use uuid::Uuid;

use super::{
    after_to_change, delta_assignments, delta_values, require, sequence_rank_sql,
    update_aggregation,
};
use crate::Store;
use crate::convert::{self, valid};
use crate::db::{Dialect, all, exec, in_transaction, one};
use crate::errors::{Constraint, Fail, violates};
use crate::events::{Folded, StandIn};

use super::create_context::decide_creation;

/// For each draft, its place among the drafts of the same status (1-based), and per status how
/// many drafts go there: the store appends them in draft order.
fn column_slots<'a>(
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
fn committed_tasks(
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
            Ok(Task {
                id: draft.id,
                project_id: project.id,
                key: TaskKey::new(project.key.clone(), number),
                title: draft.title.clone(),
                description: draft.description.clone(),
                status: draft.status.clone(),
                priority: draft.priority,
                task_type: draft.task_type,
                story_points: draft.story_points,
                due_date: draft.due_date,
                assignee: draft.assignee.clone(),
                reporter: draft.reporter.clone(),
                parent_id: draft.parent_id,
                subtask_count: 0,
                comment_count: 0,
                labels: Vec::new(),
                rank,
                row_version: 1,
                created_at: plan.at,
                updated_at: plan.at,
                completed_at: draft.completed_at,
                archived_at: None,
            })
        })
        .collect()
}

/// The per-draft values of the SQLite insert, in column order: id, title, description, status,
/// priority, type, points, due date, assignee, reporter, parent, completed at.
fn draft_values(d: Dialect, draft: &TaskDraft) -> Vec<Value> {
    vec![
        d.id(draft.id),
        draft.title.as_str().into(),
        draft
            .description
            .as_ref()
            .map(|x| x.as_str().to_owned())
            .into(),
        d.id(draft.status.id),
        draft.priority.as_str().into(),
        draft.task_type.as_str().into(),
        draft.story_points.map(|p| i16::from(p.get())).into(),
        d.opt_date(draft.due_date),
        d.opt_id(draft.assignee.as_ref().map(|u| u.id)),
        d.opt_id(draft.reporter.as_ref().map(|u| u.id)),
        d.opt_id(draft.parent_id),
        d.opt_time(draft.completed_at),
    ]
}

/// The per-draft fields of the PostgreSQL insert, as one JSON object (see
/// [`create_statement_pg`]).
fn draft_json(draft: &TaskDraft, ord: usize, col_ord: u64, at: DateTime<Utc>) -> serde_json::Value {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
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

const PROJECT_RETURNING: &str = "id, key, name, description, task_counter, row_version, archived_at, created_by, created_at, updated_at";

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
fn create_statement_pg(
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
    let mut values = vec![
        d.id(project_id),
        (drafts.len() as i64).into(),
        d.time(latest),
    ];
    values.extend(delta_values(&delta)); // $4..$9
    values.push(serde_json::Value::Array(columns).to_string().into()); // $10
    values.push(serde_json::Value::Array(tasks).to_string().into()); // $11
    values.push(events.parameter().into()); // $12
    (CREATE_STATEMENT_PG.as_str(), values)
}

/// The text of [`create_statement_pg`], built once.
static CREATE_STATEMENT_PG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rank = sequence_rank_sql("seq.base + i.col_ord");
    format!(
        "WITH old AS (SELECT id, archived_at FROM projects WHERE id = $1 FOR UPDATE), \
         proj AS (UPDATE projects p SET task_counter = p.task_counter + $2, updated_at = GREATEST(p.updated_at, $3), archived_at = NULL, \
                    row_version = p.row_version + CASE WHEN old.archived_at IS NULL THEN 0 ELSE 1 END \
                  FROM old WHERE p.id = old.id \
                  RETURNING p.id, p.key, p.name, p.description, p.task_counter, p.row_version, p.archived_at, \
                    p.created_by, p.created_at, p.updated_at, old.archived_at AS was_archived), \
         seq AS (UPDATE statuses s SET append_seq = s.append_seq + c.n \
                 FROM jsonb_to_recordset($10::jsonb) AS c(id uuid, n bigint, category text) \
                 WHERE s.id = c.id AND s.project_id = $1 AND s.category = c.category \
                 RETURNING s.id, s.append_seq - c.n AS base), \
         i AS (SELECT * FROM jsonb_to_recordset($11::jsonb) AS x(id uuid, title text, description text, status_id uuid, \
                 priority text, task_type text, story_points smallint, due_date date, assignee_id uuid, reporter_id uuid, \
                 parent_id uuid, completed_at timestamptz, ord bigint, col_ord bigint, at timestamptz)), \
         ins AS (INSERT INTO tasks (id, project_id, number, title, description, status_id, priority, task_type, \
                   story_points, due_date, assignee_id, reporter_id, parent_id, rank, row_version, created_at, updated_at, completed_at) \
                 SELECT i.id, $1, proj.task_counter - $2 + i.ord, i.title, i.description, i.status_id, i.priority, i.task_type, \
                   i.story_points, i.due_date, i.assignee_id, i.reporter_id, i.parent_id, {rank}, 1, i.at, i.at, i.completed_at \
                 FROM i CROSS JOIN proj JOIN seq ON seq.id = i.status_id \
                 RETURNING id, number, rank), \
         agg AS (UPDATE project_aggregations SET {deltas}, updated_at = $3 \
                 WHERE project_id = $1 AND EXISTS (SELECT 1 FROM proj) \
                 RETURNING total, todo, in_progress, in_review, issue, done, updated_at AS agg_updated_at), \
         {events} \
         SELECT ins.id AS task_id, ins.number AS task_number, ins.rank AS task_rank, proj.*, agg.*, {logged} \
         FROM proj LEFT JOIN ins ON true LEFT JOIN agg ON true",
        deltas = delta_assignments(4),
        events = Folded::sql(12, 1, "ins", "EXISTS (SELECT 1 FROM agg)"),
        logged = Folded::RESULT_COLUMNS,
    )
});

/// Reads what [`create_statement_pg`] returned: one result per plan, as if each had committed
/// on its own right after the previous one (its numbers, the counter and the aggregation as
/// they stood after it).
fn read_pg_result(
    d: Dialect,
    rows: &[QueryResult],
    plans: &[&CreateTasksPlan],
    state: &ProjectState,
) -> Result<Result<Vec<TasksCreated>, Fail<CreateTaskError>>, DbErr> {
    let Some(first) = rows.first() else {
        // The project vanished between the context read and the write.
        return Ok(Err(Fail::Rejected(
            tasklane_domain::access::AccessDenied::NotFound.into(),
        )));
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
        return Ok(Err(Fail::Rejected(CreateTaskError::Invalid(
            tasklane_domain::validation::ValidationErrors::single(
                "status_id",
                "was deleted or changed while the task was being created; try again",
            ),
        ))));
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
/// `task_created` events inside [`create_statement_pg`], the events that follow from each result
/// after it (one more statement, only when there are any). Returns one result per plan, in
/// order, with its own events.
async fn insert_pg(
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

    let (sql, values) = create_statement_pg(plans, state.id, &folded);
    let rows = all(txn, d.stmt(sql, values))
        .await
        .map_err(reject_foreign_keys)?;
    let created = read_pg_result(d, &rows, plans, state)??;
    let first = rows
        .first()
        .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no creation returned")))?;
    let tasks: HashMap<Uuid, &Task> = created
        .iter()
        .flat_map(|c| &c.tasks)
        .map(|task| (task.id.as_uuid(), task))
        .collect();
    let mut logged = folded
        .settle(&d.row(first), |id| {
            tasks.get(&id.as_uuid()).map(|t| (*t).clone())
        })?
        .into_iter();

    let outcomes: Vec<Vec<EncodedEvent>> = created
        .iter()
        .zip(events)
        .map(|(created, events)| (events.outcome)(created))
        .collect();
    let more: Vec<usize> = outcomes.iter().map(Vec::len).collect();
    let mut followed = crate::events::append(txn, d, outcomes.concat())
        .await?
        .into_iter();
    Ok(created
        .into_iter()
        .zip(sizes.into_iter().zip(more))
        .map(|(value, (size, more))| {
            let mut events: Vec<LoggedEvent> = logged.by_ref().take(size).collect();
            events.extend(followed.by_ref().take(more));
            Logged { value, events }
        })
        .collect())
}

/// Writes `plans` (creations of `state`'s project, in order) in one PostgreSQL transaction, with
/// their events, and returns one result per plan, in order, with its own events.
pub(super) async fn write_pg(
    store: &Store,
    plans: &[&CreateTasksPlan],
    events: &[&CreationEvents],
    state: &ProjectState,
) -> Result<Vec<Logged<TasksCreated>>, Fail<CreateTaskError>> {
    in_transaction!(store.writer, |txn| -> Result<
        Vec<Logged<TasksCreated>>,
        Fail<CreateTaskError>,
    > {
        insert_pg(txn, plans, events, state).await
    })
}

/// The SQLite creation: the single writer makes the context read current, so numbers and
/// ranks follow from it; four statements write the counter, the sequences, the tasks and the
/// aggregation.
async fn write_sqlite(
    txn: &DatabaseTransaction,
    plan: &CreateTasksPlan,
    state: &ProjectState,
) -> Result<TasksCreated, Fail<CreateTaskError>> {
    let d = Dialect::Sqlite;
    let n = plan.drafts.len() as i64;
    let sql = format!(
        "UPDATE projects SET task_counter = task_counter + $2, updated_at = $3, archived_at = NULL, \
           row_version = row_version + CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END \
         WHERE id = $1 RETURNING {PROJECT_RETURNING}"
    );
    let project_row = one(
        txn,
        d.stmt(&sql, vec![d.id(state.id), n.into(), d.time(plan.at)]),
    )
    .await?
    .ok_or(Fail::Rejected(CreateTaskError::Access(
        tasklane_domain::access::AccessDenied::NotFound,
    )))?;
    let counter = convert::count(d.row(&project_row).int("task_counter")?)?;
    let first_number = counter + 1 - plan.drafts.len() as u64;

    let (slots, per_status) = column_slots(plan.drafts.iter());
    let cases: Vec<String> = (0..per_status.len())
        .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect();
    let mut values = Vec::new();
    for (status, count) in &per_status {
        values.push(d.id(*status));
        values.push(convert::int(*count).into());
    }
    let ids = (0..per_status.len())
        .map(|i| format!("${}", 2 * i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE statuses SET append_seq = append_seq + CASE id {} END WHERE id IN ({ids}) RETURNING id, append_seq",
        cases.join(" ")
    );
    let mut bases: HashMap<Uuid, u64> = HashMap::new();
    for row in all(txn, d.stmt(&sql, values)).await? {
        let r = d.row(&row);
        let id = r.id("id")?;
        let count = per_status
            .iter()
            .find(|(s, _)| s.as_uuid() == id)
            .map_or(0, |(_, c)| *c);
        bases.insert(id, convert::count(r.int("append_seq")?)? - count);
    }

    let mut placed = HashMap::new();
    let mut values = vec![d.id(state.id), d.time(plan.at)];
    let mut rows = Vec::with_capacity(plan.drafts.len());
    for (i, draft) in plan.drafts.iter().enumerate() {
        let number = first_number + i as u64;
        let base = bases
            .get(&draft.status.id.as_uuid())
            .copied()
            .ok_or_else(|| {
                Fail::Rejected(CreateTaskError::Invalid(
                    tasklane_domain::validation::ValidationErrors::single(
                        "status_id",
                        "is not a status of this project",
                    ),
                ))
            })?;
        let rank = Rank::from_sequence(base + slots[i]);
        let first = values.len() + 1;
        values.extend(draft_values(d, draft));
        values.push(convert::int(number).into());
        values.push(rank.as_str().into());
        let p: Vec<String> = (first..first + 14).map(|k| format!("${k}")).collect();
        rows.push(format!(
            "({}, $1, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 1, $2, $2, {})",
            p[0], p[12], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[13], p[11]
        ));
        placed.insert(draft.id.as_uuid(), (number, rank));
    }
    let sql = format!(
        "INSERT INTO tasks (id, project_id, number, title, description, status_id, priority, task_type, story_points, \
           due_date, assignee_id, reporter_id, parent_id, rank, row_version, created_at, updated_at, completed_at) VALUES {}",
        rows.join(", ")
    );
    exec(txn, d.stmt(&sql, values))
        .await
        .map_err(reject_foreign_keys)?;

    let aggregation: AggregationChange =
        require(update_aggregation(txn, d, state.id, &plan.delta, plan.at).await?)?;
    let after = aggregation.after;
    let project: Project = convert::project(&d.row(&project_row), || after)?;
    let project = Project {
        aggregation: tasklane_domain::aggregation::Aggregation {
            updated_at: plan.at,
            ..project.aggregation
        },
        ..project
    };
    Ok(TasksCreated {
        tasks: committed_tasks(plan, state, &placed)?,
        project_restored: state.archived_at.is_some(),
        project,
        aggregation,
    })
}

/// A foreign key that failed because a status, parent or assignee vanished after the context
/// read is the client's problem (422), not a server error.
fn reject_foreign_keys(error: DbErr) -> Fail<CreateTaskError> {
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
        Some(field) => Fail::Rejected(CreateTaskError::Invalid(
            tasklane_domain::validation::ValidationErrors::single(
                field,
                "no longer exists in this project",
            ),
        )),
        None => Fail::Db(error),
    }
}

pub(super) async fn create_tasks(
    store: &Store,
    request: CreateTasksRequest,
    decide: Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
    events: CreationEvents,
) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
    let d = store.dialect;
    if d == Dialect::Postgres
        && let Some(coalescer) = &store.coalescer
    {
        return super::coalesce::create(store, coalescer, request, &decide, events).await;
    }
    in_transaction!(store.writer, |txn| -> Result<
        Logged<TasksCreated>,
        Fail<CreateTaskError>,
    > {
        let (plan, state) = decide_creation(txn, d, &request, &decide).await?;
        match d {
            Dialect::Postgres => insert_pg(txn, &[&plan], &[&events], &state)
                .await?
                .pop()
                .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("no creation returned"))),
            Dialect::Sqlite => {
                let created = write_sqlite(txn, &plan, &state).await?;
                Ok(crate::events::log(txn, d, created, &events).await?)
            }
        }
    })
    .map_err(Fail::into_tx)
}
