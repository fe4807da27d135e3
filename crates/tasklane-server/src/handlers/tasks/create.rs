//! Task creation, single (with `Idempotency-Key`, through the task service's keyed creation)
//! and batch.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use tasklane_domain::ids::ProjectId;
use tasklane_domain::services::BootstrapSource;
use tasklane_domain::services::tasks::{CreateOnceError, Creation, NewTaskInput, Once, RequestKey};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{BatchDto, BatchRequest, CreateTaskRequest, TaskDto};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// The longest key accepted.
const MAX_KEY_CHARS: usize = 128;

/// Records `tasklane_task_creation_duration_seconds` for a creation that ran (not a replay).
fn record_duration(state: &AppState, started: Instant, creation: Option<&Creation>) {
    let cache_hit = creation.is_some_and(|c| c.bootstrap == Some(BootstrapSource::CacheHit));
    metrics::histogram!(
        tasklane_domain::metrics::TASK_CREATION_DURATION_SECONDS,
        "cache_hit" => cache_hit.to_string(),
        "redis_available" => state.caches.redis_available().to_string()
    )
    .record(started.elapsed().as_secs_f64());
}

/// The response body of a created task, as sent and as recorded for repeats.
fn task_json(creation: &Creation) -> anyhow::Result<String> {
    Ok(serde_json::to_string(&TaskDto::from(&creation.tasks[0]))?)
}

fn created(creation: &Creation, body: String) -> HttpResponse {
    let task = &creation.tasks[0];
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/tasks/{}", task.id)))
        .insert_header((header::ETAG, format!("\"{}\"", task.row_version)))
        .content_type("application/json")
        .body(body)
}

/// The client's `Idempotency-Key`, if any.
fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    // As the OpenAPI document's pattern says: printable ASCII, spaces only inside.
    let key = value.as_bytes();
    let printable = key.iter().all(|b| (b' '..=b'~').contains(b));
    let padded = key.first() == Some(&b' ') || key.last() == Some(&b' ');
    if !printable || padded || key.is_empty() || key.len() > MAX_KEY_CHARS {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 128 printable ASCII characters, no space at either end",
        ));
    }
    Ok(value.to_str().ok().map(str::to_owned))
}

/// Creates a task; with `Idempotency-Key`, a repeat of the same request within 24 h answers the
/// first response and creates nothing.
#[utoipa::path(
    tag = "tasks",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "at most 128 characters")),
    responses(
        (status = 201, body = TaskDto, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem),
        (status = 409, description = "a request with the same key is in progress", body = Problem),
        (status = 422, description = "invalid, or the key was used with another body", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/projects/{id}/tasks")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<CreateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let project: ProjectId = id.into_inner().into();
    let body = body.into_inner();
    let started = Instant::now();
    let Some(key) = idempotency_key(&request)? else {
        let result = state
            .services
            .tasks
            .create_task(actor.0, project, body.into())
            .await;
        record_duration(&state, started, result.as_ref().ok());
        let creation = result?;
        let json = task_json(&creation).map_err(ApiError::internal)?;
        return Ok(created(&creation, json));
    };
    let key = RequestKey {
        key,
        canonical: serde_json::to_vec(&body).map_err(ApiError::internal)?,
    };
    let once = state
        .services
        .tasks
        .create_task_once(actor.0, project, body.into(), key, |creation| {
            task_json(creation)
        })
        .await;
    match once {
        Ok(Once::Replayed { response }) => Ok(HttpResponse::build(StatusCode::CREATED)
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type("application/json")
            .body(response)),
        Ok(Once::Created { creation, response }) => {
            record_duration(&state, started, Some(&creation));
            Ok(created(&creation, response))
        }
        Err(error) => {
            if matches!(error, CreateOnceError::Create(_)) {
                record_duration(&state, started, None);
            }
            Err(error.into())
        }
    }
}

/// Creates up to 500 tasks, all or none, in one transaction; numbers follow the list's order.
#[utoipa::path(
    tag = "tasks",
    request_body = BatchRequest,
    responses((status = 201, body = BatchDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/projects/{id}/tasks/batch")]
pub async fn batch(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let inputs = body
        .into_inner()
        .tasks
        .into_iter()
        .map(NewTaskInput::from)
        .collect();
    let creation = state
        .services
        .tasks
        .create_batch(actor.0, id.into_inner().into(), inputs)
        .await?;
    Ok(HttpResponse::Created().json(BatchDto {
        items: creation.tasks.iter().map(TaskDto::from).collect(),
    }))
}
