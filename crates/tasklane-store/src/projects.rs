//! The project repository: projects, members and statuses. Every change runs in one
//! transaction that first locks the project row (PostgreSQL) and only then reads its context,
//! so that two concurrent changes cannot both decide on the same stale state (two owners
//! removing each other, two statuses renamed to one name).
//!
//! Over 600 lines because it holds projects, members and statuses in one place;
//! splitting it by responsibility is left to the open restructuring issue (14), which names
//! this file.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, QueryResult};
use tasklane_domain::aggregation::{Aggregation, Counts, DerivationPolicy};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::{Member, Page, Project, ProjectRead, Status};
use tasklane_domain::ports::{
    CreateProjectStoreError, Logged, MembersRead, MembershipChange, MembershipContext,
    MembershipRequest, NewProject, ProjectChangeRequest, ProjectContext, ProjectCursor,
    ProjectPatch, ProjectQuery, ProjectRepository, RecordEvents, StatusChangeRequest,
    StatusContext, StatusPlan, StatusTarget, StatusesChanged, StatusesRead,
};
use tasklane_domain::services::members::{AddMemberError, RemoveMemberError, SetMemberRoleError};
use tasklane_domain::services::projects::{
    ArchiveProjectError, DeleteProjectError, UpdateProjectError,
};
use tasklane_domain::services::statuses::{
    CreateStatusError, DeleteStatusError, UpdateStatusError,
};
use tasklane_domain::values::Role;

use crate::Store;
use crate::aggregation::recount_in;
use crate::convert::{self, JsonStatus, PROJECT_COLUMNS, PROJECT_FROM, parsed};
use crate::db::{Dialect, all, exec, in_transaction, one};
use crate::errors::{Constraint, Fail, repo_error, violates};
use crate::events;

/// The derived status of project `p` from its aggregation row `a`, in SQL: the rules of
/// [`DerivationPolicy::derive`], one `WHEN` each, in the same order (a contract test holds the
/// two equal for every policy). A project without its row counts as empty.
pub(crate) fn derived_status_sql(policy: DerivationPolicy) -> String {
    let earliest = match policy {
        DerivationPolicy::EarliestWins => "WHEN a.todo > 0 THEN 'todo' ",
        DerivationPolicy::ActiveWins => "",
    };
    format!(
        "(CASE WHEN COALESCE(a.total, 0) = 0 THEN 'todo' WHEN a.done = a.total THEN 'done' \
         WHEN a.issue > 0 THEN 'issue' {earliest}WHEN a.in_progress + a.in_review > 0 THEN 'in_progress' \
         ELSE 'todo' END)"
    )
}

/// A `LIKE` pattern matching `text` anywhere, case-insensitively, with `%`, `_` and `\` literal.
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The project of `row` (from [`PROJECT_COLUMNS`]), recounting when its aggregation row is
/// missing (legacy data; nothing is written).
async fn project_from(
    db: &impl ConnectionTrait,
    d: Dialect,
    row: &QueryResult,
) -> Result<Project, DbErr> {
    let row = d.row(row);
    let counts = match convert::counts(&row)? {
        Some(counts) => counts,
        None => recount_in(db, d, ProjectId::from_uuid(row.id("id")?)).await?,
    };
    convert::project(&row, || counts)
}

fn role(row: &QueryResult, d: Dialect, column: &str) -> Result<Option<Role>, DbErr> {
    d.row(row)
        .opt_text(column)?
        .map(|r| parsed("role", &r))
        .transpose()
}

/// Locks the project row so that the context read after it sees every change committed before
/// and none can commit until this transaction ends. SQLite has one writer: nothing to lock.
pub(crate) async fn lock_project(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
) -> Result<(), DbErr> {
    if d == Dialect::Postgres {
        one(
            txn,
            d.stmt(
                "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
                vec![d.id(project_id)],
            ),
        )
        .await?;
    }
    Ok(())
}

/// The project and the actor's role, read after [`lock_project`].
async fn project_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: ProjectChangeRequest,
) -> Result<ProjectContext, DbErr> {
    lock_project(txn, d, request.project_id).await?;
    let sql = format!(
        "SELECT {PROJECT_COLUMNS}, (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS role \
         FROM {PROJECT_FROM} WHERE p.id = $1"
    );
    let row = one(
        txn,
        d.stmt(&sql, vec![d.id(request.project_id), d.id(request.actor)]),
    )
    .await?;
    Ok(match row {
        Some(row) => ProjectContext {
            actor_role: role(&row, d, "role")?,
            project: Some(project_from(txn, d, &row).await?),
        },
        None => ProjectContext {
            project: None,
            actor_role: None,
        },
    })
}

/// Writes a decided patch and returns the project after it.
async fn apply_patch(
    txn: &DatabaseTransaction,
    d: Dialect,
    project: Project,
    patch: ProjectPatch,
) -> Result<Project, DbErr> {
    let after = Project {
        name: patch.name.unwrap_or(project.name),
        description: patch.description.unwrap_or(project.description),
        archived_at: patch.archived_at.unwrap_or(project.archived_at),
        row_version: project.row_version + 1,
        updated_at: patch.at,
        ..project
    };
    let stmt = d.stmt(
        "UPDATE projects SET name = $2, description = $3, archived_at = $4, row_version = row_version + 1, updated_at = $5 \
         WHERE id = $1",
        vec![
            d.id(after.id),
            after.name.as_str().into(),
            after.description.as_str().into(),
            d.opt_time(after.archived_at),
            d.time(after.updated_at),
        ],
    );
    exec(txn, stmt).await?;
    Ok(after)
}

/// Runs one project change: lock, read the context, decide, apply.
async fn change_project<E>(
    store: &Store,
    request: ProjectChangeRequest,
    decide: &Decide<ProjectContext, ProjectPatch, E>,
    record: &RecordEvents<ProjectRead>,
) -> Result<Logged<ProjectRead>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(
        store.writer,
        |txn| -> Result<Logged<ProjectRead>, Fail<E>> {
            let context = project_context(txn, d, request).await?;
            let role = context.actor_role;
            let project = context.project.clone();
            let patch = decide(context).map_err(Fail::Rejected)?;
            let project = project
                .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a project")))?;
            let project = apply_patch(txn, d, project, patch).await?;
            Ok(crate::events::log(txn, d, ProjectRead { project, role }, record).await?)
        }
    )
    .map_err(Fail::into_tx)
}

/// The membership context, read after the project row is locked: the owner count cannot
/// change under the decision.
async fn membership_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: MembershipRequest,
) -> Result<MembershipContext, DbErr> {
    lock_project(txn, d, request.project_id).await?;
    let stmt = d.stmt(
        "SELECT p.id, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS actor_role, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $3) AS target_role, \
           (SELECT count(*) FROM project_members WHERE project_id = p.id AND role = 'owner') AS owners, \
           u.id AS target_id, u.email AS target_email, u.display_name AS target_name, u.avatar_url AS target_avatar \
         FROM projects p LEFT JOIN users u ON u.id = $3 WHERE p.id = $1",
        vec![d.id(request.project_id), d.id(request.actor), d.id(request.user_id)],
    );
    let Some(row) = one(txn, stmt).await? else {
        return Ok(MembershipContext {
            actor_role: None,
            target_user: None,
            target_role: None,
            owner_count: 0,
        });
    };
    Ok(MembershipContext {
        actor_role: role(&row, d, "actor_role")?,
        target_role: role(&row, d, "target_role")?,
        owner_count: convert::count(d.row(&row).int("owners")?)?,
        target_user: convert::user_columns(&d.row(&row), "target")?,
    })
}

/// The status context: the project (of the target status), locked, with its statuses.
async fn status_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: StatusChangeRequest,
) -> Result<(StatusContext, Option<ProjectId>), DbErr> {
    let (project_id, target) = match request.target {
        StatusTarget::Project(id) => (Some(id), None),
        StatusTarget::Status(id) => {
            let stmt = d.stmt(
                "SELECT project_id FROM statuses WHERE id = $1",
                vec![d.id(id)],
            );
            let project = one(txn, stmt)
                .await?
                .map(|row| d.row(&row).id("project_id"))
                .transpose()?;
            (project.map(ProjectId::from_uuid), Some(id))
        }
    };
    let empty = StatusContext {
        project: None,
        actor_role: None,
        statuses: Vec::new(),
        target_in_use: false,
    };
    let Some(project_id) = project_id else {
        return Ok((empty, None));
    };
    lock_project(txn, d, project_id).await?;
    let sql = format!(
        "SELECT {PROJECT_COLUMNS}, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS role, \
           (SELECT COALESCE({{agg}}({{obj}}('id', s.id, 'name', s.name, 'category', s.category, 'position', s.position) \
              ORDER BY s.position), {{arr0}}) FROM statuses s WHERE s.project_id = p.id) AS statuses, \
           EXISTS (SELECT 1 FROM tasks WHERE status_id = $3) AS in_use \
         FROM {PROJECT_FROM} WHERE p.id = $1"
    );
    let values = vec![d.id(project_id), d.id(request.actor), d.opt_id(target)];
    let Some(row) = one(txn, d.stmt(&sql, values)).await? else {
        return Ok((empty, None));
    };
    let statuses: Vec<JsonStatus> = d.row(&row).json("statuses")?;
    Ok((
        StatusContext {
            actor_role: role(&row, d, "role")?,
            statuses: statuses
                .iter()
                .map(|s| s.to_status(project_id))
                .collect::<Result<_, _>>()?,
            target_in_use: d.row(&row).flag("in_use")?,
            project: Some(project_from(txn, d, &row).await?),
        },
        Some(project_id),
    ))
}

/// Writes a decided status plan; returns the statuses in their new order. `on_name_taken` and
/// `on_in_use` turn the constraint violations a concurrent change can still cause into the
/// operation's errors.
async fn apply_status_plan<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
    current: Vec<Status>,
    plan: StatusPlan,
    on_name_taken: impl Fn(&StatusPlan) -> Option<E>,
    on_in_use: impl Fn() -> Option<E>,
) -> Result<Vec<Status>, Fail<E>> {
    // A name clash a concurrent change can still cause becomes the operation's error.
    let name_clash = |error: DbErr, plan: &StatusPlan| match on_name_taken(plan) {
        Some(rejection) if violates(&error, Constraint::StatusName) => Fail::Rejected(rejection),
        _ => Fail::Db(error),
    };
    if let Some(status) = &plan.create {
        let stmt = d.stmt(
            "INSERT INTO statuses (id, project_id, name, name_lower, category, position, append_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
            vec![
                d.id(status.id),
                d.id(project_id),
                status.name.as_str().into(),
                status.name.as_str().to_lowercase().into(),
                status.category.as_str().into(),
                i64::from(status.position).into(),
            ],
        );
        exec(txn, stmt).await.map_err(|e| name_clash(e, &plan))?;
    }
    if let Some((id, name)) = &plan.rename {
        let stmt = d.stmt(
            "UPDATE statuses SET name = $2, name_lower = $3 WHERE id = $1",
            vec![
                d.id(*id),
                name.as_str().into(),
                name.as_str().to_lowercase().into(),
            ],
        );
        exec(txn, stmt).await.map_err(|e| name_clash(e, &plan))?;
    }
    if let Some(id) = plan.delete {
        let stmt = d.stmt("DELETE FROM statuses WHERE id = $1", vec![d.id(id)]);
        exec(txn, stmt).await.map_err(|error| {
            let in_use = matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
            );
            match on_in_use() {
                Some(rejection) if in_use => Fail::Rejected(rejection),
                _ => Fail::Db(error),
            }
        })?;
    }
    if !plan.order.is_empty() {
        let cases: Vec<String> = (0..plan.order.len())
            .map(|i| format!("WHEN ${} THEN {i}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE statuses SET position = CASE id {} ELSE position END WHERE project_id = $1",
            cases.join(" ")
        );
        let mut values = vec![d.id(project_id)];
        values.extend(plan.order.iter().map(|id| d.id(*id)));
        exec(txn, d.stmt(&sql, values)).await?;
    }
    let mut all_statuses = current;
    all_statuses.extend(plan.create);
    if let Some((id, name)) = plan.rename {
        all_statuses
            .iter_mut()
            .filter(|s| s.id == id)
            .for_each(|s| s.name = name.clone());
    }
    Ok(plan
        .order
        .iter()
        .zip(0..)
        .filter_map(|(id, position)| {
            all_statuses.iter().find(|s| s.id == *id).map(|s| Status {
                position,
                ..s.clone()
            })
        })
        .collect())
}

/// Runs one status change: lock, read the context, decide, apply.
async fn change_statuses<E>(
    store: &Store,
    request: StatusChangeRequest,
    decide: &Decide<StatusContext, StatusPlan, E>,
    on_name_taken: impl Fn(&StatusPlan) -> Option<E>,
    on_in_use: impl Fn() -> Option<E>,
    record: &RecordEvents<StatusesChanged>,
) -> Result<Logged<StatusesChanged>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<
        Logged<StatusesChanged>,
        Fail<E>,
    > {
        let (context, project_id) = status_context(txn, d, request).await?;
        let current = context.statuses.clone();
        let plan = decide(context).map_err(Fail::Rejected)?;
        let project_id = project_id
            .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a project")))?;
        let statuses = apply_status_plan(
            txn,
            d,
            project_id,
            current,
            plan,
            &on_name_taken,
            &on_in_use,
        )
        .await?;
        let changed = StatusesChanged {
            project_id,
            statuses,
        };
        Ok(crate::events::log(txn, d, changed, record).await?)
    })
    .map_err(Fail::into_tx)
}

#[async_trait]
impl ProjectRepository for Store {
    #[tracing::instrument(skip_all, fields(project_id = %project.id, key = %project.key))]
    async fn create_project(
        &self,
        project: NewProject,
        events: RecordEvents<Project>,
    ) -> Result<Logged<Project>, CreateProjectStoreError> {
        let d = self.dialect;
        let created = Project {
            id: project.id,
            key: project.key.clone(),
            name: project.name.clone(),
            description: project.description.clone(),
            task_counter: 0,
            row_version: 1,
            archived_at: None,
            created_by: project.owner,
            created_at: project.created_at,
            updated_at: project.created_at,
            aggregation: Aggregation {
                project_id: project.id,
                counts: Counts::ZERO,
                updated_at: project.created_at,
            },
        };
        // Nothing of the new project is decided by the database: its events are known before.
        let encoded = events(&created);
        let result = in_transaction!(self.writer, |txn| -> Result<
            Vec<LoggedEvent>,
            Fail<CreateProjectStoreError>,
        > {
            let insert = d.stmt(
                "INSERT INTO projects (id, key, name, description, task_counter, row_version, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 0, 1, $5, $6, $6)",
                vec![
                    d.id(project.id),
                    project.key.as_str().into(),
                    project.name.as_str().into(),
                    project.description.as_str().into(),
                    d.id(project.owner),
                    d.time(project.created_at),
                ],
            );
            if let Err(error) = exec(txn, insert).await {
                return Err(if violates(&error, Constraint::ProjectKey) {
                    Fail::Rejected(CreateProjectStoreError::KeyTaken)
                } else if violates(&error, Constraint::ProjectCreator) {
                    Fail::Rejected(CreateProjectStoreError::UnknownOwner)
                } else {
                    Fail::Db(error)
                });
            }
            let owner = d.stmt(
                "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, 'owner', $3)",
                vec![d.id(project.id), d.id(project.owner), d.time(project.created_at)],
            );
            exec(txn, owner).await?;
            let rows: Vec<String> = (0..project.statuses.len())
                .map(|i| {
                    let p = 2 + i * 5;
                    format!(
                        "(${}, $1, ${}, ${}, ${}, ${}, 0)",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4
                    )
                })
                .collect();
            let mut values = vec![d.id(project.id)];
            for status in &project.statuses {
                values.extend([
                    d.id(status.id),
                    status.name.as_str().into(),
                    status.name.as_str().to_lowercase().into(),
                    status.category.as_str().into(),
                    i64::from(status.position).into(),
                ]);
            }
            let sql = format!(
                "INSERT INTO statuses (id, project_id, name, name_lower, category, position, append_seq) VALUES {}",
                rows.join(", ")
            );
            exec(txn, d.stmt(&sql, values)).await?;
            let aggregation = d.stmt(
                "INSERT INTO project_aggregations (project_id, total, todo, in_progress, in_review, issue, done, updated_at) \
                 VALUES ($1, 0, 0, 0, 0, 0, 0, $2)",
                vec![d.id(project.id), d.time(project.created_at)],
            );
            exec(txn, aggregation).await?;
            // The event log's head, so that the first event only updates it (see `events.rs`).
            let head = d.stmt(
                "INSERT INTO project_event_heads (project_id, seq) VALUES ($1, 0)",
                vec![d.id(project.id)],
            );
            exec(txn, head).await?;
            Ok(events::append(txn, d, encoded.clone()).await?)
        });
        match result {
            Ok(events) => Ok(Logged {
                value: created,
                events,
            }),
            Err(Fail::Rejected(error)) => Err(error),
            Err(other) => Err(CreateProjectStoreError::Store(other.into_repo())),
        }
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn get_project(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<Option<ProjectRead>, RepoError> {
        let d = self.dialect;
        let sql = format!(
            "SELECT {PROJECT_COLUMNS}, (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS role \
             FROM {PROJECT_FROM} WHERE p.id = $1"
        );
        let read = async {
            let Some(row) = one(
                &self.reader,
                d.stmt(&sql, vec![d.id(project_id), d.id(viewer)]),
            )
            .await?
            else {
                return Ok(None);
            };
            Ok(Some(ProjectRead {
                role: role(&row, d, "role")?,
                project: project_from(&self.reader, d, &row).await?,
            }))
        };
        read.await.map_err(repo_error)
    }

    #[tracing::instrument(skip_all, fields(%viewer))]
    async fn list_projects(
        &self,
        viewer: UserId,
        query: ProjectQuery,
    ) -> Result<Page<ProjectRead>, RepoError> {
        let d = self.dialect;
        let mut values = vec![d.id(viewer)];
        let mut filters = String::new();
        if !query.include_archived {
            filters.push_str(" AND p.archived_at IS NULL");
        }
        if let Some(search) = &query.search {
            values.push(contains_pattern(search).into());
            let n = values.len();
            filters.push_str(&format!(
                " AND (lower(p.name) LIKE ${n} ESCAPE '\\' OR lower(p.key) LIKE ${n} ESCAPE '\\')"
            ));
        }
        if let Some(cursor) = &query.cursor {
            values.push(d.time(cursor.updated_at));
            values.push(d.id(cursor.id));
            let (at, id) = (values.len() - 1, values.len());
            filters.push_str(&format!(
                " AND (p.updated_at < ${at} OR (p.updated_at = ${at} AND p.id < ${id}))"
            ));
        }
        if let Some(status) = query.derived_status {
            values.push(status.as_str().into());
            let n = values.len();
            let derived = derived_status_sql(query.policy);
            filters.push_str(&format!(" AND {derived} = ${n}"));
        }
        values.push(i64::from(query.limit + 1).into());
        let sql = format!(
            "SELECT {PROJECT_COLUMNS}, m.role AS role FROM project_members m JOIN projects p ON p.id = m.project_id \
             LEFT JOIN project_aggregations a ON a.project_id = p.id \
             WHERE m.user_id = $1{filters} ORDER BY p.updated_at DESC, p.id DESC LIMIT ${}",
            values.len()
        );
        let read = async {
            let rows = all(&self.reader, d.stmt(&sql, values)).await?;
            let mut items = Vec::with_capacity(rows.len());
            for row in rows.iter().take(query.limit as usize) {
                items.push(ProjectRead {
                    role: role(row, d, "role")?,
                    project: project_from(&self.reader, d, row).await?,
                });
            }
            let next_cursor = (rows.len() > query.limit as usize)
                .then(|| items.last())
                .flatten()
                .map(|last: &ProjectRead| {
                    ProjectCursor {
                        updated_at: last.project.updated_at,
                        id: last.project.id,
                    }
                    .encode()
                });
            Ok(Page { items, next_cursor })
        };
        read.await.map_err(repo_error)
    }

    async fn update_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, UpdateProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<UpdateProjectError>> {
        change_project(self, request, &decide, &record).await
    }

    async fn set_project_archived(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, ArchiveProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<ArchiveProjectError>> {
        change_project(self, request, &decide, &record).await
    }

    #[tracing::instrument(skip_all, fields(project_id = %request.project_id))]
    async fn delete_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, (), DeleteProjectError>,
        record: RecordEvents<()>,
    ) -> Result<Logged<()>, TxError<DeleteProjectError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<()>,
            Fail<DeleteProjectError>,
        > {
            let context = project_context(txn, d, request).await?;
            decide(context).map_err(Fail::Rejected)?;
            let head = crate::events::head_for_delete(txn, d, request.project_id).await?;
            exec(
                txn,
                d.stmt(
                    "DELETE FROM projects WHERE id = $1",
                    vec![d.id(request.project_id)],
                ),
            )
            .await?;
            Ok(Logged {
                value: (),
                events: crate::events::number_after(head, record(&())),
            })
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn list_members(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<MembersRead, RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "SELECT m.role, m.added_at, u.id AS user_id, u.email AS user_email, u.display_name AS user_name, \
               u.avatar_url AS user_avatar \
             FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, m.added_at, u.id",
            vec![d.id(project_id)],
        );
        let read = async {
            let mut members = Vec::new();
            for row in all(&self.reader, stmt).await? {
                let r = d.row(&row);
                let user = convert::user_columns(&r, "user")?
                    .ok_or_else(|| convert::corrupt("member", "no user"))?;
                members.push(Member {
                    user,
                    role: parsed("role", &r.text("role")?)?,
                    added_at: r.time("added_at")?,
                });
            }
            let viewer_role = members.iter().find(|m| m.user.id == viewer).map(|m| m.role);
            if viewer_role.is_none() {
                members.clear();
            }
            Ok(MembersRead {
                viewer_role,
                members,
            })
        };
        read.await.map_err(repo_error)
    }

    #[tracing::instrument(skip_all, fields(project_id = %request.project_id, user_id = %request.user_id))]
    async fn set_member_role(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, SetMemberRoleError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<SetMemberRoleError>> {
        self.write_membership(request, decide, record).await
    }

    async fn add_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, AddMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<AddMemberError>> {
        self.write_membership(request, decide, record).await
    }

    #[tracing::instrument(skip_all, fields(project_id = %request.project_id, user_id = %request.user_id))]
    async fn remove_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, (), RemoveMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<RemoveMemberError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<MembershipChange>,
            Fail<RemoveMemberError>,
        > {
            let context = membership_context(txn, d, request).await?;
            let previous_role = context.target_role;
            decide(context).map_err(Fail::Rejected)?;
            let stmt = d.stmt(
                "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
                vec![d.id(request.project_id), d.id(request.user_id)],
            );
            exec(txn, stmt).await?;
            let change = MembershipChange {
                member: None,
                previous_role,
            };
            Ok(crate::events::log(txn, d, change, &record).await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn list_statuses(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<StatusesRead, RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "SELECT s.id, s.project_id, s.name, s.category, s.position, \
               (SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2) AS viewer_role \
             FROM statuses s WHERE s.project_id = $1 ORDER BY s.position, s.id",
            vec![d.id(project_id), d.id(viewer)],
        );
        let read = async {
            let rows = all(&self.reader, stmt).await?;
            let viewer_role = match rows.first() {
                Some(row) => role(row, d, "viewer_role")?,
                None => None,
            };
            let statuses = match viewer_role {
                Some(_) => rows
                    .iter()
                    .map(|row| convert::status(&d.row(row)))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            Ok(StatusesRead {
                viewer_role,
                statuses,
            })
        };
        read.await.map_err(repo_error)
    }

    async fn create_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, CreateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<CreateStatusError>> {
        let name_taken = |plan: &StatusPlan| {
            plan.create
                .as_ref()
                .map(|s| CreateStatusError::NameTaken(s.name.clone()))
        };
        change_statuses(self, request, &decide, name_taken, || None, &record).await
    }

    async fn update_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, UpdateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<UpdateStatusError>> {
        let name_taken = |plan: &StatusPlan| {
            plan.rename
                .as_ref()
                .map(|(_, n)| UpdateStatusError::NameTaken(n.clone()))
        };
        change_statuses(self, request, &decide, name_taken, || None, &record).await
    }

    async fn delete_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, DeleteStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<DeleteStatusError>> {
        change_statuses(
            self,
            request,
            &decide,
            |_| None,
            || Some(DeleteStatusError::InUse),
            &record,
        )
        .await
    }
}

impl Store {
    /// Inserts the membership, or changes its role, as `decide` says.
    async fn write_membership<E>(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, E>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<E>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<Logged<MembershipChange>, Fail<E>> {
            let context = membership_context(txn, d, request).await?;
            let (previous_role, user) = (context.target_role, context.target_user.clone());
            let role = decide(context).map_err(Fail::Rejected)?;
            let user = user.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a user")))?;
            let stmt = d.stmt(
                "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role RETURNING added_at",
                vec![d.id(request.project_id), d.id(request.user_id), role.as_str().into(), d.time(request.at)],
            );
            let row = one(txn, stmt).await?.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("membership not written")))?;
            let change = MembershipChange {
                member: Some(Member { user, role, added_at: d.row(&row).time("added_at")? }),
                previous_role,
            };
            Ok(crate::events::log(txn, d, change, &record).await?)
        })
        .map_err(Fail::into_tx)
    }
}
