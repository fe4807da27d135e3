//! The aggregation bootstrap cache port (the seed's Phase 2): values only, never objects.

use std::time::Duration;

use async_trait::async_trait;

use crate::aggregation::Counts;
use crate::ids::ProjectId;

/// The cache did not answer (down, slow past its timeout, or a bad value).
#[derive(Debug, thiserror::Error)]
#[error("the cache failed")]
pub struct CacheError(#[source] pub anyhow::Error);

/// The key under which a project's bootstrap counts are cached: `project_agg_init:{project_id}`.
pub fn bootstrap_key(project_id: ProjectId) -> String {
    format!("project_agg_init:{project_id}")
}

/// Cached aggregation counts, used only to create a missing aggregation row without a recount.
///
/// Every method is bounded in time by the adapter (a timeout on every remote call); callers treat
/// an error exactly like a miss and never fail a request because of it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AggregationCache: Send + Sync {
    /// The counts cached under [`bootstrap_key`]`(project_id)`, if any.
    ///
    /// # Errors
    /// [`CacheError`] when the cache cannot answer within its timeout or holds an unreadable value.
    async fn get_bootstrap(&self, project_id: ProjectId) -> Result<Option<Counts>, CacheError>;

    /// Stores `counts` under [`bootstrap_key`]`(project_id)` for `ttl`.
    ///
    /// # Errors
    /// [`CacheError`] when the write did not happen.
    async fn put_bootstrap(
        &self,
        project_id: ProjectId,
        counts: Counts,
        ttl: Duration,
    ) -> Result<(), CacheError>;

    /// Deletes the key, after the counts were used.
    ///
    /// # Errors
    /// [`CacheError`] when the delete did not happen (the key then expires by its TTL).
    async fn delete_bootstrap(&self, project_id: ProjectId) -> Result<(), CacheError>;
}
