//! Coalesced changes: the concurrent updates, moves and archivings of one project's tasks share
//! one transaction.
//!
//! Why: a change holds the project's aggregation row and event head (and a column's append
//! sequence) from its write to `COMMIT`, so on a busy board every change waited for the one
//! before it to commit: in the S3 profile the change statement spent 79 ms on average waiting,
//! and the project passed 100–140 changes a second.
//!
//! How: the project's writer locks the project row and then every task of its batch, in id
//! order, in one statement (the project first, as every writer of a project's tasks does). The
//! changes decided before the transaction on a read the lock finds current, of tasks the batch
//! changes once, are then written together in one statement (`change::write_set`), as if one
//! after the other in queue order; every other change runs its own context read, decision and
//! write in turn, in queue order, after them, and the batch commits once. Each change reads
//! after the ones before it, so each request gets exactly what it would have got committing
//! alone right after them (the batch's requests are concurrent, so any order is one they could
//! have committed in). A change the domain refuses writes nothing and leaves the transaction
//! usable.
//!
//! Failure isolation: an unavailable database is every request's answer at once; any other
//! failure (a deadlock with a writer outside the batch, a missing aggregation row, a constraint)
//! rolls the batch back and writes each change again alone, with the usual retries, so it fails
//! only the request it belongs to. A quiet project's batch is its one change, with the same
//! statements as the uncoalesced path.
//!
//! Routing: a change names only its task; the store remembers the project of each task it
//! created or changed (`Coalescing::remember`). A change of a task it does not know runs alone,
//! outside the writer, and teaches it the project.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::TaskId;
use tasklane_domain::model::Task;
use tasklane_domain::ports::{
    ChangeEvents, Logged, TaskChangeRequest, TaskContext, TaskUpdatePlan, TaskUpdated,
};
use tokio::sync::oneshot;

use super::{Coalescing, Queued};
use crate::Store;
use crate::counter::{count_statements, statements_sent_elsewhere};
use crate::db::Dialect;
use crate::errors::{Fail, is_unavailable};
use crate::tasks::change::{self, Locked, SetChange, Unchanged};
use crate::tasks::change_context::read_context;

/// The most changes one coalesced transaction writes: the first waits for all of them.
const MAX_CHANGES_PER_TRANSACTION: usize = 64;

/// The histogram of change requests written per transaction.
pub const CHANGES_PER_TRANSACTION: &str = "tasklane_task_changes_per_transaction";

/// A change waiting for its project's writer.
pub(super) struct Job {
    change: Box<dyn Change>,
}

impl Queued for Job {
    fn abandoned(&self) -> bool {
        self.change.abandoned()
    }

    fn weight(&self) -> usize {
        1
    }
}

/// A queued change, whatever the domain's error type of its kind (update, move, archive).
#[async_trait]
trait Change: Send {
    fn task_id(&self) -> TaskId;

    fn abandoned(&self) -> bool;

    /// Reads, decides and writes inside the batch's transaction. An error means the
    /// transaction cannot go on; a refusal is kept for [`Change::answer`].
    async fn apply(&mut self, txn: &DatabaseTransaction, d: Dialect) -> Result<(), Fail<()>>;

    /// The change as decided before the transaction, when it can be written with others in one
    /// statement ([`change::write_set`]).
    fn decided(&self) -> Option<SetChange<'_>>;

    /// Takes what the batch's one statement wrote for it and the statements sent for it
    /// (`None`: it wrote nothing, and `apply` writes the change; the statement still counts).
    fn written(&mut self, written: Option<(Logged<TaskUpdated>, u32)>);

    /// Answers with what `apply` wrote, once the batch has committed.
    fn answer(self: Box<Self>);

    /// Writes the change in a transaction of its own, and answers.
    async fn alone(self: Box<Self>, store: &Store);

    /// Answers with its batch's failure.
    fn fail(self: Box<Self>, error: RepoError);
}

/// What a request hears back: its outcome, and the statements sent for it.
struct Reply<E> {
    outcome: Result<Logged<TaskUpdated>, TxError<E>>,
    statements: u32,
}

/// A change decided before its transaction, with what the decision took for granted.
struct Decided {
    task: Task,
    plan: TaskUpdatePlan,
    unchanged: Unchanged,
}

struct Pending<E> {
    request: TaskChangeRequest,
    decide: Decide<TaskContext, TaskUpdatePlan, E>,
    events: ChangeEvents,
    reply: oneshot::Sender<Reply<E>>,
    /// Decided on a read before the transaction: written as decided if that read still holds.
    decided: Option<Decided>,
    /// What `apply` wrote or the refusal, and the statements it sent.
    applied: Option<(Result<Logged<TaskUpdated>, E>, u32)>,
    /// The batch's statements sent on its behalf besides the lock: the decided changes' one
    /// statement when it was one of them, and the one that logs what followed from them when
    /// something followed from it.
    sent_together: u32,
}

#[async_trait]
impl<E: Send + 'static> Change for Pending<E> {
    fn task_id(&self) -> TaskId {
        self.request.task_id
    }

    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn decided(&self) -> Option<SetChange<'_>> {
        self.decided.as_ref().map(|decided| SetChange {
            task: &decided.task,
            plan: &decided.plan,
            unchanged: decided.unchanged,
            events: &self.events,
        })
    }

    fn written(&mut self, written: Option<(Logged<TaskUpdated>, u32)>) {
        match written {
            Some((logged, statements)) => {
                self.sent_together += statements;
                self.decided = None;
                self.applied = Some((Ok(logged), 0));
            }
            None => self.sent_together += 1,
        }
    }

    async fn apply(&mut self, txn: &DatabaseTransaction, d: Dialect) -> Result<(), Fail<()>> {
        if self.applied.is_some() {
            return Ok(());
        }
        let mut sent = 0;
        if let Some(Decided {
            task,
            plan,
            unchanged,
        }) = self.decided.take()
        {
            let write = change::write_decided(
                txn,
                d,
                &self.request,
                task,
                plan,
                &self.events,
                Some(unchanged),
            );
            let (written, statements) = count_statements(write).await;
            sent += statements;
            match written {
                Ok(Some(logged)) => {
                    self.applied = Some((Ok(logged), sent));
                    return Ok(());
                }
                // The read it was decided on is out of date: decide again, under the lock.
                Ok(None) => {}
                Err(failure) => return Err(failure),
            }
        }
        let (applied, statements) = count_statements(change::apply(
            txn,
            d,
            &self.request,
            &self.decide,
            &self.events,
        ))
        .await;
        let statements = statements + sent;
        let applied = match applied {
            Ok(logged) => Ok(logged),
            Err(failure) => Err(failure.refusal()?),
        };
        self.applied = Some((applied, statements));
        Ok(())
    }

    fn answer(mut self: Box<Self>) {
        match self.applied.take() {
            // The batch's lock statement counts as each change's first.
            Some((applied, statements)) => {
                let _ = self.reply.send(Reply {
                    outcome: applied.map_err(TxError::Rejected),
                    statements: statements + 1 + self.sent_together,
                });
            }
            // Unreachable: a batch commits only when every change in it was applied.
            None => self.fail(RepoError::other("a coalesced change was not applied")),
        }
    }

    async fn alone(self: Box<Self>, store: &Store) {
        let (outcome, statements) = count_statements(change::update(
            store,
            &self.request,
            &self.decide,
            &self.events,
        ))
        .await;
        let _ = self.reply.send(Reply {
            outcome,
            statements,
        });
    }

    fn fail(self: Box<Self>, error: RepoError) {
        let _ = self.reply.send(Reply {
            outcome: Err(TxError::Store(error)),
            statements: 0,
        });
    }
}

/// Changes a task on PostgreSQL: through its project's writer when the project is known,
/// otherwise alone.
pub(crate) async fn update<E: Send + 'static>(
    store: &Store,
    coalescing: &Coalescing,
    request: TaskChangeRequest,
    decide: Decide<TaskContext, TaskUpdatePlan, E>,
    events: ChangeEvents,
) -> Result<Logged<TaskUpdated>, TxError<E>> {
    let Some(project) = coalescing.project_of(request.task_id) else {
        let updated = change::update(store, &request, &decide, &events).await;
        if let Ok(updated) = &updated {
            coalescing.remember(updated.value.task.id, updated.value.task.project_id);
        }
        return updated;
    };
    let decided = if change::decidable_before(&request) {
        decide_before(store, &request, &decide).await?
    } else {
        None
    };
    let (reply, answer) = oneshot::channel();
    let job = Job {
        change: Box::new(Pending {
            request,
            decide,
            events,
            reply,
            decided,
            applied: None,
            sent_together: 0,
        }),
    };
    coalescing.enqueue(
        store,
        (&coalescing.changes, project, job),
        (MAX_CHANGES_PER_TRANSACTION, Some(CHANGES_PER_TRANSACTION)),
        write_batch,
    );
    let Reply {
        outcome,
        statements,
    } = answer
        .await
        .map_err(|_| TxError::Store(RepoError::other("the change writer stopped")))?;
    statements_sent_elsewhere(statements);
    outcome
}

/// Reads the change's context without locks and decides on it, in the request's own task, so
/// that the writer only writes it. A refusal is the answer at once (the read was current when it
/// was made); a plan the writer cannot write as decided is left to be decided under the lock.
async fn decide_before<E>(
    store: &Store,
    request: &TaskChangeRequest,
    decide: &Decide<TaskContext, TaskUpdatePlan, E>,
) -> Result<Option<Decided>, TxError<E>> {
    let context = read_context(&store.writer, store.dialect, request)
        .await
        .map_err(|error| Fail::<E>::Db(error).into_tx())?;
    let task = context.task.clone();
    let project_archived = context
        .project
        .as_ref()
        .is_some_and(|project| project.archived_at.is_some());
    let role = context.actor_role;
    let plan = decide(context).map_err(TxError::Rejected)?;
    let assignee = plan
        .patch
        .assignee
        .as_ref()
        .and_then(|assignee| assignee.as_ref().map(|user| user.id));
    match task {
        Some(task) if change::writable_as_decided(&plan) => Ok(Some(Decided {
            unchanged: Unchanged {
                project_archived,
                actor: request.actor,
                role,
                assignee,
            },
            task,
            plan,
        })),
        _ => Ok(None),
    }
}

/// Writes one batch and answers each of its requests.
async fn write_batch(store: Store, jobs: Vec<Job>) {
    let mut changes: Vec<Box<dyn Change>> = jobs.into_iter().map(|job| job.change).collect();
    match write_together(&store, &mut changes).await {
        Ok(()) => {
            for change in changes {
                change.answer();
            }
            return;
        }
        Err(Fail::Db(error)) if is_unavailable(&error) => {
            let cause = error.to_string();
            for change in changes {
                change.fail(RepoError::Unavailable(anyhow::anyhow!("{cause}")));
            }
            return;
        }
        Err(failure) => {
            tracing::debug!(
                ?failure,
                batch = changes.len(),
                "change batch failed; writing each change on its own"
            );
        }
    }
    for change in changes {
        change.alone(&store).await;
    }
}

/// Locks the project and the batch's tasks, applies every change in queue order, and commits.
async fn write_together(store: &Store, changes: &mut [Box<dyn Change>]) -> Result<(), Fail<()>> {
    let d = store.dialect;
    let txn = store.writer.begin().await?;
    let task_ids: Vec<TaskId> = changes.iter().map(|change| change.task_id()).collect();
    let applied = async {
        let locked = change::lock(&txn, d, &task_ids).await?;
        write_decided_together(&txn, changes, &locked).await?;
        for change in changes.iter_mut() {
            change.apply(&txn, d).await?;
        }
        Ok::<(), Fail<()>>(())
    }
    .await;
    match applied {
        Ok(()) => Ok(txn.commit().await?),
        Err(failure) => {
            // A failed rollback is moot: the connection is discarded.
            let _ = txn.rollback().await;
            Err(failure)
        }
    }
}

/// Writes the batch's changes that were decided before the transaction on a read the lock
/// found current, of tasks the batch changes once, in one statement; `apply` then writes the
/// others one by one, after them (the batch's requests are concurrent: any order is one they
/// could have committed in). Fewer than two are left to `apply`, whose statement is as short.
async fn write_decided_together(
    txn: &DatabaseTransaction,
    changes: &mut [Box<dyn Change>],
    locked: &[Locked],
) -> Result<(), Fail<()>> {
    let mut times: HashMap<TaskId, usize> = HashMap::new();
    for change in changes.iter() {
        *times.entry(change.task_id()).or_default() += 1;
    }
    let current = |change: &SetChange<'_>| {
        times.get(&change.task.id) == Some(&1)
            && locked.iter().any(|found| found.still(change.task))
    };
    let chosen: Vec<usize> = changes
        .iter()
        .enumerate()
        .filter(|(_, change)| change.decided().is_some_and(|decided| current(&decided)))
        .map(|(i, _)| i)
        .collect();
    if chosen.len() < 2 {
        return Ok(());
    }
    let written = {
        let set: Vec<SetChange<'_>> = chosen
            .iter()
            .filter_map(|&i| changes[i].decided())
            .collect();
        let project = set[0].task.project_id;
        change::write_set(txn, project, &set).await?
    };
    match written {
        Some(written) => {
            for (i, written) in chosen.into_iter().zip(written) {
                changes[i].written(Some(written));
            }
        }
        // A decision's other premises (a role, a membership, a column) moved: each change is
        // written on its own, where its own check decides.
        None => {
            for i in chosen {
                changes[i].written(None);
            }
        }
    }
    Ok(())
}
