//! `/me`: the caller's own account: their profile, and a password change that ends their other
//! sessions.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use tasklane_domain::services::users::ProfileInput;

use crate::auth::{Actor, Session};
use crate::dto::{ChangePasswordRequest, UpdateProfileRequest, UserDto};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

/// The caller.
#[utoipa::path(tag = "me", responses((status = 200, body = UserDto), (status = 401, body = Problem)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, ApiError> {
    let user = state.services.users.get_user(actor.0).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

/// Changes the caller's display name or avatar (`null` removes it). Members of the caller's
/// projects see the change in the member list.
#[utoipa::path(
    tag = "me",
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, body = UserDto),
        (status = 401, body = Problem),
        (status = 422, description = "`validation_failed`", body = Problem),
    ),
    security(("bearer" = []))
)]
#[patch("/me")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = ProfileInput {
        display_name: body.display_name,
        avatar_url: body.avatar_url,
    };
    let user = state.services.users.update_profile(actor.0, input).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

/// Changes the caller's password. Every other session of theirs ends at its next refresh; this
/// one goes on. A wrong current password is 403, and every attempt counts against the same
/// per-address limit as logins.
#[utoipa::path(
    tag = "me",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, body = Problem),
        (status = 403, description = "`forbidden`: the current password is wrong", body = Problem),
        (status = 422, description = "`validation_failed`", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
        (status = 503, description = "`overloaded`: every password-hashing slot is busy; or `unavailable`", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    session: Session,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    state.auth_limiter.check(&request)?;
    let bearer = session.0;
    state
        .services
        .users
        .change_password(
            bearer.user,
            bearer.session,
            &body.current_password,
            &body.new_password,
        )
        .await?;
    Ok(no_content())
}
