//! What a task creation (single or batch) reads, decides and commits.

use super::*;

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

impl TaskDraft {
    /// The task as committed: the draft in `project` with the number and rank the store gave
    /// it, created at `at`.
    pub fn committed(
        &self,
        project: &ProjectState,
        number: u64,
        rank: Rank,
        at: DateTime<Utc>,
    ) -> Task {
        Task {
            id: self.id,
            project_id: project.id,
            key: TaskKey::new(project.key.clone(), number),
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status.clone(),
            priority: self.priority,
            task_type: self.task_type,
            story_points: self.story_points,
            due_date: self.due_date,
            assignee: self.assignee.clone(),
            reporter: self.reporter.clone(),
            parent_id: self.parent_id,
            subtask_count: 0,
            comment_count: 0,
            labels: Vec::new(),
            rank,
            row_version: 1,
            created_at: at,
            updated_at: at,
            completed_at: self.completed_at,
            archived_at: None,
        }
    }
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
