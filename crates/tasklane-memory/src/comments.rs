//! Comments on tasks, with the task's `comment_count` kept in the same write.

use async_trait::async_trait;
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{CommentId, TaskId, UserId};
use tasklane_domain::model::Comment;
use tasklane_domain::ports::{
    AddCommentError, CommentChange, CommentQuery, CommentRepository, CommentTarget, CommentWritten,
    CommentsRead, DeleteCommentError, EditCommentError, Logged, NewComment, RecordEvents,
};

use crate::tables::Tables;
use crate::{Abort, MemoryStore};

/// The target of a change to an existing comment, as `actor` sees it.
fn target(tables: &Tables, comment: CommentId, actor: UserId) -> CommentTarget {
    match tables.comments.get(&comment) {
        Some(comment) => CommentTarget {
            actor_role: tables.role(comment.project_id, actor),
            project_archived: tables
                .projects
                .get(&comment.project_id)
                .is_some_and(|p| p.archived_at.is_some()),
            comment: Some(comment.clone()),
        },
        None => CommentTarget {
            actor_role: None,
            project_archived: false,
            comment: None,
        },
    }
}

/// Adds `by` to the task's comment count and returns the count after.
fn count(tables: &mut Tables, task: TaskId, by: i64) -> Result<u64, RepoError> {
    let task = tables
        .tasks
        .get_mut(&task)
        .ok_or_else(|| RepoError::other("the comment's task vanished"))?;
    task.comment_count = task.comment_count.saturating_add_signed(by);
    Ok(task.comment_count)
}

#[async_trait]
impl CommentRepository for MemoryStore {
    async fn add_comment(
        &self,
        comment: NewComment,
        decide: Decide<CommentTarget, (), AddCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<AddCommentError>> {
        self.write(|tables| {
            let project = tables.tasks.get(&comment.task_id).map(|t| t.project_id);
            let target = CommentTarget {
                actor_role: project.and_then(|p| tables.role(p, comment.author)),
                project_archived: project
                    .and_then(|p| tables.projects.get(&p))
                    .is_some_and(|p| p.archived_at.is_some()),
                comment: None,
            };
            decide(target).map_err(Abort::Rejected)?;
            let project = project.ok_or_else(|| RepoError::other("a comment on no task"))?;
            let written = Comment {
                id: comment.id,
                task_id: comment.task_id,
                project_id: project,
                author: tables.summary(comment.author),
                body: comment.body,
                created_at: comment.at,
                edited_at: None,
            };
            tables.comments.insert(written.id, written.clone());
            let comment_count = count(tables, written.task_id, 1)?;
            let written = CommentWritten {
                comment: written,
                comment_count,
            };
            Ok::<_, Abort<AddCommentError>>(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }

    async fn edit_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), EditCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<EditCommentError>> {
        self.write(|tables| {
            decide(target(tables, change.comment_id, change.actor)).map_err(Abort::Rejected)?;
            let comment = tables
                .comments
                .get_mut(&change.comment_id)
                .ok_or_else(|| RepoError::other("decision without a comment"))?;
            if let Some(body) = change.body {
                comment.body = body;
            }
            comment.edited_at = Some(change.at);
            let comment = comment.clone();
            let comment_count = count(tables, comment.task_id, 0)?;
            let written = CommentWritten {
                comment,
                comment_count,
            };
            Ok::<_, Abort<EditCommentError>>(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }

    async fn delete_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), DeleteCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<DeleteCommentError>> {
        self.write(|tables| {
            decide(target(tables, change.comment_id, change.actor)).map_err(Abort::Rejected)?;
            let comment = tables
                .comments
                .remove(&change.comment_id)
                .ok_or_else(|| RepoError::other("decision without a comment"))?;
            let comment_count = count(tables, comment.task_id, -1)?;
            let written = CommentWritten {
                comment,
                comment_count,
            };
            Ok::<_, Abort<DeleteCommentError>>(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }

    async fn list_comments(&self, query: CommentQuery) -> Result<CommentsRead, RepoError> {
        Ok(self.read(|tables| {
            let viewer_role = tables
                .tasks
                .get(&query.task_id)
                .and_then(|t| tables.role(t.project_id, query.viewer));
            let mut comments: Vec<Comment> = if viewer_role.is_some() {
                tables
                    .comments
                    .values()
                    .filter(|c| c.task_id == query.task_id)
                    .filter(|c| {
                        query
                            .after
                            .as_ref()
                            .is_none_or(|after| (c.created_at, c.id) > (after.created_at, after.id))
                    })
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            comments.sort_by_key(|c| (c.created_at, c.id));
            comments.truncate(query.limit as usize);
            CommentsRead {
                viewer_role,
                comments,
            }
        }))
    }
}
