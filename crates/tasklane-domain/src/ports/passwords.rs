//! The password hasher port (Argon2id in the server), kept out of the domain's dependencies.

use async_trait::async_trait;

use crate::values::Password;

/// Hashes and verifies passwords. Both are CPU-heavy by design; implementations run them off the
/// async executor (e.g. `spawn_blocking`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A PHC string (salt included) for `password`.
    ///
    /// # Errors
    /// Any hashing failure; the caller reports it as an internal error.
    async fn hash(&self, password: &Password) -> anyhow::Result<String>;

    /// Whether `password` matches `phc`. With `phc = None` (unknown user) implementations MUST
    /// still spend about the time of a real verification and return `false`, so that login
    /// answers alike for an unknown email and a wrong password.
    async fn verify(&self, password: &Password, phc: Option<String>) -> bool;
}
