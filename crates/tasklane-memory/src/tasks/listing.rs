//! The listing of a project's tasks: the filters, the four orders as comparable keys, and the
//! keyset page after a cursor.

use chrono::{DateTime, Utc};
use tasklane_domain::cursor::{TaskCursor, TaskOrder, priority_rank};
use tasklane_domain::ids::{ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::{Page, Task};
use tasklane_domain::ports::{ListingVersion, TaskListing, TaskQuery};

use crate::tables::{Tables, contains};

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

/// A page of the project's tasks as `viewer` may see it: every filter of `query`, its order,
/// and the page after its cursor.
pub(super) fn list(
    tables: &Tables,
    project_id: ProjectId,
    viewer: UserId,
    query: &TaskQuery,
) -> TaskListing {
    let viewer_role = tables.role(project_id, viewer);
    let page = match viewer_role {
        Some(_) => page(tables, project_id, query),
        None => Page {
            items: Vec::new(),
            next_cursor: None,
        },
    };
    TaskListing { viewer_role, page }
}

/// The version of the project's listings: its event head and the user directory's version.
pub(super) fn version(tables: &Tables, project_id: ProjectId) -> ListingVersion {
    ListingVersion {
        project_seq: tables.heads.get(&project_id).copied().unwrap_or(0),
        directory: tables.directory_version,
    }
}

/// The page of `query` in the project, whoever reads it.
pub(super) fn page(tables: &Tables, project_id: ProjectId, query: &TaskQuery) -> Page<Task> {
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
        .filter(|t| t.project_id == project_id && matches(t, query))
        .map(|t| (sort_key(t, query.order, position(t.status.id)), t.id))
        .filter(|(key, _)| after.as_ref().is_none_or(|after| key > after))
        .filter_map(|(key, id)| tables.task(id).map(|task| (key, task)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let more = rows.len() > query.limit as usize;
    rows.truncate(query.limit as usize);
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|(_, last)| TaskCursor::after(query.order, last, position(last.status.id)).encode());
    Page {
        items: rows.into_iter().map(|(_, task)| task).collect(),
        next_cursor,
    }
}
