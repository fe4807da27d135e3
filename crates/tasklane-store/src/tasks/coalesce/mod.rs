//! Coalesced writes on PostgreSQL: the concurrent writes of one project share one transaction.
//!
//! Why: every write to a project's tasks updates the same hot rows (the aggregation, the event
//! head, a column's append sequence) and holds them until `COMMIT`. One transaction per request
//! caps a busy project at one lock hand-off and one commit flush per request (the S1 and S3
//! profiles in docs/performance.md).
//!
//! How: one writer task per project and kind of write takes everything queued for the project,
//! writes it in one transaction, commits, and answers each request with exactly what it would
//! have seen committing alone right after the request before it. While one batch is written the
//! next one gathers, so a busy project gets one transaction per round of requests and a quiet
//! one sees no added wait (no timer). Creations (`creations.rs`) and changes to tasks
//! (`changes.rs`) have a writer each: a creation's batch is one statement, a change's batch
//! runs each change's own statements in turn.

mod changes;
mod creations;
mod groups;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use tasklane_domain::ids::{ProjectId, TaskId};

use crate::Store;

pub use changes::CHANGES_PER_TRANSACTION;
pub(crate) use changes::update;
pub use creations::CREATIONS_PER_TRANSACTION;
pub(crate) use creations::create;
pub use groups::CREATION_PROJECTS_PER_TRANSACTION;

/// The least time between the starts of two batches of a busy project's writer (one whose
/// requests arrive while its last batch is written). Why: every batch moves the project's
/// version, and every reader of a board whose version moved reads the page again; with the
/// writers on their own thread, batches of one or two changes followed each other every few
/// milliseconds, and the S3 board traffic fell from 3,458 to 1,122 requests a second, reading a
/// fresh page for nearly every request. With this interval (and readers sharing page reads,
/// in the server) it answers 3,664–3,824 (docs/store.md, "Batch interval"). A request to a
/// project whose writer has nothing waiting is written at once.
const BATCH_INTERVAL: Duration = Duration::from_millis(25);

/// How many tasks' projects the store remembers for routing changes to their project's writer
/// (about 100 bytes each).
const REMEMBERED_TASKS: u64 = 100_000;

/// The store's coalescing state (PostgreSQL with coalescing on).
///
/// The writers run on a thread of their own, over connections opened there. Why: a writer
/// holds its project's hot rows while it sends its batch's statements one after the other, so
/// every wait between two of them is a wait for every writer of the project. On an HTTP
/// worker's runtime each of those waits was a turn behind the worker's other requests (board
/// pages to serialise), and a connection opened by a busy worker hears from PostgreSQL only
/// when that worker next polls: about 1.7 ms per statement in the S3 profile, against 0.27 ms
/// of execution.
pub(crate) struct Coalescing {
    creations: Arc<ProjectQueues<creations::Job>>,
    changes: Arc<ProjectQueues<changes::Job>>,
    /// Creation batches of several projects, written in one transaction (`groups.rs`).
    groups: Arc<groups::Groups>,
    /// The project of each recently created or changed task: a change names only its task, and
    /// is queued for its project's writer only when the project is known. A task never changes
    /// project, so an entry cannot go stale; a forgotten task's change runs alone and is
    /// remembered again.
    task_projects: moka::sync::Cache<TaskId, ProjectId>,
    /// The writers' runtime, on the writers' thread.
    runtime: tokio::runtime::Handle,
    /// The writers' connections, opened on their thread.
    connections: DatabaseConnection,
    /// Dropped with the last store: ends the writers' thread.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for Coalescing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescing").finish_non_exhaustive()
    }
}

impl Coalescing {
    /// Starts the writers' thread with a pool of up to `connections` connections to `connect`.
    pub(crate) fn start(
        connect: PgConnectOptions,
        connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Coalescing> {
        let committers = connections as usize;
        let (started, start) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("tasklane-writers".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started.send(Err(anyhow::Error::from(error)));
                        return;
                    }
                };
                // Opened lazily, by tasks on this runtime: their sockets are this thread's.
                let pool = runtime.block_on(async {
                    PgPoolOptions::new()
                        .max_connections(connections)
                        .acquire_timeout(acquire_timeout)
                        .connect_lazy_with(connect)
                });
                let mut db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
                db.set_metric_callback(crate::counter::statement_sent);
                let _ = started.send(Ok((runtime.handle().clone(), db)));
                // Runs the writers until the store is dropped.
                let _ = runtime.block_on(stopped);
            })?;
        let (runtime, connections) = start
            .recv()
            .map_err(|_| anyhow::anyhow!("the writers' thread did not start"))??;
        Ok(Coalescing {
            creations: Arc::default(),
            changes: Arc::default(),
            groups: Arc::new(groups::Groups::new(committers)),
            task_projects: moka::sync::Cache::new(REMEMBERED_TASKS),
            runtime,
            connections,
            _stop: stop,
        })
    }

    /// Queues `job` for its project's writer; the first job of an idle project starts the
    /// writer on the writers' thread, writing batches of at most `limit` (sizes recorded in
    /// `histogram`, when given) with `write` through the writers' connections.
    fn enqueue<J, F>(
        &self,
        store: &Store,
        (queues, project, job): (&Arc<ProjectQueues<J>>, ProjectId, J),
        (limit, histogram): (usize, Option<&'static str>),
        write: fn(Store, Vec<J>) -> F,
    ) where
        J: Queued,
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(writer) = queues.submit(project, job) {
            let store = Store {
                writer: self.connections.clone(),
                ..store.clone()
            };
            self.runtime
                .spawn(write_queue(writer, limit, histogram, move |jobs| {
                    write(store.clone(), jobs)
                }));
        }
    }

    /// How many changes of `project` wait for its writer; `None` when it has no writer.
    #[cfg(feature = "testing")]
    pub(crate) fn changes_waiting(&self, project: ProjectId) -> Option<usize> {
        self.changes
            .queues()
            .get(&project)
            .map(|queue| queue.pending.len())
    }

    /// How many projects' creation batches wait for a group.
    #[cfg(feature = "testing")]
    pub(crate) fn creation_batches_waiting(&self) -> usize {
        self.groups.batches_waiting()
    }

    /// Remembers that `task` is in `project`.
    pub(crate) fn remember(&self, task: TaskId, project: ProjectId) {
        self.task_projects.insert(task, project);
    }

    fn project_of(&self, task: TaskId) -> Option<ProjectId> {
        self.task_projects.get(&task)
    }
}

/// A request waiting in a project's queue.
trait Queued: Send + 'static {
    /// Whether the request went away: nobody would answer or publish it, so it is not written.
    fn abandoned(&self) -> bool;

    /// How much of a transaction it takes (batches stop at the writer's limit).
    fn weight(&self) -> usize;
}

/// The queues of waiting requests, one per project, each owned by one writer task.
struct ProjectQueues<J> {
    queues: Mutex<HashMap<ProjectId, Queue<J>>>,
    next_writer: AtomicU64,
}

impl<J> Default for ProjectQueues<J> {
    fn default() -> Self {
        Self {
            queues: Mutex::default(),
            next_writer: AtomicU64::default(),
        }
    }
}

struct Queue<J> {
    pending: Vec<J>,
    /// Which writer task owns the queue (see [`WriterGuard`]).
    writer: u64,
}

impl<J: Queued> ProjectQueues<J> {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<ProjectId, Queue<J>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; the first job of an idle project returns the guard its new writer must
    /// own (the caller spawns the writer).
    fn submit(self: &Arc<Self>, project: ProjectId, job: J) -> Option<WriterGuard<J>> {
        let mut queues = self.queues();
        match queues.get_mut(&project) {
            // A writer is running: it takes the job with its next batch.
            Some(queue) => {
                queue.pending.push(job);
                None
            }
            None => {
                let writer = self.next_writer.fetch_add(1, Ordering::Relaxed);
                queues.insert(
                    project,
                    Queue {
                        pending: vec![job],
                        writer,
                    },
                );
                Some(WriterGuard {
                    queues: self.clone(),
                    project,
                    writer,
                })
            }
        }
    }

    /// Whether requests of `project` are waiting.
    fn has_pending(&self, project: ProjectId) -> bool {
        self.queues()
            .get(&project)
            .is_some_and(|queue| queue.pending.iter().any(|job| !job.abandoned()))
    }

    /// The next batch of `project`, oldest first, up to `max_weight` (at least one job); none
    /// ends the writer (and forgets the queue, under the same lock, so a later job starts a new
    /// one).
    fn next_batch(&self, project: ProjectId, max_weight: usize) -> Vec<J> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(&project) else {
            return Vec::new();
        };
        queue.pending.retain(|job| !job.abandoned());
        let mut weight = 0;
        let mut take = 0;
        for job in &queue.pending {
            if take > 0 && weight + job.weight() > max_weight {
                break;
            }
            weight += job.weight();
            take += 1;
        }
        if take == 0 {
            queues.remove(&project);
            return Vec::new();
        }
        queue.pending.drain(..take).collect()
    }
}

/// Owns a project's queue for one writer task. If the task ends without emptying it (its
/// runtime shut down), dropping the guard forgets the queue, failing the requests still in it,
/// so that the next request starts a new writer instead of waiting forever.
struct WriterGuard<J: Queued> {
    queues: Arc<ProjectQueues<J>>,
    project: ProjectId,
    writer: u64,
}

impl<J: Queued> Drop for WriterGuard<J> {
    fn drop(&mut self) {
        let mut queues = self.queues.queues();
        if queues
            .get(&self.project)
            .is_some_and(|queue| queue.writer == self.writer)
        {
            queues.remove(&self.project);
        }
    }
}

/// The writer of one project: batch after batch (each of at most `max_weight`, its size
/// recorded in `histogram`, one every [`BATCH_INTERVAL`] at most while requests keep
/// arriving) until its queue is empty.
async fn write_queue<J, W, F>(
    guard: WriterGuard<J>,
    max_weight: usize,
    histogram: Option<&'static str>,
    write: W,
) where
    J: Queued,
    W: Fn(Vec<J>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let project = guard.project;
    let mut last_batch: Option<tokio::time::Instant> = None;
    loop {
        // Requests that arrived while the last batch was written make a busy project: gather
        // for the rest of the interval. None: the writer ends, and the next request starts a
        // new one at once (a client writing one request after the other never waits).
        if let Some(started) = last_batch
            && guard.queues.has_pending(project)
        {
            tokio::time::sleep_until(started + BATCH_INTERVAL).await;
        }
        let jobs = guard.queues.next_batch(project, max_weight);
        if jobs.is_empty() {
            return;
        }
        last_batch = Some(tokio::time::Instant::now());
        if let Some(histogram) = histogram {
            metrics::histogram!(histogram).record(jobs.len() as f64);
        }
        // A panic while writing fails that batch's requests (their replies are dropped), not
        // the ones queued behind it.
        if let Err(error) = tokio::spawn(write(jobs)).await {
            tracing::error!(%error, %project, ?histogram, "a coalesced batch failed to complete");
        }
    }
}
