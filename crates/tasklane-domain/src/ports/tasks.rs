//! The task repository port: creation (single and batch), every kind of change, the auto-archive
//! job, and reads.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::aggregation::{AggregationChange, AggregationDelta};
pub use crate::cursor::TaskCursor;
use crate::errors::{Decide, RepoError, TxError};
use crate::ids::{LabelId, ProjectId, StatusId, TaskId, UserId};
use crate::model::{Label, Member, Page, Project, StatusRef, Task, UserSummary};
use crate::ports::{ChangeEvents, CreationEvents, Logged, RecordEvents};
use crate::rank::{Placement, Rank};
use crate::services::tasks::{
    ArchiveTaskError, CreateTaskError, DeleteTaskError, MoveTaskError, UpdateTaskError,
};
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

/// What a creation needs looked up besides the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTasksRequest {
    /// The project.
    pub project_id: ProjectId,
    /// The caller, who becomes the reporter.
    pub actor: UserId,
    /// Every assignee named by the new tasks (deduplicated).
    pub assignee_ids: Vec<UserId>,
    /// Every parent named by the new tasks (deduplicated).
    pub parent_ids: Vec<TaskId>,
}

/// What a creation is decided on. Read in the creating transaction; no lock is needed because
/// the creation itself serialises on the project row (the task counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTasksContext {
    /// The caller's role; `None` when not a member or the project does not exist.
    pub actor_role: Option<Role>,
    /// The project; `None` when it does not exist.
    pub project: Option<ProjectState>,
    /// The project's statuses in board order.
    pub statuses: Vec<StatusRef>,
    /// Those of the requested assignees who are members, with their roles.
    pub assignees: Vec<Member>,
    /// Those of the requested parents that are tasks of this project.
    pub parents: Vec<TaskId>,
    /// The caller as a user, for the reporter field.
    pub reporter: Option<UserSummary>,
}

/// One task to insert, fully decided except for its number and rank, which the store assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDraft {
    /// Its id.
    pub id: TaskId,
    /// Its title.
    pub title: TaskTitle,
    /// Its description.
    pub description: Option<TaskDescription>,
    /// Its status (belongs to the project).
    pub status: StatusRef,
    /// Its priority.
    pub priority: Priority,
    /// Its type.
    pub task_type: TaskType,
    /// Its estimate.
    pub story_points: Option<StoryPoints>,
    /// Its due date.
    pub due_date: Option<NaiveDate>,
    /// Its assignee (a member who may be assigned).
    pub assignee: Option<UserSummary>,
    /// Its reporter (the caller).
    pub reporter: Option<UserSummary>,
    /// Its parent (a task of the project).
    pub parent_id: Option<TaskId>,
    /// Set when created in a `done`-category status.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The decided creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTasksPlan {
    /// The tasks, in the order their numbers are handed out.
    pub drafts: Vec<TaskDraft>,
    /// The sum of their aggregation deltas.
    pub delta: AggregationDelta,
    /// Whether to clear the project's `archived_at` (creating in an archived project restores it).
    pub restore_project: bool,
    /// The time of the change.
    pub at: DateTime<Utc>,
}

/// The committed creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TasksCreated {
    /// The new tasks, with numbers and ranks.
    pub tasks: Vec<Task>,
    /// The project after the change (counter, activity, aggregation after).
    pub project: Project,
    /// The aggregation before and after.
    pub aggregation: AggregationChange,
    /// Whether the project was archived and is now restored.
    pub project_restored: bool,
}

/// What a change to one task needs looked up besides the task itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLookup {
    /// A status the task may move to.
    pub status_id: Option<StatusId>,
    /// A new assignee.
    pub assignee_id: Option<UserId>,
    /// A new parent.
    pub parent_id: Option<TaskId>,
    /// The task to place the moved task after.
    pub after_id: Option<TaskId>,
    /// The task to place the moved task before.
    pub before_id: Option<TaskId>,
    /// Whether to read the task's descendants (for delete).
    pub subtree: bool,
    /// Labels the task may get.
    pub label_ids: Option<Vec<LabelId>>,
}

/// Who wants to change which task, and what to look up for the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChangeRequest {
    /// The task.
    pub task_id: TaskId,
    /// The caller.
    pub actor: UserId,
    /// What else to read.
    pub lookup: TaskLookup,
}

/// A prospective parent and its ancestors, for the cycle check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentCandidate {
    /// The parent.
    pub id: TaskId,
    /// Its parent, grandparent, … up to the root.
    pub ancestor_ids: Vec<TaskId>,
}

/// A task named as a neighbour in a move, with the rank next to it on the far side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour.
    pub id: TaskId,
    /// Its status (column).
    pub status: StatusRef,
    /// Its rank.
    pub rank: Rank,
    /// For `after_id`: the rank of the next task in its column; for `before_id`: of the
    /// previous one. Non-archived tasks only, the moved task excluded. `None` at the column's end.
    pub adjacent: Option<Rank>,
}

/// A descendant of a task being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtaskState {
    /// Its id.
    pub id: TaskId,
    /// Its key.
    pub key: TaskKey,
    /// Its status's category.
    pub category: StatusCategory,
    /// Whether it is archived (archived tasks are not in the aggregation).
    pub archived: bool,
}

/// What a change to one task is decided on, read with the task row locked (`FOR UPDATE`; for
/// delete, its descendants too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    /// The task; `None` when it does not exist (nothing else is then read).
    pub task: Option<Task>,
    /// The caller's role in the task's project; `None` when not a member.
    pub actor_role: Option<Role>,
    /// The task's project.
    pub project: Option<ProjectState>,
    /// [`TaskLookup::status_id`], when it is a status of the task's project.
    pub status: Option<StatusRef>,
    /// [`TaskLookup::assignee_id`], when a member of the task's project.
    pub assignee: Option<Member>,
    /// [`TaskLookup::parent_id`], when a task of the same project.
    pub parent: Option<ParentCandidate>,
    /// [`TaskLookup::after_id`], when a non-archived task of the same project.
    pub after: Option<Neighbour>,
    /// [`TaskLookup::before_id`], when a non-archived task of the same project.
    pub before: Option<Neighbour>,
    /// With [`TaskLookup::subtree`]: every descendant.
    pub subtree: Vec<SubtaskState>,
    /// Those of [`TaskLookup::label_ids`] that are labels of the task's project.
    pub labels: Vec<Label>,
}

/// Fields to change; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    /// New title.
    pub title: Option<TaskTitle>,
    /// New description.
    pub description: Option<Option<TaskDescription>>,
    /// New status (of the task's project).
    pub status: Option<StatusRef>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New type.
    pub task_type: Option<TaskType>,
    /// New estimate.
    pub story_points: Option<Option<StoryPoints>>,
    /// New due date.
    pub due_date: Option<Option<NaiveDate>>,
    /// New assignee.
    pub assignee: Option<Option<UserSummary>>,
    /// New parent.
    pub parent_id: Option<Option<TaskId>>,
    /// The task's labels from now on (of its project, by name).
    pub labels: Option<Vec<Label>>,
    /// New place in the (new) status column. With [`Placement::Append`] the store takes the
    /// column's next append rank; with [`Placement::Rebalance`] it renumbers the column and
    /// places the task between the lookup's neighbours again.
    pub placement: Option<Placement>,
    /// New archive state.
    pub archived_at: Option<Option<DateTime<Utc>>>,
    /// New completion time.
    pub completed_at: Option<Option<DateTime<Utc>>>,
}

/// The decided change to one task. The store bumps `row_version` and sets `updated_at = at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdatePlan {
    /// What to change.
    pub patch: TaskPatch,
    /// The aggregation delta (zero: the store skips the aggregation).
    pub delta: AggregationDelta,
    /// Whether to clear the project's `archived_at` (unarchiving a task restores its project).
    pub restore_project: bool,
    /// The time of the change.
    pub at: DateTime<Utc>,
}

/// The committed change to one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdated {
    /// The task after.
    pub task: Task,
    /// The task before.
    pub previous: Task,
    /// The aggregation before and after, when the delta was not zero.
    pub aggregation: Option<AggregationChange>,
    /// The project after its restoration, when the plan restored it.
    pub restored_project: Option<Project>,
}

/// The decided deletion of a task and its descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDeletePlan {
    /// The aggregation delta of every deleted non-archived task.
    pub delta: AggregationDelta,
    /// The time of the change.
    pub at: DateTime<Utc>,
}

/// The committed deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDeleted {
    /// The task as it was.
    pub task: Task,
    /// Its descendants, deleted with it.
    pub subtree: Vec<SubtaskState>,
    /// The aggregation before and after, when the delta was not zero.
    pub aggregation: Option<AggregationChange>,
}

/// Tasks archived by the auto-archive job in one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedByJob {
    /// The project.
    pub project_id: ProjectId,
    /// The tasks after archiving.
    pub tasks: Vec<Task>,
    /// The project's aggregation before and after.
    pub aggregation: AggregationChange,
}

/// A task as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRead {
    /// The reader's role in the task's project; `None` when not a member.
    pub viewer_role: Option<Role>,
    /// The task, `None` when it does not exist.
    pub task: Option<Task>,
}

/// Task orders of the listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskOrder {
    /// Status position, then rank, then id.
    #[default]
    Board,
    /// Most recently changed first, then id.
    Updated,
    /// Soonest due first, tasks without a due date last, then id.
    Due,
    /// Highest priority first, then id.
    Priority,
}

/// Filters and page of a task listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Only this status.
    pub status_id: Option<StatusId>,
    /// Only this assignee.
    pub assignee_id: Option<UserId>,
    /// Only tasks without an assignee.
    pub unassigned: bool,
    /// Only tasks this user reported.
    pub reporter_id: Option<UserId>,
    /// Only sub-tasks of this task.
    pub parent_id: Option<TaskId>,
    /// Only tasks with any of these labels (none: no filter).
    pub label_ids: Vec<LabelId>,
    /// Only tasks due on or before this date.
    pub due_before: Option<NaiveDate>,
    /// Only tasks due on or after this date.
    pub due_after: Option<NaiveDate>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this type.
    pub task_type: Option<TaskType>,
    /// Case-insensitive substring of the title or key; `%` and `_` match literally.
    pub search: Option<String>,
    /// Whether archived tasks are listed.
    pub include_archived: bool,
    /// The order.
    pub order: TaskOrder,
    /// Page size, 1..=200.
    pub limit: u32,
    /// Where the previous page ended (of the same order).
    pub cursor: Option<TaskCursor>,
}

/// A page of tasks as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskListing {
    /// The reader's role; `None` when not a member or the project does not exist.
    pub viewer_role: Option<Role>,
    /// The page (empty for non-members).
    pub page: Page<Task>,
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
}
