//! The frames of docs/realtime.md: rooms, what a client may send, and the server's answers. Every
//! frame is a JSON text frame `{"type": "...", "data": {...}}`; event frames also carry their
//! project's `seq`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Value, json};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};

/// A room a socket can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Room {
    /// `project:<uuid>`: every event of the project.
    Project(ProjectId),
    /// `task:<uuid>`: the events of one task.
    Task(TaskId),
    /// `user:<uuid>`: project-level events of every project the user is a member of.
    User(UserId),
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Room::Project(id) => write!(f, "project:{id}"),
            Room::Task(id) => write!(f, "task:{id}"),
            Room::User(id) => write!(f, "user:{id}"),
        }
    }
}

impl FromStr for Room {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, id) = text.split_once(':').ok_or(())?;
        match kind {
            "project" => id.parse().map(Room::Project).map_err(drop),
            "task" => id.parse().map(Room::Task).map_err(drop),
            "user" => id.parse().map(Room::User).map_err(drop),
            _ => Err(()),
        }
    }
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `join {room, since?}`: with `since`, the room's events after that `seq` first.
    Join {
        /// The room.
        room: Room,
        /// The last `seq` the client has seen.
        since: Option<u64>,
    },
    /// `leave {room}`
    Leave(Room),
    /// `ping {}`
    Ping,
}

/// Why a client frame got an `error` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, or not `{type, data}`.
    InvalidJson,
    /// A `type` the server does not accept from clients.
    UnknownType,
    /// `join`/`leave` without a valid room.
    BadRoom,
    /// Over the frame size limit.
    TooLarge,
    /// Over the frame rate limit; the frame was dropped.
    RateLimited,
    /// The room needs a membership the user does not have.
    Forbidden,
    /// The check could not be made (the database is down); the client may try again.
    Unavailable,
    /// `since` is not a non-negative integer, is past the project's last event, or was given
    /// for a `user:` room (which has no sequence).
    BadSince,
    /// Events after `since` are no longer kept: the client must refetch what it shows.
    ResyncRequired,
}

impl FrameError {
    /// The `code` of the `error` frame.
    pub const fn code(self) -> &'static str {
        match self {
            FrameError::InvalidJson => "invalid_json",
            FrameError::UnknownType => "unknown_type",
            FrameError::BadRoom => "bad_room",
            FrameError::TooLarge => "too_large",
            FrameError::RateLimited => "rate_limited",
            FrameError::Forbidden => "forbidden",
            FrameError::Unavailable => "unavailable",
            FrameError::BadSince => "bad_since",
            FrameError::ResyncRequired => "resync_required",
        }
    }
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// Parses a client's text frame.
///
/// # Errors
/// [`FrameError`] for invalid JSON, an unknown type or a bad room.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let frame: RawFrame = serde_json::from_str(text).map_err(|_| FrameError::InvalidJson)?;
    let room = || {
        frame.data["room"]
            .as_str()
            .and_then(|room| room.parse().ok())
            .ok_or(FrameError::BadRoom)
    };
    match frame.kind.as_str() {
        "join" => {
            let room = room()?;
            let since = match &frame.data["since"] {
                Value::Null => None,
                since => Some(since.as_u64().ok_or(FrameError::BadSince)?),
            };
            Ok(ClientFrame::Join { room, since })
        }
        "leave" => room().map(ClientFrame::Leave),
        "ping" => Ok(ClientFrame::Ping),
        _ => Err(FrameError::UnknownType),
    }
}

/// A server frame's text.
pub fn frame(kind: &str, data: Value) -> String {
    json!({"type": kind, "data": data}).to_string()
}

/// The `error` answer.
pub fn error(error: FrameError) -> String {
    frame("error", json!({"code": error.code()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_round_trip_and_client_frames_parse_or_say_why_not() {
        let project = ProjectId::generate();
        let room: Room = format!("project:{project}").parse().unwrap();
        assert_eq!(room, Room::Project(project));
        assert_eq!(room.to_string(), format!("project:{project}"));
        assert!("project:nope".parse::<Room>().is_err());
        assert!("team:x".parse::<Room>().is_err());

        let join = format!(r#"{{"type":"join","data":{{"room":"project:{project}"}}}}"#);
        assert_eq!(parse(&join), Ok(ClientFrame::Join { room, since: None }));
        let resume =
            format!(r#"{{"type":"join","data":{{"room":"project:{project}","since":42}}}}"#);
        assert_eq!(
            parse(&resume),
            Ok(ClientFrame::Join {
                room,
                since: Some(42)
            })
        );
        for since in ["-1", "1.5", "\"3\"", "true", "18446744073709551616"] {
            let bad = format!(
                r#"{{"type":"join","data":{{"room":"project:{project}","since":{since}}}}}"#
            );
            assert_eq!(parse(&bad), Err(FrameError::BadSince), "since {since}");
        }
        assert_eq!(parse(r#"{"type":"ping","data":{}}"#), Ok(ClientFrame::Ping));
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping));
        assert_eq!(parse("{nope"), Err(FrameError::InvalidJson));
        assert_eq!(parse("[1]"), Err(FrameError::InvalidJson));
        assert_eq!(
            parse(r#"{"type":"task_created","data":{}}"#),
            Err(FrameError::UnknownType)
        );
        assert_eq!(
            parse(r#"{"type":"join","data":{"room":"x"}}"#),
            Err(FrameError::BadRoom)
        );
        assert_eq!(
            parse(r#"{"type":"leave","data":{}}"#),
            Err(FrameError::BadRoom)
        );
        assert_eq!(
            error(FrameError::Forbidden),
            r#"{"data":{"code":"forbidden"},"type":"error"}"#
        );
    }
}
