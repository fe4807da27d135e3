//! The event log's ports: how an event's data is encoded, how a write hands its events to the
//! store to log in its own transaction, and how the log is read back and pruned.
//!
//! # Order comes from `seq`
//! Every write method that changes a project takes a [`RecordEvents`] function. The store calls
//! it inside the write's transaction, after the write, with what was written, and appends the
//! events it returns to the project's log: each gets the next `seq` of its project (1, 2, 3, …
//! without gaps). The store MUST give out a project's numbers under a lock that the project's
//! other writers also need before they commit, and hold it until `COMMIT`, so that `seq` order is
//! commit order (PostgreSQL: the project's head row, taken last; SQLite: the single writer). The
//! write returns its events with their numbers ([`Logged`]); the service publishes them after
//! commit. Receivers order by `seq`, never by arrival.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::errors::RepoError;
use crate::events::{DomainEvent, EncodedEvent, LoggedEvent, StoredEvent};
use crate::ids::{ProjectId, TaskId, UserId};
use crate::values::Role;

/// Encodes an event's `data` in the clients' format (the server owns that format). The same
/// text is logged and sent live, so a replayed event is byte for byte what was sent live.
pub trait EventEncoder: Send + Sync {
    /// The event's `data`, as JSON text.
    fn encode(&self, event: &DomainEvent) -> String;
}

/// A write's events, from what the write did (see the module's documentation). It may be called
/// again when the store reruns the transaction.
pub type RecordEvents<R> = Box<dyn Fn(&R) -> Vec<EncodedEvent> + Send + Sync>;

/// What a write returned, and the events it logged, in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged<R> {
    /// The write's own result.
    pub value: R,
    /// Its events, numbered.
    pub events: Vec<LoggedEvent>,
}

/// Which events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventScope {
    /// Every event of the project.
    Project(ProjectId),
    /// The events about one task (numbered in its project's sequence).
    Task(TaskId),
}

/// A read of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventQuery {
    /// Which events.
    pub scope: EventScope,
    /// Who reads (their role decides whether they may).
    pub viewer: UserId,
    /// Only events with `seq > after`.
    pub after: u64,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// What the log holds for a query, with what the service needs to judge the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsRead {
    /// The reader's role in the project; `None` when not a member, or when the project (or
    /// the task) does not exist.
    pub viewer_role: Option<Role>,
    /// The project's last `seq` (0 before its first event).
    pub head: u64,
    /// The oldest `seq` still kept for the project (`None` when it has none).
    pub oldest: Option<u64>,
    /// The events, oldest first (empty for non-members).
    pub items: Vec<StoredEvent>,
}

/// Reads and prunes the log.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventLogRepository: Send + Sync {
    /// The events of `query`, with the reader's role and the project's head and oldest kept
    /// `seq`, in one consistent read.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn read_events(&self, query: EventQuery) -> Result<EventsRead, RepoError>;

    /// The head (last `seq`, 0 before the first event) of each of `projects` that exists.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn heads(&self, projects: Vec<ProjectId>) -> Result<Vec<(ProjectId, u64)>, RepoError>;

    /// Deletes events committed before `before`, except each project's newest event (its
    /// sequence continues from it). Returns how many were deleted.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, RepoError>;
}
