//! The listing of a caller's projects: newest activity first, keyset pages, search, the
//! archive filter and the derived-status filter.

use tasklane_domain::aggregation::DerivationPolicy;
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{Page, ProjectRead};
use tasklane_domain::ports::{ProjectCursor, ProjectQuery};

use super::{project_from, role};
use crate::Store;
use crate::convert::PROJECT_COLUMNS;
use crate::db::all;
use crate::errors::repo_error;

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

/// A page of `viewer`'s projects.
pub(super) async fn list(
    store: &Store,
    viewer: UserId,
    query: ProjectQuery,
) -> Result<Page<ProjectRead>, RepoError> {
    let d = store.dialect;
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
        let rows = all(&store.reader, d.stmt(&sql, values)).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows.iter().take(query.limit as usize) {
            items.push(ProjectRead {
                role: role(row, d, "role")?,
                project: project_from(&store.reader, d, row).await?,
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
