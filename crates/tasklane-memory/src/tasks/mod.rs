//! Tasks: creation (numbers from the project's counter, ranks from each column's append
//! sequence), changes with their context, deletion with the sub-tree, the auto-archive job, and
//! reads with every filter and order of the listing. The context of a change is read in
//! `context.rs`, the listing in `listing.rs`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::aggregation::{AggregationChange, AggregationDelta, Counts};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::{Member, Page, Project, Task};
use tasklane_domain::ports::ListingVersion;
use tasklane_domain::ports::{
    ArchiveTaskError, ArchivedByJob, ChangeEvents, CreateTaskError, CreateTasksContext,
    CreateTasksPlan, CreateTasksRequest, CreationEvents, DeleteTaskError, Logged, MoveTaskError,
    RecordEvents, TaskChangeRequest, TaskContext, TaskDeletePlan, TaskDeleted, TaskListing,
    TaskQuery, TaskRead, TaskRepository, TaskUpdatePlan, TaskUpdated, TasksCreated,
    UpdateTaskError,
};
use tasklane_domain::rank::{Placement, Rank};
use tasklane_domain::values::Role;
use tasklane_domain::values::StatusCategory;

use crate::tables::Tables;
use crate::{Abort, MemoryStore};

mod context;
mod listing;

use context::{rebalance, subtree, task_context};

/// The next rank at the end of `status`'s column.
fn append(tables: &mut Tables, status: StatusId) -> Result<Rank, RepoError> {
    let row = tables
        .statuses
        .get_mut(&status)
        .ok_or_else(|| RepoError::other("no such status"))?;
    row.append_seq += 1;
    Ok(Rank::from_sequence(row.append_seq))
}

/// The project after a write, with its aggregation as the write left it.
fn project_after(tables: &Tables, id: ProjectId) -> Result<Project, RepoError> {
    tables
        .project(id)
        .ok_or_else(|| RepoError::other("project vanished"))
}

impl MemoryStore {
    /// Reads the context, decides, and applies an update, a move or an (un)archive.
    fn change<E>(
        &self,
        request: &TaskChangeRequest,
        decide: &Decide<TaskContext, TaskUpdatePlan, E>,
        events: &ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<E>> {
        self.write(|tables| {
            let context = task_context(tables, request);
            let previous = context.task.clone();
            let plan = decide(context).map_err(Abort::Rejected)?;
            let previous = previous.ok_or_else(|| RepoError::other("decision without a task"))?;
            let patch = plan.patch.clone();
            let status = patch
                .status
                .clone()
                .unwrap_or_else(|| previous.status.clone());
            let rank = match &patch.placement {
                None => previous.rank.clone(),
                Some(Placement::Append) => append(tables, status.id)?,
                Some(Placement::At(rank)) => rank.clone(),
                Some(Placement::Rebalance) => {
                    let lookup = &request.lookup;
                    match rebalance(
                        tables,
                        status.id,
                        previous.id,
                        lookup.after_id,
                        lookup.before_id,
                    )? {
                        Placement::At(rank) => rank,
                        // An end-of-column placement after renumbering is an append.
                        _ => append(tables, status.id)?,
                    }
                }
            };
            let restored_project = if plan.restore_project {
                let row = tables
                    .projects
                    .get_mut(&previous.project_id)
                    .ok_or_else(|| RepoError::other("project vanished"))?;
                row.archived_at = None;
                row.row_version += 1;
                row.updated_at = plan.at;
                true
            } else {
                false
            };
            let task = Task {
                title: patch.title.unwrap_or_else(|| previous.title.clone()),
                description: patch
                    .description
                    .unwrap_or_else(|| previous.description.clone()),
                status,
                priority: patch.priority.unwrap_or(previous.priority),
                task_type: patch.task_type.unwrap_or(previous.task_type),
                story_points: patch.story_points.unwrap_or(previous.story_points),
                due_date: patch.due_date.unwrap_or(previous.due_date),
                assignee: patch.assignee.unwrap_or_else(|| previous.assignee.clone()),
                parent_id: patch.parent_id.unwrap_or(previous.parent_id),
                labels: patch.labels.unwrap_or_else(|| previous.labels.clone()),
                archived_at: patch.archived_at.unwrap_or(previous.archived_at),
                completed_at: patch.completed_at.unwrap_or(previous.completed_at),
                rank,
                row_version: previous.row_version + 1,
                updated_at: plan.at,
                ..previous.clone()
            };
            tables.tasks.insert(task.id, task);
            let aggregation = tables.apply_delta(previous.project_id, &plan.delta, plan.at)?;
            let restored_project = if restored_project {
                Some(project_after(tables, previous.project_id)?)
            } else {
                None
            };
            let task = tables
                .task(previous.id)
                .ok_or_else(|| RepoError::other("task vanished"))?;
            let updated = TaskUpdated {
                task,
                previous,
                aggregation,
                restored_project,
            };
            Ok::<_, Abort<E>>(tables.log(updated, events))
        })
        .map_err(TxError::from)
    }
}

#[async_trait]
impl TaskRepository for MemoryStore {
    async fn create_tasks(
        &self,
        request: CreateTasksRequest,
        decide: Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
        events: CreationEvents,
    ) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
        self.write(|tables| {
            let project = request.project_id;
            let exists = tables.projects.contains_key(&project);
            let context = CreateTasksContext {
                actor_role: tables.role(project, request.actor),
                project: tables.project_state(project),
                statuses: if exists {
                    tables
                        .statuses_of(project)
                        .iter()
                        .map(|s| s.to_ref())
                        .collect()
                } else {
                    Vec::new()
                },
                assignees: request
                    .assignee_ids
                    .iter()
                    .filter_map(|user| {
                        let member = tables.members.get(&(project, *user))?;
                        Some(Member {
                            user: tables.summary(*user)?,
                            role: member.role,
                            added_at: member.added_at,
                        })
                    })
                    .collect(),
                parents: request
                    .parent_ids
                    .iter()
                    .copied()
                    .filter(|id| {
                        tables
                            .tasks
                            .get(id)
                            .is_some_and(|t| t.project_id == project)
                    })
                    .collect(),
                reporter: tables.summary(request.actor),
            };
            let state = context.project.clone();
            let plan = decide(context).map_err(Abort::Rejected)?;
            let state = state.ok_or_else(|| RepoError::other("decision without a project"))?;
            let row = tables
                .projects
                .get_mut(&project)
                .ok_or_else(|| RepoError::other("project vanished"))?;
            let restored = row.archived_at.is_some();
            let first = row.task_counter + 1;
            row.task_counter += plan.drafts.len() as u64;
            row.updated_at = plan.at;
            if restored {
                row.archived_at = None;
                row.row_version += 1;
            }
            let mut tasks = Vec::with_capacity(plan.drafts.len());
            for (number, draft) in (first..).zip(&plan.drafts) {
                let rank = append(tables, draft.status.id)?;
                let task = draft.committed(&state, number, rank, plan.at);
                tables.tasks.insert(task.id, task.clone());
                tasks.push(task);
            }
            let aggregation = tables
                .update_aggregation(project, &plan.delta, plan.at)?
                .ok_or(Abort::AggregationMissing)?;
            let created = TasksCreated {
                tasks,
                project: project_after(tables, project)?,
                aggregation,
                project_restored: restored,
            };
            Ok::<_, Abort<CreateTaskError>>(tables.log(created, &events))
        })
        .map_err(TxError::from)
    }

    async fn update_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, UpdateTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<UpdateTaskError>> {
        self.change(&request, &decide, &events)
    }

    async fn move_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, MoveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<MoveTaskError>> {
        self.change(&request, &decide, &events)
    }

    async fn set_task_archived(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskUpdatePlan, ArchiveTaskError>,
        events: ChangeEvents,
    ) -> Result<Logged<TaskUpdated>, TxError<ArchiveTaskError>> {
        self.change(&request, &decide, &events)
    }

    async fn delete_task(
        &self,
        request: TaskChangeRequest,
        decide: Decide<TaskContext, TaskDeletePlan, DeleteTaskError>,
        record: RecordEvents<TaskDeleted>,
    ) -> Result<Logged<TaskDeleted>, TxError<DeleteTaskError>> {
        self.write(|tables| {
            let context = task_context(tables, &request);
            let (task, subtree_states) = (context.task.clone(), context.subtree.clone());
            let plan = decide(context).map_err(Abort::Rejected)?;
            let task = task.ok_or_else(|| RepoError::other("decision without a task"))?;
            let mut gone = subtree(tables, task.id);
            gone.push(task.id);
            for id in &gone {
                tables.tasks.remove(id);
            }
            tables.comments.retain(|_, c| !gone.contains(&c.task_id));
            let aggregation = tables.apply_delta(task.project_id, &plan.delta, plan.at)?;
            let deleted = TaskDeleted {
                task,
                subtree: subtree_states,
                aggregation,
            };
            Ok::<_, Abort<DeleteTaskError>>(tables.log(deleted, &record))
        })
        .map_err(TxError::from)
    }

    async fn archive_done_tasks(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
        at: DateTime<Utc>,
        record: RecordEvents<ArchivedByJob>,
    ) -> Result<Vec<Logged<ArchivedByJob>>, RepoError> {
        self.write(|tables| {
            let mut candidates: Vec<&Task> = tables
                .tasks
                .values()
                .filter(|t| t.archived_at.is_none() && t.status.category == StatusCategory::Done)
                .filter(|t| t.completed_at.is_some_and(|c| c < cutoff))
                .collect();
            candidates.sort_by_key(|t| t.completed_at);
            let chosen: Vec<TaskId> = candidates
                .iter()
                .take(limit as usize)
                .map(|t| t.id)
                .collect();
            let mut per_project: BTreeMap<ProjectId, Vec<TaskId>> = BTreeMap::new();
            for id in chosen {
                if let Some(task) = tables.tasks.get_mut(&id) {
                    task.archived_at = Some(at);
                    task.row_version += 1;
                    task.updated_at = at;
                    per_project.entry(task.project_id).or_default().push(id);
                }
            }
            let mut logged = Vec::with_capacity(per_project.len());
            for (project_id, ids) in per_project {
                let n = ids.len() as i64;
                let delta = AggregationDelta {
                    total: -n,
                    done: -n,
                    ..AggregationDelta::ZERO
                };
                // A project without an aggregation row is recounted when the row is next needed.
                let aggregation = tables
                    .update_aggregation(project_id, &delta, at)?
                    .unwrap_or(AggregationChange {
                        before: Counts::ZERO,
                        after: Counts::ZERO,
                    });
                let mut tasks: Vec<Task> = ids.iter().filter_map(|id| tables.task(*id)).collect();
                tasks.sort_by_key(Task::number);
                let batch = ArchivedByJob {
                    project_id,
                    tasks,
                    aggregation,
                };
                logged.push(tables.log(batch, &record));
            }
            Ok(logged)
        })
    }

    async fn get_task(&self, task_id: TaskId, viewer: UserId) -> Result<TaskRead, RepoError> {
        Ok(self.read(|tables| {
            let task = tables.task(task_id);
            TaskRead {
                viewer_role: task
                    .as_ref()
                    .and_then(|t| tables.role(t.project_id, viewer)),
                task,
            }
        }))
    }

    async fn get_task_by_number(
        &self,
        project_id: ProjectId,
        number: u64,
        viewer: UserId,
    ) -> Result<TaskRead, RepoError> {
        Ok(self.read(|tables| TaskRead {
            viewer_role: tables.role(project_id, viewer),
            task: tables
                .tasks
                .values()
                .find(|t| t.project_id == project_id && t.number() == number)
                .and_then(|t| tables.task(t.id)),
        }))
    }

    async fn list_tasks(
        &self,
        project_id: ProjectId,
        viewer: UserId,
        query: TaskQuery,
    ) -> Result<TaskListing, RepoError> {
        Ok(self.read(|tables| listing::list(tables, project_id, viewer, &query)))
    }

    async fn listing_version(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<(Option<Role>, ListingVersion), RepoError> {
        Ok(self.read(|tables| {
            (
                tables.role(project_id, viewer),
                listing::version(tables, project_id),
            )
        }))
    }

    async fn task_page(
        &self,
        project_id: ProjectId,
        query: TaskQuery,
    ) -> Result<Page<Task>, RepoError> {
        Ok(self.read(|tables| listing::page(tables, project_id, &query)))
    }
}
