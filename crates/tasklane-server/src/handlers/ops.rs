//! Operational endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    redis: &'static str,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "`{\"status\":\"ok\"}`")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers. Redis down is `degraded`, not down: the server works
/// without it.
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, description = "the database is down")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await.is_ok();
    let redis = if state.caches.is_available() {
        "up"
    } else {
        "degraded"
    };
    let body = Readiness {
        status: if database { "ready" } else { "unavailable" },
        database: if database { "up" } else { "down" },
        redis,
    };
    if database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(body)
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
