//! Tasklane's realtime layer (docs/realtime.md): the WebSocket endpoint with ticket authentication,
//! rooms per project, task and user with authorised joins, the hub behind the domain's
//! `EventBroadcaster` (publishing never blocks a request), delivery in `seq` order with gaps
//! filled from the project event log and `join {since}` catch-up, bounded per-socket queues,
//! heartbeats, the log poller that finds events nobody published, and the Redis pub/sub relay
//! that fans events out across instances.
//!
//! Wiring: [`RealtimeHub::start`] first (its [`HubHandle`] is the services' broadcaster), then
//! [`Realtime::new`] with a [`Directory`] built over those services, then [`connect`] in the
//! server's `/api/v1/ws` route.

mod audit;
mod connection;
mod directory;
mod envelope;
mod hub;
pub mod metrics;
mod outbox;
mod poller;
pub mod protocol;
mod relay;
mod sockets;

use std::sync::Arc;
use std::time::Duration;

pub use connection::connect;
pub use directory::{Directory, LogPage};
pub use hub::{CLOSE_TOO_SLOW, HubHandle};
pub use relay::{FanoutState, RelayOptions};

use crate::directory::MembershipCache;
use crate::hub::Hub;
use crate::sockets::UserSockets;

/// Limits and timings of the realtime layer (docs/realtime.md's values by default).
#[derive(Debug, Clone)]
pub struct RealtimeOptions {
    /// Frames a socket may have queued before it counts as fallen behind and is closed. The
    /// default holds two full task batches (500 events each); the queue allocates as it fills,
    /// so an idle socket pays nothing for it.
    pub queue_capacity: usize,
    /// Bytes a socket may have queued before it counts as fallen behind: with large events
    /// (long descriptions) the frame bound alone would let one stalled socket pin tens of MiB.
    /// The default holds two full task batches (a batch's events are at most about 1.5 MiB, the
    /// request body limit plus JSON).
    pub queue_bytes: usize,
    /// Open sockets one user may have on this instance; more are refused (429) at the handshake.
    pub max_connections_per_user: usize,
    /// Commands (events included) waiting for the hub before publishing fails.
    pub hub_capacity: usize,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A socket silent for this long is closed.
    pub idle_timeout: Duration,
    /// The longest one write to a socket may wait (a client that sends but never reads fills
    /// its buffers with answers); then the socket is closed.
    pub write_timeout: Duration,
    /// The largest client frame answered normally (larger: `too_large`).
    pub max_frame: usize,
    /// At most this many client frames…
    pub rate_limit: usize,
    /// …in this window (more: `rate_limited`, the frame is dropped).
    pub rate_window: Duration,
    /// How long a membership answer is trusted (membership changes evict it at once).
    pub membership_ttl: Duration,
    /// How often the heads of the projects watched here are read from the event log, to find
    /// events that were never published or never relayed (one indexed read per interval).
    pub log_poll_interval: Duration,
}

impl Default for RealtimeOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            queue_bytes: 4 * 1024 * 1024,
            max_connections_per_user: 16,
            hub_capacity: 65_536,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            write_timeout: Duration::from_secs(30),
            max_frame: 64 * 1024,
            rate_limit: 100,
            rate_window: Duration::from_secs(10),
            membership_ttl: Duration::from_secs(30),
            log_poll_interval: Duration::from_millis(250),
        }
    }
}

/// The running hub (and relay): publish through [`RealtimeHub::handle`].
#[derive(Debug, Clone)]
pub struct RealtimeHub {
    handle: HubHandle,
    fanout: Option<FanoutState>,
    options: RealtimeOptions,
}

impl RealtimeHub {
    /// Spawns the hub, and the relay when `relay` is given (a Redis that is down does not fail
    /// this: the relay keeps trying). Must run inside a Tokio runtime.
    ///
    /// # Errors
    /// When the relay's Redis URL is malformed.
    pub fn start(
        options: RealtimeOptions,
        relay: Option<RelayOptions>,
    ) -> anyhow::Result<RealtimeHub> {
        let membership = Arc::new(MembershipCache::new(options.membership_ttl));
        let (relay_sender, relay_receiver) = match relay {
            Some(_) => {
                let (sender, receiver) = tokio::sync::mpsc::channel(options.hub_capacity.max(1));
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let (hub, handle) = Hub::new(
            options.hub_capacity,
            options.queue_capacity,
            options.queue_bytes,
            relay_sender,
            membership,
        );
        tokio::spawn(hub.run());
        let fanout = match (relay, relay_receiver) {
            (Some(relay), Some(receiver)) => Some(relay::start(relay, receiver, handle.clone())?),
            _ => {
                metrics::fanout_up(false);
                None
            }
        };
        Ok(RealtimeHub {
            handle,
            fanout,
            options,
        })
    }

    /// The broadcaster to give the services.
    pub fn handle(&self) -> HubHandle {
        self.handle.clone()
    }

    /// The relay's state; `None` without Redis.
    pub fn fanout(&self) -> Option<FanoutState> {
        self.fanout.clone()
    }
}

/// Everything the WebSocket endpoint needs (cheap to clone; one per server).
#[derive(Clone)]
pub struct Realtime {
    hub: HubHandle,
    directory: Arc<dyn Directory>,
    options: RealtimeOptions,
    fanout: Option<FanoutState>,
    sockets: Arc<UserSockets>,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl Realtime {
    /// The endpoint over a started hub and a directory. Hands the directory to the hub (which
    /// fills gaps from the event log with it) and starts the log poller; with a relay it also
    /// starts the audit of removals missed while the fan-out was down (`audit.rs`). Must run
    /// inside a Tokio runtime.
    ///
    /// The directory is handed over in call order: of two endpoints made over one hub, the
    /// hub reads the later one's directory (a spawned send could let the earlier one land
    /// last). Only a full command queue, which a hub just started does not have, defers it.
    pub fn new(hub: &RealtimeHub, directory: Arc<dyn Directory>) -> Realtime {
        let handle = hub.handle();
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(command)) = handle
            .commands
            .try_send(hub::Command::Directory(directory.clone()))
        {
            tokio::spawn(async move { handle.send(command).await });
        }
        poller::start(
            hub.handle(),
            directory.clone(),
            hub.options.log_poll_interval,
        );
        if let Some(fanout) = hub.fanout() {
            audit::start(
                hub.handle(),
                directory.clone(),
                fanout,
                hub.options.membership_ttl,
            );
        }
        Realtime {
            hub: hub.handle(),
            directory,
            options: hub.options.clone(),
            fanout: hub.fanout(),
            sockets: Arc::new(UserSockets::new(hub.options.max_connections_per_user)),
        }
    }

    /// Whether membership answers may be cached: with several instances, only while removals
    /// made on the others reach this one (fan-out up; see `audit.rs` for what happens around a
    /// gap); alone, always.
    pub(crate) fn may_cache_memberships(&self) -> bool {
        self.fanout.as_ref().is_none_or(FanoutState::is_up)
    }

    /// How events reach other instances: `local` (no Redis configured), `up`, or `degraded`
    /// (Redis configured but the subscription is down).
    pub fn fanout_state(&self) -> &'static str {
        match &self.fanout {
            None => "local",
            Some(state) if state.is_up() => "up",
            Some(_) => "degraded",
        }
    }
}
