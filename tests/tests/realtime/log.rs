//! Delivery from the project event log, end to end: every frame carries its `seq`; concurrent
//! writes reach a socket gap-free and in order; a socket that rejoins with `since` receives
//! exactly what it missed and then live events; an event whose publish was lost still arrives,
//! from the log; a member removed while catching up receives nothing after the removal; bad
//! cursors are refused with the documented codes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::ports::{BroadcastError, EventBroadcaster};
use tasklane_realtime::{Directory, LogPage};
use tasklane_store::testing::TestDb;
use tasklane_tests::ws::WsClient;
use tasklane_tests::{AppConfig, Session, TestApp, both_databases, spawn_app_config};

/// Reads event frames until one with `seq >= last` arrives (or `wait` passes) and returns the
/// `seq` of every event frame seen, in arrival order.
async fn seqs_until(client: &mut WsClient, last: u64, wait: Duration) -> anyhow::Result<Vec<u64>> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    while seen.last().is_none_or(|seq| *seq < last) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = client.next(left).await? else {
            anyhow::bail!("waited {wait:?} for seq {last}; saw {} events", seen.len());
        };
        if let Some(seq) = frame["seq"].as_u64() {
            seen.push(seq);
        }
    }
    Ok(seen)
}

/// The project's head as the HTTP log reports it (the last `seq`).
async fn head(app: &TestApp, owner: &Session, project: &str) -> anyhow::Result<u64> {
    let mut after = 0;
    loop {
        let page = app
            .get(
                &format!("/api/v1/projects/{project}/events?after={after}&limit=1000"),
                &owner.token,
            )
            .await?;
        anyhow::ensure!(page.status == StatusCode::OK, "{page:?}");
        let next = page.body["next_after"].as_u64().unwrap_or(after);
        if next == after {
            return Ok(after);
        }
        after = next;
    }
}

fn titles(n: usize, prefix: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"title": format!("{prefix}{i}")}))
        .collect()
}

async fn concurrent_creations_and_moves_reach_a_socket_gap_free_in_seq_order(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "SEQ").await?;
    let mut watcher = app.ws(&owner).await?;
    watcher.must_join(&format!("project:{project}")).await?;
    let statuses = app
        .get(
            &format!("/api/v1/projects/{project}/statuses"),
            &owner.token,
        )
        .await?
        .body;
    let status_ids: Vec<String> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();

    let creations = (0..200).map(|i| {
        let (app, owner, project) = (&app, &owner, &project);
        async move { app.task(owner, project, &format!("c{i}")).await }
    });
    let created: Vec<Value> = join_all(creations)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let moves = created.iter().take(100).enumerate().map(|(i, task)| {
        let (app, owner) = (&app, &owner);
        let path = format!("/api/v1/tasks/{}/move", task["id"].as_str().unwrap());
        let body = json!({"status_id": status_ids[i % status_ids.len()]});
        async move {
            app.call(Method::POST, &path, Some(&owner.token), Some(body))
                .await
        }
    });
    for answer in join_all(moves).await {
        let answer = answer?;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }

    let last = head(&app, &owner, &project).await?;
    assert!(last >= 300, "200 creations and 100 moves: {last} events");
    let seen = seqs_until(&mut watcher, last, Duration::from_secs(10)).await?;
    // Seq 1 is the project's creation, logged before the watcher joined.
    assert_eq!(
        seen,
        (2..=last).collect::<Vec<u64>>(),
        "every seq once, in order"
    );
    // In seq order the creations come in number order.
    let log = app
        .get(
            &format!("/api/v1/projects/{project}/events?limit=1000"),
            &owner.token,
        )
        .await?
        .body;
    let numbers: Vec<u64> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "task_created")
        .map(|e| e["data"]["task"]["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=200).collect::<Vec<u64>>());
    Ok(())
}

async fn a_client_that_missed_500_changes_rejoins_with_since_and_gets_exactly_those_then_live(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "RESUME").await?;
    let room = format!("project:{project}");
    let mut first = app.ws(&owner).await?;
    first.must_join(&room).await?;
    app.task(&owner, &project, "seen").await?;
    let seen = seqs_until(&mut first, 1, Duration::from_secs(5)).await?;
    let since = *seen.last().unwrap();
    drop(first);

    // 500 changes while away: two batches of 250 creations (the first also moves the derived
    // status), whatever their number of events.
    app.batch(&owner, &project, titles(250, "a")).await?;
    app.batch(&owner, &project, titles(250, "b")).await?;
    let missed_head = head(&app, &owner, &project).await?;
    assert!(missed_head >= since + 500);

    let mut back = app.ws(&owner).await?;
    back.send("join", json!({"room": room, "since": since}))
        .await?;
    let replayed = seqs_until(&mut back, missed_head, Duration::from_secs(10)).await?;
    assert_eq!(
        replayed,
        (since + 1..=missed_head).collect::<Vec<u64>>(),
        "exactly the missed events, in order"
    );
    app.task(&owner, &project, "live").await?;
    let live = seqs_until(&mut back, missed_head + 1, Duration::from_secs(5)).await?;
    assert_eq!(live, [missed_head + 1], "then live, no gap, no duplicate");
    assert!(
        back.drain(Duration::from_millis(300))
            .await?
            .iter()
            .all(|f| f["seq"].is_null()),
        "nothing twice"
    );
    Ok(())
}

async fn bad_cursors_are_refused_with_their_codes(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "CUR").await?;
    app.task(&owner, &project, "one").await?;
    let mut client = app.ws(&owner).await?;
    let room = format!("project:{project}");
    for since in [json!(-1), json!("3"), json!(1.5), json!(99)] {
        client
            .send("join", json!({"room": room, "since": since}))
            .await?;
        let (kind, data) = client.join_answer().await?;
        assert_eq!(
            (kind.as_str(), &data["code"]),
            ("error", &json!("bad_since")),
            "since {since}"
        );
    }
    client
        .send(
            "join",
            json!({"room": format!("user:{}", owner.id), "since": 0}),
        )
        .await?;
    assert_eq!(
        client.join_answer().await?.1["code"],
        "bad_since",
        "user rooms have no seq"
    );

    let events = |query: &str| format!("/api/v1/projects/{project}/events{query}");
    for query in ["?after=-1", "?after=x", "?after=99"] {
        let answer = app.get(&events(query), &owner.token).await?;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {answer:?}"
        );
        assert_eq!(answer.text("code"), "bad_since");
    }
    let answer = app.get(&events("?limit=0"), &owner.token).await?;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    let stranger = app.register("stranger").await?;
    let answer = app.get(&events(""), &stranger.token).await?;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "non-members: {answer:?}"
    );
    Ok(())
}

both_databases!(
    concurrent_creations_and_moves_reach_a_socket_gap_free_in_seq_order,
    a_client_that_missed_500_changes_rejoins_with_since_and_gets_exactly_those_then_live,
    bad_cursors_are_refused_with_their_codes,
);

/// Drops every event, as a publish lost between commit and the hub would be.
struct Lost;

impl EventBroadcaster for Lost {
    fn publish(&self, _: LoggedEvent) -> Result<(), BroadcastError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_publish_was_lost_still_arrives_from_the_log() -> anyhow::Result<()> {
    let config = AppConfig {
        broadcaster: Some(Arc::new(Lost)),
        ..AppConfig::default()
    };
    let app = spawn_app_config(Arc::new(TestDb::postgres().await?), config)?;
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "LOST").await?;
    let mut watcher = app.ws(&owner).await?;
    watcher.must_join(&format!("project:{project}")).await?;
    let started = Instant::now();
    app.task(&owner, &project, "never published").await?;
    let frame = watcher.expect("task_created").await?;
    let waited = started.elapsed();
    assert_eq!(frame["task"]["title"], "never published");
    assert!(
        waited < Duration::from_secs(2),
        "found by the poller within an interval and the gap wait: {waited:?}"
    );
    Ok(())
}

/// The server's directory, holding the log reads of catch-ups after the first page (`limit`
/// 256, `after` > 0) until the test releases them: a removal then lands in the middle of a
/// catch-up, deterministically.
struct HeldCatchUp {
    inner: Arc<dyn Directory>,
    held: Arc<tokio::sync::Notify>,
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl Directory for HeldCatchUp {
    async fn redeem_ticket(&self, ticket: &str) -> anyhow::Result<Option<UserId>> {
        self.inner.redeem_ticket(ticket).await
    }

    async fn is_member(&self, user: UserId, project: ProjectId) -> anyhow::Result<bool> {
        self.inner.is_member(user, project).await
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
        if limit == 256 && after > 0 {
            self.reached.notify_one();
            self.held.notified().await;
        }
        self.inner.events(project, after, limit).await
    }

    async fn heads(&self, projects: Vec<ProjectId>) -> anyhow::Result<Vec<(ProjectId, u64)>> {
        self.inner.heads(projects).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_while_catching_up_receives_nothing_after_the_removal()
-> anyhow::Result<()> {
    let held = Arc::new(tokio::sync::Notify::new());
    let reached = Arc::new(tokio::sync::Notify::new());
    let (hold, reach) = (held.clone(), reached.clone());
    let config = AppConfig {
        directory: Some(Box::new(move |inner| {
            Arc::new(HeldCatchUp {
                inner,
                held: hold,
                reached: reach,
            })
        })),
        ..AppConfig::default()
    };
    let app = spawn_app_config(Arc::new(TestDb::postgres().await?), config)?;
    let owner = app.register("owner").await?;
    let member = app.register("member").await?;
    let project = app.project(&owner, "GONE").await?;
    app.member(&owner, &project, &member, "viewer").await?;
    app.batch(&owner, &project, titles(500, "before")).await?;
    let room = format!("project:{project}");

    // The member rejoins from the start; its catch-up sends the first page, then its second
    // read waits here while the owner removes the member and more happens.
    let mut client = app.ws(&member).await?;
    client
        .send("join", json!({"room": room, "since": 0}))
        .await?;
    tokio::time::timeout(Duration::from_secs(10), reached.notified()).await?;
    let path = format!("/api/v1/projects/{project}/members/{}", member.id);
    let removed = app
        .call(Method::DELETE, &path, Some(&owner.token), None)
        .await?;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.batch(&owner, &project, titles(10, "after")).await?;
    // The live removal reaches the hub while the catch-up still waits; then the read goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.notify_waiters();
    held.notify_one();

    let frames = client.drain(Duration::from_millis(1000)).await?;
    let seqs: Vec<u64> = frames.iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (1..=256).collect::<Vec<u64>>(),
        "the first page only: nothing after the removal, nothing of the held page"
    );
    let left = frames
        .iter()
        .position(|f| f["type"] == "left")
        .expect("told it left");
    assert_eq!(frames[left]["data"]["reason"], "membership_removed");
    assert!(
        frames[left..].iter().all(|f| f["seq"].is_null()),
        "no event after leaving"
    );

    // And rejoining is refused.
    client
        .send("join", json!({"room": room, "since": 0}))
        .await?;
    let (kind, data) = client.join_answer().await?;
    assert_eq!(
        (kind.as_str(), &data["code"]),
        ("error", &json!("forbidden"))
    );
    Ok(())
}
