//! The listing of a caller's projects: newest activity first, keyset pages, search, the
//! archive filter and the derived-status filter.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait,
};
use tasklane_domain::aggregation::DerivationPolicy;
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{Page, ProjectRead};
use tasklane_domain::ports::{ProjectCursor, ProjectQuery};

use super::select;
use crate::Store;
use crate::db::all;
use crate::entities::{project_aggregations, project_members, projects};
use crate::errors::repo_error;

/// The derived status of a project from its left-joined `project_aggregations` row, in SQL: the
/// rules of [`DerivationPolicy::derive`], one `WHEN` each, in the same order (a contract test
/// holds the two equal for every policy). A project without its row counts as empty.
pub(crate) fn derived_status_sql(policy: DerivationPolicy) -> String {
    const A: &str = "project_aggregations";
    let earliest = match policy {
        DerivationPolicy::EarliestWins => format!("WHEN {A}.todo > 0 THEN 'todo' "),
        DerivationPolicy::ActiveWins => String::new(),
    };
    format!(
        "(CASE WHEN COALESCE({A}.total, 0) = 0 THEN 'todo' WHEN {A}.done = {A}.total THEN 'done' \
         WHEN {A}.issue > 0 THEN 'issue' {earliest}WHEN {A}.in_progress + {A}.in_review > 0 THEN 'in_progress' \
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

/// A page of `viewer`'s projects.
pub(super) async fn list(
    store: &Store,
    viewer: UserId,
    query: ProjectQuery,
) -> Result<Page<ProjectRead>, RepoError> {
    use project_members::Column as M;
    use projects::Column as P;
    let d = store.dialect;
    let mut select = projects::Entity::find()
        .find_also_related(project_aggregations::Entity)
        .join(JoinType::InnerJoin, projects::Relation::Members.def())
        .expr_as(Expr::col((project_members::Entity, M::Role)), "role")
        .filter(M::UserId.eq(d.id(viewer)));
    if !query.include_archived {
        select = select.filter(P::ArchivedAt.is_null());
    }
    if let Some(search) = &query.search {
        let pattern = contains_pattern(search);
        let like = |column: P| {
            Expr::expr(Func::lower(Expr::col((projects::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(Condition::any().add(like(P::Name)).add(like(P::Key)));
    }
    if let Some(cursor) = &query.cursor {
        let at = d.time(cursor.updated_at);
        select = select.filter(
            Condition::any().add(P::UpdatedAt.lt(at.clone())).add(
                Condition::all()
                    .add(P::UpdatedAt.eq(at))
                    .add(P::Id.lt(d.id(cursor.id))),
            ),
        );
    }
    if let Some(status) = query.derived_status {
        select = select.filter(Expr::cust(derived_status_sql(query.policy)).eq(status.as_str()));
    }
    let select = select
        .order_by_desc(P::UpdatedAt)
        .order_by_desc(P::Id)
        .limit(u64::from(query.limit) + 1)
        .build(d.backend());
    let read = async {
        let rows = all(&store.reader, select).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows.iter().take(query.limit as usize) {
            let row = select::read_row(row)?;
            items.push(ProjectRead {
                role: row.role,
                project: select::project(&store.reader, d, row.project, row.aggregation).await?,
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
