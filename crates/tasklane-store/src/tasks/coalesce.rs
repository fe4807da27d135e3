//! Coalesced creation on PostgreSQL: the concurrent creations of one project share one
//! transaction.
//!
//! Why: every creation updates the same hot rows (the project's counter, the column's append
//! sequence, the aggregation) and holds the project row lock until `COMMIT`. One transaction per
//! request caps a hot project at one lock hand-off and one commit flush per request, and leaves
//! dead row versions that every later statement must step over (docs/performance.md, S1).
//!
//! How: each request reads its context and runs the domain's decision in its own task (the read
//! takes no lock, as before), then queues the decided plan for its project. One writer task per
//! project takes everything queued (up to [`MAX_DRAFTS_PER_TRANSACTION`]), writes it with the
//! one creation statement, commits, and hands each request its own result: its numbers, ranks,
//! counter and aggregation before/after, exactly as if the requests had committed one after the
//! other in queue order. While one batch is written the next one queues, so a hot project gets
//! one transaction per round trip instead of one per request, and a quiet one sees no delay.
//!
//! Failure isolation: a missing aggregation row or an unavailable database is every request's
//! answer at once; any other failure of a batch of several writes each creation again on its
//! own, so one request's bad reference (a status deleted meanwhile) fails only that request.
//!
//! Events: the batch's `task_created` events are logged by its creation statement, numbered in
//! queue order, so they follow task numbers; the events that follow from the requests' results
//! (a derived status's change, a restoration) come after all of them, in queue order, in one
//! more statement when there are any. The batch commits as one, so a client sees them all at
//! once; each still carries its own request's aggregation. Each request publishes its own
//! events; receivers order them by `seq`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, CreationEvents, Logged, ProjectState,
    TasksCreated,
};
use tasklane_domain::services::tasks::CreateTaskError;
use tokio::sync::oneshot;

use super::create::context::decide_creation;
use super::create::postgres;
use crate::Store;
use crate::errors::{Fail, is_unavailable};

/// The most tasks one coalesced transaction inserts (a batch request of up to 500 always fits
/// with others; PostgreSQL's 65,535 bind parameters allow about 4,000).
const MAX_DRAFTS_PER_TRANSACTION: usize = 1000;

/// The histogram of creation requests written per transaction.
pub const CREATIONS_PER_TRANSACTION: &str = "tasklane_task_creations_per_transaction";

/// The per-project queues of decided creations and their writers.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    queues: Mutex<HashMap<ProjectId, Queue>>,
    next_writer: AtomicU64,
}

#[derive(Debug)]
struct Queue {
    pending: Vec<Job>,
    /// Which writer task owns the queue (see [`WriterGuard`]).
    writer: u64,
}

/// A decided creation waiting for its project's writer.
struct Job {
    plan: CreateTasksPlan,
    state: ProjectState,
    events: CreationEvents,
    reply: oneshot::Sender<Outcome>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("plan", &self.plan)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

type Outcome = Result<Logged<TasksCreated>, TxError<CreateTaskError>>;

impl Coalescer {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<ProjectId, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; the first job of an idle project starts its writer.
    fn submit(self: &Arc<Self>, store: &Store, job: Job) {
        let project = job.state.id;
        let mut queues = self.queues();
        match queues.get_mut(&project) {
            // A writer is running: it takes the job with its next batch.
            Some(queue) => queue.pending.push(job),
            None => {
                let writer = self.next_writer.fetch_add(1, Ordering::Relaxed);
                queues.insert(
                    project,
                    Queue {
                        pending: vec![job],
                        writer,
                    },
                );
                let guard = WriterGuard {
                    coalescer: self.clone(),
                    project,
                    writer,
                };
                tokio::spawn(write_queue(store.clone(), guard));
            }
        }
    }

    /// The next batch of `project`, oldest first; none ends the writer (and forgets the queue,
    /// under the same lock, so a later job starts a new one).
    fn next_batch(&self, project: ProjectId) -> Vec<Job> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(&project) else {
            return Vec::new();
        };
        // A request that went away is not written: nobody would answer or publish it.
        queue.pending.retain(|job| !job.reply.is_closed());
        let mut drafts = 0;
        let mut take = 0;
        for job in &queue.pending {
            if take > 0 && drafts + job.plan.drafts.len() > MAX_DRAFTS_PER_TRANSACTION {
                break;
            }
            drafts += job.plan.drafts.len();
            take += 1;
        }
        if take == 0 {
            queues.remove(&project);
            return Vec::new();
        }
        queue.pending.drain(..take).collect()
    }
}

/// Creates on PostgreSQL through the project's writer: the context read and the decision here,
/// the write with whatever else is queued for the project.
pub(super) async fn create(
    store: &Store,
    coalescer: &Arc<Coalescer>,
    request: CreateTasksRequest,
    decide: &Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
    events: CreationEvents,
) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
    let (plan, state) = decide_creation(&store.writer, store.dialect, &request, decide)
        .await
        .map_err(Fail::into_tx)?;
    let (reply, outcome) = oneshot::channel();
    coalescer.submit(
        store,
        Job {
            plan,
            state,
            events,
            reply,
        },
    );
    // The shared creation statement counts as this request's second; the statement that logs
    // the events following from the results, when there were any of this request's, as its third.
    crate::counter::statement_sent_elsewhere();
    let created = outcome
        .await
        .map_err(|_| TxError::Store(RepoError::other("the creation writer stopped")))??;
    if created.events.len() > created.value.tasks.len() {
        crate::counter::statement_sent_elsewhere();
    }
    Ok(created)
}

/// Owns a project's queue for one writer task. If the task ends without emptying it (its
/// runtime shut down), dropping the guard forgets the queue, failing the requests still in it,
/// so that the next creation starts a new writer instead of waiting forever.
#[derive(Debug)]
struct WriterGuard {
    coalescer: Arc<Coalescer>,
    project: ProjectId,
    writer: u64,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let mut queues = self.coalescer.queues();
        if queues
            .get(&self.project)
            .is_some_and(|queue| queue.writer == self.writer)
        {
            queues.remove(&self.project);
        }
    }
}

/// The writer of one project: batch after batch until its queue is empty.
async fn write_queue(store: Store, guard: WriterGuard) {
    let (coalescer, project) = (&guard.coalescer, guard.project);
    loop {
        let jobs = coalescer.next_batch(project);
        if jobs.is_empty() {
            return;
        }
        metrics::histogram!(CREATIONS_PER_TRANSACTION).record(jobs.len() as f64);
        // A panic while writing fails that batch's requests (their replies are dropped), not
        // the ones queued behind it.
        if let Err(error) = tokio::spawn(write_batch(store.clone(), jobs)).await {
            tracing::error!(%error, %project, "a creation batch failed to complete");
        }
    }
}

/// Writes one batch and answers each of its requests.
async fn write_batch(store: Store, jobs: Vec<Job>) {
    let plans: Vec<&CreateTasksPlan> = jobs.iter().map(|job| &job.plan).collect();
    let events: Vec<&CreationEvents> = jobs.iter().map(|job| &job.events).collect();
    let Some(state) = jobs.first().map(|job| job.state.clone()) else {
        return;
    };
    let written = postgres::write_batch(&store, &plans, &events, &state).await;
    drop((plans, events));
    match written {
        Ok(created) => hand_out(jobs, created),
        Err(Fail::AggregationMissing) => {
            for job in jobs {
                let _ = job.reply.send(Err(TxError::AggregationMissing));
            }
        }
        Err(Fail::Db(error)) if is_unavailable(&error) => unavailable(jobs, &error),
        Err(failure) if jobs.len() == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(failure.into_tx()));
            }
        }
        Err(failure) => {
            tracing::debug!(
                ?failure,
                batch = jobs.len(),
                "batch failed; writing each creation on its own"
            );
            let mut jobs = jobs.into_iter();
            while let Some(job) = jobs.next() {
                match postgres::write_batch(&store, &[&job.plan], &[&job.events], &job.state).await
                {
                    Ok(created) => hand_out(vec![job], created),
                    Err(Fail::Db(error)) if is_unavailable(&error) => {
                        // The rest would each wait for the same outage.
                        unavailable(std::iter::once(job).chain(jobs).collect(), &error);
                        return;
                    }
                    Err(failure) => {
                        let _ = job.reply.send(Err(failure.into_tx()));
                    }
                }
            }
        }
    }
}

/// The database is down or saturated: every request learns it now, none waits for a retry of
/// its own.
fn unavailable(jobs: Vec<Job>, error: &sea_orm::DbErr) {
    let cause = error.to_string();
    for job in jobs {
        let error = RepoError::Unavailable(anyhow::anyhow!("{cause}"));
        let _ = job.reply.send(Err(TxError::Store(error)));
    }
}

/// Answers each request of a committed batch with its result and its events.
fn hand_out(jobs: Vec<Job>, created: Vec<Logged<TasksCreated>>) {
    for (job, created) in jobs.into_iter().zip(created) {
        // A request that went away cannot publish: its events stay in the log, where receivers
        // that notice the gap find them.
        let _ = job.reply.send(Ok(created));
    }
}
