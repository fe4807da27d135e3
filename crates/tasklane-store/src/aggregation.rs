//! The aggregation repository: read, the one-`GROUP BY` recount, the race-safe insert
//! (`ON CONFLICT DO NOTHING`: a lost race is reported, never raised inside anyone's
//! transaction), and the locked repair.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{
    AggregationRepair, AggregationRepository, AggregationSnapshot, InsertAggregationError, Logged,
    RecordEvents,
};
use tasklane_domain::values::StatusCategory;

use crate::Store;
use crate::convert::{self, int, parsed};
use crate::db::{Dialect, all, exec, in_transaction, one};
use crate::errors::{Fail, repo_error};

/// Counts the project's live tasks per category: one aggregate statement, no task is loaded.
pub(crate) async fn recount_in(
    db: &impl ConnectionTrait,
    d: Dialect,
    project_id: ProjectId,
) -> Result<Counts, DbErr> {
    // Count per status first (an index-only scan of `tasks_live_status_idx`), then fold the
    // few statuses into their categories.
    let stmt = d.stmt(
        "SELECT s.category, CAST(sum(c.n) AS BIGINT) AS n FROM \
           (SELECT status_id, count(*) AS n FROM tasks WHERE project_id = $1 AND archived_at IS NULL GROUP BY status_id) c \
         JOIN statuses s ON s.id = c.status_id GROUP BY s.category",
        vec![d.id(project_id)],
    );
    let rows = all(db, stmt).await?;
    let mut pairs = Vec::with_capacity(rows.len());
    for row in &rows {
        let row = d.row(row);
        let category: StatusCategory = parsed("category", &row.text("category")?)?;
        pairs.push((category, convert::count(row.int("n")?)?));
    }
    Ok(Counts::from_category_counts(pairs))
}

fn counter_values(counts: &Counts) -> Vec<sea_orm::Value> {
    counts
        .to_array()
        .into_iter()
        .map(|n| int(n).into())
        .collect()
}

#[async_trait]
impl AggregationRepository for Store {
    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn get_aggregation(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<Aggregation>, RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "SELECT total, todo, in_progress, in_review, issue, done, updated_at \
             FROM project_aggregations WHERE project_id = $1",
            vec![d.id(project_id)],
        );
        let Some(row) = one(&self.reader, stmt).await.map_err(repo_error)? else {
            return Ok(None);
        };
        let row = d.row(&row);
        let counts = convert::counts(&row)
            .map_err(repo_error)?
            .unwrap_or_default();
        Ok(Some(Aggregation {
            project_id,
            counts,
            updated_at: row.time("updated_at").map_err(repo_error)?,
        }))
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn aggregation_snapshot(
        &self,
        project_id: ProjectId,
    ) -> Result<AggregationSnapshot, RepoError> {
        let d = self.dialect;
        // One statement, so the counts and the version belong to the same moment.
        let stmt = d.stmt(
            "SELECT a.total, a.todo, a.in_progress, a.in_review, a.issue, a.done, \
                    COALESCE((SELECT v.version FROM project_task_versions v WHERE v.project_id = $1), 0) AS tasks_version \
             FROM (SELECT 1 AS one) o LEFT JOIN project_aggregations a ON a.project_id = $1",
            vec![d.id(project_id)],
        );
        let row = one(&self.reader, stmt)
            .await
            .map_err(repo_error)?
            .ok_or_else(|| RepoError::other("the snapshot query returned no row"))?;
        let row = d.row(&row);
        Ok(AggregationSnapshot {
            counts: convert::counts(&row).map_err(repo_error)?,
            tasks_version: convert::count(row.int("tasks_version").map_err(repo_error)?)
                .map_err(repo_error)?,
        })
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn recount(&self, project_id: ProjectId) -> Result<Counts, RepoError> {
        recount_in(&self.reader, self.dialect, project_id)
            .await
            .map_err(repo_error)
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn insert_aggregation(
        &self,
        project_id: ProjectId,
        counts: Counts,
        at: DateTime<Utc>,
    ) -> Result<Aggregation, InsertAggregationError> {
        let d = self.dialect;
        let mut values = vec![d.id(project_id)];
        values.extend(counter_values(&counts));
        values.push(d.time(at));
        let stmt = d.stmt(
            "INSERT INTO project_aggregations (project_id, total, todo, in_progress, in_review, issue, done, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project_id) DO NOTHING",
            values,
        );
        match exec(&self.writer, stmt).await.map_err(repo_error)? {
            0 => Err(InsertAggregationError::Conflict),
            _ => Ok(Aggregation {
                project_id,
                counts,
                updated_at: at,
            }),
        }
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn repair_aggregation(
        &self,
        project_id: ProjectId,
        at: DateTime<Utc>,
        record: RecordEvents<AggregationRepair>,
    ) -> Result<Logged<AggregationRepair>, RepoError> {
        let d = self.dialect;
        // Lock the row first: task changes of this project wait, so the recount that follows
        // (a fresh snapshot) is exact when it is written.
        let lock = match d {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let read = format!(
            "SELECT total, todo, in_progress, in_review, issue, done FROM project_aggregations WHERE project_id = $1{lock}"
        );
        in_transaction!(self.writer, |txn| -> Result<Logged<AggregationRepair>, Fail<()>> {
            let before = match one(txn, d.stmt(&read, vec![d.id(project_id)])).await? {
                Some(row) => convert::counts(&d.row(&row))?,
                None => None,
            };
            let after = recount_in(txn, d, project_id).await?;
            let mut values = vec![d.id(project_id)];
            values.extend(counter_values(&after));
            values.push(d.time(at));
            let upsert = d.stmt(
                "INSERT INTO project_aggregations (project_id, total, todo, in_progress, in_review, issue, done, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project_id) DO UPDATE SET \
                 total = excluded.total, todo = excluded.todo, in_progress = excluded.in_progress, \
                 in_review = excluded.in_review, issue = excluded.issue, done = excluded.done, updated_at = excluded.updated_at",
                values,
            );
            exec(txn, upsert).await?;
            let repair = AggregationRepair {
                before,
                after: Aggregation {
                    project_id,
                    counts: after,
                    updated_at: at,
                },
            };
            Ok(crate::events::log(txn, d, repair, &record).await?)
        })
        .map_err(Fail::into_repo)
    }
}
