//! Tasks: creation (numbers from the project's counter, ranks from each column's append
//! sequence), changes with their context, deletion with the sub-tree, the auto-archive job, and
//! reads with every filter and order of the listing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::aggregation::{AggregationChange, AggregationDelta, Counts};
use tasklane_domain::cursor::{TaskCursor, TaskOrder, priority_rank};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::{Member, Page, Project, Task};
use tasklane_domain::ports::{
    ArchiveTaskError, ArchivedByJob, ChangeEvents, CreateTaskError, CreateTasksContext,
    CreateTasksPlan, CreateTasksRequest, CreationEvents, DeleteTaskError, Logged, MoveTaskError,
    Neighbour, ParentCandidate, RecordEvents, SubtaskState, TaskChangeRequest, TaskContext,
    TaskDeletePlan, TaskDeleted, TaskListing, TaskQuery, TaskRead, TaskRepository, TaskUpdatePlan,
    TaskUpdated, TasksCreated, UpdateTaskError,
};
use tasklane_domain::rank::{self, Placement, Rank};
use tasklane_domain::values::{StatusCategory, TaskKey};

use crate::tables::{Tables, contains};
use crate::{Abort, MemoryStore};

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

/// The live tasks of `status`'s column in board order, `moved` left out.
fn column(tables: &Tables, status: StatusId, moved: TaskId) -> Vec<(Rank, TaskId)> {
    let mut tasks: Vec<(Rank, TaskId)> = tables
        .tasks
        .values()
        .filter(|t| t.status.id == status && t.archived_at.is_none() && t.id != moved)
        .map(|t| (t.rank.clone(), t.id))
        .collect();
    tasks.sort();
    tasks
}

/// The neighbour of a move, with the next rank beyond it in its column.
fn neighbour(tables: &Tables, id: Option<TaskId>, task: &Task, after: bool) -> Option<Neighbour> {
    let other = tables.tasks.get(&id?)?;
    if other.project_id != task.project_id || other.archived_at.is_some() {
        return None;
    }
    let order = column(tables, other.status.id, task.id);
    let at = order.iter().position(|(_, t)| *t == other.id)?;
    let adjacent = if after {
        order.get(at + 1)
    } else {
        at.checked_sub(1).and_then(|i| order.get(i))
    };
    Some(Neighbour {
        id: other.id,
        status: other.status.clone(),
        rank: other.rank.clone(),
        adjacent: adjacent.map(|(rank, _)| rank.clone()),
    })
}

/// Every descendant of `root`.
fn subtree(tables: &Tables, root: TaskId) -> Vec<TaskId> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for task in tables
            .tasks
            .values()
            .filter(|t| t.parent_id == Some(parent))
        {
            found.push(task.id);
            frontier.push(task.id);
        }
    }
    found
}

fn task_context(tables: &Tables, request: &TaskChangeRequest) -> TaskContext {
    let Some(task) = tables.task(request.task_id) else {
        return TaskContext {
            task: None,
            actor_role: None,
            project: None,
            status: None,
            assignee: None,
            parent: None,
            after: None,
            before: None,
            subtree: Vec::new(),
            labels: Vec::new(),
        };
    };
    let project = task.project_id;
    let lookup = &request.lookup;
    let parent = lookup.parent_id.and_then(|id| {
        let parent = tables.tasks.get(&id).filter(|t| t.project_id == project)?;
        let mut ancestor_ids = Vec::new();
        let mut next = parent.parent_id;
        while let Some(id) = next.filter(|id| !ancestor_ids.contains(id)) {
            ancestor_ids.push(id);
            next = tables.tasks.get(&id).and_then(|t| t.parent_id);
        }
        Some(ParentCandidate {
            id: parent.id,
            ancestor_ids,
        })
    });
    let subtree = if lookup.subtree {
        subtree(tables, task.id)
            .into_iter()
            .filter_map(|id| tables.tasks.get(&id))
            .map(|t| SubtaskState {
                id: t.id,
                key: t.key.clone(),
                category: t.status.category,
                archived: t.archived_at.is_some(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let labels = match &lookup.label_ids {
        Some(ids) => {
            let mut labels: Vec<_> = tables
                .labels_of(project)
                .into_iter()
                .filter(|l| ids.contains(&l.id))
                .collect();
            labels.sort_by_key(|l| l.id);
            labels
        }
        None => Vec::new(),
    };
    TaskContext {
        actor_role: tables.role(project, request.actor),
        project: tables.project_state(project),
        status: lookup
            .status_id
            .and_then(|id| tables.statuses.get(&id))
            .filter(|row| row.status.project_id == project)
            .map(|row| row.status.to_ref()),
        assignee: lookup.assignee_id.and_then(|user| {
            let member = tables.members.get(&(project, user))?;
            Some(Member {
                user: tables.summary(user)?,
                role: member.role,
                added_at: member.added_at,
            })
        }),
        parent,
        after: neighbour(tables, lookup.after_id, &task, true),
        before: neighbour(tables, lookup.before_id, &task, false),
        subtree,
        labels,
        task: Some(task),
    }
}

/// Renumbers `status`'s column (the moved task left out) and places the moved task between its
/// neighbours again (the rebalance rule of the domain's ranks).
fn rebalance(
    tables: &mut Tables,
    status: StatusId,
    moved: TaskId,
    after: Option<TaskId>,
    before: Option<TaskId>,
) -> Result<Placement, RepoError> {
    let order: Vec<TaskId> = column(tables, status, moved)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    for (i, id) in order.iter().enumerate() {
        if let Some(task) = tables.tasks.get_mut(id) {
            task.rank = Rank::from_sequence(i as u64 + 1);
        }
    }
    if let Some(row) = tables.statuses.get_mut(&status) {
        row.append_seq = order.len() as u64;
    }
    let rank_at = |index: Option<usize>| index.map(|i| Rank::from_sequence(i as u64 + 1));
    let index_of = |id: Option<TaskId>| id.and_then(|id| order.iter().position(|x| *x == id));
    let (low, high) = match (index_of(after), index_of(before)) {
        (Some(a), _) => (
            rank_at(Some(a)),
            rank_at((a + 1 < order.len()).then_some(a + 1)),
        ),
        (None, Some(b)) => (rank_at(b.checked_sub(1)), rank_at(Some(b))),
        (None, None) => (None, None),
    };
    rank::place(low.as_ref(), high.as_ref()).map_err(|e| RepoError::other(format!("rank: {e}")))
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

/// Whether `task` passes the listing's filters (the cursor aside).
fn matches(task: &Task, query: &TaskQuery) -> bool {
    (query.include_archived || task.archived_at.is_none())
        && query.status_id.is_none_or(|s| task.status.id == s)
        && query
            .assignee_id
            .is_none_or(|a| task.assignee.as_ref().is_some_and(|u| u.id == a))
        && (!query.unassigned || task.assignee.is_none())
        && query
            .reporter_id
            .is_none_or(|r| task.reporter.as_ref().is_some_and(|u| u.id == r))
        && query.parent_id.is_none_or(|p| task.parent_id == Some(p))
        && (query.label_ids.is_empty()
            || task.labels.iter().any(|l| query.label_ids.contains(&l.id)))
        && query
            .due_before
            .is_none_or(|d| task.due_date.is_some_and(|due| due <= d))
        && query
            .due_after
            .is_none_or(|d| task.due_date.is_some_and(|due| due >= d))
        && query.priority.is_none_or(|p| task.priority == p)
        && query.task_type.is_none_or(|t| task.task_type == t)
        && query.search.as_deref().is_none_or(|search| {
            contains(task.title.as_str(), search) || contains(&task.key.to_string(), search)
        })
}

/// A task's place in an order, comparable with a cursor of that order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Board(u32, String, TaskId),
    /// Newest first: compared in reverse.
    Updated(std::cmp::Reverse<(DateTime<Utc>, TaskId)>),
    /// Soonest first, no date last.
    Due(bool, Option<chrono::NaiveDate>, TaskId),
    Priority(u8, TaskId),
}

fn sort_key(task: &Task, order: TaskOrder, position: u32) -> SortKey {
    match order {
        TaskOrder::Board => SortKey::Board(position, task.rank.as_str().to_owned(), task.id),
        TaskOrder::Updated => SortKey::Updated(std::cmp::Reverse((task.updated_at, task.id))),
        TaskOrder::Due => SortKey::Due(task.due_date.is_none(), task.due_date, task.id),
        TaskOrder::Priority => SortKey::Priority(priority_rank(task.priority), task.id),
    }
}

fn cursor_key(cursor: &TaskCursor) -> SortKey {
    match cursor {
        TaskCursor::Board { position, rank, id } => SortKey::Board(*position, rank.clone(), *id),
        TaskCursor::Updated { updated_at, id } => {
            SortKey::Updated(std::cmp::Reverse((*updated_at, *id)))
        }
        TaskCursor::Due { due, id } => SortKey::Due(due.is_none(), *due, *id),
        TaskCursor::Priority { rank, id } => SortKey::Priority(*rank, *id),
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
                let task = Task {
                    id: draft.id,
                    project_id: project,
                    key: TaskKey::new(state.key.clone(), number),
                    title: draft.title.clone(),
                    description: draft.description.clone(),
                    status: draft.status.clone(),
                    priority: draft.priority,
                    task_type: draft.task_type,
                    story_points: draft.story_points,
                    due_date: draft.due_date,
                    assignee: draft.assignee.clone(),
                    reporter: draft.reporter.clone(),
                    parent_id: draft.parent_id,
                    subtask_count: 0,
                    comment_count: 0,
                    labels: Vec::new(),
                    rank,
                    row_version: 1,
                    created_at: plan.at,
                    updated_at: plan.at,
                    completed_at: draft.completed_at,
                    archived_at: None,
                };
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
        Ok(self.read(|tables| {
            let viewer_role = tables.role(project_id, viewer);
            if viewer_role.is_none() {
                return TaskListing {
                    viewer_role,
                    page: Page {
                        items: Vec::new(),
                        next_cursor: None,
                    },
                };
            }
            let position = |status: StatusId| {
                tables
                    .statuses
                    .get(&status)
                    .map_or(0, |row| row.status.position)
            };
            let after = query.cursor.as_ref().map(cursor_key);
            let mut rows: Vec<(SortKey, Task)> = tables
                .tasks
                .values()
                .filter(|t| t.project_id == project_id && matches(t, &query))
                .map(|t| (sort_key(t, query.order, position(t.status.id)), t.id))
                .filter(|(key, _)| after.as_ref().is_none_or(|after| key > after))
                .filter_map(|(key, id)| tables.task(id).map(|task| (key, task)))
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let more = rows.len() > query.limit as usize;
            rows.truncate(query.limit as usize);
            let next_cursor = rows.last().filter(|_| more).map(|(_, last)| {
                match query.order {
                    TaskOrder::Board => TaskCursor::Board {
                        position: position(last.status.id),
                        rank: last.rank.as_str().to_owned(),
                        id: last.id,
                    },
                    TaskOrder::Updated => TaskCursor::Updated {
                        updated_at: last.updated_at,
                        id: last.id,
                    },
                    TaskOrder::Due => TaskCursor::Due {
                        due: last.due_date,
                        id: last.id,
                    },
                    TaskOrder::Priority => TaskCursor::Priority {
                        rank: priority_rank(last.priority),
                        id: last.id,
                    },
                }
                .encode()
            });
            TaskListing {
                viewer_role,
                page: Page {
                    items: rows.into_iter().map(|(_, task)| task).collect(),
                    next_cursor,
                },
            }
        }))
    }
}
