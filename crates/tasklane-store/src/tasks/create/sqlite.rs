//! The SQLite creation: the single writer makes the context read current, so numbers and ranks
//! follow from it; four plain statements write the counter, the append sequences, the tasks and
//! the aggregation, and one more logs the events.

use std::collections::HashMap;

use sea_orm::{DatabaseTransaction, QueryResult};
use tasklane_domain::access::AccessDenied;
use tasklane_domain::aggregation::{Aggregation, AggregationChange};
use tasklane_domain::errors::{Decide, TxError};
use tasklane_domain::model::Project;
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
use crate::convert;
use crate::db::{Binds, Dialect, all, exec, in_transaction, one};
use crate::errors::Fail;
use crate::tasks::{require, update_aggregation};

const D: Dialect = Dialect::Sqlite;

const PROJECT_RETURNING: &str = "id, key, name, description, task_counter, row_version, archived_at, created_by, created_at, updated_at";

/// One request's creation in its own transaction, with its events.
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
        let (plan, state) = decide_creation(txn, D, &request, decide).await?;
        let created = write(txn, &plan, &state).await?;
        Ok(crate::events::log(txn, D, created, &events).await?)
    })
    .map_err(Fail::into_tx)
}

/// Writes `plan` in `txn`: counter, sequences, tasks, aggregation.
async fn write(
    txn: &DatabaseTransaction,
    plan: &CreateTasksPlan,
    state: &ProjectState,
) -> Result<TasksCreated, Fail<CreateTaskError>> {
    let project_row = bump_counter(txn, plan, state).await?;
    let counter = convert::count(D.row(&project_row).int("task_counter")?)?;
    let first_number = counter + 1 - plan.drafts.len() as u64;
    let (slots, per_status) = column_slots(plan.drafts.iter());
    let bases = bump_sequences(txn, &per_status).await?;

    let mut placed = HashMap::new();
    let mut binds = Binds::default();
    let project = binds.bind(D.id(state.id));
    let at = binds.bind(D.time(plan.at));
    let mut rows = Vec::with_capacity(plan.drafts.len());
    for (i, draft) in plan.drafts.iter().enumerate() {
        let number = first_number + i as u64;
        let base = bases
            .get(&draft.status.id.as_uuid())
            .copied()
            .ok_or_else(|| stale("status_id", "is not a status of this project"))?;
        let rank = Rank::from_sequence(base + slots[i]);
        rows.push(task_row(&mut binds, draft, &project, &at, number, &rank));
        placed.insert(draft.id.as_uuid(), (number, rank));
    }
    let sql = format!(
        "INSERT INTO tasks (id, project_id, number, title, description, status_id, priority, task_type, story_points, \
           due_date, assignee_id, reporter_id, parent_id, rank, row_version, created_at, updated_at, completed_at) VALUES {}",
        rows.join(", ")
    );
    // Budget: a task creation on SQLite (6): the task rows.
    exec(txn, D.stmt(&sql, binds.into_values()))
        .await
        .map_err(reject_foreign_keys)?;

    let aggregation: AggregationChange =
        require(update_aggregation(txn, D, state.id, &plan.delta, plan.at).await?)?;
    let after = aggregation.after;
    let project: Project = convert::project(&D.row(&project_row), || after)?;
    let project = Project {
        aggregation: Aggregation {
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

/// Bumps the project's task counter by the number of drafts (restoring it if archived) and
/// returns the project row.
async fn bump_counter(
    txn: &DatabaseTransaction,
    plan: &CreateTasksPlan,
    state: &ProjectState,
) -> Result<QueryResult, Fail<CreateTaskError>> {
    let mut binds = Binds::default();
    let sql = format!(
        "UPDATE projects SET task_counter = task_counter + {count}, updated_at = {at}, archived_at = NULL, \
           row_version = row_version + CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END \
         WHERE id = {project} RETURNING {PROJECT_RETURNING}",
        count = binds.bind(plan.drafts.len() as i64),
        at = binds.bind(D.time(plan.at)),
        project = binds.bind(D.id(state.id)),
    );
    // Budget: a task creation on SQLite (6): the project counter.
    one(txn, D.stmt(&sql, binds.into_values()))
        .await?
        .ok_or(Fail::Rejected(CreateTaskError::Access(
            AccessDenied::NotFound,
        )))
}

/// Bumps each target column's append sequence by its number of drafts and returns, per
/// column, the sequence before the bump.
async fn bump_sequences(
    txn: &DatabaseTransaction,
    per_status: &[(tasklane_domain::ids::StatusId, u64)],
) -> Result<HashMap<Uuid, u64>, Fail<CreateTaskError>> {
    let mut binds = Binds::default();
    let mut cases = Vec::with_capacity(per_status.len());
    let mut ids = Vec::with_capacity(per_status.len());
    for (status, count) in per_status {
        let id = binds.bind(D.id(*status));
        cases.push(format!(
            "WHEN {id} THEN {}",
            binds.bind(convert::int(*count))
        ));
        ids.push(id);
    }
    let sql = format!(
        "UPDATE statuses SET append_seq = append_seq + CASE id {} END WHERE id IN ({}) RETURNING id, append_seq",
        cases.join(" "),
        ids.join(", ")
    );
    let mut bases = HashMap::new();
    // Budget: a task creation on SQLite (6): the columns' append sequences.
    for row in all(txn, D.stmt(&sql, binds.into_values())).await? {
        let r = D.row(&row);
        let id = r.id("id")?;
        let count = per_status
            .iter()
            .find(|(s, _)| s.as_uuid() == id)
            .map_or(0, |(_, c)| *c);
        bases.insert(id, convert::count(r.int("append_seq")?)? - count);
    }
    Ok(bases)
}

/// One `VALUES` row of the task insert, in the insert's column order, binding the draft's
/// values into `binds`.
fn task_row(
    binds: &mut Binds,
    draft: &TaskDraft,
    project: &str,
    at: &str,
    number: u64,
    rank: &Rank,
) -> String {
    let columns = [
        binds.bind(D.id(draft.id)),
        project.to_owned(),
        binds.bind(convert::int(number)),
        binds.bind(draft.title.as_str()),
        binds.bind(draft.description.as_ref().map(|x| x.as_str().to_owned())),
        binds.bind(D.id(draft.status.id)),
        binds.bind(draft.priority.as_str()),
        binds.bind(draft.task_type.as_str()),
        binds.bind(draft.story_points.map(|p| i16::from(p.get()))),
        binds.bind(D.opt_date(draft.due_date)),
        binds.bind(D.opt_id(draft.assignee.as_ref().map(|u| u.id))),
        binds.bind(D.opt_id(draft.reporter.as_ref().map(|u| u.id))),
        binds.bind(D.opt_id(draft.parent_id)),
        binds.bind(rank.as_str()),
        "1".to_owned(),
        at.to_owned(),
        at.to_owned(),
        binds.bind(D.opt_time(draft.completed_at)),
    ];
    format!("({})", columns.join(", "))
}
