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
//! A reader whose gathering's reader fails or goes away reads alone. Each reader counts the
//! statement once (`X-Db-Statements`), like a coalesced write's statement;
//! `tasklane_listing_readers_per_statement` shows how many readers each statement answered.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

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
    /// The statement that was to answer it failed: read alone.
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
    Wait(oneshot::Receiver<Handed>),
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
                let (answer, receiver) = oneshot::channel();
                entry.get_mut().push(Waiter { viewer, answer });
                Turn::Wait(receiver)
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
    /// Whether it reads for itself only; recorded as such when it does.
    pub(crate) fn alone(&self) -> bool {
        let alone = self.others.is_empty();
        if alone {
            metrics::histogram!(LISTING_READERS_PER_STATEMENT).record(1.0);
        }
        alone
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

    fn waits(turn: Turn<'_>) -> oneshot::Receiver<Handed> {
        match turn {
            Turn::Wait(receiver) => receiver,
            Turn::Lead(_) => panic!("expected to wait"),
        }
    }

    const VERSION: ListingVersion = ListingVersion {
        project_seq: 7,
        directory: 1,
    };

    #[test]
    fn the_first_reader_leads_alone_and_the_next_ones_get_the_turn_then_their_answers() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let (ada, bob, cy) = (UserId::generate(), UserId::generate(), UserId::generate());
        let Turn::Lead(first) = gates.arrive(project, ada) else {
            panic!("nobody reads: it leads")
        };
        assert!(first.alone());
        let mut bob_waits = waits(gates.arrive(project, bob));
        let mut cy_waits = waits(gates.arrive(project, cy));
        assert_eq!(gates.waiting(project), Some(2));
        drop(first);
        let Ok(Handed::Turn(others)) = bob_waits.try_recv() else {
            panic!("the first waiting reader gets the turn")
        };
        let lead = gates.lead(project, others);
        assert_eq!(lead.viewers(bob), [bob, cy]);
        assert_eq!(gates.waiting(project), Some(0), "a statement is under way");
        let roles = HashMap::from([(bob, Some(Role::Viewer)), (cy, None)]);
        lead.answer(&roles, VERSION);
        assert!(matches!(
            cy_waits.try_recv(),
            Ok(Handed::Answer((None, VERSION)))
        ));
        assert_eq!(gates.waiting(project), None, "nothing under way");
        assert_eq!(gates.shared(), (1, 2));
    }

    #[test]
    fn readers_that_went_away_are_skipped_and_a_failed_lead_sends_the_others_alone() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let Turn::Lead(first) = gates.arrive(project, UserId::generate()) else {
            panic!()
        };
        let gone = waits(gates.arrive(project, UserId::generate()));
        let mut next = waits(gates.arrive(project, UserId::generate()));
        let mut last = waits(gates.arrive(project, UserId::generate()));
        drop(gone);
        drop(first);
        let Ok(Handed::Turn(others)) = next.try_recv() else {
            panic!("the reader after the one gone gets the turn")
        };
        assert_eq!(others.len(), 1);
        // Its statement failed: dropped unanswered.
        drop(gates.lead(project, others));
        assert!(matches!(last.try_recv(), Ok(Handed::Alone)));
        assert_eq!(gates.waiting(project), None);
    }

    #[test]
    fn one_statement_answers_at_most_max_readers() {
        let gates = Gates::default();
        let project = ProjectId::generate();
        let Turn::Lead(first) = gates.arrive(project, UserId::generate()) else {
            panic!()
        };
        let mut waiting: Vec<_> = (0..MAX_READERS + 3)
            .map(|_| waits(gates.arrive(project, UserId::generate())))
            .collect();
        drop(first);
        let Ok(Handed::Turn(others)) = waiting[0].try_recv() else {
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
