//! The comment repository port: comments on tasks, each write with its event, and the task's
//! comment count kept in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::cursor::CommentCursor;
use crate::errors::{Decide, RepoError, TxError};
use crate::ids::{CommentId, TaskId, UserId};
use crate::model::Comment;
use crate::ports::{Logged, RecordEvents};
use crate::services::comments::{AddCommentError, DeleteCommentError, EditCommentError};
use crate::values::{CommentBody, Role};

/// What a comment write needs to know about the task it is on, read in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentTarget {
    /// The caller's role in the task's project; `None` for non-members.
    pub actor_role: Option<Role>,
    /// Whether the task's project is archived.
    pub project_archived: bool,
    /// The comment the write is about (edits and deletions); `None` for a new one.
    pub comment: Option<Comment>,
}

/// A comment to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// Its new id.
    pub id: CommentId,
    /// The task it goes on.
    pub task_id: TaskId,
    /// Its author, the caller.
    pub author: UserId,
    /// Its text.
    pub body: CommentBody,
    /// When it is written.
    pub at: DateTime<Utc>,
}

/// An edit or a deletion of a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentChange {
    /// The comment.
    pub comment_id: CommentId,
    /// The caller.
    pub actor: UserId,
    /// The new text (edits only).
    pub body: Option<CommentBody>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A comment written, and the task's comment count after the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentWritten {
    /// The comment as it now is (as it was, for a deletion).
    pub comment: Comment,
    /// The task's comment count after the write.
    pub comment_count: u64,
}

/// A page of a task's comments request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentQuery {
    /// The task.
    pub task_id: TaskId,
    /// Who reads (their role decides whether they may).
    pub viewer: UserId,
    /// Continue after this comment.
    pub after: Option<CommentCursor>,
    /// At most this many.
    pub limit: u32,
}

/// A page of comments, oldest first, and whether the viewer may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentsRead {
    /// The viewer's role in the task's project; `None` for non-members or an unknown task.
    pub viewer_role: Option<Role>,
    /// The comments (empty when the viewer is no member).
    pub comments: Vec<Comment>,
}

/// Comments.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CommentRepository: Send + Sync {
    /// Reads the task's [`CommentTarget`] (no comment; an unknown task reads as a non-member),
    /// calls `decide`, then inserts the comment, adds one to the task's comment count and logs
    /// `record`'s events, in one transaction.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`].
    async fn add_comment(
        &self,
        comment: NewComment,
        decide: Decide<CommentTarget, (), AddCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<AddCommentError>>;

    /// Reads the comment's [`CommentTarget`], calls `decide`, then replaces its body and sets
    /// `edited_at`, and logs `record`'s events, in one transaction.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`].
    async fn edit_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), EditCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<EditCommentError>>;

    /// Reads the comment's [`CommentTarget`], calls `decide`, then deletes it, takes one from
    /// the task's comment count and logs `record`'s events, in one transaction.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`].
    async fn delete_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), DeleteCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<DeleteCommentError>>;

    /// A page of the task's comments, oldest first (`created_at`, then id).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_comments(&self, query: CommentQuery) -> Result<CommentsRead, RepoError>;
}
