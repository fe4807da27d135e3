//! Membership revocation is airtight: a join can never outlive a removal that committed before
//! the join was answered. The race is forced, not hoped for: a directory (the realtime layer's
//! port) pauses right after reading "member", the owner removes the member meanwhile and the hub
//! applies the removal, and only then does the read come back — on one instance, and with the
//! removal made through another instance. And a removal that cannot travel through Redis (it is
//! stopped) still reaches the other instance, from the event log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_realtime::{Directory, LogPage, RelayOptions};
use tasklane_store::testing::TestDb;
use tasklane_tests::redis::RedisServer;
use tasklane_tests::ws::WsClient;
use tasklane_tests::{AppConfig, DirectoryLayer, Session, TestApp, spawn_app_config};
use tokio::sync::Notify;

/// The test's hold on membership reads: armed, the next read stops after reading until
/// released.
#[derive(Default)]
struct Pause {
    armed: AtomicBool,
    read: Notify,
    release: Notify,
}

impl Pause {
    /// The layer that puts this pause around the server's directory.
    fn layer(self: &Arc<Self>) -> DirectoryLayer {
        let pause = self.clone();
        Box::new(move |inner| Arc::new(PausingDirectory { inner, pause }))
    }
}

/// The server's directory, with a [`Pause`] after each membership read.
struct PausingDirectory {
    inner: Arc<dyn Directory>,
    pause: Arc<Pause>,
}

#[async_trait]
impl Directory for PausingDirectory {
    async fn redeem_ticket(&self, ticket: &str) -> anyhow::Result<Option<UserId>> {
        self.inner.redeem_ticket(ticket).await
    }

    async fn is_member(&self, user: UserId, project: ProjectId) -> anyhow::Result<bool> {
        let answer = self.inner.is_member(user, project).await;
        if self.pause.armed.swap(false, Ordering::SeqCst) {
            self.pause.read.notify_one();
            self.pause.release.notified().await;
        }
        answer
    }

    async fn visible_task_project(
        &self,
        user: UserId,
        task: TaskId,
    ) -> anyhow::Result<Option<ProjectId>> {
        self.inner.visible_task_project(user, task).await
    }

    async fn projects_of(&self, user: UserId) -> anyhow::Result<Vec<ProjectId>> {
        self.inner.projects_of(user).await
    }

    async fn events(&self, project: ProjectId, after: u64, limit: u32) -> anyhow::Result<LogPage> {
        self.inner.events(project, after, limit).await
    }

    async fn heads(&self, projects: Vec<ProjectId>) -> anyhow::Result<Vec<(ProjectId, u64)>> {
        self.inner.heads(projects).await
    }
}

/// `owner` removes `member` from `project` through `app`.
async fn remove(
    app: &TestApp,
    owner: &Session,
    project: &str,
    member: &Session,
) -> anyhow::Result<()> {
    let path = format!("/api/v1/projects/{project}/members/{}", member.id);
    let removed = app
        .call(Method::DELETE, &path, Some(&owner.token), None)
        .await?;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    Ok(())
}

/// Waits until `client`'s hub has handled everything queued before now: a `join` travels the
/// hub's queue behind every event published earlier, so its answer means they were applied.
async fn hub_caught_up(client: &mut WsClient, room: &str) -> anyhow::Result<()> {
    client.must_join(room).await
}

/// The race, on the instance `joiner_app` (whose directory is paused by `pause`); the removal
/// goes through `remover_app`. `watcher` is the owner's socket on the joiner's instance.
async fn race(
    pause: &Pause,
    remover_app: &TestApp,
    joiner_app: &TestApp,
    owner: &Session,
    member: &Session,
    project: &str,
    watcher: &mut WsClient,
) -> anyhow::Result<()> {
    let room = format!("project:{project}");
    let mut socket = joiner_app.ws(member).await?;
    pause.armed.store(true, Ordering::SeqCst);
    socket.send("join", json!({"room": room})).await?;
    tokio::time::timeout(Duration::from_secs(5), pause.read.notified()).await?;

    // The membership was read ("member"); now it is removed and the removal applied.
    remove(remover_app, owner, project, member).await?;
    let event = watcher.expect("member_removed").await?;
    assert_eq!(event["user_id"], json!(member.id));
    hub_caught_up(watcher, &format!("user:{}", owner.id)).await?;
    pause.release.notify_one();

    let (answer, data) = socket.join_answer().await?;
    assert_eq!(
        (answer.as_str(), data["code"].as_str()),
        ("error", Some("forbidden")),
        "a join answered after the removal must be refused: {data}"
    );
    let mut fresh = joiner_app.ws(member).await?;
    let (answer, data) = fresh.join(&room).await?;
    assert_eq!(
        answer, "error",
        "no stale answer was cached: a fresh socket is refused too ({data})"
    );
    remover_app
        .task(owner, project, "after the removal")
        .await?;
    watcher.expect("task_created").await?;
    let leaked = socket.drain(Duration::from_millis(300)).await?;
    assert!(
        leaked.iter().all(|frame| frame["type"] != "task_created"),
        "the removed member receives nothing of the project: {leaked:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_membership_read_predates_a_removal_is_refused_and_nothing_stale_is_cached()
-> anyhow::Result<()> {
    let pause = Arc::new(Pause::default());
    let config = AppConfig {
        directory: Some(pause.layer()),
        ..AppConfig::default()
    };
    let app = spawn_app_config(Arc::new(TestDb::postgres().await?), config)?;
    let owner = app.register("owner").await?;
    let member = app.register("member").await?;
    let project = app.project(&owner, "RACE").await?;
    app.member(&owner, &project, &member, "viewer").await?;
    let mut watcher = app.ws(&owner).await?;
    watcher.must_join(&format!("project:{project}")).await?;
    race(&pause, &app, &app, &owner, &member, &project, &mut watcher).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_through_another_instance_also_wins_the_race() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let db = Arc::new(TestDb::postgres().await?);
    let channel = format!("test-{}:events", uuid::Uuid::new_v4().simple());
    let relay = || {
        Some(RelayOptions {
            url: redis.url(),
            channel: channel.clone(),
            timeout: Duration::from_millis(50),
            retry_interval: Duration::from_millis(200),
        })
    };
    let pause = Arc::new(Pause::default());
    let remover_app = spawn_app_config(
        db.clone(),
        AppConfig {
            relay: relay(),
            ..AppConfig::default()
        },
    )?;
    let joiner_app = spawn_app_config(
        db,
        AppConfig {
            relay: relay(),
            directory: Some(pause.layer()),
            ..AppConfig::default()
        },
    )?;
    for app in [&remover_app, &joiner_app] {
        let started = std::time::Instant::now();
        while app
            .call(Method::GET, "/readyz", None, None)
            .await?
            .text("fanout")
            != "up"
        {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(5), "no fan-out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let owner = remover_app.register("owner").await?;
    let member = remover_app.register("member").await?;
    let project = remover_app.project(&owner, "RACE").await?;
    remover_app
        .member(&owner, &project, &member, "editor")
        .await?;
    let mut watcher = joiner_app.ws(&owner).await?;
    watcher.must_join(&format!("project:{project}")).await?;
    race(
        &pause,
        &remover_app,
        &joiner_app,
        &owner,
        &member,
        &project,
        &mut watcher,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_made_while_the_fanout_is_down_reaches_the_other_instance_from_the_log()
-> anyhow::Result<()> {
    let mut redis = RedisServer::start().await?;
    let db = Arc::new(TestDb::postgres().await?);
    let channel = format!("test-{}:events", uuid::Uuid::new_v4().simple());
    let relay = |redis: &RedisServer| {
        Some(RelayOptions {
            url: redis.url(),
            channel: channel.clone(),
            timeout: Duration::from_millis(50),
            retry_interval: Duration::from_millis(200),
        })
    };
    let remover_app = spawn_app_config(
        db.clone(),
        AppConfig {
            relay: relay(&redis),
            ..AppConfig::default()
        },
    )?;
    let other_app = spawn_app_config(
        db,
        AppConfig {
            relay: relay(&redis),
            ..AppConfig::default()
        },
    )?;
    let owner = remover_app.register("owner").await?;
    let member = remover_app.register("member").await?;
    let project = remover_app.project(&owner, "GAP").await?;
    remover_app
        .member(&owner, &project, &member, "viewer")
        .await?;
    let room = format!("project:{project}");
    let mut socket = other_app.ws(&member).await?;
    socket.must_join(&room).await?;

    // Redis goes away: the removal's event cannot travel through it, but the other instance
    // reads it from the log (its poller sees the project's head move) and applies it.
    redis.stop()?;
    let started = std::time::Instant::now();
    remove(&remover_app, &owner, &project, &member).await?;
    let removed = socket.expect("member_removed").await?;
    assert_eq!(removed["user_id"], json!(member.id));
    let left = socket.expect("left").await?;
    assert_eq!(left["room"], json!(room));
    assert_eq!(left["reason"], json!("membership_removed"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "from the log within a second: {:?}",
        started.elapsed()
    );

    // Nothing leaks after it, with Redis down or back.
    remover_app.task(&owner, &project, "while down").await?;
    redis.restart().await?;
    remover_app.task(&owner, &project, "after").await?;
    let leaked = socket.drain(Duration::from_millis(500)).await?;
    assert!(
        leaked.iter().all(|frame| frame["type"] != "task_created"),
        "{leaked:?}"
    );
    Ok(())
}
