//! Changes to one task: update, move, archive, unarchive, delete. `If-Match` optional on each.

use actix_web::{HttpRequest, HttpResponse, delete, patch, post, web};
use uuid::Uuid;

use super::task_response;
use crate::auth::Actor;
use crate::dto::{MoveRequest, TaskDto, UpdateTaskRequest};
use crate::error::{ApiError, Problem};
use crate::handlers::{if_match, no_content};
use crate::state::AppState;

/// Changes fields of a task; `null` clears a nullable field.
#[utoipa::path(
    tag = "tasks",
    request_body = UpdateTaskRequest,
    params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")),
    responses((status = 200, body = TaskDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/tasks/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<UpdateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .update_task(
            actor.0,
            id.into_inner().into(),
            body.into_inner().into(),
            if_match(&request)?,
        )
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// Moves a task to a status and/or between two tasks of a column.
#[utoipa::path(
    tag = "tasks",
    request_body = MoveRequest,
    params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")),
    responses((status = 200, body = TaskDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/move")]
pub async fn move_task(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<MoveRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .move_task(
            actor.0,
            id.into_inner().into(),
            body.into_inner().into(),
            if_match(&request)?,
        )
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// Archives a task: it leaves the board and the counts.
#[utoipa::path(tag = "tasks", params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")), responses((status = 200, body = TaskDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)), security(("bearer" = [])))]
#[post("/tasks/{id}/archive")]
pub async fn archive(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .set_task_archived(actor.0, id.into_inner().into(), true, if_match(&request)?)
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// Unarchives a task (restoring its project if archived); it goes to the end of its column.
#[utoipa::path(tag = "tasks", params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")), responses((status = 200, body = TaskDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)), security(("bearer" = [])))]
#[post("/tasks/{id}/unarchive")]
pub async fn unarchive(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .set_task_archived(actor.0, id.into_inner().into(), false, if_match(&request)?)
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// Deletes a task and its sub-tasks.
#[utoipa::path(tag = "tasks", params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")), responses((status = 204), (status = 403, body = Problem), (status = 412, body = Problem)), security(("bearer" = [])))]
#[delete("/tasks/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .tasks
        .delete_task(actor.0, id.into_inner().into(), if_match(&request)?)
        .await?;
    Ok(no_content())
}
