//! Users and authentication bodies.

use serde::{Deserialize, Serialize};
use tasklane_domain::model::{User, UserSummary};
use utoipa::ToSchema;

use super::{nullable, rules};
use uuid::Uuid;

/// A user as others see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserDto {
    /// The user's id.
    pub id: Uuid,
    /// Their email.
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// Their avatar.
    pub avatar_url: Option<String>,
}

impl From<&UserSummary> for UserDto {
    fn from(user: &UserSummary) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            avatar_url: user.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
        }
    }
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self::from(&user.summary)
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Unique, compared case-insensitively.
    #[schema(schema_with = rules::email)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(schema_with = rules::password)]
    pub password: String,
    /// 1 to 100 characters.
    #[schema(schema_with = rules::display_name)]
    pub display_name: String,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the session.
    pub refresh_token: String,
}

/// A new session (register, login) or a rotated one (refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    /// The user.
    pub user: UserDto,
    /// For `Authorization: Bearer`.
    pub access_token: String,
    /// For `POST /auth/refresh`; works once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
}

/// A single-use WebSocket ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDto {
    /// Pass as `?ticket=` to `/api/v1/ws`.
    pub ticket: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `PATCH /me`: at least one field; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateProfileRequest {
    /// A new name, 1 to 100 characters.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::new_display_name)]
    pub display_name: Option<String>,
    /// A new avatar (`null` removes it).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::avatar_url)]
    pub avatar_url: Option<Option<String>>,
}

/// `POST /me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: String,
    /// The password from now on, 8 to 128 characters.
    #[schema(schema_with = rules::password)]
    pub new_password: String,
}
