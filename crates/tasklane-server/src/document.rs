//! The OpenAPI document, the API's contract: the paths come from the registered handlers, and
//! [`Contract`] then completes every operation with the answers every route of its kind can
//! give — 400 for unreadable input, 401 without a valid token, 404 for unknown ids, 408 and 413
//! for slow or large bodies, 500 and 503 — all as `application/problem+json`, with the rules of
//! the header parameters and unique operation ids. A fuzzer (schemathesis) holds the server to it.

use std::sync::OnceLock;

use actix_web::App;
use actix_web::http::StatusCode;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::dto::rules::{IDEMPOTENCY_KEY_PATTERN, IF_MATCH_PATTERN};
use crate::handlers;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The OpenAPI document's fixed parts; the paths are collected from the registered handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tasklane API", version = "1", description = "Projects, workflows, tasks and live task counts."),
    modifiers(&BearerAuth),
    // Referenced only from query parameters, which do not collect their schemas.
    components(schemas(crate::dto::OrderDto)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own profile and password"),
        (name = "projects", description = "Projects and their aggregation"),
        (name = "members", description = "Project members"),
        (name = "statuses", description = "Workflow statuses"),
        (name = "tasks", description = "Tasks"),
        (name = "comments", description = "Comments on tasks"),
        (name = "labels", description = "Project labels"),
        (name = "events", description = "The project event log: catch-up and history"),
        (name = "realtime", description = "The WebSocket protocol"),
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

/// The OpenAPI document of the server, as served at `/api/v1/openapi.json`: the fixed parts of
/// [`ApiDoc`], every registered handler's path, completed by [`Contract`]. Built once per
/// process.
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(handlers::api)
                .service(handlers::ops::healthz)
                .service(handlers::ops::readyz)
                .service(handlers::ops::metrics)
                .split_for_parts()
                .1;
            Contract.modify(&mut document);
            document
        })
        .clone()
}

/// Completes every operation with the answers its kind of route can give.
struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                complete(path, operation);
            }
        }
    }
}

fn complete(path: &str, operation: &mut Operation) {
    let parameters = operation.parameters.iter().flatten();
    let ins: Vec<ParameterIn> = parameters
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.parameter_in.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_body = operation.request_body.is_some();
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let api = path.starts_with("/api/v1/");
    let statuses = [
        (StatusCode::BAD_REQUEST, has_body || !ins.is_empty()),
        (StatusCode::UNAUTHORIZED, secured),
        (
            StatusCode::NOT_FOUND,
            ins.iter().any(|i| matches!(i, ParameterIn::Path)),
        ),
        (StatusCode::REQUEST_TIMEOUT, has_body),
        (StatusCode::PAYLOAD_TOO_LARGE, has_body),
        (StatusCode::INTERNAL_SERVER_ERROR, api || path == "/readyz"),
        (StatusCode::SERVICE_UNAVAILABLE, api),
    ];
    for (status, applies) in statuses {
        if applies {
            operation
                .responses
                .responses
                .entry(status.as_u16().to_string())
                .or_insert_with(|| RefOr::T(Response::new("")));
        }
    }
    for (code, response) in &mut operation.responses.responses {
        let (RefOr::T(response), Ok(status)) = (response, code.parse::<u16>()) else {
            continue;
        };
        let Ok(status) = StatusCode::from_u16(status) else {
            continue;
        };
        if response.description.is_empty() {
            response.description = status.canonical_reason().unwrap_or("").to_owned();
        }
        if status.is_client_error() || status.is_server_error() {
            problem_answer(status, response);
        }
    }
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter {
            let pattern = match parameter.name.as_str() {
                "If-Match" => Some((IF_MATCH_PATTERN, None)),
                "Idempotency-Key" => Some((IDEMPOTENCY_KEY_PATTERN, Some(128))),
                _ => None,
            };
            if let Some((pattern, max)) = pattern {
                parameter.schema = Some(string_schema(pattern, max));
            }
        }
    }
    // Handler names repeat across resources (`create`, `update`): prefix the tag.
    if let (Some(id), Some(tag)) = (
        operation.operation_id.as_mut(),
        operation.tags.as_ref().and_then(|t| t.first()),
    ) && !id.starts_with(tag.as_str())
    {
        *id = format!("{tag}_{id}");
    }
}

fn string_schema(pattern: &str, max: Option<usize>) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .max_length(max)
            .build(),
    ))
}

/// An error answer: a problem document, with the headers its status carries.
fn problem_answer(status: StatusCode, response: &mut Response) {
    response.content.clear();
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
    let header = |name: &str, description: &str| {
        (
            name.to_owned(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(description))
                    .build(),
            ),
        )
    };
    match status {
        StatusCode::UNAUTHORIZED => {
            let (name, value) = header("WWW-Authenticate", "`Bearer`");
            response.headers.entry(name).or_insert(value);
        }
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            let (name, value) = header("Retry-After", "Seconds to wait before retrying");
            response.headers.entry(name).or_insert(value);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_answer_is_a_problem_document_and_every_schema_reference_resolves() {
        let document = openapi();
        let json = serde_json::to_value(&document).unwrap();
        let schemas = json["components"]["schemas"].as_object().unwrap();
        let text = json.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
        let mut ids = std::collections::HashSet::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(ids.insert(id.to_owned()), "operation id {id} repeats");
                for (status, response) in operation["responses"].as_object().unwrap() {
                    assert!(
                        response["description"].is_string(),
                        "{method} {path} {status}: no description"
                    );
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            response["content"].get(PROBLEM_JSON).is_some(),
                            "{method} {path} {status} is not documented as a problem document"
                        );
                    }
                }
                if path.starts_with("/api/v1/") && path != "/api/v1/ws" {
                    assert!(
                        operation["responses"].get("503").is_some(),
                        "{method} {path}: 503"
                    );
                }
            }
        }
    }
}
