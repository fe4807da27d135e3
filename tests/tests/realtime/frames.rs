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
