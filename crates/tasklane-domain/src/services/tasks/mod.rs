//! The task service: creation (single and batch, with the aggregation bootstrap), updates, moves,
//! archive and unarchive, deletion, the auto-archive job, and reads.

mod change;
mod create;
pub(crate) mod decide;
mod once;
mod read;

use std::sync::Arc;

use chrono::NaiveDate;

use crate::access::AccessDenied;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::ids::{LabelId, StatusId, TaskId, UserId};
use crate::ports::TaskOrder;
use crate::services::{DomainSettings, Ports};
use crate::validation::ValidationErrors;
use crate::values::{Priority, TaskType};

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{
    ArchiveTaskError, CreateTaskError, DeleteTaskError, MoveTaskError, UpdateTaskError,
};

pub use create::Creation;
pub use once::{CreateOnceError, Once, RequestKey};
pub use read::ListingGate;

/// Tasks: every operation on them.
#[derive(Debug, Clone)]
pub struct TaskService {
    ports: Arc<Ports>,
    settings: DomainSettings,
}

impl TaskService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>, settings: DomainSettings) -> Self {
        Self { ports, settings }
    }
}

/// A task to create, as the client sent it (enums already parsed by the API layer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTaskInput {
    /// Required, 1..=500 characters after trimming.
    pub title: String,
    /// At most 100,000 characters.
    pub description: Option<String>,
    /// Defaults to the project's first `todo` status.
    pub status_id: Option<StatusId>,
    /// Defaults to `medium`.
    pub priority: Option<Priority>,
    /// Defaults to `task`.
    pub task_type: Option<TaskType>,
    /// 0..=100.
    pub story_points: Option<i64>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// A member who is not a viewer.
    pub assignee_id: Option<UserId>,
    /// A task of the same project.
    pub parent_id: Option<TaskId>,
}

/// A partial update; `None` leaves a field alone, `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskUpdateInput {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New status (the task goes to the end of its column).
    pub status_id: Option<StatusId>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New type.
    pub task_type: Option<TaskType>,
    /// New estimate.
    pub story_points: Option<Option<i64>>,
    /// New due date.
    pub due_date: Option<Option<NaiveDate>>,
    /// New assignee.
    pub assignee_id: Option<Option<UserId>>,
    /// New parent.
    pub parent_id: Option<Option<TaskId>>,
    /// The task's labels from now on (labels of its project; duplicates count once).
    pub label_ids: Option<Vec<LabelId>>,
}

/// Where to move a task: at least one field. In the target column the task sits after
/// `after_id` and before `before_id`; with only `status_id` it goes to the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoveInput {
    /// Target status.
    pub status_id: Option<StatusId>,
    /// The task to sit before.
    pub before_id: Option<TaskId>,
    /// The task to sit after.
    pub after_id: Option<TaskId>,
}

/// Filters and paging of a task listing, as the client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskListInput {
    /// Only this status.
    pub status_id: Option<StatusId>,
    /// Only this assignee.
    pub assignee_id: Option<UserId>,
    /// Only unassigned tasks (`assignee_id=none`).
    pub unassigned: bool,
    /// Only tasks this user reported.
    pub reporter_id: Option<UserId>,
    /// Only sub-tasks of this task.
    pub parent_id: Option<TaskId>,
    /// Only tasks with any of these labels.
    pub label_ids: Vec<LabelId>,
    /// Only tasks due on or before this date (`YYYY-MM-DD`).
    pub due_before: Option<String>,
    /// Only tasks due on or after this date (`YYYY-MM-DD`).
    pub due_after: Option<String>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this type.
    pub task_type: Option<TaskType>,
    /// Substring of title or key.
    pub search: Option<String>,
    /// Include archived tasks.
    pub include_archived: bool,
    /// Order (default board).
    pub order: TaskOrder,
    /// Page size (default 100, 1..=200).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// The most tasks one batch may create.
pub const MAX_BATCH: usize = 500;

/// Why reading a task failed.
#[derive(Debug, thiserror::Error)]
pub enum GetTaskError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for GetTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            GetTaskError::Access(denied) => denied.class(),
            GetTaskError::Store(error) => error.class(),
        }
    }
}

/// Why listing tasks failed.
#[derive(Debug, thiserror::Error)]
pub enum ListTasksError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ListTasksError {
    fn class(&self) -> ErrorClass {
        match self {
            ListTasksError::Access(denied) => denied.class(),
            ListTasksError::Invalid(_) => ErrorClass::Invalid,
            ListTasksError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            ListTasksError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// The checks every change to an existing task shares, in the order they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeRefusal {
    Access(AccessDenied),
    VersionMismatch { current: u64 },
    ProjectArchived,
}

macro_rules! from_refusal {
    ($($error:ident),+) => {$(
        impl From<ChangeRefusal> for $error {
            fn from(refusal: ChangeRefusal) -> Self {
                match refusal {
                    ChangeRefusal::Access(denied) => $error::Access(denied),
                    ChangeRefusal::VersionMismatch { current } => $error::VersionMismatch { current },
                    ChangeRefusal::ProjectArchived => $error::ProjectArchived,
                }
            }
        }
    )+};
}
from_refusal!(
    UpdateTaskError,
    MoveTaskError,
    ArchiveTaskError,
    DeleteTaskError
);
