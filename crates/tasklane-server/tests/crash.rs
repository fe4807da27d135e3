//! An instance killed between commit and publish loses nothing: two real `tasklane` processes
//! on one PostgreSQL database; instance A parks right after a creation commits (a test hook) and
//! is killed with SIGKILL; a client of instance B still receives the event, from the log, and a
//! client that rejoins with `since` gets it too.

// Test code: a panic is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tasklane_store::testing::TestDb;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "a-test-secret-of-at-least-32-characters";

mod support;

use support::Instance;

fn start(database_url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Instance> {
    let mut settings = vec![
        ("TASKLANE_DATABASE_URL", database_url),
        ("TASKLANE_JWT_SECRET", SECRET),
    ];
    settings.extend(extra.iter().copied());
    support::start(&settings)
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/v1{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await?;
    anyhow::ensure!(answer.status().is_success(), "{path}: {}", answer.status());
    Ok(answer.json().await?)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(base: &str, token: &str, join: Value) -> anyhow::Result<Socket> {
    let ticket = post(base, "/auth/ws-ticket", Some(token), json!({})).await?;
    let url = format!(
        "{}/api/v1/ws?ticket={}",
        base.replacen("http", "ws", 1),
        ticket["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket
        .send(Message::Text(
            json!({"type": "join", "data": join}).to_string().into(),
        ))
        .await?;
    loop {
        let frame = next(&mut socket, Duration::from_secs(10)).await?;
        anyhow::ensure!(frame["type"] != "error", "join refused: {frame}");
        if frame["type"] == "joined" {
            return Ok(socket);
        }
    }
}

async fn next(socket: &mut Socket, wait: Duration) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("socket ended"))??;
        if let Message::Text(text) = message {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}

async fn expect_created(socket: &mut Socket, title: &str) -> anyhow::Result<u64> {
    loop {
        let frame = next(socket, Duration::from_secs(5)).await?;
        if frame["type"] == "task_created" {
            assert_eq!(frame["data"]["task"]["title"], title);
            return Ok(frame["seq"].as_u64().unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_between_commit_and_publish_loses_no_event() -> anyhow::Result<()> {
    let db = TestDb::postgres().await?;
    let mut parked = start(&db.url, &[("TASKLANE_FAULT_PARK_BEFORE_PUBLISH", "1")])?;
    let mut healthy = start(&db.url, &[])?;
    let b = healthy.base.clone();

    let session = post(
        &b,
        "/auth/register",
        None,
        json!({"email": "owner@example.com", "password": "correct horse", "display_name": "Owner"}),
    )
    .await?;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let project = post(
        &b,
        "/projects",
        Some(&token),
        json!({"key": "KILL", "name": "Kill"}),
    )
    .await?;
    let room = format!("project:{}", project["id"].as_str().unwrap());
    let mut watcher = socket(&b, &token, json!({"room": room})).await?;

    // Through A: it commits, then parks before publishing; the request never answers.
    let a = parked.base.clone();
    let path = format!("/projects/{}/tasks", project["id"].as_str().unwrap());
    let (request_token, request_path) = (token.clone(), path.clone());
    let request = tokio::spawn(async move {
        post(
            &a,
            &request_path,
            Some(&request_token),
            json!({"title": "committed"}),
        )
        .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = parked
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        if line.contains("fault: parked before publishing") {
            break;
        }
    }
    Command::new("kill")
        .arg("-KILL")
        .arg(parked.child.id().to_string())
        .status()?;
    let status = tokio::task::spawn_blocking(move || parked.child.wait()).await??;
    assert!(!status.success(), "killed: {status}");
    assert!(request.await?.is_err(), "A never answered");

    let started = Instant::now();
    let seq = expect_created(&mut watcher, "committed").await?;
    eprintln!(
        "the killed instance's event reached B's client after {:?}",
        started.elapsed()
    );
    assert_eq!(seq, 2, "after the project's creation (seq 1)");

    // A client that reconnects with `since` gets it from the log as well.
    let mut rejoined = socket(&b, &token, json!({"room": room, "since": 0})).await?;
    assert_eq!(expect_created(&mut rejoined, "committed").await?, 2);

    Command::new("kill")
        .arg("-TERM")
        .arg(healthy.child.id().to_string())
        .status()?;
    let _ = tokio::task::spawn_blocking(move || healthy.child.wait()).await?;
    Ok(())
}
