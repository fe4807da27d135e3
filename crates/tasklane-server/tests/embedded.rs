//! The embedded default, as a new user runs it: the real `tasklane` binary with no configuration
//! but a fresh data directory, driven over HTTP, then stopped with SIGTERM.

// Test code: a panic is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command};

use serde_json::{Value, json};

mod support;

/// Starts the binary over `data` with only `extra` configured; returns it and its base URL.
fn start(data: &Path, extra: &[(&str, &str)]) -> anyhow::Result<(Child, String)> {
    let data = data.display().to_string();
    let mut settings = vec![("TASKLANE_DATA_DIR", data.as_str())];
    settings.extend(extra.iter().copied());
    let instance = support::start(&settings)?;
    // These tests read its answers, not its log.
    drop(instance.lines);
    Ok((instance.child, instance.base))
}

async fn stop(child: Child) -> anyhow::Result<()> {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()?;
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    assert!(
        status.success(),
        "graceful shutdown exits cleanly: {status}"
    );
    Ok(())
}

#[tokio::test]
async fn with_redis_configured_but_down_the_binary_starts_and_reports_degraded()
-> anyhow::Result<()> {
    let data = std::env::temp_dir().join(format!(
        "tasklane-no-redis-{}",
        uuid::Uuid::new_v4().simple()
    ));
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let (child, base) = start(&data, &[("TASKLANE_REDIS_URL", &url)])?;
    let client = reqwest::Client::new();
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (&ready["database"], &ready["redis"]),
        (&json!("up"), &json!("degraded"))
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.lines().any(|line| line == "tasklane_redis_up 0"),
        "{metrics}"
    );
    let session: Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "r@example.com", "password": "correct horse", "display_name": "R"}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["access_token"].as_str().unwrap();
    let project = client
        .post(format!("{base}/api/v1/projects"))
        .bearer_auth(token)
        .json(&json!({"key": "RED", "name": "Red"}))
        .send()
        .await?;
    assert_eq!(project.status(), 201);
    stop(child).await?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

#[tokio::test]
async fn the_embedded_default_starts_from_an_empty_data_directory_serves_and_stops_cleanly()
-> anyhow::Result<()> {
    let data = std::env::temp_dir().join(format!(
        "tasklane-embedded-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let (child, base) = start(&data, &[])?;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };

    let ready: Value = call(reqwest::Method::GET, "/readyz", None, None)
        .await?
        .json()
        .await?;
    assert_eq!(ready["database"], "up");
    let session: Value = call(
        reqwest::Method::POST,
        "/api/v1/auth/register",
        None,
        Some(
            json!({"email": "new@example.com", "password": "correct horse", "display_name": "New"}),
        ),
    )
    .await?
    .json()
    .await?;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let project: Value = call(
        reqwest::Method::POST,
        "/api/v1/projects",
        Some(&token),
        Some(json!({"key": "WEB", "name": "Web"})),
    )
    .await?
    .json()
    .await?;
    let project_id = project["id"].as_str().unwrap();
    let task: Value = call(
        reqwest::Method::POST,
        &format!("/api/v1/projects/{project_id}/tasks"),
        Some(&token),
        Some(json!({"title": "First"})),
    )
    .await?
    .json()
    .await?;
    assert_eq!(task["key"], "WEB-1");
    assert_eq!(
        project["aggregation"]["total"], 0,
        "the project as created, before the task"
    );
    let docs = call(reqwest::Method::GET, "/docs/", None, None).await?;
    assert_eq!(docs.status(), 200);

    assert!(
        data.join("tasklane.db").exists(),
        "SQLite in the data directory"
    );
    assert!(
        data.join("jwt-secret").exists(),
        "the generated secret is kept"
    );

    stop(child).await?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
