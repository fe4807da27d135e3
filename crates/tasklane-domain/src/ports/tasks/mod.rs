//! The task repository port: creation (single and batch), every kind of change, the auto-archive
//! job, and reads. The trait is here; what each kind of method reads, decides and returns is in
//! `create.rs`, `change.rs` and `read.rs`.

mod change;
mod create;
mod errors;
mod read;

pub use change::*;
pub use create::*;
pub use errors::*;
pub use read::*;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::aggregation::{AggregationChange, AggregationDelta};
pub use crate::cursor::{TaskCursor, TaskOrder};
use crate::errors::{Decide, RepoError, TxError};
use crate::ids::{LabelId, ProjectId, StatusId, TaskId, UserId};
use crate::model::{Label, Member, Page, Project, StatusRef, Task, UserSummary};
use crate::ports::{ChangeEvents, CreationEvents, Logged, RecordEvents};
use crate::rank::{Placement, Rank};
use crate::values::{
    Priority, ProjectKey, Role, StatusCategory, StoryPoints, TaskDescription, TaskKey, TaskTitle,
    TaskType,
};

/// The project fields a task change depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectState {
    /// The project's id.
    pub id: ProjectId,
    /// Its key, for task keys.
    pub key: ProjectKey,
    /// Set while archived.
    pub archived_at: Option<DateTime<Utc>>,
}

/// Tasks.
///
/// Methods taking a [`Decide`] run one transaction: read the context (taking the documented
/// locks), call `decide`, then apply its plan and commit, or roll back and return
/// [`TxError::Rejected`]. Every aggregation change is relative (`todo = todo + 1`) and happens in
/// the same transaction; when the plan's delta is not zero and the project has no aggregation
/// row, the store MUST roll back and return [`TxError::AggregationMissing`].
///
/// Every write also takes the function(s) that make its events ([`RecordEvents`], or
/// [`WriteEvents`](crate::ports::WriteEvents) for creations and changes) and logs what they
/// return in the same transaction, numbered in its project's sequence (see
/// [`crate::ports::EventEncoder`]'s module).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TaskRepository: Send + Sync {
    /// Creates the decided tasks: numbers `task_counter + 1 ..= task_counter + n` taken
    /// atomically from the project row (gap-free under concurrency, never reused), each task
    /// appended to the end of its status column in draft order, the aggregation updated by the
    /// plan's delta, and the project restored when the plan says so.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::AggregationMissing`];
    /// [`TxError::Store`] on failure.
    async fn create_tasks(
        &self,
        request: CreateTasksRequest,
        decide: Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
        events: CreationEvents,
    ) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>>;

    /// Applies a decided field update.
    ///
    /// # Errors
    /// As [`TaskRepository::create_tasks`].
    async fn update_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, UpdateTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<UpdateTaskError>>;

    /// Applies a decided move (status and/or place in the column).
    ///
    /// # Errors
    /// As [`TaskRepository::create_tasks`].
    async fn move_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, MoveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<MoveTaskError>>;

    /// Applies a decided archive or unarchive.
    ///
    /// # Errors
    /// As [`TaskRepository::create_tasks`].
    async fn set_task_archived(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, ArchiveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<ArchiveTaskError>>;

    /// Deletes the task and its descendants as decided.
    ///
    /// # Errors
    /// As [`TaskRepository::create_tasks`].
    async fn delete_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskDeletePlan, DeleteTaskError>,
        record: RecordEvents<TaskDeleted>,
    ) -> Result<Logged<TaskDeleted>, TxError<DeleteTaskError>>;

    /// Archives up to `limit` non-archived tasks in a `done`-category status whose
    /// `completed_at` is before `cutoff`, updating each project's aggregation in the same
    /// transaction, and logs each project's events (`record` is called once per project).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails (nothing is archived then).
    async fn archive_done_tasks(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
        at: DateTime<Utc>,
        record: RecordEvents<ArchivedByJob>,
    ) -> Result<Vec<Logged<ArchivedByJob>>, RepoError>;

    /// One task and the viewer's role in its project.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_task(&self, task_id: TaskId, viewer: UserId) -> Result<TaskRead, RepoError>;

    /// The task numbered `number` in the project, and the viewer's role there.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_task_by_number(
        &self,
        project_id: ProjectId,
        number: u64,
        viewer: UserId,
    ) -> Result<TaskRead, RepoError>;

    /// A page of the project's tasks with assignees, reporters, statuses and sub-task counts
    /// (no per-task queries), and the viewer's role.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_tasks(
        &self,
        project_id: ProjectId,
        viewer: UserId,
        query: TaskQuery,
    ) -> Result<TaskListing, RepoError>;

    /// The viewer's role in the project and the version of its task listings (statement 1 of
    /// [`TaskRepository::list_tasks`] alone).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn listing_version(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<(Option<Role>, ListingVersion), RepoError>;

    /// The page of [`TaskRepository::list_tasks`] alone, for a caller that has read the
    /// version and checked the role.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn task_page(
        &self,
        project_id: ProjectId,
        query: TaskQuery,
    ) -> Result<Page<Task>, RepoError>;
}
