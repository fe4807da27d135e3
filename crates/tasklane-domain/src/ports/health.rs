//! The health port: whether the store can answer now, for readiness.

use async_trait::async_trait;

use crate::errors::RepoError;

/// Whether the store can serve requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Health: Send + Sync {
    /// One round trip to the database.
    ///
    /// # Errors
    /// [`RepoError`] when it cannot be reached.
    async fn ping(&self) -> Result<(), RepoError>;
}
