//! Task reads: one task with the reader's role, and a listing's filters, order and page.

use super::*;

/// A task as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRead {
    /// The reader's role in the task's project; `None` when not a member.
    pub viewer_role: Option<Role>,
    /// The task, `None` when it does not exist.
    pub task: Option<Task>,
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

/// What every task listing of a project depends on, read with the reader's role before the page:
/// the project's event sequence (every change to its tasks, columns, labels, members, comments
/// and the project itself appends an event in its own transaction) and the version of the user
/// directory (display names and avatars on the cards, bumped by every profile change). Two
/// readings with equal versions list the same page for the same query, so it is the page's
/// `ETag`. Read before the page, it is never newer than the page it tags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ListingVersion {
    /// The project's last event sequence number (0 before its first event).
    pub project_seq: u64,
    /// The user directory's version.
    pub directory: u64,
}

/// A page of tasks as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskListing {
    /// The reader's role; `None` when not a member or the project does not exist.
    pub viewer_role: Option<Role>,
    /// The page (empty for non-members).
    pub page: Page<Task>,
}
