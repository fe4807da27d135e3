//! An event on its way to sockets: the frame text, built once from plain data, and where it goes.
//! The same envelope is delivered locally and published to the other instances, which route it
//! with the same rules.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tasklane_domain::events::{DomainEvent, EventPayload};
use uuid::Uuid;

use crate::protocol;

/// Builds the `data` object of an event's frame (`project_id`, `actor_id`, `at` and the fields of
/// REALTIME.md) from the domain event, with the same JSON as the HTTP API. The server owns those
/// formats, so it provides this.
pub type EncodeData = Arc<dyn Fn(&DomainEvent) -> Value + Send + Sync>;

/// Who receives an event besides the `project:` room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Audience {
    /// The `project:` room only.
    Project,
    /// Also the `user:` room of every member of the project.
    Members,
    /// Also the `user:` room of this user.
    User(Uuid),
}

/// What the event changes about who may be where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Effect {
    /// The user became a member (or changed role).
    MemberAdded(Uuid),
    /// The user is no longer a member: out of the project's rooms on every instance.
    MemberRemoved(Uuid),
    /// The project is gone: everyone out of its rooms.
    ProjectDeleted,
}

/// One event, routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The instance that published it (it delivers locally and ignores its own echo).
    pub origin: Uuid,
    /// The project it belongs to.
    pub project: Uuid,
    /// The task whose `task:` room also receives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Uuid>,
    /// Who else receives it.
    pub audience: Audience,
    /// Its consequence for room membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// The frame text, as sent to sockets.
    pub frame: String,
}

impl Envelope {
    /// The envelope of `event`, published by instance `origin`.
    pub(crate) fn of(origin: Uuid, event: &DomainEvent, encode: &EncodeData) -> Envelope {
        let (task, audience, effect) = match &event.payload {
            EventPayload::TaskCreated { .. } => (None, Audience::Project, None),
            EventPayload::TaskUpdated { task, .. }
            | EventPayload::TaskMoved { task, .. }
            | EventPayload::TaskArchived { task }
            | EventPayload::TaskUnarchived { task } => {
                (Some(task.id.as_uuid()), Audience::Project, None)
            }
            EventPayload::TaskDeleted { task_id, .. } => {
                (Some(task_id.as_uuid()), Audience::Project, None)
            }
            EventPayload::ProjectStatusChanged { .. }
            | EventPayload::ProjectRestored { .. }
            | EventPayload::ProjectUpdated { .. }
            | EventPayload::ProjectArchived { .. } => (None, Audience::Members, None),
            EventPayload::ProjectDeleted => (None, Audience::Members, Some(Effect::ProjectDeleted)),
            EventPayload::MemberAdded { user_id, .. } => (
                None,
                Audience::User(user_id.as_uuid()),
                Some(Effect::MemberAdded(user_id.as_uuid())),
            ),
            EventPayload::MemberRemoved { user_id, .. } => (
                None,
                Audience::User(user_id.as_uuid()),
                Some(Effect::MemberRemoved(user_id.as_uuid())),
            ),
        };
        Envelope {
            origin,
            project: event.project_id.as_uuid(),
            task,
            audience,
            effect,
            frame: protocol::frame(event.payload.name(), encode(event)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use tasklane_domain::ids::{ProjectId, UserId};
    use tasklane_domain::values::Role;

    use super::*;

    #[test]
    fn member_events_reach_the_members_user_room_and_travel_as_json() {
        let encode: EncodeData =
            Arc::new(|event| json!({"project_id": event.project_id.to_string()}));
        let member = UserId::generate();
        let event = DomainEvent {
            project_id: ProjectId::generate(),
            actor_id: UserId::generate(),
            at: Utc::now(),
            payload: EventPayload::MemberRemoved {
                user_id: member,
                role: Role::Viewer,
            },
        };
        let envelope = Envelope::of(Uuid::nil(), &event, &encode);
        assert_eq!(envelope.audience, Audience::User(member.as_uuid()));
        assert_eq!(
            envelope.effect,
            Some(Effect::MemberRemoved(member.as_uuid()))
        );
        assert!(envelope.frame.contains(r#""type":"member_removed""#));
        let wire = serde_json::to_string(&envelope).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&wire).unwrap(), envelope);
    }
}
