//! Domain events: what happened, as plain data. Each is encoded once (its frame's `data`),
//! appended to its project's log in the transaction that caused it, which gives it its `seq`, and
//! published after the commit; the realtime adapter picks the rooms.

use chrono::{DateTime, Utc};

use crate::aggregation::{Aggregation, DerivedStatus};
use crate::ids::{CommentId, LabelId, ProjectId, StatusId, TaskId, UserId};
use crate::model::{Comment, Label, Project, Status, Task};
use crate::values::{Role, TaskKey};

/// The actor of changes made by the server itself (the auto-archive job): the nil UUID.
pub const SYSTEM_ACTOR: UserId = UserId::from_uuid(uuid::Uuid::nil());

/// One thing that happened in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEvent {
    /// The project it happened in.
    pub project_id: ProjectId,
    /// Who caused it (for system jobs, the acting service user).
    pub actor_id: UserId,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// What happened.
    pub payload: EventPayload,
}

/// A task field that an update changed (the `changed` list of `task_updated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskField {
    /// `title`
    Title,
    /// `description`
    Description,
    /// `status_id`
    Status,
    /// `priority`
    Priority,
    /// `task_type`
    TaskType,
    /// `story_points`
    StoryPoints,
    /// `due_date`
    DueDate,
    /// `assignee_id`
    Assignee,
    /// `parent_id`
    Parent,
    /// `labels`
    Labels,
}

impl TaskField {
    /// The API field name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskField::Title => "title",
            TaskField::Description => "description",
            TaskField::Status => "status_id",
            TaskField::Priority => "priority",
            TaskField::TaskType => "task_type",
            TaskField::StoryPoints => "story_points",
            TaskField::DueDate => "due_date",
            TaskField::Assignee => "assignee_id",
            TaskField::Parent => "parent_id",
            TaskField::Labels => "labels",
        }
    }
}

/// How an archived project came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoredVia {
    /// A task was created in it.
    TaskCreated,
    /// One of its tasks was unarchived.
    TaskUnarchived,
    /// An owner restored it.
    Manual,
}

impl RestoredVia {
    /// The API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RestoredVia::TaskCreated => "task_created",
            RestoredVia::TaskUnarchived => "task_unarchived",
            RestoredVia::Manual => "manual",
        }
    }
}

/// The event-specific data; one variant per event of docs/realtime.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPayload {
    /// `task_created`
    TaskCreated {
        /// The new task.
        task: Box<Task>,
    },
    /// `task_updated`
    TaskUpdated {
        /// The task after the update.
        task: Box<Task>,
        /// The task before it: the history shows each changed field from → to.
        previous: Box<Task>,
        /// Which fields changed.
        changed: Vec<TaskField>,
    },
    /// `task_moved`
    TaskMoved {
        /// The task after the move.
        task: Box<Task>,
        /// Its status before.
        from_status_id: StatusId,
        /// Its status after.
        to_status_id: StatusId,
    },
    /// `task_archived`
    TaskArchived {
        /// The archived task.
        task: Box<Task>,
    },
    /// `task_unarchived`
    TaskUnarchived {
        /// The unarchived task.
        task: Box<Task>,
    },
    /// `task_deleted`
    TaskDeleted {
        /// The deleted task's id.
        task_id: TaskId,
        /// Its key.
        key: TaskKey,
    },
    /// `project_status_changed`
    ProjectStatusChanged {
        /// Before the transaction.
        old_status: DerivedStatus,
        /// After it.
        new_status: DerivedStatus,
        /// The aggregation after it.
        aggregation: Aggregation,
    },
    /// `project_restored`
    ProjectRestored {
        /// The project after restoration.
        project: Box<Project>,
        /// What restored it.
        restored_via: RestoredVia,
    },
    /// `project_created`: to the creator's `user:` room (nobody else can be in the project yet).
    ProjectCreated {
        /// The new project.
        project: Box<Project>,
    },
    /// `project_updated`
    ProjectUpdated {
        /// The project after the update.
        project: Box<Project>,
    },
    /// `project_archived`
    ProjectArchived {
        /// The archived project.
        project: Box<Project>,
    },
    /// `project_deleted`
    ProjectDeleted,
    /// `status_created`
    StatusCreated {
        /// The new status.
        status: Status,
        /// The project's statuses in board order after it.
        statuses: Vec<Status>,
    },
    /// `status_updated` (renamed and/or moved)
    StatusUpdated {
        /// The status after the change.
        status: Status,
        /// The project's statuses in board order after it.
        statuses: Vec<Status>,
    },
    /// `status_deleted`
    StatusDeleted {
        /// The deleted status's id.
        status_id: StatusId,
        /// The project's statuses in board order after it.
        statuses: Vec<Status>,
    },
    /// `member_added` (also sent when a member's role changes, with the new role)
    MemberAdded {
        /// The member.
        user_id: UserId,
        /// Their role now.
        role: Role,
    },
    /// `member_removed`
    MemberRemoved {
        /// The former member.
        user_id: UserId,
        /// The role they had.
        role: Role,
    },
    /// `label_created`
    LabelCreated {
        /// The new label.
        label: Label,
    },
    /// `label_updated`
    LabelUpdated {
        /// The label after the change.
        label: Label,
    },
    /// `label_deleted` (it is gone from every task too)
    LabelDeleted {
        /// The deleted label's id.
        label_id: LabelId,
    },
    /// `comment_added`
    CommentAdded {
        /// The new comment.
        comment: Box<Comment>,
        /// The task's comment count after it.
        comment_count: u64,
    },
    /// `comment_edited`
    CommentEdited {
        /// The comment after the edit.
        comment: Box<Comment>,
    },
    /// `comment_deleted`
    CommentDeleted {
        /// The deleted comment's id.
        comment_id: CommentId,
        /// The task it was on.
        task_id: TaskId,
        /// The task's comment count after it.
        comment_count: u64,
    },
}

impl EventPayload {
    /// The event's `type` in docs/realtime.md.
    pub const fn name(&self) -> &'static str {
        match self {
            EventPayload::TaskCreated { .. } => "task_created",
            EventPayload::TaskUpdated { .. } => "task_updated",
            EventPayload::TaskMoved { .. } => "task_moved",
            EventPayload::TaskArchived { .. } => "task_archived",
            EventPayload::TaskUnarchived { .. } => "task_unarchived",
            EventPayload::TaskDeleted { .. } => "task_deleted",
            EventPayload::ProjectStatusChanged { .. } => "project_status_changed",
            EventPayload::ProjectRestored { .. } => "project_restored",
            EventPayload::ProjectCreated { .. } => "project_created",
            EventPayload::ProjectUpdated { .. } => "project_updated",
            EventPayload::ProjectArchived { .. } => "project_archived",
            EventPayload::ProjectDeleted => "project_deleted",
            EventPayload::StatusCreated { .. } => "status_created",
            EventPayload::StatusUpdated { .. } => "status_updated",
            EventPayload::StatusDeleted { .. } => "status_deleted",
            EventPayload::MemberAdded { .. } => "member_added",
            EventPayload::MemberRemoved { .. } => "member_removed",
            EventPayload::LabelCreated { .. } => "label_created",
            EventPayload::LabelUpdated { .. } => "label_updated",
            EventPayload::LabelDeleted { .. } => "label_deleted",
            EventPayload::CommentAdded { .. } => "comment_added",
            EventPayload::CommentEdited { .. } => "comment_edited",
            EventPayload::CommentDeleted { .. } => "comment_deleted",
        }
    }
}

impl DomainEvent {
    /// The task the event is about, if any (a comment's task too): the log indexes it for the
    /// task's history and the `task:` room.
    pub fn task_id(&self) -> Option<TaskId> {
        match &self.payload {
            EventPayload::TaskCreated { task }
            | EventPayload::TaskUpdated { task, .. }
            | EventPayload::TaskMoved { task, .. }
            | EventPayload::TaskArchived { task }
            | EventPayload::TaskUnarchived { task } => Some(task.id),
            EventPayload::TaskDeleted { task_id, .. }
            | EventPayload::CommentDeleted { task_id, .. } => Some(*task_id),
            EventPayload::CommentAdded { comment, .. }
            | EventPayload::CommentEdited { comment } => Some(comment.task_id),
            _ => None,
        }
    }

    /// The task an event carries as it was written, if any: a store that encoded the event
    /// before the write (with stand-ins, see [`crate::ports::WriteEvents`]) puts the written task
    /// here.
    pub fn task_mut(&mut self) -> Option<&mut Task> {
        match &mut self.payload {
            EventPayload::TaskCreated { task }
            | EventPayload::TaskUpdated { task, .. }
            | EventPayload::TaskMoved { task, .. }
            | EventPayload::TaskArchived { task }
            | EventPayload::TaskUnarchived { task } => Some(task),
            _ => None,
        }
    }

    /// The status the event is about, if any (a task's status after a move, a status changed).
    pub fn status_id(&self) -> Option<StatusId> {
        match &self.payload {
            EventPayload::TaskMoved { to_status_id, .. } => Some(*to_status_id),
            EventPayload::StatusCreated { status, .. }
            | EventPayload::StatusUpdated { status, .. } => Some(status.id),
            EventPayload::StatusDeleted { status_id, .. } => Some(*status_id),
            _ => None,
        }
    }

    /// The member the event is about, if any (a project's creator is its first member).
    pub fn member_id(&self) -> Option<UserId> {
        match &self.payload {
            EventPayload::MemberAdded { user_id, .. }
            | EventPayload::MemberRemoved { user_id, .. } => Some(*user_id),
            EventPayload::ProjectCreated { .. } => Some(self.actor_id),
            _ => None,
        }
    }
}

/// An event with its `data` in the clients' format (JSON text, made by the
/// [`EventEncoder`](crate::ports::EventEncoder)), ready to be appended to its project's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// What happened.
    pub event: DomainEvent,
    /// The frame's `data`, as JSON text.
    pub data: String,
}

/// An event as its project's log holds it: its place in the project's sequence, then what
/// happened. Only logged events are published, so every frame a client sees has its `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The project's sequence number: 1, 2, 3, … without gaps, in commit order.
    pub seq: u64,
    /// What happened.
    pub event: DomainEvent,
    /// The frame's `data`, as JSON text.
    pub data: String,
}

/// An event read back from the log: what a client that missed it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its place in the project's sequence.
    pub seq: u64,
    /// The event's `type`.
    pub kind: String,
    /// The task it is about, if any (routes it to the task's room).
    pub task_id: Option<TaskId>,
    /// The member it is about, if any (routes it to the member's room).
    pub member_id: Option<UserId>,
    /// Who caused it.
    pub actor_id: UserId,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// The frame's `data`, as JSON text.
    pub data: String,
}
