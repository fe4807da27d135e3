//! `/tasks/{id}/comments` and `/comments/{id}`: a task's comments, oldest first; writing,
//! editing and deleting them.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{CommentCreatedDto, CommentDto, CommentListQuery, CommentRequest, PageDto};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

/// A page of the task's comments, oldest first (any member).
#[utoipa::path(
    tag = "comments",
    params(CommentListQuery),
    responses((status = 200, body = PageDto<CommentDto>), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/tasks/{id}/comments")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    query: web::Query<CommentListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .services
        .comments
        .list(
            actor.0,
            id.into_inner().into(),
            query.cursor.as_deref(),
            query.limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.iter().map(CommentDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Comments on a task (editors, owners); answers with the task's comment count after it.
#[utoipa::path(
    tag = "comments",
    request_body = CommentRequest,
    responses(
        (status = 201, body = CommentCreatedDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/tasks/{id}/comments")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let written = state
        .services
        .comments
        .add(actor.0, id.into_inner().into(), &body.body)
        .await?;
    Ok(HttpResponse::Created().json(CommentCreatedDto {
        comment: CommentDto::from(&written.comment),
        comment_count: written.comment_count,
    }))
}

/// Replaces the text of one's own comment and records `edited_at` (its author, while an editor
/// or owner).
#[utoipa::path(
    tag = "comments",
    request_body = CommentRequest,
    responses(
        (status = 200, body = CommentDto),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[patch("/comments/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let written = state
        .services
        .comments
        .edit(actor.0, id.into_inner().into(), &body.body)
        .await?;
    Ok(HttpResponse::Ok().json(CommentDto::from(&written.comment)))
}

/// Deletes a comment (its author while an editor or owner, or any owner).
#[utoipa::path(
    tag = "comments",
    responses(
        (status = 204),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
    ),
    security(("bearer" = []))
)]
#[delete("/comments/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .comments
        .delete(actor.0, id.into_inner().into())
        .await?;
    Ok(no_content())
}
