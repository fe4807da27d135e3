//! An event on its way to sockets: the frame text (`{"type", "seq", "data"}`), built once from
//! the logged event's data, and where it goes. The same envelope is delivered locally and
//! published to the other instances, which route it with the same rules; an event read back from
//! the log is routed by the same rules from the ids the log keeps.

use serde::{Deserialize, Serialize};
use tasklane_domain::events::{LoggedEvent, StoredEvent};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use uuid::Uuid;

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
    /// Its place in the project's sequence.
    pub seq: u64,
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
    /// The envelope of a logged `event`, published by instance `origin`.
    pub(crate) fn logged(origin: Uuid, event: &LoggedEvent) -> Envelope {
        let e = &event.event;
        Envelope::route(
            origin,
            e.project_id,
            event.seq,
            e.payload.name(),
            e.task_id(),
            e.member_id(),
            &event.data,
        )
    }

    /// The envelope of an event of `project` read back from the log (delivered here only).
    pub(crate) fn stored(origin: Uuid, project: ProjectId, event: &StoredEvent) -> Envelope {
        Envelope::route(
            origin,
            project,
            event.seq,
            &event.kind,
            event.task_id,
            event.member_id,
            &event.data,
        )
    }

    /// Routes by the event's type and the ids it concerns: task events also go to the task's
    /// room, project-level events to every member's `user:` room, membership events (and a
    /// project's creation, which makes its creator the first member) to the member's, with their
    /// consequence for room membership.
    fn route(
        origin: Uuid,
        project: ProjectId,
        seq: u64,
        kind: &str,
        task: Option<TaskId>,
        member: Option<UserId>,
        data: &str,
    ) -> Envelope {
        let member = member.map(|user| user.as_uuid());
        let (audience, effect) = match (kind, member) {
            ("project_deleted", _) => (Audience::Members, Some(Effect::ProjectDeleted)),
            ("member_added" | "project_created", Some(user)) => {
                (Audience::User(user), Some(Effect::MemberAdded(user)))
            }
            ("member_removed", Some(user)) => {
                (Audience::User(user), Some(Effect::MemberRemoved(user)))
            }
            (kind, _) if kind.starts_with("project_") => (Audience::Members, None),
            _ => (Audience::Project, None),
        };
        // A new task has no room yet: nobody can have joined it.
        let task = task
            .filter(|_| kind != "task_created")
            .map(|task| task.as_uuid());
        Envelope {
            origin,
            project: project.as_uuid(),
            seq,
            task,
            audience,
            effect,
            frame: frame(kind, seq, data),
        }
    }
}

/// An event frame: `data` is already JSON text, spliced in as it is.
fn frame(kind: &str, seq: u64, data: &str) -> String {
    let kind = serde_json::Value::from(kind);
    format!(r#"{{"type":{kind},"seq":{seq},"data":{data}}}"#)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tasklane_domain::events::{DomainEvent, EventPayload};
    use tasklane_domain::ids::{ProjectId, UserId};
    use tasklane_domain::values::Role;

    use super::*;

    #[test]
    fn member_events_reach_the_members_user_room_and_travel_as_json() {
        let member = UserId::generate();
        let event = LoggedEvent {
            seq: 7,
            event: DomainEvent {
                project_id: ProjectId::generate(),
                actor_id: UserId::generate(),
                at: Utc::now(),
                payload: EventPayload::MemberRemoved {
                    user_id: member,
                    role: Role::Viewer,
                },
            },
            data: r#"{"user_id":"x"}"#.to_owned(),
        };
        let envelope = Envelope::logged(Uuid::nil(), &event);
        assert_eq!(envelope.audience, Audience::User(member.as_uuid()));
        assert_eq!(
            envelope.effect,
            Some(Effect::MemberRemoved(member.as_uuid()))
        );
        let frame: serde_json::Value = serde_json::from_str(&envelope.frame).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "member_removed", "seq": 7, "data": {"user_id": "x"}})
        );
        let wire = serde_json::to_string(&envelope).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&wire).unwrap(), envelope);
    }

    #[test]
    fn an_event_read_back_from_the_log_is_routed_and_framed_as_it_was_live() {
        let member = UserId::generate();
        let project = ProjectId::generate();
        let live = LoggedEvent {
            seq: 3,
            event: DomainEvent {
                project_id: project,
                actor_id: member,
                at: Utc::now(),
                payload: EventPayload::MemberAdded {
                    user_id: member,
                    role: Role::Editor,
                },
            },
            data: r#"{"role":"editor"}"#.to_owned(),
        };
        let stored = StoredEvent {
            seq: 3,
            kind: "member_added".to_owned(),
            task_id: None,
            member_id: Some(member),
            actor_id: member,
            at: live.event.at,
            data: live.data.clone(),
        };
        assert_eq!(
            Envelope::stored(Uuid::nil(), project, &stored),
            Envelope::logged(Uuid::nil(), &live)
        );
    }
}
