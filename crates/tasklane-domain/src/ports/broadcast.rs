//! The broadcaster port: hands logged events to the realtime layer after commit, without
//! waiting.

use crate::events::LoggedEvent;

/// An event could not be queued (the hub is gone, or its queue is full).
#[derive(Debug, thiserror::Error)]
#[error("the event could not be queued for broadcast")]
pub struct BroadcastError(#[source] pub anyhow::Error);

/// Delivers domain events to connected clients (and other instances).
///
/// `publish` is deliberately not `async`: it is called after the transaction committed, on the
/// request path, and must return at once whatever happens to delivery.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventBroadcaster: Send + Sync {
    /// Queues `event` for delivery and returns immediately.
    ///
    /// Implementations MUST NOT block (no locks held across IO, no waiting for a full queue).
    /// Calls may arrive out of `seq` order (two transactions of one project commit, then publish,
    /// concurrently); receivers order by `seq`.
    ///
    /// # Errors
    /// [`BroadcastError`] when the event could not be queued. The caller logs and counts it; the
    /// request that caused the event still succeeds.
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError>;
}

/// A broadcaster that drops every event: for library users without realtime clients.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopBroadcaster;

impl EventBroadcaster for NoopBroadcaster {
    fn publish(&self, _event: LoggedEvent) -> Result<(), BroadcastError> {
        Ok(())
    }
}
