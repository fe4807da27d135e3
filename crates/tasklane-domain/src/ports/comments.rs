//! The comment repository port: comments on tasks, each write with its event, and the task's
//! comment count kept in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::AccessDenied;
use crate::cursor::CommentCursor;
use crate::errors::{Classify, Decide, ErrorClass, RepoError, TxError};
use crate::ids::{CommentId, TaskId, UserId};
use crate::model::Comment;
use crate::ports::{Logged, RecordEvents};
use crate::validation::ValidationErrors;
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

/// Why adding a comment failed.
#[derive(Debug, thiserror::Error)]
pub enum AddCommentError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for AddCommentError {
    fn class(&self) -> ErrorClass {
        match self {
            AddCommentError::Access(denied) => denied.class(),
            AddCommentError::Invalid(_) => ErrorClass::Invalid,
            AddCommentError::ProjectArchived => ErrorClass::Archived,
            AddCommentError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            AddCommentError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why editing a comment failed.
#[derive(Debug, thiserror::Error)]
pub enum EditCommentError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for EditCommentError {
    fn class(&self) -> ErrorClass {
        match self {
            EditCommentError::Access(denied) => denied.class(),
            EditCommentError::Invalid(_) => ErrorClass::Invalid,
            EditCommentError::ProjectArchived => ErrorClass::Archived,
            EditCommentError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            EditCommentError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why deleting a comment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteCommentError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for DeleteCommentError {
    fn class(&self) -> ErrorClass {
        match self {
            DeleteCommentError::Access(denied) => denied.class(),
            DeleteCommentError::ProjectArchived => ErrorClass::Archived,
            DeleteCommentError::Store(error) => error.class(),
        }
    }
}
