//! The event log over HTTP: catch-up pages and task histories.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklane_domain::events::StoredEvent;
use tasklane_domain::services::events::EventPage;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dto::rules;

/// `GET /projects/{id}/events` and `GET /tasks/{id}/events` query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventQueryDto {
    /// The last `seq` the client has seen (default 0).
    #[param(schema_with = rules::event_after)]
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(schema_with = rules::event_limit)]
    pub limit: Option<u32>,
}

/// One event of a project's log, as its live frame carried it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    /// Its place in the project's sequence.
    pub seq: u64,
    /// What happened (`task_created`, `task_updated`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it (the nil UUID for the server's own jobs).
    pub actor_id: Uuid,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// The event's data, as in its frame (`task_updated` also names each changed field's
    /// `previous` value).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A page of a project's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPageDto {
    /// The events, oldest first.
    pub items: Vec<EventDto>,
    /// Pass as `after` for the next page (the last item's `seq`, or the `after` asked with
    /// when there were none).
    pub next_after: u64,
}

impl From<&StoredEvent> for EventDto {
    fn from(event: &StoredEvent) -> Self {
        Self {
            seq: event.seq,
            kind: event.kind.clone(),
            actor_id: event.actor_id.as_uuid(),
            at: event.at,
            // The log holds what the encoder wrote; a row that is not JSON shows as null.
            data: serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

impl From<EventPage> for EventPageDto {
    fn from(page: EventPage) -> Self {
        Self {
            items: page.items.iter().map(EventDto::from).collect(),
            next_after: page.next_after,
        }
    }
}
