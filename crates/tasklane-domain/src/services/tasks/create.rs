//! Task creation, single and batch: validation, the decision inside the store's transaction, the
//! aggregation bootstrap when the row is missing, and the post-commit events.

use chrono::{DateTime, Utc};

use super::{CreateTaskError, MAX_BATCH, NewTaskInput, TaskService};
use crate::access::{AccessDenied, Action, authorize};
use crate::aggregation::{AggregationChange, AggregationDelta, DerivationPolicy};
use crate::errors::TxError;
use crate::events::{DomainEvent, EventPayload, RestoredVia};
use crate::ids::{ProjectId, StatusId, TaskId, UserId};
use crate::model::{Project, Task};
use crate::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, Logged, TaskDraft, TasksCreated,
};
use crate::services::bootstrap::{BootstrapSource, CacheFollowUp, ensure_aggregation};
use crate::services::effects::{publish, record_write, status_change_event};
use crate::validation::ValidationErrors;
use crate::values::{
    Priority, StatusCategory, StoryPoints, TaskDescription, TaskTitle, TaskType, check_due_date,
};

/// The result of a committed creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// The new tasks, in number order.
    pub tasks: Vec<Task>,
    /// The project after the change.
    pub project: Project,
    /// The aggregation before and after.
    pub aggregation: AggregationChange,
    /// Whether the project was archived and got restored.
    pub project_restored: bool,
    /// When the aggregation row was missing: where its counts came from.
    pub bootstrap: Option<BootstrapSource>,
}

/// A new task whose fields passed validation; what remains to check needs the database.
#[derive(Debug, Clone)]
struct ValidNewTask {
    id: TaskId,
    title: TaskTitle,
    description: Option<TaskDescription>,
    status_id: Option<StatusId>,
    priority: Priority,
    task_type: TaskType,
    story_points: Option<StoryPoints>,
    due_date: Option<chrono::NaiveDate>,
    assignee_id: Option<UserId>,
    parent_id: Option<TaskId>,
}

fn validate(input: &NewTaskInput) -> Result<ValidNewTask, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let title = errors.check("title", TaskTitle::new(&input.title));
    let description = input
        .description
        .as_deref()
        .and_then(|d| errors.check("description", TaskDescription::new(d)));
    let story_points = input
        .story_points
        .and_then(|p| errors.check("story_points", StoryPoints::new(p)));
    let due_date = input
        .due_date
        .and_then(|d| errors.check("due_date", check_due_date(d)));
    let (Some(title), true) = (title, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(ValidNewTask {
        id: TaskId::generate(),
        title,
        description,
        status_id: input.status_id,
        priority: input.priority.unwrap_or_default(),
        task_type: input.task_type.unwrap_or_default(),
        story_points,
        due_date,
        assignee_id: input.assignee_id,
        parent_id: input.parent_id,
    })
}

/// Decides a creation from what the store read: permission, then every per-task rule that needs
/// the database (status of this project, assignable member, parent in this project).
fn plan(
    context: CreateTasksContext,
    tasks: &[ValidNewTask],
    batch: bool,
    at: DateTime<Utc>,
) -> Result<CreateTasksPlan, CreateTaskError> {
    authorize(context.actor_role, Action::WriteTasks)?;
    let project = context.project.ok_or(AccessDenied::NotFound)?;
    let default_status = context
        .statuses
        .iter()
        .find(|s| s.category == StatusCategory::Todo);
    let mut errors = ValidationErrors::new();
    let mut drafts = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        let field = |name: &str| {
            if batch {
                format!("tasks[{index}].{name}")
            } else {
                name.to_owned()
            }
        };
        let status = match task.status_id {
            Some(id) => context.statuses.iter().find(|s| s.id == id),
            None => default_status,
        };
        let Some(status) = status else {
            errors.add(field("status_id"), "is not a status of this project");
            continue;
        };
        let assignee = match task.assignee_id {
            None => None,
            Some(id) => match context.assignees.iter().find(|m| m.user.id == id) {
                Some(member) if member.role.can_be_assignee() => Some(member.user.clone()),
                Some(_) => {
                    errors.add(field("assignee_id"), "viewers cannot be assigned tasks");
                    continue;
                }
                None => {
                    errors.add(field("assignee_id"), "is not a member of this project");
                    continue;
                }
            },
        };
        if let Some(parent) = task.parent_id
            && !context.parents.contains(&parent)
        {
            errors.add(field("parent_id"), "is not a task of this project");
            continue;
        }
        drafts.push(TaskDraft {
            id: task.id,
            title: task.title.clone(),
            description: task.description.clone(),
            status: status.clone(),
            priority: task.priority,
            task_type: task.task_type,
            story_points: task.story_points,
            due_date: task.due_date,
            assignee,
            reporter: context.reporter.clone(),
            parent_id: task.parent_id,
            completed_at: (status.category == StatusCategory::Done).then_some(at),
        });
    }
    errors.into_result()?;
    Ok(CreateTasksPlan {
        delta: drafts
            .iter()
            .map(|d| AggregationDelta::create(d.status.category))
            .sum(),
        drafts,
        restore_project: project.archived_at.is_some(),
        at,
    })
}

impl TaskService {
    /// Creates one task in `project_id` on behalf of `actor`.
    ///
    /// # Errors
    /// [`CreateTaskError::Access`] for non-members (not found) and viewers (forbidden);
    /// [`CreateTaskError::Invalid`] for broken rules; [`CreateTaskError::Store`] when the store
    /// fails. Broadcast and cache failures never surface here.
    pub async fn create_task(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: NewTaskInput,
    ) -> Result<Creation, CreateTaskError> {
        self.create(actor, project_id, vec![input], false).await
    }

    /// Creates up to [`MAX_BATCH`] tasks, all or nothing, in one transaction; numbers follow
    /// the order of `inputs`. Field errors are reported as `tasks[i].field`.
    ///
    /// # Errors
    /// As [`TaskService::create_task`], and [`CreateTaskError::Invalid`] for an empty or
    /// oversized batch.
    pub async fn create_batch(
        &self,
        actor: UserId,
        project_id: ProjectId,
        inputs: Vec<NewTaskInput>,
    ) -> Result<Creation, CreateTaskError> {
        if inputs.is_empty() || inputs.len() > MAX_BATCH {
            return Err(ValidationErrors::single(
                "tasks",
                format!("must contain 1 to {MAX_BATCH} tasks, got {}", inputs.len()),
            )
            .into());
        }
        self.create(actor, project_id, inputs, true).await
    }

    #[tracing::instrument(skip_all, fields(%actor, %project_id, count = inputs.len()))]
    async fn create(
        &self,
        actor: UserId,
        project_id: ProjectId,
        inputs: Vec<NewTaskInput>,
        batch: bool,
    ) -> Result<Creation, CreateTaskError> {
        {
            let mut errors = ValidationErrors::new();
            let mut tasks = Vec::with_capacity(inputs.len());
            for (index, input) in inputs.iter().enumerate() {
                match validate(input) {
                    Ok(task) => tasks.push(task),
                    Err(found) if batch => errors.absorb(&format!("tasks[{index}]."), found),
                    Err(found) => errors = found,
                }
            }
            errors.into_result()?;

            let request = CreateTasksRequest {
                project_id,
                actor,
                assignee_ids: unique(tasks.iter().filter_map(|t| t.assignee_id)),
                parent_ids: unique(tasks.iter().filter_map(|t| t.parent_id)),
            };
            let at = self.ports.clock.now();
            let policy = self.settings.derivation_policy;
            let mut bootstrap = None;
            let mut follow_up = None;
            loop {
                let drafts = tasks.clone();
                let decide = Box::new(move |context| plan(context, &drafts, batch, at));
                let events = record_write(
                    &self.ports.encoder,
                    move |tasks: &[Task]| created_events(actor, tasks, at),
                    move |created: &TasksCreated| creation_outcome(actor, created, at, policy),
                );
                match self
                    .ports
                    .tasks
                    .create_tasks(request.clone(), decide, events)
                    .await
                {
                    Ok(Logged {
                        value: created,
                        events,
                    }) => {
                        if let Some(follow_up) = follow_up {
                            CacheFollowUp::after_commit(
                                follow_up,
                                &self.ports,
                                self.settings.bootstrap_ttl,
                            );
                        }
                        publish(self.ports.broadcaster.as_ref(), events);
                        return Ok(Creation {
                            tasks: created.tasks,
                            project: created.project,
                            aggregation: created.aggregation,
                            project_restored: created.project_restored,
                            bootstrap,
                        });
                    }
                    // The transaction rolled back; create the row, then run the creation again.
                    Err(TxError::AggregationMissing) if bootstrap.is_none() => {
                        let (source, cache) = ensure_aggregation(&self.ports, project_id).await?;
                        bootstrap = Some(source);
                        follow_up = Some(cache);
                    }
                    Err(error) => return Err(error.into_operation_error()),
                }
            }
        }
    }
}

/// The `task_created` events of a creation, in number order.
fn created_events(actor: UserId, tasks: &[Task], at: DateTime<Utc>) -> Vec<DomainEvent> {
    tasks
        .iter()
        .map(|task| DomainEvent {
            project_id: task.project_id,
            actor_id: actor,
            at,
            payload: EventPayload::TaskCreated {
                task: Box::new(task.clone()),
            },
        })
        .collect()
}

/// The events that follow from a creation, after its tasks': the project's restoration, the
/// derived status's change.
fn creation_outcome(
    actor: UserId,
    created: &TasksCreated,
    at: DateTime<Utc>,
    policy: DerivationPolicy,
) -> Vec<DomainEvent> {
    let project = &created.project;
    let mut events = Vec::with_capacity(2);
    if created.project_restored {
        events.push(DomainEvent {
            project_id: project.id,
            actor_id: actor,
            at,
            payload: EventPayload::ProjectRestored {
                project: Box::new(project.clone()),
                restored_via: RestoredVia::TaskCreated,
            },
        });
    }
    events.extend(status_change_event(
        project.id,
        &created.aggregation,
        policy,
        actor,
        at,
    ));
    events
}

/// The distinct items, in first-seen order.
fn unique<T: Copy + Eq + std::hash::Hash>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}
