//! Authentication: password hashing, access and refresh tokens, and the [`Actor`] extractor that
//! every authenticated route takes.

mod passwords;
pub mod tokens;

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use tasklane_domain::ids::UserId;

pub use passwords::Argon2Hasher;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller: the user of a valid `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor(pub UserId);

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Actor, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Actor, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no application state")))?;
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer token"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthenticated("expected Authorization: Bearer <access token>")
        })?;
    state
        .access_tokens
        .verify(token.trim())
        .map(Actor)
        .ok_or_else(|| ApiError::unauthenticated("the access token is invalid or expired"))
}
