//! Comment bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklane_domain::model::Comment;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{UserDto, rules};

/// A comment on a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentDto {
    /// The comment's id.
    pub id: Uuid,
    /// The task it is on.
    pub task_id: Uuid,
    /// The task's project.
    pub project_id: Uuid,
    /// Who wrote it (`null` once that account is deleted).
    pub author: Option<UserDto>,
    /// Its text (Markdown, stored as sent after trimming).
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When its author last edited it.
    pub edited_at: Option<DateTime<Utc>>,
}

impl From<&Comment> for CommentDto {
    fn from(comment: &Comment) -> Self {
        Self {
            id: comment.id.as_uuid(),
            task_id: comment.task_id.as_uuid(),
            project_id: comment.project_id.as_uuid(),
            author: comment.author.as_ref().map(UserDto::from),
            body: comment.body.as_str().to_owned(),
            created_at: comment.created_at,
            edited_at: comment.edited_at,
        }
    }
}

/// A new comment, with the task's comment count after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentCreatedDto {
    /// The comment.
    #[serde(flatten)]
    pub comment: CommentDto,
    /// The task's comment count after it.
    pub comment_count: u64,
}

/// `POST /tasks/{id}/comments` and `PATCH /comments/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// The text: Markdown, 1 to 10,000 characters.
    #[schema(schema_with = rules::comment_body)]
    pub body: String,
}

/// `GET /tasks/{id}/comments` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CommentListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(schema_with = rules::limit)]
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(schema_with = rules::comment_cursor)]
    pub cursor: Option<String>,
}
