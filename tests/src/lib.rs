//! End-to-end test support: boots the real server on an ephemeral port over a fresh database
//! (a SQLite file or a PostgreSQL schema per test, from `tasklane_store::testing`).

use std::net::{SocketAddr, TcpListener};

use tasklane_store::testing::TestDb;

/// A running server for one test, and its database (dropped with it).
#[derive(Debug)]
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its database.
    pub db: TestDb,
}

/// Starts the server on `127.0.0.1:0` over `db`, in the background.
///
/// # Errors
/// When no port can be bound.
pub fn spawn_app(db: TestDb) -> anyhow::Result<TestApp> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let state = tasklane_server::AppState {
        store: db.store.clone(),
    };
    tokio::spawn(tasklane_server::run(listener, state)?);
    Ok(TestApp { address, db })
}
