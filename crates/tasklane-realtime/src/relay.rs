//! Fan-out between instances through Redis pub/sub: every instance publishes the envelopes of its
//! own events to one channel and delivers what it receives from the others to its own sockets
//! (its own echo is ignored by the hub, so each event reaches local sockets exactly once).
//!
//! Redis never holds anything up: publishing is fed by a bounded queue and skips Redis for the
//! retry interval after a failure; the subscription reconnects every retry interval until Redis
//! answers again, without a restart. While it is down each instance delivers its own events only,
//! and says so in `tasklane_ws_fanout_up` and `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::envelope::Envelope;
use crate::hub::HubHandle;
use crate::metrics;

/// Where and how to relay.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The Redis URL.
    pub url: String,
    /// The pub/sub channel (instances that should see each other's events share it).
    pub channel: String,
    /// The longest a Redis call may take.
    pub timeout: Duration,
    /// How long to skip Redis after a failure, and how often to try to resubscribe.
    pub retry_interval: Duration,
}

/// Whether the subscription is live.
#[derive(Debug, Clone, Default)]
pub struct FanoutState(Arc<AtomicBool>);

impl FanoutState {
    /// True while this instance receives the other instances' events.
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, up: bool) {
        if self.0.swap(up, Ordering::SeqCst) != up {
            metrics::fanout_up(up);
        }
    }
}

/// Starts the publisher (fed by `outgoing`) and the subscriber (feeding `hub`).
pub(crate) fn start(
    options: RelayOptions,
    outgoing: mpsc::Receiver<String>,
    hub: HubHandle,
) -> anyhow::Result<FanoutState> {
    let client = redis::Client::open(options.url.as_str())?;
    let state = FanoutState::default();
    metrics::fanout_up(false);
    tokio::spawn(publish(client.clone(), options.clone(), outgoing));
    tokio::spawn(subscribe(client, options, hub, state.clone()));
    Ok(state)
}

async fn publish(
    client: redis::Client,
    options: RelayOptions,
    mut outgoing: mpsc::Receiver<String>,
) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    let mut skip_until: Option<Instant> = None;
    while let Some(envelope) = outgoing.recv().await {
        if skip_until.is_some_and(|until| Instant::now() < until) {
            metrics::broadcast_failed();
            continue;
        }
        let sent = async {
            if connection.is_none() {
                connection = Some(client.get_multiplexed_async_connection().await?);
            }
            match connection.as_mut() {
                Some(c) => c
                    .publish::<_, _, i64>(&options.channel, envelope)
                    .await
                    .map(drop),
                None => Ok(()),
            }
        };
        match tokio::time::timeout(options.timeout, sent).await {
            Ok(Ok(())) => {
                if skip_until.take().is_some() {
                    tracing::info!("fan-out publishing works again");
                }
            }
            outcome => {
                if skip_until.is_none() {
                    let error = match outcome {
                        Ok(Err(error)) => error.to_string(),
                        _ => format!("no answer within {:?}", options.timeout),
                    };
                    tracing::warn!(%error, "fan-out publishing failed; other instances miss events until Redis is back");
                }
                connection = None;
                skip_until = Some(Instant::now() + options.retry_interval);
                metrics::broadcast_failed();
            }
        }
    }
}

async fn subscribe(
    client: redis::Client,
    options: RelayOptions,
    hub: HubHandle,
    state: FanoutState,
) {
    let mut logged_down = false;
    loop {
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&options.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        // Connecting may take a little longer than one call; it is off the request path.
        match tokio::time::timeout(options.timeout * 20, connect).await {
            Ok(Ok(mut pubsub)) => {
                state.set(true);
                logged_down = false;
                tracing::info!(channel = %options.channel, "fan-out subscribed");
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let envelope = message
                        .get_payload::<String>()
                        .ok()
                        .and_then(|text| serde_json::from_str::<Envelope>(&text).ok());
                    match envelope {
                        Some(envelope) => {
                            if !hub.remote(envelope) {
                                tracing::warn!(
                                    "the hub's queue is full; a remote event was dropped"
                                );
                                metrics::broadcast_failed();
                            }
                        }
                        None => tracing::warn!("an unreadable fan-out message was ignored"),
                    }
                }
                state.set(false);
                tracing::warn!(
                    "fan-out subscription lost; delivering local events only until Redis is back"
                );
            }
            outcome => {
                state.set(false);
                if !logged_down {
                    let error = match outcome {
                        Ok(Err(error)) => error.to_string(),
                        _ => "no answer".to_owned(),
                    };
                    tracing::warn!(%error, "fan-out cannot subscribe; delivering local events only");
                    logged_down = true;
                }
            }
        }
        tokio::time::sleep(options.retry_interval).await;
    }
}
