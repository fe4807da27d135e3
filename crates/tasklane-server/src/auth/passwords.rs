//! The domain's `PasswordHasher` with Argon2id, off the async executor and bounded: hashes run on
//! a fixed set of threads of their own, as many as there are slots (each hash takes 19 MiB and
//! tens of milliseconds of a core); a request waits briefly for a slot and is otherwise answered
//! "overloaded". So a flood of logins costs at most `concurrency × 19 MiB` however many arrive.
//! Each thread keeps one Argon2 memory block and reuses it for every hash: on the runtimes'
//! blocking pools every hash could land on a new thread and each allocation stayed in that
//! thread's allocator arena (measured with two slots: 64 concurrent logins took the server from
//! 69 to 544 MiB; with threads of their own but a fresh 19 MiB per hash, to 191 MiB). An unknown
//! user is verified against a dummy hash made at start-up, so login costs the same either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version};
use async_trait::async_trait;
use tasklane_domain::ports::{HashError, PasswordHasher};
use tasklane_domain::values::Password;
use tokio::sync::Semaphore;

use crate::settings::HashLimits;

/// Hashes running now (a gauge).
pub const PASSWORD_HASHES_IN_FLIGHT: &str = "tasklane_password_hashes_in_flight";
/// Hash requests refused because every slot stayed busy for the whole wait.
pub const PASSWORD_HASH_OVERLOADED_TOTAL: &str = "tasklane_password_hash_overloaded_total";

/// Work for a hashing thread, given the thread's Argon2 memory.
type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// A hashing thread's Argon2 memory (19 MiB for the default parameters), allocated at its first
/// hash and reused by every later one.
#[derive(Default)]
struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    /// Runs `f` over `count` blocks: the kept memory when it is the default size (allocated at
    /// the first use), a one-off allocation for a stored hash made with other parameters, so
    /// that what is kept stays at the default 19 MiB per thread.
    fn with_blocks<T>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let default = Params::default().block_count();
        if count == default {
            if self.blocks.is_empty() {
                self.blocks = vec![Block::default(); default];
            }
            f(&mut self.blocks)
        } else {
            f(&mut vec![Block::default(); count])
        }
    }

    /// A PHC string for `password` with the default parameters and a fresh salt.
    fn hash(&mut self, password: &[u8]) -> Result<String, HashError> {
        let failed = |e: &dyn std::fmt::Display| HashError::Failed(anyhow::anyhow!("argon2: {e}"));
        let argon2 = Argon2::default();
        let params = argon2.params().clone();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| failed(&e))?;
        let mut output = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        self.with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, &salt, &mut output, blocks)
        })
        .map_err(|e| failed(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
            hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `phc`, in constant time over the output. An
    /// unreadable hash is a mismatch.
    fn verify(&mut self, password: &[u8], phc: &str) -> bool {
        let Ok(stored) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::new(stored.algorithm.as_str()),
            Params::try_from(&stored),
        ) else {
            return false;
        };
        let version = match stored.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut output = vec![0u8; expected.len()];
        let computed = self.with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt, &mut output, blocks)
        });
        computed.is_ok() && Output::new(&output).is_ok_and(|output| output == *expected)
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
    /// The hashing threads' queue; they stop when the last hasher is dropped.
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// One running hash in the count and the gauge, for as long as it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn start(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).increment(1.0);
        Self(count)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(PASSWORD_HASHES_IN_FLIGHT).decrement(1.0);
    }
}

/// Starts `count` threads that run jobs from one queue until it closes.
fn hashing_threads(count: usize) -> anyhow::Result<std::sync::mpsc::SyncSender<Job>> {
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(count);
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for n in 0..count {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{n}"))
            .spawn(move || {
                let mut workspace = Workspace::default();
                loop {
                    // The lock is held only to take a job, never while running one.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job must not take its thread (and with it a slot's
                        // worth of capacity) away; its caller sees the reply dropped.
                        Ok(job) => {
                            let run = std::panic::AssertUnwindSafe(|| job(&mut workspace));
                            if std::panic::catch_unwind(run).is_err() {
                                tracing::error!("a password hash panicked");
                                workspace = Workspace::default();
                            }
                        }
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(jobs)
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
        let concurrency = limits.concurrency.max(1);
        Ok(Self {
            dummy: dummy.into(),
            slots: Arc::new(Semaphore::new(concurrency)),
            queue_wait: limits.queue_wait,
            in_flight: Arc::new(AtomicUsize::new(0)),
            jobs: hashing_threads(concurrency)?,
        })
    }

    /// Hashes running right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Runs `work` on a hashing thread once a slot is free. The slot is held by the job itself,
    /// so a request that goes away cannot free it while its hash still runs; there are as many
    /// threads as slots, so a job with a slot never waits for a thread.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let Ok(Ok(slot)) =
            tokio::time::timeout(self.queue_wait, self.slots.clone().acquire_owned()).await
        else {
            metrics::counter!(PASSWORD_HASH_OVERLOADED_TOTAL).increment(1);
            return Err(HashError::Overloaded);
        };
        let in_flight = self.in_flight.clone();
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |workspace| {
            // Counted down when the job ends, even by a panic.
            let _running = InFlight::start(in_flight);
            let output = work(workspace);
            drop(slot);
            let _ = done.send(output);
        });
        // Never blocks: a job is queued only with a slot, and the queue holds one per slot.
        self.jobs
            .try_send(job)
            .map_err(|_| HashError::Failed(anyhow::anyhow!("the hashing threads are gone")))?;
        result
            .await
            .map_err(|_| HashError::Failed(anyhow::anyhow!("a hashing thread failed")))
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let secret = password.expose().as_bytes().to_vec();
        self.bounded(move |workspace| workspace.hash(&secret))
            .await?
    }

    async fn verify(&self, password: &Password, phc: Option<String>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let dummy = self.dummy.clone();
        let secret = password.expose().as_bytes().to_vec();
        let matches = self
            .bounded(move |workspace| workspace.verify(&secret, phc.as_deref().unwrap_or(&dummy)))
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
        assert!(
            !hasher
                .verify(&password, Some("not a phc string".into()))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::PasswordVerifier as _;

        let hasher = Argon2Hasher::new(HashLimits::default()).unwrap();
        let password = Password::new("correct horse").unwrap();
        let ours = hasher.hash(&password).await.unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", ours.as_str())
                .is_ok(),
            "the library verifies our hashes"
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify(&password, Some(theirs.clone()))
                .await
                .unwrap()
        );
        let cheaper = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse")
        .unwrap()
        .to_string();
        assert!(
            hasher.verify(&password, Some(cheaper)).await.unwrap(),
            "other parameters verify too"
        );
        assert!(
            !hasher
                .verify(&Password::new("wrong horse").unwrap(), Some(theirs))
                .await
                .unwrap()
        );
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
