//! The label repository port: a project's labels, each write with its event. Which labels a
//! task has is part of the task update (see `TaskLookup::label_ids`).

use async_trait::async_trait;

use crate::access::AccessDenied;
use crate::errors::{Classify, Decide, ErrorClass, RepoError, TxError};
use crate::ids::{LabelId, ProjectId, UserId};
use crate::model::Label;
use crate::ports::{Logged, RecordEvents};
use crate::validation::ValidationErrors;
use crate::values::Role;

/// What a label write decides on, read in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelContext {
    /// The project; `None` when it (or the label) does not exist.
    pub project_id: Option<ProjectId>,
    /// The caller's role in the project; `None` for non-members.
    pub actor_role: Option<Role>,
    /// Whether the project is archived.
    pub project_archived: bool,
    /// Every label of the project, by name.
    pub labels: Vec<Label>,
    /// The label changed (updates and deletions).
    pub target: Option<Label>,
}

/// A label with its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectLabel {
    /// The project.
    pub project_id: ProjectId,
    /// The label.
    pub label: Label,
}

/// A project's labels, and whether the viewer may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelsRead {
    /// The viewer's role; `None` for non-members or an unknown project.
    pub viewer_role: Option<Role>,
    /// The labels, by name (empty for non-members).
    pub labels: Vec<Label>,
}

/// Labels.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LabelRepository: Send + Sync {
    /// The project's labels by name (ignoring case), if `viewer` is a member.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_labels(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<LabelsRead, RepoError>;

    /// Locks the project, reads its [`LabelContext`] (no target), calls `decide` and inserts
    /// the label it returns, logging `record`'s events, in one transaction.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error — also
    /// [`CreateLabelError::NameTaken`] when a concurrent write took the name; [`TxError::Store`].
    async fn create_label(
        &self,
        project_id: ProjectId,
        actor: UserId,
        decide: Decide<LabelContext, Label, CreateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<CreateLabelError>>;

    /// Reads the label's [`LabelContext`] (locking the label), calls `decide` and writes the
    /// label it returns, logging `record`'s events, in one transaction.
    ///
    /// # Errors
    /// As [`LabelRepository::create_label`], with [`UpdateLabelError`].
    async fn update_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, Label, UpdateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<UpdateLabelError>>;

    /// Reads the label's [`LabelContext`] (locking the label), calls `decide`, then deletes the
    /// label (and so takes it off every task), logging `record`'s events, in one transaction.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`].
    async fn delete_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, (), DeleteLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<DeleteLabelError>>;
}

/// Why creating a label failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateLabelError {
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

impl Classify for CreateLabelError {
    fn class(&self) -> ErrorClass {
        match self {
            CreateLabelError::Access(denied) => denied.class(),
            CreateLabelError::Invalid(_) => ErrorClass::Invalid,
            CreateLabelError::ProjectArchived => ErrorClass::Archived,
            CreateLabelError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            CreateLabelError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why changing a label failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateLabelError {
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

impl Classify for UpdateLabelError {
    fn class(&self) -> ErrorClass {
        match self {
            UpdateLabelError::Access(denied) => denied.class(),
            UpdateLabelError::Invalid(_) => ErrorClass::Invalid,
            UpdateLabelError::ProjectArchived => ErrorClass::Archived,
            UpdateLabelError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            UpdateLabelError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why deleting a label failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteLabelError {
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

impl Classify for DeleteLabelError {
    fn class(&self) -> ErrorClass {
        match self {
            DeleteLabelError::Access(denied) => denied.class(),
            DeleteLabelError::ProjectArchived => ErrorClass::Archived,
            DeleteLabelError::Store(error) => error.class(),
        }
    }
}
