//! # tasklane-server
//!
//! The HTTP server of Tasklane on actix-web: the REST API v1 of docs/api.md over the domain's
//! services, its OpenAPI document (`/api/v1/openapi.json`) and browsable reference (`/docs`),
//! the web page at `/` ([`page`]), `/healthz`, `/readyz` and `/metrics`. This crate stays thin:
//! [`AppState`] wires adapters into the services, [`run`] serves on a listener the caller bound
//! (tests bind port 0), and `main.rs` loads [`Settings`], builds adapters, migrates and calls
//! [`run`].

pub mod auth;
pub mod document;
pub mod dto;
pub mod edge;
pub mod error;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod page;
pub mod pages;
pub mod realtime;
pub mod settings;
pub mod state;
mod wiring;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, ResponseError, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use document::{ApiDoc, openapi};
pub use settings::Settings;
pub use state::AppState;

use crate::edge::BodyDeadline;
use crate::error::ApiError;

/// The largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The server for `listener`, ready to be awaited or spawned. SIGINT/SIGTERM stop accepting and
/// let in-flight requests finish (up to 10 s). `/metrics` is served here unless the state says
/// it has an address of its own ([`run_metrics`]).
///
/// # Errors
/// When the listener cannot be used.
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let metrics_here = state.metrics_on_api;
    let deadline = web::Data::new(BodyDeadline(state.body_read_timeout));
    let access_tokens = web::Data::new(state.access_tokens.clone());
    let state = web::Data::new(state);
    let document = openapi();
    Ok(HttpServer::new(move || {
        let app = App::new()
            // Registered before the `/api/v1` scope, which would otherwise answer 404 for it.
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", document.clone()))
            .service(web::redirect("/docs", "/docs/"))
            .configure(page::routes)
            .into_utoipa_app()
            .configure(handlers::api)
            .service(handlers::ops::healthz)
            .service(handlers::ops::readyz);
        let app = if metrics_here {
            app.service(handlers::ops::metrics)
        } else {
            app
        };
        app.into_app()
            .app_data(state.clone())
            .app_data(deadline.clone())
            .app_data(access_tokens.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(error::extractors::json),
            )
            .app_data(web::PathConfig::default().error_handler(error::extractors::path))
            .app_data(web::QueryConfig::default().error_handler(error::extractors::query))
            .default_service(web::to(edge::fallback))
            .wrap(from_fn(edge::body_deadline))
            .wrap(Compress::default())
            .wrap(from_fn(metrics::observe))
            // Outermost, so that a detached write still records its metrics and statements.
            .wrap(from_fn(edge::to_completion))
    })
    // Small writes leave at once: with Nagle's algorithm a socket's next frames wait for the
    // client's (delayed) acknowledgement of the previous ones, up to 40 ms on Linux.
    .tcp_nodelay(true)
    .shutdown_timeout(10)
    .listen(listener)?
    .run())
}

/// `/metrics` alone on `listener` (`TASKLANE_METRICS_BIND`), away from the API's clients.
///
/// # Errors
/// When the listener cannot be used.
pub fn run_metrics(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(handlers::ops::metrics)
            .default_service(web::to(|| async { ApiError::not_found().error_response() }))
    })
    .workers(1)
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}
