//! Ports for sessions and request keys: the tokens of a session (issued by an adapter: signed
//! access tokens, random refresh tokens), refresh tokens as stored (hashed, rotated on use, a
//! reused token revoking its family) and the idempotency keys of task creations.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::errors::RepoError;
use crate::ids::{ProjectId, UserId};

/// A new refresh token: the secret the client keeps and the hash the store keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshSecret {
    /// What the client presents.
    pub token: String,
    /// What the store keeps ([`TokenIssuer::hash_refresh_token`] of `token`).
    pub hash: String,
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshSecret")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// A signed access token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
}

/// Issues the tokens of a session. Access tokens are checked by the adapter that signs them;
/// the domain only hands them out.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A new random refresh token.
    ///
    /// # Errors
    /// When the system has no randomness.
    fn new_refresh_token(&self) -> anyhow::Result<RefreshSecret>;

    /// How a presented refresh token is looked up: the same hash as [`RefreshSecret::hash`].
    fn hash_refresh_token(&self, token: &str) -> String;

    /// An access token for `user` in `session` (a refresh-token family), valid from `at`.
    ///
    /// # Errors
    /// When signing fails.
    fn issue_access_token(
        &self,
        user: UserId,
        session: Uuid,
        at: DateTime<Utc>,
    ) -> anyhow::Result<AccessToken>;
}

/// A refresh token to store; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// The token's id.
    pub id: Uuid,
    /// Whose session.
    pub user_id: UserId,
    /// The session: every rotation stays in the family of the token it replaced.
    pub family_id: Uuid,
    /// A hash of the token (SHA-256, hex).
    pub token_hash: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// It was live: it is now used up and the new token replaces it.
    Rotated {
        /// Whose session it is.
        user_id: UserId,
        /// The session (its family), which the new token stays in.
        family_id: Uuid,
    },
    /// It had been used or revoked before: its whole family is now revoked.
    Reused,
    /// Unknown or expired.
    Invalid,
}

/// Refresh tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    /// Stores a new token (a login starts a family).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn store_refresh_token(&self, token: NewRefreshToken) -> Result<(), RepoError>;

    /// Uses up the token whose hash is `presented` and stores its successor (`next_id`,
    /// `next_hash`, `expires_at`) in the same family, atomically: of two concurrent uses only
    /// one rotates.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails. A reused token MUST revoke its family and return
    /// [`Rotation::Reused`], not an error.
    async fn rotate_refresh_token(
        &self,
        presented: String,
        next_id: Uuid,
        next_hash: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Rotation, RepoError>;

    /// Revokes the family of the token whose hash is `presented` (logout). Unknown tokens are
    /// ignored.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn revoke_refresh_family(
        &self,
        presented: String,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// Deletes the tokens of every family all of whose tokens expired before `before`: such a
    /// session can no longer rotate, so its used tokens no longer need to be kept to detect a
    /// reuse (while a family lives, a replayed old token, expired or not, still revokes it).
    /// Returns how many tokens were deleted.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn purge_refresh_tokens(&self, before: DateTime<Utc>) -> Result<u64, RepoError>;
}

/// A request key to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRequest {
    /// Who sent it (keys are per user).
    pub user_id: UserId,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// The project it creates in.
    pub project_id: ProjectId,
    /// A hash of the request (project and body): the same key with another body is refused.
    pub request_hash: String,
}

/// What a key's reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// New (or expired, or abandoned): go ahead, then complete or abandon it.
    Proceed,
    /// Done before with this body: answer with the first response, as recorded.
    Replay {
        /// The recorded response (opaque to the domain: what the caller encoded).
        response: String,
    },
    /// Used before with another body.
    Mismatch,
    /// A request with this key is being processed right now.
    InProgress,
}

/// Idempotency keys of task creations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyRepository: Send + Sync {
    /// Reserves `request.key` for `request`. A key older than `window` counts as new; a
    /// reservation without a response older than `stale_after` counts as abandoned.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn begin_idempotent(
        &self,
        request: IdempotencyRequest,
        at: DateTime<Utc>,
        window: Duration,
        stale_after: Duration,
    ) -> Result<IdempotencyStart, RepoError>;

    /// Records the response of a reserved key's successful creation.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn complete_idempotent(
        &self,
        user_id: UserId,
        key: String,
        response: String,
    ) -> Result<(), RepoError>;

    /// Drops a reservation whose request failed, so that a retry can proceed.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn abandon_idempotent(&self, user_id: UserId, key: String) -> Result<(), RepoError>;

    /// Deletes every key reserved before `before` (past its replay window); returns how many.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, RepoError>;
}
