//! What every handler shares: the domain's services and the adapters behind them.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tasklane_cache::Caches;
use tasklane_domain::ports::{Clock, EventBroadcaster, SystemClock};
use tasklane_domain::services::{DomainSettings, Ports, Services};
use tasklane_realtime::{Realtime, RealtimeHub};
use tasklane_store::Store;

use crate::auth::Argon2Hasher;
use crate::auth::tokens::AccessTokens;
use crate::limits::{RateLimiter, TicketLedger};
use crate::metrics;
use crate::realtime::{ApiEncoder, ServicesDirectory};
use crate::settings::{HashLimits, JwtSecret, Settings};

/// The application state, cloned into every worker.
#[derive(Clone)]
pub struct AppState {
    /// The domain's operations.
    pub services: Services,
    /// The store (also the refresh-token and idempotency repositories).
    pub store: Store,
    /// The typed caches (bootstrap values, WebSocket tickets).
    pub caches: Caches,
    /// Access-token keys.
    pub access_tokens: AccessTokens,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The Prometheus recorder's handle, for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The limit on credential attempts per client address.
    pub auth_limiter: Arc<RateLimiter>,
    /// The limit on unredeemed WebSocket tickets per user.
    pub tickets: Arc<TicketLedger>,
    /// The WebSocket endpoint's hub and directory.
    pub realtime: Realtime,
    /// How long a WebSocket ticket lives.
    pub ws_ticket_ttl: Duration,
    /// How long a request body may take to arrive.
    pub body_read_timeout: Duration,
    /// Whether the API's address also serves `/metrics` (no `TASKLANE_METRICS_BIND`).
    pub metrics_on_api: bool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the domain's services to `store`, `caches` and the realtime `hub`, whose handle is
    /// the broadcaster.
    ///
    /// # Errors
    /// When the password hasher or the token keys cannot be set up.
    pub fn new(
        store: Store,
        caches: Caches,
        hub: &RealtimeHub,
        settings: &Settings,
        secret: &JwtSecret,
    ) -> anyhow::Result<AppState> {
        Self::with_broadcaster(store, caches, hub, Arc::new(hub.handle()), settings, secret)
    }

    /// As [`AppState::new`], with the services publishing to `broadcaster` instead of the hub
    /// (tests of a blocked or failing broadcaster).
    ///
    /// # Errors
    /// When the password hasher or the token keys cannot be set up.
    pub fn with_broadcaster(
        store: Store,
        caches: Caches,
        hub: &RealtimeHub,
        broadcaster: Arc<dyn EventBroadcaster>,
        settings: &Settings,
        secret: &JwtSecret,
    ) -> anyhow::Result<AppState> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let shared = Arc::new(store.clone());
        let ports = Ports {
            users: shared.clone(),
            projects: shared.clone(),
            tasks: shared.clone(),
            comments: shared.clone(),
            labels: shared.clone(),
            aggregations: shared.clone(),
            events: shared.clone(),
            encoder: Arc::new(ApiEncoder::new(settings.derivation_policy)),
            cache: Arc::new(caches.clone()),
            broadcaster,
            clock: clock.clone(),
            passwords: Arc::new(Argon2Hasher::new(HashLimits {
                concurrency: settings.password_hash_concurrency,
                queue_wait: settings.password_hash_wait,
            })?),
        };
        let domain = DomainSettings {
            derivation_policy: settings.derivation_policy,
            archive_after_days: settings.archive_after_days,
            ..DomainSettings::default()
        };
        let services = Services::new(ports, domain);
        let tickets = Arc::new(TicketLedger::new(
            settings.ws_tickets_per_user,
            settings.ws_ticket_ttl,
        ));
        let directory =
            ServicesDirectory::new(services.clone(), caches.clone(), tickets.clone(), shared);
        Ok(AppState {
            realtime: Realtime::new(hub, Arc::new(directory)),
            ws_ticket_ttl: settings.ws_ticket_ttl,
            body_read_timeout: settings.body_read_timeout,
            metrics_on_api: settings.metrics_bind.is_none(),
            services,
            store,
            caches,
            access_tokens: AccessTokens::new(secret, settings.access_token_ttl)?,
            refresh_ttl: settings.refresh_token_ttl,
            clock,
            metrics: metrics::handle()?,
            auth_limiter: Arc::new(RateLimiter::new(
                settings.auth_attempts_per_minute,
                Duration::from_secs(60),
            )),
            tickets,
        })
    }
}
