//! Delivery: commit order under concurrent creates, a socket that never reads is closed without
//! holding up the others, and a blocked or failing broadcaster changes nothing for requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ports::{BroadcastError, EventBroadcaster};
use tasklane_domain::services::tasks::MAX_BATCH;
use tasklane_realtime::CLOSE_TOO_SLOW;
use tasklane_store::testing::TestDb;
use tasklane_tests::ws::Ended;
use tasklane_tests::{AppConfig, TestApp, spawn_app_config};

use crate::{postgres_world, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_rapid_creates_arrive_in_commit_order() -> anyhow::Result<()> {
    let w = postgres_world().await?;
    let mut client = w.app.ws(&w.owner).await?;
    client.must_join(&format!("project:{}", w.project)).await?;
    // Ten requests in flight at a time, so commits race.
    let app = Arc::new(w.app);
    for wave in 0..10 {
        let creates = (0..10).map(|i| {
            let (app, owner, project) = (app.clone(), w.owner.clone(), w.project.clone());
            tokio::spawn(async move { app.task(&owner, &project, &format!("w{wave}-{i}")).await })
        });
        for created in join_all(creates).await {
            created??;
        }
    }
    let mut numbers = Vec::new();
    while numbers.len() < 100 {
        let data = client.expect("task_created").await?;
        numbers.push(data["task"]["number"].as_u64().unwrap());
    }
    assert_eq!(numbers, (1..=100).collect::<Vec<u64>>(), "commit order");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_reads_is_closed_and_the_others_get_everything() -> anyhow::Result<()> {
    // Default limits: a socket's queue holds two whole batches of events, so a reader that keeps
    // up is never cut off by a burst.
    let total = MAX_BATCH + 2000;
    let w = world(spawn_app_config(
        Arc::new(TestDb::postgres().await?),
        AppConfig::default(),
    )?)
    .await?;
    let room = format!("project:{}", w.project);
    let mut stalled = w.app.ws(&w.owner).await?;
    stalled.must_join(&room).await?;
    let mut reader = w.app.ws(&w.owner).await?;
    reader.must_join(&room).await?;
    let reading = tokio::spawn(async move {
        let mut seen = 0;
        while seen < total as u64 {
            let data = reader.expect("task_created").await?;
            assert_eq!(data["task"]["number"].as_u64(), Some(seen + 1), "in order");
            seen += 1;
        }
        anyhow::Ok(seen)
    });

    // A full batch at once (the largest burst a request can cause), then 2,000 tasks with 9 KB
    // descriptions: ~18 MB of frames, far more than socket buffers hold.
    let burst: Vec<_> = (0..MAX_BATCH)
        .map(|i| json!({"title": format!("burst-{i}")}))
        .collect();
    let mut batches = vec![burst];
    let description = "d".repeat(9_000);
    for batch in 0..20 {
        batches.push(
            (0..100)
                .map(|i| json!({"title": format!("b{batch}-{i}"), "description": description}))
                .collect(),
        );
    }
    for tasks in batches {
        w.app.batch(&w.owner, &w.project, tasks).await?;
    }
    assert_eq!(
        reading.await??,
        total as u64,
        "the reading socket got every event"
    );

    // The stalled socket was closed: reading it now yields what was buffered, then the end.
    let (frames, ended) = stalled.read_to_end(Duration::from_secs(10)).await;
    eprintln!("the stalled socket got {frames} of {total} frames, then {ended:?}");
    assert!(frames < total - 100, "it was cut off ({frames} frames)");
    assert!(
        matches!(ended, Some(Ended::Closed(CLOSE_TOO_SLOW) | Ended::Dropped)),
        "{ended:?}"
    );
    let metrics = w.app.metrics().await?;
    assert!(metrics.sum("tasklane_ws_slow_consumers_closed_total", &[]) >= 1.0);
    Ok(())
}

/// Fails every event, as a broken realtime layer would.
struct Failing;

impl EventBroadcaster for Failing {
    fn publish(&self, _: LoggedEvent) -> Result<(), BroadcastError> {
        Err(BroadcastError(anyhow::anyhow!("the hub is gone")))
    }
}

/// A hub that stopped consuming: its bounded queue is full, so publishing fails at once (as the
/// real handle's `try_send` does).
struct Stalled(tokio::sync::mpsc::Sender<LoggedEvent>);

impl EventBroadcaster for Stalled {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        self.0
            .try_send(event)
            .map_err(|_| BroadcastError(anyhow::anyhow!("the hub's queue is full")))
    }
}

async fn creation_latencies(app: &TestApp, label: &str) -> anyhow::Result<Vec<Duration>> {
    let owner = app.register(&format!("owner-{label}")).await?;
    let project = app.project(&owner, &label.to_uppercase()).await?;
    let mut latencies = Vec::new();
    for i in 0..50 {
        let started = Instant::now();
        app.task(&owner, &project, &format!("t{i}")).await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    eprintln!(
        "create latency with the broadcaster {label}: median={:?} max={:?}",
        latencies[25], latencies[49]
    );
    Ok(latencies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_or_failing_broadcaster_changes_nothing_for_requests() -> anyhow::Result<()> {
    let db = Arc::new(TestDb::postgres().await?);
    let healthy = spawn_app_config(db.clone(), AppConfig::default())?;
    let failing = spawn_app_config(
        db.clone(),
        AppConfig {
            broadcaster: Some(Arc::new(Failing)),
            ..AppConfig::default()
        },
    )?;
    let (queue, _never_read) = tokio::sync::mpsc::channel(1);
    let stalled = spawn_app_config(
        db,
        AppConfig {
            broadcaster: Some(Arc::new(Stalled(queue))),
            ..AppConfig::default()
        },
    )?;
    let failures_before = healthy
        .metrics()
        .await?
        .sum("tasklane_ws_broadcast_failures_total", &[]);
    let usual = creation_latencies(&healthy, "healthy").await?;
    let with_failures = creation_latencies(&failing, "failing").await?;
    let with_stall = creation_latencies(&stalled, "stalled").await?;
    // Every create succeeded (`task` checks 201). Reported above; bounded loosely here so that
    // a broadcaster that made requests wait (or retry) would fail.
    for (label, latencies) in [("failing", &with_failures), ("stalled", &with_stall)] {
        assert!(
            latencies[25] <= usual[25] * 3 + Duration::from_millis(20),
            "median with a {label} broadcaster {:?}, usual {:?}",
            latencies[25],
            usual[25]
        );
    }
    let failures = healthy
        .metrics()
        .await?
        .sum("tasklane_ws_broadcast_failures_total", &[]);
    assert!(
        failures - failures_before >= 99.0,
        "each lost event is counted ({failures_before} → {failures})"
    );
    Ok(())
}
