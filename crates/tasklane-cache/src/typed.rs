//! The domain's uses of a raw cache: the aggregation bootstrap values and single-use tickets.
//! Values only, never objects: counts are stored as six comma-separated numbers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tasklane_domain::aggregation::Counts;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{AggregationCache, CacheError, bootstrap_key};

use crate::{RawCache, RawCacheError};

/// The typed caches over one raw backend.
#[derive(Debug, Clone)]
pub struct Caches {
    raw: Arc<dyn RawCache>,
}

fn encode(counts: &Counts) -> Vec<u8> {
    format!(
        "{},{},{},{},{},{}",
        counts.total, counts.todo, counts.in_progress, counts.in_review, counts.issue, counts.done
    )
    .into_bytes()
}

fn decode(bytes: &[u8]) -> Result<Counts, CacheError> {
    let bad = || CacheError(anyhow::anyhow!("unreadable bootstrap value"));
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let numbers: Vec<u64> = text
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [total, todo, in_progress, in_review, issue, done] = numbers[..] else {
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
    counts.is_consistent().then_some(counts).ok_or_else(bad)
}

fn ticket_key(ticket: &str) -> String {
    format!("ws_ticket:{ticket}")
}

impl Caches {
    /// Typed caches over `raw`.
    pub fn new(raw: Arc<dyn RawCache>) -> Self {
        Self { raw }
    }

    /// Whether the backend is believed reachable.
    pub fn is_available(&self) -> bool {
        self.raw.is_available()
    }

    /// Whether the backend is Redis.
    pub fn is_redis(&self) -> bool {
        self.raw.is_redis()
    }

    /// Stores a single-use ticket for `ttl`, holding `value` (the user it was issued to).
    ///
    /// # Errors
    /// When the backend cannot store it (the client cannot connect then; it may ask again).
    pub async fn put_ticket(
        &self,
        ticket: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), RawCacheError> {
        self.raw
            .set(&ticket_key(ticket), value.as_bytes().to_vec(), ttl)
            .await
    }

    /// Consumes a ticket: its value the first time, `None` ever after or once expired.
    ///
    /// # Errors
    /// When the backend cannot answer.
    pub async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, RawCacheError> {
        Ok(self
            .raw
            .take(&ticket_key(ticket))
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok()))
    }
}

#[async_trait]
impl AggregationCache for Caches {
    async fn get_bootstrap(&self, project_id: ProjectId) -> Result<Option<Counts>, CacheError> {
        match self.raw.get(&bootstrap_key(project_id)).await {
            Ok(Some(bytes)) => decode(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(error) => Err(CacheError(error.into())),
        }
    }

    async fn put_bootstrap(
        &self,
        project_id: ProjectId,
        counts: Counts,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.raw
            .set(&bootstrap_key(project_id), encode(&counts), ttl)
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
        let counts = Counts {
            total: 3,
            todo: 1,
            done: 2,
            ..Counts::ZERO
        };
        caches
            .put_bootstrap(project, counts, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(caches.get_bootstrap(project).await.unwrap(), Some(counts));
        assert_eq!(encode(&counts), b"3,1,0,0,0,2");
        caches.delete_bootstrap(project).await.unwrap();
        assert_eq!(caches.get_bootstrap(project).await.unwrap(), None);
        assert!(decode(b"3,1,0,0,0").is_err());
        assert!(
            decode(b"9,1,0,0,0,2").is_err(),
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
