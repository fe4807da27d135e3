//! The Tasklane server: an actix-web application over the domain's services.
//!
//! This is the stub of issue 2: it serves the operational endpoints only (`/healthz`, `/readyz`)
//! so that the README's run command starts a real process; issue 4 adds the API, configuration
//! and wiring. The shape is final: [`configure`] registers routes, [`run`] serves on a listener the
//! caller bound (tests bind port 0).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

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

/// The server can serve requests (no dependencies yet).
async fn readyz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ready"}"#)
}

/// The server for `listener`, ready to be awaited or spawned. It stops on SIGINT/SIGTERM
/// (actix's signal handling stops accepting and lets in-flight requests finish).
///
/// # Errors
/// When the listener cannot be used.
pub fn run(listener: TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(|| App::new().configure(configure))
        .listen(listener)?
        .run())
}
