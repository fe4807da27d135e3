//! The errors of the operations whose transactions this port decides: one plain enum per
//! operation, with the kind of each failure ([`Classify`]).

use crate::access::AccessDenied;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::validation::ValidationErrors;

/// Why creating a task (or a batch) failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateTaskError {
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

impl Classify for CreateTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            CreateTaskError::Access(denied) => denied.class(),
            CreateTaskError::Invalid(_) => ErrorClass::Invalid,
            CreateTaskError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            CreateTaskError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why updating a task failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateTaskError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The task is archived.
    #[error("the task is archived; unarchive it first")]
    TaskArchived,
    /// `If-Match` did not match.
    #[error("the task changed (now version {current}); reload and try again")]
    VersionMismatch {
        /// The current `row_version`.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for UpdateTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            UpdateTaskError::Access(denied) => denied.class(),
            UpdateTaskError::Invalid(_) => ErrorClass::Invalid,
            UpdateTaskError::ProjectArchived => ErrorClass::Archived,
            UpdateTaskError::TaskArchived => ErrorClass::Archived,
            UpdateTaskError::VersionMismatch { .. } => ErrorClass::VersionMismatch,
            UpdateTaskError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            UpdateTaskError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why moving a task failed.
#[derive(Debug, thiserror::Error)]
pub enum MoveTaskError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The task is archived.
    #[error("the task is archived; unarchive it first")]
    TaskArchived,
    /// `If-Match` did not match.
    #[error("the task changed (now version {current}); reload and try again")]
    VersionMismatch {
        /// The current `row_version`.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for MoveTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            MoveTaskError::Access(denied) => denied.class(),
            MoveTaskError::Invalid(_) => ErrorClass::Invalid,
            MoveTaskError::ProjectArchived => ErrorClass::Archived,
            MoveTaskError::TaskArchived => ErrorClass::Archived,
            MoveTaskError::VersionMismatch { .. } => ErrorClass::VersionMismatch,
            MoveTaskError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            MoveTaskError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why archiving or unarchiving a task failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveTaskError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The project is archived (archiving; unarchiving restores the project instead).
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// The task is already in the requested state.
    #[error("the task is already {}", state_word(.archived))]
    AlreadyInState {
        /// The state the caller asked for.
        archived: bool,
    },
    /// `If-Match` did not match.
    #[error("the task changed (now version {current}); reload and try again")]
    VersionMismatch {
        /// The current `row_version`.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ArchiveTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            ArchiveTaskError::Access(denied) => denied.class(),
            ArchiveTaskError::ProjectArchived => ErrorClass::Archived,
            ArchiveTaskError::AlreadyInState { .. } => ErrorClass::Conflict,
            ArchiveTaskError::VersionMismatch { .. } => ErrorClass::VersionMismatch,
            ArchiveTaskError::Store(error) => error.class(),
        }
    }
}

/// Why deleting a task failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteTaskError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// `If-Match` did not match.
    #[error("the task changed (now version {current}); reload and try again")]
    VersionMismatch {
        /// The current `row_version`.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for DeleteTaskError {
    fn class(&self) -> ErrorClass {
        match self {
            DeleteTaskError::Access(denied) => denied.class(),
            DeleteTaskError::ProjectArchived => ErrorClass::Archived,
            DeleteTaskError::VersionMismatch { .. } => ErrorClass::VersionMismatch,
            DeleteTaskError::Store(error) => error.class(),
        }
    }
}

fn state_word(archived: &bool) -> &'static str {
    if *archived {
        "archived"
    } else {
        "not archived"
    }
}
