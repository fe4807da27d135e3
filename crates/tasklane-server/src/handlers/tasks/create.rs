//! Task creation, single (with `Idempotency-Key`) and batch.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use sha2::{Digest, Sha256};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::{IdempotencyRepository, IdempotencyRequest, IdempotencyStart};
use tasklane_domain::services::BootstrapSource;
use tasklane_domain::services::tasks::NewTaskInput;
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{BatchDto, BatchRequest, CreateTaskRequest, TaskDto};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// How long a key's first response is replayed.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A reservation without a response for this long was abandoned (a crashed request).
const IDEMPOTENCY_STALE: Duration = Duration::from_secs(60);
/// The longest key accepted.
const MAX_KEY_CHARS: usize = 128;

/// The creation, timed for `tasklane_task_creation_duration_seconds`, then the key settled. Like
/// every write it runs to its end even if the client hangs up (`edge::to_completion`): a
/// committed creation also publishes its events and settles its key.
async fn create_recorded(
    state: &AppState,
    actor: UserId,
    project: ProjectId,
    input: NewTaskInput,
    key: Option<String>,
) -> Result<(TaskDto, String), ApiError> {
    let started = std::time::Instant::now();
    let result = state
        .services
        .tasks
        .create_task(actor, project, input)
        .await;
    let cache_hit = matches!(&result, Ok(c) if c.bootstrap == Some(BootstrapSource::CacheHit));
    metrics::histogram!(
        tasklane_domain::metrics::TASK_CREATION_DURATION_SECONDS,
        "cache_hit" => cache_hit.to_string(),
        "redis_available" => state.caches.redis_available().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    let outcome = result.map_err(ApiError::from).and_then(|creation| {
        let task = TaskDto::from(&creation.tasks[0]);
        let json = serde_json::to_string(&task).map_err(ApiError::internal)?;
        Ok((task, json))
    });
    let Some(key) = key else {
        return outcome;
    };
    match &outcome {
        // The task exists: a failure to record the response must not turn it into an error.
        Ok((_, json)) => {
            if let Err(error) = state
                .store
                .complete_idempotent(actor, key, 201, json.clone())
                .await
            {
                tracing::warn!(error = %error, "idempotency response not recorded");
            }
        }
        Err(_) => {
            if let Err(abandon) = state.store.abandon_idempotent(actor, key).await {
                tracing::warn!(error = %abandon, "idempotency reservation not released");
            }
        }
    }
    outcome
}

fn created(task: &TaskDto, body: String) -> HttpResponse {
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
    let Some(key) = idempotency_key(&request)? else {
        let (task, json) = create_recorded(&state, actor.0, project, body.into(), None).await?;
        return Ok(created(&task, json));
    };
    let request_hash = {
        let canonical = serde_json::to_vec(&body).map_err(ApiError::internal)?;
        hex::encode(
            Sha256::new()
                .chain_update(project.as_uuid().as_bytes())
                .chain_update(canonical)
                .finalize(),
        )
    };
    let reservation = IdempotencyRequest {
        user_id: actor.0,
        key: key.clone(),
        project_id: project,
        request_hash,
    };
    match state
        .store
        .begin_idempotent(
            reservation,
            state.clock.now(),
            IDEMPOTENCY_WINDOW,
            IDEMPOTENCY_STALE,
        )
        .await?
    {
        IdempotencyStart::Proceed => {}
        IdempotencyStart::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            return Ok(HttpResponse::build(status)
                .insert_header(("Idempotent-Replayed", "true"))
                .content_type("application/json")
                .body(body));
        }
        IdempotencyStart::Mismatch => {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "was already used with a different request",
            ));
        }
        IdempotencyStart::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "a request with this Idempotency-Key is in progress",
            ));
        }
    }
    let (task, json) = create_recorded(&state, actor.0, project, body.into(), Some(key)).await?;
    Ok(created(&task, json))
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
