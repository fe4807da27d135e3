//! Two server instances on one PostgreSQL and one Redis (a private `redis-server`, so the test
//! can stop it): events cross over exactly once, a membership removed through one instance
//! empties the rooms on the other, events still cross (from the event log) while Redis is
//! stopped, and the fan-out survives a Redis restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tasklane_realtime::RelayOptions;
use tasklane_store::testing::TestDb;
use tasklane_tests::redis::RedisServer;
use tasklane_tests::{AppConfig, TestApp, spawn_app_config};

const RETRY: Duration = Duration::from_millis(200);

fn instance(db: &Arc<TestDb>, redis: &RedisServer, channel: &str) -> anyhow::Result<TestApp> {
    let config = AppConfig {
        relay: Some(RelayOptions {
            url: redis.url(),
            channel: channel.to_owned(),
            timeout: Duration::from_millis(50),
            retry_interval: RETRY,
        }),
        ..AppConfig::default()
    };
    spawn_app_config(db.clone(), config)
}

async fn fanout(app: &TestApp) -> anyhow::Result<String> {
    Ok(app
        .call(Method::GET, "/readyz", None, None)
        .await?
        .text("fanout"))
}

async fn wait_for_fanout(app: &TestApp, state: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while fanout(app).await? != state {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(5),
            "fan-out never became {state}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_instances_once_and_removed_members_are_evicted_everywhere()
-> anyhow::Result<()> {
    let mut redis = RedisServer::start().await?;
    let db = Arc::new(TestDb::postgres().await?);
    let channel = format!("test-{}:events", uuid::Uuid::new_v4().simple());
    let a = instance(&db, &redis, &channel)?;
    let b = instance(&db, &redis, &channel)?;
    wait_for_fanout(&a, "up").await?;
    wait_for_fanout(&b, "up").await?;

    let owner = a.register("owner").await?;
    let viewer = a.register("viewer").await?;
    let project = a.project(&owner, "TWO").await?;
    b.member(&owner, &project, &viewer, "viewer").await?;
    let room = format!("project:{project}");
    let mut on_a = a.ws(&owner).await?;
    on_a.must_join(&room).await?;
    let mut viewer_on_a = a.ws(&viewer).await?;
    viewer_on_a.must_join(&room).await?;
    let mut on_b = b.ws(&owner).await?;
    on_b.must_join(&room).await?;

    let through_b = b.task(&owner, &project, "made on B").await?;
    for client in [&mut on_a, &mut viewer_on_a, &mut on_b] {
        let data = client.expect("task_created").await?;
        assert_eq!(data["task"], through_b);
    }
    let through_a = a.task(&owner, &project, "made on A").await?;
    for client in [&mut on_a, &mut on_b] {
        let frames = client.drain(Duration::from_millis(400)).await?;
        let created: Vec<_> = frames
            .iter()
            .filter(|f| f["type"] == "task_created")
            .collect();
        assert_eq!(created.len(), 1, "exactly once on each instance");
        assert_eq!(created[0]["data"]["task"], through_a);
    }
    viewer_on_a.drain(Duration::from_millis(100)).await?;

    // Removed through B: the viewer's socket on A hears it and leaves the room.
    let removal = format!("/api/v1/projects/{project}/members/{}", viewer.id);
    let answer = b
        .call(Method::DELETE, &removal, Some(&owner.token), None)
        .await?;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        viewer_on_a.expect("member_removed").await?["user_id"],
        viewer.id.as_str()
    );
    let left = viewer_on_a.expect("left").await?;
    assert_eq!(
        (left["room"].as_str(), left["reason"].as_str()),
        (Some(room.as_str()), Some("membership_removed"))
    );
    b.task(&owner, &project, "after the removal").await?;
    on_a.expect("task_created").await?;
    on_b.expect("task_created").await?;
    let leaked = viewer_on_a.drain(Duration::from_millis(400)).await?;
    assert!(
        leaked.is_empty(),
        "nothing reaches the removed member: {leaked:?}"
    );
    let (kind, data) = viewer_on_a.join(&room).await?;
    assert_eq!(
        (kind.as_str(), data["code"].as_str()),
        ("error", Some("forbidden")),
        "no cached yes"
    );

    // Redis stops: each instance still serves its own sockets, and says so; the other
    // instance's sockets get the event too, from the event log, within a second.
    redis.stop()?;
    wait_for_fanout(&a, "degraded").await?;
    let started = Instant::now();
    let local = a.task(&owner, &project, "while Redis is down").await?;
    assert_eq!(on_a.expect("task_created").await?["task"], local);
    assert_eq!(on_b.expect("task_created").await?["task"], local);
    let crossed = started.elapsed();
    eprintln!("with Redis down, an event crossed instances in {crossed:?}");
    assert!(crossed < Duration::from_secs(1), "{crossed:?}");
    // Redis returns: the subscription comes back without a restart.
    redis.restart().await?;
    let waited = wait_for_fanout(&a, "up").await?;
    wait_for_fanout(&b, "up").await?;
    eprintln!("fan-out resubscribed {waited:?} after Redis answered (retry interval {RETRY:?})");
    on_b.drain(Duration::from_millis(100)).await?;
    let again = a.task(&owner, &project, "after Redis is back").await?;
    assert_eq!(on_b.expect("task_created").await?["task"], again);
    Ok(())
}
