//! The project repository port: projects, their members and their statuses.

mod errors;

pub use errors::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::aggregation::{DerivationPolicy, DerivedStatus};
pub use crate::cursor::ProjectCursor;
use crate::errors::{Decide, RepoError, TxError};
use crate::ids::{ProjectId, StatusId, UserId};
use crate::model::{Member, Page, Project, ProjectRead, Status, UserSummary};
use crate::ports::{Logged, RecordEvents};
use crate::values::{
    ProjectDescription, ProjectKey, ProjectName, Role, StatusCategory, StatusName,
};

/// A status to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatus {
    /// Its id.
    pub id: StatusId,
    /// Its name.
    pub name: StatusName,
    /// Its category.
    pub category: StatusCategory,
    /// Its 0-based position in board order.
    pub position: u32,
}

/// A project to insert, with everything that must exist from its first moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// Its id.
    pub id: ProjectId,
    /// Its key.
    pub key: ProjectKey,
    /// Its name.
    pub name: ProjectName,
    /// Its description.
    pub description: ProjectDescription,
    /// The creator, who becomes its owner.
    pub owner: UserId,
    /// Its initial statuses (the five defaults).
    pub statuses: Vec<NewStatus>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateProjectStoreError {
    /// The key is taken (keys are stored upper-case, so case variants collide).
    #[error("the project key is taken")]
    KeyTaken,
    /// The owner is no user (the account behind a valid token was deleted).
    #[error("the owner does not exist")]
    UnknownOwner,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// How to list a user's projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectQuery {
    /// Page size, 1..=200.
    pub limit: u32,
    /// Where the previous page ended.
    pub cursor: Option<ProjectCursor>,
    /// Case-insensitive substring of the name or key, matched literally.
    pub search: Option<String>,
    /// Whether archived projects are listed.
    pub include_archived: bool,
    /// Only projects whose status, derived under `policy`, is this.
    pub derived_status: Option<DerivedStatus>,
    /// The derivation policy of `derived_status`; a store MUST derive exactly as
    /// [`DerivationPolicy::derive`] does.
    pub policy: DerivationPolicy,
}

/// Who wants to change which project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectChangeRequest {
    /// The project.
    pub project_id: ProjectId,
    /// The caller.
    pub actor: UserId,
}

/// What a project change is decided on, read with the project row locked (`FOR UPDATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectContext {
    /// The project, `None` when it does not exist.
    pub project: Option<Project>,
    /// The caller's role, `None` when not a member.
    pub actor_role: Option<Role>,
}

/// A change to a project row. The store bumps `row_version` and sets `updated_at = at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPatch {
    /// New name.
    pub name: Option<ProjectName>,
    /// New description.
    pub description: Option<ProjectDescription>,
    /// New archive state (`Some(None)` restores).
    pub archived_at: Option<Option<DateTime<Utc>>>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A project's members as one user sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembersRead {
    /// The reader's role; `None` when not a member or the project does not exist.
    pub viewer_role: Option<Role>,
    /// The members, owners first, then by join time (empty for non-members).
    pub members: Vec<Member>,
}

/// Who wants to change whose membership in which project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipRequest {
    /// The project.
    pub project_id: ProjectId,
    /// The caller.
    pub actor: UserId,
    /// The member being added, changed or removed.
    pub user_id: UserId,
    /// When (a new member's `added_at`).
    pub at: DateTime<Utc>,
}

/// What a membership change is decided on, read with the project row locked, so that concurrent
/// changes cannot leave a project without an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipContext {
    /// The caller's role; `None` when not a member or the project does not exist.
    pub actor_role: Option<Role>,
    /// The target user, `None` when no such user exists.
    pub target_user: Option<UserSummary>,
    /// The target's current role, `None` when not a member.
    pub target_role: Option<Role>,
    /// How many owners the project has now.
    pub owner_count: u64,
}

/// A membership after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// The member after the change; `None` when removed.
    pub member: Option<Member>,
    /// Their role before the change; `None` when newly added.
    pub previous_role: Option<Role>,
}

/// A project's statuses as one user sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusesRead {
    /// The reader's role; `None` when not a member or the project does not exist.
    pub viewer_role: Option<Role>,
    /// The statuses in board order (empty for non-members).
    pub statuses: Vec<Status>,
}

/// Which project's statuses a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusTarget {
    /// A project (creating a status).
    Project(ProjectId),
    /// One status (renaming, reordering, deleting); its project is looked up.
    Status(StatusId),
}

/// Who wants to change which statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChangeRequest {
    /// The target.
    pub target: StatusTarget,
    /// The caller.
    pub actor: UserId,
}

/// What a status change is decided on, read with the project row locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusContext {
    /// The project (of the target status), `None` when it (or the status) does not exist.
    pub project: Option<Project>,
    /// The caller's role; `None` when not a member.
    pub actor_role: Option<Role>,
    /// The project's statuses in board order.
    pub statuses: Vec<Status>,
    /// For [`StatusTarget::Status`]: whether any task, archived or not, uses that status.
    pub target_in_use: bool,
}

/// The statuses of a project after a change, decided by the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPlan {
    /// A status to insert.
    pub create: Option<Status>,
    /// A status to rename.
    pub rename: Option<(StatusId, StatusName)>,
    /// A status to delete (unused, checked by the domain from the context).
    pub delete: Option<StatusId>,
    /// Every remaining status id in its new board order; the store writes positions 0..n.
    pub order: Vec<StatusId>,
}

/// A project's statuses after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusesChanged {
    /// The project.
    pub project_id: ProjectId,
    /// Its statuses in board order.
    pub statuses: Vec<Status>,
}

/// Projects, members and statuses.
///
/// Methods taking a [`Decide`] run one transaction: read the context (taking the documented
/// locks), call `decide`, then apply its plan and commit, or roll back and return
/// [`TxError::Rejected`] with the decision's error. Nothing is written before `decide` returns.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Inserts the project, its owner membership, its statuses and its aggregation row (all
    /// zeros), and logs `events` of the new project as its first events, in one transaction.
    ///
    /// # Errors
    /// MUST return [`CreateProjectStoreError::KeyTaken`] when the key is taken, including by a
    /// concurrent insert, and [`CreateProjectStoreError::UnknownOwner`] when the owner is no
    /// user.
    async fn create_project(
        &self,
        project: NewProject,
        events: RecordEvents<Project>,
    ) -> Result<Logged<Project>, CreateProjectStoreError>;

    /// The project with its aggregation and the viewer's role; `None` when it does not exist.
    /// When the aggregation row is missing, the counts come from a recount (nothing is written).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_project(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<Option<ProjectRead>, RepoError>;

    /// The viewer's projects, newest `updated_at` first, keyset-paginated.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_projects(
        &self,
        viewer: UserId,
        query: ProjectQuery,
    ) -> Result<Page<ProjectRead>, RepoError>;

    /// Applies a decided [`ProjectPatch`] (name, description) and returns the project after it
    /// with the caller's role.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn update_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, UpdateProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<UpdateProjectError>>;

    /// Applies a decided [`ProjectPatch`] (archive or restore) and returns the project after it
    /// with the caller's role.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn set_project_archived(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, ArchiveProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<ArchiveProjectError>>;

    /// Deletes the project and everything in it once `decide` agrees. Its log goes with it: the
    /// events `record` returns (`project_deleted`) are numbered after the project's last `seq`
    /// but not kept.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn delete_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, (), DeleteProjectError>,
        record: RecordEvents<()>,
    ) -> Result<Logged<()>, TxError<DeleteProjectError>>;

    /// The project's members and the viewer's role.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_members(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<MembersRead, RepoError>;

    /// Adds the user with the decided role, or changes their role.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn set_member_role(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, SetMemberRoleError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<SetMemberRoleError>>;

    /// Adds the user with the decided role; `decide` sees whether they are already a member.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn add_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, AddMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<AddMemberError>>;

    /// Removes the user from the project once `decide` agrees.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn remove_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, (), RemoveMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<RemoveMemberError>>;

    /// The project's statuses in board order and the viewer's role.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn list_statuses(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<StatusesRead, RepoError>;

    /// Inserts the decided status and writes the decided order.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn create_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, CreateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<CreateStatusError>>;

    /// Renames and/or reorders as decided.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure.
    async fn update_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, UpdateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<UpdateStatusError>>;

    /// Deletes the decided status and writes the remaining order.
    ///
    /// # Errors
    /// [`TxError::Rejected`] with the decision's error; [`TxError::Store`] on failure (a task
    /// inserted concurrently into the status makes the delete fail on its foreign key).
    async fn delete_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, DeleteStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<DeleteStatusError>>;
}
