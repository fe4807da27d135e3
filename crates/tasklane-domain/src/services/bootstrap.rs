//! Get-or-create of a missing aggregation row (legacy or imported data), with the seed's
//! bootstrap cache and an explicit conflict-retry path.
//!
//! It runs when a task change found no row and rolled back, so the change in flight is not in the
//! database: the recount cannot count it, and the retried change adds it exactly once. While the
//! row is missing no task change can commit (each one rolls back the same way), so the recount
//! cannot go stale between the count and the insert.
//!
//! The cache side (delete the used key, or store the recounted values) is returned as a
//! [`CacheFollowUp`] that the caller runs only after its retried change committed: a request that
//! rolls back leaves no cache key behind.
//!
//! Exactness of a hit: the cached counts carry the project's tasks version they were read at
//! (one consistent read of the row and the version, after the change committed). A hit whose
//! version is no longer current is stale (tasks changed since) and is treated as a miss, so a
//! cache hit can never put wrong counts into the row.

use std::sync::Arc;
use std::time::Duration;

use crate::errors::RepoError;
use crate::ids::ProjectId;
use crate::metrics::{self, CacheResult};
use crate::ports::{BootstrapValues, InsertAggregationError};
use crate::services::Ports;
use crate::services::effects::detach;

/// Where the counts of a bootstrapped aggregation row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapSource {
    /// Another request created the row first (found on the first read, or after losing the
    /// insert race).
    Existing,
    /// The cache held the counts; the key is deleted after the change committed.
    CacheHit,
    /// A `GROUP BY` recount (cache miss, stale entry or cache error); the row as it stands after
    /// the change committed is cached.
    Recount,
}

/// What the cache needs once the change that needed the bootstrap committed.
#[derive(Debug)]
#[must_use = "run it after the change commits, or drop it when the change fails"]
pub(crate) struct CacheFollowUp {
    project_id: ProjectId,
    action: Option<BootstrapSource>,
}

impl CacheFollowUp {
    fn nothing(project_id: ProjectId) -> Self {
        Self {
            project_id,
            action: None,
        }
    }

    /// Runs the cache write or delete, detached from the request.
    pub(crate) fn after_commit(self, ports: &Ports, ttl: Duration) {
        let Some(source) = self.action else {
            return;
        };
        let cache = Arc::clone(&ports.cache);
        let aggregations = Arc::clone(&ports.aggregations);
        let project_id = self.project_id;
        match source {
            BootstrapSource::CacheHit => detach("delete bootstrap key", async move {
                if let Err(error) = cache.delete_bootstrap(project_id).await {
                    tracing::debug!(%project_id, error = %error, "bootstrap key delete failed");
                    metrics::bootstrap_cache(CacheResult::Error);
                }
            }),
            BootstrapSource::Recount => detach("cache bootstrap counts", async move {
                // The row as it stands now, with the version it stands at: exact even if other
                // changes committed after ours.
                let snapshot = match aggregations.aggregation_snapshot(project_id).await {
                    Ok(snapshot) => snapshot,
                    Err(error) => {
                        tracing::warn!(%project_id, error = %error, "bootstrap snapshot failed; not caching");
                        return;
                    }
                };
                let Some(counts) = snapshot.counts else {
                    return;
                };
                let values = BootstrapValues {
                    counts,
                    tasks_version: snapshot.tasks_version,
                };
                if let Err(error) = cache.put_bootstrap(project_id, values, ttl).await {
                    tracing::debug!(%project_id, error = %error, "bootstrap cache write failed");
                    metrics::bootstrap_cache(CacheResult::Error);
                }
            }),
            BootstrapSource::Existing => {}
        }
    }
}

/// Makes sure `project_id` has an aggregation row; returns where its counts came from and the
/// cache follow-up to run after the caller's change commits.
///
/// # Errors
/// [`RepoError`] when the store fails. Cache failures are logged and counted, never returned.
#[tracing::instrument(skip_all, fields(%project_id))]
pub(crate) async fn ensure_aggregation(
    ports: &Ports,
    project_id: ProjectId,
) -> Result<(BootstrapSource, CacheFollowUp), RepoError> {
    if ports
        .aggregations
        .get_aggregation(project_id)
        .await?
        .is_some()
    {
        return Ok((
            BootstrapSource::Existing,
            CacheFollowUp::nothing(project_id),
        ));
    }
    let (counts, source) = match ports.cache.get_bootstrap(project_id).await {
        Ok(Some(cached)) if is_current(ports, project_id, cached).await? => {
            metrics::bootstrap_lookup(CacheResult::Hit);
            (cached.counts, BootstrapSource::CacheHit)
        }
        Ok(_) => {
            metrics::bootstrap_lookup(CacheResult::Miss);
            (
                ports.aggregations.recount(project_id).await?,
                BootstrapSource::Recount,
            )
        }
        Err(error) => {
            // Debug, not warn: the cache adapter logs its outages once per state change, and every
            // failure is counted; a log line per request would flood the logs during an outage.
            tracing::debug!(error = %error, "bootstrap cache read failed; recounting");
            metrics::bootstrap_lookup(CacheResult::Error);
            (
                ports.aggregations.recount(project_id).await?,
                BootstrapSource::Recount,
            )
        }
    };
    let at = ports.clock.now();
    match ports
        .aggregations
        .insert_aggregation(project_id, counts, at)
        .await
    {
        Ok(_) => Ok((
            source,
            CacheFollowUp {
                project_id,
                action: Some(source),
            },
        )),
        Err(InsertAggregationError::Conflict) => {
            // A concurrent request inserted the row first: use theirs and carry on.
            metrics::aggregation_conflict();
            tracing::info!("aggregation insert lost a race; re-reading the winner's row");
            match ports.aggregations.get_aggregation(project_id).await? {
                Some(_) => Ok((
                    BootstrapSource::Existing,
                    CacheFollowUp::nothing(project_id),
                )),
                None => Err(RepoError::other(
                    "aggregation insert reported a conflict but no row exists",
                )),
            }
        }
        Err(InsertAggregationError::Store(error)) => Err(error),
    }
}

/// Whether cached values still describe the project's tasks: no counted change happened since
/// they were read. While the row is missing no counted change can commit, so the answer holds
/// until the insert.
async fn is_current(
    ports: &Ports,
    project_id: ProjectId,
    cached: BootstrapValues,
) -> Result<bool, RepoError> {
    let current = ports
        .aggregations
        .aggregation_snapshot(project_id)
        .await?
        .tasks_version;
    if cached.tasks_version != current {
        tracing::info!(
            cached = cached.tasks_version,
            current,
            "bootstrap cache entry is stale; recounting"
        );
    }
    Ok(cached.tasks_version == current)
}
