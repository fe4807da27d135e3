//! Task reads: a board page, one task by id or by key.

use actix_web::{HttpRequest, HttpResponse, get, web};
use uuid::Uuid;

use super::task_response;
use crate::auth::Actor;
use crate::dto::{PageDto, TaskDto, TaskListQuery};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Splits the repeatable `label_id` out of a query string: the ids, and the rest of the query
/// as it was sent (for the other parameters, each given at most once).
fn label_ids(query: &str) -> Result<(Vec<Uuid>, String), ApiError> {
    let mut ids = Vec::new();
    let mut rest = Vec::new();
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(segment)
            .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?;
        match pairs.first() {
            Some((key, value)) if key == "label_id" => {
                let id = Uuid::try_parse(value)
                    .map_err(|_| ApiError::bad_request("label_id must be a UUID"))?;
                ids.push(id);
            }
            _ => rest.push(segment),
        }
    }
    Ok((ids, rest.join("&")))
}

/// A page of the project's tasks, keyset-paginated: board order (status position, rank, id),
/// most recently changed first, soonest due first or highest priority first. Filters combine
/// with AND; `label_id` may be repeated and matches tasks with any of them.
#[utoipa::path(
    tag = "tasks",
    params(
        TaskListQuery,
        ("label_id" = Option<Vec<Uuid>>, Query, style = Form, explode, max_items = 20,
            description = "Only tasks with any of these labels; repeat it, at most 20 times"),
    ),
    responses((status = 200, body = PageDto<TaskDto>), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/projects/{id}/tasks")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (labels, rest) = label_ids(request.query_string())?;
    let query = web::Query::<TaskListQuery>::from_query(&rest)
        .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?;
    let page = state
        .services
        .tasks
        .list_tasks(
            actor.0,
            id.into_inner().into(),
            query.into_inner().into_input(labels),
        )
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
