//! Errors shared by every port and operation: the store's own failures ([`RepoError`]), the
//! outcome of a decided transaction ([`TxError`]), and the classification the server maps to
//! HTTP ([`ErrorClass`]).

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

/// The kinds of failure a client can see; the server maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 404: unknown, or not visible to the caller.
    NotFound,
    /// 404 with a stable code (`user_not_found`): something the request names, other than its
    /// target, does not exist.
    Missing(&'static str),
    /// 401: missing or bad credentials.
    Unauthenticated,
    /// 403: a member whose role does not allow the action.
    Forbidden,
    /// 422: well-formed input that breaks a rule; see [`Classify::field_errors`].
    Invalid,
    /// 409 with a stable code (`conflict`, `key_taken`, `email_taken`, `archived`).
    Conflict(&'static str),
    /// 412: `If-Match` did not equal the current `row_version`.
    VersionMismatch,
    /// 400 with a stable code (`bad_since`): a well-formed request that cannot mean anything
    /// (a cursor past the end).
    BadRequest(&'static str),
    /// 410 with a stable code (`resync_required`): what was asked for is no longer kept.
    Gone(&'static str),
    /// 503: the database is unreachable.
    Unavailable,
    /// 503 `overloaded`: a bounded resource (password hashing) is saturated; retry shortly.
    Overloaded,
    /// 500: a bug or an unexpected store failure; details are logged, never shown.
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

/// Declares an operation's error enum from the shared building blocks, with its [`Classify`]
/// implementation. Every enum gets `Access` (not found / forbidden) and `Store`; writing
/// `[Invalid]` after the name adds `Invalid(ValidationErrors)` for operations that validate input;
/// the other variants are listed with their class.
macro_rules! operation_error {
    (
        $(#[$doc:meta])*
        $name:ident $([$invalid:ident])? {
            $(
                $(#[doc = $vdoc:literal])*
                #[error($($msg:tt)+)]
                $variant:ident $({ $($(#[doc = $fdoc:literal])* $field:ident : $ftype:ty),* $(,)? })? $(($inner:ty))? => $class:expr
            ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            /// The caller cannot see the target, or their role does not allow this.
            #[error(transparent)]
            Access(#[from] $crate::access::AccessDenied),
            $(
                /// The input breaks one or more rules.
                #[error("invalid input: {0}")]
                $invalid($crate::validation::ValidationErrors),
            )?
            $(
                $(#[doc = $vdoc])*
                #[error($($msg)+)]
                $variant $({ $($(#[doc = $fdoc])* $field : $ftype),* })? $(($inner))?,
            )*
            /// The store failed.
            #[error(transparent)]
            Store(#[from] $crate::errors::RepoError),
        }

        $(
            impl From<$crate::validation::ValidationErrors> for $name {
                fn from(errors: $crate::validation::ValidationErrors) -> Self {
                    $name::$invalid(errors)
                }
            }
        )?

        impl $crate::errors::Classify for $name {
            fn class(&self) -> $crate::errors::ErrorClass {
                match self {
                    $name::Access(denied) => $crate::errors::Classify::class(denied),
                    $($name::$invalid(_) => $crate::errors::ErrorClass::Invalid,)?
                    $($name::$variant { .. } => $class,)*
                    $name::Store(error) => $crate::errors::Classify::class(error),
                }
            }

            fn field_errors(&self) -> Option<&$crate::validation::ValidationErrors> {
                match self {
                    $($name::$invalid(errors) => Some(errors),)?
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use operation_error;
