//! What a change to an existing task reads (its context, under the task's lock), decides and
//! commits; deletions and the auto-archive job too.

use super::*;

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
