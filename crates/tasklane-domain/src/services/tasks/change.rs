//! Changes to existing tasks: update, move, archive, unarchive, delete, and the auto-archive job.
//! Each decision (`decide.rs`) runs inside the store's transaction on the task as it is now (row
//! locked); this module runs them through the store and publishes what they logged.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::decide::{
    changed_fields, plan_archive, plan_delete, plan_move, plan_update, validate_update,
};
use super::{
    ArchiveTaskError, DeleteTaskError, MoveInput, MoveTaskError, TaskService, TaskUpdateInput,
    UpdateTaskError,
};
use crate::aggregation::DerivationPolicy;
use crate::errors::{RepoError, TxError};
use crate::events::{DomainEvent, EventPayload, RestoredVia, SYSTEM_ACTOR};
use crate::ids::{ProjectId, TaskId, UserId};
use crate::model::Task;
use crate::ports::{
    ArchivedByJob, ChangeEvents, EventEncoder, Logged, TaskChangeRequest, TaskDeleted, TaskLookup,
    TaskRepository, TaskRevision, TaskUpdated,
};
use crate::services::bootstrap::{CacheFollowUp, ensure_aggregation};
use crate::services::effects::{publish, record, record_write, status_change_event};
use crate::validation::ValidationErrors;

/// How many tasks the auto-archive job archives per transaction.
const ARCHIVE_BATCH: u32 = 500;

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
