//! Post-commit effects: publish events and write the cache without ever failing or delaying the
//! request that caused them.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::aggregation::{Aggregation, AggregationChange, DerivationPolicy};
use crate::events::{DomainEvent, EncodedEvent, EventPayload, LoggedEvent};
use crate::ids::{ProjectId, UserId};
use crate::metrics;
use crate::ports::{EventBroadcaster, EventEncoder, RecordEvents, WriteEvents};

/// The [`RecordEvents`] of a write: `events` says what the write caused, from what it wrote;
/// each event is encoded once, here, for the log and the live frame alike.
pub(crate) fn record<R>(
    encoder: &Arc<dyn EventEncoder>,
    events: impl Fn(&R) -> Vec<DomainEvent> + Send + Sync + 'static,
) -> RecordEvents<R> {
    encoded(encoder, events)
}

/// The [`WriteEvents`] of a task write: `written` from the rows it writes, `outcome` from its
/// result (see [`WriteEvents`] for why they are apart).
pub(crate) fn record_write<W: ?Sized, R>(
    encoder: &Arc<dyn EventEncoder>,
    written: impl Fn(&W) -> Vec<DomainEvent> + Send + Sync + 'static,
    outcome: impl Fn(&R) -> Vec<DomainEvent> + Send + Sync + 'static,
) -> WriteEvents<W, R> {
    WriteEvents {
        written: encoded(encoder, written),
        outcome: encoded(encoder, outcome),
    }
}

fn encoded<T: ?Sized>(
    encoder: &Arc<dyn EventEncoder>,
    events: impl Fn(&T) -> Vec<DomainEvent> + Send + Sync + 'static,
) -> RecordEvents<T> {
    let encoder = encoder.clone();
    Box::new(move |written| {
        events(written)
            .into_iter()
            .map(|event| EncodedEvent {
                data: encoder.encode(&event),
                event,
            })
            .collect()
    })
}

/// Publishes logged `events`. A failure is logged and counted, never returned: the event stays
/// in the log, where receivers that noticed the gap find it.
pub(crate) fn publish(broadcaster: &dyn EventBroadcaster, events: Vec<LoggedEvent>) {
    for event in events {
        let name = event.event.payload.name();
        let project_id = event.event.project_id;
        if let Err(error) = broadcaster.publish(event) {
            tracing::warn!(event = name, %project_id, error = %error, "broadcast failed");
            metrics::broadcast_failed();
        }
    }
}

/// Runs `effect` detached from the request: the caller does not await it. Without a Tokio
/// runtime (a library user's own executor) the effect is skipped and logged; effects are
/// best-effort by design.
pub(crate) fn detach(what: &'static str, effect: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(effect);
        }
        Err(_) => tracing::warn!(
            effect = what,
            "no Tokio runtime; post-commit effect skipped"
        ),
    }
}

/// The `project_status_changed` event, when the change moved the derived status.
pub(crate) fn status_change_event(
    project_id: ProjectId,
    change: &AggregationChange,
    policy: DerivationPolicy,
    actor_id: UserId,
    at: DateTime<Utc>,
) -> Option<DomainEvent> {
    let (old_status, new_status) = change.status_transition(policy)?;
    Some(DomainEvent {
        project_id,
        actor_id,
        at,
        payload: EventPayload::ProjectStatusChanged {
            old_status,
            new_status,
            aggregation: Aggregation {
                project_id,
                counts: change.after,
                updated_at: at,
            },
        },
    })
}
