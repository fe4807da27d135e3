//! The project service: create (with owner, default statuses and aggregation row), read and list
//! here; update, archive, restore and delete in `change.rs`; the aggregation read and the
//! recount in `counts.rs`.

mod change;
mod counts;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::access::{AccessDenied, Action, authorize};
use crate::aggregation::{Aggregation, AggregationChange, Counts, DerivedStatus};
use crate::cursor::ProjectCursor;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::events::{DomainEvent, EventPayload, RestoredVia};
use crate::ids::{ProjectId, StatusId, UserId};
use crate::model::{DEFAULT_STATUSES, Page, Project, ProjectRead};
use crate::ports::{
    AggregationRepair, CreateProjectStoreError, Logged, NewProject, NewStatus,
    ProjectChangeRequest, ProjectContext, ProjectPatch, ProjectQuery,
};
use crate::services::effects::{publish, record, status_change_event};
use crate::services::{DomainSettings, Ports, page_limit, search_text};
use crate::validation::ValidationErrors;
use crate::values::{ProjectDescription, ProjectKey, ProjectName, Role, StatusName};

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{ArchiveProjectError, DeleteProjectError, UpdateProjectError};

/// A project as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    /// The project.
    pub project: Project,
    /// Its derived status under the configured policy.
    pub derived_status: DerivedStatus,
    /// The reader's role.
    pub my_role: Role,
}

/// A project's aggregation with its derived status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationView {
    /// The counters.
    pub aggregation: Aggregation,
    /// The derived status.
    pub derived_status: DerivedStatus,
}

/// The result of a recount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recount {
    /// The counters before (`None` when the row was missing).
    pub before: Option<Counts>,
    /// The repaired row.
    pub after: AggregationView,
    /// Whether the stored counters differed from the recount.
    pub drift: bool,
}

/// A project to create, as the client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewProjectInput {
    /// `^[A-Z][A-Z0-9]{1,9}$` after upper-casing.
    pub key: String,
    /// 1..=255 characters after trimming.
    pub name: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
}

/// A partial update of a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectUpdateInput {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// How to list projects, as the client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectListInput {
    /// Page size (default 50, 1..=200).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Substring of the name or key.
    pub search: Option<String>,
    /// Include archived projects.
    pub include_archived: bool,
    /// Only projects of this derived status.
    pub derived_status: Option<DerivedStatus>,
}

/// The default page size of project listings.
pub const DEFAULT_PROJECT_PAGE: u32 = 50;

/// Why creating a project failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateProjectError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The key is taken (case-insensitively).
    #[error("the project key {0} is taken")]
    KeyTaken(ProjectKey),
    /// The token's user no longer exists.
    #[error("the account of this token no longer exists; sign in again")]
    UnknownActor,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for CreateProjectError {
    fn class(&self) -> ErrorClass {
        match self {
            CreateProjectError::Access(denied) => denied.class(),
            CreateProjectError::Invalid(_) => ErrorClass::Invalid,
            CreateProjectError::KeyTaken(..) => ErrorClass::KeyTaken,
            CreateProjectError::UnknownActor => ErrorClass::Unauthenticated,
            CreateProjectError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            CreateProjectError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why reading a project (or its aggregation, members or statuses) failed.
#[derive(Debug, thiserror::Error)]
pub enum GetProjectError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for GetProjectError {
    fn class(&self) -> ErrorClass {
        match self {
            GetProjectError::Access(denied) => denied.class(),
            GetProjectError::Store(error) => error.class(),
        }
    }
}

/// Why listing projects failed.
#[derive(Debug, thiserror::Error)]
pub enum ListProjectsError {
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

impl Classify for ListProjectsError {
    fn class(&self) -> ErrorClass {
        match self {
            ListProjectsError::Access(denied) => denied.class(),
            ListProjectsError::Invalid(_) => ErrorClass::Invalid,
            ListProjectsError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            ListProjectsError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why recounting a project's aggregation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecountError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for RecountError {
    fn class(&self) -> ErrorClass {
        match self {
            RecountError::Access(denied) => denied.class(),
            RecountError::Store(error) => error.class(),
        }
    }
}

/// Projects.
#[derive(Debug, Clone)]
pub struct ProjectService {
    ports: Arc<Ports>,
    settings: DomainSettings,
}

fn validate_new(
    input: &NewProjectInput,
) -> Result<(ProjectKey, ProjectName, ProjectDescription), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let key = errors.check("key", ProjectKey::new(&input.key));
    let name = errors.check("name", ProjectName::new(&input.name));
    let description = errors.check(
        "description",
        ProjectDescription::new(input.description.as_deref().unwrap_or("")),
    );
    match (key, name, description) {
        (Some(key), Some(name), Some(description)) => Ok((key, name, description)),
        _ => Err(errors),
    }
}

/// The five default statuses of a new project.
fn default_statuses() -> Vec<NewStatus> {
    DEFAULT_STATUSES
        .iter()
        .zip(0..)
        .map(|((name, category), position)| NewStatus {
            id: StatusId::generate(),
            name: StatusName::from_trusted(name),
            category: *category,
            position,
        })
        .collect()
}

/// The project, if the caller may perform `action` on it.
fn allowed(context: ProjectContext, action: Action) -> Result<Project, AccessDenied> {
    authorize(context.actor_role, action)?;
    context.project.ok_or(AccessDenied::NotFound)
}

impl ProjectService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>, settings: DomainSettings) -> Self {
        Self { ports, settings }
    }

    fn view(&self, project: Project, my_role: Role) -> ProjectView {
        ProjectView {
            derived_status: project.derived_status(self.settings.derivation_policy),
            project,
            my_role,
        }
    }

    /// Creates a project owned by `actor`, with the five default statuses and a zero
    /// aggregation row, in one transaction.
    ///
    /// # Errors
    /// [`CreateProjectError::Invalid`] for a bad key, name or description;
    /// [`CreateProjectError::KeyTaken`]; [`CreateProjectError::Store`].
    #[tracing::instrument(skip_all, fields(%actor, key = %input.key))]
    pub async fn create_project(
        &self,
        actor: UserId,
        input: NewProjectInput,
    ) -> Result<ProjectView, CreateProjectError> {
        let (key, name, description) = validate_new(&input)?;
        let (id, at) = (ProjectId::generate(), self.ports.clock.now());
        let new = NewProject {
            id,
            key: key.clone(),
            name,
            description,
            owner: actor,
            statuses: default_statuses(),
            created_at: at,
        };
        let events = record(&self.ports.encoder, move |project: &Project| {
            let project = Box::new(project.clone());
            vec![event(
                id,
                actor,
                at,
                EventPayload::ProjectCreated { project },
            )]
        });
        match self.ports.projects.create_project(new, events).await {
            Ok(logged) => {
                publish(self.ports.broadcaster.as_ref(), logged.events);
                Ok(self.view(logged.value, Role::Owner))
            }
            Err(CreateProjectStoreError::KeyTaken) => Err(CreateProjectError::KeyTaken(key)),
            Err(CreateProjectStoreError::UnknownOwner) => Err(CreateProjectError::UnknownActor),
            Err(CreateProjectStoreError::Store(error)) => Err(error.into()),
        }
    }

    /// The project, if `actor` is a member.
    ///
    /// # Errors
    /// [`GetProjectError::Access`] (not found) for unknown projects and non-members.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn get_project(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<ProjectView, GetProjectError> {
        let read = self.ports.projects.get_project(project_id, actor).await?;
        let read = read.ok_or(AccessDenied::NotFound)?;
        let role = authorize(read.role, Action::Read)?;
        Ok(self.view(read.project, role))
    }

    /// `actor`'s projects, newest activity first.
    ///
    /// # Errors
    /// [`ListProjectsError::Invalid`] for a limit outside 1..=200, a bad cursor or an over-long
    /// search.
    #[tracing::instrument(skip_all, fields(%actor))]
    pub async fn list_projects(
        &self,
        actor: UserId,
        input: ProjectListInput,
    ) -> Result<Page<ProjectView>, ListProjectsError> {
        let mut errors = ValidationErrors::new();
        let limit = page_limit(&mut errors, input.limit, DEFAULT_PROJECT_PAGE);
        let cursor = input
            .cursor
            .as_deref()
            .and_then(|c| errors.check("cursor", ProjectCursor::decode(c)));
        let search = search_text(&mut errors, input.search.as_deref());
        errors.into_result()?;
        let query = ProjectQuery {
            limit,
            cursor,
            search,
            include_archived: input.include_archived,
            derived_status: input.derived_status,
            policy: self.settings.derivation_policy,
        };
        let page = self.ports.projects.list_projects(actor, query).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|read| Some(self.view(read.project, read.role?)))
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
}

/// An event of `project_id` caused by `actor` at `at`.
fn event(
    project_id: ProjectId,
    actor: UserId,
    at: DateTime<Utc>,
    payload: EventPayload,
) -> DomainEvent {
    DomainEvent {
        project_id,
        actor_id: actor,
        at,
        payload,
    }
}
