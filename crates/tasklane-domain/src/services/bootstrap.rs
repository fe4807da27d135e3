//! Get-or-create of a missing aggregation row (legacy or imported data), with the seed's
//! bootstrap cache and an explicit conflict-retry path.
//!
//! It runs when a task change found no row and rolled back, so the change in flight is not in the
//! database: the recount cannot count it, and the retried change adds it exactly once. While the
//! row is missing no task change can commit (each one rolls back the same way), so the recount
//! cannot go stale between the count and the insert.

use std::sync::Arc;
use std::time::Duration;

use crate::aggregation::{Aggregation, Counts};
use crate::errors::RepoError;
use crate::ids::ProjectId;
use crate::metrics::{self, CacheResult};
use crate::ports::InsertAggregationError;
use crate::services::Ports;
use crate::services::effects::detach;

/// Where the counts of a bootstrapped aggregation row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapSource {
    /// Another request created the row first (found on the first read, or after losing the
    /// insert race).
    Existing,
    /// The cache held the counts; the key is deleted after the insert committed.
    CacheHit,
    /// A `GROUP BY` recount (cache miss or cache error); the counts are cached after commit.
    Recount,
}

/// Makes sure `project_id` has an aggregation row.
///
/// # Errors
/// [`RepoError`] when the store fails. Cache failures are logged and counted, never returned.
#[tracing::instrument(skip_all, fields(%project_id))]
pub(crate) async fn ensure_aggregation(
    ports: &Ports,
    project_id: ProjectId,
    ttl: Duration,
) -> Result<BootstrapSource, RepoError> {
    if ports
        .aggregations
        .get_aggregation(project_id)
        .await?
        .is_some()
    {
        return Ok(BootstrapSource::Existing);
    }
    let (counts, source) = match ports.cache.get_bootstrap(project_id).await {
        Ok(Some(counts)) => {
            metrics::bootstrap_cache(CacheResult::Hit);
            (counts, BootstrapSource::CacheHit)
        }
        Ok(None) => {
            metrics::bootstrap_cache(CacheResult::Miss);
            (
                ports.aggregations.recount(project_id).await?,
                BootstrapSource::Recount,
            )
        }
        Err(error) => {
            tracing::warn!(error = %error, "bootstrap cache read failed; recounting");
            metrics::bootstrap_cache(CacheResult::Error);
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
        Ok(row) => {
            after_insert(ports, &row, source, ttl);
            Ok(source)
        }
        Err(InsertAggregationError::Conflict) => {
            // A concurrent request inserted the row first: use theirs and carry on.
            metrics::aggregation_conflict();
            tracing::info!("aggregation insert lost a race; re-reading the winner's row");
            match ports.aggregations.get_aggregation(project_id).await? {
                Some(_) => Ok(BootstrapSource::Existing),
                None => Err(RepoError::other(
                    "aggregation insert reported a conflict but no row exists",
                )),
            }
        }
        Err(InsertAggregationError::Store(error)) => Err(error),
    }
}

/// The cache side of a committed bootstrap insert, detached from the request.
fn after_insert(ports: &Ports, row: &Aggregation, source: BootstrapSource, ttl: Duration) {
    let cache = Arc::clone(&ports.cache);
    let project_id = row.project_id;
    match source {
        BootstrapSource::CacheHit => detach("delete bootstrap key", async move {
            if let Err(error) = cache.delete_bootstrap(project_id).await {
                tracing::warn!(%project_id, error = %error, "bootstrap key delete failed");
                metrics::bootstrap_cache(CacheResult::Error);
            }
        }),
        BootstrapSource::Recount => {
            let counts: Counts = row.counts;
            detach("cache bootstrap counts", async move {
                if let Err(error) = cache.put_bootstrap(project_id, counts, ttl).await {
                    tracing::warn!(%project_id, error = %error, "bootstrap cache write failed");
                    metrics::bootstrap_cache(CacheResult::Error);
                }
            });
        }
        BootstrapSource::Existing => {}
    }
}
