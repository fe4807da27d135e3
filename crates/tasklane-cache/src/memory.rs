//! The in-process cache: a map with per-entry expiry and a size bound, for the embedded default
//! and for a single instance without Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{RawCache, RawCacheError};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

/// Entries with TTLs in a mutex-guarded map; expired entries are dropped when met, and when the
/// map is full the entries nearest their expiry make room.
#[derive(Debug)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl MemoryCache {
    /// A cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> T,
    ) -> Result<T, RawCacheError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| RawCacheError(anyhow::anyhow!("memory cache lock poisoned")))?;
        Ok(f(&mut entries, Instant::now()))
    }

    fn insert(
        entries: &mut HashMap<String, Entry>,
        now: Instant,
        capacity: usize,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) {
        if entries.len() >= capacity && !entries.contains_key(key) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= capacity
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires: now + ttl,
            },
        );
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
        self.with(|entries, now| match entries.get(key) {
            Some(entry) if entry.expires > now => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        })
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), RawCacheError> {
        let capacity = self.capacity;
        self.with(|entries, now| Self::insert(entries, now, capacity, key, value, ttl))
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, RawCacheError> {
        let capacity = self.capacity;
        self.with(|entries, now| {
            if entries.get(key).is_some_and(|e| e.expires > now) {
                false
            } else {
                Self::insert(entries, now, capacity, key, value, ttl);
                true
            }
        })
    }

    async fn delete(&self, key: &str) -> Result<(), RawCacheError> {
        self.with(|entries, _| {
            entries.remove(key);
        })
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        self.with(|entries, now| {
            entries
                .remove(key)
                .filter(|e| e.expires > now)
                .map(|e| e.value)
        })
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

        cache
            .set("short", b"x".to_vec(), Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get("short").await.unwrap(), None, "expired");

        for key in ["k1", "k2", "k3"] {
            cache
                .set(key, b"v".to_vec(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert_eq!(cache.entries.lock().unwrap().len(), 2, "bounded");
        assert_eq!(cache.get("k3").await.unwrap(), Some(b"v".to_vec()));
    }
}
