//! Client frames get their answers (`pong`, `unknown_type`, `invalid_json`, `too_large`,
//! `rate_limited`) and none of them closes the socket.

use std::time::Duration;

use serde_json::json;

use crate::postgres_world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_frame_gets_its_answer_and_the_socket_stays_open() -> anyhow::Result<()> {
    let w = postgres_world().await?;
    let mut client = w.app.ws(&w.owner).await?;
    client.must_join(&format!("project:{}", w.project)).await?;

    client.send("ping", json!({})).await?;
    assert_eq!(client.expect("pong").await?, json!({}));
    client.send("shout", json!({})).await?;
    assert_eq!(client.expect("error").await?["code"], "unknown_type");
    client.send_text("{not json").await?;
    assert_eq!(client.expect("error").await?["code"], "invalid_json");
    client.send_text(r#"{"data": {}}"#).await?;
    assert_eq!(
        client.expect("error").await?["code"],
        "invalid_json",
        "no type"
    );
    let big = json!({"type": "ping", "data": {"pad": "x".repeat(65 * 1024)}}).to_string();
    client.send_text(big).await?;
    assert_eq!(client.expect("error").await?["code"], "too_large");

    // Six frames so far in this window (join included); a burst takes the rest of the 100.
    let burst = 120;
    for _ in 0..burst {
        client.send("ping", json!({})).await?;
    }
    let answers = client.drain(Duration::from_millis(500)).await?;
    let pongs = answers.iter().filter(|f| f["type"] == "pong").count();
    let limited = answers
        .iter()
        .filter(|f| f["type"] == "error" && f["data"]["code"] == "rate_limited")
        .count();
    assert_eq!(
        (pongs, limited),
        (94, burst - 94),
        "100 frames per 10 s, then dropped with an answer"
    );

    // Still open and still in its room.
    w.app.task(&w.owner, &w.project, "after the burst").await?;
    let created = client.expect("task_created").await?;
    assert_eq!(created["task"]["title"], "after the burst");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_and_closes_a_socket_that_stays_silent() -> anyhow::Result<()> {
    let config = tasklane_tests::AppConfig {
        realtime: tasklane_realtime::RealtimeOptions {
            ping_interval: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(400),
            ..tasklane_realtime::RealtimeOptions::default()
        },
        ..tasklane_tests::AppConfig::default()
    };
    let db = std::sync::Arc::new(tasklane_store::testing::TestDb::postgres().await?);
    let w = crate::world(tasklane_tests::spawn_app_config(db, config)?).await?;

    // A reading client answers the pings (tungstenite does), so it stays.
    let mut lively = w.app.ws(&w.owner).await?;
    assert!(lively.drain(Duration::from_millis(800)).await?.is_empty());
    lively.send("ping", json!({})).await?;
    lively.expect("pong").await?;

    // A client that neither reads nor writes is closed as gone away (1001).
    let mut silent = w.app.ws(&w.owner).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, ended) = silent.read_to_end(Duration::from_secs(2)).await;
    assert_eq!(ended, Some(tasklane_tests::ws::Ended::Closed(1001)));
    Ok(())
}
