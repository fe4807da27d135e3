//! The Redis backend: a deadpool connection pool, a timeout on every call (default 50 ms) that
//! covers getting a connection too, a key prefix, and a circuit breaker. A failed, slow or
//! skipped call is an error the typed caches treat as a miss: Redis changes speed, never
//! correctness or availability. A background probe pings Redis while the breaker is open, so
//! `tasklane_redis_up` comes back within the probe interval even without traffic.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, FromRedisValue};
use deadpool_redis::{Config, Pool, Runtime, Timeouts};

use crate::breaker::Breaker;
use crate::{RawCache, RawCacheError};

/// The gauge of Redis's state: 1 up, 0 skipped.
pub const REDIS_UP: &str = "tasklane_redis_up";
/// Redis calls that did not succeed, by `reason`: `timeout`, `error`, or `skipped` (breaker open).
pub const REDIS_FAILURES_TOTAL: &str = "tasklane_redis_failures_total";

/// How to use Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The longest any call may take (connection included).
    pub timeout: Duration,
    /// How long the breaker skips Redis before probing again.
    pub probe_interval: Duration,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Prepended to every key (isolates instances or tests sharing a Redis).
    pub prefix: String,
    /// Pool size.
    pub pool_size: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(50),
            probe_interval: Duration::from_secs(1),
            failure_threshold: 3,
            prefix: "tasklane:".into(),
            pool_size: 16,
        }
    }
}

/// Redis behind a breaker.
#[derive(Debug)]
pub struct RedisCache {
    pool: Pool,
    options: RedisOptions,
    breaker: Breaker,
}

impl RedisCache {
    /// A cache over the Redis at `url`. Never fails because Redis is down: the breaker starts
    /// open then, and the background probe closes it when Redis answers.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub async fn connect(url: &str, options: RedisOptions) -> anyhow::Result<Arc<RedisCache>> {
        let mut config = Config::from_url(url);
        let mut pool = config.get_pool_config();
        pool.max_size = options.pool_size;
        pool.timeouts = Timeouts {
            wait: Some(options.timeout),
            create: Some(options.timeout),
            recycle: Some(options.timeout),
        };
        config.pool = Some(pool);
        let pool = config.create_pool(Some(Runtime::Tokio1))?;
        let breaker = Breaker::new(
            "redis",
            REDIS_UP,
            options.failure_threshold,
            options.probe_interval,
        );
        let cache = Arc::new(RedisCache {
            pool,
            options,
            breaker,
        });
        if let Err(error) = cache.ping().await {
            cache.breaker.trip(&error);
        }
        let probe = Arc::downgrade(&cache);
        tokio::spawn(async move {
            loop {
                let interval = match probe.upgrade() {
                    Some(cache) => {
                        if !cache.breaker.is_closed() && cache.ping().await.is_ok() {
                            cache.breaker.success();
                        }
                        cache.options.probe_interval
                    }
                    None => return,
                };
                tokio::time::sleep(interval).await;
            }
        });
        Ok(cache)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.options.prefix)
    }

    /// One round trip, within the timeout, without the breaker (the probe).
    async fn ping(&self) -> Result<(), RawCacheError> {
        let pool = self.pool.clone();
        let attempt = async move {
            let mut connection = pool.get().await.map_err(anyhow::Error::from)?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map_err(anyhow::Error::from)?;
            Ok::<_, anyhow::Error>(())
        };
        match tokio::time::timeout(self.options.timeout, attempt).await {
            Ok(result) => result.map_err(RawCacheError),
            Err(_) => Err(RawCacheError(anyhow::anyhow!(
                "redis did not answer within {:?}",
                self.options.timeout
            ))),
        }
    }

    /// Runs `command` through the breaker, within the timeout.
    async fn call<T: FromRedisValue + Send + 'static>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, RawCacheError> {
        if !self.breaker.allow() {
            metrics::counter!(REDIS_FAILURES_TOTAL, "reason" => "skipped").increment(1);
            return Err(RawCacheError(anyhow::anyhow!(
                "redis skipped: circuit open"
            )));
        }
        let pool = self.pool.clone();
        let attempt = async move {
            let mut connection = pool.get().await.map_err(anyhow::Error::from)?;
            command
                .query_async::<T>(&mut connection)
                .await
                .map_err(anyhow::Error::from)
        };
        let outcome = match tokio::time::timeout(self.options.timeout, attempt).await {
            Ok(Ok(value)) => {
                self.breaker.success();
                return Ok(value);
            }
            Ok(Err(error)) => {
                metrics::counter!(REDIS_FAILURES_TOTAL, "reason" => "error").increment(1);
                error
            }
            Err(_) => {
                metrics::counter!(REDIS_FAILURES_TOTAL, "reason" => "timeout").increment(1);
                anyhow::anyhow!("redis did not answer within {:?}", self.options.timeout)
            }
        };
        // Logged only when the breaker changes state, not per call.
        self.breaker.failure(&outcome);
        Err(RawCacheError(outcome))
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl RawCache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        self.call(redis::cmd("GET").arg(self.key(key)).to_owned())
            .await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), RawCacheError> {
        let command = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        self.call::<()>(command).await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, RawCacheError> {
        let command = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .arg("NX")
            .to_owned();
        Ok(self.call::<Option<String>>(command).await?.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), RawCacheError> {
        self.call::<i64>(redis::cmd("DEL").arg(self.key(key)).to_owned())
            .await
            .map(drop)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, RawCacheError> {
        self.call(redis::cmd("GETDEL").arg(self.key(key)).to_owned())
            .await
    }

    fn is_available(&self) -> bool {
        self.breaker.is_closed()
    }

    fn is_redis(&self) -> bool {
        true
    }
}
