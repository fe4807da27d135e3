//! The context of a creation, read in one statement and without a lock (the creation itself
//! serialises on the project row), and the domain's decision on it.

use sea_orm::{ConnectionTrait, DbErr};
use tasklane_domain::errors::Decide;
use tasklane_domain::ids::TaskId;
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, ProjectState,
};
use tasklane_domain::services::tasks::CreateTaskError;
use tasklane_domain::values::ProjectKey;
use uuid::Uuid;

use crate::convert::{self, JSON_MEMBER, JsonMember, JsonStatus, parsed, valid};
use crate::db::{Dialect, one};
use crate::errors::Fail;

/// The context of a creation, in one statement. It takes no lock: the creation itself
/// serialises on the project row.
pub(super) async fn read_context(
    txn: &impl ConnectionTrait,
    d: Dialect,
    request: &CreateTasksRequest,
) -> Result<CreateTasksContext, DbErr> {
    // The named assignees and parents travel as JSON arrays, so that the statement's text is the
    // same whatever their number (one prepared statement per connection, see
    // `postgres::creation_statement`).
    let ids = |ids: Vec<Uuid>| {
        serde_json::Value::from(
            ids.iter()
                .map(|id| id.hyphenated().to_string())
                .collect::<Vec<_>>(),
        )
        .to_string()
    };
    let values = vec![
        d.id(request.project_id),
        d.id(request.actor),
        ids(request.assignee_ids.iter().map(|id| id.as_uuid()).collect()).into(),
        ids(request.parent_ids.iter().map(|id| id.as_uuid()).collect()).into(),
    ];
    let sql = format!(
        "SELECT p.key, p.archived_at, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS actor_role, \
           (SELECT COALESCE({{agg}}({{obj}}('id', s.id, 'name', s.name, 'category', s.category) ORDER BY s.position), {{arr0}}) \
              FROM statuses s WHERE s.project_id = p.id) AS statuses, \
           (SELECT COALESCE({{agg}}({JSON_MEMBER}), {{arr0}}) FROM project_members m JOIN users u ON u.id = m.user_id \
              WHERE m.project_id = p.id AND m.user_id IN {assignees}) AS assignees, \
           (SELECT COALESCE({{agg}}(x.id), {{arr0}}) FROM tasks x WHERE x.project_id = p.id AND x.id IN {parents}) AS parents, \
           ru.id AS reporter_id, ru.email AS reporter_email, ru.display_name AS reporter_name, ru.avatar_url AS reporter_avatar \
         FROM projects p LEFT JOIN users ru ON ru.id = $2 WHERE p.id = $1",
        assignees = d.json_ids(3),
        parents = d.json_ids(4),
    );
    // Budget: a task creation, statement 1 of 2 on PostgreSQL: the context read.
    let Some(row) = one(txn, d.stmt(&sql, values)).await? else {
        let empty = CreateTasksContext {
            actor_role: None,
            project: None,
            statuses: Vec::new(),
            assignees: Vec::new(),
            parents: Vec::new(),
            reporter: None,
        };
        return Ok(empty);
    };
    let r = d.row(&row);
    let statuses: Vec<JsonStatus> = r.json("statuses")?;
    let members: Vec<JsonMember> = r.json("assignees")?;
    let parents: Vec<Uuid> = r.json("parents")?;
    let context = CreateTasksContext {
        actor_role: r
            .opt_text("actor_role")?
            .map(|role| parsed("role", &role))
            .transpose()?,
        project: Some(ProjectState {
            id: request.project_id,
            key: valid("project key", ProjectKey::new(&r.text("key")?))?,
            archived_at: r.opt_time("archived_at")?,
        }),
        statuses: statuses
            .iter()
            .map(JsonStatus::to_ref)
            .collect::<Result<_, _>>()?,
        assignees: members
            .iter()
            .map(JsonMember::to_member)
            .collect::<Result<_, _>>()?,
        parents: parents.into_iter().map(TaskId::from_uuid).collect(),
        reporter: convert::user_columns(&r, "reporter")?,
    };
    Ok(context)
}

/// Reads the context of a creation and runs the domain's decision on it: the plan and the
/// project it is for.
pub(crate) async fn decide_creation(
    db: &impl ConnectionTrait,
    d: Dialect,
    request: &CreateTasksRequest,
    decide: &Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
) -> Result<(CreateTasksPlan, ProjectState), Fail<CreateTaskError>> {
    let context = read_context(db, d, request).await?;
    let state = context.project.clone();
    let plan = decide(context).map_err(Fail::Rejected)?;
    let state =
        state.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a project")))?;
    Ok((plan, state))
}
