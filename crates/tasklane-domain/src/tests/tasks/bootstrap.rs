//! Creation and changes when the project's aggregation row is missing: the bootstrap cache (hit,
//! miss, errors, stale entries), the lost insert race, and what a failure leaves behind.

use super::*;

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
