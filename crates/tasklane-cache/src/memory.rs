//! The in-process cache, for the embedded default and for a single instance without Redis: a
//! bounded moka cache with a TTL per entry. Full, it evicts the least recently used entries in
//! constant time per insert (no scan of the whole map under a lock), and always admits the new
//! one: a ticket just issued must be there when its client connects.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use crate::{RawCache, RawCacheError};

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    ttl: Duration,
    expires: Instant,
}

impl Entry {
    fn new(value: Vec<u8>, ttl: Duration) -> Self {
        Self {
            value,
            ttl,
            expires: Instant::now() + ttl,
        }
    }

    /// moka drops expired entries lazily; every read checks the entry's own deadline too.
    fn live(self) -> Option<Self> {
        (self.expires > Instant::now()).then_some(self)
    }
}

/// Each entry lives for the TTL it was stored with.
struct EntryTtl;

impl Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Entries with TTLs, at most `capacity` of them.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    entries: Cache<String, Entry>,
}

impl MemoryCache {
    /// A cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(capacity.max(1) as u64)
                .eviction_policy(EvictionPolicy::lru())
                .expire_after(EntryTtl)
                .build(),
        }
    }

    /// Entries held now (after pending evictions), for tests and diagnostics.
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl RawCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        Ok(self.entries.get(key).and_then(Entry::live).map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), RawCacheError> {
        self.entries.insert(key.to_owned(), Entry::new(value, ttl));
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, RawCacheError> {
        // Atomic per key: of two concurrent callers only one stores.
        let mut stored = false;
        self.entries
            .entry(key.to_owned())
            .and_compute_with(
                |existing| match existing.and_then(|e| e.into_value().live()) {
                    Some(_) => Op::Nop,
                    None => {
                        stored = true;
                        Op::Put(Entry::new(value, ttl))
                    }
                },
            );
        Ok(stored)
    }

    async fn delete(&self, key: &str) -> Result<(), RawCacheError> {
        self.entries.invalidate(key);
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        Ok(self
            .entries
            .remove(key)
            .and_then(Entry::live)
            .map(|e| e.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_are_taken_once_and_respect_the_size_bound() {
        let cache = MemoryCache::new(2);
        cache
            .set("a", b"1".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(cache.get("a").await.unwrap(), Some(b"1".to_vec()));
        assert!(
            !cache
                .set_if_absent("a", b"2".to_vec(), Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert_eq!(cache.take("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(cache.take("a").await.unwrap(), None, "single use");
        assert!(
            cache
                .set_if_absent("a", b"2".to_vec(), Duration::from_secs(60))
                .await
                .unwrap()
        );

        cache
            .set("short", b"x".to_vec(), Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get("short").await.unwrap(), None, "expired");
        assert_eq!(cache.take("short").await.unwrap(), None, "expired");

        for key in ["k1", "k2", "k3"] {
            cache
                .set(key, b"v".to_vec(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(cache.len() <= 2, "bounded: {}", cache.len());
        assert_eq!(
            cache.get("k3").await.unwrap(),
            Some(b"v".to_vec()),
            "the newest entry is always admitted"
        );
    }
}
