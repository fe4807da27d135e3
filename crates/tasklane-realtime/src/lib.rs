//! The WebSocket rooms hub and the cross-instance relay; implements `EventBroadcaster`. Filled by issue 6.
