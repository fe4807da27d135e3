//! The task repository: creation, changes, deletion, the auto-archive job and reads. Each write
//! is one transaction; the PostgreSQL hot paths are single data-modifying statements.

mod change;
mod change_context;
mod coalesce;
mod create;
mod gate;
mod job;
mod read;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, DbErr, Value};
use tasklane_domain::aggregation::{AggregationChange, AggregationDelta, Counts};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::model::{Page, Task};
use tasklane_domain::ports::ListingVersion;
use tasklane_domain::ports::{
    ArchivedByJob, ChangeEvents, CreateTasksContext, CreateTasksPlan, CreateTasksRequest,
    CreationEvents, Logged, RecordEvents, TaskChangeRequest, TaskContext, TaskDeletePlan,
    TaskDeleted, TaskListing, TaskQuery, TaskRead, TaskRepository, TaskUpdatePlan, TaskUpdated,
    TasksCreated,
};
use tasklane_domain::services::tasks::{
    ArchiveTaskError, CreateTaskError, DeleteTaskError, MoveTaskError, UpdateTaskError,
};
use tasklane_domain::values::Role;

pub(crate) use coalesce::Coalescing;
pub use coalesce::{
    CHANGES_PER_TRANSACTION, CREATION_PROJECTS_PER_TRANSACTION, CREATIONS_PER_TRANSACTION,
};
pub(crate) use gate::Gates;
pub use gate::LISTING_READERS_PER_STATEMENT;

use crate::Store;
use crate::convert;
use crate::db::{Dialect, one};
use crate::errors::Fail;

/// `total = total + $n, todo = todo + $n+1, …` for a relative aggregation update whose six
/// deltas are bound from parameter `first` on.
pub(crate) fn delta_assignments(first: usize) -> String {
    ["total", "todo", "in_progress", "in_review", "issue", "done"]
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = {column} + ${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `total = total + $n, …` with the six deltas bound into `binds`.
pub(crate) fn bind_deltas(binds: &mut crate::db::Binds, delta: &AggregationDelta) -> String {
    let columns = ["total", "todo", "in_progress", "in_review", "issue", "done"];
    columns
        .iter()
        .zip(delta_values(delta))
        .map(|(column, value)| format!("{column} = {column} + {}", binds.bind(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The six deltas, in the order of [`delta_assignments`].
pub(crate) fn delta_values(delta: &AggregationDelta) -> Vec<Value> {
    [
        delta.total,
        delta.todo,
        delta.in_progress,
        delta.in_review,
        delta.issue,
        delta.done,
    ]
    .into_iter()
    .map(Value::from)
    .collect()
}

/// Applies `delta` to the project's aggregation row and returns the change, or `None` when the
/// row is missing.
pub(crate) async fn update_aggregation(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
    delta: &AggregationDelta,
    at: DateTime<Utc>,
) -> Result<Option<AggregationChange>, DbErr> {
    let mut binds = crate::db::Binds::default();
    let sql = format!(
        "UPDATE project_aggregations SET {deltas}, updated_at = {at} WHERE project_id = {project} \
         RETURNING total, todo, in_progress, in_review, issue, done",
        deltas = bind_deltas(&mut binds, delta),
        at = binds.bind(d.time(at)),
        project = binds.bind(d.id(project_id)),
    );
    // Budget: the aggregation of a creation, change or deletion on SQLite (one of their 4–6).
    let Some(row) = one(txn, d.stmt(&sql, binds.into_values())).await? else {
        return Ok(None);
    };
    after_to_change(convert::counts(&d.row(&row))?, delta).map(Some)
}

/// The change whose committed counters are `after`.
pub(crate) fn after_to_change(
    after: Option<Counts>,
    delta: &AggregationDelta,
) -> Result<AggregationChange, DbErr> {
    let after = after.ok_or_else(|| convert::corrupt("aggregation", "no counters returned"))?;
    convert::valid("aggregation", AggregationChange::from_after(after, delta))
}

/// A missing aggregation is the port's `AggregationMissing`, and rolls the transaction back.
pub(crate) fn require<T, E>(change: Option<T>) -> Result<T, Fail<E>> {
    change.ok_or(Fail::AggregationMissing)
}

/// The text SQL for `Rank::from_sequence(n)` of an integer expression (see `rank.rs`).
pub(crate) fn sequence_rank_sql(n: &str) -> String {
    format!("chr(96 + length(CAST({n} AS TEXT))) || CAST({n} AS TEXT)")
}

impl Store {
    /// An update, move or archiving: through the project's writer when coalescing is on
    /// (PostgreSQL), else in a transaction of its own.
    async fn change<E: Send + 'static>(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, E>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<E>> {
        match (self.dialect, &self.coalescing) {
            (Dialect::Postgres, Some(coalescing)) => {
                coalesce::update(self, coalescing, request, decide, events).await
            }
            _ => change::update(self, &request, &decide, &events).await,
        }
    }
}

#[async_trait]
impl TaskRepository for Store {
    async fn create_tasks(
        &self,
        request: CreateTasksRequest,
        decide: Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
        events: CreationEvents,
    ) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
        // Coalescing builds on the PostgreSQL write; neither backend's path knows of it.
        let created = match (self.dialect, &self.coalescing) {
            (Dialect::Postgres, Some(coalescing)) => {
                coalesce::create(self, coalescing, request, &decide, events).await
            }
            (Dialect::Postgres, None) => {
                create::postgres::create(self, request, &decide, events).await
            }
            (Dialect::Sqlite, _) => create::sqlite::create(self, request, &decide, events).await,
        };
        if let (Some(coalescing), Ok(created)) = (&self.coalescing, &created) {
            for task in &created.value.tasks {
                coalescing.remember(task.id, task.project_id);
            }
        }
        created
    }

    async fn update_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, UpdateTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<UpdateTaskError>> {
        self.change(request, decide, events).await
    }

    async fn move_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, MoveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<MoveTaskError>> {
        self.change(request, decide, events).await
    }

    async fn set_task_archived(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, ArchiveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<ArchiveTaskError>> {
        self.change(request, decide, events).await
    }

    async fn delete_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskDeletePlan, DeleteTaskError>,
        record: RecordEvents<TaskDeleted>,
    ) -> Result<Logged<TaskDeleted>, TxError<DeleteTaskError>> {
        change::delete(self, request, &decide, &record).await
    }

    async fn archive_done_tasks(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
        at: DateTime<Utc>,
        record: RecordEvents<ArchivedByJob>,
    ) -> Result<Vec<Logged<ArchivedByJob>>, RepoError> {
        job::archive_done_tasks(self, cutoff, limit, at, &record).await
    }

    async fn get_task(&self, task_id: TaskId, viewer: UserId) -> Result<TaskRead, RepoError> {
        read::get_task(self, task_id, viewer).await
    }

    async fn get_task_by_number(
        &self,
        project_id: ProjectId,
        number: u64,
        viewer: UserId,
    ) -> Result<TaskRead, RepoError> {
        read::get_task_by_number(self, project_id, number, viewer).await
    }

    async fn list_tasks(
        &self,
        project_id: ProjectId,
        viewer: UserId,
        query: TaskQuery,
    ) -> Result<TaskListing, RepoError> {
        read::list_tasks(self, project_id, viewer, query).await
    }

    async fn listing_version(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<(Option<Role>, ListingVersion), RepoError> {
        read::listing_version(self, project_id, viewer).await
    }

    async fn task_page(
        &self,
        project_id: ProjectId,
        query: TaskQuery,
    ) -> Result<Page<Task>, RepoError> {
        read::task_page(self, project_id, query).await
    }
}
