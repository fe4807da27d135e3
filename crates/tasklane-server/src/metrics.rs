//! Prometheus metrics: one recorder per process, and the per-request middleware that records
//! `tasklane_http_request_duration_seconds{method, route, status}` and
//! `tasklane_db_statements_per_request{route}`, stamps `X-Request-Id` and `X-Db-Statements`, and
//! logs each 5xx cause once with the request id.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::error::ApiError;

/// The request duration histogram.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "tasklane_http_request_duration_seconds";
/// 1 when the server was configured with Redis.
pub const REDIS_CONFIGURED: &str = "tasklane_redis_configured";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
///
/// # Errors
/// When another recorder was installed first.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    // One installer at a time: a second caller must not see "already installed" before the
    // first has stored its handle.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        // 2 s is a bucket boundary so that "p95 over 2 s" (the alert rules) needs no
        // interpolation.
        .set_buckets(&[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0,
        ])?
        .set_buckets_for_metric(
            Matcher::Full(tasklane_store::CREATIONS_PER_TRANSACTION.to_owned()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        )?
        .set_buckets_for_metric(
            Matcher::Full(tasklane_store::CREATION_PROJECTS_PER_TRANSACTION.to_owned()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        )?
        .set_buckets_for_metric(
            Matcher::Full(tasklane_store::CHANGES_PER_TRANSACTION.to_owned()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        )?
        .set_buckets_for_metric(
            Matcher::Full(tasklane_store::LISTING_READERS_PER_STATEMENT.to_owned()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 500.0],
        )?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| anyhow::anyhow!("a foreign metrics recorder is installed"))?;
    let _ = HANDLE.set(handle.clone());
    register();
    Ok(handle)
}

/// Describes every metric and gives counters and gauges their first value, so that each name is
/// on `/metrics` from the start, not only after its first event.
fn register() {
    use tasklane_domain::metrics as domain;
    metrics::describe_counter!(
        domain::AGG_BOOTSTRAP_CACHE_TOTAL,
        "Aggregation bootstrap cache look-ups by result"
    );
    for result in ["hit", "miss", "error"] {
        metrics::counter!(domain::AGG_BOOTSTRAP_CACHE_TOTAL, "result" => result).increment(0);
    }
    metrics::describe_counter!(
        domain::AGG_CONFLICTS_TOTAL,
        "Aggregation inserts that lost a race to a concurrent insert"
    );
    metrics::counter!(domain::AGG_CONFLICTS_TOTAL).increment(0);
    metrics::describe_counter!(
        domain::WS_BROADCAST_FAILURES_TOTAL,
        "Events that could not be broadcast"
    );
    metrics::counter!(domain::WS_BROADCAST_FAILURES_TOTAL).increment(0);
    metrics::describe_histogram!(
        domain::TASK_CREATION_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Task creation time"
    );
    metrics::describe_histogram!(
        tasklane_store::STATEMENTS_PER_REQUEST,
        "SQL statements per request"
    );
    metrics::describe_histogram!(
        tasklane_store::CREATIONS_PER_TRANSACTION,
        "Task creation requests written per PostgreSQL transaction (coalesced creation)"
    );
    metrics::describe_histogram!(
        tasklane_store::CREATION_PROJECTS_PER_TRANSACTION,
        "Projects whose task creations shared one PostgreSQL transaction (group commit)"
    );
    metrics::describe_histogram!(
        tasklane_store::CHANGES_PER_TRANSACTION,
        "Task update, move and archive requests written per PostgreSQL transaction (coalesced changes)"
    );
    metrics::describe_histogram!(
        tasklane_store::LISTING_READERS_PER_STATEMENT,
        "Board readers answered per statement of their roles and the listing's version (PostgreSQL: readers that arrive together share one)"
    );
    // Registered from the start, so that the page (and the alert that reads it) has the series
    // on SQLite too, where writes are not coalesced.
    drop(metrics::histogram!(
        tasklane_store::CREATIONS_PER_TRANSACTION
    ));
    drop(metrics::histogram!(tasklane_store::CHANGES_PER_TRANSACTION));
    drop(metrics::histogram!(
        tasklane_store::LISTING_READERS_PER_STATEMENT
    ));
    drop(metrics::histogram!(
        tasklane_store::CREATION_PROJECTS_PER_TRANSACTION
    ));
    metrics::describe_counter!(
        crate::pages::TASK_PAGES_TOTAL,
        "Task listings answered, by how: not_modified (304), cached (this instance's copy), read (the page query)"
    );
    for answer in ["not_modified", "cached", "read"] {
        metrics::counter!(crate::pages::TASK_PAGES_TOTAL, "answer" => answer).increment(0);
    }
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request time"
    );
    metrics::describe_gauge!(
        tasklane_cache::REDIS_UP,
        "1 when Redis answers, 0 while it is skipped"
    );
    metrics::describe_gauge!(
        REDIS_CONFIGURED,
        "1 when TASKLANE_REDIS_URL is set (so that Redis being down is an alert), 0 otherwise"
    );
    metrics::gauge!(REDIS_CONFIGURED).set(0.0);
    metrics::describe_gauge!(
        crate::auth::PASSWORD_HASHES_IN_FLIGHT,
        "Password hashes running now (bounded by TASKLANE_PASSWORD_HASH_CONCURRENCY)"
    );
    metrics::gauge!(crate::auth::PASSWORD_HASHES_IN_FLIGHT).set(0.0);
    metrics::describe_counter!(
        crate::auth::PASSWORD_HASH_OVERLOADED_TOTAL,
        "Logins and registrations refused with 503 overloaded: no hashing slot freed in time"
    );
    metrics::counter!(crate::auth::PASSWORD_HASH_OVERLOADED_TOTAL).increment(0);
    metrics::describe_gauge!(
        domain::REDIS_CACHE_HIT_RATIO,
        "Bootstrap cache hits over the last 1000 look-ups"
    );
    metrics::gauge!(domain::REDIS_CACHE_HIT_RATIO).set(0.0);
    metrics::describe_counter!(
        tasklane_cache::REDIS_FAILURES_TOTAL,
        "Redis calls that failed, timed out or were skipped while the breaker was open"
    );
    for reason in ["timeout", "error", "skipped"] {
        metrics::counter!(tasklane_cache::REDIS_FAILURES_TOTAL, "reason" => reason).increment(0);
    }
    use tasklane_realtime::metrics as realtime;
    metrics::describe_gauge!(realtime::WS_CONNECTIONS, "Open WebSocket connections");
    metrics::gauge!(realtime::WS_CONNECTIONS).set(0.0);
    metrics::describe_counter!(
        realtime::WS_FRAMES_QUEUED_TOTAL,
        "Frames queued for WebSocket clients"
    );
    metrics::counter!(realtime::WS_FRAMES_QUEUED_TOTAL).increment(0);
    metrics::describe_counter!(
        realtime::WS_SLOW_CONSUMERS_CLOSED_TOTAL,
        "WebSocket clients closed because they fell behind"
    );
    metrics::counter!(realtime::WS_SLOW_CONSUMERS_CLOSED_TOTAL).increment(0);
    metrics::describe_gauge!(
        realtime::WS_FANOUT_UP,
        "1 while events of other instances arrive through Redis pub/sub"
    );
    metrics::gauge!(realtime::WS_FANOUT_UP).set(0.0);
    for (name, help) in [
        (
            realtime::WS_EVENTS_HELD_TOTAL,
            "Events that arrived before an earlier event of their project and waited for it",
        ),
        (
            realtime::WS_GAP_FILLS_TOTAL,
            "Reads of the event log for events that did not arrive live within the gap wait",
        ),
        (
            realtime::WS_EVENTS_DUPLICATE_TOTAL,
            "Events that arrived again (live after the log, or the log after live) and were dropped",
        ),
        (
            realtime::WS_EVENTS_REPLAYED_TOTAL,
            "Events sent to sockets from the event log, catching up after join {since}",
        ),
    ] {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).increment(0);
    }
}

/// The request id of this request (set by [`observe`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client-sent id is kept when it is short and plain; otherwise a new UUID is used.
fn request_id(request: &ServiceRequest) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The per-request middleware (`middleware::from_fn`).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&request);
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().to_string();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %id, %method, route = %route);
    let started = Instant::now();
    let (response, statements) = tasklane_store::record_statements(
        route.clone(),
        next.call(request).instrument(span.clone()),
    )
    .await;
    let mut response = response?;
    // The statements this request sent, for clients and tests that check the budgets.
    response.headers_mut().insert(
        HeaderName::from_static("x-db-statements"),
        HeaderValue::from(statements),
    );
    let status = response.status();
    if status.is_server_error() {
        let _entered = span.enter();
        match response
            .response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
        {
            Some(error) => match error.cause() {
                Some(cause) => {
                    tracing::error!(status = status.as_u16(), error = ?cause, "request failed")
                }
                None => tracing::error!(status = status.as_u16(), %error, "request failed"),
            },
            None => tracing::error!(status = status.as_u16(), "request failed"),
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method,
        "route" => route,
        "status" => status.as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    Ok(response)
}
