//! The project repository: reads and changes of a project here, its creation in `create.rs`,
//! the listing in `read.rs`, members in `members.rs`, statuses in `statuses.rs`.
//! Every change runs in one transaction that first locks the project row (PostgreSQL) and only
//! then reads its context, so that two concurrent changes cannot both decide on the same stale
//! state (two owners removing each other, two statuses renamed to one name).

mod create;
mod members;
mod read;
mod statuses;

pub(crate) use read::contains_pattern;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, QueryResult};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::{Page, Project, ProjectRead};
use tasklane_domain::ports::{
    CreateProjectStoreError, Logged, MembersRead, MembershipChange, MembershipContext,
    MembershipRequest, NewProject, ProjectChangeRequest, ProjectContext, ProjectPatch,
    ProjectQuery, ProjectRepository, RecordEvents, StatusChangeRequest, StatusContext, StatusPlan,
    StatusesChanged, StatusesRead,
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
use crate::convert::{self, PROJECT_COLUMNS, PROJECT_FROM, parsed};
use crate::db::{Dialect, exec, in_transaction, one};
use crate::errors::{Fail, repo_error};

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

#[async_trait]
impl ProjectRepository for Store {
    #[tracing::instrument(skip_all, fields(project_id = %project.id, key = %project.key))]
    async fn create_project(
        &self,
        project: NewProject,
        events: RecordEvents<Project>,
    ) -> Result<Logged<Project>, CreateProjectStoreError> {
        create::create(self, project, events).await
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
        read::list(self, viewer, query).await
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
        members::list(self, project_id, viewer).await
    }

    #[tracing::instrument(skip_all, fields(project_id = %request.project_id, user_id = %request.user_id))]
    async fn set_member_role(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, SetMemberRoleError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<SetMemberRoleError>> {
        members::write(self, request, decide, record).await
    }

    async fn add_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, AddMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<AddMemberError>> {
        members::write(self, request, decide, record).await
    }

    #[tracing::instrument(skip_all, fields(project_id = %request.project_id, user_id = %request.user_id))]
    async fn remove_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, (), RemoveMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<RemoveMemberError>> {
        members::remove(self, request, decide, record).await
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn list_statuses(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<StatusesRead, RepoError> {
        statuses::list(self, project_id, viewer).await
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
        statuses::change_statuses(self, request, &decide, name_taken, || None, &record).await
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
        statuses::change_statuses(self, request, &decide, name_taken, || None, &record).await
    }

    async fn delete_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, DeleteStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<DeleteStatusError>> {
        statuses::change_statuses(
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
