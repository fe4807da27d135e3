//! Interaction tests of the task service with mocked ports, one module per kind of operation:
//! creation (`create.rs`), the aggregation bootstrap (`bootstrap.rs`: missing row, cache hit /
//! miss / errors, lost insert race, rollback), changes to existing tasks (`change.rs`) and reads
//! (`read.rs`), keyed creation (`once.rs`). This module holds the imports and the fixtures they share.

mod bootstrap;
mod change;
mod create;
mod once;
mod read;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mockall::Sequence;

use crate::aggregation::{Aggregation, Counts, DerivedStatus};
use crate::errors::{Classify, ErrorClass, RepoError, TxError};
use crate::events::{EventPayload, RestoredVia, TaskField};
use crate::metrics::{AGG_BOOTSTRAP_CACHE_TOTAL, AGG_CONFLICTS_TOTAL, WS_BROADCAST_FAILURES_TOTAL};
use crate::model::Member;
use crate::ports::{
    AggregationSnapshot, ArchivedByJob, BootstrapValues, CacheError, EventsOf,
    InsertAggregationError, Logged, MockAggregationCache, MockEventBroadcaster, Neighbour,
    ParentCandidate, SubtaskState, TaskRead, TaskUpdatePlan, TaskUpdated,
};
use crate::rank::{Placement, Rank};
use crate::services::tasks::*;
use crate::tests::support::{
    Board, Counters, Harness, counts, logged, logged_from, now, settle, user,
};
use crate::values::{Role, StatusCategory};

fn input(title: &str) -> NewTaskInput {
    NewTaskInput {
        title: title.to_owned(),
        ..NewTaskInput::default()
    }
}
/// The store creates tasks on top of `before` and counter `counter`.
fn store_creates(h: &mut Harness, board: &Board, role: Role, before: Counts, archived: bool) {
    let board = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan =
                decide(board.create_context(Some(role), archived)).map_err(TxError::Rejected)?;
            let created = board.apply_create(&plan, before, before.total, archived);
            Ok(logged(created, &record))
        });
}
/// Counts the cache writes and deletes, which run detached after commit.
fn count_cache_writes(cache: &mut MockAggregationCache) -> Arc<AtomicUsize> {
    let writes = Arc::new(AtomicUsize::new(0));
    let (w1, w2) = (writes.clone(), writes.clone());
    cache.expect_put_bootstrap().returning(move |_, _, _| {
        w1.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    cache.expect_delete_bootstrap().returning(move |_| {
        w2.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    writes
}
/// The store's consistent read of the row (if any) and the tasks version.
fn snapshot(counts: Option<Counts>, tasks_version: u64) -> AggregationSnapshot {
    AggregationSnapshot {
        counts,
        tasks_version,
    }
}
fn aggregation_row(board: &Board, counts: Counts) -> Aggregation {
    Aggregation {
        project_id: board.project_id,
        counts,
        updated_at: now(),
    }
}
/// The row is missing, the cache misses, the recount gives `recount` and the insert wins.
fn bootstrap_by_recount(h: &mut Harness, board: &Board, recount: Counts) {
    h.aggregations
        .expect_get_aggregation()
        .times(1)
        .returning(|_| Ok(None));
    h.cache
        .expect_get_bootstrap()
        .times(1)
        .returning(|_| Ok(None));
    h.aggregations
        .expect_recount()
        .times(1)
        .returning(move |_| Ok(recount));
    let row = aggregation_row(board, recount);
    h.aggregations
        .expect_insert_aggregation()
        .times(1)
        .returning(move |_, _, _| Ok(row.clone()));
}
/// A first creation that finds the row missing (the store rolls back), then a second that
/// commits on top of `before`.
fn store_misses_then_creates(h: &mut Harness, board: &Board, before: Counts, seq: &mut Sequence) {
    let first = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .in_sequence(seq)
        .returning(move |_, decide, _| {
            decide(first.create_context(Some(Role::Editor), false)).map_err(TxError::Rejected)?;
            Err(TxError::AggregationMissing)
        });
    let second = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .in_sequence(seq)
        .returning(move |_, decide, record| {
            let plan = decide(second.create_context(Some(Role::Editor), false))
                .map_err(TxError::Rejected)?;
            let created = second.apply_create(&plan, before, before.total, false);
            Ok(logged(created, &record))
        });
}
/// Runs a creation whose store context is `context` and returns the error.
async fn create_error(
    context: crate::ports::CreateTasksContext,
    task: NewTaskInput,
) -> CreateTaskError {
    let mut h = Harness::new();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, _| {
            decide(context.clone())
                .map(|_| unreachable!())
                .map_err(TxError::Rejected)
        });
    let (services, recorder) = h.build();
    let error = services
        .tasks
        .create_task(
            crate::ids::UserId::generate(),
            crate::ids::ProjectId::generate(),
            task,
        )
        .await
        .unwrap_err();
    assert!(recorder.events().is_empty());
    error
}
/// What the store does with a decided update of `task`, whatever the operation's error type.
fn apply_decision<E>(
    board: &Board,
    task: &crate::model::Task,
    context: &crate::ports::TaskContext,
    before: Counts,
    decide: crate::errors::Decide<crate::ports::TaskContext, TaskUpdatePlan, E>,
    record: crate::ports::ChangeEvents,
) -> Result<Logged<TaskUpdated>, TxError<E>> {
    let plan = decide(context.clone()).map_err(TxError::Rejected)?;
    Ok(logged(board.apply_update(task, &plan, before), &record))
}
/// The store applies decided updates, moves and (un)archives of `task` on top of `before`.
fn store_updates(
    h: &mut Harness,
    board: &Board,
    context: crate::ports::TaskContext,
    task: &crate::model::Task,
    before: Counts,
) {
    let (b, t, c) = (board.clone(), task.clone(), context.clone());
    h.tasks
        .expect_update_task()
        .returning(move |_, d, r| apply_decision(&b, &t, &c, before, d, r));
    let (b, t, c) = (board.clone(), task.clone(), context.clone());
    h.tasks
        .expect_move_task()
        .returning(move |_, d, r| apply_decision(&b, &t, &c, before, d, r));
    let (b, t, c) = (board.clone(), task.clone(), context);
    h.tasks
        .expect_set_task_archived()
        .returning(move |_, d, r| apply_decision(&b, &t, &c, before, d, r));
}
fn neighbour(task: &crate::model::Task, adjacent: Option<Rank>) -> Neighbour {
    Neighbour {
        id: task.id,
        status: task.status.clone(),
        rank: task.rank.clone(),
        adjacent,
    }
}
