//! Comments: each write is one transaction of a context read, the write (the comment and the
//! task's `comment_count` in one statement on PostgreSQL) and the event append — three
//! statements on PostgreSQL. The context read locks the task (a new comment) or the comment (an
//! edit, a deletion) on PostgreSQL, so the task cannot be deleted under a new comment and two
//! changes of one comment take turns; SQLite has one writer.

use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{CommentId, ProjectId, TaskId};
use tasklane_domain::model::Comment;
use tasklane_domain::ports::{
    CommentChange, CommentQuery, CommentRepository, CommentTarget, CommentWritten, CommentsRead,
    Logged, NewComment, RecordEvents,
};
use tasklane_domain::services::comments::{AddCommentError, DeleteCommentError, EditCommentError};
use tasklane_domain::values::{CommentBody, Role};

use crate::Store;
use crate::convert::{self, count, parsed, valid};
use crate::db::{Dialect, Row, all, exec, in_transaction, one};
use crate::errors::{Fail, repo_error};
use crate::events;

/// The caller's role in the project of task `t` (the caller is `$2`).
const ROLE: &str =
    "(SELECT role FROM project_members WHERE project_id = t.project_id AND user_id = $2) AS role";

/// A comment with its task's project and its author, `FROM` [`COMMENT_FROM`].
const COMMENT_COLUMNS: &str = "c.id, c.task_id, t.project_id, c.body, c.created_at, c.edited_at, \
    u.id AS author_id, u.email AS author_email, u.display_name AS author_name, \
    u.avatar_url AS author_avatar";

const COMMENT_FROM: &str =
    "comments c JOIN tasks t ON t.id = c.task_id LEFT JOIN users u ON u.id = c.author_id";

fn role(row: &Row<'_>) -> Result<Option<Role>, DbErr> {
    row.opt_text("role")?
        .map(|r| parsed("role", &r))
        .transpose()
}

fn comment(row: &Row<'_>) -> Result<Comment, DbErr> {
    Ok(Comment {
        id: CommentId::from_uuid(row.id("id")?),
        task_id: TaskId::from_uuid(row.id("task_id")?),
        project_id: ProjectId::from_uuid(row.id("project_id")?),
        author: convert::user_columns(row, "author")?,
        body: valid("comment body", CommentBody::new(&row.text("body")?))?,
        created_at: row.time("created_at")?,
        edited_at: row.opt_time("edited_at")?,
    })
}

/// The target of a change of comment `change.comment_id` and the task's comment count, locking
/// the comment on PostgreSQL.
async fn comment_target(
    txn: &DatabaseTransaction,
    d: Dialect,
    change: &CommentChange,
) -> Result<(CommentTarget, u64), DbErr> {
    let lock = match d {
        Dialect::Postgres => " FOR NO KEY UPDATE OF c",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "SELECT {COMMENT_COLUMNS}, {ROLE}, p.archived_at AS project_archived_at, t.comment_count \
         FROM {COMMENT_FROM} JOIN projects p ON p.id = t.project_id WHERE c.id = $1{lock}"
    );
    // Budget: a comment edit or deletion, statement 1 of 3: the context read (locks the comment).
    let stmt = d.stmt(&sql, vec![d.id(change.comment_id), d.id(change.actor)]);
    let Some(row) = one(txn, stmt).await? else {
        let target = CommentTarget {
            actor_role: None,
            project_archived: false,
            comment: None,
        };
        return Ok((target, 0));
    };
    let row = d.row(&row);
    let target = CommentTarget {
        actor_role: role(&row)?,
        project_archived: row.opt_time("project_archived_at")?.is_some(),
        comment: Some(comment(&row)?),
    };
    Ok((target, count(row.int("comment_count")?)?))
}

#[async_trait]
impl CommentRepository for Store {
    #[tracing::instrument(skip_all, fields(task_id = %new.task_id))]
    async fn add_comment(
        &self,
        new: NewComment,
        decide: Decide<CommentTarget, (), AddCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<AddCommentError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<CommentWritten>,
            Fail<AddCommentError>,
        > {
            let lock = match d {
                Dialect::Postgres => " FOR NO KEY UPDATE OF t",
                Dialect::Sqlite => "",
            };
            let sql = format!(
                "SELECT t.project_id, {ROLE}, p.archived_at AS project_archived_at, \
                   u.id AS author_id, u.email AS author_email, u.display_name AS author_name, \
                   u.avatar_url AS author_avatar \
                 FROM tasks t JOIN projects p ON p.id = t.project_id LEFT JOIN users u ON u.id = $2 \
                 WHERE t.id = $1{lock}"
            );
            // Budget: a new comment, statement 1 of 3: the context read (locks the task).
            let context = one(txn, d.stmt(&sql, vec![d.id(new.task_id), d.id(new.author)])).await?;
            let Some(context) = context else {
                let unknown = CommentTarget { actor_role: None, project_archived: false, comment: None };
                decide(unknown).map_err(Fail::Rejected)?;
                return Err(Fail::Corrupt(anyhow::anyhow!("a comment on no task was allowed")));
            };
            let row = d.row(&context);
            let target = CommentTarget {
                actor_role: role(&row)?,
                project_archived: row.opt_time("project_archived_at")?.is_some(),
                comment: None,
            };
            decide(target).map_err(Fail::Rejected)?;
            let comment = Comment {
                id: new.id,
                task_id: new.task_id,
                project_id: ProjectId::from_uuid(row.id("project_id")?),
                author: convert::user_columns(&row, "author")?,
                body: new.body.clone(),
                created_at: new.at,
                edited_at: None,
            };
            let insert = "INSERT INTO comments (id, task_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)";
            let bump = "UPDATE tasks SET comment_count = comment_count + 1 WHERE id = $2 RETURNING comment_count";
            let values = vec![
                d.id(new.id),
                d.id(new.task_id),
                d.id(new.author),
                new.body.as_str().into(),
                d.time(new.at),
            ];
            let counted = match d {
                Dialect::Postgres => {
                    let sql = format!(
                        "WITH c AS ({insert} RETURNING id), b AS ({bump}) SELECT b.comment_count FROM b, c"
                    );
                    // Budget: a new comment, statement 2 of 3: the comment and the count in one.
                    one(txn, d.stmt(&sql, values)).await?
                }
                Dialect::Sqlite => {
                    // Budget: a new comment on SQLite (4): the comment, then the count.
                    exec(txn, d.stmt(insert, values)).await?;
                    one(txn, d.stmt(bump, vec![d.id(new.id), d.id(new.task_id)])).await?
                }
            };
            let counted = counted.ok_or_else(|| DbErr::RecordNotFound("the commented task".into()))?;
            let comment_count = count(d.row(&counted).int("comment_count")?)?;
            Ok(events::log(txn, d, CommentWritten { comment, comment_count }, &record).await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(comment_id = %change.comment_id))]
    async fn edit_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), EditCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<EditCommentError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<CommentWritten>,
            Fail<EditCommentError>,
        > {
            let (target, comment_count) = comment_target(txn, d, &change).await?;
            let before = target.comment.clone();
            decide(target).map_err(Fail::Rejected)?;
            let (Some(mut comment), Some(body)) = (before, change.body.clone()) else {
                return Err(Fail::Corrupt(anyhow::anyhow!(
                    "an edit of no comment was allowed"
                )));
            };
            // Budget: a comment edit, statement 2 of 3: the write.
            let update = d.stmt(
                "UPDATE comments SET body = $2, edited_at = $3 WHERE id = $1",
                vec![
                    d.id(change.comment_id),
                    body.as_str().into(),
                    d.time(change.at),
                ],
            );
            exec(txn, update).await?;
            comment.body = body;
            comment.edited_at = Some(change.at);
            Ok(events::log(
                txn,
                d,
                CommentWritten {
                    comment,
                    comment_count,
                },
                &record,
            )
            .await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(comment_id = %change.comment_id))]
    async fn delete_comment(
        &self,
        change: CommentChange,
        decide: Decide<CommentTarget, (), DeleteCommentError>,
        record: RecordEvents<CommentWritten>,
    ) -> Result<Logged<CommentWritten>, TxError<DeleteCommentError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<CommentWritten>,
            Fail<DeleteCommentError>,
        > {
            let (target, _) = comment_target(txn, d, &change).await?;
            let before = target.comment.clone();
            decide(target).map_err(Fail::Rejected)?;
            let Some(comment) = before else {
                return Err(Fail::Corrupt(anyhow::anyhow!("a deletion of no comment was allowed")));
            };
            let delete = "DELETE FROM comments WHERE id = $1";
            let drop = "UPDATE tasks SET comment_count = comment_count - 1 WHERE id = $2 RETURNING comment_count";
            let values = vec![d.id(comment.id), d.id(comment.task_id)];
            let counted = match d {
                Dialect::Postgres => {
                    let sql = format!(
                        "WITH c AS ({delete} RETURNING id), b AS ({drop}) SELECT b.comment_count FROM b, c"
                    );
                    // Budget: a comment deletion, statement 2 of 3: the comment and the count in one.
                    one(txn, d.stmt(&sql, values)).await?
                }
                Dialect::Sqlite => {
                    // Budget: a comment deletion on SQLite (4): the comment, then the count.
                    exec(txn, d.stmt(delete, vec![d.id(comment.id)])).await?;
                    one(txn, d.stmt(drop, values)).await?
                }
            };
            let counted = counted.ok_or_else(|| DbErr::RecordNotFound("the comment's task".into()))?;
            let comment_count = count(d.row(&counted).int("comment_count")?)?;
            Ok(events::log(txn, d, CommentWritten { comment, comment_count }, &record).await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(task_id = %query.task_id))]
    async fn list_comments(&self, query: CommentQuery) -> Result<CommentsRead, RepoError> {
        let d = self.dialect;
        let mut values = vec![d.id(query.task_id), d.id(query.viewer)];
        let after = match &query.after {
            Some(cursor) => {
                values.push(d.time(cursor.created_at));
                values.push(d.id(cursor.id));
                " AND (c.created_at > $3 OR (c.created_at = $3 AND c.id > $4))"
            }
            None => "",
        };
        // One statement: the viewer's role, and the page only if they have one. A viewer who is
        // no member gets one row without a comment.
        let sql = format!(
            "SELECT r.role, c.id, c.task_id, r.project_id, c.body, c.created_at, c.edited_at, \
               u.id AS author_id, u.email AS author_email, u.display_name AS author_name, \
               u.avatar_url AS author_avatar \
             FROM (SELECT t.project_id, {ROLE} FROM tasks t WHERE t.id = $1) r \
             LEFT JOIN comments c ON r.role IS NOT NULL AND c.task_id = $1{after} \
             LEFT JOIN users u ON u.id = c.author_id \
             ORDER BY c.created_at, c.id LIMIT {}",
            query.limit
        );
        let rows = all(&self.reader, d.stmt(&sql, values))
            .await
            .map_err(repo_error)?;
        let mut read = CommentsRead {
            viewer_role: None,
            comments: Vec::with_capacity(rows.len()),
        };
        for row in &rows {
            let row = d.row(row);
            read.viewer_role = role(&row).map_err(repo_error)?;
            if row.opt_id("id").map_err(repo_error)?.is_some() {
                read.comments.push(comment(&row).map_err(repo_error)?);
            }
        }
        Ok(read)
    }
}
