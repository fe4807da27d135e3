//! In-memory adapters for every port of `tasklane-domain`: the domain reused as a library, with
//! no database and no server, for examples, tests and tools.
//!
//! [`MemoryStore`] implements every repository port over one set of tables behind a mutex. Each
//! write runs on a copy of the tables and replaces them only when it succeeds, so a write is
//! all-or-nothing like a transaction, and the lock held across it makes writes serial, as the
//! single writer of the embedded SQLite store does: the order of `seq` is the order of writes.
//! The cost of a write grows with the data; these adapters are for small worlds, not
//! production. The other adapters (a settable clock, a plain password "hasher", counting
//! tokens, a recording broadcaster, a map cache, a plain event encoder) are in [`simple`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tasklane_domain::services::users::RegisterInput;
//! use tasklane_memory::Memory;
//!
//! let memory = Memory::new();
//! let services = memory.services();
//! let session = services
//!     .sessions
//!     .register(RegisterInput {
//!         email: "ada@example.com".into(),
//!         password: "correct horse".into(),
//!         display_name: "Ada".into(),
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(session.user.summary.display_name.as_str(), "Ada");
//! # });
//! ```

mod aggregation;
mod comments;
mod events;
mod labels;
mod projects;
pub mod simple;
mod tables;
mod tasks;
mod users;

use std::sync::{Arc, Mutex, PoisonError};

use tasklane_domain::errors::{RepoError, TxError};
use tasklane_domain::services::{DomainSettings, Ports, Services};

use crate::simple::{
    ManualClock, MapCache, PlainEncoder, PlainPasswords, Recorder, SequentialTokens,
};
use crate::tables::Tables;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;

/// Every repository port over one set of in-memory tables. Clones share the tables.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

/// Why a write did not commit: the decision refused it, or the data broke a rule the store
/// keeps (a missing row, a taken name).
pub(crate) enum Abort<E> {
    Rejected(E),
    AggregationMissing,
    Store(RepoError),
}

impl<E> From<RepoError> for Abort<E> {
    fn from(error: RepoError) -> Self {
        Abort::Store(error)
    }
}

impl<E> From<Abort<E>> for TxError<E> {
    fn from(abort: Abort<E>) -> Self {
        match abort {
            Abort::Rejected(error) => TxError::Rejected(error),
            Abort::AggregationMissing => TxError::AggregationMissing,
            Abort::Store(error) => TxError::Store(error),
        }
    }
}

impl MemoryStore {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the tables.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Tables) -> T) -> T {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        read(&tables)
    }

    /// Runs `write` on a copy of the tables and keeps the copy only if it succeeds.
    pub(crate) fn write<T, E>(
        &self,
        write: impl FnOnce(&mut Tables) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let mut draft = tables.clone();
        let value = write(&mut draft)?;
        *tables = draft;
        Ok(value)
    }
}

/// A whole in-memory world: the store, the clock, the tokens, the broadcaster that records what
/// was published, and the domain's services over them.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Every repository.
    pub store: MemoryStore,
    /// The clock the services read; move it to test time.
    pub clock: Arc<ManualClock>,
    /// What the services published, in order.
    pub published: Arc<Recorder>,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    /// An empty world whose clock starts at the current time.
    pub fn new() -> Self {
        Self {
            store: MemoryStore::new(),
            clock: Arc::new(ManualClock::starting_now()),
            published: Arc::new(Recorder::default()),
        }
    }

    /// The ports, every one in memory.
    pub fn ports(&self) -> Ports {
        let store = Arc::new(self.store.clone());
        Ports {
            users: store.clone(),
            projects: store.clone(),
            tasks: store.clone(),
            comments: store.clone(),
            labels: store.clone(),
            aggregations: store.clone(),
            events: store.clone(),
            refresh_tokens: store.clone(),
            idempotency: store,
            cache: Arc::new(MapCache::default()),
            encoder: Arc::new(PlainEncoder),
            broadcaster: self.published.clone(),
            clock: self.clock.clone(),
            passwords: Arc::new(PlainPasswords),
            tokens: Arc::new(SequentialTokens::default()),
        }
    }

    /// The domain's services over [`Memory::ports`], with the default settings.
    pub fn services(&self) -> Services {
        Services::new(self.ports(), DomainSettings::default())
    }
}
