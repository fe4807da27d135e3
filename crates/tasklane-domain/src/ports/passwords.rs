//! The password hasher port (Argon2id in the server), kept out of the domain's dependencies.

use async_trait::async_trait;

use crate::values::Password;

/// Why a password could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for the whole wait: the caller answers "overloaded, retry
    /// shortly" instead of queueing without bound.
    #[error("too many password checks are running; retry shortly")]
    Overloaded,
    /// Hashing itself failed (no randomness, a corrupt stored hash).
    #[error("password hashing failed")]
    Failed(#[source] anyhow::Error),
}

/// Hashes and verifies passwords. Both are CPU- and memory-heavy by design (Argon2id takes
/// 19 MiB per hash), so implementations run them off the async executor and MUST bound how many
/// run at once, answering [`HashError::Overloaded`] rather than queueing without bound.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A PHC string (salt included) for `password`.
    ///
    /// # Errors
    /// [`HashError::Overloaded`] when no hashing slot freed up in time; [`HashError::Failed`]
    /// for any hashing failure (the caller reports it as an internal error).
    async fn hash(&self, password: &Password) -> Result<String, HashError>;

    /// Whether `password` matches `phc`. With `phc = None` (unknown user) implementations MUST
    /// still spend about the time of a real verification and return `false`, so that login
    /// answers alike for an unknown email and a wrong password.
    ///
    /// # Errors
    /// [`HashError::Overloaded`] when no hashing slot freed up in time. A hash that cannot be
    /// read is a mismatch (`Ok(false)`), not an error.
    async fn verify(&self, password: &Password, phc: Option<String>) -> Result<bool, HashError>;
}
