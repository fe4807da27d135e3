//! The comment service: members read a task's comments, editors and owners write them, authors
//! edit their own, and authors or owners delete them. Each write logs `comment_added`,
//! `comment_edited` or `comment_deleted`, which reach the task's and the project's rooms.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::access::{AccessDenied, Action, authorize};
use crate::cursor::CommentCursor;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{CommentId, TaskId, UserId};
use crate::model::{Comment, Page};
use crate::ports::{CommentChange, CommentQuery, CommentTarget, CommentWritten, NewComment};
use crate::services::effects::{publish, record};
use crate::services::{Ports, page_limit};
use crate::validation::ValidationErrors;
use crate::values::CommentBody;

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{AddCommentError, DeleteCommentError, EditCommentError};

/// Why listing comments failed.
#[derive(Debug, thiserror::Error)]
pub enum ListCommentsError {
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

impl Classify for ListCommentsError {
    fn class(&self) -> ErrorClass {
        match self {
            ListCommentsError::Access(denied) => denied.class(),
            ListCommentsError::Invalid(_) => ErrorClass::Invalid,
            ListCommentsError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            ListCommentsError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Comments on tasks.
#[derive(Debug, Clone)]
pub struct CommentService {
    ports: Arc<Ports>,
}

/// The comment of an edit or a deletion, if the caller can see it.
fn visible(target: &CommentTarget) -> Result<&Comment, AccessDenied> {
    authorize(target.actor_role, Action::Read)?;
    target.comment.as_ref().ok_or(AccessDenied::NotFound)
}

fn authored_by(comment: &Comment, actor: UserId) -> bool {
    comment.author.as_ref().is_some_and(|a| a.id == actor)
}

/// An author edits their own comment while they may still comment (a member demoted to viewer
/// no longer may).
fn decide_edit(target: CommentTarget, actor: UserId) -> Result<(), EditCommentError> {
    let comment = visible(&target)?;
    authorize(target.actor_role, Action::Comment)?;
    if !authored_by(comment, actor) {
        return Err(AccessDenied::Forbidden.into());
    }
    if target.project_archived {
        return Err(EditCommentError::ProjectArchived);
    }
    Ok(())
}

/// An owner deletes any comment; an author who may still comment deletes their own.
fn decide_delete(target: CommentTarget, actor: UserId) -> Result<(), DeleteCommentError> {
    let comment = visible(&target)?;
    let own = authored_by(comment, actor) && authorize(target.actor_role, Action::Comment).is_ok();
    if !own {
        authorize(target.actor_role, Action::ModerateComments)?;
    }
    if target.project_archived {
        return Err(DeleteCommentError::ProjectArchived);
    }
    Ok(())
}

fn event(
    comment: &Comment,
    actor: UserId,
    at: DateTime<Utc>,
    payload: EventPayload,
) -> DomainEvent {
    DomainEvent {
        project_id: comment.project_id,
        actor_id: actor,
        at,
        payload,
    }
}

fn body(errors: &mut ValidationErrors, raw: &str) -> Option<CommentBody> {
    errors.check("body", CommentBody::new(raw))
}

impl CommentService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// Adds a comment to a task (editors, owners).
    ///
    /// # Errors
    /// [`AddCommentError`]: not found (unknown task, non-member), forbidden (viewer), invalid
    /// body, archived project.
    #[tracing::instrument(skip_all, fields(%actor, %task_id))]
    pub async fn add(
        &self,
        actor: UserId,
        task_id: TaskId,
        text: &str,
    ) -> Result<CommentWritten, AddCommentError> {
        let mut errors = ValidationErrors::new();
        let body = body(&mut errors, text);
        let Some(body) = body else {
            return Err(errors.into());
        };
        let at = self.ports.clock.now();
        let new = NewComment {
            id: CommentId::generate(),
            task_id,
            author: actor,
            body,
            at,
        };
        let decide = Box::new(|target: CommentTarget| {
            authorize(target.actor_role, Action::Comment)?;
            if target.project_archived {
                return Err(AddCommentError::ProjectArchived);
            }
            Ok(())
        });
        let events = record(&self.ports.encoder, move |written: &CommentWritten| {
            let payload = EventPayload::CommentAdded {
                comment: Box::new(written.comment.clone()),
                comment_count: written.comment_count,
            };
            vec![event(&written.comment, actor, at, payload)]
        });
        let logged = self
            .ports
            .comments
            .add_comment(new, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(logged.value)
    }

    /// Replaces the text of one's own comment and records when (authors who may comment).
    ///
    /// # Errors
    /// [`EditCommentError`]: not found, forbidden (not the author, or a viewer now), invalid
    /// body, archived project.
    #[tracing::instrument(skip_all, fields(%actor, %comment_id))]
    pub async fn edit(
        &self,
        actor: UserId,
        comment_id: CommentId,
        text: &str,
    ) -> Result<CommentWritten, EditCommentError> {
        let mut errors = ValidationErrors::new();
        let Some(body) = body(&mut errors, text) else {
            return Err(errors.into());
        };
        let at = self.ports.clock.now();
        let change = CommentChange {
            comment_id,
            actor,
            body: Some(body),
            at,
        };
        let decide = Box::new(move |target: CommentTarget| decide_edit(target, actor));
        let events = record(&self.ports.encoder, move |written: &CommentWritten| {
            let comment = Box::new(written.comment.clone());
            vec![event(
                &written.comment,
                actor,
                at,
                EventPayload::CommentEdited { comment },
            )]
        });
        let logged = self
            .ports
            .comments
            .edit_comment(change, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(logged.value)
    }

    /// Deletes a comment (its author while they may comment, or an owner).
    ///
    /// # Errors
    /// [`DeleteCommentError`]: not found, forbidden, archived project.
    #[tracing::instrument(skip_all, fields(%actor, %comment_id))]
    pub async fn delete(
        &self,
        actor: UserId,
        comment_id: CommentId,
    ) -> Result<(), DeleteCommentError> {
        let at = self.ports.clock.now();
        let change = CommentChange {
            comment_id,
            actor,
            body: None,
            at,
        };
        let decide = Box::new(move |target: CommentTarget| decide_delete(target, actor));
        let events = record(&self.ports.encoder, move |written: &CommentWritten| {
            let payload = EventPayload::CommentDeleted {
                comment_id: written.comment.id,
                task_id: written.comment.task_id,
                comment_count: written.comment_count,
            };
            vec![event(&written.comment, actor, at, payload)]
        });
        let logged = self
            .ports
            .comments
            .delete_comment(change, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(())
    }

    /// A page of a task's comments, oldest first (any member).
    ///
    /// # Errors
    /// [`ListCommentsError`]: not found (unknown task, non-member), a bad limit or cursor.
    #[tracing::instrument(skip_all, fields(%viewer, %task_id))]
    pub async fn list(
        &self,
        viewer: UserId,
        task_id: TaskId,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<Comment>, ListCommentsError> {
        let mut errors = ValidationErrors::new();
        let limit = page_limit(&mut errors, limit, 50);
        let after = cursor.and_then(|c| errors.check("cursor", CommentCursor::decode(c)));
        errors.into_result()?;
        let query = CommentQuery {
            task_id,
            viewer,
            after,
            // One more than asked tells whether there is a next page.
            limit: limit + 1,
        };
        let read = self.ports.comments.list_comments(query).await?;
        authorize(read.viewer_role, Action::Read)?;
        let mut items = read.comments;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = more
            .then(|| items.last())
            .flatten()
            .map(|last| CommentCursor {
                created_at: last.created_at,
                id: last.id,
            })
            .map(|c| c.encode());
        Ok(Page { items, next_cursor })
    }
}
