//! The auto-archive job's store side: archive a batch of old done tasks, update each project's
//! aggregation and log each project's events in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use tasklane_domain::aggregation::{AggregationChange, AggregationDelta, Counts};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{ArchivedByJob, Logged, RecordEvents};
use tasklane_domain::values::StatusCategory;
use uuid::Uuid;

use super::update_aggregation;
use crate::Store;
use crate::convert::{self, TASK_COLUMNS, TASK_FROM};
use crate::db::{Dialect, all, in_transaction};
use crate::errors::Fail;

pub(super) async fn archive_done_tasks(
    store: &Store,
    cutoff: DateTime<Utc>,
    limit: u32,
    at: DateTime<Utc>,
    record: &RecordEvents<ArchivedByJob>,
) -> Result<Vec<Logged<ArchivedByJob>>, RepoError> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<
        Vec<Logged<ArchivedByJob>>,
        Fail<()>,
    > {
        // Lock candidates first (skipping rows a request holds), then archive only those that
        // still qualify on a fresh read: a task moved out of done meanwhile stays as it is.
        // `NO KEY UPDATE`: archiving changes no key, so a creation of a sub-task (whose foreign
        // key check takes `KEY SHARE` on its parent) does not wait for the job.
        let skip = match d {
            Dialect::Postgres => " FOR NO KEY UPDATE OF t SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let candidates = format!(
            "SELECT t.id FROM tasks t JOIN statuses s ON s.id = t.status_id \
             WHERE t.archived_at IS NULL AND s.category = 'done' AND t.completed_at < $1 \
             ORDER BY t.completed_at LIMIT $2{skip}"
        );
        let ids: Vec<Uuid> = all(
            txn,
            d.stmt(&candidates, vec![d.time(cutoff), i64::from(limit).into()]),
        )
        .await?
        .iter()
        .map(|row| d.row(row).id("id"))
        .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = Dialect::placeholders(4, ids.len());
        let mut values = vec![
            d.time(at),
            d.time(cutoff),
            StatusCategory::Done.as_str().into(),
        ];
        values.extend(ids.iter().map(|id| d.id(*id)));
        let archive = format!(
            "UPDATE tasks SET archived_at = $1, row_version = row_version + 1, updated_at = $1 \
             WHERE id IN ({list}) AND archived_at IS NULL AND completed_at < $2 \
               AND status_id IN (SELECT id FROM statuses WHERE category = $3) \
             RETURNING id, project_id"
        );
        let archived = all(txn, d.stmt(&archive, values)).await?;
        // In project order, as a creation group takes its projects: the job and a group that
        // spans some of the same projects take their aggregations in one order.
        let mut per_project: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for row in &archived {
            let r = d.row(row);
            per_project
                .entry(r.id("project_id")?)
                .or_default()
                .push(r.id("id")?);
        }
        let mut batches = Vec::with_capacity(per_project.len());
        for (project, task_ids) in per_project {
            let project_id = ProjectId::from_uuid(project);
            let n = i64::try_from(task_ids.len()).unwrap_or(i64::MAX);
            let delta = AggregationDelta {
                total: -n,
                done: -n,
                ..AggregationDelta::ZERO
            };
            // A project without an aggregation row is recounted when the row is next needed.
            let aggregation = update_aggregation(txn, d, project_id, &delta, at)
                .await?
                .unwrap_or(AggregationChange {
                    before: Counts::ZERO,
                    after: Counts::ZERO,
                });
            let list = Dialect::placeholders(1, task_ids.len());
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.id IN ({list}) ORDER BY t.number"
            );
            let rows = all(
                txn,
                d.stmt(&sql, task_ids.iter().map(|id| d.id(*id)).collect()),
            )
            .await?;
            let tasks = rows
                .iter()
                .map(|row| convert::task(&d.row(row)))
                .collect::<Result<_, DbErr>>()?;
            batches.push(ArchivedByJob {
                project_id,
                tasks,
                aggregation,
            });
        }
        // One append for every project, in a fixed project order.
        batches.sort_by_key(|batch| batch.project_id);
        let events: Vec<_> = batches.iter().flat_map(record).collect();
        let mut logged = crate::events::append(txn, d, events).await?;
        Ok(batches
            .into_iter()
            .map(|batch| {
                let split = logged.partition_point(|e| e.event.project_id == batch.project_id);
                let rest = logged.split_off(split);
                let events = std::mem::replace(&mut logged, rest);
                Logged {
                    value: batch,
                    events,
                }
            })
            .collect())
    })
    .map_err(Fail::into_repo)
}
