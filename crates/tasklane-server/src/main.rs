//! The `tasklane` binary.
//!
//! ```text
//! tasklane [serve]                  migrate, then serve (the default)
//! tasklane migrate up|down|status   manage the schema
//! tasklane --help
//! ```
//!
//! `TASKLANE_DATABASE_URL` picks the database (default `sqlite://data/tasklane.db`);
//! `TASKLANE_BIND` the address (default `127.0.0.1:8080`).

use std::net::TcpListener;

use anyhow::{Context, bail};
use tasklane_store::{Store, StoreOptions};

const DEFAULT_BIND: &str = "127.0.0.1:8080";
const DEFAULT_DATABASE: &str = "sqlite://data/tasklane.db";
const USAGE: &str = "usage: tasklane [serve] | tasklane migrate up|down|status\n\n\
    environment: TASKLANE_DATABASE_URL (default sqlite://data/tasklane.db), TASKLANE_BIND (default 127.0.0.1:8080)";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve().await,
        ["migrate", direction] => migrate(direction).await,
        ["--help" | "-h" | "help"] => {
            eprintln!("{USAGE}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

async fn store() -> anyhow::Result<Store> {
    let url =
        std::env::var("TASKLANE_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE.to_owned());
    Store::connect(&url, &StoreOptions::default()).await
}

async fn migrate(direction: &str) -> anyhow::Result<()> {
    let store = store().await?;
    match direction {
        "up" => store.migrate_up().await?,
        "down" => store.migrate_down().await?,
        "status" => {}
        other => bail!("unknown migrate direction {other:?}\n{USAGE}"),
    }
    let (applied, pending) = store.migration_status().await?;
    for name in applied {
        tracing::info!(migration = %name, "applied");
    }
    for name in pending {
        tracing::info!(migration = %name, "pending");
    }
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let store = store().await?;
    store.migrate_up().await?;
    let bind = std::env::var("TASKLANE_BIND").unwrap_or_else(|_| DEFAULT_BIND.to_owned());
    let listener = TcpListener::bind(&bind).with_context(|| format!("cannot bind {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, dialect = ?store.dialect(), "tasklane listening; try http://{address}/healthz");
    tasklane_server::run(listener, tasklane_server::AppState { store })?.await?;
    Ok(())
}
