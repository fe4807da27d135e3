//! What the realtime layer asks the rest of the system: who a ticket belongs to, who may be
//! in which room, and what a project's event log holds. The server implements [`Directory`] over the domain's services; answers about
//! project membership are cached briefly here and evicted when a membership changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use tasklane_domain::events::StoredEvent;
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

    /// The project's log after `after`, at most `limit` events, with its head and its oldest
    /// kept `seq` (`limit` 0 reads only those). Whoever receives them was authorised by a join.
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn events(&self, project: ProjectId, after: u64, limit: u32) -> anyhow::Result<LogPage>;

    /// The heads (last `seq`) of `projects`, for finding events this instance never heard of.
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn heads(&self, projects: Vec<ProjectId>) -> anyhow::Result<Vec<(ProjectId, u64)>>;
}

/// A page of a project's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogPage {
    /// The project's last `seq` (0 before its first event).
    pub head: u64,
    /// The oldest `seq` still kept, if any.
    pub oldest: Option<u64>,
    /// The events, oldest first.
    pub items: Vec<StoredEvent>,
}

/// Recent membership answers, `(user, project) → member?`, for a short time, at most
/// [`MembershipCache::CAPACITY`] of them (least recently used out first, no scan).
///
/// A removal (a `member_removed` or `project_deleted` event, from this or any instance) bumps the
/// removed user's removal epoch and evicts, under one lock; an answer is stored only if that
/// user's epoch is unchanged since it was read *before* the answer was read. So an answer read
/// before a removal can never be cached after its eviction ran. Epochs are kept per user (in
/// shards), so that removals in one project do not make every other user's joins check again.
#[derive(Debug)]
pub(crate) struct MembershipCache {
    entries: Cache<(UserId, ProjectId), bool>,
    /// Removal epochs, a shard per hash of the user.
    epochs: Box<[AtomicU64]>,
    /// Orders removals against stores: a store checks the epoch and inserts under it.
    removals: Mutex<()>,
}

/// Removal-epoch shards: users whose ids fall in one shard share its epoch.
const EPOCH_SHARDS: usize = 64;

impl MembershipCache {
    /// The most answers kept.
    pub(crate) const CAPACITY: u64 = 100_000;

    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(Self::CAPACITY)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            epochs: (0..EPOCH_SHARDS).map(|_| AtomicU64::new(0)).collect(),
            removals: Mutex::new(()),
        }
    }

    fn removing(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock only means a panic elsewhere; it guards no data.
        self.removals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shard(&self, user: UserId) -> &AtomicU64 {
        let bytes = user.as_uuid().as_u128();
        &self.epochs[(bytes % EPOCH_SHARDS as u128) as usize]
    }

    /// `user`'s removal epoch: read it before reading a membership, pass it to [`Self::put`].
    pub(crate) fn epoch(&self, user: UserId) -> u64 {
        self.shard(user).load(Ordering::SeqCst)
    }

    /// A fresh cached answer, if any.
    pub(crate) fn get(&self, user: UserId, project: ProjectId) -> Option<bool> {
        self.entries.get(&(user, project))
    }

    /// Stores an answer read after `read_at` (an [`Self::epoch`] of `user`), unless a removal
    /// came in since: the answer may predate it. Returns whether it was stored.
    pub(crate) fn put(&self, user: UserId, project: ProjectId, member: bool, read_at: u64) -> bool {
        let _removals = self.removing();
        if self.epoch(user) != read_at {
            return false;
        }
        self.entries.insert((user, project), member);
        true
    }

    /// A membership began (or changed role): forget the old answer.
    pub(crate) fn added(&self, user: UserId, project: ProjectId) {
        self.entries.invalidate(&(user, project));
    }

    /// A membership ended: new epoch for the user, answer gone.
    pub(crate) fn removed(&self, user: UserId, project: ProjectId) {
        let _removals = self.removing();
        self.shard(user).fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(&(user, project));
    }

    /// A project is gone: new epochs, every answer about it gone.
    pub(crate) fn project_removed(&self, project: ProjectId) {
        let _removals = self.removing();
        self.bump_all();
        if self
            .entries
            .invalidate_entries_if(move |(_, p), _| *p == project)
            .is_err()
        {
            // Closures are enabled at build time; should they fail, forget everything.
            self.entries.invalidate_all();
        }
    }

    /// Removals may have been missed (the fan-out was down, or an event from another instance
    /// was dropped): new epochs, every answer gone.
    pub(crate) fn forget_all(&self) {
        let _removals = self.removing();
        self.bump_all();
        self.entries.invalidate_all();
    }

    fn bump_all(&self) {
        for epoch in &self.epochs {
            epoch.fetch_add(1, Ordering::SeqCst);
        }
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
        assert!(cache.put(user, project, true, cache.epoch(user)));
        assert_eq!(cache.get(user, project), Some(true));
        cache.added(user, project);
        assert_eq!(cache.get(user, project), None);
        cache.put(user, project, false, cache.epoch(user));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(user, project), None, "expired");
        cache.put(user, project, true, cache.epoch(user));
        cache.project_removed(project);
        assert_eq!(cache.get(user, project), None);
        cache.put(user, project, true, cache.epoch(user));
        cache.forget_all();
        assert_eq!(cache.get(user, project), None);
    }

    #[test]
    fn an_answer_read_before_a_removal_is_not_stored_after_it() {
        let cache = MembershipCache::new(Duration::from_secs(30));
        let (user, project) = (UserId::generate(), ProjectId::generate());
        let read_at = cache.epoch(user);
        // The membership is read ("member"), then the removal is applied, then the answer
        // arrives to be cached: it must not be.
        cache.removed(user, project);
        assert!(!cache.put(user, project, true, read_at));
        assert_eq!(cache.get(user, project), None);
        assert!(cache.put(user, project, false, cache.epoch(user)));
        assert_eq!(cache.get(user, project), Some(false));
        // Another user's removal does not touch this user's epoch (in another shard).
        let other = (0..)
            .map(|_| UserId::generate())
            .find(|o| o.as_uuid().as_u128() % 64 != user.as_uuid().as_u128() % 64)
            .unwrap();
        let before = cache.epoch(user);
        cache.removed(other, project);
        assert_eq!(cache.epoch(user), before);
    }
}
