//! Interaction tests of the task service with mocked ports: the seed's create path (aggregation
//! present, missing with cache hit / miss / errors, lost insert race), rollback, broadcast
//! failure, derived status, restoration, validation, and every kind of change.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mockall::Sequence;

use super::*;
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
use crate::services::testing::{
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

#[tokio::test]
async fn create_when_the_aggregation_exists_commits_once_and_publishes_task_created() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(2, 0, 0, 0, 0), false);
    let writes = count_cache_writes(&mut h.cache);
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let created = services
        .tasks
        .create_task(actor, board.project_id, input("Write docs"))
        .await
        .unwrap();
    settle().await;

    let task = &created.tasks[0];
    assert_eq!(task.key.to_string(), "WEB-3");
    assert_eq!(
        task.status.category,
        StatusCategory::Todo,
        "defaults to the first todo status"
    );
    assert_eq!(created.aggregation.after, counts(3, 0, 0, 0, 0));
    assert_eq!(created.bootstrap, None);
    assert_eq!(recorder.names(), ["task_created"]);
    assert_eq!(recorder.events()[0].actor_id, actor);
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "no cache traffic when the row exists"
    );
}

#[tokio::test]
async fn create_when_the_aggregation_is_missing_uses_a_cache_hit_and_deletes_the_key_after_commit()
{
    let board = Board::new();
    let cached = counts(4, 1, 0, 0, 2);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    h.aggregations
        .expect_get_aggregation()
        .times(1)
        .returning(|_| Ok(None));
    h.cache.expect_get_bootstrap().times(1).returning(move |_| {
        Ok(Some(BootstrapValues {
            counts: cached,
            tasks_version: 7,
        }))
    });
    // The entry was read at the version that is still current: no change since.
    h.aggregations
        .expect_aggregation_snapshot()
        .times(1)
        .returning(|_| Ok(snapshot(None, 7)));
    h.aggregations.expect_recount().never();
    let row = aggregation_row(&board, cached);
    h.aggregations
        .expect_insert_aggregation()
        .withf(move |_, c, _| *c == cached)
        .times(1)
        .returning(move |_, _, _| Ok(row.clone()));
    h.cache
        .expect_delete_bootstrap()
        .times(1)
        .returning(|_| Ok(()));
    h.cache.expect_put_bootstrap().never();
    store_misses_then_creates(&mut h, &board, cached, &mut seq);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();
    settle().await;

    assert_eq!(
        created.bootstrap,
        Some(crate::services::BootstrapSource::CacheHit)
    );
    assert_eq!(created.aggregation.after.total, cached.total + 1);
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=hit}}")),
        1
    );
}

#[tokio::test]
async fn create_when_the_aggregation_is_missing_and_the_cache_misses_recounts_without_double_counting()
 {
    let board = Board::new();
    let recount = counts(3, 1, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
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
    let row = aggregation_row(&board, recount);
    let committed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (set, seen) = (committed.clone(), committed.clone());
    // The row gets exactly the recount: the task in flight was rolled back, so it is not in it.
    h.aggregations
        .expect_insert_aggregation()
        .withf(move |_, c, _| *c == recount)
        .times(1)
        .returning(move |_, _, _| {
            set.store(true, Ordering::SeqCst);
            Ok(row.clone())
        });
    // After the commit the row holds the recount and the new task, at version 1.
    h.aggregations
        .expect_aggregation_snapshot()
        .times(1)
        .returning(|_| Ok(snapshot(Some(counts(4, 1, 0, 0, 0)), 1)));
    h.cache
        .expect_put_bootstrap()
        .withf(|_, values, ttl| {
            *values
                == BootstrapValues {
                    counts: counts(4, 1, 0, 0, 0),
                    tasks_version: 1,
                }
                && *ttl == Duration::from_secs(3600)
        })
        .times(1)
        .returning(move |_, _, _| {
            assert!(
                seen.load(Ordering::SeqCst),
                "cached only after the row was committed"
            );
            Ok(())
        });
    h.cache.expect_delete_bootstrap().never();
    store_misses_then_creates(&mut h, &board, recount, &mut seq);
    let (services, recorder) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();
    settle().await;

    assert_eq!(
        created.bootstrap,
        Some(crate::services::BootstrapSource::Recount)
    );
    assert_eq!(
        created.aggregation.after,
        counts(4, 1, 0, 0, 0),
        "4 existing + the new one, once"
    );
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=miss}}")),
        1
    );
    assert_eq!(recorder.names(), ["task_created"]);
}

#[tokio::test]
async fn create_with_the_cache_erroring_on_read_recounts_counts_an_error_and_succeeds() {
    let board = Board::new();
    let recount = counts(1, 0, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    h.aggregations
        .expect_get_aggregation()
        .returning(|_| Ok(None));
    h.cache
        .expect_get_bootstrap()
        .times(1)
        .returning(|_| Err(CacheError(anyhow::anyhow!("connection refused"))));
    h.aggregations
        .expect_recount()
        .times(1)
        .returning(move |_| Ok(recount));
    let row = aggregation_row(&board, recount);
    h.aggregations
        .expect_insert_aggregation()
        .times(1)
        .returning(move |_, _, _| Ok(row.clone()));
    h.aggregations
        .expect_aggregation_snapshot()
        .returning(|_| Ok(snapshot(Some(counts(2, 0, 0, 0, 0)), 1)));
    h.cache
        .expect_put_bootstrap()
        .returning(|_, _, _| Err(CacheError(anyhow::anyhow!("still down"))));
    store_misses_then_creates(&mut h, &board, recount, &mut seq);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await;
    settle().await;

    assert_eq!(created.unwrap().aggregation.after.total, 2);
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=error}}")),
        2,
        "read and write"
    );
}

#[tokio::test]
async fn create_with_the_cache_erroring_on_write_still_succeeds_and_counts_an_error() {
    let board = Board::new();
    let recount = counts(0, 0, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    bootstrap_by_recount(&mut h, &board, recount);
    h.aggregations
        .expect_aggregation_snapshot()
        .returning(|_| Ok(snapshot(Some(counts(1, 0, 0, 0, 0)), 1)));
    h.cache
        .expect_put_bootstrap()
        .times(1)
        .returning(|_, _, _| Err(CacheError(anyhow::anyhow!("timed out after 50 ms"))));
    store_misses_then_creates(&mut h, &board, recount, &mut seq);
    let (services, recorder) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await;
    settle().await;

    assert!(created.is_ok());
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=miss}}")),
        1
    );
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=error}}")),
        1
    );
    assert_eq!(recorder.names(), ["task_created"]);
}

#[tokio::test]
async fn create_with_a_stale_cache_entry_recounts_instead_of_trusting_it() {
    let board = Board::new();
    let recount = counts(3, 0, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    h.aggregations
        .expect_get_aggregation()
        .times(1)
        .returning(|_| Ok(None));
    // Cached at version 4; tasks changed since (version 6): the counts may be wrong.
    h.cache.expect_get_bootstrap().times(1).returning(|_| {
        Ok(Some(BootstrapValues {
            counts: counts(9, 0, 0, 0, 0),
            tasks_version: 4,
        }))
    });
    let mut snapshots = Sequence::new();
    h.aggregations
        .expect_aggregation_snapshot()
        .times(1)
        .in_sequence(&mut snapshots)
        .returning(|_| Ok(snapshot(None, 6)));
    h.aggregations
        .expect_recount()
        .times(1)
        .returning(move |_| Ok(recount));
    let row = aggregation_row(&board, recount);
    h.aggregations
        .expect_insert_aggregation()
        .withf(move |_, c, _| *c == recount)
        .times(1)
        .returning(move |_, _, _| Ok(row.clone()));
    h.aggregations
        .expect_aggregation_snapshot()
        .times(1)
        .in_sequence(&mut snapshots)
        .returning(|_| Ok(snapshot(Some(counts(4, 0, 0, 0, 0)), 7)));
    h.cache
        .expect_put_bootstrap()
        .withf(|_, values, _| values.tasks_version == 7 && values.counts.total == 4)
        .times(1)
        .returning(|_, _, _| Ok(()));
    h.cache.expect_delete_bootstrap().never();
    store_misses_then_creates(&mut h, &board, recount, &mut seq);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();
    settle().await;

    assert_eq!(
        created.bootstrap,
        Some(crate::services::BootstrapSource::Recount)
    );
    assert_eq!(created.aggregation.after, counts(4, 0, 0, 0, 0));
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=miss}}")),
        1,
        "a stale entry is a miss"
    );
    assert_eq!(
        metrics.get(&format!("{AGG_BOOTSTRAP_CACHE_TOTAL}{{result=hit}}")),
        0
    );
}

#[tokio::test]
async fn create_whose_aggregation_insert_loses_the_race_rereads_the_winner_and_succeeds() {
    let board = Board::new();
    let winner = counts(5, 0, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    let mut reads = Sequence::new();
    h.aggregations
        .expect_get_aggregation()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_| Ok(None));
    h.cache.expect_get_bootstrap().returning(|_| Ok(None));
    h.aggregations
        .expect_recount()
        .returning(|_| Ok(counts(5, 0, 0, 0, 0)));
    h.aggregations
        .expect_insert_aggregation()
        .times(1)
        .returning(|_, _, _| Err(InsertAggregationError::Conflict));
    let row = aggregation_row(&board, winner);
    h.aggregations
        .expect_get_aggregation()
        .times(1)
        .in_sequence(&mut reads)
        .returning(move |_| Ok(Some(row.clone())));
    let writes = count_cache_writes(&mut h.cache);
    store_misses_then_creates(&mut h, &board, winner, &mut seq);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();
    settle().await;

    assert_eq!(
        created.bootstrap,
        Some(crate::services::BootstrapSource::Existing)
    );
    assert_eq!(created.aggregation.after.total, 6);
    assert_eq!(metrics.get(AGG_CONFLICTS_TOTAL), 1);
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "the loser leaves the cache to the winner"
    );
}

#[tokio::test]
async fn create_when_the_repository_fails_mid_transaction_returns_the_error_and_caches_and_broadcasts_nothing()
 {
    let board = Board::new();
    let mut h = Harness::new();
    let decided = Arc::new(AtomicUsize::new(0));
    let seen = decided.clone();
    let context = board.create_context(Some(Role::Owner), false);
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, _| {
            decide(context.clone()).map_err(TxError::Rejected)?;
            seen.fetch_add(1, Ordering::SeqCst);
            // The task insert went through, then the aggregation update failed: rolled back.
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "deadlock detected"
            ))))
        });
    let writes = count_cache_writes(&mut h.cache);
    let (services, recorder) = h.build();

    let error = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap_err();
    settle().await;

    assert!(matches!(error, CreateTaskError::Store(RepoError::Other(_))));
    assert_eq!(error.class(), ErrorClass::Internal);
    assert_eq!(
        decided.load(Ordering::SeqCst),
        1,
        "the failure happened after the decision"
    );
    assert!(recorder.events().is_empty(), "nothing broadcast");
    assert_eq!(writes.load(Ordering::SeqCst), 0, "nothing cached");
}

#[tokio::test]
async fn create_publishes_exactly_the_events_the_store_logged_with_the_encoders_data() {
    let board = Board::new();
    let mut h = Harness::new();
    let returned = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (store, kept) = (board.clone(), returned.clone());
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), true))
                .map_err(TxError::Rejected)?;
            let created = store.apply_create(&plan, counts(0, 0, 0, 0, 2), 2, true);
            // The project already logged 40 events: numbering goes on from there, so a service
            // that renumbered (or published events of its own) would not match.
            let written = logged_from(41, created, &record);
            *kept.lock().unwrap() = written.events.clone();
            Ok(written)
        });
    let (services, recorder) = h.build();

    services
        .tasks
        .create_batch(
            crate::ids::UserId::generate(),
            board.project_id,
            vec![input("a"), input("b")],
        )
        .await
        .unwrap();

    let returned = returned.lock().unwrap().clone();
    let seqs: Vec<u64> = returned.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [41, 42, 43, 44]);
    // The data the store logged is the encoder's output for each event, in creation order.
    let data: Vec<&str> = returned.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        data,
        [
            r#"{"type":"task_created"}"#,
            r#"{"type":"task_created"}"#,
            r#"{"type":"project_restored"}"#,
            r#"{"type":"project_status_changed"}"#,
        ]
    );
    assert_eq!(
        recorder.logged(),
        returned,
        "published as logged: same seqs, same order, same data"
    );
}

#[tokio::test]
async fn a_write_whose_transaction_fails_after_recording_its_events_publishes_none_of_them() {
    // A real store records the events inside the transaction; when it then fails, they are
    // rolled back with it and must never reach clients.
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut h = Harness::new();
    let recorded = Arc::new(AtomicUsize::new(0));
    let (store, seen) = (board.clone(), recorded.clone());
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), false))
                .map_err(TxError::Rejected)?;
            let created = store.apply_create(&plan, counts(1, 0, 0, 0, 0), 1, false);
            seen.fetch_add(record.events_of(&created).len(), Ordering::SeqCst);
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "could not serialize access"
            ))))
        });
    let (store, seen) = (board.clone(), recorded.clone());
    let (before, context) = (task.clone(), board.task_context(Some(Role::Editor), &task));
    h.tasks
        .expect_update_task()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            let updated = store.apply_update(&before, &plan, counts(1, 0, 0, 0, 0));
            seen.fetch_add(record.events_of(&updated).len(), Ordering::SeqCst);
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "connection reset during COMMIT"
            ))))
        });
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let error = services
        .tasks
        .create_task(actor, board.project_id, input("t"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    let change = TaskUpdateInput {
        title: Some("New".into()),
        ..TaskUpdateInput::default()
    };
    let error = services
        .tasks
        .update_task(actor, task.id, change, None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    settle().await;

    assert_eq!(
        recorded.load(Ordering::SeqCst),
        2,
        "task_created and task_updated were recorded in the failed transactions"
    );
    assert!(recorder.logged().is_empty(), "nothing published");
}

#[tokio::test]
async fn create_succeeds_when_the_broadcaster_fails_and_the_failure_is_counted() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let mut broadcaster = MockEventBroadcaster::new();
    broadcaster
        .expect_publish()
        .times(1)
        .returning(|_| Err(crate::ports::BroadcastError(anyhow::anyhow!("hub gone"))));
    h.broadcaster = Arc::new(broadcaster);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await;

    assert_eq!(created.unwrap().tasks.len(), 1);
    assert_eq!(metrics.get(WS_BROADCAST_FAILURES_TOTAL), 1);
}

#[tokio::test]
async fn create_that_changes_the_derived_status_publishes_one_project_status_changed_with_old_and_new()
 {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(0, 0, 0, 0, 2), false);
    let (services, recorder) = h.build();

    services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert_eq!(recorder.names(), ["task_created", "project_status_changed"]);
    match &recorder.events()[1].payload {
        EventPayload::ProjectStatusChanged {
            old_status,
            new_status,
            aggregation,
        } => {
            assert_eq!(
                (*old_status, *new_status),
                (DerivedStatus::Done, DerivedStatus::Todo)
            );
            assert_eq!(aggregation.counts, counts(1, 0, 0, 0, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn create_that_keeps_the_derived_status_publishes_no_status_change() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(1, 2, 0, 0, 0), false);
    let (services, recorder) = h.build();

    services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert_eq!(recorder.names(), ["task_created"]);
}

#[tokio::test]
async fn create_in_an_archived_project_restores_it_and_publishes_project_restored_after_the_task() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, true);
    let (services, recorder) = h.build();

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert!(created.project_restored);
    assert!(created.project.archived_at.is_none());
    // What the write wrote comes first, what followed from it after (see `WriteEvents`).
    assert_eq!(recorder.names(), ["task_created", "project_restored"]);
    assert!(matches!(
        recorder.events()[1].payload,
        EventPayload::ProjectRestored {
            restored_via: RestoredVia::TaskCreated,
            ..
        }
    ));
}

#[tokio::test]
async fn create_rejects_invalid_fields_at_their_boundaries_before_any_write() {
    let (services, recorder) = Harness::new().build(); // no store expectation: any call panics
    let project = crate::ids::ProjectId::generate();
    let actor = crate::ids::UserId::generate();
    let cases = [
        (
            NewTaskInput {
                title: String::new(),
                ..input("")
            },
            "title",
        ),
        (input(&"x".repeat(501)), "title"),
        (
            NewTaskInput {
                description: Some("d".repeat(100_001)),
                ..input("t")
            },
            "description",
        ),
        (
            NewTaskInput {
                story_points: Some(101),
                ..input("t")
            },
            "story_points",
        ),
        (
            NewTaskInput {
                story_points: Some(-1),
                ..input("t")
            },
            "story_points",
        ),
    ];
    for (bad, field) in cases {
        let error = services
            .tasks
            .create_task(actor, project, bad)
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Invalid);
        assert_eq!(error.field_errors().unwrap().errors()[0].field, field);
    }
    assert!(recorder.events().is_empty());
}

#[tokio::test]
async fn create_accepts_fields_exactly_at_their_limits() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let (services, _) = h.build();
    let limits = NewTaskInput {
        title: "é".repeat(500),
        description: Some("d".repeat(100_000)),
        story_points: Some(100),
        ..NewTaskInput::default()
    };

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, limits)
        .await
        .unwrap();

    assert_eq!(created.tasks[0].title.as_str().chars().count(), 500);
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

#[tokio::test]
async fn create_rejects_a_status_of_another_project() {
    let board = Board::new();
    let foreign = Board::new().status(StatusCategory::Todo).id;
    let task = NewTaskInput {
        status_id: Some(foreign),
        ..input("t")
    };
    let error = create_error(board.create_context(Some(Role::Editor), false), task).await;
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "status_id");
}

#[tokio::test]
async fn create_rejects_a_non_member_or_viewer_assignee_and_a_foreign_parent() {
    let board = Board::new();
    let viewer = user("vera");
    let mut context = board.create_context(Some(Role::Editor), false);
    context.assignees.push(Member {
        user: viewer.clone(),
        role: Role::Viewer,
        added_at: now(),
    });
    let cases = [
        (
            NewTaskInput {
                assignee_id: Some(viewer.id),
                ..input("t")
            },
            "assignee_id",
            "viewers cannot be assigned tasks",
        ),
        (
            NewTaskInput {
                assignee_id: Some(user("x").id),
                ..input("t")
            },
            "assignee_id",
            "is not a member of this project",
        ),
        (
            NewTaskInput {
                parent_id: Some(crate::ids::TaskId::generate()),
                ..input("t")
            },
            "parent_id",
            "is not a task of this project",
        ),
    ];
    for (task, field, message) in cases {
        let error = create_error(context.clone(), task).await;
        let first = &error.field_errors().unwrap().errors()[0];
        assert_eq!(
            (first.field.as_str(), first.message.as_str()),
            (field, message)
        );
    }
}

#[tokio::test]
async fn create_with_an_editor_assignee_in_a_done_status_sets_assignee_and_completed_at() {
    let board = Board::new();
    let editor = user("eddie");
    let mut context = board.create_context(Some(Role::Owner), false);
    context.assignees.push(Member {
        user: editor.clone(),
        role: Role::Editor,
        added_at: now(),
    });
    let mut h = Harness::new();
    let store = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |request, decide, record| {
            assert_eq!(request.assignee_ids.len(), 1);
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            Ok(logged(
                store.apply_create(&plan, Counts::ZERO, 0, false),
                &record,
            ))
        });
    let (services, _) = h.build();
    let task = NewTaskInput {
        assignee_id: Some(editor.id),
        status_id: Some(board.status(StatusCategory::Done).id),
        ..input("t")
    };

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, task)
        .await
        .unwrap();

    assert_eq!(
        created.tasks[0].assignee.as_ref().map(|u| u.id),
        Some(editor.id)
    );
    assert_eq!(created.tasks[0].completed_at, Some(now()));
    assert_eq!(created.aggregation.after, counts(0, 0, 0, 0, 1));
}

#[tokio::test]
async fn batch_creates_all_in_one_transaction_and_reports_errors_by_index() {
    let board = Board::new();
    let mut h = Harness::new();
    let store = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), false))
                .map_err(TxError::Rejected)?;
            assert_eq!(plan.delta.total, 3);
            Ok(logged(
                store.apply_create(&plan, Counts::ZERO, 7, false),
                &record,
            ))
        });
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let created = services
        .tasks
        .create_batch(
            actor,
            board.project_id,
            vec![input("a"), input("b"), input("c")],
        )
        .await
        .unwrap();
    let numbers: Vec<u64> = created.tasks.iter().map(|t| t.number()).collect();
    assert_eq!(numbers, [8, 9, 10]);
    assert_eq!(
        recorder.names(),
        ["task_created", "task_created", "task_created"]
    );

    let error = services
        .tasks
        .create_batch(actor, board.project_id, vec![input("ok"), input(" ")])
        .await
        .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].field,
        "tasks[1].title"
    );
}

#[tokio::test]
async fn batch_size_must_be_1_to_500() {
    let (services, _) = Harness::new().build();
    let (actor, project) = (
        crate::ids::UserId::generate(),
        crate::ids::ProjectId::generate(),
    );
    for size in [0, MAX_BATCH + 1] {
        let error = services
            .tasks
            .create_batch(actor, project, vec![input("t"); size])
            .await
            .unwrap_err();
        assert_eq!(
            error.field_errors().unwrap().errors()[0].field,
            "tasks",
            "size {size}"
        );
    }
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let (services, _) = h.build();
    let created = services
        .tasks
        .create_batch(actor, board.project_id, vec![input("t"); MAX_BATCH])
        .await
        .unwrap();
    assert_eq!(created.tasks.len(), MAX_BATCH);
}

// ----- changes to existing tasks -------------------------------------------------------------

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

#[tokio::test]
async fn update_with_a_stale_if_match_is_a_version_mismatch() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(1, 0, 0, 0, 0),
    );
    let (services, recorder) = h.build();
    let change = TaskUpdateInput {
        title: Some("New".into()),
        ..TaskUpdateInput::default()
    };

    let error = services
        .tasks
        .update_task(
            crate::ids::UserId::generate(),
            task.id,
            change.clone(),
            Some(7),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        UpdateTaskError::VersionMismatch { current: 1 }
    ));
    assert_eq!(error.class(), ErrorClass::VersionMismatch);
    assert!(recorder.events().is_empty());

    let updated = services
        .tasks
        .update_task(crate::ids::UserId::generate(), task.id, change, Some(1))
        .await
        .unwrap();
    assert_eq!((updated.title.as_str(), updated.row_version), ("New", 2));
    match &recorder.events()[0].payload {
        EventPayload::TaskUpdated {
            task: after,
            previous,
            changed,
        } => {
            assert_eq!(changed, &[TaskField::Title]);
            // The history shows each changed field from → to.
            assert_eq!(**previous, task);
            assert_eq!(after.title.as_str(), "New");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn update_to_another_status_appends_to_that_column_and_moves_the_count() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &task);
    context.status = Some(board.status(StatusCategory::Issue));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &task, counts(1, 0, 0, 0, 0));
    let (services, recorder) = h.build();
    let change = TaskUpdateInput {
        status_id: Some(board.status(StatusCategory::Issue).id),
        ..TaskUpdateInput::default()
    };

    let updated = services
        .tasks
        .update_task(crate::ids::UserId::generate(), task.id, change, None)
        .await
        .unwrap();

    assert_eq!(updated.status.category, StatusCategory::Issue);
    assert_eq!(updated.rank, Rank::from_sequence(1_000), "appended");
    assert_eq!(recorder.names(), ["task_updated", "project_status_changed"]);
}

#[tokio::test]
async fn update_refuses_archived_tasks_archived_projects_cycles_and_empty_bodies() {
    let board = Board::new();
    let mut archived = board.task(StatusCategory::Todo, 1);
    archived.archived_at = Some(now());
    let live = board.task(StatusCategory::Todo, 2);
    let child = board.task(StatusCategory::Todo, 3);
    let title = TaskUpdateInput {
        title: Some("x".into()),
        ..TaskUpdateInput::default()
    };
    let actor = crate::ids::UserId::generate();

    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &archived),
        &archived,
        Counts::ZERO,
    );
    let (services, _) = h.build();
    let error = services
        .tasks
        .update_task(actor, archived.id, title.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, UpdateTaskError::TaskArchived));
    assert_eq!(error.class(), ErrorClass::Conflict("archived"));

    let mut in_archived_project = board.task_context(Some(Role::Editor), &live);
    in_archived_project.project = Some(board.state(true));
    let mut h = Harness::new();
    store_updates(&mut h, &board, in_archived_project, &live, Counts::ZERO);
    let (services, _) = h.build();
    let error = services
        .tasks
        .update_task(actor, live.id, title, None)
        .await
        .unwrap_err();
    assert!(matches!(error, UpdateTaskError::ProjectArchived));

    // `live` becomes the parent of `child`; making `child` the parent of `live` is a cycle.
    let mut cyclic = board.task_context(Some(Role::Editor), &live);
    cyclic.parent = Some(ParentCandidate {
        id: child.id,
        ancestor_ids: vec![live.id],
    });
    let mut h = Harness::new();
    store_updates(&mut h, &board, cyclic, &live, Counts::ZERO);
    let (services, _) = h.build();
    for (parent, message) in [
        (child.id, "would make the task its own ancestor"),
        (live.id, "a task cannot be its own parent"),
    ] {
        let change = TaskUpdateInput {
            parent_id: Some(Some(parent)),
            ..TaskUpdateInput::default()
        };
        let error = services
            .tasks
            .update_task(actor, live.id, change, None)
            .await
            .unwrap_err();
        assert_eq!(error.field_errors().unwrap().errors()[0].message, message);
    }
    let error = services
        .tasks
        .update_task(actor, live.id, TaskUpdateInput::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "body");
}

fn neighbour(task: &crate::model::Task, adjacent: Option<Rank>) -> Neighbour {
    Neighbour {
        id: task.id,
        status: task.status.clone(),
        rank: task.rank.clone(),
        adjacent,
    }
}

#[tokio::test]
async fn move_between_two_neighbours_gets_a_rank_strictly_between_them() {
    let board = Board::new();
    let moving = board.task(StatusCategory::Todo, 9);
    let (a, b) = (
        board.task(StatusCategory::InProgress, 1),
        board.task(StatusCategory::InProgress, 2),
    );
    let mut context = board.task_context(Some(Role::Editor), &moving);
    context.after = Some(neighbour(&a, Some(b.rank.clone())));
    context.before = Some(neighbour(&b, Some(a.rank.clone())));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &moving, counts(1, 2, 0, 0, 0));
    let (services, recorder) = h.build();

    let moved = services
        .tasks
        .move_task(
            crate::ids::UserId::generate(),
            moving.id,
            MoveInput {
                after_id: Some(a.id),
                before_id: Some(b.id),
                status_id: None,
            },
            None,
        )
        .await
        .unwrap();

    assert!(a.rank < moved.rank && moved.rank < b.rank);
    assert_eq!(moved.status.id, a.status.id, "the neighbours' column");
    match &recorder.events()[0].payload {
        EventPayload::TaskMoved {
            from_status_id,
            to_status_id,
            ..
        } => {
            assert_eq!(
                (*from_status_id, *to_status_id),
                (moving.status.id, a.status.id)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn move_decides_append_before_first_rebalance_and_refuses_bad_neighbours() {
    let board = Board::new();
    let moving = board.task(StatusCategory::Todo, 9);
    let a = board.task(StatusCategory::Todo, 1);
    let b = board.task(StatusCategory::Todo, 2);
    let mut tie = board.task(StatusCategory::Todo, 3);
    tie.rank = a.rank.clone();
    let other_column = board.task(StatusCategory::Done, 4);
    let actor = crate::ids::UserId::generate();

    let plan_for = |context: crate::ports::TaskContext, input: MoveInput| {
        super::change::plan_move(context, input, None, now())
    };
    let base = board.task_context(Some(Role::Editor), &moving);

    let mut last = base.clone();
    last.after = Some(neighbour(&b, None));
    let plan = plan_for(
        last,
        MoveInput {
            after_id: Some(b.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.patch.placement,
        Some(Placement::Append),
        "after the last task: append"
    );

    let mut first = base.clone();
    first.before = Some(neighbour(&a, None));
    let plan = plan_for(
        first,
        MoveInput {
            before_id: Some(a.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    match plan.patch.placement {
        Some(Placement::At(rank)) => assert!(rank < a.rank),
        other => panic!("unexpected {other:?}"),
    }

    let mut tied = base.clone();
    tied.after = Some(neighbour(&a, None));
    tied.before = Some(neighbour(&tie, None));
    let plan = plan_for(
        tied,
        MoveInput {
            after_id: Some(a.id),
            before_id: Some(tie.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    assert_eq!(plan.patch.placement, Some(Placement::Rebalance));

    let mut reversed = base.clone();
    reversed.after = Some(neighbour(&b, None));
    reversed.before = Some(neighbour(&a, None));
    let error = plan_for(
        reversed,
        MoveInput {
            after_id: Some(b.id),
            before_id: Some(a.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].message,
        "must be above before_id in the column"
    );

    let mut mixed = base.clone();
    mixed.after = Some(neighbour(&a, None));
    mixed.before = Some(neighbour(&other_column, None));
    let error = plan_for(
        mixed,
        MoveInput {
            after_id: Some(a.id),
            before_id: Some(other_column.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "before_id");

    let error = plan_for(
        base.clone(),
        MoveInput {
            after_id: Some(moving.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].message,
        "a task cannot be placed next to itself"
    );

    let (services, _) = Harness::new().build();
    let error = services
        .tasks
        .move_task(actor, moving.id, MoveInput::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Invalid);
}

#[tokio::test]
async fn moving_into_done_sets_completed_at_and_moving_out_clears_it() {
    let board = Board::new();
    let todo = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &todo);
    context.status = Some(board.status(StatusCategory::Done));
    let plan = super::change::plan_move(
        context,
        MoveInput {
            status_id: Some(board.status(StatusCategory::Done).id),
            ..MoveInput::default()
        },
        None,
        now(),
    )
    .unwrap();
    assert_eq!(plan.patch.completed_at, Some(Some(now())));
    assert_eq!(
        plan.delta,
        crate::aggregation::AggregationDelta::status_change(
            StatusCategory::Todo,
            StatusCategory::Done
        )
    );

    let mut done = board.task(StatusCategory::Done, 2);
    done.completed_at = Some(now());
    let mut context = board.task_context(Some(Role::Editor), &done);
    context.status = Some(board.status(StatusCategory::InReview));
    let plan = super::change::plan_move(
        context,
        MoveInput {
            status_id: Some(board.status(StatusCategory::InReview).id),
            ..MoveInput::default()
        },
        None,
        now(),
    )
    .unwrap();
    assert_eq!(plan.patch.completed_at, Some(None));
}

#[tokio::test]
async fn archive_leaves_the_aggregation_and_unarchive_in_an_archived_project_restores_it() {
    let board = Board::new();
    let task = board.task(StatusCategory::InProgress, 1);
    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(0, 1, 0, 0, 0),
    );
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();
    let archived = services
        .tasks
        .set_task_archived(actor, task.id, true, None)
        .await
        .unwrap();
    assert_eq!(archived.archived_at, Some(now()));
    assert_eq!(
        recorder.names(),
        ["task_archived", "project_status_changed"]
    );

    let mut gone = board.task(StatusCategory::InProgress, 2);
    gone.archived_at = Some(now());
    let mut context = board.task_context(Some(Role::Editor), &gone);
    context.project = Some(board.state(true));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &gone, Counts::ZERO);
    let (services, recorder) = h.build();
    let back = services
        .tasks
        .set_task_archived(actor, gone.id, false, None)
        .await
        .unwrap();
    assert_eq!(back.archived_at, None);
    assert_eq!(
        recorder.names(),
        [
            "task_unarchived",
            "project_restored",
            "project_status_changed"
        ]
    );
    let error = services
        .tasks
        .set_task_archived(actor, gone.id, true, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ArchiveTaskError::ProjectArchived),
        "archiving needs an active project"
    );

    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(0, 1, 0, 0, 0),
    );
    let (services, _) = h.build();
    let error = services
        .tasks
        .set_task_archived(actor, task.id, false, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ArchiveTaskError::AlreadyInState { archived: false }),
        "{error}"
    );
    assert_eq!(error.to_string(), "the task is already not archived");
}

#[tokio::test]
async fn delete_subtracts_the_task_and_its_non_archived_subtasks_and_publishes_each_deletion() {
    let board = Board::new();
    let parent = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &parent);
    context.subtree = vec![
        SubtaskState {
            id: crate::ids::TaskId::generate(),
            key: "WEB-2".parse().unwrap(),
            category: StatusCategory::Done,
            archived: false,
        },
        SubtaskState {
            id: crate::ids::TaskId::generate(),
            key: "WEB-3".parse().unwrap(),
            category: StatusCategory::Issue,
            archived: true,
        },
    ];
    let mut h = Harness::new();
    let (task, subtree) = (parent.clone(), context.subtree.clone());
    h.tasks
        .expect_delete_task()
        .times(1)
        .returning(move |request, decide, record| {
            assert!(request.lookup.subtree);
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            assert_eq!(plan.delta.total, -2, "the task and one live sub-task");
            assert_eq!(
                (plan.delta.todo, plan.delta.done, plan.delta.issue),
                (-1, -1, 0)
            );
            let before = counts(1, 0, 0, 0, 1);
            let deleted = crate::ports::TaskDeleted {
                task: task.clone(),
                subtree: subtree.clone(),
                aggregation: Some(crate::aggregation::AggregationChange {
                    before,
                    after: before.apply(&plan.delta).unwrap(),
                }),
            };
            Ok(logged(deleted, &record))
        });
    let (services, recorder) = h.build();

    services
        .tasks
        .delete_task(crate::ids::UserId::generate(), parent.id, None)
        .await
        .unwrap();

    assert_eq!(
        recorder.names(),
        ["task_deleted", "task_deleted", "task_deleted"]
    );
}

#[tokio::test]
async fn a_change_that_finds_the_aggregation_missing_bootstraps_it_and_runs_again() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &task);
    context.status = Some(board.status(StatusCategory::Done));
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    h.tasks
        .expect_move_task()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(TxError::AggregationMissing));
    let (store, moving, ctx) = (board.clone(), task.clone(), context.clone());
    h.tasks
        .expect_move_task()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, decide, record| {
            let plan = decide(ctx.clone()).map_err(TxError::Rejected)?;
            let moved = store.apply_update(&moving, &plan, counts(1, 0, 0, 0, 0));
            Ok(logged(moved, &record))
        });
    let read = task.clone();
    h.tasks.expect_get_task().times(1).returning(move |_, _| {
        Ok(TaskRead {
            viewer_role: Some(Role::Editor),
            task: Some(read.clone()),
        })
    });
    bootstrap_by_recount(&mut h, &board, counts(1, 0, 0, 0, 0));
    h.aggregations
        .expect_aggregation_snapshot()
        .returning(|_| Ok(snapshot(Some(counts(1, 0, 0, 0, 1)), 1)));
    h.cache.expect_put_bootstrap().returning(|_, _, _| Ok(()));
    let (services, _) = h.build();

    let moved = services
        .tasks
        .move_task(
            crate::ids::UserId::generate(),
            task.id,
            MoveInput {
                status_id: Some(board.status(StatusCategory::Done).id),
                ..MoveInput::default()
            },
            None,
        )
        .await
        .unwrap();
    settle().await;

    assert_eq!(moved.status.category, StatusCategory::Done);
}

#[tokio::test]
async fn the_auto_archive_job_archives_old_done_tasks_in_batches_and_publishes_each() {
    let board = Board::new();
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    let full: Vec<_> = (1..=500)
        .map(|n| board.task(StatusCategory::Done, n))
        .collect();
    let (first, project_id) = (full.clone(), board.project_id);
    h.tasks
        .expect_archive_done_tasks()
        .withf(|cutoff, limit, at, _| *at - *cutoff == chrono::Duration::days(7) && *limit == 500)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, record| {
            let batch = ArchivedByJob {
                project_id,
                tasks: first.clone(),
                aggregation: crate::aggregation::AggregationChange {
                    before: counts(0, 0, 0, 0, 501),
                    after: counts(0, 0, 0, 0, 1),
                },
            };
            Ok(vec![logged(batch, &record)])
        });
    let last = board.task(StatusCategory::Done, 501);
    h.tasks
        .expect_archive_done_tasks()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, record| {
            let batch = ArchivedByJob {
                project_id,
                tasks: vec![last.clone()],
                aggregation: crate::aggregation::AggregationChange {
                    before: counts(0, 0, 0, 0, 1),
                    after: Counts::ZERO,
                },
            };
            Ok(vec![logged(batch, &record)])
        });
    let (services, recorder) = h.build();

    assert_eq!(services.tasks.archive_done_tasks().await.unwrap(), 501);

    let names = recorder.names();
    assert_eq!(names.iter().filter(|n| **n == "task_archived").count(), 501);
    assert_eq!(
        names.last(),
        Some(&"project_status_changed"),
        "done → todo when the last one goes"
    );
}

#[tokio::test]
async fn reads_hide_tasks_from_non_members_and_keys_of_other_projects() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 42);
    let mut h = Harness::new();
    let hidden = task.clone();
    h.tasks.expect_get_task().returning(move |_, _| {
        Ok(TaskRead {
            viewer_role: None,
            task: Some(hidden.clone()),
        })
    });
    let visible = task.clone();
    h.tasks
        .expect_get_task_by_number()
        .returning(move |_, _, _| {
            Ok(TaskRead {
                viewer_role: Some(Role::Viewer),
                task: Some(visible.clone()),
            })
        });
    let (services, _) = h.build();
    let actor = crate::ids::UserId::generate();

    let error = services.tasks.get_task(actor, task.id).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotFound);
    let found = services
        .tasks
        .get_task_by_key(actor, board.project_id, "web-42")
        .await
        .unwrap();
    assert_eq!(found.id, task.id);
    for key in ["APP-42", "nonsense"] {
        let error = services
            .tasks
            .get_task_by_key(actor, board.project_id, key)
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::NotFound, "{key}");
    }
}

#[tokio::test]
async fn listing_validates_limit_search_and_cursor_before_reading() {
    let (services, _) = Harness::new().build();
    let (actor, project) = (
        crate::ids::UserId::generate(),
        crate::ids::ProjectId::generate(),
    );
    let cases = [
        (
            TaskListInput {
                limit: Some(0),
                ..TaskListInput::default()
            },
            "limit",
        ),
        (
            TaskListInput {
                limit: Some(201),
                ..TaskListInput::default()
            },
            "limit",
        ),
        (
            TaskListInput {
                search: Some("s".repeat(201)),
                ..TaskListInput::default()
            },
            "search",
        ),
        (
            TaskListInput {
                cursor: Some("garbage".into()),
                ..TaskListInput::default()
            },
            "cursor",
        ),
        (
            TaskListInput {
                due_before: Some("2026-1-5".into()),
                ..TaskListInput::default()
            },
            "due_before",
        ),
        (
            TaskListInput {
                due_after: Some("0000-01-01".into()),
                ..TaskListInput::default()
            },
            "due_after",
        ),
        (
            TaskListInput {
                label_ids: vec![crate::ids::LabelId::generate(); 21],
                ..TaskListInput::default()
            },
            "label_id",
        ),
        (
            TaskListInput {
                unassigned: true,
                assignee_id: Some(crate::ids::UserId::generate()),
                ..TaskListInput::default()
            },
            "assignee_id",
        ),
    ];
    for (input, field) in cases {
        let error = services
            .tasks
            .list_tasks(actor, project, input)
            .await
            .unwrap_err();
        assert_eq!(error.field_errors().unwrap().errors()[0].field, field);
    }
}

#[tokio::test]
async fn the_new_filters_reach_the_store_as_parsed_values() {
    let mut h = Harness::new();
    let label = crate::ids::LabelId::generate();
    h.tasks
        .expect_list_tasks()
        .withf(move |_, _, q| {
            q.unassigned
                && q.label_ids == [label]
                && q.due_before == chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
                && q.due_after == chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                && q.order == crate::ports::TaskOrder::Due
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(crate::ports::TaskListing {
                viewer_role: Some(Role::Viewer),
                page: crate::model::Page {
                    items: Vec::new(),
                    next_cursor: None,
                },
            })
        });
    let (services, _) = h.build();
    let input = TaskListInput {
        unassigned: true,
        label_ids: vec![label],
        due_before: Some("2026-12-06".into()),
        due_after: Some("2026-11-30".into()),
        order: crate::ports::TaskOrder::Due,
        ..TaskListInput::default()
    };
    let user = crate::ids::UserId::generate();
    let project = crate::ids::ProjectId::generate();
    assert!(
        services
            .tasks
            .list_tasks(user, project, input)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_cursor_continues_the_listing_in_the_order_it_was_made_in() {
    let mut h = Harness::new();
    h.tasks
        .expect_list_tasks()
        .withf(|_, _, query| {
            query.order == crate::ports::TaskOrder::Updated && query.cursor.is_some()
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(crate::ports::TaskListing {
                viewer_role: Some(Role::Viewer),
                page: crate::model::Page {
                    items: Vec::new(),
                    next_cursor: None,
                },
            })
        });
    let (services, _) = h.build();
    let updated_cursor = crate::cursor::TaskCursor::Updated {
        updated_at: now(),
        id: crate::ids::TaskId::generate(),
    }
    .encode();
    let input = TaskListInput {
        cursor: Some(updated_cursor),
        order: crate::ports::TaskOrder::Board,
        ..TaskListInput::default()
    };
    let page = services
        .tasks
        .list_tasks(
            crate::ids::UserId::generate(),
            crate::ids::ProjectId::generate(),
            input,
        )
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn a_creation_that_fails_after_the_bootstrap_leaves_no_cache_key() {
    let board = Board::new();
    let recount = counts(2, 0, 0, 0, 0);
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    bootstrap_by_recount(&mut h, &board, recount);
    let writes = count_cache_writes(&mut h.cache);
    h.aggregations.expect_aggregation_snapshot().never();
    let first = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, decide, _| {
            decide(first.create_context(Some(Role::Editor), false)).map_err(TxError::Rejected)?;
            Err(TxError::AggregationMissing)
        });
    h.tasks
        .expect_create_tasks()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| {
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "serialization failure"
            ))))
        });
    let (services, recorder) = h.build();

    let result = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await;
    settle().await;

    assert!(result.is_err());
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "the recount is cached only after a commit"
    );
    assert!(recorder.events().is_empty());
}
