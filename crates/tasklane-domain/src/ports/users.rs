//! The user repository port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
}
