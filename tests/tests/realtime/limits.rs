//! What one client can hold: unredeemed tickets and open sockets per user are bounded (429), a
//! socket's queue is bounded in bytes as well as frames, and only a real upgrade spends a ticket.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tasklane_realtime::RealtimeOptions;
use tasklane_server::Settings;
use tasklane_store::testing::TestDb;
use tasklane_tests::{AppConfig, spawn_app_config};
use tokio_tungstenite::tungstenite::Message;

use crate::world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_holds_at_most_the_ticket_limit_and_a_redeemed_ticket_frees_its_place()
-> anyhow::Result<()> {
    let config = AppConfig {
        settings: Settings {
            ws_tickets_per_user: 3,
            ..Settings::default()
        },
        ..AppConfig::default()
    };
    let w = world(spawn_app_config(Arc::new(TestDb::sqlite().await?), config)?).await?;
    let mut tickets = Vec::new();
    for _ in 0..3 {
        tickets.push(w.app.ticket(&w.owner).await?);
    }
    let refused = w
        .app
        .post("/api/v1/auth/ws-ticket", &w.owner.token, json!({}))
        .await?;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.text("code"), "too_many_tickets");
    assert!(refused.header("retry-after").is_some());
    let other = w.app.register("other").await?;
    assert!(
        w.app.ticket(&other).await.is_ok(),
        "other users are not affected"
    );
    let _socket = w
        .app
        .ws_with(Some(&tickets[0]))
        .await?
        .expect("a held ticket still works");
    assert!(
        w.app.ticket(&w.owner).await.is_ok(),
        "the redeemed ticket's place is free again"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_has_at_most_the_socket_limit_open_on_an_instance() -> anyhow::Result<()> {
    let config = AppConfig {
        realtime: RealtimeOptions {
            max_connections_per_user: 2,
            ..RealtimeOptions::default()
        },
        ..AppConfig::default()
    };
    let w = world(spawn_app_config(Arc::new(TestDb::sqlite().await?), config)?).await?;
    let first = w.app.ws(&w.owner).await?;
    let _second = w.app.ws(&w.owner).await?;
    let ticket = w.app.ticket(&w.owner).await?;
    assert_eq!(
        w.app.ws_with(Some(&ticket)).await?.err(),
        Some(429),
        "a third socket is refused before the upgrade"
    );
    let other = w.app.register("other").await?;
    let _theirs = w.app.ws(&other).await?;
    drop(first);
    let started = std::time::Instant::now();
    loop {
        let ticket = w.app.ticket(&w.owner).await?;
        match w.app.ws_with(Some(&ticket)).await? {
            Ok(_) => break,
            Err(429) if started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => anyhow::bail!("a closed socket never freed its place: {status}"),
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_of_the_websocket_route_is_400_and_leaves_the_ticket_unspent()
-> anyhow::Result<()> {
    let w = world(spawn_app_config(
        Arc::new(TestDb::sqlite().await?),
        AppConfig::default(),
    )?)
    .await?;
    let ticket = w.app.ticket(&w.owner).await?;
    let plain = w
        .app
        .call(
            Method::GET,
            &format!("/api/v1/ws?ticket={ticket}"),
            None,
            None,
        )
        .await?;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        plain.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        w.app.ws_with(Some(&ticket)).await?.is_ok(),
        "the ticket still works for a real upgrade"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_reads_is_closed_once_its_queue_holds_more_bytes_than_allowed()
-> anyhow::Result<()> {
    // Frames alone would allow 1,024 events of 100 KB (100 MB) for this one socket.
    let config = AppConfig {
        realtime: RealtimeOptions {
            queue_bytes: 512 * 1024,
            ..RealtimeOptions::default()
        },
        ..AppConfig::default()
    };
    let w = world(spawn_app_config(
        Arc::new(TestDb::postgres().await?),
        config,
    )?)
    .await?;
    let ticket = w.app.ticket(&w.owner).await?;
    // A small receive buffer, so that the kernel holds little of what the server sends.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let stream = socket.connect(w.app.address).await?;
    let url = format!("ws://{}/api/v1/ws?ticket={ticket}", w.app.address);
    let (mut stalled, _) = tokio_tungstenite::client_async(url, stream).await?;
    stalled.next().await.transpose()?; // connected
    let room = format!("project:{}", w.project);
    stalled
        .send(Message::Text(
            json!({"type": "join", "data": {"room": room}})
                .to_string()
                .into(),
        ))
        .await?;
    stalled.next().await.transpose()?; // joined

    let description = "d".repeat(100_000);
    let batches = 15;
    for batch in 0..batches {
        let tasks: Vec<_> = (0..10)
            .map(|i| json!({"title": format!("b{batch}-{i}"), "description": description}))
            .collect();
        w.app.batch(&w.owner, &w.project, tasks).await?;
    }

    let total = batches * 10;
    let mut frames = 0;
    let mut ended = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ended.is_none() {
        match tokio::time::timeout_at(deadline, stalled.next()).await {
            Err(_) => break,
            Ok(None | Some(Err(_))) => ended = Some(None),
            Ok(Some(Ok(Message::Close(frame)))) => {
                ended = Some(frame.map(|f| u16::from(f.code)));
            }
            Ok(Some(Ok(Message::Text(_)))) => frames += 1,
            Ok(Some(Ok(_))) => {}
        }
    }
    eprintln!("the stalled socket got {frames} of {total} frames, then {ended:?}");
    assert!(
        matches!(ended, Some(None | Some(1013))),
        "the socket was closed as too slow: {ended:?}"
    );
    assert!(
        frames < total,
        "it was cut off ({frames} of {total} frames)"
    );
    Ok(())
}
