//! The handshake: a ticket is required, works once and expires; and room authorisation.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasklane_server::Settings;
use tasklane_store::testing::TestDb;
use tasklane_tests::{AppConfig, spawn_app_config};

use crate::{postgres_world, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_refuses_a_missing_bad_expired_or_reused_ticket() -> anyhow::Result<()> {
    let config = AppConfig {
        settings: Settings {
            ws_ticket_ttl: Duration::from_secs(1),
            ..Settings::default()
        },
        ..AppConfig::default()
    };
    let w = world(spawn_app_config(
        Arc::new(TestDb::postgres().await?),
        config,
    )?)
    .await?;
    let app = &w.app;

    assert_eq!(app.ws_with(None).await?.err(), Some(401), "no ticket");
    assert_eq!(
        app.ws_with(Some("")).await?.err(),
        Some(401),
        "empty ticket"
    );
    assert_eq!(
        app.ws_with(Some("not-a-ticket")).await?.err(),
        Some(401),
        "unknown ticket"
    );

    let ticket = app.ticket(&w.owner).await?;
    let client = app
        .ws_with(Some(&ticket))
        .await?
        .expect("a fresh ticket works");
    assert_eq!(client.hello["user_id"], json!(w.owner.id));
    assert!(
        client.hello["connection_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(
        app.ws_with(Some(&ticket)).await?.err(),
        Some(401),
        "reused ticket"
    );

    let late = app.ticket(&w.owner).await?;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(
        app.ws_with(Some(&late)).await?.err(),
        Some(401),
        "expired ticket"
    );

    // The ticket endpoint itself needs a session.
    let anonymous = app
        .call(reqwest::Method::POST, "/api/v1/auth/ws-ticket", None, None)
        .await?;
    assert_eq!(anonymous.status, reqwest::StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_joined_only_with_a_membership() -> anyhow::Result<()> {
    let w = postgres_world().await?;
    let app = &w.app;
    let stranger = app.register("stranger").await?;
    let viewer = app.register("viewer").await?;
    app.member(&w.owner, &w.project, &viewer, "viewer").await?;
    let task = app.task(&w.owner, &w.project, "t").await?;
    let task_id = task["id"].as_str().unwrap();

    let mut outsider = app.ws(&stranger).await?;
    for room in [format!("project:{}", w.project), format!("task:{task_id}")] {
        let (kind, data) = outsider.join(&room).await?;
        assert_eq!(
            (kind.as_str(), &data["code"]),
            ("error", &json!("forbidden")),
            "{room}"
        );
    }
    let (kind, data) = outsider.join(&format!("user:{}", w.owner.id)).await?;
    assert_eq!(
        (kind.as_str(), &data["code"]),
        ("error", &json!("forbidden")),
        "someone else's user room"
    );
    let (kind, data) = outsider
        .join(&format!("project:{}", uuid::Uuid::new_v4()))
        .await?;
    assert_eq!(
        (kind.as_str(), &data["code"]),
        ("error", &json!("forbidden")),
        "no such project"
    );
    for bad in ["project:nope", "team:1", ""] {
        let (kind, data) = outsider.join(bad).await?;
        assert_eq!(
            (kind.as_str(), &data["code"]),
            ("error", &json!("bad_room")),
            "{bad:?}"
        );
    }
    outsider.must_join(&format!("user:{}", stranger.id)).await?;

    // Any role may join the project's rooms.
    let mut member = app.ws(&viewer).await?;
    for room in [
        format!("project:{}", w.project),
        format!("task:{task_id}"),
        format!("user:{}", viewer.id),
    ] {
        let (kind, data) = member.join(&room).await?;
        assert_eq!(kind, "joined", "{room}: {data}");
        assert_eq!(data["room"], json!(room));
    }
    member
        .send("leave", json!({"room": format!("task:{task_id}")}))
        .await?;
    assert_eq!(
        member.expect("left").await?["room"],
        json!(format!("task:{task_id}"))
    );
    Ok(())
}
