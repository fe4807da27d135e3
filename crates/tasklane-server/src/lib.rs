//! # tasklane-server
//!
//! The HTTP server of Tasklane on actix-web: the REST API v1 of API.md over the domain's
//! services, its OpenAPI document (`/api/v1/openapi.json`) and browsable reference (`/docs`),
//! `/healthz`, `/readyz` and `/metrics`. This crate stays thin: [`AppState`] wires adapters into
//! the services, [`run`] serves on a listener the caller bound (tests bind port 0), and
//! `main.rs` loads [`Settings`], builds adapters, migrates and calls [`run`].

pub mod auth;
pub mod dto;
pub mod error;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod realtime;
pub mod settings;
pub mod state;

use std::net::TcpListener;
use std::sync::OnceLock;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use settings::Settings;
pub use state::AppState;

use crate::error::ApiError;

/// The largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The OpenAPI document's fixed parts; the paths are collected from the registered handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tasklane API", version = "1", description = "Projects, workflows, tasks and live task counts."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "projects", description = "Projects and their aggregation"),
        (name = "members", description = "Project members"),
        (name = "statuses", description = "Workflow statuses"),
        (name = "tasks", description = "Tasks"),
        (name = "realtime", description = "The WebSocket of REALTIME.md"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Unknown routes answer 404 as a problem document too.
async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// The OpenAPI document of the server, as served at `/api/v1/openapi.json`: the fixed parts of
/// [`ApiDoc`] and every registered handler's path. Built once per process.
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(handlers::api)
                .service(handlers::ops::healthz)
                .service(handlers::ops::readyz)
                .service(handlers::ops::metrics)
                .split_for_parts()
                .1
        })
        .clone()
}

/// The server for `listener`, ready to be awaited or spawned. SIGINT/SIGTERM stop accepting and
/// let in-flight requests finish (up to 10 s).
///
/// # Errors
/// When the listener cannot be used.
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let document = openapi();
    Ok(HttpServer::new(move || {
        App::new()
            // Registered before the `/api/v1` scope, which would otherwise answer 404 for it.
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", document.clone()))
            .service(web::redirect("/docs", "/docs/"))
            .into_utoipa_app()
            .configure(handlers::api)
            .service(handlers::ops::healthz)
            .service(handlers::ops::readyz)
            .service(handlers::ops::metrics)
            .into_app()
            .app_data(state.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(error::extractors::json),
            )
            .app_data(web::PathConfig::default().error_handler(error::extractors::path))
            .app_data(web::QueryConfig::default().error_handler(error::extractors::query))
            .default_service(web::to(not_found))
            .wrap(Compress::default())
            .wrap(from_fn(metrics::observe))
    })
    .shutdown_timeout(10)
    .listen(listener)?
    .run())
}
