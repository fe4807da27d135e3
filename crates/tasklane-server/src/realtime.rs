//! The server's side of the realtime layer: event frames in the HTTP API's JSON (the DTOs live
//! here), and the directory the WebSocket endpoint asks about tickets and memberships.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use tasklane_cache::Caches;
use tasklane_domain::aggregation::DerivationPolicy;
use tasklane_domain::errors::{Classify, ErrorClass};
use tasklane_domain::events::{DomainEvent, EventPayload, SYSTEM_ACTOR, TaskField};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::model::Project;
use tasklane_domain::ports::{EventEncoder, EventLogRepository, EventQuery, EventScope};
use tasklane_domain::services::Services;
use tasklane_domain::services::projects::ProjectListInput;
use tasklane_domain::values::Role;
use tasklane_realtime::{Directory, LogPage};

use crate::dto::{
    AggregationDto, CommentDto, DerivedStatusDto, LabelDto, ProjectDto, RoleDto, StatusDto, TaskDto,
};
use crate::limits::TicketLedger;

/// Encodes the `data` of every event, with the HTTP API's JSON: once per event, for the event
/// log and the live frame alike.
#[derive(Debug, Clone, Copy)]
pub struct ApiEncoder {
    policy: DerivationPolicy,
}

impl ApiEncoder {
    /// The encoder for a server deriving project statuses with `policy`.
    pub fn new(policy: DerivationPolicy) -> Self {
        Self { policy }
    }
}

impl EventEncoder for ApiEncoder {
    fn encode(&self, event: &DomainEvent) -> String {
        event_data(event, self.policy).to_string()
    }
}

fn event_data(event: &DomainEvent, policy: DerivationPolicy) -> Value {
    let task = |task: &tasklane_domain::model::Task| json!(TaskDto::from(task));
    let fields = match &event.payload {
        EventPayload::TaskCreated { task: t }
        | EventPayload::TaskArchived { task: t }
        | EventPayload::TaskUnarchived { task: t } => json!({"task": task(t)}),
        EventPayload::TaskUpdated {
            task: t,
            previous,
            changed,
        } => {
            // The history shows each change from → to: the changed fields as they were. The
            // task JSON holds the status and the assignee as objects; their ids are the fields.
            let before = task(previous);
            let previous: serde_json::Map<String, Value> = changed
                .iter()
                .map(|field| {
                    let name = field.as_str();
                    let value = match *field {
                        TaskField::Status => before["status"]["id"].clone(),
                        TaskField::Assignee => before["assignee"]["id"].clone(),
                        _ => before.get(name).cloned().unwrap_or(Value::Null),
                    };
                    (name.to_owned(), value)
                })
                .collect();
            json!({
                "task": task(t),
                "changed": changed.iter().map(|field| field.as_str()).collect::<Vec<_>>(),
                "previous": previous,
            })
        }
        EventPayload::TaskMoved {
            task: t,
            from_status_id,
            to_status_id,
        } => json!({
            "task": task(t),
            "from_status_id": from_status_id.to_string(),
            "to_status_id": to_status_id.to_string(),
        }),
        EventPayload::TaskDeleted { task_id, key } => {
            json!({"task_id": task_id.to_string(), "key": key.to_string()})
        }
        EventPayload::ProjectStatusChanged {
            old_status,
            new_status,
            aggregation,
        } => json!({
            "old_status": DerivedStatusDto::from(*old_status),
            "new_status": DerivedStatusDto::from(*new_status),
            "aggregation": AggregationDto::new(aggregation, *new_status),
        }),
        EventPayload::ProjectRestored {
            project,
            restored_via,
        } => json!({
            "project": project_json(project, policy),
            "restored_via": restored_via.as_str(),
        }),
        EventPayload::ProjectCreated { project }
        | EventPayload::ProjectUpdated { project }
        | EventPayload::ProjectArchived { project } => {
            json!({"project": project_json(project, policy)})
        }
        EventPayload::ProjectDeleted => json!({}),
        EventPayload::StatusCreated { status, statuses }
        | EventPayload::StatusUpdated { status, statuses } => json!({
            "status": StatusDto::from(status),
            "statuses": statuses.iter().map(StatusDto::from).collect::<Vec<_>>(),
        }),
        EventPayload::StatusDeleted {
            status_id,
            statuses,
        } => json!({
            "status_id": status_id.to_string(),
            "statuses": statuses.iter().map(StatusDto::from).collect::<Vec<_>>(),
        }),
        EventPayload::MemberAdded { user_id, role }
        | EventPayload::MemberRemoved { user_id, role } => {
            json!({"user_id": user_id.to_string(), "role": RoleDto::from(*role)})
        }
        EventPayload::LabelCreated { label } | EventPayload::LabelUpdated { label } => {
            json!({"label": LabelDto::from(label)})
        }
        EventPayload::LabelDeleted { label_id } => json!({"label_id": label_id.to_string()}),
        EventPayload::CommentAdded {
            comment,
            comment_count,
        } => json!({
            "task_id": comment.task_id.to_string(),
            "comment": CommentDto::from(comment.as_ref()),
            "comment_count": comment_count,
        }),
        EventPayload::CommentEdited { comment } => json!({
            "task_id": comment.task_id.to_string(),
            "comment": CommentDto::from(comment.as_ref()),
        }),
        EventPayload::CommentDeleted {
            comment_id,
            task_id,
            comment_count,
        } => json!({
            "task_id": task_id.to_string(),
            "comment_id": comment_id.to_string(),
            "comment_count": comment_count,
        }),
    };
    let mut data = json!({
        "project_id": event.project_id.to_string(),
        "actor_id": event.actor_id.to_string(),
        "at": event.at,
    });
    if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
        data.extend(fields);
    }
    data
}

/// The project as in the HTTP API, without `my_role`: the frame goes to every member alike.
fn project_json(project: &Project, policy: DerivationPolicy) -> Value {
    let derived = policy.derive(&project.aggregation.counts);
    let mut value = json!(ProjectDto::new(project, Role::Viewer, derived));
    if let Some(object) = value.as_object_mut() {
        object.remove("my_role");
    }
    value
}

/// Tickets from the caches, memberships from the services (the same checks as the HTTP API),
/// the event log from the store (the hub reads it for sockets a join authorised).
#[derive(Clone)]
pub struct ServicesDirectory {
    services: Services,
    caches: Caches,
    tickets: Arc<TicketLedger>,
    log: Arc<dyn EventLogRepository>,
}

impl std::fmt::Debug for ServicesDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicesDirectory").finish_non_exhaustive()
    }
}

impl ServicesDirectory {
    /// A directory over `services`, the ticket store in `caches` and the event `log`; redeemed
    /// tickets are given back to `tickets`.
    pub fn new(
        services: Services,
        caches: Caches,
        tickets: Arc<TicketLedger>,
        log: Arc<dyn EventLogRepository>,
    ) -> Self {
        Self {
            services,
            caches,
            tickets,
            log,
        }
    }
}

/// Not a member (or no such thing) is an answer; anything else is a failure to answer.
fn visible<T>(result: Result<T, impl Classify + std::fmt::Display>) -> anyhow::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) => match error.class() {
            ErrorClass::NotFound | ErrorClass::Forbidden => Ok(None),
            _ => Err(anyhow::anyhow!("{error}")),
        },
    }
}

#[async_trait]
impl Directory for ServicesDirectory {
    async fn redeem_ticket(&self, ticket: &str) -> anyhow::Result<Option<UserId>> {
        let user: Option<UserId> = self
            .caches
            .take_ticket(ticket)
            .await?
            .and_then(|id| id.parse().ok());
        if let Some(user) = user {
            self.tickets.redeemed(user);
        }
        Ok(user)
    }

    async fn is_member(&self, user: UserId, project: ProjectId) -> anyhow::Result<bool> {
        let read = self.services.projects.get_project(user, project).await;
        Ok(visible(read)?.is_some())
    }

    async fn visible_task_project(
        &self,
        user: UserId,
        task: TaskId,
    ) -> anyhow::Result<Option<ProjectId>> {
        let read = self.services.tasks.get_task(user, task).await;
        Ok(visible(read)?.map(|task| task.project_id))
    }

    async fn projects_of(&self, user: UserId) -> anyhow::Result<Vec<ProjectId>> {
        let mut projects = Vec::new();
        let mut cursor = None;
        loop {
            let input = ProjectListInput {
                limit: Some(200),
                cursor,
                search: None,
                include_archived: true,
                derived_status: None,
            };
            let page = self
                .services
                .projects
                .list_projects(user, input)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            projects.extend(page.items.iter().map(|view| view.project.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(projects),
            }
        }
    }

    async fn events(&self, project: ProjectId, after: u64, limit: u32) -> anyhow::Result<LogPage> {
        // The reader's role is not asked for: the join that led here checked it.
        let query = EventQuery {
            scope: EventScope::Project(project),
            viewer: SYSTEM_ACTOR,
            after,
            limit,
        };
        let read = self.log.read_events(query).await?;
        Ok(LogPage {
            head: read.head,
            oldest: read.oldest,
            items: read.items,
        })
    }

    async fn heads(&self, projects: Vec<ProjectId>) -> anyhow::Result<Vec<(ProjectId, u64)>> {
        Ok(self.log.heads(projects).await?)
    }
}
