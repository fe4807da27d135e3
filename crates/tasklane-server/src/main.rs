//! The `tasklane` binary.
//!
//! ```text
//! tasklane [serve]                  migrate, then serve (the default)
//! tasklane migrate up|down|status   manage the schema
//! tasklane recount [PROJECT_ID]     repair one project's aggregation, or every project's
//! tasklane --help
//! ```
//!
//! Configuration comes from `TASKLANE_*` environment variables (see README.md); with none set
//! the server runs on SQLite in `./data/` with an in-process cache and broadcaster.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::{Context, bail};
use tasklane_cache::{Caches, MemoryCache, RawCache, RedisCache, RedisOptions};
use tasklane_domain::aggregation::AggregationChange;
use tasklane_domain::events::{DomainEvent, EncodedEvent, EventPayload, LoggedEvent, SYSTEM_ACTOR};
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{
    AggregationRepair, AggregationRepository, BroadcastError, EventBroadcaster, EventEncoder,
};
use tasklane_realtime::{RealtimeHub, RealtimeOptions, RelayOptions};
use tasklane_server::realtime::ApiEncoder;
use tasklane_server::settings::{LogFormat, Settings};
use tasklane_server::{AppState, run, run_metrics};
use tasklane_store::{Store, StoreOptions};

const USAGE: &str = "\
usage: tasklane [COMMAND]

commands:
  serve                   apply pending migrations, then serve the API (the default)
  migrate up|down|status  apply, roll back (the last) or list the migrations
  recount [PROJECT_ID]    recount and repair one project's aggregation, or every project's
  help                    this text

configuration (environment):
  TASKLANE_BIND, TASKLANE_DATABASE_URL, TASKLANE_REDIS_URL, TASKLANE_DATA_DIR,
  TASKLANE_JWT_SECRET, TASKLANE_ACCESS_TOKEN_TTL_SECS, TASKLANE_REFRESH_TOKEN_TTL_SECS,
  TASKLANE_DERIVATION_POLICY, TASKLANE_ARCHIVE_AFTER_DAYS, TASKLANE_ARCHIVE_INTERVAL_SECS,
  TASKLANE_DB_MAX_CONNECTIONS, TASKLANE_LOG_FORMAT (see README.md)";

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["help" | "--help" | "-h"]) {
        eprintln!("{USAGE}");
        return Ok(());
    }
    let settings = Settings::from_env()?;
    init_logging(settings.log_format);
    match args.as_slice() {
        [] | ["serve"] => serve(settings).await,
        ["migrate", direction] => migrate(&settings, direction).await,
        ["recount"] => recount(&settings, None).await,
        ["recount", project] => recount(&settings, Some(project.parse()?)).await,
        _ => bail!("unknown command\n\n{USAGE}"),
    }
}

async fn store(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: settings.db_max_connections,
        ..StoreOptions::default()
    };
    Store::connect(&settings.database_url, &options).await
}

async fn migrate(settings: &Settings, direction: &str) -> anyhow::Result<()> {
    let store = store(settings).await?;
    match direction {
        "up" => store.migrate_up().await?,
        "down" => store.migrate_down().await?,
        "status" => {}
        other => bail!("unknown migrate direction {other:?}\n\n{USAGE}"),
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

async fn recount(settings: &Settings, project: Option<ProjectId>) -> anyhow::Result<()> {
    let store = store(settings).await?;
    let projects = match project {
        Some(id) => vec![id],
        None => store.project_ids().await?,
    };
    let policy = settings.derivation_policy;
    let encoder = ApiEncoder::new(policy);
    for id in projects {
        // A derived status the repair moved is logged; running servers find it in the log
        // (their poller reads the heads), though nothing here publishes it.
        let record = Box::new(move |repair: &AggregationRepair| {
            let changed = repair.before.and_then(|before| {
                let change = AggregationChange {
                    before,
                    after: repair.after.counts,
                };
                change.status_transition(policy)
            });
            changed
                .map(|(old_status, new_status)| {
                    let event = DomainEvent {
                        project_id: id,
                        actor_id: SYSTEM_ACTOR,
                        at: repair.after.updated_at,
                        payload: EventPayload::ProjectStatusChanged {
                            old_status,
                            new_status,
                            aggregation: repair.after.clone(),
                        },
                    };
                    EncodedEvent {
                        data: encoder.encode(&event),
                        event,
                    }
                })
                .into_iter()
                .collect()
        });
        let repair = store
            .repair_aggregation(id, chrono::Utc::now(), record)
            .await?
            .value;
        let drift = repair.before != Some(repair.after.counts);
        tracing::info!(project = %id, ?repair.before, after = ?repair.after.counts, drift, "recounted");
    }
    Ok(())
}

/// Redis when `TASKLANE_REDIS_URL` is set (a Redis that is down at start does not stop the
/// server), the in-process cache otherwise.
async fn build_caches(settings: &Settings) -> anyhow::Result<Caches> {
    let Some(url) = &settings.redis_url else {
        // Nothing remote to wait for; the gauges say Redis is not in use.
        metrics::gauge!(tasklane_cache::REDIS_UP).set(0.0);
        metrics::gauge!(tasklane_server::metrics::REDIS_CONFIGURED).set(0.0);
        return Ok(Caches::new(Arc::new(MemoryCache::default())));
    };
    metrics::gauge!(tasklane_server::metrics::REDIS_CONFIGURED).set(1.0);
    let options = RedisOptions {
        timeout: settings.redis_timeout,
        probe_interval: settings.redis_probe_interval,
        prefix: settings.redis_prefix.clone(),
        ..RedisOptions::default()
    };
    let redis = RedisCache::connect(url, options).await?;
    if !redis.is_available() {
        tracing::warn!("Redis is not answering; serving without it until it does");
    }
    Ok(Caches::new(redis))
}

/// The background work of every interval: archive old done tasks, purge expired refresh tokens
/// and idempotency keys, prune the event log past its retention. A failure is logged and tried
/// again next round.
async fn housekeeping(state: AppState, interval: std::time::Duration, retention_days: u32) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match state.services.tasks.archive_done_tasks().await {
            Ok(0) => {}
            Ok(archived) => tracing::info!(archived, "auto-archived done tasks"),
            Err(error) => {
                tracing::warn!(error = %error, "auto-archive failed; retrying next round")
            }
        }
        match state.services.sessions.purge_ended().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged the refresh tokens of ended sessions"),
            Err(error) => tracing::warn!(error = %error, "refresh-token purge failed"),
        }
        match state.services.tasks.purge_expired_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(error) => tracing::warn!(error = %error, "idempotency-key purge failed"),
        }
        let retention = std::time::Duration::from_secs(u64::from(retention_days) * 86_400);
        match state.services.events.prune_older_than(retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned events past the retention"),
            Err(error) => tracing::warn!(error = %error, "event-log pruning failed"),
        }
    }
}

/// A fault-injection hook for tests, never for production: with
/// `TASKLANE_FAULT_PARK_BEFORE_PUBLISH` set, the first event about to be published (its
/// transaction committed) parks the process there and says so in its log, so a test can kill it
/// with SIGKILL between commit and publish and check that nothing is lost.
struct ParkBeforePublish;

impl EventBroadcaster for ParkBeforePublish {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        tracing::warn!(seq = event.seq, "fault: parked before publishing");
        loop {
            std::thread::park();
        }
    }
}

/// Folds recorded histogram samples into their buckets every few seconds. Without it samples
/// pile up between scrapes (and for ever when nothing scrapes): the server's memory would grow
/// with every request.
async fn metrics_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        ticks.tick().await;
        handle.run_upkeep();
    }
}

async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    let secret = settings.resolve_jwt_secret()?;
    let store = store(&settings).await?;
    store.migrate_up().await?;
    // The recorder first, so that the cache's first gauge values are not lost.
    tasklane_server::metrics::handle()?;
    let caches = build_caches(&settings).await?;
    let hub = RealtimeHub::start(
        RealtimeOptions {
            queue_capacity: settings.ws_queue_capacity,
            queue_bytes: settings.ws_queue_bytes,
            max_connections_per_user: settings.ws_connections_per_user,
            ..RealtimeOptions::default()
        },
        settings.redis_url.as_ref().map(|url| RelayOptions {
            url: url.clone(),
            channel: format!("{}events", settings.redis_prefix),
            timeout: settings.redis_timeout,
            retry_interval: settings.redis_probe_interval,
        }),
    )?;
    let broadcaster: Arc<dyn EventBroadcaster> =
        match std::env::var_os("TASKLANE_FAULT_PARK_BEFORE_PUBLISH") {
            Some(_) => Arc::new(ParkBeforePublish),
            None => Arc::new(hub.handle()),
        };
    let state =
        AppState::with_broadcaster(store.clone(), caches, &hub, broadcaster, &settings, &secret)?;

    let job = tokio::spawn(housekeeping(
        state.clone(),
        settings.archive_interval,
        settings.event_retention_days,
    ));
    let upkeep = tokio::spawn(metrics_upkeep(state.metrics.clone()));

    let listener = TcpListener::bind(&settings.bind)
        .with_context(|| format!("cannot bind {}", settings.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = ?store.dialect(), "tasklane listening on http://{address} (page /, API /api/v1, docs /docs)");
    let metrics_server = match &settings.metrics_bind {
        Some(bind) => {
            let listener =
                TcpListener::bind(bind).with_context(|| format!("cannot bind {bind}"))?;
            tracing::info!(address = %listener.local_addr()?, "metrics on their own address");
            Some(tokio::spawn(run_metrics(listener, state.clone())?))
        }
        None => None,
    };
    let served = run(listener, state)?.await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    job.abort();
    upkeep.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(served?)
}
