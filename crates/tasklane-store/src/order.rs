//! The commit-order gate: just before `COMMIT`, a write transaction takes an in-process lock per
//! project it changed and hands the guard to the domain ([`tasklane_domain::ordering::hold`]),
//! which keeps it until the events are published. Transactions that conflict are serialised by
//! the database up to `COMMIT`; this extends the order over `COMMIT` → publish, so the events of
//! one project leave this process in commit order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tasklane_domain::ids::ProjectId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One lock per project that has a write in flight; idle locks are forgotten.
#[derive(Debug, Default)]
pub(crate) struct ProjectGates {
    gates: Mutex<HashMap<ProjectId, Weak<AsyncMutex<()>>>>,
}

impl ProjectGates {
    fn gate(&self, project_id: ProjectId) -> Arc<AsyncMutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = gates.get(&project_id).and_then(Weak::upgrade) {
            return gate;
        }
        // Forget the locks nobody holds, now and then, so the map tracks only live projects.
        if gates.len() >= 1024 {
            gates.retain(|_, gate| gate.strong_count() > 0);
        }
        let gate = Arc::new(AsyncMutex::new(()));
        gates.insert(project_id, Arc::downgrade(&gate));
        gate
    }

    /// Takes the gate of `project_id` for a caller that hands it on itself (coalesced
    /// creations share one among the requests of a batch).
    pub(crate) async fn acquire(&self, project_id: ProjectId) -> OwnedMutexGuard<()> {
        self.gate(project_id).lock_owned().await
    }

    /// Takes the gates of `projects` (in a fixed order, so two multi-project transactions cannot
    /// wait on each other) and hands them to the enclosing service operation. Whatever an earlier
    /// attempt of the same operation held is released first.
    pub(crate) async fn hold_until_published(&self, projects: &[ProjectId]) {
        tasklane_domain::ordering::release_held();
        let mut sorted = projects.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for project_id in sorted {
            let guard = self.gate(project_id).lock_owned().await;
            tasklane_domain::ordering::hold(guard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_lock_per_live_project_and_idle_ones_are_forgotten() {
        let gates = ProjectGates::default();
        let project = ProjectId::generate();
        let first = gates.gate(project);
        assert!(Arc::ptr_eq(&first, &gates.gate(project)));
        drop(first);
        let again = gates.gate(project);
        assert_eq!(
            Arc::strong_count(&again),
            1,
            "a new lock once the old one was dropped"
        );
    }
}
