//! Sessions: registration and login start one, a refresh rotates its token (presenting a used
//! token again ends the whole session), logout ends it. A session is a refresh-token family;
//! the access tokens issued in it name it, so a password change can end every other session.

use std::sync::Arc;

use uuid::Uuid;

use crate::errors::{Classify, ErrorClass, RepoError};
use crate::model::User;
use crate::ports::{AccessToken, NewRefreshToken, RefreshSecret, Rotation};
use crate::services::users::{LoginError, RegisterError, RegisterInput, UserService};
use crate::services::{DomainSettings, Ports};

/// A started or renewed session: who, which session, and its tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in user.
    pub user: User,
    /// The session (the refresh-token family).
    pub id: Uuid,
    /// A new access token.
    pub access: AccessToken,
    /// A new refresh token; the one presented (if any) no longer works.
    pub refresh_token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user.summary.id)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or already used (a reuse has just ended its session).
    #[error("the refresh token is invalid, expired or already used")]
    InvalidToken,
    /// The account no longer exists.
    #[error("the account of this token no longer exists; sign in again")]
    UnknownUser,
    /// The store failed, or no token could be issued.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for RefreshError {
    fn class(&self) -> ErrorClass {
        match self {
            RefreshError::InvalidToken | RefreshError::UnknownUser => ErrorClass::Unauthenticated,
            RefreshError::Store(error) => error.class(),
        }
    }
}

/// A failure to issue a token is the server's, not the client's.
fn issuing(error: anyhow::Error) -> RepoError {
    RepoError::Other(error.context("cannot issue a session token"))
}

/// Sessions.
#[derive(Debug, Clone)]
pub struct SessionService {
    ports: Arc<Ports>,
    users: UserService,
    settings: DomainSettings,
}

impl SessionService {
    /// A service over `ports`, its refresh tokens living `settings.refresh_token_ttl`.
    pub fn new(ports: Arc<Ports>, settings: DomainSettings) -> Self {
        Self {
            users: UserService::new(ports.clone()),
            ports,
            settings,
        }
    }

    /// Creates an account and its first session.
    ///
    /// # Errors
    /// As [`UserService::register`], and [`RegisterError::Store`] when the session cannot be
    /// stored.
    pub async fn register(&self, input: RegisterInput) -> Result<Session, RegisterError> {
        let user = self.users.register(input).await?;
        Ok(self.start(user).await?)
    }

    /// Checks the credentials and starts a session.
    ///
    /// # Errors
    /// As [`UserService::login`], and [`LoginError::Store`] when the session cannot be stored.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, LoginError> {
        let user = self.users.login(email, password).await?;
        Ok(self.start(user).await?)
    }

    /// Exchanges a live refresh token for a new pair in the same session. Of two concurrent
    /// uses of one token only one rotates; presenting a used token revokes the session.
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for anything but a live token; [`RefreshError::Store`].
    pub async fn refresh(&self, presented: &str) -> Result<Session, RefreshError> {
        let tokens = &self.ports.tokens;
        let next = tokens.new_refresh_token().map_err(issuing)?;
        let now = self.ports.clock.now();
        let rotation = self
            .ports
            .refresh_tokens
            .rotate_refresh_token(
                tokens.hash_refresh_token(presented),
                Uuid::now_v7(),
                next.hash,
                now + self.refresh_ttl(),
                now,
            )
            .await?;
        let Rotation::Rotated { user_id, family_id } = rotation else {
            return Err(RefreshError::InvalidToken);
        };
        let user = self
            .users
            .get_user(user_id)
            .await
            .map_err(|error| match error {
                LoginError::Store(error) => RefreshError::Store(error),
                _ => RefreshError::UnknownUser,
            })?;
        Ok(self.session(user, family_id, next.token)?)
    }

    /// Ends the session of `presented`; an unknown token is ignored.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn logout(&self, presented: &str) -> Result<(), RepoError> {
        let hash = self.ports.tokens.hash_refresh_token(presented);
        let now = self.ports.clock.now();
        self.ports
            .refresh_tokens
            .revoke_refresh_family(hash, now)
            .await
    }

    /// Forgets the tokens of sessions that have ended (every token expired); returns how many.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn purge_ended(&self) -> Result<u64, RepoError> {
        let now = self.ports.clock.now();
        self.ports.refresh_tokens.purge_refresh_tokens(now).await
    }

    fn refresh_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.refresh_token_ttl)
            .unwrap_or(chrono::Duration::days(30))
    }

    /// A new session for `user`: its refresh token starts a new family.
    async fn start(&self, user: User) -> Result<Session, RepoError> {
        let RefreshSecret { token, hash } =
            self.ports.tokens.new_refresh_token().map_err(issuing)?;
        let session = Uuid::now_v7();
        let now = self.ports.clock.now();
        self.ports
            .refresh_tokens
            .store_refresh_token(NewRefreshToken {
                id: Uuid::now_v7(),
                user_id: user.summary.id,
                family_id: session,
                token_hash: hash,
                expires_at: now + self.refresh_ttl(),
                created_at: now,
            })
            .await?;
        self.session(user, session, token)
    }

    fn session(&self, user: User, id: Uuid, refresh_token: String) -> Result<Session, RepoError> {
        let access = self
            .ports
            .tokens
            .issue_access_token(user.summary.id, id, self.ports.clock.now())
            .map_err(issuing)?;
        Ok(Session {
            user,
            id,
            access,
            refresh_token,
        })
    }
}
