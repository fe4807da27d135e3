//! The domain's `PasswordHasher` with Argon2id, off the async executor. An unknown user is
//! verified against a dummy hash made at start-up, so login costs the same either way.

use argon2::password_hash::PasswordVerifier;
use argon2::{Argon2, PasswordHasher as _};
use async_trait::async_trait;
use tasklane_domain::ports::PasswordHasher;
use tasklane_domain::values::Password;

/// Argon2id with the crate's default parameters (19 MiB, 2 passes).
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    /// A hash of a password nobody has, verified when the user is unknown.
    dummy: String,
}

impl Argon2Hasher {
    /// A hasher; computes its dummy hash once.
    ///
    /// # Errors
    /// When hashing fails (no randomness).
    pub fn new() -> anyhow::Result<Self> {
        let dummy = Argon2::default()
            .hash_password(b"dummy password nobody has")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self { dummy })
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let secret = password.expose().as_bytes().to_vec();
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(&secret)
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow::anyhow!("argon2: {e}"))
        })
        .await?
    }

    async fn verify(&self, password: &Password, phc: Option<String>) -> bool {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let secret = password.expose().as_bytes().to_vec();
        let matches = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(&secret, phc.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        known && matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_their_password_only_and_unknown_users_never_match() {
        let hasher = Argon2Hasher::new().unwrap();
        let password = Password::new("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&password, Some(hash.clone())).await);
        assert!(
            !hasher
                .verify(&Password::new("wrong horse").unwrap(), Some(hash))
                .await
        );
        assert!(!hasher.verify(&password, None).await);
    }
}
