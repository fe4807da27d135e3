//! `/projects/{id}/statuses` and `/statuses/{id}`: list, create, rename or reorder, delete.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use tasklane_domain::services::statuses::{NewStatusInput, StatusUpdateInput};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{CreateStatusRequest, StatusDto, UpdateStatusRequest};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

/// The project's statuses in board order.
#[utoipa::path(tag = "statuses", responses((status = 200, body = Vec<StatusDto>), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/statuses")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let statuses = state
        .services
        .statuses
        .list_statuses(actor.0, id.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(statuses.iter().map(StatusDto::from).collect::<Vec<_>>()))
}

/// Adds a status (owners).
#[utoipa::path(
    tag = "statuses",
    request_body = CreateStatusRequest,
    responses((status = 201, body = StatusDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/projects/{id}/statuses")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<CreateStatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewStatusInput {
        name: body.name,
        category: body.category.into(),
        position: body.position,
    };
    let status = state
        .services
        .statuses
        .create_status(actor.0, id.into_inner().into(), input)
        .await?;
    Ok(HttpResponse::Created().json(StatusDto::from(&status)))
}

/// Renames and/or moves a status (owners).
#[utoipa::path(
    tag = "statuses",
    request_body = UpdateStatusRequest,
    responses((status = 200, body = StatusDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/statuses/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<UpdateStatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = StatusUpdateInput {
        name: body.name,
        position: body.position,
    };
    let status = state
        .services
        .statuses
        .update_status(actor.0, id.into_inner().into(), input)
        .await?;
    Ok(HttpResponse::Ok().json(StatusDto::from(&status)))
}

/// Deletes an unused status (owners); 409 while tasks use it or for the last todo/done status.
#[utoipa::path(tag = "statuses", responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
#[delete("/statuses/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .statuses
        .delete_status(actor.0, id.into_inner().into())
        .await?;
    Ok(no_content())
}
