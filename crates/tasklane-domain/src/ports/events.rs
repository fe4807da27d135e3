//! The event log's ports: how an event's data is encoded, how a write hands its events to the
//! store to log in its own transaction, and how the log is read back and pruned.
//!
//! # Order comes from `seq`
//! Every write method that changes a project takes the function(s) that make its events
//! ([`RecordEvents`], or [`WriteEvents`] for the task writes). The store calls them inside the
//! write's transaction and appends the events they return to the project's log: each gets the
//! next `seq` of its project (1, 2, 3, … without gaps). The store MUST give out a project's
//! numbers under a lock that the project's other writers also need before they commit, and hold
//! it until `COMMIT`, so that `seq` order is commit order (PostgreSQL: the project's head row,
//! taken last; SQLite: the single writer). The write returns its events with their numbers
//! ([`Logged`]); the service publishes them after commit. Receivers order by `seq`, never by
//! arrival.
//!
//! # A write's events: what it wrote, then what followed
//! The task writes split their events in two ([`WriteEvents`]): first the events of the rows
//! written (`task_created`, `task_moved`, …), then those of how the write came out (the
//! project's restoration, its derived status's change). The split lets a store log the first
//! part inside the statement that writes the rows, with no round trip of its own: it calls
//! `written` before that statement, with the rows as the plan determines them and *stand-ins*
//! for the values only the database decides (a task's number, hence its key, and its rank), and
//! puts the decided values in the place of the stand-ins' text as the statement writes the rows.
//! That is why an [`EventEncoder`] MUST write a task's number, key and rank verbatim. The second
//! part needs the result, so it costs a statement, and only when there is such an event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::errors::RepoError;
use crate::events::{DomainEvent, EncodedEvent, LoggedEvent, StoredEvent};
use crate::ids::{ProjectId, TaskId, UserId};
use crate::model::Task;
use crate::ports::{TaskUpdated, TasksCreated};
use crate::values::Role;

/// Encodes an event's `data` in the clients' format (the server owns that format). The same
/// text is logged and sent live, so a replayed event is byte for byte what was sent live.
///
/// An encoder MUST write a task's number, key and rank verbatim (their `Display` text,
/// unescaped): a store may encode with stand-ins for them and replace the stand-ins' text
/// with the values the database decides (see the module's documentation).
pub trait EventEncoder: Send + Sync {
    /// The event's `data`, as JSON text.
    fn encode(&self, event: &DomainEvent) -> String;
}

/// A write's events, from what the write did (see the module's documentation). It may be called
/// again when the store reruns the transaction.
pub type RecordEvents<R> = Box<dyn Fn(&R) -> Vec<EncodedEvent> + Send + Sync>;

/// The events of a task write, in two parts, logged in this order (see the module's
/// documentation).
pub struct WriteEvents<W: ?Sized, R> {
    /// The events of the rows the write writes, from those rows. A store may call it before the
    /// write, with stand-ins for the values the database decides; it MUST NOT depend on anything
    /// else the database decides.
    pub written: RecordEvents<W>,
    /// The events of how the write came out, from its result; called after the write.
    pub outcome: RecordEvents<R>,
}

impl<W: ?Sized, R> std::fmt::Debug for WriteEvents<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteEvents").finish_non_exhaustive()
    }
}

/// A creation's events: `task_created` per task, then the project's restoration and the derived
/// status's change.
pub type CreationEvents = WriteEvents<[Task], TasksCreated>;

/// A change's events: the task's event (`task_updated`, `task_moved`, …), then the project's
/// restoration and the derived status's change.
pub type ChangeEvents = WriteEvents<TaskRevision, TaskUpdated>;

/// A task as a change writes it, and as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRevision {
    /// The task after the change.
    pub task: Task,
    /// The task before it.
    pub previous: Task,
}

/// All of a write's events from its result, in log order: what a store that does not log any of
/// them inside its write statement does.
pub trait EventsOf<R> {
    /// The events, encoded, in the order they are logged.
    fn events_of(&self, result: &R) -> Vec<EncodedEvent>;
}

impl<R> EventsOf<R> for RecordEvents<R> {
    fn events_of(&self, result: &R) -> Vec<EncodedEvent> {
        self(result)
    }
}

impl EventsOf<TasksCreated> for CreationEvents {
    fn events_of(&self, created: &TasksCreated) -> Vec<EncodedEvent> {
        let mut events = (self.written)(&created.tasks);
        events.extend((self.outcome)(created));
        events
    }
}

impl EventsOf<TaskUpdated> for ChangeEvents {
    fn events_of(&self, updated: &TaskUpdated) -> Vec<EncodedEvent> {
        let revision = TaskRevision {
            task: updated.task.clone(),
            previous: updated.previous.clone(),
        };
        let mut events = (self.written)(&revision);
        events.extend((self.outcome)(updated));
        events
    }
}

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
