//! The project read the project paths share, on the entities: the project, its aggregation row
//! (a left join) and the caller's role, in one statement (the listing joins the members instead
//! of the role sub-query). A project whose aggregation row is
//! missing (legacy data) is recounted; nothing is written.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, QuerySelect,
    QueryTrait, SelectTwo,
};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::Project;
use tasklane_domain::values::Role;

use crate::aggregation::recount_in;
use crate::convert::{self, parsed};
use crate::db::Dialect;
use crate::entities::{DbId, project_aggregations, project_members, projects};

/// Projects with their aggregation rows; the columns are prefixed `A_` and `B_`.
pub(super) type ProjectSelect = SelectTwo<projects::Entity, project_aggregations::Entity>;

/// One row of a [`ProjectSelect`] with a `role` column.
pub(super) struct ProjectRow {
    pub project: projects::Model,
    pub aggregation: Option<project_aggregations::Model>,
    pub role: Option<Role>,
}

/// Projects with their aggregation rows and `user`'s role in each (`role`).
pub(super) fn with_role(d: Dialect, user: UserId) -> ProjectSelect {
    projects::Entity::find()
        .find_also_related(project_aggregations::Entity)
        .expr_as(Expr::from(role_of(d, user)), "role")
}

/// `user`'s role in the project of the enclosing query's row.
pub(super) fn role_of(d: Dialect, user: UserId) -> SelectStatement {
    use project_members::Column as M;
    Query::select()
        .column((project_members::Entity, M::Role))
        .from(project_members::Entity)
        .and_where(
            Expr::col((project_members::Entity, M::ProjectId))
                .equals((projects::Entity, projects::Column::Id)),
        )
        .and_where(M::UserId.eq(d.id(user)))
        .to_owned()
}

/// The filter on one project.
pub(super) fn by_id(d: Dialect, project_id: ProjectId) -> sea_orm::sea_query::Expr {
    projects::Column::Id.eq(d.id(project_id))
}

/// Reads a row of a [`ProjectSelect`] with a `role` column.
pub(super) fn read_row(row: &QueryResult) -> Result<ProjectRow, DbErr> {
    Ok(ProjectRow {
        project: projects::Model::from_query_result(row, "A_")?,
        // A missing row reads as nulls; a row that does not decode is an error, not "missing".
        aggregation: match row.try_get::<Option<DbId>>("B_", "project_id")? {
            Some(_) => Some(project_aggregations::Model::from_query_result(row, "B_")?),
            None => None,
        },
        role: row
            .try_get::<Option<String>>("", "role")?
            .map(|r| parsed("role", &r))
            .transpose()?,
    })
}

/// The project of a row, recounting when its aggregation row is missing.
pub(super) async fn project(
    db: &impl ConnectionTrait,
    d: Dialect,
    project: projects::Model,
    aggregation: Option<project_aggregations::Model>,
) -> Result<Project, DbErr> {
    let counts = match &aggregation {
        Some(_) => None,
        None => Some(recount_in(db, d, ProjectId::from_uuid(project.id.0)).await?),
    };
    convert::project_model(project, aggregation.as_ref(), || counts.unwrap_or_default())
}

/// Runs a [`ProjectSelect`] and reads its first row.
pub(super) async fn one(
    db: &impl ConnectionTrait,
    d: Dialect,
    select: ProjectSelect,
) -> Result<Option<ProjectRow>, DbErr> {
    let row = first_row(db, d, select).await?;
    row.as_ref().map(read_row).transpose()
}

/// Runs a [`ProjectSelect`] and returns its first row, for selects with more columns.
pub(super) async fn first_row(
    db: &impl ConnectionTrait,
    d: Dialect,
    select: ProjectSelect,
) -> Result<Option<QueryResult>, DbErr> {
    crate::db::one(db, select.build(d.backend())).await
}
