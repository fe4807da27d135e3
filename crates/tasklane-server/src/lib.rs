//! The Tasklane server: an actix-web application over the domain's services.
//!
//! Today it serves the operational endpoints (`/healthz`; `/readyz`, which asks the database);
//! issue 4 adds the API and the full configuration. The shape is final: [`configure`] registers
//! routes on the shared [`AppState`], [`run`] serves on a listener the caller bound (tests bind
//! port 0).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use tasklane_store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store (PostgreSQL or SQLite).
    pub store: Store,
}

/// Registers every route on `config`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// The server can serve requests: the database answers.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"status":"ready","database":"up"}"#),
        Err(error) => {
            tracing::warn!(error = %error, "readiness: database down");
            HttpResponse::ServiceUnavailable()
                .content_type("application/json")
                .body(r#"{"status":"unavailable","database":"down"}"#)
        }
    }
}

/// The server for `listener`, ready to be awaited or spawned. It stops on SIGINT/SIGTERM
/// (actix's signal handling stops accepting and lets in-flight requests finish).
///
/// # Errors
/// When the listener cannot be used.
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    Ok(
        HttpServer::new(move || App::new().app_data(state.clone()).configure(configure))
            .listen(listener)?
            .run(),
    )
}
