//! `/auth/*`: registration, login, refresh with rotation, logout (the session service's), and
//! WebSocket tickets.

use actix_web::{HttpRequest, HttpResponse, post, web};
use tasklane_domain::services::sessions::Session;
use tasklane_domain::services::users::RegisterInput;

use crate::auth::Actor;
use crate::auth::tokens::new_refresh_token;
use crate::dto::{LoginRequest, RefreshRequest, RegisterRequest, SessionDto, TicketDto, UserDto};
use crate::error::{ApiError, Problem};
use crate::handlers::no_content;
use crate::state::AppState;

impl From<Session> for SessionDto {
    fn from(session: Session) -> Self {
        SessionDto {
            user: UserDto::from(&session.user),
            access_token: session.access.token,
            refresh_token: session.refresh_token,
            token_type: "Bearer",
            expires_in: session.access.expires_in,
        }
    }
}

/// Creates an account and its first session.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = SessionDto),
        (status = 409, description = "`email_taken`", body = Problem),
        (status = 422, description = "`validation_failed`", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
        (status = 503, description = "`overloaded`: every password-hashing slot is busy; or `unavailable`", body = Problem),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    state.auth_limiter.check(&request)?;
    let body = body.into_inner();
    let input = RegisterInput {
        email: body.email,
        password: body.password,
        display_name: body.display_name,
    };
    let session = state.services.sessions.register(input).await?;
    Ok(HttpResponse::Created().json(SessionDto::from(session)))
}

/// Starts a session. Unknown email and wrong password get the same answer in similar time.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = SessionDto),
        (status = 401, description = "`unauthenticated`", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
        (status = 503, description = "`overloaded`: every password-hashing slot is busy; or `unavailable`", body = Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    state.auth_limiter.check(&request)?;
    let session = state
        .services
        .sessions
        .login(&body.email, &body.password)
        .await?;
    Ok(HttpResponse::Ok().json(SessionDto::from(session)))
}

/// Exchanges a refresh token for a new pair. The old token stops working; presenting a used
/// token again ends the whole session.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionDto),
        (status = 401, description = "`unauthenticated`", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    state.auth_limiter.check(&request)?;
    let session = state.services.sessions.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionDto::from(session)))
}

/// Ends the session of a refresh token.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    state.services.sessions.logout(&body.refresh_token).await?;
    Ok(no_content())
}

/// A single-use ticket for the WebSocket handshake, valid for 30 seconds. A user holds at most
/// a few unused tickets at a time (429 beyond).
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = TicketDto),
        (status = 401, body = Problem),
        (status = 429, description = "`too_many_tickets`", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/auth/ws-ticket")]
pub async fn ws_ticket(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, ApiError> {
    // A valid token of an account that no longer exists gets no ticket (401).
    state.services.users.get_user(actor.0).await?;
    state.tickets.issue(actor.0)?;
    let ticket = new_refresh_token().map_err(ApiError::internal)?;
    if let Err(error) = state
        .caches
        .put_ticket(&ticket, &actor.0.to_string(), state.ws_ticket_ttl)
        .await
    {
        // Not issued after all: its place is free again.
        state.tickets.redeemed(actor.0);
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("cannot issue a ticket now: {error}"),
        ));
    }
    Ok(HttpResponse::Ok().json(TicketDto {
        ticket,
        expires_in: state.ws_ticket_ttl.as_secs(),
    }))
}
