//! The context of a change to one task, read in one statement after the task is locked: the
//! task, the caller's role, the project, and whatever the change names (a status, an assignee,
//! a parent with its chain, the neighbours of a move, the sub-tree of a deletion).

use sea_orm::{ConnectionTrait, DbErr};
use serde::Deserialize;
use tasklane_domain::ids::TaskId;
use tasklane_domain::ports::{
    Neighbour, ParentCandidate, ProjectState, SubtaskState, TaskChangeRequest, TaskContext,
};
use tasklane_domain::rank::Rank;
use tasklane_domain::values::{StatusCategory, TaskKey};
use uuid::Uuid;

use crate::convert::{
    self, JSON_MEMBER, JsonLabel, JsonMember, JsonStatus, TASK_COLUMNS, TASK_FROM, parsed, valid,
};
use crate::db::{Dialect, json_flag, one};

#[derive(Debug, Deserialize)]
struct JsonNeighbour {
    id: Uuid,
    status_id: Uuid,
    status_name: String,
    category: String,
    rank: String,
    adjacent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JsonSubtask {
    id: Uuid,
    number: i64,
    category: String,
    #[serde(deserialize_with = "json_flag")]
    archived: bool,
}

/// A neighbour's JSON: the task, its column, and the next rank beyond it in that column
/// (`direction` `>` for the task to sit after, `<` for the one to sit before).
fn neighbour_sql(param: usize, direction: &str) -> String {
    let order = if direction == ">" { "ASC" } else { "DESC" };
    format!(
        "(SELECT {{obj}}('id', a.id, 'status_id', sa.id, 'status_name', sa.name, 'category', sa.category, 'rank', a.rank, \
            'adjacent', (SELECT n.rank FROM tasks n WHERE n.status_id = a.status_id AND n.archived_at IS NULL AND n.id <> $1 \
                           AND (n.rank {direction} a.rank OR (n.rank = a.rank AND n.id {direction} a.id)) \
                         ORDER BY n.rank {order}, n.id {order} LIMIT 1)) \
          FROM tasks a JOIN statuses sa ON sa.id = a.status_id \
          WHERE a.id = ${param} AND a.project_id = (SELECT project_id FROM tasks WHERE id = $1) AND a.archived_at IS NULL)"
    )
}

/// The context of a change, in one statement.
pub(super) async fn read_context(
    txn: &impl ConnectionTrait,
    d: Dialect,
    request: &TaskChangeRequest,
) -> Result<TaskContext, DbErr> {
    let lookup = &request.lookup;
    let mut values = vec![d.id(request.task_id), d.id(request.actor)];
    let mut column = |present: bool, id: Option<Uuid>, sql: &dyn Fn(usize) -> String| {
        if present {
            values.push(d.opt_id(id));
            sql(values.len())
        } else {
            "NULL".to_owned()
        }
    };
    let project = "(SELECT project_id FROM tasks WHERE id = $1)";
    let status = column(
        lookup.status_id.is_some(),
        lookup.status_id.map(|s| s.as_uuid()),
        &|n| {
            format!(
                "(SELECT {{obj}}('id', x.id, 'name', x.name, 'category', x.category) FROM statuses x WHERE x.id = ${n} AND x.project_id = {project})"
            )
        },
    );
    let assignee = column(
        lookup.assignee_id.is_some(),
        lookup.assignee_id.map(|u| u.as_uuid()),
        &|n| {
            format!(
                "(SELECT {JSON_MEMBER} FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.user_id = ${n} AND m.project_id = {project})"
            )
        },
    );
    let parent = column(
        lookup.parent_id.is_some(),
        lookup.parent_id.map(|p| p.as_uuid()),
        &|n| {
            format!(
                "(WITH RECURSIVE chain(id, parent_id, depth) AS ( \
                SELECT x.id, x.parent_id, 0 FROM tasks x WHERE x.id = ${n} AND x.project_id = {project} \
                UNION SELECT y.id, y.parent_id, chain.depth + 1 FROM tasks y JOIN chain ON y.id = chain.parent_id WHERE chain.depth < 10000) \
              SELECT {{agg}}(id ORDER BY depth) FROM chain)"
            )
        },
    );
    let after = column(
        lookup.after_id.is_some(),
        lookup.after_id.map(|t| t.as_uuid()),
        &|n| neighbour_sql(n, ">"),
    );
    let before = column(
        lookup.before_id.is_some(),
        lookup.before_id.map(|t| t.as_uuid()),
        &|n| neighbour_sql(n, "<"),
    );
    let labels = match &lookup.label_ids {
        Some(ids) => {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            values.push(serde_json::Value::from(ids).to_string().into());
            format!(
                "(SELECT COALESCE({{agg}}({{obj}}('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.id), {{arr0}}) \
                   FROM labels l WHERE l.project_id = t.project_id AND l.id IN {})",
                d.json_ids(values.len())
            )
        }
        None => "NULL".to_owned(),
    };
    let subtree = if lookup.subtree {
        "(WITH RECURSIVE sub(id) AS (SELECT id FROM tasks WHERE parent_id = $1 UNION SELECT c.id FROM tasks c JOIN sub ON c.parent_id = sub.id) \
           SELECT {agg}({obj}('id', x.id, 'number', x.number, 'category', sx.category, 'archived', x.archived_at IS NOT NULL)) \
           FROM sub JOIN tasks x ON x.id = sub.id JOIN statuses sx ON sx.id = x.status_id)"
            .to_owned()
    } else {
        "NULL".to_owned()
    };
    let sql = format!(
        "SELECT {TASK_COLUMNS}, p.archived_at AS project_archived_at, \
           (SELECT role FROM project_members WHERE project_id = t.project_id AND user_id = $2) AS actor_role, \
           {status} AS lookup_status, {assignee} AS lookup_assignee, {parent} AS lookup_parent, \
           {after} AS lookup_after, {before} AS lookup_before, {subtree} AS subtree, \
           {labels} AS lookup_labels \
         FROM {TASK_FROM} WHERE t.id = $1"
    );
    // Budget: a task change, statement 2 of 3: the context read.
    let Some(row) = one(txn, d.stmt(&sql, values)).await? else {
        return Ok(TaskContext {
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
        });
    };
    let r = d.row(&row);
    let task = convert::task(&r)?;
    let neighbour = |column: &str| -> Result<Option<Neighbour>, DbErr> {
        r.opt_json::<JsonNeighbour>(column)?
            .map(|n| {
                Ok(Neighbour {
                    id: TaskId::from_uuid(n.id),
                    status: JsonStatus {
                        id: n.status_id,
                        name: n.status_name,
                        category: n.category,
                        position: None,
                    }
                    .to_ref()?,
                    rank: valid("rank", Rank::parse(&n.rank))?,
                    adjacent: n
                        .adjacent
                        .map(|a| valid("rank", Rank::parse(&a)))
                        .transpose()?,
                })
            })
            .transpose()
    };
    let chain: Vec<Uuid> = r.opt_json("lookup_parent")?.unwrap_or_default();
    let subtree: Vec<JsonSubtask> = r.opt_json("subtree")?.unwrap_or_default();
    Ok(TaskContext {
        actor_role: r
            .opt_text("actor_role")?
            .map(|role| parsed("role", &role))
            .transpose()?,
        project: Some(ProjectState {
            id: task.project_id,
            key: task.key.project_key().clone(),
            archived_at: r.opt_time("project_archived_at")?,
        }),
        status: r
            .opt_json::<JsonStatus>("lookup_status")?
            .map(|s| s.to_ref())
            .transpose()?,
        assignee: r
            .opt_json::<JsonMember>("lookup_assignee")?
            .map(|m| m.to_member())
            .transpose()?,
        parent: chain
            .split_first()
            .map(|(parent, ancestors)| ParentCandidate {
                id: TaskId::from_uuid(*parent),
                ancestor_ids: ancestors.iter().copied().map(TaskId::from_uuid).collect(),
            }),
        after: neighbour("lookup_after")?,
        before: neighbour("lookup_before")?,
        subtree: subtree
            .into_iter()
            .map(|s| {
                Ok(SubtaskState {
                    id: TaskId::from_uuid(s.id),
                    key: TaskKey::new(task.key.project_key().clone(), convert::count(s.number)?),
                    category: parsed::<StatusCategory>("category", &s.category)?,
                    archived: s.archived,
                })
            })
            .collect::<Result<_, DbErr>>()?,
        labels: r
            .opt_json::<Vec<JsonLabel>>("lookup_labels")?
            .unwrap_or_default()
            .iter()
            .map(JsonLabel::to_label)
            .collect::<Result<_, DbErr>>()?,
        task: Some(task),
    })
}
