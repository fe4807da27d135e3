//! Entities as plain data: what the store returns and what events carry. Every field is owned, so
//! a value can outlive the transaction that produced it and cross to a background task.

use chrono::{DateTime, NaiveDate, Utc};

use crate::aggregation::{Aggregation, DerivationPolicy, DerivedStatus};
use crate::ids::{CommentId, LabelId, ProjectId, StatusId, TaskId, UserId};
use crate::rank::Rank;
use crate::values::{
    AvatarUrl, CommentBody, DisplayName, Email, LabelColor, LabelName, Priority,
    ProjectDescription, ProjectKey, ProjectName, Role, StatusCategory, StatusName, StoryPoints,
    TaskDescription, TaskKey, TaskTitle, TaskType,
};

/// The public face of a user, as embedded in tasks and member lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// Their email, as they gave it.
    pub email: Email,
    /// Their display name.
    pub display_name: DisplayName,
    /// Their avatar, if any.
    pub avatar_url: Option<AvatarUrl>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id, email, name and avatar.
    pub summary: UserSummary,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}

/// A user together with their password hash, for the login check only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The PHC string of their Argon2id hash.
    pub password_hash: String,
}

/// A project, with its aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project's id.
    pub id: ProjectId,
    /// Its immutable key (`WEB`).
    pub key: ProjectKey,
    /// Its name.
    pub name: ProjectName,
    /// Its description (may be empty).
    pub description: ProjectDescription,
    /// The last task number handed out.
    pub task_counter: u64,
    /// Starts at 1, +1 on every update of the project itself (not on task creation).
    pub row_version: u64,
    /// Set while archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last change to the project, or last task created in it ("activity").
    pub updated_at: DateTime<Utc>,
    /// Its task counts.
    pub aggregation: Aggregation,
}

impl Project {
    /// The derived status under `policy`, always computed from the aggregation so that reads,
    /// events and the counters cannot disagree.
    pub fn derived_status(&self, policy: DerivationPolicy) -> DerivedStatus {
        policy.derive(&self.aggregation.counts)
    }

    /// Whether the project is archived.
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A project as one user sees it: with their role (`None`: not a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRead {
    /// The project.
    pub project: Project,
    /// The reader's role, if a member.
    pub role: Option<Role>,
}

/// A project's member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserSummary,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub added_at: DateTime<Utc>,
}

/// A workflow status of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The status's id.
    pub id: StatusId,
    /// Its project.
    pub project_id: ProjectId,
    /// Its name, unique per project (case-insensitive).
    pub name: StatusName,
    /// Its category.
    pub category: StatusCategory,
    /// 0-based index in board order.
    pub position: u32,
}

impl Status {
    /// The reference embedded in tasks.
    pub fn to_ref(&self) -> StatusRef {
        StatusRef {
            id: self.id,
            name: self.name.clone(),
            category: self.category,
        }
    }
}

/// A status as embedded in a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    /// The status's id.
    pub id: StatusId,
    /// Its name.
    pub name: StatusName,
    /// Its category.
    pub category: StatusCategory,
}

/// The five statuses every project starts with, in board order.
pub const DEFAULT_STATUSES: [(&str, StatusCategory); 5] = [
    ("Todo", StatusCategory::Todo),
    ("In Progress", StatusCategory::InProgress),
    ("In Review", StatusCategory::InReview),
    ("Issue", StatusCategory::Issue),
    ("Done", StatusCategory::Done),
];

/// A task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// Its project.
    pub project_id: ProjectId,
    /// `WEB-42`.
    pub key: TaskKey,
    /// Its title.
    pub title: TaskTitle,
    /// Its description, if any.
    pub description: Option<TaskDescription>,
    /// Its status.
    pub status: StatusRef,
    /// Its priority.
    pub priority: Priority,
    /// Its type.
    pub task_type: TaskType,
    /// Its estimate, if any.
    pub story_points: Option<StoryPoints>,
    /// Its due date, if any.
    pub due_date: Option<NaiveDate>,
    /// Who it is assigned to.
    pub assignee: Option<UserSummary>,
    /// Who reported it (`None` once that user is deleted).
    pub reporter: Option<UserSummary>,
    /// Its parent task, if it is a sub-task.
    pub parent_id: Option<TaskId>,
    /// How many direct sub-tasks it has (archived ones included).
    pub subtask_count: u64,
    /// How many comments it has.
    pub comment_count: u64,
    /// Its labels, in creation order.
    pub labels: Vec<Label>,
    /// Its place in its status column.
    pub rank: Rank,
    /// Starts at 1, +1 on every change.
    pub row_version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it entered a `done`-category status; cleared when it leaves.
    pub completed_at: Option<DateTime<Utc>>,
    /// Set while archived.
    pub archived_at: Option<DateTime<Utc>>,
}

impl Task {
    /// Whether the task is archived.
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// The task's number within its project.
    pub fn number(&self) -> u64 {
        self.key.number()
    }
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in listing order.
    pub items: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// A comment on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment's id.
    pub id: CommentId,
    /// The task it is on.
    pub task_id: TaskId,
    /// The task's project.
    pub project_id: ProjectId,
    /// Who wrote it (`None` once that user is deleted).
    pub author: Option<UserSummary>,
    /// Its text (Markdown).
    pub body: CommentBody,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When its author last edited it.
    pub edited_at: Option<DateTime<Utc>>,
}

/// A label of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The label's id.
    pub id: LabelId,
    /// Its name, unique in the project ignoring case.
    pub name: LabelName,
    /// Its colour.
    pub color: LabelColor,
}

impl Label {
    /// Labels in the order tasks and listings carry them: by id, which is creation order (the
    /// same in both databases, unlike an order of names under a collation).
    pub fn sort(labels: &mut [Label]) {
        labels.sort_by_key(|label| label.id);
    }
}
