//! Database errors mapped to domain errors in one place: connection loss and pool timeouts are
//! `Unavailable`; constraint violations are recognised by constraint (PostgreSQL) or column list
//! (SQLite) so that callers can turn them into business outcomes; nothing leaks as text.

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr, sqlx};
use tasklane_domain::errors::{RepoError, TxError};

/// A failure inside a store method, before it is mapped to the port's error type.
#[derive(Debug)]
pub(crate) enum Fail<E> {
    /// The domain's decision refused the change.
    Rejected(E),
    /// The project's aggregation row is missing.
    AggregationMissing,
    /// The database failed.
    Db(DbErr),
    /// The data read back is not what the domain accepts (corrupt or unexpected rows).
    Corrupt(anyhow::Error),
}

impl<E> From<DbErr> for Fail<E> {
    fn from(error: DbErr) -> Self {
        Fail::Db(error)
    }
}

impl<E> From<RepoError> for Fail<E> {
    fn from(error: RepoError) -> Self {
        Fail::Corrupt(error.into())
    }
}

impl<E> Fail<E> {
    /// The port's error.
    pub(crate) fn into_tx(self) -> TxError<E> {
        match self {
            Fail::Rejected(error) => TxError::Rejected(error),
            Fail::AggregationMissing => TxError::AggregationMissing,
            Fail::Db(error) => TxError::Store(repo_error(error)),
            Fail::Corrupt(error) => TxError::Store(RepoError::Other(error)),
        }
    }

    /// The decision's refusal, or the failure it is, without a refusal's type (for the one who
    /// runs decisions of several types, and passes on everything but their refusals).
    pub(crate) fn refusal(self) -> Result<E, Fail<()>> {
        match self {
            Fail::Rejected(error) => Ok(error),
            Fail::AggregationMissing => Err(Fail::AggregationMissing),
            Fail::Db(error) => Err(Fail::Db(error)),
            Fail::Corrupt(error) => Err(Fail::Corrupt(error)),
        }
    }

    /// The store's own failure, for methods without a decision.
    pub(crate) fn into_repo(self) -> RepoError {
        match self {
            Fail::Db(error) => repo_error(error),
            Fail::Corrupt(error) => RepoError::Other(error),
            Fail::Rejected(_) => RepoError::other("unexpected rejection"),
            Fail::AggregationMissing => RepoError::other("unexpected missing aggregation"),
        }
    }
}

/// The driver error inside `error`, if any.
fn sqlx_error(error: &DbErr) -> Option<&sqlx::Error> {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.deref()),
        _ => None,
    }
}

/// The SQLSTATE (PostgreSQL) or extended result code (SQLite) of a database error.
fn code(error: &DbErr) -> Option<String> {
    match sqlx_error(error)? {
        sqlx::Error::Database(e) => e.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether the database is unreachable or saturated rather than the statement wrong.
pub(crate) fn is_unavailable(error: &DbErr) -> bool {
    if matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    if let Some(e) = sqlx_error(error)
        && matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
        )
    {
        return true;
    }
    // PostgreSQL: connection exceptions (08…), too many connections, shutdown in progress.
    code(error).is_some_and(|c| c.starts_with("08") || c == "53300" || c == "57P01" || c == "57P03")
}

/// A deadlock or serialization failure: running the transaction again may succeed.
pub(crate) fn is_retryable(error: &DbErr) -> bool {
    code(error).is_some_and(|c| c == "40P01" || c == "40001")
}

/// The domain's view of a database error.
pub(crate) fn repo_error(error: DbErr) -> RepoError {
    if is_unavailable(&error) {
        RepoError::Unavailable(error.into())
    } else {
        RepoError::Other(error.into())
    }
}

/// Which constraint a statement violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// `projects.key`
    ProjectKey,
    /// `users.email_lower`
    UserEmail,
    /// `statuses(project_id, name_lower)`
    StatusName,
    /// `tasks.status_id` → `statuses` (a status deleted or in use)
    TaskStatus,
    /// `tasks.parent_id` → `tasks`
    TaskParent,
    /// `tasks.assignee_id` → `users`
    TaskAssignee,
    /// `projects.created_by` → `users` (a token whose user was deleted)
    ProjectCreator,
    /// `labels(project_id, name_lower)`
    LabelName,
}

impl Constraint {
    /// The PostgreSQL constraint name, and what SQLite's message names instead.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Constraint::ProjectKey => ("projects_key_key", "projects.key"),
            Constraint::UserEmail => ("users_email_lower_key", "users.email_lower"),
            Constraint::LabelName => (
                "labels_project_id_name_lower_key",
                "labels.project_id, labels.name_lower",
            ),
            Constraint::StatusName => (
                "statuses_project_name_key",
                "statuses.project_id, statuses.name_lower",
            ),
            // SQLite reports foreign keys without naming them; the callers know which one can
            // fail in the statement they ran.
            Constraint::TaskStatus => ("tasks_status_fk", "FOREIGN KEY"),
            Constraint::TaskParent => ("tasks_parent_fk", "FOREIGN KEY"),
            Constraint::TaskAssignee => ("tasks_assignee_fk", "FOREIGN KEY"),
            Constraint::ProjectCreator => ("projects_created_by_fk", "FOREIGN KEY"),
        }
    }
}

/// Whether `error` is a violation of `constraint`.
pub(crate) fn violates(error: &DbErr, constraint: Constraint) -> bool {
    let Some(sqlx::Error::Database(e)) = sqlx_error(error) else {
        return false;
    };
    let (postgres, sqlite) = constraint.names();
    match e.constraint() {
        Some(name) => name == postgres,
        None => e.message().contains(sqlite),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, sqlx};
    use tasklane_domain::errors::{Classify, ErrorClass};

    use super::*;

    #[test]
    fn pool_timeouts_and_lost_connections_are_unavailable_and_the_rest_internal() {
        let unavailable = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
                sqlx::Error::PoolTimedOut,
            ))),
            DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(sqlx::Error::Io(
                std::io::Error::other("reset"),
            )))),
        ];
        for error in unavailable {
            assert_eq!(repo_error(error).class(), ErrorClass::Unavailable);
        }
        let internal = repo_error(DbErr::Custom("bug".into()));
        assert_eq!(internal.class(), ErrorClass::Internal);
        assert!(
            !internal.to_string().contains("bug"),
            "the cause is a source, not the message"
        );
    }
}
