//! `/projects/{id}/labels` and `/labels/{id}`: a project's labels. Which labels a task has is
//! set with `PATCH /tasks/{id} {label_ids}`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use tasklane_domain::services::labels::{LabelUpdateInput, NewLabelInput};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{CreateLabelRequest, LabelDto, UpdateLabelRequest};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

/// The project's labels, in creation order (any member).
#[utoipa::path(tag = "labels", responses((status = 200, body = Vec<LabelDto>), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/labels")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let labels = state
        .services
        .labels
        .list(actor.0, id.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(labels.iter().map(LabelDto::from).collect::<Vec<_>>()))
}

/// Adds a label (owners, editors). A name another label of the project has (ignoring case) is
/// 422 naming `name`; a project holds at most 100 labels.
#[utoipa::path(
    tag = "labels",
    request_body = CreateLabelRequest,
    responses(
        (status = 201, body = LabelDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/projects/{id}/labels")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<CreateLabelRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewLabelInput {
        name: body.name,
        color: body.color,
    };
    let label = state
        .services
        .labels
        .create(actor.0, id.into_inner().into(), input)
        .await?;
    Ok(HttpResponse::Created().json(LabelDto::from(&label)))
}

/// Renames and/or recolours a label (owners, editors).
#[utoipa::path(
    tag = "labels",
    request_body = UpdateLabelRequest,
    responses(
        (status = 200, body = LabelDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[patch("/labels/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<UpdateLabelRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = LabelUpdateInput {
        name: body.name,
        color: body.color,
    };
    let label = state
        .services
        .labels
        .update(actor.0, id.into_inner().into(), input)
        .await?;
    Ok(HttpResponse::Ok().json(LabelDto::from(&label)))
}

/// Deletes a label and takes it off every task (owners, editors).
#[utoipa::path(
    tag = "labels",
    responses(
        (status = 204),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
    ),
    security(("bearer" = []))
)]
#[delete("/labels/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .labels
        .delete(actor.0, id.into_inner().into())
        .await?;
    Ok(no_content())
}
