//! The small adapters: a clock that moves only when told, a password "hasher" that keeps the
//! password readable (for examples and tests only: it protects nothing), tokens counted in
//! issue order, a broadcaster that records what it is given, a cache in a map, and an event
//! encoder that writes each event's payload as Rust would print it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tasklane_domain::events::{DomainEvent, LoggedEvent};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::{
    AccessToken, AggregationCache, BootstrapValues, BroadcastError, CacheError, Clock,
    EventBroadcaster, EventEncoder, HashError, PasswordHasher, RefreshSecret, TokenIssuer,
};
use tasklane_domain::values::Password;
use uuid::Uuid;

/// A clock that stands still until it is moved.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock at `at` (to the microsecond, as the stores keep time).
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at.trunc_subsecs(6)))
    }

    /// A clock at the current time.
    pub fn starting_now() -> Self {
        Self::at(Utc::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps passwords as `plain:<password>`. Never use it where a password matters.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainPasswords;

#[async_trait]
impl PasswordHasher for PlainPasswords {
    async fn hash(&self, password: &Password) -> Result<String, HashError> {
        Ok(format!("plain:{}", password.expose()))
    }

    async fn verify(&self, password: &Password, phc: Option<String>) -> Result<bool, HashError> {
        Ok(phc.is_some_and(|phc| phc == format!("plain:{}", password.expose())))
    }
}

/// Tokens numbered in issue order: refresh tokens `refresh-<n>` (stored as `hash(…)`), access
/// tokens naming their user and session.
#[derive(Debug, Default)]
pub struct SequentialTokens {
    issued: AtomicU64,
}

impl TokenIssuer for SequentialTokens {
    fn new_refresh_token(&self) -> anyhow::Result<RefreshSecret> {
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("refresh-{n}");
        Ok(RefreshSecret {
            hash: self.hash_refresh_token(&token),
            token,
        })
    }

    fn hash_refresh_token(&self, token: &str) -> String {
        format!("hash({token})")
    }

    fn issue_access_token(
        &self,
        user: UserId,
        session: Uuid,
        _: DateTime<Utc>,
    ) -> anyhow::Result<AccessToken> {
        Ok(AccessToken {
            token: format!("access:{user}:{session}"),
            expires_in: 900,
        })
    }
}

/// Records every published event, in publication order.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<LoggedEvent>>);

impl Recorder {
    /// What was published so far.
    pub fn events(&self) -> Vec<LoggedEvent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes what was published so far, leaving the record empty.
    pub fn take(&self) -> Vec<LoggedEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl EventBroadcaster for Recorder {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
        Ok(())
    }
}

/// The bootstrap cache in a map; entries never expire (a process of this kind is short).
#[derive(Debug, Default)]
pub struct MapCache(Mutex<HashMap<ProjectId, BootstrapValues>>);

#[async_trait]
impl AggregationCache for MapCache {
    async fn get_bootstrap(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<BootstrapValues>, CacheError> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(&project_id).copied())
    }

    async fn put_bootstrap(
        &self,
        project_id: ProjectId,
        values: BootstrapValues,
        _: Duration,
    ) -> Result<(), CacheError> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(project_id, values);
        Ok(())
    }

    async fn delete_bootstrap(&self, project_id: ProjectId) -> Result<(), CacheError> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&project_id);
        Ok(())
    }
}

/// Writes an event's payload as its `Debug` text, which carries a task's number, key and rank
/// verbatim, as the encoder's contract asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainEncoder;

impl EventEncoder for PlainEncoder {
    fn encode(&self, event: &DomainEvent) -> String {
        format!("{:?}", event.payload)
    }
}
