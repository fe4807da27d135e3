//! Operational endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    redis: &'static str,
    fanout: &'static str,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "`{\"status\":\"ok\"}`")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers. Redis down is `degraded`, not down: the server works
/// without it. Without `TASKLANE_REDIS_URL` Redis is `not_configured`. `fanout` says how events
/// reach other instances: `up` (Redis pub/sub), `degraded` (Redis down: this instance's sockets
/// only) or `local` (no Redis configured).
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, description = "the database is down")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.health.ping().await.is_ok();
    let redis = redis_state(&state);
    let body = Readiness {
        status: if database { "ready" } else { "unavailable" },
        database: if database { "up" } else { "down" },
        redis,
        fanout: state.realtime.fanout_state(),
    };
    if database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(body)
    }
}

fn redis_state(state: &AppState) -> &'static str {
    match (state.caches.is_redis(), state.caches.is_available()) {
        (false, _) => "not_configured",
        (true, true) => "up",
        (true, false) => "degraded",
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The breaker keeps the gauge current; setting it here as well makes the scrape exact even
    // for a state reached before the recorder was installed.
    let redis_up = if state.caches.redis_available() {
        1.0
    } else {
        0.0
    };
    ::metrics::gauge!(tasklane_cache::REDIS_UP).set(redis_up);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
