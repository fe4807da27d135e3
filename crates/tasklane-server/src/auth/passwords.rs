//! The domain's `PasswordHasher` with Argon2id, off the async executor and bounded: at most a
//! fixed number of hashes run at once (each takes 19 MiB and tens of milliseconds of a core), a
//! request waits briefly for a slot and is otherwise answered "overloaded". So a flood of logins
//! costs at most `concurrency × 19 MiB` however many arrive. An unknown user is verified against
//! a dummy hash made at start-up, so login costs the same either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::PasswordVerifier;
use argon2::{Argon2, PasswordHasher as _};
use async_trait::async_trait;
use tasklane_domain::ports::{HashError, PasswordHasher};
use tasklane_domain::values::Password;
use tokio::sync::Semaphore;

/// Hashes running now (a gauge).
pub const PASSWORD_HASHES_IN_FLIGHT: &str = "tasklane_password_hashes_in_flight";
/// Hash requests refused because every slot stayed busy for the whole wait.
pub const PASSWORD_HASH_OVERLOADED_TOTAL: &str = "tasklane_password_hash_overloaded_total";

/// How much password hashing may run at once.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    /// Hashes running at the same time (the default: the number of cores).
    pub concurrency: usize,
    /// How long a request waits for a free slot before it is refused as overloaded.
    pub queue_wait: Duration,
}

impl Default for HashLimits {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            queue_wait: Duration::from_secs(2),
        }
    }
}

/// Argon2id with the crate's default parameters (19 MiB, 2 passes), bounded by [`HashLimits`].
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    /// A hash of a password nobody has, verified when the user is unknown.
    dummy: Arc<str>,
    slots: Arc<Semaphore>,
    queue_wait: Duration,
    in_flight: Arc<AtomicUsize>,
}

impl Argon2Hasher {
    /// A hasher within `limits`; computes its dummy hash once.
    ///
    /// # Errors
    /// When hashing fails (no randomness).
    pub fn new(limits: HashLimits) -> anyhow::Result<Self> {
        let dummy = Argon2::default()
            .hash_password(b"dummy password nobody has")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            dummy: dummy.into(),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            queue_wait: limits.queue_wait,
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Hashes running right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot is held by the blocking
    /// task itself, so a request that goes away cannot free it while its hash still runs.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let Ok(Ok(slot)) =
            tokio::time::timeout(self.queue_wait, self.slots.clone().acquire_owned()).await
        else {
            metrics::counter!(PASSWORD_HASH_OVERLOADED_TOTAL).increment(1);
            return Err(HashError::Overloaded);
        };
        let in_flight = self.in_flight.clone();
        tokio::task::spawn_blocking(move || {
            let running = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).set(running as f64);
            let result = work();
            let running = in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
            metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).set(running as f64);
            drop(slot);
            result
        })
        .await
        .map_err(|e| HashError::Failed(e.into()))
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let secret = password.expose().as_bytes().to_vec();
        self.bounded(move || {
            Argon2::default()
                .hash_password(&secret)
                .map(|hash| hash.to_string())
                .map_err(|e| HashError::Failed(anyhow::anyhow!("argon2: {e}")))
        })
        .await?
    }

    async fn verify(&self, password: &Password, phc: Option<String>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let dummy = self.dummy.clone();
        let secret = password.expose().as_bytes().to_vec();
        let matches = self
            .bounded(move || {
                let phc = phc.as_deref().unwrap_or(&dummy);
                Argon2::default().verify_password(&secret, phc).is_ok()
            })
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_their_password_only_and_unknown_users_never_match() {
        let hasher = Argon2Hasher::new(HashLimits::default()).unwrap();
        let password = Password::new("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&password, Some(hash.clone())).await.unwrap());
        assert!(
            !hasher
                .verify(&Password::new("wrong horse").unwrap(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(&password, None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_the_limit_and_the_rest_wait_or_are_refused() {
        let limits = HashLimits {
            concurrency: 2,
            queue_wait: Duration::from_secs(30),
        };
        let hasher = Argon2Hasher::new(limits).unwrap();
        let password = Password::new("correct horse").unwrap();
        let hashes: Vec<_> = (0..8)
            .map(|_| {
                let (hasher, password) = (hasher.clone(), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        let mut peak = 0;
        while hashes.iter().any(|h| !h.is_finished()) {
            peak = peak.max(hasher.in_flight());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for hash in hashes {
            assert!(
                hash.await.unwrap().is_ok(),
                "a long enough wait gets a slot"
            );
        }
        assert!((1..=2).contains(&peak), "peak of {peak} hashes at once");

        let impatient = Argon2Hasher::new(HashLimits {
            concurrency: 1,
            queue_wait: Duration::from_millis(1),
        })
        .unwrap();
        let results = futures_join(&impatient, &password, 6).await;
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(HashError::Overloaded))),
            "waiting longer than allowed is refused"
        );
        assert!(results.iter().any(Result::is_ok));
    }

    async fn futures_join(
        hasher: &Argon2Hasher,
        password: &Password,
        n: usize,
    ) -> Vec<Result<String, HashError>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (hasher, password) = (hasher.clone(), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }
}
