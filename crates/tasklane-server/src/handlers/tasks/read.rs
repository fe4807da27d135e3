//! Task reads: a board page, one task by id or by key.

use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use super::task_response;
use crate::auth::Actor;
use crate::dto::{PageDto, TaskDto, TaskListQuery};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// A page of the project's tasks: board order (status position, rank, id) or most recently
/// changed first, keyset-paginated.
#[utoipa::path(tag = "tasks", params(TaskListQuery), responses((status = 200, body = PageDto<TaskDto>), (status = 422, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/tasks")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    query: web::Query<TaskListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .services
        .tasks
        .list_tasks(actor.0, id.into_inner().into(), query.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.iter().map(TaskDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One task.
#[utoipa::path(tag = "tasks", responses((status = 200, body = TaskDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/tasks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .get_task(actor.0, id.into_inner().into())
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// One task by its key (`WEB-42`).
#[utoipa::path(tag = "tasks", responses((status = 200, body = TaskDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/tasks/by-key/{key}")]
pub async fn by_key(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    let task = state
        .services
        .tasks
        .get_task_by_key(actor.0, project.into(), &key)
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}
