//! The domain's uses of a raw cache: the aggregation bootstrap values and single-use tickets.
//! Values only, never objects: a bootstrap entry is seven comma-separated numbers, the six
//! counts and the tasks version they were read at.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tasklane_domain::aggregation::Counts;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{AggregationCache, BootstrapValues, CacheError, bootstrap_key};

use crate::{MemoryCache, RawCache, RawCacheError};

/// The typed caches over one raw backend.
#[derive(Debug, Clone)]
pub struct Caches {
    raw: Arc<dyn RawCache>,
    /// Tickets issued while the backend was down (this instance can still redeem them).
    local_tickets: Arc<MemoryCache>,
}

fn encode(values: &BootstrapValues) -> Vec<u8> {
    let numbers = values.counts.to_array().map(|n| n.to_string());
    format!("{},{}", numbers.join(","), values.tasks_version).into_bytes()
}

fn decode(bytes: &[u8]) -> Result<BootstrapValues, CacheError> {
    let bad = || CacheError(anyhow::anyhow!("unreadable bootstrap value"));
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let numbers: Vec<u64> = text
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [
        total,
        todo,
        in_progress,
        in_review,
        issue,
        done,
        tasks_version,
    ] = numbers[..]
    else {
        return Err(bad());
    };
    let counts = Counts {
        total,
        todo,
        in_progress,
        in_review,
        issue,
        done,
    };
    counts
        .is_consistent()
        .then_some(BootstrapValues {
            counts,
            tasks_version,
        })
        .ok_or_else(bad)
}

fn ticket_key(ticket: &str) -> String {
    format!("ws_ticket:{ticket}")
}

impl Caches {
    /// Typed caches over `raw`.
    pub fn new(raw: Arc<dyn RawCache>) -> Self {
        Self {
            raw,
            local_tickets: Arc::new(MemoryCache::new(10_000)),
        }
    }

    /// Whether the backend is believed reachable.
    pub fn is_available(&self) -> bool {
        self.raw.is_available()
    }

    /// Whether the backend is Redis.
    pub fn is_redis(&self) -> bool {
        self.raw.is_redis()
    }

    /// Whether Redis is in use and believed up (false for the in-process cache).
    pub fn redis_available(&self) -> bool {
        self.raw.is_redis() && self.raw.is_available()
    }

    /// Stores a single-use ticket for `ttl`, holding `value` (the user it was issued to). While
    /// the backend is down the ticket is kept in this process instead, so that a client of this
    /// instance can still connect.
    ///
    /// # Errors
    /// When neither the backend nor the process can keep it.
    pub async fn put_ticket(
        &self,
        ticket: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), RawCacheError> {
        let key = ticket_key(ticket);
        let bytes = value.as_bytes().to_vec();
        match self.raw.set(&key, bytes.clone(), ttl).await {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::debug!(%error, "ticket kept in process while the cache is down");
                self.local_tickets.set(&key, bytes, ttl).await
            }
        }
    }

    /// Consumes a ticket: its value the first time, `None` ever after or once expired.
    ///
    /// # Errors
    /// When the backend cannot answer and the ticket is not one kept in this process.
    pub async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, RawCacheError> {
        let key = ticket_key(ticket);
        let local = self.local_tickets.take(&key).await?;
        let found = match local {
            Some(bytes) => Some(bytes),
            None => self.raw.take(&key).await?,
        };
        Ok(found.and_then(|bytes| String::from_utf8(bytes).ok()))
    }
}

#[async_trait]
impl AggregationCache for Caches {
    async fn get_bootstrap(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<BootstrapValues>, CacheError> {
        match self.raw.get(&bootstrap_key(project_id)).await {
            Ok(Some(bytes)) => decode(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(error) => Err(CacheError(error.into())),
        }
    }

    async fn put_bootstrap(
        &self,
        project_id: ProjectId,
        values: BootstrapValues,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.raw
            .set(&bootstrap_key(project_id), encode(&values), ttl)
            .await
            .map_err(|e| CacheError(e.into()))
    }

    async fn delete_bootstrap(&self, project_id: ProjectId) -> Result<(), CacheError> {
        self.raw
            .delete(&bootstrap_key(project_id))
            .await
            .map_err(|e| CacheError(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryCache;

    #[tokio::test]
    async fn bootstrap_values_round_trip_as_plain_numbers_and_tickets_work_once() {
        let caches = Caches::new(Arc::new(MemoryCache::default()));
        let project = ProjectId::generate();
        let values = BootstrapValues {
            counts: Counts {
                total: 3,
                todo: 1,
                done: 2,
                ..Counts::ZERO
            },
            tasks_version: 17,
        };
        caches
            .put_bootstrap(project, values, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(caches.get_bootstrap(project).await.unwrap(), Some(values));
        assert_eq!(encode(&values), b"3,1,0,0,0,2,17");
        caches.delete_bootstrap(project).await.unwrap();
        assert_eq!(caches.get_bootstrap(project).await.unwrap(), None);
        assert!(decode(b"3,1,0,0,0,2").is_err(), "the version is required");
        assert!(
            decode(b"9,1,0,0,0,2,1").is_err(),
            "inconsistent totals are refused"
        );

        caches
            .put_ticket("t1", "user", Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            caches.take_ticket("t1").await.unwrap().as_deref(),
            Some("user")
        );
        assert_eq!(caches.take_ticket("t1").await.unwrap(), None);
    }
}
