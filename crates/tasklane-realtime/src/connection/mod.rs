//! One WebSocket connection: the ticket check at the handshake, then one `select!` loop over the
//! client's frames, a kick from the hub, and the heartbeat. The hub's frames for the socket do
//! not pass through that loop: the connection's response body reads them from the hub's queue
//! itself (`body`). Whatever ends the loop, the socket is unregistered from the hub.

mod body;
mod frames;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use serde_json::json;
use tasklane_domain::ids::UserId;
use tokio::sync::{mpsc, oneshot};

use crate::Realtime;
use crate::hub::{Command, ConnId, Outbox};
use crate::protocol::{self};
use crate::sockets::SocketSlot;

use body::{Answer, SocketBody};

/// Answers (and pings) waiting for the connection to write them; a client that sends but does
/// not read fills it, and the next answer then waits at most the write timeout.
const ANSWERS_CAPACITY: usize = 16;

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
    // actix-ws's session is not used: the body below writes the frames.
    drop(session);
    let outbox = Outbox::default();
    let (answers, answers_receiver) = mpsc::channel::<Answer>(ANSWERS_CAPACITY);
    let (response, incoming_guard) = response.into_parts();
    let body = SocketBody::new(outbox.clone(), answers_receiver, incoming_guard);
    actix_web::rt::spawn(serve(realtime.clone(), user, slot, outbox, answers, stream));
    response.set_body(body).map_into_boxed_body()
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
}

async fn serve(
    realtime: Realtime,
    user: UserId,
    _slot: SocketSlot,
    outbox: Outbox,
    answers: mpsc::Sender<Answer>,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let options = realtime.options.clone();
    let id = realtime.hub.next_conn_id();
    let mut connection = Connection { realtime, id, user };
    // Closed when the task ends, even if the client keeps the connection (and the body) open.
    let events = outbox.clone();
    let (kick_sender, mut kick) = oneshot::channel::<u16>();
    let hello = protocol::frame(
        "connected",
        json!({"user_id": user.to_string(), "connection_id": id.to_string()}),
    );
    // Answers are written before events: the hello is the socket's first frame.
    if answers.send(Answer::Text(hello.into())).await.is_err() {
        return;
    }
    let registered = connection
        .realtime
        .hub
        .send(Command::Register {
            id,
            user,
            outbox,
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
        let answer = tokio::select! {
            code = &mut kick => break kicked(code),
            message = stream.recv() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        match connection.answer(&mut limit, Some(&text), options.max_frame).await {
                            Some(answer) => Answer::Text(answer.into()),
                            None => continue,
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        match connection.answer(&mut limit, None, options.max_frame).await {
                            Some(answer) => Answer::Text(answer.into()),
                            None => continue,
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(payload))) => Answer::Pong(payload),
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
                Answer::Ping
            }
        };
        // A client that does not read fills the answers' queue; the hub kicks a socket whose
        // events queue up, and an answer waits at most the write timeout.
        let written = tokio::select! {
            sent = answers.send(answer) => sent.is_ok(),
            code = &mut kick => break kicked(code),
            () = tokio::time::sleep(options.write_timeout) => {
                break End::Close(CloseCode::Again, "not reading");
            }
        };
        if !written {
            break End::Gone;
        }
    };
    connection.realtime.hub.send(Command::Unregister(id)).await;
    events.close();
    if let End::Close(code, description) = end {
        let reason = CloseReason {
            code,
            description: Some(description.to_owned()),
        };
        // Written ahead of any queued event; a client that does not read cannot take it, and
        // its queue may be full: give up after a second.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), answers.send(Answer::Close(reason))).await;
    }
    tracing::debug!(connection = id, "socket closed");
}
