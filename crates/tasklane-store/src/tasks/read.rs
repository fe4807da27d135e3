//! Task reads: one task (with the viewer's role) in one statement; a board page of up to 200
//! tasks with statuses, assignees, reporters and sub-task counts in two (the viewer's role with
//! the listing's version, then the page, skipped when the reader holds that version),
//! keyset-paginated.

use std::collections::HashMap;

use sea_orm::{DbErr, Value};
use tasklane_domain::cursor::TaskCursor;
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::model::{Page, Task};
use tasklane_domain::ports::{ListingVersion, TaskListing, TaskOrder, TaskQuery, TaskRead};
use tasklane_domain::values::Role;

use super::gate::{Handed, Turn};
use crate::Store;
use crate::convert::{self, TASK_COLUMNS, TASK_FROM, parsed};
use crate::counter;
use crate::db::{Dialect, Row, all, one};
use crate::errors::repo_error;
use crate::projects::contains_pattern;

async fn read_one(store: &Store, filter: &str, values: Vec<Value>) -> Result<TaskRead, RepoError> {
    let d = store.dialect;
    let sql = format!(
        "SELECT {TASK_COLUMNS}, \
           (SELECT role FROM project_members WHERE project_id = t.project_id AND user_id = $1) AS viewer_role \
         FROM {TASK_FROM} WHERE {filter}"
    );
    let read = async {
        let Some(row) = one(&store.reader, d.stmt(&sql, values)).await? else {
            return Ok(TaskRead {
                viewer_role: None,
                task: None,
            });
        };
        let row = d.row(&row);
        let viewer_role: Option<Role> = row
            .opt_text("viewer_role")?
            .map(|r| parsed("role", &r))
            .transpose()?;
        Ok::<_, DbErr>(TaskRead {
            viewer_role,
            task: Some(convert::task(&row)?),
        })
    };
    read.await.map_err(repo_error)
}

/// A task's place in `order=priority` (`priority_rank` in the domain): highest first.
const PRIORITY_RANK: &str = "(CASE t.priority WHEN 'highest' THEN 0 WHEN 'high' THEN 1 \
    WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END)";

/// The `ORDER BY` of a listing order on `t` (the board order, which also needs the status's
/// position, is the caller's).
fn order_by(order: TaskOrder) -> String {
    match order {
        TaskOrder::Board => "s.position, t.rank, t.id".to_owned(),
        TaskOrder::Updated => "t.updated_at DESC, t.id DESC".to_owned(),
        // Undated last in both databases (false sorts before true, 0 before 1).
        TaskOrder::Due => "(t.due_date IS NULL), t.due_date, t.id".to_owned(),
        TaskOrder::Priority => format!("{PRIORITY_RANK}, t.id"),
    }
}

/// The project's key, read once per statement (an uncorrelated sub-query).
const PROJECT_KEY: &str = "(SELECT key FROM projects WHERE id = $1)";

/// [`convert::TASK_COLUMNS`] for a page: `pg` holds the page's task ids with their status's
/// name, category and position; `t` is the task row joined back by id.
const PAGE_COLUMNS: &str = "t.id, t.project_id, (SELECT key FROM projects WHERE id = $1) AS project_key, \
    t.number, t.title, t.description, t.status_id, pg.status_name, pg.status_category, \
    t.priority, t.task_type, t.story_points, t.due_date, \
    au.id AS assignee_id, au.email AS assignee_email, au.display_name AS assignee_name, au.avatar_url AS assignee_avatar, \
    ru.id AS reporter_id, ru.email AS reporter_email, ru.display_name AS reporter_name, ru.avatar_url AS reporter_avatar, \
    t.parent_id, (SELECT count(*) FROM tasks c WHERE c.parent_id = t.id) AS subtask_count, \
    t.comment_count, (SELECT COALESCE({agg}({obj}('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.id), {arr0}) \
      FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = t.id) AS labels, \
    t.rank, t.row_version, t.created_at, t.updated_at, t.completed_at, t.archived_at, pg.status_position";

pub(super) async fn get_task(
    store: &Store,
    task_id: TaskId,
    viewer: UserId,
) -> Result<TaskRead, RepoError> {
    let d = store.dialect;
    read_one(store, "t.id = $2", vec![d.id(viewer), d.id(task_id)]).await
}

pub(super) async fn get_task_by_number(
    store: &Store,
    project_id: ProjectId,
    number: u64,
    viewer: UserId,
) -> Result<TaskRead, RepoError> {
    let d = store.dialect;
    let values = vec![d.id(viewer), d.id(project_id), convert::int(number).into()];
    read_one(store, "t.project_id = $2 AND t.number = $3", values).await
}

pub(super) async fn list_tasks(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
    query: TaskQuery,
) -> Result<TaskListing, RepoError> {
    let (viewer_role, _) = listing_version(store, project_id, viewer).await?;
    let page = match viewer_role {
        Some(_) => task_page(store, project_id, query).await?,
        None => Page {
            items: Vec::new(),
            next_cursor: None,
        },
    };
    Ok(TaskListing { viewer_role, page })
}

pub(super) async fn listing_version(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
) -> Result<(Option<Role>, ListingVersion), RepoError> {
    if store.dialect != Dialect::Postgres {
        return version_alone(store, project_id, viewer).await;
    }
    let gates = &store.gates;
    let lead = match gates.arrive(project_id, viewer) {
        Turn::Lead(lead) => lead,
        Turn::Wait(mut waiting) => match waiting.handed().await {
            Ok(Handed::Answer(answer)) => {
                counter::statement_sent_elsewhere();
                return Ok(answer);
            }
            Ok(Handed::Failed(error)) => {
                counter::statement_sent_elsewhere();
                return Err(error);
            }
            Ok(Handed::Turn(others)) => gates.lead(project_id, others),
            Ok(Handed::Alone) | Err(_) => return version_alone(store, project_id, viewer).await,
        },
    };
    if lead.alone() {
        let read = version_alone(store, project_id, viewer).await;
        lead.read_alone();
        return read;
    }
    let viewers = lead.viewers(viewer);
    let (roles, version) = match versions_together(store, project_id, &viewers).await {
        Ok(read) => read,
        Err(error) => {
            lead.fail(&error);
            return Err(error);
        }
    };
    let own = roles.get(&viewer).copied().flatten();
    lead.answer(&roles, version);
    Ok((own, version))
}

async fn version_alone(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
) -> Result<(Option<Role>, ListingVersion), RepoError> {
    let d = store.dialect;
    // Budget: a board page, statement 1 of 2: the viewer's role and the listing's version.
    let role_stmt = d.stmt(
        "SELECT (SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2) AS role, \
           COALESCE((SELECT seq FROM project_event_heads WHERE project_id = $1), 0) AS seq, \
           (SELECT version FROM directory_version WHERE id = 1) AS directory",
        vec![d.id(project_id), d.id(viewer)],
    );
    let read = async {
        let Some(row) = one(&store.reader, role_stmt).await? else {
            return Err(DbErr::RecordNotFound("the listing's version".into()));
        };
        let row = d.row(&row);
        Ok::<_, DbErr>((role_of(&row)?, listing_version_of(&row)?))
    };
    read.await.map_err(repo_error)
}

/// The roles of several viewers and the listing's version, in one statement (PostgreSQL; see
/// `gate.rs`).
async fn versions_together(
    store: &Store,
    project_id: ProjectId,
    viewers: &[UserId],
) -> Result<(HashMap<UserId, Option<Role>>, ListingVersion), RepoError> {
    let d = store.dialect;
    let ids: Vec<serde_json::Value> = viewers
        .iter()
        .map(|viewer| serde_json::Value::String(viewer.to_string()))
        .collect();
    // Budget: a board page, statement 1 of 2, for every reader it answers.
    let stmt = d.stmt(
        "SELECT v.user_id::uuid AS user_id, \
           (SELECT role FROM project_members WHERE project_id = $1 AND user_id = v.user_id::uuid) AS role, \
           COALESCE((SELECT seq FROM project_event_heads WHERE project_id = $1), 0) AS seq, \
           (SELECT version FROM directory_version WHERE id = 1) AS directory \
         FROM jsonb_array_elements_text($2::jsonb) AS v(user_id)",
        vec![
            d.id(project_id),
            serde_json::Value::Array(ids).to_string().into(),
        ],
    );
    let read = async {
        let rows = all(&store.reader, stmt).await?;
        let mut roles = HashMap::with_capacity(rows.len());
        let mut version = None;
        for row in &rows {
            let row = d.row(row);
            roles.insert(UserId::from(row.id("user_id")?), role_of(&row)?);
            version = Some(listing_version_of(&row)?);
        }
        let version =
            version.ok_or_else(|| DbErr::RecordNotFound("the listing's version".into()))?;
        Ok::<_, DbErr>((roles, version))
    };
    read.await.map_err(repo_error)
}

/// A version read's `role` column: the viewer's role, `None` for a non-member.
fn role_of(row: &Row<'_>) -> Result<Option<Role>, DbErr> {
    row.opt_text("role")?
        .map(|r| parsed("role", &r))
        .transpose()
}

fn listing_version_of(row: &Row<'_>) -> Result<ListingVersion, DbErr> {
    Ok(ListingVersion {
        project_seq: convert::valid("seq", u64::try_from(row.int("seq")?))?,
        directory: convert::valid("directory", u64::try_from(row.int("directory")?))?,
    })
}

pub(super) async fn task_page(
    store: &Store,
    project_id: ProjectId,
    query: TaskQuery,
) -> Result<Page<Task>, RepoError> {
    let d = store.dialect;
    let read = async {
        let mut values = vec![d.id(project_id)];
        let mut filters = String::new();
        let bind = |values: &mut Vec<Value>, value: Value| {
            values.push(value);
            values.len()
        };
        if !query.include_archived {
            filters.push_str(" AND t.archived_at IS NULL");
        }
        if let Some(status) = query.status_id {
            let n = bind(&mut values, d.id(status));
            filters.push_str(&format!(" AND t.status_id = ${n}"));
        }
        if let Some(assignee) = query.assignee_id {
            let n = bind(&mut values, d.id(assignee));
            filters.push_str(&format!(" AND t.assignee_id = ${n}"));
        }
        if query.unassigned {
            filters.push_str(" AND t.assignee_id IS NULL");
        }
        if let Some(reporter) = query.reporter_id {
            let n = bind(&mut values, d.id(reporter));
            filters.push_str(&format!(" AND t.reporter_id = ${n}"));
        }
        if let Some(parent) = query.parent_id {
            let n = bind(&mut values, d.id(parent));
            filters.push_str(&format!(" AND t.parent_id = ${n}"));
        }
        if !query.label_ids.is_empty() {
            let ids: Vec<String> = query.label_ids.iter().map(ToString::to_string).collect();
            let n = bind(&mut values, serde_json::Value::from(ids).to_string().into());
            filters.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM task_labels tl WHERE tl.task_id = t.id AND tl.label_id IN {})",
            d.json_ids(n)
        ));
        }
        if let Some(before) = query.due_before {
            let n = bind(&mut values, d.opt_date(Some(before)));
            filters.push_str(&format!(" AND t.due_date <= ${n}"));
        }
        if let Some(after) = query.due_after {
            let n = bind(&mut values, d.opt_date(Some(after)));
            filters.push_str(&format!(" AND t.due_date >= ${n}"));
        }
        if let Some(priority) = query.priority {
            let n = bind(&mut values, priority.as_str().into());
            filters.push_str(&format!(" AND t.priority = ${n}"));
        }
        if let Some(task_type) = query.task_type {
            let n = bind(&mut values, task_type.as_str().into());
            filters.push_str(&format!(" AND t.task_type = ${n}"));
        }
        if let Some(search) = &query.search {
            let n = bind(&mut values, contains_pattern(search).into());
            filters.push_str(&format!(
            " AND (lower(t.title) LIKE ${n} ESCAPE '\\' OR lower({PROJECT_KEY} || '-' || CAST(t.number AS TEXT)) LIKE ${n} ESCAPE '\\')"
        ));
        }
        match &query.cursor {
            Some(TaskCursor::Board { position, rank, id }) => {
                let p = bind(&mut values, i64::from(*position).into());
                let r = bind(&mut values, rank.as_str().into());
                let i = bind(&mut values, d.id(*id));
                filters.push_str(&format!(
                " AND (s.position > ${p} OR (s.position = ${p} AND (t.rank > ${r} OR (t.rank = ${r} AND t.id > ${i}))))"
            ));
            }
            Some(TaskCursor::Updated { updated_at, id }) => {
                let a = bind(&mut values, d.time(*updated_at));
                let i = bind(&mut values, d.id(*id));
                filters.push_str(&format!(
                    " AND (t.updated_at < ${a} OR (t.updated_at = ${a} AND t.id < ${i}))"
                ));
            }
            Some(TaskCursor::Due { due: Some(due), id }) => {
                let a = bind(&mut values, d.opt_date(Some(*due)));
                let i = bind(&mut values, d.id(*id));
                filters.push_str(&format!(
                " AND (t.due_date > ${a} OR (t.due_date = ${a} AND t.id > ${i}) OR t.due_date IS NULL)"
            ));
            }
            Some(TaskCursor::Due { due: None, id }) => {
                let i = bind(&mut values, d.id(*id));
                filters.push_str(&format!(" AND t.due_date IS NULL AND t.id > ${i}"));
            }
            Some(TaskCursor::Priority { rank, id }) => {
                let r = bind(&mut values, i64::from(*rank).into());
                let i = bind(&mut values, d.id(*id));
                filters.push_str(&format!(
                    " AND ({PRIORITY_RANK} > ${r} OR ({PRIORITY_RANK} = ${r} AND t.id > ${i}))"
                ));
            }
            None => {}
        }
        let limit = bind(&mut values, i64::from(query.limit + 1).into());
        // The page is chosen first from narrow rows (ids, ranks, status positions), so that no
        // sort carries whole tasks; the page's tasks, users, project key and sub-task counts are
        // then read for its rows only. On PostgreSQL a board page walks each column's board index
        // (at most a page per column) instead of sorting the whole project.
        let page = match (query.order, d) {
            (TaskOrder::Board, Dialect::Postgres) => format!(
                "SELECT x.page_id, s.name AS status_name, s.category AS status_category, s.position AS status_position \
             FROM statuses s CROSS JOIN LATERAL ( \
               SELECT t.id AS page_id, t.rank FROM tasks t \
               WHERE t.status_id = s.id AND t.project_id = $1{filters} ORDER BY t.rank, t.id LIMIT ${limit}) x \
             WHERE s.project_id = $1 ORDER BY s.position, x.rank, x.page_id LIMIT ${limit}"
            ),
            (order, _) => {
                let order = order_by(order);
                format!(
                    "SELECT t.id AS page_id, s.name AS status_name, s.category AS status_category, s.position AS status_position \
                 FROM tasks t JOIN statuses s ON s.id = t.status_id \
                 WHERE t.project_id = $1{filters} ORDER BY {order} LIMIT ${limit}"
                )
            }
        };
        let outer_order = match query.order {
            TaskOrder::Board => "pg.status_position, t.rank, t.id".to_owned(),
            order => order_by(order),
        };
        let sql = format!(
            "SELECT {PAGE_COLUMNS} FROM ({page}) pg JOIN tasks t ON t.id = pg.page_id \
         LEFT JOIN users au ON au.id = t.assignee_id LEFT JOIN users ru ON ru.id = t.reporter_id \
         ORDER BY {outer_order}"
        );
        // Budget: a board page, statement 2 of 2: the tasks with everything shown.
        let rows = all(&store.reader, d.stmt(&sql, values)).await?;
        let mut items: Vec<Task> = Vec::with_capacity(rows.len());
        let mut last_position = 0;
        for row in rows.iter().take(query.limit as usize) {
            let row = d.row(row);
            last_position = convert::valid("position", u32::try_from(row.int("status_position")?))?;
            items.push(convert::task(&row)?);
        }
        let next_cursor = match items.last() {
            Some(last) if rows.len() > query.limit as usize => {
                Some(TaskCursor::after(query.order, last, last_position).encode())
            }
            _ => None,
        };
        Ok::<_, DbErr>(Page { items, next_cursor })
    };
    read.await.map_err(repo_error)
}
