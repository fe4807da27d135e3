//! The errors of the operations whose transactions this port decides: one plain enum per
//! operation, with the kind of each failure ([`Classify`]).

use crate::access::AccessDenied;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::validation::ValidationErrors;
use crate::values::{StatusCategory, StatusName};

/// Why creating a status failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateStatusError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// Another status has this name.
    #[error("a status named {0} already exists in this project")]
    NameTaken(StatusName),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for CreateStatusError {
    fn class(&self) -> ErrorClass {
        match self {
            CreateStatusError::Access(denied) => denied.class(),
            CreateStatusError::Invalid(_) => ErrorClass::Invalid,
            CreateStatusError::ProjectArchived => ErrorClass::Archived,
            CreateStatusError::NameTaken(..) => ErrorClass::Conflict,
            CreateStatusError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            CreateStatusError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why renaming or reordering a status failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateStatusError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// Another status has this name.
    #[error("a status named {0} already exists in this project")]
    NameTaken(StatusName),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for UpdateStatusError {
    fn class(&self) -> ErrorClass {
        match self {
            UpdateStatusError::Access(denied) => denied.class(),
            UpdateStatusError::Invalid(_) => ErrorClass::Invalid,
            UpdateStatusError::ProjectArchived => ErrorClass::Archived,
            UpdateStatusError::NameTaken(..) => ErrorClass::Conflict,
            UpdateStatusError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            UpdateStatusError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why deleting a status failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteStatusError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    ProjectArchived,
    /// Tasks (archived or not) use the status.
    #[error("tasks use this status; move them first")]
    InUse,
    /// It is the project's last status of a category a project must keep.
    #[error("a project must keep at least one {0} status")]
    LastOfCategory(StatusCategory),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for DeleteStatusError {
    fn class(&self) -> ErrorClass {
        match self {
            DeleteStatusError::Access(denied) => denied.class(),
            DeleteStatusError::ProjectArchived => ErrorClass::Archived,
            DeleteStatusError::InUse => ErrorClass::Conflict,
            DeleteStatusError::LastOfCategory(..) => ErrorClass::Conflict,
            DeleteStatusError::Store(error) => error.class(),
        }
    }
}

/// Why adding a member or changing their role failed.
#[derive(Debug, thiserror::Error)]
pub enum SetMemberRoleError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// No user has that id.
    #[error("no user has that id")]
    UnknownUser,
    /// The change would leave the project without an owner.
    #[error("a project must keep at least one owner")]
    LastOwner,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for SetMemberRoleError {
    fn class(&self) -> ErrorClass {
        match self {
            SetMemberRoleError::Access(denied) => denied.class(),
            SetMemberRoleError::UnknownUser => ErrorClass::NotFound,
            SetMemberRoleError::LastOwner => ErrorClass::Conflict,
            SetMemberRoleError::Store(error) => error.class(),
        }
    }
}

/// Why removing a member failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveMemberError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The user is not a member.
    #[error("that user is not a member of this project")]
    NotAMember,
    /// The removal would leave the project without an owner.
    #[error("a project must keep at least one owner")]
    LastOwner,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for RemoveMemberError {
    fn class(&self) -> ErrorClass {
        match self {
            RemoveMemberError::Access(denied) => denied.class(),
            RemoveMemberError::NotAMember => ErrorClass::NotFound,
            RemoveMemberError::LastOwner => ErrorClass::Conflict,
            RemoveMemberError::Store(error) => error.class(),
        }
    }
}

/// Why adding a member by e-mail failed.
#[derive(Debug, thiserror::Error)]
pub enum AddMemberError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// No user has that e-mail (said only to those who may add members).
    #[error("no user has that e-mail address")]
    UserNotFound,
    /// The user is already a member (change a role with the member's own route).
    #[error("that user is already a member of this project")]
    AlreadyMember,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for AddMemberError {
    fn class(&self) -> ErrorClass {
        match self {
            AddMemberError::Access(denied) => denied.class(),
            AddMemberError::Invalid(_) => ErrorClass::Invalid,
            AddMemberError::UserNotFound => ErrorClass::UserNotFound,
            AddMemberError::AlreadyMember => ErrorClass::AlreadyMember,
            AddMemberError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            AddMemberError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why updating a project failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateProjectError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The project is archived.
    #[error("the project is archived; restore it first")]
    Archived,
    /// `If-Match` did not match.
    #[error("the project changed (now version {current}); reload and try again")]
    VersionMismatch {
        /// The current `row_version`.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for UpdateProjectError {
    fn class(&self) -> ErrorClass {
        match self {
            UpdateProjectError::Access(denied) => denied.class(),
            UpdateProjectError::Invalid(_) => ErrorClass::Invalid,
            UpdateProjectError::Archived => ErrorClass::Archived,
            UpdateProjectError::VersionMismatch { .. } => ErrorClass::VersionMismatch,
            UpdateProjectError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            UpdateProjectError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why archiving or restoring a project failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveProjectError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The project is already in the requested state.
    #[error("the project is already {}", archived_word(.archived))]
    AlreadyInState {
        /// The state the caller asked for.
        archived: bool,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ArchiveProjectError {
    fn class(&self) -> ErrorClass {
        match self {
            ArchiveProjectError::Access(denied) => denied.class(),
            ArchiveProjectError::AlreadyInState { .. } => ErrorClass::Conflict,
            ArchiveProjectError::Store(error) => error.class(),
        }
    }
}

/// Why deleting a project failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteProjectError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for DeleteProjectError {
    fn class(&self) -> ErrorClass {
        match self {
            DeleteProjectError::Access(denied) => denied.class(),
            DeleteProjectError::Store(error) => error.class(),
        }
    }
}

fn archived_word(archived: &bool) -> &'static str {
    if *archived { "archived" } else { "active" }
}
