//! The user repository port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use uuid::Uuid;

use crate::errors::RepoError;
use crate::ids::UserId;
use crate::model::{User, UserCredentials};
use crate::values::{AvatarUrl, DisplayName, Email};

/// A user to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The new id.
    pub id: UserId,
    /// Email as given; unique by its lower-cased form.
    pub email: Email,
    /// Display name.
    pub display_name: DisplayName,
    /// Optional avatar.
    pub avatar_url: Option<AvatarUrl>,
    /// PHC string of the password hash.
    pub password_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A change of a user's profile: `None` keeps a field, `Some(None)` clears the avatar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileChange {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// A new avatar, or none.
    pub avatar_url: Option<Option<AvatarUrl>>,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserStoreError {
    /// Another user has this email, compared case-insensitively.
    #[error("the email address is already registered")]
    EmailTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Users and their credentials.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts `user`.
    ///
    /// # Errors
    /// MUST return [`CreateUserStoreError::EmailTaken`] when the lower-cased email is taken,
    /// including by a concurrent insert (rely on a unique index, not a prior read).
    async fn create_user(&self, user: NewUser) -> Result<User, CreateUserStoreError>;

    /// The user with `id`, if any.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_user(&self, id: UserId) -> Result<Option<User>, RepoError>;

    /// The user whose email equals `email` case-insensitively, with their password hash.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn find_credentials(&self, email: Email) -> Result<Option<UserCredentials>, RepoError>;

    /// The user with `email`, compared case-insensitively (as it is unique).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn find_user_by_email(&self, email: Email) -> Result<Option<User>, RepoError>;

    /// Applies `change` to the user with `id` and sets `updated_at` to `at`; the user as it
    /// now is, or `None` when there is no such user.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn update_profile(
        &self,
        id: UserId,
        change: ProfileChange,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepoError>;

    /// The user with `id`, with their password hash.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_credentials(&self, id: UserId) -> Result<Option<UserCredentials>, RepoError>;

    /// Replaces the password hash of the user with `id` by `password_hash` *if it still is*
    /// `expected_hash`, and in the same transaction revokes every refresh-token family of the
    /// user except `keep_family` (the session that asked): other sessions end at their next
    /// refresh. Returns whether the password was replaced (false: no such user, or a concurrent
    /// change came first, and nothing was revoked).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn replace_password(
        &self,
        id: UserId,
        expected_hash: String,
        password_hash: String,
        keep_family: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
}
