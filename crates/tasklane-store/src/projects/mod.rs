//! The project repository, on the entities: reads and changes of a project here, the read they
//! share in `select.rs`, its creation in `create.rs`, the listing in `read.rs`, members in
//! `members.rs`, statuses in `statuses.rs`.
//! Every change runs in one transaction that first locks the project row (PostgreSQL) and only
//! then reads its context, so that two concurrent changes cannot both decide on the same stale
//! state (two owners removing each other, two statuses renamed to one name).

mod create;
mod members;
mod read;
mod select;
mod statuses;

pub(crate) use read::contains_pattern;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryResult, QuerySelect};
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
use crate::convert::parsed;
use crate::db::{Dialect, in_transaction};
use crate::entities::{DbId, projects};
use crate::errors::{Fail, repo_error};

/// The role named in `column` of `row`, if any.
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
        projects::Entity::find()
            .select_only()
            .column(projects::Column::Id)
            .filter(select::by_id(d, project_id))
            .lock_exclusive()
            .into_tuple::<DbId>()
            .one(txn)
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
    let found = select::with_role(d, request.actor).filter(select::by_id(d, request.project_id));
    Ok(match select::one(txn, d, found).await? {
        Some(row) => ProjectContext {
            actor_role: row.role,
            project: Some(select::project(txn, d, row.project, row.aggregation).await?),
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
    use projects::Column as P;
    projects::Entity::update_many()
        .col_expr(P::Name, Expr::val(after.name.as_str()))
        .col_expr(P::Description, Expr::val(after.description.as_str()))
        .col_expr(P::ArchivedAt, Expr::val(d.opt_time(after.archived_at)))
        .col_expr(P::RowVersion, Expr::col(P::RowVersion).add(1))
        .col_expr(P::UpdatedAt, Expr::val(d.time(after.updated_at)))
        .filter(select::by_id(d, after.id))
        .exec(txn)
        .await?;
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
        let read = async {
            let found = select::with_role(d, viewer).filter(select::by_id(d, project_id));
            let Some(row) = select::one(&self.reader, d, found).await? else {
                return Ok(None);
            };
            Ok(Some(ProjectRead {
                role: row.role,
                project: select::project(&self.reader, d, row.project, row.aggregation).await?,
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
            projects::Entity::delete_many()
                .filter(select::by_id(d, request.project_id))
                .exec(txn)
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
