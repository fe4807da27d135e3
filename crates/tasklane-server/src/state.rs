//! What every handler shares: the domain's services, the store's health, and the server's own
//! parts (token keys, limits, caches, the WebSocket hub). No adapter is reachable from here but
//! through a port; `wiring.rs` builds it.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tasklane_cache::Caches;
use tasklane_domain::ports::Health;
use tasklane_domain::services::Services;
use tasklane_realtime::Realtime;

use crate::auth::tokens::AccessTokens;
use crate::limits::{RateLimiter, TicketLedger};
use crate::pages::PageCache;

/// The application state, cloned into every worker.
#[derive(Clone)]
pub struct AppState {
    /// The domain's operations.
    pub services: Services,
    /// Whether the database answers, for `/readyz`.
    pub health: Arc<dyn Health>,
    /// The typed caches (bootstrap values, WebSocket tickets).
    pub caches: Caches,
    /// Access-token keys.
    pub access_tokens: AccessTokens,
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
    /// The task listings answered last, by project and query.
    pub pages: Arc<PageCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}
