//! Board readers of one project that arrive together share the statement that reads their roles
//! and the listing's version (PostgreSQL).
//!
//! Why: every board read, a 304 or this instance's copy included, asks the database for the
//! reader's role and the listing's version; under board traffic those one-row statements were
//! most of PostgreSQL's statements (S3: 104,760 of them against 1,115 page queries), each a round
//! trip and a backend's wake-up. Here one statement is under way per project at a time: readers
//! that arrive meanwhile gather, and the first of them reads for all of them once it is done
//! (their roles from `project_members`, the version once). A reader's answer is always read by a
//! statement that started after it arrived, so it shows every write committed before its
//! request, as its own statement would; a reader alone, the common case on a quiet board, sends
//! the statement it always sent, without waiting.
//!
//! When the statement fails, the readers it was to answer get its error; a reader whose
//! gathering's reader went away reads alone (and a reader that goes away while it is handed
//! the turn passes it on). Each reader counts the
//! statement once (`X-Db-Statements`), like a coalesced write's statement;
//! `tasklane_listing_readers_per_statement` shows how many readers each statement answered.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::ListingVersion;
use tasklane_domain::values::Role;
use tokio::sync::oneshot;

/// The histogram of board readers answered per statement of their roles and version
/// (PostgreSQL; 1 for a reader alone).
pub const LISTING_READERS_PER_STATEMENT: &str = "tasklane_listing_readers_per_statement";

/// Readers one statement answers at most (its parameter is their ids as JSON, ~40 bytes each);
/// the others wait for the next.
const MAX_READERS: usize = 500;

/// One reader's answer: its role in the project, and the listing's version.
pub(crate) type Answer = (Option<Role>, ListingVersion);

/// What a gathered reader is handed.
#[derive(Debug)]
pub(crate) enum Handed {
    /// Its answer, read by another reader's statement.
    Answer(Answer),
    /// Its turn to read, for itself and for these readers.
    Turn(Vec<Waiter>),
    /// The statement that was to answer it failed with this error.
    Failed(RepoError),
    /// The reader that was to answer it went away: read alone.
    Alone,
}

/// A reader waiting for the next statement.
#[derive(Debug)]
pub(crate) struct Waiter {
    viewer: UserId,
    answer: oneshot::Sender<Handed>,
}

/// What a reader does.
#[derive(Debug)]
pub(crate) enum Turn<'a> {
    /// Read now, for itself and for the lead's others.
    Lead(Lead<'a>),
    /// Wait: for its answer, or for its turn.
    Wait(Waiting<'a>),
}

/// A gathered reader's wait. Dropped before it took what it was handed (its request was
/// cancelled), it passes on a turn handed to it meanwhile, which would otherwise be lost with
/// the project's statement never ending.
#[derive(Debug)]
pub(crate) struct Waiting<'a> {
    gates: &'a Gates,
    project: ProjectId,
    handed: oneshot::Receiver<Handed>,
}

impl Waiting<'_> {
    /// What it is handed; an error when the reader that held it went away.
    pub(crate) async fn handed(&mut self) -> Result<Handed, oneshot::error::RecvError> {
        (&mut self.handed).await
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.handed.close();
        if let Ok(Handed::Turn(others)) = self.handed.try_recv() {
            drop(self.gates.lead(self.project, others));
        }
    }
}

/// The projects with a statement under way, each with the readers that arrived since it started.
#[derive(Debug, Default)]
pub(crate) struct Gates {
    gathering: Mutex<HashMap<ProjectId, Vec<Waiter>>>,
    /// Statements sent for more than one reader, and the readers they answered (for the tests).
    shared: AtomicU64,
    shared_readers: AtomicU64,
}

impl Gates {
    fn gathering(&self) -> MutexGuard<'_, HashMap<ProjectId, Vec<Waiter>>> {
        // A poisoned lock only means a panic elsewhere; the lists stay valid.
        self.gathering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The reader's turn: to read now (no statement under way for `project`), or to wait.
    pub(crate) fn arrive(&self, project: ProjectId, viewer: UserId) -> Turn<'_> {
        let mut gathering = self.gathering();
        match gathering.entry(project) {
            Entry::Vacant(entry) => {
                entry.insert(Vec::new());
                Turn::Lead(self.lead(project, Vec::new()))
            }
            Entry::Occupied(mut entry) => {
                let (answer, handed) = oneshot::channel();
                entry.get_mut().push(Waiter { viewer, answer });
                Turn::Wait(Waiting {
                    gates: self,
                    project,
                    handed,
                })
            }
        }
    }

    /// The lead of the next statement of `project`, for a reader and `others`.
    pub(crate) fn lead(&self, project: ProjectId, others: Vec<Waiter>) -> Lead<'_> {
        Lead {
            gates: self,
            project,
            others,
        }
    }

    /// After a statement: the readers gathered meanwhile get the turn (the first one still
    /// there reads for the others, at most [`MAX_READERS`] in all), or the project has no
    /// statement under way any more.
    fn pass_turn(&self, project: ProjectId) {
        let mut gathering = self.gathering();
        loop {
            let Some(waiting) = gathering.get_mut(&project) else {
                return;
            };
            if waiting.is_empty() {
                gathering.remove(&project);
                return;
            }
            let later = waiting.split_off(waiting.len().min(MAX_READERS));
            let mut round = std::mem::replace(waiting, later).into_iter();
            while let Some(first) = round.next() {
                match first.answer.send(Handed::Turn(round.collect())) {
                    Ok(()) => return,
                    // Gone (its request ended): the next one.
                    Err(Handed::Turn(others)) => round = others.into_iter(),
                    Err(_) => break,
                }
            }
        }
    }

    /// Readers waiting for the next statement of `project`; `None` when none is under way.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn waiting(&self, project: ProjectId) -> Option<usize> {
        self.gathering().get(&project).map(Vec::len)
    }

    /// Statements sent for more than one reader, and the readers they answered.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn shared(&self) -> (u64, u64) {
        (
            self.shared.load(Ordering::Relaxed),
            self.shared_readers.load(Ordering::Relaxed),
        )
    }
}

/// The reader that sends the next statement of a project, for itself and for `others`.
/// Dropped, answered or not, it passes the turn on; readers it did not answer read alone.
#[derive(Debug)]
pub(crate) struct Lead<'a> {
    gates: &'a Gates,
    project: ProjectId,
    others: Vec<Waiter>,
}

impl Lead<'_> {
    /// Whether it reads for itself only.
    pub(crate) fn alone(&self) -> bool {
        self.others.is_empty()
    }

    /// Records a statement read for this reader alone.
    pub(crate) fn read_alone(self) {
        metrics::histogram!(LISTING_READERS_PER_STATEMENT).record(1.0);
    }

    /// The viewers to read: `own` first, then the others'.
    pub(crate) fn viewers(&self, own: UserId) -> Vec<UserId> {
        std::iter::once(own)
            .chain(self.others.iter().map(|waiter| waiter.viewer))
            .collect()
    }

    /// Hands each other reader its role from `roles` and `version`.
    pub(crate) fn answer(mut self, roles: &HashMap<UserId, Option<Role>>, version: ListingVersion) {
        let others = std::mem::take(&mut self.others);
        metrics::histogram!(LISTING_READERS_PER_STATEMENT).record(others.len() as f64 + 1.0);
        self.gates.shared.fetch_add(1, Ordering::Relaxed);
        self.gates
            .shared_readers
            .fetch_add(others.len() as u64 + 1, Ordering::Relaxed);
        for waiter in others {
            let handed = match roles.get(&waiter.viewer) {
                Some(role) => Handed::Answer((*role, version)),
                None => Handed::Alone,
            };
            let _ = waiter.answer.send(handed);
        }
    }

    /// Hands each other reader the error of the statement that was to answer them: sent again
    /// by each of them, it would multiply the load on a database that is failing.
    pub(crate) fn fail(mut self, error: &RepoError) {
        for waiter in self.others.drain(..) {
            let copy = match error {
                RepoError::Unavailable(e) => RepoError::Unavailable(anyhow::anyhow!("{e:#}")),
                RepoError::Other(e) => RepoError::Other(anyhow::anyhow!("{e:#}")),
            };
            let _ = waiter.answer.send(Handed::Failed(copy));
        }
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        for waiter in self.others.drain(..) {
            let _ = waiter.answer.send(Handed::Alone);
        }
        self.gates.pass_turn(self.project);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(turn: Turn<'_>) -> Waiting<'_> {
        match turn {
            Turn::Wait(waiting) => waiting,
            Turn::Lead(_) => panic!("expected to wait"),
        }
    }

    fn leads(turn: Turn<'_>) -> Lead<'_> {
        match turn {
            Turn::Lead(lead) => lead,
            Turn::Wait(_) => panic!("expected to lead"),
        }
    }

    /// What a waiting reader was handed so far.
    fn handed(waiting: &mut Waiting<'_>) -> Option<Handed> {
        waiting.handed.try_recv().ok()
    }

    const VERSION: ListingVersion = ListingVersion {
        project_seq: 7,
        directory: 1,
    };

    #[test]
    fn readers_that_arrive_during_a_statement_are_answered_by_the_next_one_only() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let (ada, bob, cy, dan) = (
            UserId::generate(),
            UserId::generate(),
            UserId::generate(),
            UserId::generate(),
        );
        let first = leads(gates.arrive(project, ada));
        assert!(
            first.alone(),
            "nobody else: the first reader reads for itself"
        );
        let mut bob_waits = waits(gates.arrive(project, bob));
        let mut cy_waits = waits(gates.arrive(project, cy));
        assert_eq!(gates.waiting(project), Some(2));
        drop(first);
        let Some(Handed::Turn(others)) = handed(&mut bob_waits) else {
            panic!("the first waiting reader gets the turn")
        };
        let lead = gates.lead(project, others);
        assert_eq!(lead.viewers(bob), [bob, cy]);
        // Dan arrives while bob's statement is under way: not one of its readers.
        let mut dan_waits = waits(gates.arrive(project, dan));
        let roles = HashMap::from([(bob, Some(Role::Viewer)), (cy, None), (dan, None)]);
        lead.answer(&roles, VERSION);
        assert!(matches!(
            handed(&mut cy_waits),
            Some(Handed::Answer((None, VERSION)))
        ));
        let Some(Handed::Turn(others)) = handed(&mut dan_waits) else {
            panic!("dan is answered by a statement of its own, after bob's")
        };
        assert!(others.is_empty());
        drop(gates.lead(project, others));
        assert_eq!(gates.waiting(project), None, "nothing under way");
        assert_eq!(gates.shared(), (1, 2));
    }

    #[test]
    fn readers_gone_are_skipped_a_failed_statement_hands_on_its_error() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let first = leads(gates.arrive(project, UserId::generate()));
        let gone = waits(gates.arrive(project, UserId::generate()));
        let mut next = waits(gates.arrive(project, UserId::generate()));
        let mut last = waits(gates.arrive(project, UserId::generate()));
        drop(gone);
        drop(first);
        let Some(Handed::Turn(others)) = handed(&mut next) else {
            panic!("the reader after the one gone gets the turn")
        };
        assert_eq!(others.len(), 1);
        gates
            .lead(project, others)
            .fail(&RepoError::Unavailable(anyhow::anyhow!("down")));
        assert!(matches!(
            handed(&mut last),
            Some(Handed::Failed(RepoError::Unavailable(_)))
        ));
        assert_eq!(gates.waiting(project), None);
    }

    #[test]
    fn a_reader_that_goes_away_with_the_turn_passes_it_on() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let first = leads(gates.arrive(project, UserId::generate()));
        let cancelled = waits(gates.arrive(project, UserId::generate()));
        let mut after = waits(gates.arrive(project, UserId::generate()));
        drop(first);
        // Handed the turn (with `after` to answer), then cancelled before it took it.
        drop(cancelled);
        assert!(
            matches!(handed(&mut after), Some(Handed::Alone)),
            "the reader it was to answer reads alone"
        );
        assert_eq!(gates.waiting(project), None, "the project is free again");
        let _reads = leads(gates.arrive(project, UserId::generate()));
    }

    #[test]
    fn one_statement_answers_at_most_max_readers() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let first = leads(gates.arrive(project, UserId::generate()));
        let mut waiting: Vec<_> = (0..MAX_READERS + 3)
            .map(|_| waits(gates.arrive(project, UserId::generate())))
            .collect();
        drop(first);
        let Some(Handed::Turn(others)) = handed(&mut waiting[0]) else {
            panic!()
        };
        assert_eq!(others.len(), MAX_READERS - 1);
        assert_eq!(
            gates.waiting(project),
            Some(3),
            "the rest wait for the next one"
        );
    }
}
