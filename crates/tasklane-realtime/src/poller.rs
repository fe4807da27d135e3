//! The log poller: every interval it reads the event log's heads of the projects this instance
//! has streams for and tells the hub, which fills what it never received.
//!
//! Why: a live event can be lost before it reaches this instance — its publisher died between
//! commit and publish, the request's hub queue was full, Redis dropped or never got the message,
//! or Redis is down. A gap between two events that did arrive is noticed without help, but the
//! last events before a quiet period are not; the heads are. Cost: one indexed read of
//! `project_event_heads` per interval per instance (none while no socket is in a project room),
//! and with Redis down every event reaches other instances within about one interval plus the
//! hub's gap wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::directory::Directory;
use crate::hub::{Command, HubHandle};

/// Spawns the poller; it stops when the hub does.
pub(crate) fn start(hub: HubHandle, directory: Arc<dyn Directory>, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (reply, projects) = oneshot::channel();
            if !hub.send(Command::StreamProjects(reply)).await {
                return;
            }
            let Ok(asked) = projects.await else {
                return;
            };
            if asked.is_empty() {
                continue;
            }
            match directory.heads(asked.clone()).await {
                Ok(heads) => {
                    if !hub.send(Command::Heads { asked, heads }).await {
                        return;
                    }
                }
                Err(error) => tracing::warn!(%error, "the event log's heads could not be read"),
            }
        }
    });
}
