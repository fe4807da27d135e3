//! Changes to existing tasks: update, move, archive, unarchive, delete, and the auto-archive job.
//! Each decision runs inside the store's transaction on the task as it is now (row locked).
//!
//! Over 600 lines because it holds every change to one task in one place;
//! splitting it by responsibility is left to the open restructuring issue (14), which names
//! this file.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{
    ArchiveTaskError, ChangeRefusal, DeleteTaskError, MoveInput, MoveTaskError, TaskService,
    TaskUpdateInput, UpdateTaskError,
};
use crate::access::{AccessDenied, Action, authorize};
use crate::aggregation::{AggregationDelta, DerivationPolicy};
use crate::errors::{RepoError, TxError};
use crate::events::{DomainEvent, EventPayload, RestoredVia, SYSTEM_ACTOR, TaskField};
use crate::ids::{ProjectId, TaskId, UserId};
use crate::model::{StatusRef, Task};
use crate::ports::{
    ArchivedByJob, ChangeEvents, EventEncoder, Logged, TaskChangeRequest, TaskContext,
    TaskDeletePlan, TaskDeleted, TaskLookup, TaskPatch, TaskRepository, TaskRevision,
    TaskUpdatePlan, TaskUpdated,
};
use crate::rank::{self, Placement};
use crate::services::bootstrap::{CacheFollowUp, ensure_aggregation};
use crate::services::effects::{publish, record, record_write, status_change_event};
use crate::validation::ValidationErrors;
use crate::values::{StatusCategory, StoryPoints, TaskDescription, TaskTitle, check_due_date};

/// How many tasks the auto-archive job archives per transaction.
const ARCHIVE_BATCH: u32 = 500;

/// The task, if the caller may change it: exists and is visible, role allows task writes,
/// `If-Match` (when given) equals its version, and its project is not archived (unless the
/// change restores the project).
fn check_change(
    context: &TaskContext,
    if_match: Option<u64>,
    project_may_be_archived: bool,
) -> Result<Task, ChangeRefusal> {
    let task = context
        .task
        .clone()
        .ok_or(ChangeRefusal::Access(AccessDenied::NotFound))?;
    authorize(context.actor_role, Action::WriteTasks).map_err(ChangeRefusal::Access)?;
    if let Some(expected) = if_match
        && expected != task.row_version
    {
        return Err(ChangeRefusal::VersionMismatch {
            current: task.row_version,
        });
    }
    let archived = context
        .project
        .as_ref()
        .is_some_and(|p| p.archived_at.is_some());
    if archived && !project_may_be_archived {
        return Err(ChangeRefusal::ProjectArchived);
    }
    Ok(task)
}

/// `completed_at` when a task goes from `from` to `to`: set on entering done, cleared on leaving.
fn completion(
    from: StatusCategory,
    to: StatusCategory,
    at: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    match (from == StatusCategory::Done, to == StatusCategory::Done) {
        (false, true) => Some(Some(at)),
        (true, false) => Some(None),
        _ => None,
    }
}

/// Puts `task` into `status`: the status, the aggregation delta and the completion time.
fn change_status(
    patch: &mut TaskPatch,
    task: &Task,
    status: &StatusRef,
    at: DateTime<Utc>,
) -> AggregationDelta {
    if status.id == task.status.id {
        return AggregationDelta::ZERO;
    }
    patch.status = Some(status.clone());
    patch.completed_at = completion(task.status.category, status.category, at);
    AggregationDelta::status_change(task.status.category, status.category)
}

fn plan_update(
    context: TaskContext,
    input: &ValidUpdate,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, UpdateTaskError> {
    let task = check_change(&context, if_match, false)?;
    if task.is_archived() {
        return Err(UpdateTaskError::TaskArchived);
    }
    let mut errors = ValidationErrors::new();
    let mut patch = TaskPatch {
        title: input.title.clone(),
        description: input.description.clone(),
        priority: input.priority,
        task_type: input.task_type,
        story_points: input.story_points,
        due_date: input.due_date,
        ..TaskPatch::default()
    };
    let mut delta = AggregationDelta::ZERO;
    if let Some(status_id) = input.status_id {
        match context.status.as_ref().filter(|s| s.id == status_id) {
            Some(status) => {
                delta = change_status(&mut patch, &task, status, at);
                if patch.status.is_some() {
                    patch.placement = Some(Placement::Append);
                }
            }
            None => errors.add("status_id", "is not a status of this project"),
        }
    }
    match input.assignee_id {
        None => {}
        Some(None) => patch.assignee = Some(None),
        Some(Some(id)) => match context.assignee.as_ref().filter(|m| m.user.id == id) {
            Some(member) if member.role.can_be_assignee() => {
                patch.assignee = Some(Some(member.user.clone()));
            }
            Some(_) => errors.add("assignee_id", "viewers cannot be assigned tasks"),
            None => errors.add("assignee_id", "is not a member of this project"),
        },
    }
    match input.parent_id {
        None => {}
        Some(None) => patch.parent_id = Some(None),
        Some(Some(id)) if id == task.id => {
            errors.add("parent_id", "a task cannot be its own parent")
        }
        Some(Some(id)) => match context.parent.as_ref().filter(|p| p.id == id) {
            Some(parent) if parent.ancestor_ids.contains(&task.id) => {
                errors.add("parent_id", "would make the task its own ancestor");
            }
            Some(_) => patch.parent_id = Some(Some(id)),
            None => errors.add("parent_id", "is not a task of this project"),
        },
    }
    if let Some(ids) = &input.label_ids {
        let mut labels: Vec<_> = context
            .labels
            .iter()
            .filter(|l| ids.contains(&l.id))
            .cloned()
            .collect();
        if labels.len() == ids.len() {
            crate::model::Label::sort(&mut labels);
            patch.labels = Some(labels);
        } else {
            errors.add(
                "label_ids",
                "holds an id that is not a label of this project",
            );
        }
    }
    errors.into_result()?;
    Ok(TaskUpdatePlan {
        patch,
        delta,
        restore_project: false,
        at,
    })
}

pub(super) fn plan_move(
    context: TaskContext,
    input: MoveInput,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, MoveTaskError> {
    let task = check_change(&context, if_match, false)?;
    if task.is_archived() {
        return Err(MoveTaskError::TaskArchived);
    }
    let invalid =
        |field: &str, message: &str| MoveTaskError::from(ValidationErrors::single(field, message));
    let neighbour =
        |id: Option<TaskId>, found: &Option<crate::ports::Neighbour>, field: &str| match id {
            None => Ok(None),
            Some(id) if id == task.id => {
                Err(invalid(field, "a task cannot be placed next to itself"))
            }
            Some(id) => match found.as_ref().filter(|n| n.id == id) {
                Some(n) => Ok(Some(n.clone())),
                None => Err(invalid(field, "is not an active task of this project")),
            },
        };
    let after = neighbour(input.after_id, &context.after, "after_id")?;
    let before = neighbour(input.before_id, &context.before, "before_id")?;
    let target = match input.status_id {
        Some(id) => context
            .status
            .clone()
            .filter(|s| s.id == id)
            .ok_or_else(|| invalid("status_id", "is not a status of this project"))?,
        None => after
            .as_ref()
            .or(before.as_ref())
            .map(|n| n.status.clone())
            .ok_or_else(|| invalid("status_id", "give status_id, after_id or before_id"))?,
    };
    for (field, n) in [("after_id", &after), ("before_id", &before)] {
        if n.as_ref().is_some_and(|n| n.status.id != target.id) {
            return Err(invalid(field, "is not in the target status"));
        }
    }
    let placement = match (&after, &before) {
        (Some(a), Some(b)) => rank::place(Some(&a.rank), Some(&b.rank)),
        (Some(a), None) => rank::place(Some(&a.rank), a.adjacent.as_ref()),
        (None, Some(b)) => rank::place(b.adjacent.as_ref(), Some(&b.rank)),
        (None, None) => Ok(Placement::Append),
    }
    .map_err(|_| invalid("after_id", "must be above before_id in the column"))?;
    let mut patch = TaskPatch {
        placement: Some(placement),
        ..TaskPatch::default()
    };
    let delta = change_status(&mut patch, &task, &target, at);
    Ok(TaskUpdatePlan {
        patch,
        delta,
        restore_project: false,
        at,
    })
}

fn plan_archive(
    context: TaskContext,
    archive: bool,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, ArchiveTaskError> {
    // Unarchiving a task of an archived project restores the project.
    let task = check_change(&context, if_match, !archive)?;
    if task.is_archived() == archive {
        return Err(ArchiveTaskError::AlreadyInState { archived: archive });
    }
    let category = task.status.category;
    Ok(TaskUpdatePlan {
        patch: TaskPatch {
            archived_at: Some(archive.then_some(at)),
            // A task back from the archive goes to the end of its column: its old rank may
            // predate a rebalance of that column.
            placement: (!archive).then_some(Placement::Append),
            ..TaskPatch::default()
        },
        delta: if archive {
            AggregationDelta::archive(category)
        } else {
            AggregationDelta::unarchive(category)
        },
        restore_project: !archive && context.project.is_some_and(|p| p.archived_at.is_some()),
        at,
    })
}

fn plan_delete(
    context: TaskContext,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskDeletePlan, DeleteTaskError> {
    let task = check_change(&context, if_match, false)?;
    let own = (!task.is_archived()).then_some(task.status.category);
    let descendants = context
        .subtree
        .iter()
        .filter(|s| !s.archived)
        .map(|s| s.category);
    Ok(TaskDeletePlan {
        delta: own
            .into_iter()
            .chain(descendants)
            .map(AggregationDelta::delete)
            .sum(),
        at,
    })
}

/// An update whose fields passed validation.
#[derive(Debug, Clone, Default)]
struct ValidUpdate {
    title: Option<TaskTitle>,
    description: Option<Option<TaskDescription>>,
    status_id: Option<crate::ids::StatusId>,
    priority: Option<crate::values::Priority>,
    task_type: Option<crate::values::TaskType>,
    story_points: Option<Option<StoryPoints>>,
    due_date: Option<Option<chrono::NaiveDate>>,
    assignee_id: Option<Option<UserId>>,
    parent_id: Option<Option<TaskId>>,
    label_ids: Option<Vec<crate::ids::LabelId>>,
}

fn validate_update(input: &TaskUpdateInput) -> Result<ValidUpdate, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let update = ValidUpdate {
        title: input
            .title
            .as_deref()
            .and_then(|t| errors.check("title", TaskTitle::new(t))),
        description: match &input.description {
            None => None,
            Some(None) => Some(None),
            Some(Some(d)) => errors
                .check("description", TaskDescription::new(d))
                .map(Some),
        },
        story_points: match input.story_points {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => errors.check("story_points", StoryPoints::new(p)).map(Some),
        },
        status_id: input.status_id,
        priority: input.priority,
        task_type: input.task_type,
        due_date: match input.due_date {
            None => None,
            Some(None) => Some(None),
            Some(Some(d)) => errors.check("due_date", check_due_date(d)).map(Some),
        },
        assignee_id: input.assignee_id,
        parent_id: input.parent_id,
        label_ids: input.label_ids.as_ref().map(|ids| {
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            unique
        }),
    };
    // Counted as sent, as the schema's `maxItems` counts them.
    if input
        .label_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > crate::services::labels::MAX_TASK_LABELS)
    {
        let most = crate::services::labels::MAX_TASK_LABELS;
        errors.add(
            "label_ids",
            format!("a task can have at most {most} labels"),
        );
    }
    if *input == TaskUpdateInput::default() {
        errors.add("body", "give at least one field to change");
    }
    errors.into_result().map(|()| update)
}

fn label_ids(task: &Task) -> Vec<crate::ids::LabelId> {
    task.labels.iter().map(|l| l.id).collect()
}

/// The fields whose values differ between `before` and `after`.
fn changed_fields(before: &Task, after: &Task) -> Vec<TaskField> {
    let user = |u: &Option<crate::model::UserSummary>| u.as_ref().map(|u| u.id);
    [
        (before.title != after.title, TaskField::Title),
        (
            before.description != after.description,
            TaskField::Description,
        ),
        (before.status.id != after.status.id, TaskField::Status),
        (before.priority != after.priority, TaskField::Priority),
        (before.task_type != after.task_type, TaskField::TaskType),
        (
            before.story_points != after.story_points,
            TaskField::StoryPoints,
        ),
        (before.due_date != after.due_date, TaskField::DueDate),
        (
            user(&before.assignee) != user(&after.assignee),
            TaskField::Assignee,
        ),
        (before.parent_id != after.parent_id, TaskField::Parent),
        (label_ids(before) != label_ids(after), TaskField::Labels),
    ]
    .into_iter()
    .filter_map(|(changed, field)| changed.then_some(field))
    .collect()
}

impl TaskService {
    /// The project of a task, for the rare bootstrap path (one extra read only then).
    async fn project_of(&self, task_id: TaskId, actor: UserId) -> Option<ProjectId> {
        let read = self.ports.tasks.get_task(task_id, actor).await.ok()?;
        read.task.map(|t| t.project_id)
    }

    /// Updates fields of a task. A new status puts the task at the end of that column.
    ///
    /// # Errors
    /// [`UpdateTaskError`]: not found, forbidden, invalid (including a foreign status, a
    /// non-member assignee, a parent cycle), archived, version mismatch, store failure.
    #[tracing::instrument(skip_all, fields(%actor, %task_id))]
    pub async fn update_task(
        &self,
        actor: UserId,
        task_id: TaskId,
        input: TaskUpdateInput,
        if_match: Option<u64>,
    ) -> Result<Task, UpdateTaskError> {
        {
            let update = validate_update(&input)?;
            let lookup = TaskLookup {
                status_id: update.status_id,
                assignee_id: update.assignee_id.flatten(),
                parent_id: update.parent_id.flatten(),
                label_ids: update.label_ids.clone(),
                ..TaskLookup::default()
            };
            let at = self.ports.clock.now();
            let policy = self.settings.derivation_policy;
            let updated = self
                .change(actor, task_id, lookup, |tasks, request| {
                    let update = update.clone();
                    let decide = Box::new(move |c| plan_update(c, &update, if_match, at));
                    let events = change_events(&self.ports.encoder, actor, at, policy, |r| {
                        EventPayload::TaskUpdated {
                            task: Box::new(r.task.clone()),
                            previous: Box::new(r.previous.clone()),
                            changed: changed_fields(&r.previous, &r.task),
                        }
                    });
                    async move { tasks.update_task(request, decide, events).await }
                })
                .await?;
            Ok(updated.task)
        }
    }

    /// Moves a task to another status and/or place in its column.
    ///
    /// # Errors
    /// [`MoveTaskError`]: not found, forbidden, invalid (no target, a neighbour outside the
    /// project or the target column, neighbours in the wrong order), archived, version mismatch,
    /// store failure.
    #[tracing::instrument(skip_all, fields(%actor, %task_id))]
    pub async fn move_task(
        &self,
        actor: UserId,
        task_id: TaskId,
        input: MoveInput,
        if_match: Option<u64>,
    ) -> Result<Task, MoveTaskError> {
        {
            if input == MoveInput::default() {
                return Err(ValidationErrors::single(
                    "body",
                    "give status_id, after_id or before_id",
                )
                .into());
            }
            let lookup = TaskLookup {
                status_id: input.status_id,
                after_id: input.after_id,
                before_id: input.before_id,
                ..TaskLookup::default()
            };
            let at = self.ports.clock.now();
            let policy = self.settings.derivation_policy;
            let moved = self
                .change(actor, task_id, lookup, |tasks, request| {
                    let decide = Box::new(move |c| plan_move(c, input, if_match, at));
                    let events = change_events(&self.ports.encoder, actor, at, policy, |r| {
                        EventPayload::TaskMoved {
                            task: Box::new(r.task.clone()),
                            from_status_id: r.previous.status.id,
                            to_status_id: r.task.status.id,
                        }
                    });
                    async move { tasks.move_task(request, decide, events).await }
                })
                .await?;
            Ok(moved.task)
        }
    }

    /// Archives (`archive = true`) or unarchives a task. Unarchiving a task of an archived
    /// project restores the project.
    ///
    /// # Errors
    /// [`ArchiveTaskError`]: not found, forbidden, already in that state, project archived
    /// (archiving), version mismatch, store failure.
    #[tracing::instrument(skip_all, fields(%actor, %task_id, archive))]
    pub async fn set_task_archived(
        &self,
        actor: UserId,
        task_id: TaskId,
        archive: bool,
        if_match: Option<u64>,
    ) -> Result<Task, ArchiveTaskError> {
        {
            let at = self.ports.clock.now();
            let policy = self.settings.derivation_policy;
            let done = self
                .change(actor, task_id, TaskLookup::default(), |tasks, request| {
                    let decide = Box::new(move |c| plan_archive(c, archive, if_match, at));
                    let events = change_events(&self.ports.encoder, actor, at, policy, move |r| {
                        let task = Box::new(r.task.clone());
                        if archive {
                            EventPayload::TaskArchived { task }
                        } else {
                            EventPayload::TaskUnarchived { task }
                        }
                    });
                    async move { tasks.set_task_archived(request, decide, events).await }
                })
                .await?;
            Ok(done.task)
        }
    }

    /// Deletes a task and its sub-tasks.
    ///
    /// # Errors
    /// [`DeleteTaskError`]: not found, forbidden, project archived, version mismatch, store
    /// failure.
    #[tracing::instrument(skip_all, fields(%actor, %task_id))]
    pub async fn delete_task(
        &self,
        actor: UserId,
        task_id: TaskId,
        if_match: Option<u64>,
    ) -> Result<(), DeleteTaskError> {
        {
            let at = self.ports.clock.now();
            let lookup = TaskLookup {
                subtree: true,
                ..TaskLookup::default()
            };
            let policy = self.settings.derivation_policy;
            self.change(actor, task_id, lookup, |tasks, request| {
                let decide = Box::new(move |c| plan_delete(c, if_match, at));
                let events = record(&self.ports.encoder, move |deleted: &TaskDeleted| {
                    deletion_events(actor, deleted, at, policy)
                });
                async move { tasks.delete_task(request, decide, events).await }
            })
            .await?;
            Ok(())
        }
    }

    /// Archives done tasks whose `completed_at` is older than the configured number of days, in
    /// batches, each batch one transaction with its aggregation updates; broadcasts
    /// `task_archived` for each. Returns how many were archived.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails; batches already committed stay archived.
    #[tracing::instrument(skip_all)]
    pub async fn archive_done_tasks(&self) -> Result<u64, RepoError> {
        {
            let now = self.ports.clock.now();
            let cutoff = now - Duration::days(i64::from(self.settings.archive_after_days));
            let mut archived = 0;
            let policy = self.settings.derivation_policy;
            loop {
                let events = record(&self.ports.encoder, move |batch: &ArchivedByJob| {
                    let event = |payload| DomainEvent {
                        project_id: batch.project_id,
                        actor_id: SYSTEM_ACTOR,
                        at: now,
                        payload,
                    };
                    let mut events: Vec<DomainEvent> = batch
                        .tasks
                        .iter()
                        .map(|task| {
                            event(EventPayload::TaskArchived {
                                task: Box::new(task.clone()),
                            })
                        })
                        .collect();
                    events.extend(status_change_event(
                        batch.project_id,
                        &batch.aggregation,
                        policy,
                        SYSTEM_ACTOR,
                        now,
                    ));
                    events
                });
                let batches = self
                    .ports
                    .tasks
                    .archive_done_tasks(cutoff, ARCHIVE_BATCH, now, events)
                    .await?;
                let count: usize = batches.iter().map(|b| b.value.tasks.len()).sum();
                for batch in batches {
                    publish(self.ports.broadcaster.as_ref(), batch.events);
                }
                archived += count as u64;
                if count < ARCHIVE_BATCH as usize {
                    return Ok(archived);
                }
            }
        }
    }

    /// Runs one task change through the store and publishes the events it logged. When the
    /// store reports the project's aggregation row missing, bootstraps it once and runs the
    /// change again.
    async fn change<T, E, F, Fut>(
        &self,
        actor: UserId,
        task_id: TaskId,
        lookup: TaskLookup,
        mut run: F,
    ) -> Result<T, E>
    where
        E: From<RepoError>,
        F: FnMut(Arc<dyn TaskRepository>, TaskChangeRequest) -> Fut,
        Fut: Future<Output = Result<Logged<T>, TxError<E>>>,
    {
        let request = TaskChangeRequest {
            task_id,
            actor,
            lookup,
        };
        let mut follow_up = None;
        loop {
            match run(self.ports.tasks.clone(), request.clone()).await {
                Ok(Logged { value, events }) => {
                    publish(self.ports.broadcaster.as_ref(), events);
                    if let Some(follow_up) = follow_up {
                        CacheFollowUp::after_commit(
                            follow_up,
                            &self.ports,
                            self.settings.bootstrap_ttl,
                        );
                    }
                    return Ok(value);
                }
                Err(TxError::AggregationMissing) if follow_up.is_none() => {
                    let project_id = self
                        .project_of(task_id, actor)
                        .await
                        .ok_or_else(|| RepoError::other("task vanished during bootstrap"))?;
                    follow_up = Some(ensure_aggregation(&self.ports, project_id).await?.1);
                }
                Err(error) => return Err(error.into_operation_error()),
            }
        }
    }
}

/// The events of a change: the task's own (`payload`, from the task as written), then the
/// project's restoration and the derived status's change.
fn change_events(
    encoder: &Arc<dyn EventEncoder>,
    actor: UserId,
    at: DateTime<Utc>,
    policy: DerivationPolicy,
    payload: impl Fn(&TaskRevision) -> EventPayload + Send + Sync + 'static,
) -> ChangeEvents {
    record_write(
        encoder,
        move |revision: &TaskRevision| {
            vec![DomainEvent {
                project_id: revision.task.project_id,
                actor_id: actor,
                at,
                payload: payload(revision),
            }]
        },
        move |updated: &TaskUpdated| {
            let project_id = updated.task.project_id;
            let mut events = Vec::with_capacity(2);
            if let Some(project) = &updated.restored_project {
                events.push(DomainEvent {
                    project_id,
                    actor_id: actor,
                    at,
                    payload: EventPayload::ProjectRestored {
                        project: Box::new(project.clone()),
                        restored_via: RestoredVia::TaskUnarchived,
                    },
                });
            }
            if let Some(change) = &updated.aggregation {
                events.extend(status_change_event(project_id, change, policy, actor, at));
            }
            events
        },
    )
}

/// The events of a deletion: the task and each of its sub-tasks, then the derived status's
/// change.
fn deletion_events(
    actor: UserId,
    deleted: &TaskDeleted,
    at: DateTime<Utc>,
    policy: DerivationPolicy,
) -> Vec<DomainEvent> {
    let project_id = deleted.task.project_id;
    let event = |payload| DomainEvent {
        project_id,
        actor_id: actor,
        at,
        payload,
    };
    let mut events = vec![event(EventPayload::TaskDeleted {
        task_id: deleted.task.id,
        key: deleted.task.key.clone(),
    })];
    events.extend(deleted.subtree.iter().map(|s| {
        event(EventPayload::TaskDeleted {
            task_id: s.id,
            key: s.key.clone(),
        })
    }));
    if let Some(change) = &deleted.aggregation {
        events.extend(status_change_event(project_id, change, policy, actor, at));
    }
    events
}
