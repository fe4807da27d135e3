//! Removals this instance may have missed. Removals reach an instance as events through Redis;
//! while the fan-out is down, or when an event from another instance is dropped (the hub's queue
//! full), a removal can go unseen here. So on every change of the fan-out's state and after every
//! dropped event, every cached membership answer is forgotten (new epochs: joins in flight check
//! again), and whenever the fan-out is up again after such a gap — and every membership TTL while
//! it stays down — each `(user, project)` that has sockets in the project's rooms here is checked
//! against the directory; a user who is no longer a member is taken out as by a removal.
//!
//! Not covered: an event lost while both sides believe the fan-out is up (another instance's
//! publisher skipping Redis after an error of its own). Those are counted in
//! `tasklane_ws_broadcast_failures_total` on the instance that skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::Directory;
use crate::hub::{Command, HubHandle};
use crate::relay::FanoutState;

/// How often the fan-out's state is looked at.
const LOOK: Duration = Duration::from_millis(200);

/// Watches the fan-out and the dropped events of `hub`, auditing with `directory`, until the hub
/// is gone.
pub(crate) fn start(
    hub: HubHandle,
    directory: Arc<dyn Directory>,
    fanout: FanoutState,
    every_while_down: Duration,
) {
    tokio::spawn(async move {
        let mut was_up = fanout.is_up();
        let mut missed = hub.missed();
        let mut last_audit = Instant::now();
        let mut ticks = tokio::time::interval(LOOK);
        loop {
            ticks.tick().await;
            let (up, now_missed) = (fanout.is_up(), hub.missed());
            let changed = up != was_up || now_missed != missed;
            if changed {
                hub.membership.forget_all();
            }
            let due = changed && up || !up && last_audit.elapsed() >= every_while_down;
            if due {
                last_audit = Instant::now();
                if !audit(&hub, directory.as_ref()).await {
                    return;
                }
            }
            (was_up, missed) = (up, now_missed);
        }
    });
}

/// Checks every membership that has sockets here; false when the hub is gone.
async fn audit(hub: &HubHandle, directory: &dyn Directory) -> bool {
    let (reply, answer) = oneshot::channel();
    if !hub.send(Command::Memberships(reply)).await {
        return false;
    }
    let Ok(pairs) = answer.await else {
        return false;
    };
    let (checked, mut revoked) = (pairs.len(), 0);
    for (user, project) in pairs {
        match directory.is_member(user, project).await {
            Ok(true) => {}
            Ok(false) => {
                revoked += 1;
                if !hub.send(Command::Revoke { user, project }).await {
                    return false;
                }
            }
            Err(error) => tracing::warn!(%error, "a membership could not be audited"),
        }
    }
    if checked > 0 {
        tracing::info!(
            checked,
            revoked,
            "memberships audited after removals may have been missed"
        );
    }
    true
}
