//! The context of a change to a task, as the store would read it under the task's lock: the
//! task, the caller's role, and whatever the change names (a status, an assignee, a parent and
//! its chain, the neighbours of a move with the rank beyond each, the sub-tree); and the
//! renumbering of a column whose ranks ran out of room.

use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::{StatusId, TaskId};
use tasklane_domain::model::{Member, Task};
use tasklane_domain::ports::{
    Neighbour, ParentCandidate, SubtaskState, TaskChangeRequest, TaskContext,
};
use tasklane_domain::rank::{self, Placement, Rank};

use crate::tables::Tables;

/// The live tasks of `status`'s column in board order, `moved` left out.
pub(super) fn column(tables: &Tables, status: StatusId, moved: TaskId) -> Vec<(Rank, TaskId)> {
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
pub(super) fn neighbour(
    tables: &Tables,
    id: Option<TaskId>,
    task: &Task,
    after: bool,
) -> Option<Neighbour> {
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
pub(super) fn subtree(tables: &Tables, root: TaskId) -> Vec<TaskId> {
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

pub(super) fn task_context(tables: &Tables, request: &TaskChangeRequest) -> TaskContext {
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
pub(super) fn rebalance(
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
    let index_of = |id: Option<TaskId>| id.and_then(|id| order.iter().position(|x| *x == id));
    rank::place_after_renumbering(order.len(), index_of(after), index_of(before))
        .map_err(|e| RepoError::other(format!("rank: {e}")))
}
