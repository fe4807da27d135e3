//! What the HTTP connection writes to one socket: the hub's queue for it and the socket task's
//! answers, encoded as WebSocket frames right where the connection polls its response body.
//!
//! An event costs one hand-off, hub → connection, and one wake-up of the task that writes.
//! Through actix-ws's `Session` it cost two of each (hub → socket task → the session's channel →
//! connection), and with a thousand sockets in a room those wake-ups were the delivery's tail.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::sync::mpsc;

use crate::outbox::Outbox;
#[cfg(test)]
use crate::outbox::Pushed;

/// What the socket task asks the connection to write.
#[derive(Debug)]
pub(super) enum Answer {
    Text(ByteString),
    Ping,
    Pong(Bytes),
    /// The last frame: the body ends after it, whatever is still queued.
    Close(CloseReason),
}

const MAX_CONTROL_PAYLOAD: usize = 125;

/// At most this many bytes are encoded per poll, so that one busy socket hands its connection
/// back to the runtime between chunks.
const CHUNK: usize = 64 * 1024;

/// The socket's response body.
pub(super) struct SocketBody {
    events: Outbox,
    answers: mpsc::Receiver<Answer>,
    buf: BytesMut,
    ended: bool,
    /// actix-ws's own body, never polled: dropping it is what tells the incoming stream that the
    /// connection is gone, so it lives exactly as long as this body.
    _incoming_guard: BoxBody,
}

impl SocketBody {
    pub(super) fn new(
        events: Outbox,
        answers: mpsc::Receiver<Answer>,
        incoming_guard: BoxBody,
    ) -> Self {
        SocketBody {
            events,
            answers,
            buf: BytesMut::new(),
            ended: false,
            _incoming_guard: incoming_guard,
        }
    }

    fn encode(&mut self, answer: Answer) {
        let buf = &mut self.buf;
        match answer {
            Answer::Text(text) => Parser::write_message(buf, text, OpCode::Text, true, false),
            Answer::Ping => Parser::write_message(buf, b"", OpCode::Ping, true, false),
            Answer::Pong(payload) => {
                // A control frame carries at most 125 bytes (RFC 6455).
                let payload = payload.slice(..payload.len().min(MAX_CONTROL_PAYLOAD));
                Parser::write_message(buf, payload, OpCode::Pong, true, false);
            }
            Answer::Close(reason) => {
                Parser::write_close(buf, Some(reason), false);
                self.ended = true;
            }
        }
    }
}

impl Drop for SocketBody {
    fn drop(&mut self) {
        // The connection is gone: the hub finds the queue closed and unregisters the socket.
        self.events.close();
    }
}

impl MessageBody for SocketBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        // Answers first (a close overtakes the events still queued: the socket fell behind or is
        // leaving), then events; both are polled before `Pending`, so either wakes us.
        loop {
            match this.answers.poll_recv(cx) {
                Poll::Ready(Some(answer)) => this.encode(answer),
                // The socket task is gone without a close (the client went away): end too.
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => break,
            }
            if this.ended || this.buf.len() >= CHUNK {
                break;
            }
        }
        if !this.ended && this.buf.len() < CHUNK {
            let buf = &mut this.buf;
            let _ = this.events.poll_take(cx, |frame| {
                Parser::write_message(buf, frame, OpCode::Text, true, false);
                buf.len() < CHUNK
            });
        }
        if !this.buf.is_empty() {
            // A fresh buffer for the next poll: `split` would keep this allocation, and an idle
            // socket its largest burst's worth of memory.
            return Poll::Ready(Some(Ok(std::mem::take(&mut this.buf).freeze())));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use actix_http::ws::{CloseCode, Frame};
    use futures::task::noop_waker_ref;

    use super::*;

    const MAX_FRAMES: usize = 64;
    const MAX_BYTES: usize = 1 << 20;

    struct Parts {
        body: SocketBody,
        events: Outbox,
        answers: mpsc::Sender<Answer>,
    }

    fn body() -> Parts {
        let (answers, answers_receiver) = mpsc::channel(8);
        let events = Outbox::default();
        let body = SocketBody::new(events.clone(), answers_receiver, BoxBody::new(()));
        Parts {
            body,
            events,
            answers,
        }
    }

    impl Parts {
        fn event(&self, text: &str) {
            let pushed = self.events.push(&text.into(), MAX_FRAMES, MAX_BYTES);
            assert!(matches!(pushed, Pushed::Queued { .. }), "{pushed:?}");
        }
    }

    /// One poll: the frames it wrote, or `None` for the body's end; panics on `Pending`.
    fn poll(body: &mut SocketBody) -> Option<Vec<Frame>> {
        let mut cx = Context::from_waker(noop_waker_ref());
        match Pin::new(body).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                let mut buf = BytesMut::from(&bytes[..]);
                let mut frames = Vec::new();
                while let Some(frame) = decode(&mut buf) {
                    frames.push(frame);
                }
                assert!(buf.is_empty(), "whole frames only");
                Some(frames)
            }
            Poll::Ready(None) => None,
            Poll::Ready(Some(Err(never))) => match never {},
            Poll::Pending => panic!("nothing to write"),
        }
    }

    /// A server frame as a client reads it (unmasked).
    fn decode(buf: &mut BytesMut) -> Option<Frame> {
        let (_, opcode, payload) = Parser::parse(buf, false, 1 << 20).unwrap()?;
        let payload = payload.unwrap_or_default().freeze();
        Some(match opcode {
            OpCode::Text => Frame::Text(payload),
            OpCode::Ping => Frame::Ping(payload),
            OpCode::Pong => Frame::Pong(payload),
            OpCode::Close => Frame::Close(Parser::try_parse_close_payload(&payload).unwrap()),
            other => panic!("unexpected {other:?}"),
        })
    }

    fn text(frame: &Frame) -> &str {
        match frame {
            Frame::Text(bytes) => std::str::from_utf8(bytes).unwrap(),
            other => panic!("not text: {other:?}"),
        }
    }

    fn is_pending(body: &mut SocketBody) -> bool {
        let mut cx = Context::from_waker(noop_waker_ref());
        Pin::new(body).poll_next(&mut cx).is_pending()
    }

    #[test]
    fn answers_come_before_events_and_written_events_leave_the_queue() {
        let mut parts = body();
        parts.event("e1");
        parts.event("event-2");
        parts
            .answers
            .try_send(Answer::Text("hello".into()))
            .unwrap();
        parts
            .answers
            .try_send(Answer::Pong(Bytes::from(vec![7; 200])))
            .unwrap();
        let frames = poll(&mut parts.body).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(text(&frames[0]), "hello");
        assert!(
            matches!(&frames[1], Frame::Pong(p) if p.len() == 125),
            "truncated to 125"
        );
        assert_eq!(text(&frames[2]), "e1");
        assert_eq!(text(&frames[3]), "event-2");
        assert!(parts.events.half_empty(0, 0), "nothing left queued");
        assert!(is_pending(&mut parts.body), "nothing left to write");
        parts.event("e3");
        parts.answers.try_send(Answer::Ping).unwrap();
        let frames = poll(&mut parts.body).unwrap();
        assert!(matches!(frames[0], Frame::Ping(_)));
        assert_eq!(text(&frames[1]), "e3");
    }

    #[test]
    fn a_close_overtakes_queued_events_and_ends_the_body() {
        let mut parts = body();
        parts.event("queued");
        let reason = CloseReason {
            code: CloseCode::Again,
            description: Some("fell behind".into()),
        };
        parts.answers.try_send(Answer::Close(reason)).unwrap();
        let frames = poll(&mut parts.body).unwrap();
        assert_eq!(frames.len(), 1, "{frames:?}");
        match &frames[0] {
            Frame::Close(Some(reason)) => assert_eq!(reason.code, CloseCode::Again),
            other => panic!("not a close: {other:?}"),
        }
        assert!(poll(&mut parts.body).is_none(), "ended");
    }

    #[test]
    fn a_closed_queue_drops_its_events_and_the_body_ends_with_the_socket_task() {
        let mut parts = body();
        parts.event("queued");
        parts.events.close();
        assert!(is_pending(&mut parts.body), "nothing to write");
        drop(parts.answers);
        assert!(poll(&mut parts.body).is_none(), "ended");
    }

    #[test]
    fn a_dropped_body_closes_the_queue_for_the_hub() {
        let parts = body();
        drop(parts.body);
        let pushed = parts.events.push(&"late".into(), MAX_FRAMES, MAX_BYTES);
        assert_eq!(pushed, Pushed::Closed);
    }

    #[test]
    fn a_poll_writes_about_a_chunk() {
        let mut parts = body();
        let large = "x".repeat(10_000);
        for _ in 0..20 {
            parts.event(&large);
        }
        let mut polls = Vec::new();
        while !is_pending_after(&mut parts, &mut polls) {}
        // Frames are whole: a poll stops at the first frame that reaches the chunk's size.
        assert_eq!(polls, [7, 7, 6]);
        assert!(parts.events.half_empty(0, 0), "all taken");
        assert_eq!(
            parts.body.buf.capacity(),
            0,
            "an idle socket keeps no buffer"
        );
    }

    /// Polls once; records the frames written, or says the body had nothing.
    fn is_pending_after(parts: &mut Parts, polls: &mut Vec<usize>) -> bool {
        let mut cx = Context::from_waker(noop_waker_ref());
        match Pin::new(&mut parts.body).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                let mut buf = BytesMut::from(&bytes[..]);
                polls.push(std::iter::from_fn(|| decode(&mut buf)).count());
                false
            }
            _ => true,
        }
    }
}
