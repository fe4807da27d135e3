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

/// What the bootstrap key holds: the counts and the tasks version they were read at (see
/// [`crate::ports::AggregationSnapshot`]). Values only, never objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapValues {
    /// The aggregation counts.
    pub counts: Counts,
    /// The project's tasks version when the counts were read.
    pub tasks_version: u64,
}

/// Cached aggregation counts, used only to create a missing aggregation row without a recount.
///
/// Every method is bounded in time by the adapter (a timeout on every remote call); callers treat
/// an error exactly like a miss and never fail a request because of it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AggregationCache: Send + Sync {
    /// The values cached under [`bootstrap_key`]`(project_id)`, if any.
    ///
    /// # Errors
    /// [`CacheError`] when the cache cannot answer within its timeout or holds an unreadable value.
    async fn get_bootstrap(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<BootstrapValues>, CacheError>;

    /// Stores `values` under [`bootstrap_key`]`(project_id)` for `ttl`.
    ///
    /// # Errors
    /// [`CacheError`] when the write did not happen.
    async fn put_bootstrap(
        &self,
        project_id: ProjectId,
        values: BootstrapValues,
        ttl: Duration,
    ) -> Result<(), CacheError>;

    /// Deletes the key, after the counts were used.
    ///
    /// # Errors
    /// [`CacheError`] when the delete did not happen (the key then expires by its TTL).
    async fn delete_bootstrap(&self, project_id: ProjectId) -> Result<(), CacheError>;
}
