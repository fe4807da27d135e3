//! What the realtime layer asks the rest of the system: who a ticket belongs to, and who may be
//! in which room. The server implements [`Directory`] over the domain's services; answers about
//! project membership are cached briefly here and evicted when a membership changes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};

/// The lookups behind the handshake and room authorisation.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Consumes a WebSocket ticket: the user it was issued to, once; `None` when it is unknown,
    /// expired or already used.
    ///
    /// # Errors
    /// When the ticket store cannot answer.
    async fn redeem_ticket(&self, ticket: &str) -> anyhow::Result<Option<UserId>>;

    /// Whether `user` is a member of `project` (any role).
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn is_member(&self, user: UserId, project: ProjectId) -> anyhow::Result<bool>;

    /// The project of `task` when `user` may see it (is a member of its project).
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn visible_task_project(
        &self,
        user: UserId,
        task: TaskId,
    ) -> anyhow::Result<Option<ProjectId>>;

    /// Every project `user` is a member of (for the `user:` room's project-level events).
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn projects_of(&self, user: UserId) -> anyhow::Result<Vec<ProjectId>>;
}

/// Recent membership answers, `(user, project) → member?`, for a short time. A membership change
/// seen by the hub (from this or any instance) evicts the pair at once.
#[derive(Debug)]
pub(crate) struct MembershipCache {
    ttl: Duration,
    entries: Mutex<HashMap<(UserId, ProjectId), (bool, Instant)>>,
}

impl MembershipCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<(UserId, ProjectId), (bool, Instant)>) -> T,
    ) -> T {
        // A poisoned lock only means a panic elsewhere; the map itself is always valid.
        f(&mut self.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A fresh cached answer, if any.
    pub(crate) fn get(&self, user: UserId, project: ProjectId) -> Option<bool> {
        let ttl = self.ttl;
        self.with(|entries| {
            entries
                .get(&(user, project))
                .filter(|(_, at)| at.elapsed() < ttl)
                .map(|(member, _)| *member)
        })
    }

    pub(crate) fn put(&self, user: UserId, project: ProjectId, member: bool) {
        let ttl = self.ttl;
        self.with(|entries| {
            // Drop expired answers now and then so the map stays small.
            if entries.len() >= 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < ttl);
            }
            entries.insert((user, project), (member, Instant::now()));
        });
    }

    pub(crate) fn evict(&self, user: UserId, project: ProjectId) {
        self.with(|entries| entries.remove(&(user, project)));
    }

    pub(crate) fn evict_project(&self, project: ProjectId) {
        self.with(|entries| entries.retain(|(_, p), _| *p != project));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_membership_changes_evict_them() {
        let cache = MembershipCache::new(Duration::from_millis(30));
        let (user, project) = (UserId::generate(), ProjectId::generate());
        assert_eq!(cache.get(user, project), None);
        cache.put(user, project, true);
        assert_eq!(cache.get(user, project), Some(true));
        cache.evict(user, project);
        assert_eq!(cache.get(user, project), None);
        cache.put(user, project, false);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(user, project), None, "expired");
        cache.put(user, project, true);
        cache.evict_project(project);
        assert_eq!(cache.get(user, project), None);
    }
}
