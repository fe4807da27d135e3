//! Group commit across projects: the creation batches of several projects share one
//! transaction.
//!
//! Why: coalescing within a project gives a hot project one transaction per round of requests,
//! but creations spread over many projects (S2: 200 clients over 200 projects) still cost one
//! transaction each, three round trips (`BEGIN`, the creation statement, `COMMIT`) and a commit
//! flush per creation, and the writers' few connections pass them one at a time.
//!
//! How: a project's writer hands its batch here and waits. Up to one committer per writers'
//! connection takes every batch waiting (up to [`MAX_PROJECTS_PER_GROUP`] projects and the
//! drafts of one transaction), runs each project's creation statement in one transaction, in
//! project order, and commits once. A committer with nothing waiting ends, so a lone creation
//! is written at once, exactly as before; groups form only while every committer is busy.
//!
//! Failure isolation: any failure of a group (a project's stale status, its missing
//! aggregation row, a deadlock retried three times) rolls the whole group back and writes each
//! project's batch again on its own, with the per-project isolation of `creations.rs`; an
//! unavailable database is every request's answer at once.
//!
//! Lock order: a group locks its projects' rows in project order, and a project has at most one
//! batch in flight (its writer waits), so two groups never wait for each other in a circle.
//! Other writers lock one project, except the auto-archive job (`tasks/job.rs`), which takes its
//! projects' aggregations and event heads in project order too, and locks the tasks it archives
//! without blocking a sub-task's foreign key check.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{CreateTasksPlan, CreationEvents, ProjectState};
use tokio::sync::oneshot;

use super::creations::{CREATIONS_PER_TRANSACTION, Job, MAX_DRAFTS_PER_TRANSACTION};
use super::{Queued, creations};
use crate::Store;
use crate::errors::{Fail, is_unavailable};
use crate::tasks::create::postgres;

/// The most projects whose creations share one transaction. Why a bound: the statements of a
/// group run one after the other (about 0.3 ms each), and the first project's row stays locked
/// until the group commits; 32 keeps that wait near 10 ms.
const MAX_PROJECTS_PER_GROUP: usize = 32;

/// The histogram of projects written per creation transaction.
pub const CREATION_PROJECTS_PER_TRANSACTION: &str =
    "tasklane_task_creation_projects_per_transaction";

/// The batches waiting for a committer, and the committers.
pub(super) struct Groups {
    waiting: Mutex<Waiting>,
    /// How many groups may be written at once (the writers' connections).
    committers: usize,
}

#[derive(Default)]
struct Waiting {
    batches: Vec<Batch>,
    /// Committers running.
    running: usize,
}

/// One project's batch, waiting for a group.
struct Batch {
    project: ProjectId,
    jobs: Vec<Job>,
    /// Dropped when every job of the batch has its answer: the project's writer waits for it.
    _done: oneshot::Sender<()>,
}

impl Groups {
    /// Groups written by at most `committers` committers at once.
    pub(super) fn new(committers: usize) -> Groups {
        Groups {
            waiting: Mutex::default(),
            committers: committers.max(1),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many batches wait for a committer.
    #[cfg(feature = "testing")]
    pub(super) fn batches_waiting(&self) -> usize {
        self.waiting().batches.len()
    }

    /// Writes `jobs`, one batch of `project`, with whatever other projects' batches wait, and
    /// returns when each job has its answer. Runs on the writers' runtime.
    pub(super) async fn write(self: &Arc<Self>, store: Store, project: ProjectId, jobs: Vec<Job>) {
        let (done, finished) = oneshot::channel();
        let start = {
            let mut waiting = self.waiting();
            waiting.batches.push(Batch {
                project,
                jobs,
                _done: done,
            });
            let start = waiting.running < self.committers;
            if start {
                waiting.running += 1;
            }
            start
        };
        if start {
            tokio::spawn(commit_groups(self.clone(), store));
        }
        // An error is a committer that panicked: the batch's requests were failed (their
        // replies dropped) with it.
        let _ = finished.await;
    }

    /// The next group, oldest batches first: at most [`MAX_PROJECTS_PER_GROUP`] projects and
    /// [`MAX_DRAFTS_PER_TRANSACTION`] drafts (at least one batch). None ends the committer,
    /// under the same lock, so that the next batch starts a new one.
    fn next_group(&self) -> Vec<Batch> {
        let mut waiting = self.waiting();
        let mut drafts = 0;
        let mut take = 0;
        for batch in &waiting.batches {
            let weight: usize = batch.jobs.iter().map(Queued::weight).sum();
            if take == MAX_PROJECTS_PER_GROUP
                || (take > 0 && drafts + weight > MAX_DRAFTS_PER_TRANSACTION)
            {
                break;
            }
            drafts += weight;
            take += 1;
        }
        if take == 0 {
            waiting.running -= 1;
            return Vec::new();
        }
        waiting.batches.drain(..take).collect()
    }
}

/// A committer: group after group until none waits.
async fn commit_groups(groups: Arc<Groups>, store: Store) {
    loop {
        let group = groups.next_group();
        if group.is_empty() {
            return;
        }
        // A panic while writing fails that group's requests, not the committer.
        if let Err(error) = tokio::spawn(write_group(store.clone(), group)).await {
            tracing::error!(%error, "a creation group failed to complete");
        }
    }
}

/// Writes one group in one transaction and answers each of its requests.
async fn write_group(store: Store, mut group: Vec<Batch>) {
    group.sort_by_key(|batch| batch.project);
    if group.len() == 1 {
        if let Some(batch) = group.pop() {
            creations::write_alone(store, batch.jobs).await;
        }
        return;
    }
    let written = {
        let batches: Vec<(Vec<&CreateTasksPlan>, Vec<&CreationEvents>, &ProjectState)> = group
            .iter()
            .filter_map(|batch| {
                let state = &batch.jobs.first()?.state;
                let plans = batch.jobs.iter().map(|job| &job.plan).collect();
                let events = batch.jobs.iter().map(|job| &job.events).collect();
                Some((plans, events, state))
            })
            .collect();
        postgres::write_group(&store, &batches).await
    };
    match written {
        Ok(written) => {
            let requests: usize = group.iter().map(|batch| batch.jobs.len()).sum();
            metrics::histogram!(CREATIONS_PER_TRANSACTION).record(requests as f64);
            metrics::histogram!(CREATION_PROJECTS_PER_TRANSACTION).record(group.len() as f64);
            for (batch, created) in group.into_iter().zip(written) {
                creations::hand_out(batch.jobs, created);
            }
        }
        Err(Fail::Db(error)) if is_unavailable(&error) => {
            for batch in group {
                creations::unavailable(batch.jobs, &error);
            }
        }
        Err(failure) => {
            tracing::debug!(
                ?failure,
                projects = group.len(),
                "creation group failed; writing each project's batch on its own"
            );
            for batch in group {
                creations::write_alone(store.clone(), batch.jobs).await;
            }
        }
    }
}
