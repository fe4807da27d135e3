//! Post-commit effects: publish events and write the cache without ever failing or delaying the
//! request that caused them.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::aggregation::{Aggregation, AggregationChange, DerivationPolicy};
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{ProjectId, UserId};
use crate::metrics;
use crate::ports::EventBroadcaster;

/// Publishes `events` in order. A failure is logged and counted, never returned.
pub(crate) fn publish(broadcaster: &dyn EventBroadcaster, events: Vec<DomainEvent>) {
    for event in events {
        let name = event.payload.name();
        let project_id = event.project_id;
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
