//! End-to-end test support: boots the real server on an ephemeral port. Each test gets its own
//! server; later issues add per-test databases and Redis key prefixes here.

use std::net::{SocketAddr, TcpListener};

/// A running server for one test.
#[derive(Debug)]
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
}

/// Starts the server on `127.0.0.1:0` in the background.
///
/// # Errors
/// When no port can be bound.
pub fn spawn_app() -> anyhow::Result<TestApp> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    tokio::spawn(tasklane_server::run(listener)?);
    Ok(TestApp { address })
}
