//! The `tasklane` binary: reads the bind address, prints where it listens, serves.

use std::net::TcpListener;

use anyhow::Context;

const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let bind = std::env::var("TASKLANE_BIND").unwrap_or_else(|_| DEFAULT_BIND.to_owned());
    let listener = TcpListener::bind(&bind).with_context(|| format!("cannot bind {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "tasklane listening; try http://{address}/healthz");
    tasklane_server::run(listener)?.await?;
    Ok(())
}
