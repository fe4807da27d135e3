//! The user service: registration and the credential check of login. Tokens are the server's.

use std::sync::Arc;

use crate::access::AccessDenied;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::ids::UserId;
use crate::model::User;
use crate::ports::{CreateUserStoreError, HashError, NewUser, ProfileChange};
use crate::services::Ports;
use crate::validation::ValidationErrors;
use crate::values::{AvatarUrl, DisplayName, Email, Password};

/// A registration, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterInput {
    /// An email address, unique case-insensitively.
    pub email: String,
    /// 8..=128 characters.
    pub password: String,
    /// 1..=100 characters after trimming.
    pub display_name: String,
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The email is registered already.
    #[error("the email address is already registered")]
    EmailTaken,
    /// Every password-hashing slot is busy.
    #[error("too many password checks are running; retry shortly")]
    Overloaded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for RegisterError {
    fn class(&self) -> ErrorClass {
        match self {
            RegisterError::Access(denied) => denied.class(),
            RegisterError::Invalid(_) => ErrorClass::Invalid,
            RegisterError::EmailTaken => ErrorClass::EmailTaken,
            RegisterError::Overloaded => ErrorClass::Overloaded,
            RegisterError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            RegisterError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// Unknown email or wrong password; deliberately the same answer for both.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Every password-hashing slot is busy.
    #[error("too many password checks are running; retry shortly")]
    Overloaded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for LoginError {
    fn class(&self) -> ErrorClass {
        match self {
            LoginError::Access(denied) => denied.class(),
            LoginError::InvalidCredentials => ErrorClass::Unauthenticated,
            LoginError::Overloaded => ErrorClass::Overloaded,
            LoginError::Store(error) => error.class(),
        }
    }
}

/// A profile change, as the client sent it: absent fields stay, a `null` avatar is removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    /// 1..=100 characters after trimming.
    pub display_name: Option<String>,
    /// An `http(s)://` URL of at most 500 characters, or `None` to remove it.
    pub avatar_url: Option<Option<String>>,
}

/// Why a profile change failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The account no longer exists (a token outliving it).
    #[error("the account no longer exists")]
    Gone,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ProfileError {
    fn class(&self) -> ErrorClass {
        match self {
            ProfileError::Access(denied) => denied.class(),
            ProfileError::Invalid(_) => ErrorClass::Invalid,
            ProfileError::Gone => ErrorClass::Unauthenticated,
            ProfileError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            ProfileError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Why a password change failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The caller cannot see the target, or their role does not allow this.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The input breaks one or more rules.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The current password given is not the account's.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The account no longer exists (a token outliving it).
    #[error("the account no longer exists")]
    Gone,
    /// Every password-hashing slot is busy.
    #[error("too many password checks are running; retry shortly")]
    Overloaded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for PasswordChangeError {
    fn class(&self) -> ErrorClass {
        match self {
            PasswordChangeError::Access(denied) => denied.class(),
            PasswordChangeError::Invalid(_) => ErrorClass::Invalid,
            PasswordChangeError::WrongPassword => ErrorClass::Forbidden,
            PasswordChangeError::Gone => ErrorClass::Unauthenticated,
            PasswordChangeError::Overloaded => ErrorClass::Overloaded,
            PasswordChangeError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            PasswordChangeError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Users.
#[derive(Debug, Clone)]
pub struct UserService {
    ports: Arc<Ports>,
}

impl UserService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// Registers a user with an Argon2id-hashed password.
    ///
    /// # Errors
    /// [`RegisterError::Invalid`] for a bad email, password or name; [`RegisterError::EmailTaken`].
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: RegisterInput) -> Result<User, RegisterError> {
        let mut errors = ValidationErrors::new();
        let email = errors.check("email", Email::new(&input.email));
        let password = errors.check("password", Password::new(&input.password));
        let display_name = errors.check("display_name", DisplayName::new(&input.display_name));
        let (Some(email), Some(password), Some(display_name)) = (email, password, display_name)
        else {
            return Err(errors.into());
        };
        let password_hash = match self.ports.passwords.hash(&password).await {
            Ok(hash) => hash,
            Err(HashError::Overloaded) => return Err(RegisterError::Overloaded),
            Err(HashError::Failed(error)) => return Err(RepoError::Other(error).into()),
        };
        let user = NewUser {
            id: UserId::generate(),
            email,
            display_name,
            avatar_url: None,
            password_hash,
            created_at: self.ports.clock.now(),
        };
        match self.ports.users.create_user(user).await {
            Ok(user) => Ok(user),
            Err(CreateUserStoreError::EmailTaken) => Err(RegisterError::EmailTaken),
            Err(CreateUserStoreError::Store(error)) => Err(error.into()),
        }
    }

    /// The user whose email and password match. Unknown emails cost the same verification time
    /// as wrong passwords and get the same answer.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`]; [`LoginError::Store`].
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<User, LoginError> {
        // A password outside the length rule can still be verified (and fail) in constant work.
        let password = Password::new(password).unwrap_or_else(|_| Password::placeholder());
        let credentials = match Email::new(email) {
            Ok(email) => self.ports.users.find_credentials(email).await?,
            Err(_) => None,
        };
        let (user, phc) = match credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = match self.ports.passwords.verify(&password, phc).await {
            Ok(matches) => matches,
            Err(HashError::Overloaded) => return Err(LoginError::Overloaded),
            Err(HashError::Failed(error)) => return Err(RepoError::Other(error).into()),
        };
        match user {
            Some(user) if matches => Ok(user),
            _ => Err(LoginError::InvalidCredentials),
        }
    }

    /// The user with `id`.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] when the user no longer exists (a token outliving its
    /// account); [`LoginError::Store`].
    pub async fn get_user(&self, id: UserId) -> Result<User, LoginError> {
        self.ports
            .users
            .get_user(id)
            .await?
            .ok_or(LoginError::InvalidCredentials)
    }

    /// Changes the caller's display name or avatar.
    ///
    /// # Errors
    /// [`ProfileError::Invalid`] for a bad or missing field; [`ProfileError::Gone`].
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn update_profile(
        &self,
        id: UserId,
        input: ProfileInput,
    ) -> Result<User, ProfileError> {
        let mut errors = ValidationErrors::new();
        if input.display_name.is_none() && input.avatar_url.is_none() {
            errors.add("body", "give display_name or avatar_url");
        }
        let display_name = input
            .display_name
            .and_then(|name| errors.check("display_name", DisplayName::new(&name)));
        let avatar_url = match input.avatar_url {
            Some(Some(url)) => errors.check("avatar_url", AvatarUrl::new(&url)).map(Some),
            Some(None) => Some(None),
            None => None,
        };
        errors.into_result()?;
        let change = ProfileChange {
            display_name,
            avatar_url,
        };
        self.ports
            .users
            .update_profile(id, change, self.ports.clock.now())
            .await?
            .ok_or(ProfileError::Gone)
    }

    /// Replaces the caller's password after checking the current one, and ends every other
    /// session of theirs (at its next refresh): `session` is the refresh-token family of the
    /// caller's own session, which stays.
    ///
    /// # Errors
    /// [`PasswordChangeError::WrongPassword`] when `current` is not the password;
    /// [`PasswordChangeError::Invalid`] for a new password outside the rule;
    /// [`PasswordChangeError::Overloaded`]; [`PasswordChangeError::Gone`].
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn change_password(
        &self,
        id: UserId,
        session: Option<uuid::Uuid>,
        current: &str,
        new: &str,
    ) -> Result<(), PasswordChangeError> {
        let mut errors = ValidationErrors::new();
        let new = errors.check("new_password", Password::new(new));
        let Some(new) = new else {
            return Err(errors.into());
        };
        let credentials = self
            .ports
            .users
            .get_credentials(id)
            .await?
            .ok_or(PasswordChangeError::Gone)?;
        // A current password outside the length rule is verified (and fails) like any other.
        let current = Password::new(current).unwrap_or_else(|_| Password::placeholder());
        let hashing = |error| match error {
            HashError::Overloaded => PasswordChangeError::Overloaded,
            HashError::Failed(error) => RepoError::Other(error).into(),
        };
        let matches = self
            .ports
            .passwords
            .verify(&current, Some(credentials.password_hash.clone()))
            .await
            .map_err(hashing)?;
        if !matches {
            return Err(PasswordChangeError::WrongPassword);
        }
        let password_hash = self.ports.passwords.hash(&new).await.map_err(hashing)?;
        let replaced = self
            .ports
            .users
            .replace_password(
                id,
                credentials.password_hash,
                password_hash,
                session,
                self.ports.clock.now(),
            )
            .await?;
        // Not replaced: the account is gone, or a concurrent change won and this one's current
        // password is no longer the password.
        if replaced {
            Ok(())
        } else {
            Err(PasswordChangeError::WrongPassword)
        }
    }
}
