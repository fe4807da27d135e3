//! One WebSocket connection: the ticket check at the handshake, then one `select!` loop over the
//! client's frames, the hub's queue for this socket, a kick from the hub, and the heartbeat.
//! Whatever ends the loop, the socket is unregistered from the hub.

mod frames;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use bytestring::ByteString;
use serde_json::json;
use tasklane_domain::ids::UserId;
use tokio::sync::{mpsc, oneshot};

use crate::Realtime;
use crate::hub::{Command, ConnId, Outbox};
use crate::protocol::{self};
use crate::sockets::SocketSlot;

/// Frames larger than this are refused by the WebSocket layer itself (the socket closes, 1009);
/// frames up to it get a `too_large` answer when over the protocol's limit.
const MAX_WIRE_FRAME: usize = 1024 * 1024;

/// Answers the handshake, always before any upgrade and as problem+json: 400 for a request that
/// is not a WebSocket handshake (its ticket stays unspent), 401 for a missing, unknown, expired
/// or reused ticket, 429 when the user has too many sockets open here; otherwise upgrades and
/// serves the socket.
pub async fn connect(
    realtime: &Realtime,
    request: &HttpRequest,
    body: web::Payload,
    ticket: Option<&str>,
) -> HttpResponse {
    // The handshake is checked first, so that only a real upgrade spends a ticket.
    let (response, session, stream) = match actix_ws::handle(request, body) {
        Ok(upgrade) => upgrade,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("expected a WebSocket handshake: {error}"),
            );
        }
    };
    let Some(ticket) = ticket.filter(|t| !t.is_empty()) else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a ticket is required: POST /api/v1/auth/ws-ticket",
        );
    };
    let user = match realtime.directory.redeem_ticket(ticket).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the ticket is unknown, expired or already used",
            );
        }
        Err(error) => {
            tracing::warn!(error = %error, "ticket check failed");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "tickets cannot be checked right now; try again",
            );
        }
    };
    let Some(slot) = realtime.sockets.open(user) else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            &format!(
                "at most {} open WebSocket connections per user; close one first",
                realtime.options.max_connections_per_user
            ),
        );
    };
    let stream = stream
        .max_frame_size(MAX_WIRE_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_WIRE_FRAME);
    actix_web::rt::spawn(serve(realtime.clone(), user, slot, session, stream));
    response
}

fn problem(status: StatusCode, code: &str, detail: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header(("Retry-After", "5"));
    }
    response.content_type("application/problem+json").body(
        json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        })
        .to_string(),
    )
}

/// At most `limit` frames in any `window`.
struct RateLimit {
    limit: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.limit {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// What the loop sends next.
enum Write {
    /// An event (or a hub answer) from the queue, counted in its byte budget.
    Event(ByteString),
    /// An answer to a client frame.
    Text(ByteString),
    Pong(Vec<u8>),
    Ping,
}

impl Write {
    /// Sends it; false when the client is gone.
    async fn to(self, session: &mut Session) -> bool {
        match self {
            Write::Event(text) | Write::Text(text) => session.text(text).await.is_ok(),
            Write::Pong(payload) => session.pong(&payload).await.is_ok(),
            Write::Ping => session.ping(b"").await.is_ok(),
        }
    }
}

fn kicked(code: Result<u16, oneshot::error::RecvError>) -> End {
    let code = code.unwrap_or(crate::hub::CLOSE_TOO_SLOW);
    End::Close(CloseCode::from(code), "fell behind")
}

/// Why the loop ended, and the close code to send (none when the client is gone).
enum End {
    Close(CloseCode, &'static str),
    Gone,
}

struct Connection {
    realtime: Realtime,
    id: ConnId,
    user: UserId,
    session: Session,
}

async fn serve(
    realtime: Realtime,
    user: UserId,
    _slot: SocketSlot,
    session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let options = realtime.options.clone();
    let id = realtime.hub.next_conn_id();
    let mut connection = Connection {
        realtime,
        id,
        user,
        session,
    };
    let (outbox_sender, mut outbox) = mpsc::channel::<ByteString>(options.queue_capacity.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    let (kick_sender, mut kick) = oneshot::channel::<u16>();
    let hello = protocol::frame(
        "connected",
        json!({"user_id": user.to_string(), "connection_id": id.to_string()}),
    );
    if connection.session.text(hello).await.is_err() {
        return;
    }
    let registered = connection
        .realtime
        .hub
        .send(Command::Register {
            id,
            user,
            outbox: Outbox {
                frames: outbox_sender,
                queued: queued.clone(),
            },
            kick: kick_sender,
        })
        .await;
    if !registered {
        return;
    }
    tracing::debug!(connection = id, %user, "socket open");
    let mut limit = RateLimit {
        limit: options.rate_limit,
        window: options.rate_window,
        recent: VecDeque::new(),
    };
    let mut heartbeat = tokio::time::interval(options.ping_interval);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();

    let end = loop {
        let write = tokio::select! {
            code = &mut kick => break kicked(code),
            frame = outbox.recv() => match frame {
                Some(frame) => Write::Event(frame),
                None => break End::Close(CloseCode::Again, "fell behind"),
            },
            message = stream.recv() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        match connection.answer(&mut limit, Some(&text), options.max_frame).await {
                            Some(answer) => Write::Text(answer.into()),
                            None => continue,
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        match connection.answer(&mut limit, None, options.max_frame).await {
                            Some(answer) => Write::Text(answer.into()),
                            None => continue,
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(payload))) => Write::Pong(payload.to_vec()),
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(_))) => break End::Close(CloseCode::Normal, "bye"),
                    Some(Err(error)) => {
                        tracing::debug!(connection = id, %error, "protocol error");
                        break End::Close(CloseCode::Size, "frame over 1 MiB or malformed");
                    }
                    None => break End::Gone,
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() >= options.idle_timeout {
                    break End::Close(CloseCode::Away, "silent for too long");
                }
                Write::Ping
            }
        };
        // A client that does not read makes the write wait; the hub then kicks it.
        let session = &mut connection.session;
        let event_bytes = match &write {
            Write::Event(frame) => frame.len(),
            _ => 0,
        };
        let written = tokio::select! {
            written = write.to(session) => written,
            code = &mut kick => break kicked(code),
            () = tokio::time::sleep(options.write_timeout) => {
                break End::Close(CloseCode::Again, "not reading");
            }
        };
        // Written (or the socket is gone): the frame no longer counts against the budget.
        queued.fetch_sub(event_bytes, Ordering::SeqCst);
        if !written {
            break End::Gone;
        }
    };
    connection.realtime.hub.send(Command::Unregister(id)).await;
    if let End::Close(code, description) = end {
        let reason = CloseReason {
            code,
            description: Some(description.to_owned()),
        };
        // A client that does not read cannot take a close frame either: give up after a second.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            connection.session.close(Some(reason)),
        )
        .await;
    }
    tracing::debug!(connection = id, "socket closed");
}
