//! The hub's clonable handle: how requests publish (a non-blocking `try_send`, the domain's
//! `EventBroadcaster`), how connections talk to the hub, and how other instances' events arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ports::{BroadcastError, EventBroadcaster};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::directory::MembershipCache;
use crate::envelope::Envelope;

use super::{Command, ConnId};

/// The clonable side of the hub.
#[derive(Clone)]
pub struct HubHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(super) instance: Uuid,
    pub(super) next_id: Arc<AtomicU64>,
    pub(crate) membership: Arc<MembershipCache>,
    /// Events from other instances dropped because the hub's queue was full.
    pub(super) missed: Arc<AtomicU64>,
}

impl std::fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubHandle")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl HubHandle {
    /// This instance's id (the `origin` of what it publishes).
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a command, waiting for room in the queue (connections may wait; requests never do).
    pub(crate) async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// Hands over an envelope received from another instance. When the hub's queue is full the
    /// envelope is dropped; a removal in it would be missed, so the next audit is asked for.
    pub(crate) fn remote(&self, envelope: Envelope) -> bool {
        let delivered = self.commands.try_send(Command::Remote(envelope)).is_ok();
        if !delivered {
            self.missed.fetch_add(1, Ordering::SeqCst);
        }
        delivered
    }

    /// How many events from other instances were dropped so far.
    pub(crate) fn missed(&self) -> u64 {
        self.missed.load(Ordering::SeqCst)
    }
}

impl EventBroadcaster for HubHandle {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        self.commands
            .try_send(Command::Publish(event))
            .map_err(|error| {
                let why = match error {
                    mpsc::error::TrySendError::Full(_) => "the hub's queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the hub is gone",
                };
                BroadcastError(anyhow::anyhow!(why))
            })
    }
}
