//! The server's settings: one typed [`Settings`], loaded once from defaults and then `TASKLANE_*`
//! environment variables, and passed down. The JWT secret never appears in `Debug` output.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tasklane_domain::aggregation::DerivationPolicy;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The HMAC secret of access tokens. Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(pub Vec<u8>);

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// Every setting of the server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (`TASKLANE_BIND`, default `127.0.0.1:8080`).
    pub bind: String,
    /// Where `/metrics` listens instead of the main address (`TASKLANE_METRICS_BIND`); when set,
    /// the API port does not serve it.
    pub metrics_bind: Option<String>,
    /// The database (`TASKLANE_DATABASE_URL`, default SQLite in the data directory).
    pub database_url: String,
    /// PostgreSQL pool size (`TASKLANE_DB_MAX_CONNECTIONS`, default 32).
    pub db_max_connections: u32,
    /// Redis (`TASKLANE_REDIS_URL`); without it the cache and broadcaster are in-process.
    pub redis_url: Option<String>,
    /// The longest a Redis call may take (`TASKLANE_REDIS_TIMEOUT_MS`, default 50).
    pub redis_timeout: Duration,
    /// How long Redis is skipped after repeated failures before a probe
    /// (`TASKLANE_REDIS_PROBE_INTERVAL_MS`, default 1000).
    pub redis_probe_interval: Duration,
    /// Prepended to every Redis key (`TASKLANE_REDIS_PREFIX`, default `tasklane:`).
    pub redis_prefix: String,
    /// Where the embedded default keeps its files (`TASKLANE_DATA_DIR`, default `./data`).
    pub data_dir: PathBuf,
    /// The access-token secret (`TASKLANE_JWT_SECRET`; the embedded default generates one and
    /// keeps it in the data directory). `None` until resolved.
    pub jwt_secret: Option<JwtSecret>,
    /// Access-token lifetime (`TASKLANE_ACCESS_TOKEN_TTL_SECS`, default 900).
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime (`TASKLANE_REFRESH_TOKEN_TTL_SECS`, default 30 days).
    pub refresh_token_ttl: Duration,
    /// How the project status is derived (`TASKLANE_DERIVATION_POLICY`: `active_wins` or
    /// `earliest_wins`).
    pub derivation_policy: DerivationPolicy,
    /// Done tasks are archived after this many days (`TASKLANE_ARCHIVE_AFTER_DAYS`, default 7).
    pub archive_after_days: u32,
    /// How often the auto-archive job runs (`TASKLANE_ARCHIVE_INTERVAL_SECS`, default 3600); the
    /// event log is pruned on the same round.
    pub archive_interval: Duration,
    /// Events are kept this many days (`TASKLANE_EVENT_RETENTION_DAYS`, default 30, at least 1);
    /// a client further behind is told to resync.
    pub event_retention_days: u32,
    /// Log format (`TASKLANE_LOG_FORMAT`: `text` or `json`).
    pub log_format: LogFormat,
    /// Register, login and refresh attempts per client address per minute
    /// (`TASKLANE_AUTH_ATTEMPTS_PER_MINUTE`, default 30).
    pub auth_attempts_per_minute: usize,
    /// How long a WebSocket ticket lives (`TASKLANE_WS_TICKET_TTL_SECS`, default 30).
    pub ws_ticket_ttl: Duration,
    /// Frames a socket may have queued before it is closed as too slow
    /// (`TASKLANE_WS_QUEUE_CAPACITY`, default 1024).
    pub ws_queue_capacity: usize,
    /// Bytes a socket may have queued before it is closed as too slow
    /// (`TASKLANE_WS_QUEUE_BYTES`, default 4 MiB).
    pub ws_queue_bytes: usize,
    /// Open WebSocket connections per user on this instance (`TASKLANE_WS_CONNECTIONS_PER_USER`,
    /// default 16; more are refused with 429).
    pub ws_connections_per_user: usize,
    /// Unredeemed WebSocket tickets per user issued by this instance
    /// (`TASKLANE_WS_TICKETS_PER_USER`, default 16; more are refused with 429).
    pub ws_tickets_per_user: usize,
    /// Password hashes running at once (`TASKLANE_PASSWORD_HASH_CONCURRENCY`, default: the
    /// number of cores).
    pub password_hash_concurrency: usize,
    /// How long a login or registration waits for a hashing slot before 503 `overloaded`
    /// (`TASKLANE_PASSWORD_HASH_WAIT_MS`, default 2000).
    pub password_hash_wait: Duration,
    /// The longest a request body may take to arrive (`TASKLANE_BODY_READ_TIMEOUT_SECS`,
    /// default 10; slower is 408).
    pub body_read_timeout: Duration,
    /// Bytes of task listings kept to answer unchanged pages without the page query
    /// (`TASKLANE_PAGE_CACHE_MIB`, default 32; 0 turns it off).
    pub page_cache_bytes: usize,
}

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

impl Default for Settings {
    fn default() -> Self {
        let realtime = tasklane_realtime::RealtimeOptions::default();
        let hashing = HashLimits::default();
        Self {
            bind: "127.0.0.1:8080".into(),
            metrics_bind: None,
            database_url: "sqlite://data/tasklane.db".into(),
            db_max_connections: 32,
            redis_url: None,
            redis_timeout: Duration::from_millis(50),
            redis_probe_interval: Duration::from_secs(1),
            redis_prefix: "tasklane:".into(),
            data_dir: PathBuf::from("data"),
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            derivation_policy: DerivationPolicy::ActiveWins,
            archive_after_days: 7,
            archive_interval: Duration::from_secs(3600),
            event_retention_days: 30,
            log_format: LogFormat::Text,
            auth_attempts_per_minute: 30,
            ws_ticket_ttl: Duration::from_secs(30),
            ws_queue_capacity: realtime.queue_capacity,
            ws_queue_bytes: realtime.queue_bytes,
            ws_connections_per_user: realtime.max_connections_per_user,
            ws_tickets_per_user: 16,
            password_hash_concurrency: hashing.concurrency,
            password_hash_wait: hashing.queue_wait,
            body_read_timeout: Duration::from_secs(10),
            page_cache_bytes: 32 << 20,
        }
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .parse()
        .with_context(|| format!("{name}={value:?} is not a valid number"))
}

impl Settings {
    /// The defaults overridden by `TASKLANE_*` variables from `lookup` (the environment in
    /// production; a map in tests).
    ///
    /// # Errors
    /// When a variable is set to something invalid; the message names it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("TASKLANE_BIND") {
            settings.bind = v;
        }
        settings.metrics_bind = get("TASKLANE_METRICS_BIND");
        if let Some(v) = get("TASKLANE_DATA_DIR") {
            settings.data_dir = PathBuf::from(v);
        }
        settings.database_url = match get("TASKLANE_DATABASE_URL") {
            Some(url) => url,
            None => format!(
                "sqlite://{}",
                settings.data_dir.join("tasklane.db").display()
            ),
        };
        if let Some(v) = get("TASKLANE_DB_MAX_CONNECTIONS") {
            settings.db_max_connections = number("TASKLANE_DB_MAX_CONNECTIONS", &v)?;
        }
        settings.redis_url = get("TASKLANE_REDIS_URL");
        if let Some(v) = get("TASKLANE_REDIS_TIMEOUT_MS") {
            settings.redis_timeout =
                Duration::from_millis(number::<u64>("TASKLANE_REDIS_TIMEOUT_MS", &v)?.max(1));
        }
        if let Some(v) = get("TASKLANE_REDIS_PROBE_INTERVAL_MS") {
            settings.redis_probe_interval = Duration::from_millis(
                number::<u64>("TASKLANE_REDIS_PROBE_INTERVAL_MS", &v)?.max(1),
            );
        }
        if let Some(v) = get("TASKLANE_REDIS_PREFIX") {
            settings.redis_prefix = v;
        }
        if let Some(v) = get("TASKLANE_JWT_SECRET") {
            if v.len() < 32 {
                bail!("TASKLANE_JWT_SECRET must be at least 32 characters");
            }
            settings.jwt_secret = Some(JwtSecret(v.into_bytes()));
        }
        if let Some(v) = get("TASKLANE_ACCESS_TOKEN_TTL_SECS") {
            settings.access_token_ttl =
                Duration::from_secs(number("TASKLANE_ACCESS_TOKEN_TTL_SECS", &v)?);
        }
        if let Some(v) = get("TASKLANE_REFRESH_TOKEN_TTL_SECS") {
            settings.refresh_token_ttl =
                Duration::from_secs(number("TASKLANE_REFRESH_TOKEN_TTL_SECS", &v)?);
        }
        if let Some(v) = get("TASKLANE_DERIVATION_POLICY") {
            settings.derivation_policy = v.parse().context("TASKLANE_DERIVATION_POLICY")?;
        }
        if let Some(v) = get("TASKLANE_ARCHIVE_AFTER_DAYS") {
            settings.archive_after_days = number("TASKLANE_ARCHIVE_AFTER_DAYS", &v)?;
        }
        if let Some(v) = get("TASKLANE_ARCHIVE_INTERVAL_SECS") {
            settings.archive_interval =
                Duration::from_secs(number::<u64>("TASKLANE_ARCHIVE_INTERVAL_SECS", &v)?.max(1));
        }
        if let Some(v) = get("TASKLANE_EVENT_RETENTION_DAYS") {
            settings.event_retention_days =
                number::<u32>("TASKLANE_EVENT_RETENTION_DAYS", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_AUTH_ATTEMPTS_PER_MINUTE") {
            settings.auth_attempts_per_minute = number("TASKLANE_AUTH_ATTEMPTS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("TASKLANE_WS_TICKET_TTL_SECS") {
            settings.ws_ticket_ttl =
                Duration::from_secs(number::<u64>("TASKLANE_WS_TICKET_TTL_SECS", &v)?.max(1));
        }
        if let Some(v) = get("TASKLANE_WS_QUEUE_CAPACITY") {
            settings.ws_queue_capacity = number::<usize>("TASKLANE_WS_QUEUE_CAPACITY", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_WS_QUEUE_BYTES") {
            settings.ws_queue_bytes = number::<usize>("TASKLANE_WS_QUEUE_BYTES", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_WS_CONNECTIONS_PER_USER") {
            settings.ws_connections_per_user =
                number::<usize>("TASKLANE_WS_CONNECTIONS_PER_USER", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_WS_TICKETS_PER_USER") {
            settings.ws_tickets_per_user =
                number::<usize>("TASKLANE_WS_TICKETS_PER_USER", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_PASSWORD_HASH_CONCURRENCY") {
            settings.password_hash_concurrency =
                number::<usize>("TASKLANE_PASSWORD_HASH_CONCURRENCY", &v)?.max(1);
        }
        if let Some(v) = get("TASKLANE_PASSWORD_HASH_WAIT_MS") {
            settings.password_hash_wait =
                Duration::from_millis(number("TASKLANE_PASSWORD_HASH_WAIT_MS", &v)?);
        }
        if let Some(v) = get("TASKLANE_BODY_READ_TIMEOUT_SECS") {
            settings.body_read_timeout =
                Duration::from_secs(number::<u64>("TASKLANE_BODY_READ_TIMEOUT_SECS", &v)?.max(1));
        }
        if let Some(v) = get("TASKLANE_PAGE_CACHE_MIB") {
            let mib = number::<usize>("TASKLANE_PAGE_CACHE_MIB", &v)?;
            if mib > 65_536 {
                bail!("TASKLANE_PAGE_CACHE_MIB must be at most 65536");
            }
            settings.page_cache_bytes = mib << 20;
        }
        if let Some(v) = get("TASKLANE_LOG_FORMAT") {
            settings.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => bail!("TASKLANE_LOG_FORMAT={other:?}: expected text or json"),
            };
        }
        Ok(settings)
    }

    /// The defaults overridden by the process environment.
    ///
    /// # Errors
    /// As [`Settings::from_lookup`].
    pub fn from_env() -> anyhow::Result<Settings> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The JWT secret: the configured one, or the one kept in the data directory (created on
    /// first start with 64 random bytes, readable by the owner only).
    ///
    /// # Errors
    /// When the secret file cannot be read or written.
    pub fn resolve_jwt_secret(&mut self) -> anyhow::Result<JwtSecret> {
        if let Some(secret) = &self.jwt_secret {
            return Ok(secret.clone());
        }
        let path = self.data_dir.join("jwt-secret");
        let secret = match std::fs::read_to_string(&path) {
            Ok(text) => hex::decode(text.trim())
                .with_context(|| format!("{} is not hex", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
                let mut bytes = vec![0u8; 64];
                getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
                std::fs::write(&path, hex::encode(&bytes))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                restrict_to_owner(&path)?;
                tracing::info!(path = %path.display(), "generated the JWT secret");
                bytes
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let secret = JwtSecret(secret);
        self.jwt_secret = Some(secret.clone());
        Ok(secret)
    }
}

#[cfg(unix)]
fn restrict_to_owner(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .context("cannot restrict the secret file")
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_server_and_variables_override_them() {
        let defaults = from(&[]).unwrap();
        assert_eq!(defaults.bind, "127.0.0.1:8080");
        assert_eq!(defaults.database_url, "sqlite://data/tasklane.db");
        assert_eq!(defaults.access_token_ttl, Duration::from_secs(900));
        let custom = from(&[
            ("TASKLANE_DATA_DIR", "/tmp/x"),
            ("TASKLANE_DERIVATION_POLICY", "earliest_wins"),
            ("TASKLANE_ARCHIVE_AFTER_DAYS", "3"),
            ("TASKLANE_LOG_FORMAT", "json"),
            ("TASKLANE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("TASKLANE_PAGE_CACHE_MIB", "0"),
        ])
        .unwrap();
        assert_eq!(
            (defaults.page_cache_bytes, custom.page_cache_bytes),
            (32 << 20, 0)
        );
        assert_eq!(custom.database_url, "sqlite:///tmp/x/tasklane.db");
        assert_eq!(custom.derivation_policy, DerivationPolicy::EarliestWins);
        assert_eq!(
            (custom.archive_after_days, custom.log_format),
            (3, LogFormat::Json)
        );
        assert!(
            !format!("{custom:?}").contains("0123456789abcdef"),
            "the secret is redacted"
        );
    }

    #[test]
    fn invalid_values_are_refused_with_their_name() {
        for (name, value) in [
            ("TASKLANE_ARCHIVE_AFTER_DAYS", "soon"),
            ("TASKLANE_DERIVATION_POLICY", "latest_wins"),
            ("TASKLANE_LOG_FORMAT", "xml"),
            ("TASKLANE_JWT_SECRET", "short"),
            ("TASKLANE_PAGE_CACHE_MIB", "65537"),
            ("TASKLANE_PAGE_CACHE_MIB", "-1"),
        ] {
            let error = from(&[(name, value)]).unwrap_err();
            assert!(format!("{error:#}").contains(name), "{error:#}");
        }
    }

    #[test]
    fn the_embedded_jwt_secret_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("tasklane-secret-{}", uuid::Uuid::new_v4()));
        let mut settings = from(&[("TASKLANE_DATA_DIR", dir.to_str().unwrap())]).unwrap();
        let first = settings.resolve_jwt_secret().unwrap();
        let mut again = from(&[("TASKLANE_DATA_DIR", dir.to_str().unwrap())]).unwrap();
        assert_eq!(again.resolve_jwt_secret().unwrap(), first);
        assert_eq!(first.0.len(), 64);
        let _ = std::fs::remove_dir_all(dir);
    }
}
