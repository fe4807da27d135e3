//! `/projects/{id}/members`: list, add by e-mail, add or change a role by id, remove.

use actix_web::{HttpResponse, delete, get, post, put, web};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{AddMemberRequest, MemberDto, SetMemberRequest};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

/// The project's members, owners first.
#[utoipa::path(tag = "members", responses((status = 200, body = Vec<MemberDto>), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/members")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let members = state
        .services
        .members
        .list_members(actor.0, id.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(members.iter().map(MemberDto::from).collect::<Vec<_>>()))
}

/// Adds an existing user, found by e-mail, as a member (owners). 404 `user_not_found` when no
/// user has the address (said only to owners); 409 `already_member`.
#[utoipa::path(
    tag = "members",
    request_body = AddMemberRequest,
    responses((status = 201, body = MemberDto), (status = 403, body = Problem), (status = 404, description = "no such project, or `user_not_found`", body = Problem), (status = 409, description = "`already_member`", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/projects/{id}/members")]
pub async fn add(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: web::Json<AddMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let member = state
        .services
        .members
        .add_member_by_email(
            actor.0,
            id.into_inner().into(),
            &body.email,
            body.role.into(),
        )
        .await?;
    Ok(HttpResponse::Created().json(MemberDto::from(&member)))
}

/// Adds a member or changes their role (owners).
#[utoipa::path(
    tag = "members",
    request_body = SetMemberRequest,
    responses((status = 200, body = MemberDto), (status = 403, body = Problem), (status = 404, description = "no such project or user", body = Problem), (status = 409, description = "the last owner", body = Problem)),
    security(("bearer" = []))
)]
#[put("/projects/{id}/members/{user_id}")]
pub async fn set(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<SetMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let (project, user) = path.into_inner();
    let member = state
        .services
        .members
        .set_member_role(actor.0, project.into(), user.into(), body.role.into())
        .await?;
    Ok(HttpResponse::Ok().json(MemberDto::from(&member)))
}

/// Removes a member (owners, or the member themself); 409 for the last owner.
#[utoipa::path(tag = "members", responses((status = 204), (status = 403, body = Problem), (status = 409, description = "the last owner", body = Problem)), security(("bearer" = [])))]
#[delete("/projects/{id}/members/{user_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (project, user) = path.into_inner();
    state
        .services
        .members
        .remove_member(actor.0, project.into(), user.into())
        .await?;
    Ok(no_content())
}
