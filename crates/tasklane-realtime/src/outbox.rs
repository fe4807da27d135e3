//! A socket's outgoing queue, between the hub (which fills it) and the socket's connection
//! (which drains it when it writes). Bounded in frames and in bytes; the hub never waits on it.
//!
//! Queuing a frame does not wake the connection: the hub wakes each socket it queued for once,
//! after a burst of commands (`Hub::run`). A batch of creations publishes its events together,
//! so a socket in a busy room is woken once for the batch and writes its frames in one `send`,
//! where a wake-up per frame made it write them one by one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytestring::ByteString;
use futures::task::AtomicWaker;

/// What [`Outbox::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; `wake` when the queue was empty before, so the socket needs a wake-up.
    Queued { wake: bool },
    /// Over a bound: the socket fell behind. Nothing was queued.
    Full,
    /// The socket is gone.
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<ByteString>,
    bytes: usize,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    waker: AtomicWaker,
}

/// Both ends of one socket's queue (the hub's and the connection's hold clones).
#[derive(Debug, Clone, Default)]
pub(crate) struct Outbox(Arc<Shared>);

impl Outbox {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A poisoned lock only means a panic elsewhere; the queue stays valid.
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `frame` unless the queue would then hold more than `max_frames` frames or
    /// `max_bytes` bytes. Does not wake the connection: see [`Outbox::wake`].
    pub(crate) fn push(&self, frame: &ByteString, max_frames: usize, max_bytes: usize) -> Pushed {
        let mut queue = self.queue();
        if queue.closed {
            return Pushed::Closed;
        }
        if queue.frames.len() >= max_frames || queue.bytes.saturating_add(frame.len()) > max_bytes {
            return Pushed::Full;
        }
        let wake = queue.frames.is_empty();
        queue.bytes += frame.len();
        queue.frames.push_back(frame.clone());
        Pushed::Queued { wake }
    }

    /// Wakes the connection to write what is queued.
    pub(crate) fn wake(&self) {
        self.0.waker.wake();
    }

    /// Whether the queue is at most half full, in frames and in bytes.
    pub(crate) fn half_empty(&self, max_frames: usize, max_bytes: usize) -> bool {
        let queue = self.queue();
        queue.frames.len() * 2 <= max_frames && queue.bytes * 2 <= max_bytes
    }

    /// Takes queued frames, in order, while `take` wants more (it is given each frame's
    /// length); `Pending` (and a wake-up registered) when there is none.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(ByteString) -> bool,
    ) -> Poll<()> {
        let mut queue = self.queue();
        if queue.frames.is_empty() {
            // Registered before looking again, so a frame queued in between is not missed.
            drop(queue);
            self.0.waker.register(cx.waker());
            queue = self.queue();
            if queue.frames.is_empty() {
                return Poll::Pending;
            }
        }
        while let Some(frame) = queue.frames.pop_front() {
            queue.bytes -= frame.len();
            if !take(frame) {
                break;
            }
        }
        Poll::Ready(())
    }

    /// Closes the queue and drops what it holds: the hub's next push finds the socket gone.
    pub(crate) fn close(&self) {
        let mut queue = self.queue();
        queue.closed = true;
        queue.bytes = 0;
        let frames = std::mem::take(&mut queue.frames);
        drop(queue);
        drop(frames);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn take_all(outbox: &Outbox, cx: &mut Context<'_>) -> Vec<String> {
        let mut taken = Vec::new();
        let _ = outbox.poll_take(cx, |frame| {
            taken.push(frame.to_string());
            true
        });
        taken
    }

    #[test]
    fn frames_come_out_in_order_and_one_wake_covers_a_burst() {
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let waker = wakes.clone().into();
        let mut cx = Context::from_waker(&waker);
        let outbox = Outbox::default();
        assert!(outbox.poll_take(&mut cx, |_| true).is_pending());
        let pushed: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|f| outbox.push(&ByteString::from_static(f), 10, 100))
            .collect();
        assert_eq!(
            pushed,
            [
                Pushed::Queued { wake: true },
                Pushed::Queued { wake: false },
                Pushed::Queued { wake: false }
            ]
        );
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "pushing does not wake");
        outbox.wake();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(take_all(&outbox, &mut cx), ["a", "b", "c"]);
        assert!(outbox.half_empty(1, 1), "bytes uncounted once taken");
        assert_eq!(
            outbox.push(&ByteString::from_static("d"), 10, 100),
            Pushed::Queued { wake: true },
            "empty again: the next frame needs a wake-up"
        );
    }

    #[test]
    fn taking_stops_when_asked_and_keeps_the_rest() {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let outbox = Outbox::default();
        for f in ["a", "b", "c"] {
            outbox.push(&ByteString::from_static(f), 10, 100);
        }
        let mut taken = Vec::new();
        let _ = outbox.poll_take(&mut cx, |frame| {
            taken.push(frame.to_string());
            taken.len() < 2
        });
        assert_eq!(taken, ["a", "b"]);
        assert_eq!(take_all(&outbox, &mut cx), ["c"]);
    }

    #[test]
    fn bounds_in_frames_and_bytes_refuse_without_queuing_and_close_frees_everything() {
        let outbox = Outbox::default();
        let frame = ByteString::from_static("12345");
        assert_eq!(outbox.push(&frame, 2, 12), Pushed::Queued { wake: true });
        assert_eq!(outbox.push(&frame, 2, 12), Pushed::Queued { wake: false });
        assert_eq!(outbox.push(&frame, 3, 12), Pushed::Full, "15 bytes > 12");
        assert_eq!(outbox.push(&frame, 2, 100), Pushed::Full, "3 frames > 2");
        assert!(!outbox.half_empty(4, 12), "10 bytes of a 12 budget");
        assert!(!outbox.half_empty(3, 100), "2 frames of 3");
        assert!(outbox.half_empty(4, 20));
        outbox.close();
        assert!(outbox.half_empty(1, 1));
        assert_eq!(outbox.push(&frame, 2, 100), Pushed::Closed);
    }
}
