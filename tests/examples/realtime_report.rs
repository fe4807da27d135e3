//! A short realtime report (not a test): delivery latency to 100 clients in one room, and the
//! server's memory per idle WebSocket connection.
//!
//! ```sh
//! cargo build --release -p tasklane-server
//! TASKLANE_BIN=target/release/tasklane cargo run --release -p tasklane-tests --example realtime_report
//! ```
//!
//! Latency runs an in-process server over PostgreSQL with the clients in the same process (they
//! share the 2 cores). Commit happens between sending a create and reading its response, so two
//! figures bound it: receipt after the response (a lower bound on commit → receipt) and receipt
//! after the request was sent (an upper bound). Memory starts the real binary (SQLite, no
//! Redis), opens idle sockets and reads its resident set from `/proc`.

// A report prints; it is not library code.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tasklane_store::testing::TestDb;
use tasklane_tests::spawn_app;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 100;
const CREATES: u64 = 200;
const IDLE_SOCKETS: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn latency() -> anyhow::Result<()> {
    let app = Arc::new(spawn_app(TestDb::postgres().await?)?);
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "LAT").await?;
    let room = format!("project:{project}");
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = app.ws(&owner).await?;
        client.must_join(&room).await?;
        readers.push(tokio::spawn(async move {
            let mut received = HashMap::new();
            while (received.len() as u64) < CREATES {
                let data = client.expect("task_created").await?;
                received.insert(data["task"]["number"].as_u64().unwrap(), Instant::now());
            }
            anyhow::Ok(received)
        }));
    }
    let mut sent = HashMap::new();
    for n in 1..=CREATES {
        let before = Instant::now();
        app.task(&owner, &project, &format!("t{n}")).await?;
        sent.insert(n, (before, Instant::now()));
        // About 100 creates per second, so each measures delivery rather than a queue.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut after_response, mut after_request) = (Vec::new(), Vec::new());
    let mut early = 0;
    for reader in readers {
        for (number, received) in reader.await?? {
            let (request, response) = sent[&number];
            match received.checked_duration_since(response) {
                Some(latency) => after_response.push(latency),
                None => {
                    early += 1;
                    after_response.push(Duration::ZERO);
                }
            }
            after_request.push(received.duration_since(request));
        }
    }
    after_response.sort();
    after_request.sort();
    println!(
        "delivery to {CLIENTS} clients in one room, {CREATES} creates ({} deliveries):",
        after_request.len()
    );
    println!(
        "  receipt after the HTTP response: p50 {:?}  p99 {:?}  max {:?}  ({early} frames arrived before the response was read)",
        percentile(&after_response, 0.5),
        percentile(&after_response, 0.99),
        after_response.last().copied().unwrap_or_default()
    );
    println!(
        "  receipt after the request was sent: p50 {:?}  p99 {:?}  max {:?}",
        percentile(&after_request, 0.5),
        percentile(&after_request, 0.99),
        after_request.last().copied().unwrap_or_default()
    );
    Ok(())
}

fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("bad VmRSS"))?
        .parse()?)
}

async fn memory() -> anyhow::Result<()> {
    let binary = std::env::var("TASKLANE_BIN")
        .unwrap_or_else(|_| format!("{}/../target/debug/tasklane", env!("CARGO_MANIFEST_DIR")));
    let data =
        std::env::temp_dir().join(format!("tasklane-report-{}", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(&binary)
        .env("TASKLANE_DATA_DIR", &data)
        .env("TASKLANE_BIND", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let (found, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(start) = line.find("http://") {
                let address: String = line[start + 7..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = found.send(address);
            }
        }
    });
    let address = lines.recv_timeout(Duration::from_secs(60))?;
    let base = format!("http://{address}/api/v1");
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "m@example.com", "password": "correct horse", "display_name": "M"}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let open = |http: reqwest::Client, token: String, base: String, address: String| async move {
        let ticket: Value = http
            .post(format!("{base}/auth/ws-ticket"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let url = format!(
            "ws://{address}/api/v1/ws?ticket={}",
            ticket["ticket"].as_str().unwrap()
        );
        let (mut stream, _) = tokio_tungstenite::connect_async(url).await?;
        // Read the `connected` frame so the server has finished setting the socket up.
        while let Some(message) = stream.next().await {
            if matches!(message?, Message::Text(_)) {
                break;
            }
        }
        anyhow::Ok(stream)
    };
    // Warm up (one socket, allocator arenas, the hub), then measure.
    let warm = open(http.clone(), token.clone(), base.clone(), address.clone()).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = resident_kib(child.id())?;
    let mut sockets = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS {
        sockets.push(open(http.clone(), token.clone(), base.clone(), address.clone()).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = resident_kib(child.id())?;
    println!(
        "server memory ({binary}): {before} KiB with 1 socket, {after} KiB with {} idle sockets: {:.1} KiB per idle connection",
        IDLE_SOCKETS + 1,
        (after.saturating_sub(before)) as f64 / IDLE_SOCKETS as f64
    );
    drop(sockets);
    drop(warm);
    child.kill()?;
    child.wait()?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    latency().await?;
    memory().await
}
