//! The realtime layer's metrics (the server installs the Prometheus recorder and describes them).

/// Open WebSocket connections on this instance.
pub const WS_CONNECTIONS: &str = "tasklane_ws_connections";
/// Frames queued for sockets (events and answers).
pub const WS_FRAMES_QUEUED_TOTAL: &str = "tasklane_ws_frames_queued_total";
/// Sockets closed because they fell behind (1013).
pub const WS_SLOW_CONSUMERS_CLOSED_TOTAL: &str = "tasklane_ws_slow_consumers_closed_total";
/// 1 while this instance is subscribed to the other instances' events through Redis, 0 while it
/// delivers only its own (Redis configured but down, or not configured).
pub const WS_FANOUT_UP: &str = "tasklane_ws_fanout_up";

pub(crate) fn connections(open: usize) {
    metrics::gauge!(WS_CONNECTIONS).set(open as f64);
}

/// `frames` more frames queued (counted once per event, not per socket).
pub(crate) fn delivered(frames: u64) {
    metrics::counter!(WS_FRAMES_QUEUED_TOTAL).increment(frames);
}

pub(crate) fn slow_consumer_closed() {
    metrics::counter!(WS_SLOW_CONSUMERS_CLOSED_TOTAL).increment(1);
}

pub(crate) fn broadcast_failed() {
    metrics::counter!(tasklane_domain::metrics::WS_BROADCAST_FAILURES_TOTAL).increment(1);
}

pub(crate) fn fanout_up(up: bool) {
    metrics::gauge!(WS_FANOUT_UP).set(if up { 1.0 } else { 0.0 });
}

/// Events that reached this instance a second time (from the log after a live copy, or from
/// Redis after the log) and were dropped: each `seq` reaches a socket once.
pub const WS_EVENTS_DUPLICATE_TOTAL: &str = "tasklane_ws_events_duplicate_total";
/// Events that arrived before an earlier event of their project and waited for it: delivery in
/// `seq` order costs them the time until the earlier one arrives.
pub const WS_EVENTS_HELD_TOTAL: &str = "tasklane_ws_events_held_total";
/// Reads of the event log to fill a gap: an event that did not arrive live within the wait.
pub const WS_GAP_FILLS_TOTAL: &str = "tasklane_ws_gap_fills_total";
/// Events sent to sockets from the log, catching up after `join {since}`.
pub const WS_EVENTS_REPLAYED_TOTAL: &str = "tasklane_ws_events_replayed_total";

pub(crate) fn duplicate_dropped() {
    metrics::counter!(WS_EVENTS_DUPLICATE_TOTAL).increment(1);
}

pub(crate) fn held() {
    metrics::counter!(WS_EVENTS_HELD_TOTAL).increment(1);
}

pub(crate) fn gap_fill() {
    metrics::counter!(WS_GAP_FILLS_TOTAL).increment(1);
}

pub(crate) fn replayed(events: usize) {
    metrics::counter!(WS_EVENTS_REPLAYED_TOTAL).increment(events as u64);
}
