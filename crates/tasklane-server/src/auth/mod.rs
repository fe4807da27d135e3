//! Authentication: password hashing, access and refresh tokens, and the [`Actor`] extractor that
//! every authenticated route takes.

mod passwords;
pub mod tokens;

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use tasklane_domain::ids::UserId;

pub use passwords::{Argon2Hasher, PASSWORD_HASH_OVERLOADED_TOTAL, PASSWORD_HASHES_IN_FLIGHT};

use crate::error::ApiError;

/// The token of an `Authorization` value: the scheme is matched without regard to case
/// (RFC 9110), and any spaces after it are skipped.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The authenticated caller: the user of a valid `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor(pub UserId);

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Actor, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request).map(|bearer| Actor(bearer.user)))
    }
}

/// The authenticated caller with their session, for the routes that act on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session(pub tokens::Bearer);

impl FromRequest for Session {
    type Error = ApiError;
    type Future = Ready<Result<Session, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request).map(Session))
    }
}

fn authenticate(request: &HttpRequest) -> Result<tokens::Bearer, ApiError> {
    let keys = request
        .app_data::<web::Data<tokens::AccessTokens>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no access-token keys")))?;
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer token"))?;
    let token = value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        ApiError::unauthenticated("expected Authorization: Bearer <access token>")
    })?;
    keys.verify(token)
        .ok_or_else(|| ApiError::unauthenticated("the access token is invalid or expired"))
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_without_regard_to_case() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
