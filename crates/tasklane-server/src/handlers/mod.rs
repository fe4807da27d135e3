//! Request handlers, one module per resource. Each handler parses its input into a DTO, calls
//! one service operation, and turns the result into a DTO; errors convert through `ApiError`.

pub mod auth;
pub mod comments;
pub mod events;
pub mod labels;
pub mod me;
pub mod members;
pub mod ops;
pub mod projects;
pub mod statuses;
pub mod tasks;
pub mod ws;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Every API route, under `/api/v1`, collected into the OpenAPI document as it is registered.
pub fn api(config: &mut ServiceConfig) {
    config.service(
        utoipa_actix_web::scope("/api/v1")
            .service(auth::register)
            .service(auth::login)
            .service(auth::refresh)
            .service(auth::logout)
            .service(auth::ws_ticket)
            .service(me::me)
            .service(me::update)
            .service(me::change_password)
            .service(projects::create)
            .service(projects::list)
            .service(projects::get)
            .service(projects::update)
            .service(projects::delete)
            .service(projects::archive)
            .service(projects::restore)
            .service(projects::aggregation)
            .service(projects::recount)
            .service(members::list)
            .service(members::add)
            .service(members::set)
            .service(members::remove)
            .service(statuses::list)
            .service(statuses::create)
            .service(statuses::update)
            .service(statuses::delete)
            .service(tasks::create::create)
            .service(tasks::create::batch)
            .service(tasks::read::list)
            .service(tasks::read::get)
            .service(tasks::read::by_key)
            .service(tasks::change::update)
            .service(tasks::change::move_task)
            .service(tasks::change::archive)
            .service(tasks::change::unarchive)
            .service(tasks::change::delete)
            .service(labels::list)
            .service(labels::create)
            .service(labels::update)
            .service(labels::remove)
            .service(comments::list)
            .service(comments::create)
            .service(comments::update)
            .service(comments::delete)
            .service(events::project)
            .service(events::task)
            .service(ws::connect),
    );
}

/// The version in `If-Match` (`"3"`, `W/"3"` or `3`, up to 19 digits, as the OpenAPI
/// document's pattern says); `None` when absent or `*`.
///
/// # Errors
/// 400 when the header is not a version.
pub fn if_match(request: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || ApiError::bad_request("If-Match must be a row_version, such as \"3\"");
    let text = value.to_str().map_err(|_| malformed())?;
    if text == "*" {
        return Ok(None);
    }
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    let bare = match quoted.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(malformed)?,
        None if quoted.len() == text.len() => text,
        None => return Err(malformed()),
    };
    if !(1..=19).contains(&bare.len()) || !bare.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    bare.parse().map(Some).map_err(|_| malformed())
}

/// Adds `ETag: "<version>"`.
pub fn with_etag(mut builder: HttpResponseBuilder, version: u64) -> HttpResponseBuilder {
    builder.insert_header((header::ETAG, format!("\"{version}\"")));
    builder
}

/// 204 No Content.
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
