//! `GET /api/v1/ws`: the realtime WebSocket (docs/realtime.md). The ticket is checked before the
//! upgrade; the socket itself is served by `tasklane-realtime`.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::state::AppState;

/// The handshake's query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WsQuery {
    /// A ticket from `POST /api/v1/auth/ws-ticket` (single use, 30 s).
    pub ticket: Option<String>,
}

/// Upgrades to the realtime WebSocket. Before any upgrade: 400 for a request that is not a
/// WebSocket handshake (its ticket is not spent), 401 for a missing, unknown, expired or reused
/// ticket, 429 when the user already has too many sockets open on this instance.
#[utoipa::path(
    tag = "realtime",
    params(WsQuery),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol of docs/realtime.md"),
        (status = 400, body = crate::error::Problem, description = "Not a WebSocket handshake"),
        (status = 401, body = crate::error::Problem, description = "No valid ticket"),
        (status = 429, body = crate::error::Problem, description = "`too_many_connections`"),
    )
)]
#[get("/ws")]
pub async fn connect(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
) -> HttpResponse {
    tasklane_realtime::connect(&state.realtime, &request, body, query.ticket.as_deref()).await
}
