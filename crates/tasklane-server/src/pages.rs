//! The task listings this instance answered last: each one's JSON by project and query string,
//! with the listing version it was read at.
//!
//! Why: a busy board is read by many members between two changes, and each read otherwise costs
//! the page query (100 tasks with their columns, people, labels and sub-task counts) and its
//! serialisation. Every read still asks the database for the listing's version, with the
//! reader's role, in one statement (which readers arriving together share, in the store); when
//! it equals the cached entry's, the cached bytes are the answer. The version moves with every change the page shows, so an entry is never served
//! stale, on one instance or many; a change elsewhere only makes the next read a miss.
//!
//! Readers that miss together share one page query: the first claims the listing at its version
//! and reads it; the others (at that version or an older one) wait for its bytes instead of
//! reading the same page again. Without that, a board changing every few milliseconds would
//! never be found cached: its readers miss at once, each reading its own copy. Readers at a
//! later version than the read under way wait for the read after it: the first of them makes
//! it, labelled with the latest of their versions (it starts after each of them read theirs, so
//! it shows at least that), and the others wait for its bytes; so a board has at most one page
//! query under way and one gathering, however often it changes (the S3 board traffic, with a
//! change every few milliseconds, read a page for nearly every request without this). A reader
//! whose claimant goes away (its client hung up) reads the page itself.
//!
//! Bounded in bytes (moka, each entry weighed by its body and query string, least recently used
//! out first): entries over a sixteenth of the budget are not kept. A budget of 0 turns the cache off (and the sharing with
//! it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::web::Bytes;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::ListingVersion;
use tokio::sync::oneshot;

/// How task listings were answered: `not_modified` (304), `cached` (this cache's bytes),
/// `shared` (another reader's page query, waited for) or `read` (the page query).
pub const TASK_PAGES_TOTAL: &str = "tasklane_task_pages_total";

/// The cache (see the module's documentation).
#[derive(Debug)]
pub struct PageCache {
    budget: usize,
    pages: Cache<Key, Versioned>,
    state: Mutex<State>,
}

type Key = (ProjectId, String);

/// A page and the version it was read at.
pub type Versioned = (ListingVersion, Bytes);

#[derive(Debug, Default)]
struct State {
    /// The page queries under way, each with its version and the readers waiting for it.
    reading: HashMap<Key, Reading>,
    next_claim: u64,
}

#[derive(Debug)]
struct Reading {
    claim: u64,
    version: ListingVersion,
    waiting: Vec<oneshot::Sender<Handoff>>,
    /// The readers at a later version, for the read after this one, with the latest of their
    /// versions (the highest of each part).
    next: Option<(ListingVersion, Vec<oneshot::Sender<Handoff>>)>,
}

/// What a waiting reader is handed.
#[derive(Debug)]
pub enum Handoff {
    /// The page it waited for.
    Page(Versioned),
    /// Its turn to read the page, labelled with this version (its own or a later one).
    Read(Reader, ListingVersion),
}

/// What an entry costs the budget: its body, its query string (a client's, up to a URL's
/// length: empty pages under long distinct queries must not hold more than the budget) and the
/// entry itself.
fn weight(key: &Key, body: &Bytes) -> usize {
    body.len() + key.1.len() + 128
}

/// `a` is the same version as `b` or a later one.
pub fn at_least(a: ListingVersion, b: ListingVersion) -> bool {
    a.project_seq >= b.project_seq && a.directory >= b.directory
}

/// What a reader that found no page does.
#[derive(Debug)]
pub enum Claim {
    /// Read the page, then hand it to the cache and to whoever waits ([`Reader::done`]).
    Read(Reader),
    /// Wait for another reader's page, at the version asked or a later one, or for the turn to
    /// read it; an error means the reader waited for went away.
    Wait(oneshot::Receiver<Handoff>),
}

/// The claim of one page query (see [`PageCache::claim`]). Dropped without
/// [`Reader::done`], it releases the waiters, who then read for themselves.
#[derive(Debug)]
pub struct Reader {
    cache: Arc<PageCache>,
    /// Taken by [`Reader::done`].
    key: Option<Key>,
    /// The read under way this reader registered; 0 for none.
    claim: u64,
}

impl Reader {
    /// The reader without its claim, so that dropping it releases nothing (for a caller that
    /// holds the state's lock).
    fn forget(mut self) -> Self {
        self.key = None;
        self
    }

    /// Keeps `body`, read at `version`, and hands it to the readers waiting for it; the first
    /// reader waiting for the read after it gets the turn.
    pub fn done(mut self, version: ListingVersion, body: Bytes) {
        let Some(key) = self.key.take() else {
            return;
        };
        let waiting = {
            let mut state = self.cache.state();
            match state.reading.get(&key) {
                Some(reading) if self.claim != 0 && reading.claim == self.claim => {
                    match state.reading.remove(&key) {
                        Some(reading) => {
                            if let Some(next) = reading.next {
                                self.cache.pass_turn(&mut state, &key, next);
                            }
                            reading.waiting
                        }
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            }
        };
        for waiter in waiting {
            let _ = waiter.send(Handoff::Page((version, body.clone())));
        }
        self.cache.put(key.0, &key.1, version, body);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut state = self.cache.state();
            if state
                .reading
                .get(&key)
                .is_some_and(|reading| reading.claim == self.claim)
            {
                // Its waiters' senders go with it: they read for themselves.
                state.reading.remove(&key);
            }
        }
    }
}

impl PageCache {
    /// A cache of at most `budget` bytes of page bodies.
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            pages: Cache::builder()
                .max_capacity(budget as u64)
                .weigher(|key: &Key, (_, body): &Versioned| {
                    u32::try_from(weight(key, body)).unwrap_or(u32::MAX)
                })
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached listing of `project` for `query`, with its version.
    pub fn get(&self, project: ProjectId, query: &str) -> Option<Versioned> {
        if self.budget == 0 {
            return None;
        }
        self.pages.get(&(project, query.to_owned()))
    }

    /// The page of `project` for `query` at `version` or later is not cached: either another
    /// reader is reading it (wait for theirs) or this one claims the read. A read under way at
    /// an older version is left alone; this reader reads without a claim.
    pub fn claim(
        self: &Arc<Self>,
        project: ProjectId,
        query: &str,
        version: ListingVersion,
    ) -> Claim {
        let key = (project, query.to_owned());
        if self.budget == 0 {
            // Claim 0 is no claim: nobody waits for its page.
            return Claim::Read(Reader {
                cache: self.clone(),
                key: Some(key),
                claim: 0,
            });
        }
        let mut state = self.state();
        if let Some(reading) = state.reading.get_mut(&key) {
            let (sender, receiver) = oneshot::channel();
            if at_least(reading.version, version) {
                reading.waiting.push(sender);
            } else {
                let (latest, waiting) = reading.next.get_or_insert_with(|| (version, Vec::new()));
                // The read starts after every waiter read its version, so it shows them all.
                latest.project_seq = latest.project_seq.max(version.project_seq);
                latest.directory = latest.directory.max(version.directory);
                waiting.push(sender);
            }
            return Claim::Wait(receiver);
        }
        let claim = Self::register(&mut state, key.clone(), version, Vec::new());
        drop(state);
        Claim::Read(Reader {
            cache: self.clone(),
            key: Some(key),
            claim,
        })
    }

    /// Registers a read of `key` at `version` under way, with the readers waiting for it.
    fn register(
        state: &mut State,
        key: Key,
        version: ListingVersion,
        waiting: Vec<oneshot::Sender<Handoff>>,
    ) -> u64 {
        state.next_claim += 1;
        let claim = state.next_claim;
        state.reading.insert(
            key,
            Reading {
                claim,
                version,
                waiting,
                next: None,
            },
        );
        claim
    }

    /// Starts the read after the one that ended: the first waiter still there makes it, at
    /// the latest of their versions, and the others wait for it.
    fn pass_turn(
        self: &Arc<Self>,
        state: &mut State,
        key: &Key,
        (version, waiting): (ListingVersion, Vec<oneshot::Sender<Handoff>>),
    ) {
        let mut waiting = waiting.into_iter();
        while let Some(first) = waiting.next() {
            if first.is_closed() {
                continue;
            }
            let claim = Self::register(state, key.clone(), version, waiting.collect());
            let reader = Reader {
                cache: self.clone(),
                key: Some(key.clone()),
                claim,
            };
            if let Err(Handoff::Read(reader, _)) = first.send(Handoff::Read(reader, version)) {
                // Gone between the look and the send: its waiters read for themselves. The
                // state is locked here, so the claim is released without the reader's drop.
                state.reading.remove(key);
                drop(reader.forget());
            }
            return;
        }
    }

    /// Keeps `body`, the listing of `project` for `query` read at `version`, unless a newer
    /// version is kept already (two readers may finish out of order; the race between the look
    /// and the insert only ever keeps an older page, which readers then find too old to serve).
    pub fn put(&self, project: ProjectId, query: &str, version: ListingVersion, body: Bytes) {
        let key = (project, query.to_owned());
        if self.budget == 0 || weight(&key, &body) > self.budget / 16 {
            return;
        }
        if let Some((kept, _)) = self.pages.get(&key)
            && at_least(kept, version)
            && kept != version
        {
            return;
        }
        self.pages.insert(key, (version, body));
    }

    /// Bytes held, once moka has applied its pending evictions.
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.pages.run_pending_tasks();
        self.pages.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(project_seq: u64, directory: u64) -> ListingVersion {
        ListingVersion {
            project_seq,
            directory,
        }
    }

    #[test]
    fn a_page_is_found_by_project_and_query_with_its_version() {
        let cache = PageCache::new(1 << 20);
        let (a, b) = (ProjectId::generate(), ProjectId::generate());
        cache.put(a, "limit=100", version(3, 1), Bytes::from_static(b"page"));
        assert_eq!(
            cache.get(a, "limit=100"),
            Some((version(3, 1), Bytes::from_static(b"page")))
        );
        assert_eq!(cache.get(a, "limit=10"), None);
        assert_eq!(cache.get(b, "limit=100"), None);
    }

    #[test]
    fn an_older_page_does_not_replace_a_newer_one() {
        let cache = PageCache::new(1 << 20);
        let project = ProjectId::generate();
        cache.put(project, "", version(5, 0), Bytes::from_static(b"new"));
        cache.put(project, "", version(4, 0), Bytes::from_static(b"old"));
        assert_eq!(cache.get(project, "").map(|(v, _)| v), Some(version(5, 0)));
        cache.put(project, "", version(6, 0), Bytes::from_static(b"newer"));
        assert_eq!(cache.get(project, "").map(|(v, _)| v), Some(version(6, 0)));
        assert_eq!(cache.bytes(), 5 + 128);
    }

    #[test]
    fn pages_leave_within_the_budget_and_large_ones_are_not_kept() {
        let cache = PageCache::new(16_000);
        let project = ProjectId::generate();
        for n in 0..400 {
            cache.put(
                project,
                &n.to_string(),
                version(1, 0),
                Bytes::from(vec![b'x'; 100]),
            );
        }
        assert!(cache.bytes() <= 16_000, "{} bytes", cache.bytes());
        // Over a sixteenth of the budget, body and query together: not kept.
        cache.put(project, "big", version(1, 0), Bytes::from(vec![b'x'; 870]));
        assert!(cache.get(project, "big").is_none());
        let long_query = "search=".to_owned() + &"q".repeat(900);
        cache.put(
            project,
            &long_query,
            version(1, 0),
            Bytes::from_static(b"[]"),
        );
        assert!(cache.get(project, &long_query).is_none());
        cache.put(project, "fits", version(1, 0), Bytes::from(vec![b'x'; 800]));
        assert!(cache.get(project, "fits").is_some());
    }

    #[tokio::test]
    async fn readers_that_miss_together_share_one_read() {
        let cache = Arc::new(PageCache::new(1 << 20));
        let project = ProjectId::generate();
        let Claim::Read(reader) = cache.claim(project, "q", version(7, 0)) else {
            panic!("the first reader reads");
        };
        // At the same version or an older one: wait for it.
        let Claim::Wait(same) = cache.claim(project, "q", version(7, 0)) else {
            panic!("the second waits");
        };
        let Claim::Wait(older) = cache.claim(project, "q", version(6, 0)) else {
            panic!("an older version waits too");
        };
        reader.done(version(7, 0), Bytes::from_static(b"page"));
        for waiter in [same, older] {
            assert!(matches!(
                waiter.await.unwrap(),
                Handoff::Page((v, body)) if v == version(7, 0) && body == Bytes::from_static(b"page")
            ));
        }
        assert_eq!(cache.get(project, "q").map(|(v, _)| v), Some(version(7, 0)));
        // The read is over: the next miss claims again.
        assert!(matches!(
            cache.claim(project, "q", version(9, 0)),
            Claim::Read(Reader { claim: 1.., .. })
        ));
    }

    #[tokio::test]
    async fn readers_at_a_later_version_share_the_read_after_the_one_under_way() {
        let cache = Arc::new(PageCache::new(1 << 20));
        let project = ProjectId::generate();
        let Claim::Read(first) = cache.claim(project, "q", version(7, 0)) else {
            panic!("the first reader reads");
        };
        // Three readers at later versions, one of whom hangs up: none reads while a read is
        // under way.
        let waiting: Vec<_> = [version(9, 0), version(8, 2), version(9, 2), version(8, 0)]
            .into_iter()
            .map(|v| match cache.claim(project, "q", v) {
                Claim::Wait(receiver) => receiver,
                Claim::Read(_) => panic!("a later version waits for the read after"),
            })
            .collect();
        let mut waiting = waiting.into_iter();
        drop(waiting.next());
        first.done(version(7, 0), Bytes::from_static(b"old"));
        // The first one still there reads, labelled with the latest version of them all.
        let Some(turn) = waiting.next() else {
            unreachable!()
        };
        let Handoff::Read(reader, label) = turn.await.unwrap() else {
            panic!("the first waiter gets the turn");
        };
        assert_eq!(label, version(9, 2));
        // Meanwhile a newer reader waits for the read after that one.
        let Claim::Wait(newest) = cache.claim(project, "q", version(10, 2)) else {
            panic!("waits again");
        };
        reader.done(label, Bytes::from_static(b"new"));
        for waiter in waiting {
            assert!(matches!(
                waiter.await.unwrap(),
                Handoff::Page((v, body)) if v == version(9, 2) && body == Bytes::from_static(b"new")
            ));
        }
        assert!(matches!(newest.await.unwrap(), Handoff::Read(_, v) if v == version(10, 2)));
        assert_eq!(cache.get(project, "q").map(|(v, _)| v), Some(version(9, 2)));
    }

    #[tokio::test]
    async fn the_waiters_of_a_reader_that_went_away_read_for_themselves() {
        let cache = Arc::new(PageCache::new(1 << 20));
        let project = ProjectId::generate();
        let Claim::Read(reader) = cache.claim(project, "q", version(1, 0)) else {
            panic!("the first reader reads");
        };
        let Claim::Wait(waiter) = cache.claim(project, "q", version(1, 0)) else {
            panic!("the second waits");
        };
        drop(reader);
        assert!(waiter.await.is_err());
        assert!(matches!(
            cache.claim(project, "q", version(1, 0)),
            Claim::Read(Reader { claim: 1.., .. })
        ));
    }

    #[test]
    fn a_budget_of_zero_keeps_nothing() {
        let cache = PageCache::new(0);
        let project = ProjectId::generate();
        cache.put(project, "", version(1, 0), Bytes::from_static(b""));
        assert_eq!(cache.get(project, ""), None);
    }
}
