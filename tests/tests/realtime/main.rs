//! The realtime layer end to end (docs/realtime.md): real servers, real WebSocket clients
//! (tokio-tungstenite), real PostgreSQL and SQLite, and real Redis for the fan-out between
//! instances.

// Test code: a panic is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod delivery;
mod events;
mod frames;
mod handshake;
mod instances;
mod limits;
mod log;
mod revocation;

use tasklane_store::testing::TestDb;
use tasklane_tests::{Session, TestApp, spawn_app};

/// A server over PostgreSQL with an owner and one project.
pub(crate) struct World {
    pub app: TestApp,
    pub owner: Session,
    pub project: String,
}

pub(crate) async fn world(app: TestApp) -> anyhow::Result<World> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "RT").await?;
    Ok(World {
        app,
        owner,
        project,
    })
}

pub(crate) async fn postgres_world() -> anyhow::Result<World> {
    world(spawn_app(TestDb::postgres().await?)?).await
}
