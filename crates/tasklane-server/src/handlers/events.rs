//! `/projects/{id}/events` and `/tasks/{id}/events`: the event log, for catching up over HTTP and
//! for a project's activity or a task's history.

use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{EventPageDto, EventQueryDto};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// `after` as a `seq`: absent is 0; anything but digits is `bad_since`.
fn after(query: &EventQueryDto) -> Result<u64, ApiError> {
    match query.after.as_deref() {
        None => Ok(0),
        Some(text)
            if (1..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().map_err(|_| bad_since())
        }
        Some(_) => Err(bad_since()),
    }
}

fn bad_since() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::BAD_REQUEST,
        "bad_since",
        "after must be a seq: a whole number from 0",
    )
}

/// The project's events after `after`, oldest first: catch-up after a disconnect, or the
/// project's activity. 410 `resync_required` when events after `after` are no longer kept.
#[utoipa::path(tag = "events", params(EventQueryDto), responses((status = 200, body = EventPageDto), (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/events")]
pub async fn project(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    query: web::Query<EventQueryDto>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .services
        .events
        .project_events(actor.0, id.into_inner().into(), after(&query)?, query.limit)
        .await?;
    Ok(HttpResponse::Ok().json(EventPageDto::from(page)))
}

/// The task's history: its events after `after` (numbered in its project's sequence), who
/// changed which fields, from what (`data.previous`) to what (`data.task`).
#[utoipa::path(tag = "events", params(EventQueryDto), responses((status = 200, body = EventPageDto), (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
#[get("/tasks/{id}/events")]
pub async fn task(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    query: web::Query<EventQueryDto>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .services
        .events
        .task_events(actor.0, id.into_inner().into(), after(&query)?, query.limit)
        .await?;
    Ok(HttpResponse::Ok().json(EventPageDto::from(page)))
}
