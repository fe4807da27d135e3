//! The status service: list, create, rename, reorder, delete. Names are unique per project
//! (case-insensitive); a used status cannot be deleted; a project keeps a `todo` and a `done`.

use std::sync::Arc;

use crate::access::{AccessDenied, Action, authorize};
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{ProjectId, StatusId, UserId};
use crate::model::{Project, Status};
use crate::ports::{
    RecordEvents, StatusChangeRequest, StatusContext, StatusPlan, StatusTarget, StatusesChanged,
};
use crate::services::Ports;
use crate::services::effects::{publish, record};
use crate::validation::ValidationErrors;
use crate::values::{StatusCategory, StatusName};

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{CreateStatusError, DeleteStatusError, UpdateStatusError};

/// The most statuses a project may have.
pub const MAX_STATUSES: usize = 50;

/// A status to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatusInput {
    /// 1..=50 characters, unique in the project (case-insensitive).
    pub name: String,
    /// Its category.
    pub category: StatusCategory,
    /// 0-based board position (default: last).
    pub position: Option<u32>,
}

/// A rename and/or reorder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusUpdateInput {
    /// New name.
    pub name: Option<String>,
    /// New 0-based position.
    pub position: Option<u32>,
}

/// Statuses.
#[derive(Debug, Clone)]
pub struct StatusService {
    ports: Arc<Ports>,
}

/// The project and whether it is archived, if the caller may manage its statuses.
fn manageable(context: &StatusContext) -> Result<&Project, AccessDenied> {
    authorize(context.actor_role, Action::ManageStatuses)?;
    context.project.as_ref().ok_or(AccessDenied::NotFound)
}

fn ids(statuses: &[Status]) -> Vec<StatusId> {
    statuses.iter().map(|s| s.id).collect()
}

fn name_taken(statuses: &[Status], name: &StatusName, except: Option<StatusId>) -> bool {
    statuses
        .iter()
        .any(|s| Some(s.id) != except && s.name.same_as(name))
}

fn position_error(position: u32, last: usize) -> ValidationErrors {
    ValidationErrors::single(
        "position",
        format!("must be between 0 and {last}, got {position}"),
    )
}

fn decide_create(
    context: StatusContext,
    new: Status,
    position: Option<u32>,
) -> Result<StatusPlan, CreateStatusError> {
    let project = manageable(&context)?;
    if project.is_archived() {
        return Err(CreateStatusError::ProjectArchived);
    }
    if name_taken(&context.statuses, &new.name, None) {
        return Err(CreateStatusError::NameTaken(new.name));
    }
    let count = context.statuses.len();
    if count >= MAX_STATUSES {
        return Err(ValidationErrors::single(
            "body",
            format!("a project can have at most {MAX_STATUSES} statuses"),
        )
        .into());
    }
    let index = match position {
        None => count,
        Some(p) if (p as usize) <= count => p as usize,
        Some(p) => return Err(position_error(p, count).into()),
    };
    let status = Status {
        project_id: project.id,
        position: index as u32,
        ..new
    };
    let mut order = ids(&context.statuses);
    order.insert(index, status.id);
    Ok(StatusPlan {
        create: Some(status),
        rename: None,
        delete: None,
        order,
    })
}

fn decide_update(
    context: StatusContext,
    status_id: StatusId,
    name: Option<StatusName>,
    position: Option<u32>,
) -> Result<StatusPlan, UpdateStatusError> {
    let project = manageable(&context)?;
    if !context.statuses.iter().any(|s| s.id == status_id) {
        return Err(AccessDenied::NotFound.into());
    }
    if project.is_archived() {
        return Err(UpdateStatusError::ProjectArchived);
    }
    if let Some(name) = &name
        && name_taken(&context.statuses, name, Some(status_id))
    {
        return Err(UpdateStatusError::NameTaken(name.clone()));
    }
    let mut order = ids(&context.statuses);
    if let Some(p) = position {
        let last = order.len() - 1;
        if p as usize > last {
            return Err(position_error(p, last).into());
        }
        order.retain(|id| *id != status_id);
        order.insert(p as usize, status_id);
    }
    Ok(StatusPlan {
        create: None,
        rename: name.map(|n| (status_id, n)),
        delete: None,
        order,
    })
}

fn decide_delete(
    context: StatusContext,
    status_id: StatusId,
) -> Result<StatusPlan, DeleteStatusError> {
    let project = manageable(&context)?;
    let status = context
        .statuses
        .iter()
        .find(|s| s.id == status_id)
        .ok_or(AccessDenied::NotFound)?;
    if project.is_archived() {
        return Err(DeleteStatusError::ProjectArchived);
    }
    if context.target_in_use {
        return Err(DeleteStatusError::InUse);
    }
    let kept = matches!(status.category, StatusCategory::Todo | StatusCategory::Done);
    let same_category = context
        .statuses
        .iter()
        .filter(|s| s.category == status.category)
        .count();
    if kept && same_category <= 1 {
        return Err(DeleteStatusError::LastOfCategory(status.category));
    }
    let order = context
        .statuses
        .iter()
        .map(|s| s.id)
        .filter(|id| *id != status_id)
        .collect();
    Ok(StatusPlan {
        create: None,
        rename: None,
        delete: Some(status_id),
        order,
    })
}

impl StatusService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// The project's statuses in board order, if `actor` is a member.
    ///
    /// # Errors
    /// [`crate::services::projects::GetProjectError`] (not found) for non-members.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn list_statuses(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<Vec<Status>, crate::services::projects::GetProjectError> {
        let read = self.ports.projects.list_statuses(project_id, actor).await?;
        authorize(read.viewer_role, Action::Read)?;
        Ok(read.statuses)
    }

    /// Adds a status (owners); returns it.
    ///
    /// # Errors
    /// [`CreateStatusError`]: not found, forbidden, invalid, archived, name taken.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn create_status(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: NewStatusInput,
    ) -> Result<Status, CreateStatusError> {
        let name = StatusName::new(&input.name).map_err(|e| ValidationErrors::single("name", e))?;
        let new = Status {
            id: StatusId::generate(),
            project_id,
            name,
            category: input.category,
            position: 0,
        };
        let (id, position) = (new.id, input.position);
        let request = StatusChangeRequest {
            target: StatusTarget::Project(project_id),
            actor,
        };
        let decide = Box::new(move |c| decide_create(c, new.clone(), position));
        let events = self.status_events(actor, move |changed: &StatusesChanged| {
            find(changed, id).map(|status| EventPayload::StatusCreated {
                status,
                statuses: changed.statuses.clone(),
            })
        });
        let changed = self
            .ports
            .projects
            .create_status(request, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), changed.events);
        find(&changed.value, id).ok_or_else(|| {
            crate::errors::RepoError::other("status missing after its creation").into()
        })
    }

    /// Renames and/or moves a status (owners); returns it.
    ///
    /// # Errors
    /// [`UpdateStatusError`]: not found, forbidden, invalid, archived, name taken.
    #[tracing::instrument(skip_all, fields(%actor, %status_id))]
    pub async fn update_status(
        &self,
        actor: UserId,
        status_id: StatusId,
        input: StatusUpdateInput,
    ) -> Result<Status, UpdateStatusError> {
        let mut errors = ValidationErrors::new();
        let name = input
            .name
            .as_deref()
            .and_then(|n| errors.check("name", StatusName::new(n)));
        if input == StatusUpdateInput::default() {
            errors.add("body", "give name or position");
        }
        errors.into_result()?;
        let position = input.position;
        let request = StatusChangeRequest {
            target: StatusTarget::Status(status_id),
            actor,
        };
        let decide = Box::new(move |c| decide_update(c, status_id, name.clone(), position));
        let events = self.status_events(actor, move |changed: &StatusesChanged| {
            find(changed, status_id).map(|status| EventPayload::StatusUpdated {
                status,
                statuses: changed.statuses.clone(),
            })
        });
        let changed = self
            .ports
            .projects
            .update_status(request, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), changed.events);
        find(&changed.value, status_id).ok_or_else(|| {
            crate::errors::RepoError::other("status missing after its update").into()
        })
    }

    /// Deletes an unused status (owners).
    ///
    /// # Errors
    /// [`DeleteStatusError`]: not found, forbidden, archived, in use, last todo/done status.
    #[tracing::instrument(skip_all, fields(%actor, %status_id))]
    pub async fn delete_status(
        &self,
        actor: UserId,
        status_id: StatusId,
    ) -> Result<(), DeleteStatusError> {
        let request = StatusChangeRequest {
            target: StatusTarget::Status(status_id),
            actor,
        };
        let decide = Box::new(move |c| decide_delete(c, status_id));
        let events = self.status_events(actor, move |changed: &StatusesChanged| {
            Some(EventPayload::StatusDeleted {
                status_id,
                statuses: changed.statuses.clone(),
            })
        });
        let changed = self
            .ports
            .projects
            .delete_status(request, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), changed.events);
        Ok(())
    }

    /// The events of a status change: the one `payload` makes of what was written.
    fn status_events(
        &self,
        actor: UserId,
        payload: impl Fn(&StatusesChanged) -> Option<EventPayload> + Send + Sync + 'static,
    ) -> RecordEvents<StatusesChanged> {
        let at = self.ports.clock.now();
        record(&self.ports.encoder, move |changed: &StatusesChanged| {
            payload(changed)
                .map(|payload| DomainEvent {
                    project_id: changed.project_id,
                    actor_id: actor,
                    at,
                    payload,
                })
                .into_iter()
                .collect()
        })
    }
}

/// The status `id` among those written.
fn find(changed: &StatusesChanged, id: StatusId) -> Option<Status> {
    changed.statuses.iter().find(|s| s.id == id).cloned()
}
