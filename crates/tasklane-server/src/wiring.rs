//! The composition root: the domain's services wired to the store, the caches, the hub and the
//! server's own adapters (password hasher, token keys, event encoder). The only file of the
//! server that names the store.

use std::sync::Arc;
use std::time::Duration;

use tasklane_cache::Caches;
use tasklane_domain::ports::{Clock, EventBroadcaster, SystemClock};
use tasklane_domain::services::{DomainSettings, Ports, Services};
use tasklane_realtime::{Realtime, RealtimeHub};
use tasklane_store::Store;

use crate::auth::Argon2Hasher;
use crate::auth::tokens::AccessTokens;
use crate::limits::{RateLimiter, TicketLedger};
use crate::metrics;
use crate::pages::PageCache;
use crate::realtime::{ApiEncoder, ServicesDirectory};
use crate::settings::{HashLimits, JwtSecret, Settings};
use crate::state::AppState;

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
        let shared = Arc::new(store);
        let access_tokens = AccessTokens::new(secret, settings.access_token_ttl)?;
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
            refresh_tokens: shared.clone(),
            tokens: Arc::new(access_tokens.clone()),
            idempotency: shared.clone(),
        };
        let domain = DomainSettings {
            derivation_policy: settings.derivation_policy,
            archive_after_days: settings.archive_after_days,
            refresh_token_ttl: settings.refresh_token_ttl,
            ..DomainSettings::default()
        };
        let services = Services::new(ports, domain);
        let tickets = Arc::new(TicketLedger::new(
            settings.ws_tickets_per_user,
            settings.ws_ticket_ttl,
        ));
        let directory = ServicesDirectory::new(
            services.clone(),
            caches.clone(),
            tickets.clone(),
            shared.clone(),
        );
        Ok(AppState {
            realtime: Realtime::new(hub, Arc::new(directory)),
            ws_ticket_ttl: settings.ws_ticket_ttl,
            body_read_timeout: settings.body_read_timeout,
            metrics_on_api: settings.metrics_bind.is_none(),
            pages: Arc::new(PageCache::new(settings.page_cache_bytes)),
            services,
            health: shared,
            caches,
            access_tokens,
            metrics: metrics::handle()?,
            auth_limiter: Arc::new(RateLimiter::new(
                settings.auth_attempts_per_minute,
                Duration::from_secs(60),
            )),
            tickets,
        })
    }
}
