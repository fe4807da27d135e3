//! Tasks.

use crate::dto::LabelDto;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tasklane_domain::model::Task;
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, TaskListInput, TaskUpdateInput};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{CategoryDto, OrderDto, PriorityDto, TaskTypeDto, UserDto, nullable, rules};

/// A status as embedded in a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskStatusDto {
    /// The status's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: CategoryDto,
}

/// A task. Its `ETag` is `"<row_version>"`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskDto {
    /// The task's id.
    pub id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// `WEB-42`.
    pub key: String,
    /// `42`.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: Option<String>,
    /// Its status.
    pub status: TaskStatusDto,
    /// Its priority.
    pub priority: PriorityDto,
    /// Its type.
    pub task_type: TaskTypeDto,
    /// Its estimate.
    pub story_points: Option<u8>,
    /// Its due date.
    pub due_date: Option<NaiveDate>,
    /// Its assignee.
    pub assignee: Option<UserDto>,
    /// Its reporter.
    pub reporter: Option<UserDto>,
    /// Its parent.
    pub parent_id: Option<Uuid>,
    /// Its direct sub-tasks.
    pub subtask_count: u64,
    /// Its comments.
    pub comment_count: u64,
    /// Its labels, in creation order.
    pub labels: Vec<LabelDto>,
    /// Its place in its column.
    pub rank: String,
    /// For `If-Match`.
    pub row_version: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it entered a done status.
    pub completed_at: Option<DateTime<Utc>>,
    /// Set while archived.
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<&Task> for TaskDto {
    fn from(task: &Task) -> Self {
        Self {
            id: task.id.as_uuid(),
            project_id: task.project_id.as_uuid(),
            key: task.key.to_string(),
            number: task.number(),
            title: task.title.as_str().to_owned(),
            description: task.description.as_ref().map(|d| d.as_str().to_owned()),
            status: TaskStatusDto {
                id: task.status.id.as_uuid(),
                name: task.status.name.as_str().to_owned(),
                category: task.status.category.into(),
            },
            priority: task.priority.into(),
            task_type: task.task_type.into(),
            story_points: task.story_points.map(|p| p.get()),
            due_date: task.due_date,
            assignee: task.assignee.as_ref().map(UserDto::from),
            reporter: task.reporter.as_ref().map(UserDto::from),
            parent_id: task.parent_id.map(|p| p.as_uuid()),
            subtask_count: task.subtask_count,
            comment_count: task.comment_count,
            labels: task.labels.iter().map(LabelDto::from).collect(),
            rank: task.rank.as_str().to_owned(),
            row_version: task.row_version,
            created_at: task.created_at,
            updated_at: task.updated_at,
            completed_at: task.completed_at,
            archived_at: task.archived_at,
        }
    }
}

/// `POST /projects/{id}/tasks` (and each item of a batch).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1 to 500 characters.
    #[schema(schema_with = rules::title)]
    pub title: String,
    /// At most 100,000 characters.
    #[schema(schema_with = rules::task_description)]
    pub description: Option<String>,
    /// Default: the project's first `todo` status.
    pub status_id: Option<Uuid>,
    /// Default `medium`.
    pub priority: Option<PriorityDto>,
    /// Default `task`.
    pub task_type: Option<TaskTypeDto>,
    /// 0 to 100.
    #[serde(default, deserialize_with = "rules::whole_or_null")]
    #[schema(schema_with = rules::story_points)]
    pub story_points: Option<i64>,
    /// `YYYY-MM-DD`.
    #[schema(schema_with = rules::due_date)]
    pub due_date: Option<NaiveDate>,
    /// A member who is not a viewer.
    pub assignee_id: Option<Uuid>,
    /// A task of the same project.
    pub parent_id: Option<Uuid>,
}

impl From<CreateTaskRequest> for NewTaskInput {
    fn from(r: CreateTaskRequest) -> Self {
        Self {
            title: r.title,
            description: r.description,
            status_id: r.status_id.map(Into::into),
            priority: r.priority.map(Into::into),
            task_type: r.task_type.map(Into::into),
            story_points: r.story_points,
            due_date: r.due_date,
            assignee_id: r.assignee_id.map(Into::into),
            parent_id: r.parent_id.map(Into::into),
        }
    }
}

/// `POST /projects/{id}/tasks/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 500 tasks, created all or none.
    #[schema(schema_with = rules::batch_tasks)]
    pub tasks: Vec<CreateTaskRequest>,
}

/// The tasks a batch created.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchDto {
    /// In number order.
    pub items: Vec<TaskDto>,
}

/// `PATCH /tasks/{id}`: at least one field; absent fields stay, `null` clears a nullable one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateTaskRequest {
    /// New title.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::new_title)]
    pub title: Option<String>,
    /// New description (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::task_description)]
    pub description: Option<Option<String>>,
    /// New status (the task goes to the end of that column).
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::uuid)]
    pub status_id: Option<Uuid>,
    /// New priority.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(nullable = false)]
    pub priority: Option<PriorityDto>,
    /// New type.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(nullable = false)]
    pub task_type: Option<TaskTypeDto>,
    /// New estimate (`null` clears).
    #[serde(default, deserialize_with = "rules::whole_nullable")]
    #[schema(schema_with = rules::story_points)]
    pub story_points: Option<Option<i64>>,
    /// New due date (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::due_date)]
    pub due_date: Option<Option<NaiveDate>>,
    /// New assignee (`null` unassigns).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// New parent (`null` makes it a top-level task).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    /// The task's labels from now on: ids of labels of its project (`[]` removes every label).
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::label_ids)]
    pub label_ids: Option<Vec<Uuid>>,
}

impl From<UpdateTaskRequest> for TaskUpdateInput {
    fn from(r: UpdateTaskRequest) -> Self {
        Self {
            title: r.title,
            description: r.description,
            status_id: r.status_id.map(Into::into),
            priority: r.priority.map(Into::into),
            task_type: r.task_type.map(Into::into),
            story_points: r.story_points,
            due_date: r.due_date,
            assignee_id: r.assignee_id.map(|a| a.map(Into::into)),
            parent_id: r.parent_id.map(|p| p.map(Into::into)),
            label_ids: r
                .label_ids
                .map(|ids| ids.into_iter().map(Into::into).collect()),
        }
    }
}

/// `POST /tasks/{id}/move`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct MoveRequest {
    /// The target column.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::uuid)]
    pub status_id: Option<Uuid>,
    /// Sit before this task.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::uuid)]
    pub before_id: Option<Uuid>,
    /// Sit after this task.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::uuid)]
    pub after_id: Option<Uuid>,
}

impl From<MoveRequest> for MoveInput {
    fn from(r: MoveRequest) -> Self {
        Self {
            status_id: r.status_id.map(Into::into),
            before_id: r.before_id.map(Into::into),
            after_id: r.after_id.map(Into::into),
        }
    }
}

/// `GET /projects/{id}/tasks` query (`label_id`, repeatable, is read apart).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Only this status.
    #[param(nullable = false)]
    pub status_id: Option<Uuid>,
    /// Only this assignee, or `none`: only unassigned tasks.
    #[serde(default, deserialize_with = "assignee")]
    #[param(schema_with = rules::assignee_filter)]
    pub assignee_id: Option<AssigneeFilter>,
    /// Only tasks this user reported.
    #[param(nullable = false)]
    pub reporter_id: Option<Uuid>,
    /// Only sub-tasks of this task.
    #[param(nullable = false)]
    pub parent_id: Option<Uuid>,
    /// Only tasks due on or before this date.
    #[param(schema_with = rules::date)]
    pub due_before: Option<String>,
    /// Only tasks due on or after this date.
    #[param(schema_with = rules::date)]
    pub due_after: Option<String>,
    /// Only this priority.
    #[param(nullable = false)]
    pub priority: Option<PriorityDto>,
    /// Only this type.
    #[param(nullable = false)]
    pub task_type: Option<TaskTypeDto>,
    /// Substring of the title or key, ignoring case; `%` and `_` are literal.
    #[param(schema_with = rules::search)]
    pub search: Option<String>,
    /// Include archived tasks (default false).
    #[param(nullable = false)]
    pub include_archived: Option<bool>,
    /// `board` (default), `updated` (most recently changed first), `due` (soonest due first,
    /// undated last) or `priority` (highest first).
    #[param(nullable = false)]
    pub order: Option<OrderDto>,
    /// Page size, 1 to 200 (default 100).
    #[param(schema_with = rules::limit)]
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(schema_with = rules::task_cursor)]
    pub cursor: Option<String>,
}

/// `assignee_id` of a listing: a user, or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// `none`: unassigned tasks.
    Nobody,
    /// This user's tasks.
    User(Uuid),
}

/// `none` or a UUID.
fn assignee<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<AssigneeFilter>, D::Error> {
    let text = String::deserialize(d)?;
    if text == "none" {
        return Ok(Some(AssigneeFilter::Nobody));
    }
    Uuid::try_parse(&text)
        .map(|id| Some(AssigneeFilter::User(id)))
        .map_err(|_| serde::de::Error::custom("assignee_id must be a UUID or none"))
}

impl TaskListQuery {
    /// The listing's input, with the `label_id`s read from the query string apart.
    pub fn into_input(self, label_ids: Vec<Uuid>) -> TaskListInput {
        let q = self;
        TaskListInput {
            status_id: q.status_id.map(Into::into),
            assignee_id: match q.assignee_id {
                Some(AssigneeFilter::User(id)) => Some(id.into()),
                _ => None,
            },
            unassigned: q.assignee_id == Some(AssigneeFilter::Nobody),
            reporter_id: q.reporter_id.map(Into::into),
            parent_id: q.parent_id.map(Into::into),
            label_ids: label_ids.into_iter().map(Into::into).collect(),
            due_before: q.due_before,
            due_after: q.due_after,
            priority: q.priority.map(Into::into),
            task_type: q.task_type.map(Into::into),
            search: q.search,
            include_archived: q.include_archived.unwrap_or(false),
            order: q.order.map(Into::into).unwrap_or_default(),
            limit: q.limit,
            cursor: q.cursor,
        }
    }
}
