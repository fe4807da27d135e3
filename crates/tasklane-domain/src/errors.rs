//! Errors shared by every port and operation: the store's own failures ([`RepoError`]), the
//! outcome of a decided transaction ([`TxError`]), and the kinds of failure a client can see
//! ([`ErrorClass`]). Each operation's own error enum lives beside the port or service it belongs to.

use crate::access::AccessDenied;
use crate::validation::ValidationErrors;

/// A failure of the store itself, not a business outcome.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The database cannot be reached or the pool is exhausted; retrying later may work.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug, corrupt data, an unexpected constraint.
    #[error("the store failed")]
    Other(#[source] anyhow::Error),
}

impl RepoError {
    /// An unexpected failure described by `message`.
    pub fn other(message: impl std::fmt::Display) -> Self {
        RepoError::Other(anyhow::anyhow!("{message}"))
    }
}

/// The outcome of a store method that runs one transaction around a decision of the domain.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    /// The decision refused the change; the transaction was rolled back.
    #[error("the change was refused")]
    Rejected(E),
    /// The project's aggregation row does not exist; the transaction was rolled back so that the
    /// service can bootstrap the row and try again.
    #[error("the project's aggregation row is missing")]
    AggregationMissing,
    /// The store failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl<E: From<RepoError>> TxError<E> {
    /// The operation's own error, for operations that do not touch the aggregation (a missing
    /// row can then only be a store bug).
    pub fn into_operation_error(self) -> E {
        match self {
            TxError::Rejected(error) => error,
            TxError::Store(error) => error.into(),
            TxError::AggregationMissing => RepoError::other(
                "the store reported a missing aggregation for a change without one",
            )
            .into(),
        }
    }
}

/// The domain's decision inside a store transaction: given what the store read (the context,
/// under the locks the port documents), the plan to apply or the reason to refuse.
///
/// It is a pure function of the context, so a store may call it again when it reruns a
/// transaction (after a deadlock) on a fresh context.
pub type Decide<C, P, E> = Box<dyn Fn(C) -> Result<P, E> + Send + Sync>;

/// The kinds of failure a client can see. The domain names them; the server's one table gives
/// each its HTTP status and its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Unknown, or not visible to the caller.
    NotFound,
    /// Someone the request names (other than its target) has no account.
    UserNotFound,
    /// Missing or bad credentials.
    Unauthenticated,
    /// A member whose role does not allow the action.
    Forbidden,
    /// Well-formed input that breaks a rule; see [`Classify::field_errors`].
    Invalid,
    /// The target is not in a state that allows the change (already archived, changed meanwhile).
    Conflict,
    /// A project key that is taken.
    KeyTaken,
    /// An e-mail address that is taken.
    EmailTaken,
    /// A user who is already a member.
    AlreadyMember,
    /// The project or task is archived.
    Archived,
    /// The caller's version of the target is not the current one.
    VersionMismatch,
    /// An event position that cannot mean anything (past the end).
    BadSince,
    /// Events no longer kept: the client must reload.
    ResyncRequired,
    /// The database is unreachable.
    Unavailable,
    /// A bounded resource (password hashing) is saturated; retry shortly.
    Overloaded,
    /// A bug or an unexpected store failure; details are logged, never shown.
    Internal,
}

/// Implemented by every operation's error enum.
pub trait Classify: std::error::Error {
    /// How a client should see this error.
    fn class(&self) -> ErrorClass;

    /// The per-field errors, for [`ErrorClass::Invalid`].
    fn field_errors(&self) -> Option<&ValidationErrors> {
        None
    }
}

impl Classify for RepoError {
    fn class(&self) -> ErrorClass {
        match self {
            RepoError::Unavailable(_) => ErrorClass::Unavailable,
            RepoError::Other(_) => ErrorClass::Internal,
        }
    }
}

impl Classify for AccessDenied {
    fn class(&self) -> ErrorClass {
        match self {
            AccessDenied::NotFound => ErrorClass::NotFound,
            AccessDenied::Forbidden => ErrorClass::Forbidden,
        }
    }
}
