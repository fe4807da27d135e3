//! A real WebSocket client (tokio-tungstenite) for the realtime tests: the ticket handshake, JSON
//! frames, and waiting for a given frame with a deadline.

use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Session, TestApp};

/// How long the helpers wait for an expected frame.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// One socket.
#[derive(Debug)]
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `connected` frame's data.
    pub hello: Value,
}

/// How a socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(u16),
    /// The connection dropped without one.
    Dropped,
}

impl TestApp {
    /// A fresh ticket for `session`.
    ///
    /// # Errors
    /// When the server does not issue one.
    pub async fn ticket(&self, session: &Session) -> anyhow::Result<String> {
        let answer = self
            .post("/api/v1/auth/ws-ticket", &session.token, json!({}))
            .await?;
        anyhow::ensure!(answer.status == StatusCode::OK, "ticket: {answer:?}");
        Ok(answer.text("ticket"))
    }

    /// Opens a socket with `ticket` (none: no query); the HTTP status when the handshake is
    /// refused.
    ///
    /// # Errors
    /// When the connection fails for another reason.
    pub async fn ws_with(&self, ticket: Option<&str>) -> anyhow::Result<Result<WsClient, u16>> {
        let url = match ticket {
            Some(ticket) => format!("ws://{}/api/v1/ws?ticket={ticket}", self.address),
            None => format!("ws://{}/api/v1/ws", self.address),
        };
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => {
                let mut client = WsClient {
                    stream,
                    hello: Value::Null,
                };
                let hello = client.expect("connected").await?;
                client.hello = hello;
                Ok(Ok(client))
            }
            Err(tungstenite::Error::Http(response)) => Ok(Err(response.status().as_u16())),
            Err(error) => Err(error.into()),
        }
    }

    /// Opens a socket as `session`.
    ///
    /// # Errors
    /// When the handshake fails.
    pub async fn ws(&self, session: &Session) -> anyhow::Result<WsClient> {
        let ticket = self.ticket(session).await?;
        match self.ws_with(Some(&ticket)).await? {
            Ok(client) => Ok(client),
            Err(status) => bail!("handshake refused with {status}"),
        }
    }
}

impl WsClient {
    /// Sends a text frame.
    ///
    /// # Errors
    /// When the socket is closed.
    pub async fn send_text(&mut self, text: impl Into<String>) -> anyhow::Result<()> {
        self.stream
            .send(Message::Text(text.into().into()))
            .await
            .context("sending a frame")
    }

    /// Sends `{"type": kind, "data": data}`.
    ///
    /// # Errors
    /// When the socket is closed.
    pub async fn send(&mut self, kind: &str, data: Value) -> anyhow::Result<()> {
        self.send_text(json!({"type": kind, "data": data}).to_string())
            .await
    }

    /// Joins `room` and returns the answer (`joined` or `error`), as `(type, data)`.
    ///
    /// # Errors
    /// When no answer comes.
    pub async fn join(&mut self, room: &str) -> anyhow::Result<(String, Value)> {
        self.send("join", json!({"room": room})).await?;
        self.join_answer().await
    }

    /// The answer to a `join` sent earlier (`joined` or `error`), as `(type, data)`.
    ///
    /// # Errors
    /// When no answer comes.
    pub async fn join_answer(&mut self) -> anyhow::Result<(String, Value)> {
        loop {
            let frame = self.next(PATIENCE).await?.context("no answer to join")?;
            let kind = frame["type"].as_str().unwrap_or_default().to_owned();
            if kind == "joined" || kind == "error" {
                return Ok((kind, frame["data"].clone()));
            }
        }
    }

    /// Joins `room`, which must succeed.
    ///
    /// # Errors
    /// When the join is refused.
    pub async fn must_join(&mut self, room: &str) -> anyhow::Result<()> {
        let (kind, data) = self.join(room).await?;
        anyhow::ensure!(kind == "joined", "join {room}: {kind} {data}");
        Ok(())
    }

    /// The next text frame as JSON, or `None` when nothing comes within `wait`.
    ///
    /// # Errors
    /// When the socket ends.
    pub async fn next(&mut self, wait: Duration) -> anyhow::Result<Option<Value>> {
        // One deadline for the whole wait: pings and pongs in between do not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => bail!("the socket ended"),
                Ok(Some(message)) => message.context("reading a frame")?,
            };
            match message {
                Message::Text(text) => return Ok(Some(serde_json::from_str(&text)?)),
                Message::Close(frame) => bail!("closed by the server: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Reads frames until one of type `kind` and returns its `data`.
    ///
    /// # Errors
    /// When none comes within [`PATIENCE`].
    pub async fn expect(&mut self, kind: &str) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                Some(frame) if frame["type"] == kind => return Ok(frame["data"].clone()),
                Some(frame) => skipped.push(frame["type"].clone()),
                None => bail!("no {kind} within {PATIENCE:?}; saw {skipped:?}"),
            }
        }
    }

    /// Every text frame that arrives within `wait`.
    ///
    /// # Errors
    /// When the socket ends.
    pub async fn drain(&mut self, wait: Duration) -> anyhow::Result<Vec<Value>> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next(wait).await? {
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Reads until the socket ends (at most `wait`): the text frames seen, and how it ended
    /// (`None` if it was still open after `wait`).
    pub async fn read_to_end(&mut self, wait: Duration) -> (usize, Option<Ended>) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut frames = 0;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return (frames, None),
                Ok(None) | Ok(Some(Err(_))) => return (frames, Some(Ended::Dropped)),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    return (frames, Some(Ended::Closed(code)));
                }
                Ok(Some(Ok(Message::Text(_)))) => frames += 1,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}
