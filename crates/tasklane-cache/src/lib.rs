//! # tasklane-cache
//!
//! Cache adapters. [`RawCache`] is the small key-value API every backend implements (get, set
//! with a TTL, set-if-absent, delete, take); [`RedisCache`] puts a timeout on every call and a
//! circuit breaker in front of Redis, [`MemoryCache`] keeps entries in the process with TTLs and
//! a size bound, [`NoCache`] keeps nothing. [`Caches`] puts the domain's typed uses on
//! top: the aggregation bootstrap values (`project_agg_init:{id}`) and single-use tickets.

mod breaker;
mod memory;
mod redis;
mod typed;

use std::time::Duration;

use async_trait::async_trait;

pub use breaker::Breaker;
pub use memory::MemoryCache;
pub use redis::{REDIS_FAILURES_TOTAL, REDIS_UP, RedisCache, RedisOptions};
pub use typed::Caches;

/// A cache operation that did not complete (backend down, too slow, bad value).
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable")]
pub struct RawCacheError(#[source] pub anyhow::Error);

/// The raw key-value API of a cache backend. Values are bytes; every call is bounded in time by
/// the backend.
#[async_trait]
pub trait RawCache: Send + Sync + std::fmt::Debug {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), RawCacheError>;
    /// Stores `value` under `key` for `ttl` unless the key exists; whether it was stored.
    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, RawCacheError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), RawCacheError>;
    /// Removes `key` and returns its value, atomically: at most one caller gets it.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError>;
    /// Whether the backend is believed to be reachable now.
    fn is_available(&self) -> bool {
        true
    }

    /// Whether this backend is Redis (shared between instances), as `/readyz` reports it.
    fn is_redis(&self) -> bool {
        false
    }
}

/// A cache that keeps nothing: every read misses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

#[async_trait]
impl RawCache for NoCache {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        Ok(None)
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: Duration) -> Result<(), RawCacheError> {
        Ok(())
    }
    async fn set_if_absent(&self, _: &str, _: Vec<u8>, _: Duration) -> Result<bool, RawCacheError> {
        Ok(true)
    }
    async fn delete(&self, _: &str) -> Result<(), RawCacheError> {
        Ok(())
    }
    async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        Ok(None)
    }
}
