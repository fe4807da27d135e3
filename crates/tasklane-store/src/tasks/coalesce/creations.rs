//! Coalesced creation: the concurrent creations of one project share one transaction, and one
//! statement. Besides the lock hand-off and commit flush per request (see the parent module),
//! one transaction per creation leaves dead row versions of the counter rows that every later
//! statement must step over (docs/performance.md, S1).
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

use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, CreationEvents, Logged, ProjectState,
    TasksCreated,
};
use tasklane_domain::services::tasks::CreateTaskError;
use tokio::sync::oneshot;

use super::{Coalescing, Queued};
use crate::Store;
use crate::errors::{Fail, is_unavailable};
use crate::tasks::create::context::decide_creation;
use crate::tasks::create::postgres;

/// The most tasks one coalesced transaction inserts (a batch request of up to 500 always fits
/// with others; PostgreSQL's 65,535 bind parameters allow about 4,000).
pub(super) const MAX_DRAFTS_PER_TRANSACTION: usize = 1000;

/// The histogram of creation requests written per transaction.
pub const CREATIONS_PER_TRANSACTION: &str = "tasklane_task_creations_per_transaction";

/// A decided creation waiting for its project's writer.
pub(super) struct Job {
    pub(super) plan: CreateTasksPlan,
    pub(super) state: ProjectState,
    pub(super) events: CreationEvents,
    reply: oneshot::Sender<Outcome>,
}

impl Queued for Job {
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn weight(&self) -> usize {
        self.plan.drafts.len()
    }
}

type Outcome = Result<Logged<TasksCreated>, TxError<CreateTaskError>>;

/// Creates on PostgreSQL through the project's writer: the context read and the decision here,
/// the write with whatever else is queued for the project.
pub(crate) async fn create(
    store: &Store,
    coalescing: &Coalescing,
    request: CreateTasksRequest,
    decide: &Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
    events: CreationEvents,
) -> Result<Logged<TasksCreated>, TxError<CreateTaskError>> {
    let (plan, state) = decide_creation(&store.writer, store.dialect, &request, decide)
        .await
        .map_err(Fail::into_tx)?;
    let (reply, outcome) = oneshot::channel();
    let project = state.id;
    let job = Job {
        plan,
        state,
        events,
        reply,
    };
    coalescing.enqueue(
        store,
        (&coalescing.creations, project, job),
        // Recorded per transaction by the groups, which may write several projects' batches.
        (MAX_DRAFTS_PER_TRANSACTION, None),
        write_batch,
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

/// Writes one batch of a project and answers each of its requests: with other projects'
/// batches in one transaction when they wait too (`groups.rs`).
async fn write_batch(store: Store, jobs: Vec<Job>) {
    let Some(first) = jobs.first() else {
        return;
    };
    let project = first.state.id;
    match store.coalescing.clone() {
        Some(coalescing) => coalescing.groups.write(store, project, jobs).await,
        None => write_alone(store, jobs).await,
    }
}

/// Writes one batch of a project in a transaction of its own and answers each of its
/// requests; a failed batch of several writes each creation again on its own.
pub(super) async fn write_alone(store: Store, jobs: Vec<Job>) {
    metrics::histogram!(CREATIONS_PER_TRANSACTION).record(jobs.len() as f64);
    metrics::histogram!(super::CREATION_PROJECTS_PER_TRANSACTION).record(1.0);
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
pub(super) fn unavailable(jobs: Vec<Job>, error: &sea_orm::DbErr) {
    let cause = error.to_string();
    for job in jobs {
        let error = RepoError::Unavailable(anyhow::anyhow!("{cause}"));
        let _ = job.reply.send(Err(TxError::Store(error)));
    }
}

/// Answers each request of a committed batch with its result and its events.
pub(super) fn hand_out(jobs: Vec<Job>, created: Vec<Logged<TasksCreated>>) {
    for (job, created) in jobs.into_iter().zip(created) {
        // A request that went away cannot publish: its events stay in the log, where receivers
        // that notice the gap find them.
        let _ = job.reply.send(Ok(created));
    }
}
