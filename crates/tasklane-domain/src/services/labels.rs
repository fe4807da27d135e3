//! The label service: members read a project's labels; owners and editors create, rename,
//! recolour and delete them. Names are unique per project ignoring case; a project has at most
//! [`MAX_LABELS`]. Each write logs `label_created`, `label_updated` or `label_deleted`.

use std::sync::Arc;

use crate::access::{AccessDenied, Action, authorize};
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{LabelId, ProjectId, UserId};
use crate::model::Label;
use crate::ports::{LabelContext, ProjectLabel};
use crate::services::Ports;
use crate::services::effects::{publish, record};
use crate::validation::ValidationErrors;
use crate::values::{LabelColor, LabelName};

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{CreateLabelError, DeleteLabelError, UpdateLabelError};

/// The most labels a project may have.
pub const MAX_LABELS: usize = 100;

/// The most labels a task may carry.
pub const MAX_TASK_LABELS: usize = 20;

/// A label to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLabelInput {
    /// 1..=50 characters, unique in the project ignoring case.
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

/// A rename and/or recolouring: at least one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelUpdateInput {
    /// A new name.
    pub name: Option<String>,
    /// A new colour.
    pub color: Option<String>,
}

/// Why listing labels failed.
#[derive(Debug, thiserror::Error)]
pub enum ListLabelsError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ListLabelsError {
    fn class(&self) -> ErrorClass {
        match self {
            ListLabelsError::Access(denied) => denied.class(),
            ListLabelsError::Store(error) => error.class(),
        }
    }
}

/// The refusal of a name another label of the project has.
pub fn name_taken(name: &LabelName) -> ValidationErrors {
    ValidationErrors::single(
        "name",
        format!("a label named {name} already exists in this project"),
    )
}

fn taken(labels: &[Label], name: &LabelName, except: Option<LabelId>) -> bool {
    labels
        .iter()
        .any(|l| Some(l.id) != except && l.name.same_as(name))
}

/// The project's context if the caller may manage its labels and it is not archived.
fn manageable<E: From<AccessDenied>>(context: &LabelContext, archived: E) -> Result<ProjectId, E> {
    authorize(context.actor_role, Action::ManageLabels)?;
    let project = context.project_id.ok_or(AccessDenied::NotFound)?;
    if context.project_archived {
        return Err(archived);
    }
    Ok(project)
}

fn decide_create(context: LabelContext, label: Label) -> Result<Label, CreateLabelError> {
    manageable(&context, CreateLabelError::ProjectArchived)?;
    if taken(&context.labels, &label.name, None) {
        return Err(name_taken(&label.name).into());
    }
    if context.labels.len() >= MAX_LABELS {
        let message = format!("a project can have at most {MAX_LABELS} labels");
        return Err(ValidationErrors::single("body", message).into());
    }
    Ok(label)
}

fn decide_update(
    context: LabelContext,
    name: Option<LabelName>,
    color: Option<LabelColor>,
) -> Result<Label, UpdateLabelError> {
    manageable(&context, UpdateLabelError::ProjectArchived)?;
    let before = context.target.clone().ok_or(AccessDenied::NotFound)?;
    if let Some(name) = &name
        && taken(&context.labels, name, Some(before.id))
    {
        return Err(name_taken(name).into());
    }
    Ok(Label {
        id: before.id,
        name: name.unwrap_or(before.name),
        color: color.unwrap_or(before.color),
    })
}

fn event(
    written: &ProjectLabel,
    actor: UserId,
    at: chrono::DateTime<chrono::Utc>,
    payload: EventPayload,
) -> DomainEvent {
    DomainEvent {
        project_id: written.project_id,
        actor_id: actor,
        at,
        payload,
    }
}

/// Labels.
#[derive(Debug, Clone)]
pub struct LabelService {
    ports: Arc<Ports>,
}

impl LabelService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// The project's labels, by name (any member).
    ///
    /// # Errors
    /// [`ListLabelsError`]: not found for unknown projects and non-members.
    #[tracing::instrument(skip_all, fields(%viewer, %project_id))]
    pub async fn list(
        &self,
        viewer: UserId,
        project_id: ProjectId,
    ) -> Result<Vec<Label>, ListLabelsError> {
        let read = self.ports.labels.list_labels(project_id, viewer).await?;
        authorize(read.viewer_role, Action::Read)?;
        Ok(read.labels)
    }

    /// Creates a label (owners, editors).
    ///
    /// # Errors
    /// [`CreateLabelError`]: not found, forbidden, invalid (name, colour, a name taken, too
    /// many labels), archived.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn create(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: NewLabelInput,
    ) -> Result<Label, CreateLabelError> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", LabelName::new(&input.name));
        let color = errors.check("color", LabelColor::new(&input.color));
        let (Some(name), Some(color)) = (name, color) else {
            return Err(errors.into());
        };
        let label = Label {
            id: LabelId::generate(),
            name,
            color,
        };
        let at = self.ports.clock.now();
        let decide = Box::new(move |context| decide_create(context, label.clone()));
        let events = record(&self.ports.encoder, move |written: &ProjectLabel| {
            let payload = EventPayload::LabelCreated {
                label: written.label.clone(),
            };
            vec![event(written, actor, at, payload)]
        });
        let logged = self
            .ports
            .labels
            .create_label(project_id, actor, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(logged.value.label)
    }

    /// Renames and/or recolours a label (owners, editors).
    ///
    /// # Errors
    /// [`UpdateLabelError`]: not found, forbidden, invalid (no field, a bad name or colour, a
    /// name taken), archived.
    #[tracing::instrument(skip_all, fields(%actor, %label_id))]
    pub async fn update(
        &self,
        actor: UserId,
        label_id: LabelId,
        input: LabelUpdateInput,
    ) -> Result<Label, UpdateLabelError> {
        let mut errors = ValidationErrors::new();
        if input == LabelUpdateInput::default() {
            errors.add("body", "give name or color");
        }
        let name = input
            .name
            .as_deref()
            .and_then(|n| errors.check("name", LabelName::new(n)));
        let color = input
            .color
            .as_deref()
            .and_then(|c| errors.check("color", LabelColor::new(c)));
        errors.into_result()?;
        let at = self.ports.clock.now();
        let decide = Box::new(move |context| decide_update(context, name.clone(), color.clone()));
        let events = record(&self.ports.encoder, move |written: &ProjectLabel| {
            let payload = EventPayload::LabelUpdated {
                label: written.label.clone(),
            };
            vec![event(written, actor, at, payload)]
        });
        let logged = self
            .ports
            .labels
            .update_label(label_id, actor, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(logged.value.label)
    }

    /// Deletes a label and takes it off every task (owners, editors).
    ///
    /// # Errors
    /// [`DeleteLabelError`]: not found, forbidden, archived.
    #[tracing::instrument(skip_all, fields(%actor, %label_id))]
    pub async fn delete(&self, actor: UserId, label_id: LabelId) -> Result<(), DeleteLabelError> {
        let at = self.ports.clock.now();
        let decide = Box::new(|context: LabelContext| {
            manageable(&context, DeleteLabelError::ProjectArchived)?;
            context
                .target
                .map(drop)
                .ok_or(AccessDenied::NotFound.into())
        });
        let events = record(&self.ports.encoder, move |written: &ProjectLabel| {
            let payload = EventPayload::LabelDeleted {
                label_id: written.label.id,
            };
            vec![event(written, actor, at, payload)]
        });
        let logged = self
            .ports
            .labels
            .delete_label(label_id, actor, decide, events)
            .await
            .map_err(|e| e.into_operation_error())?;
        publish(self.ports.broadcaster.as_ref(), logged.events);
        Ok(())
    }
}
