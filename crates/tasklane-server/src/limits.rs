//! Per-client limits kept in this process: credential attempts per address (an IPv6 client is
//! its /64; register, login, refresh) and unredeemed WebSocket tickets per user. Both sit in
//! bounded moka caches keyed by the client, so a flood of new addresses or users evicts the least
//! recently used entries in constant time instead of scanning a map. Each instance limits on its
//! own.

use std::collections::VecDeque;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tasklane_domain::ids::UserId;

use crate::error::ApiError;

/// The most clients (addresses, users) whose recent events are remembered.
const CLIENTS: u64 = 100_000;

/// Times of recent events per client, each forgotten after `window`.
#[derive(Debug)]
struct Windows<K: Hash + Eq + Send + Sync + 'static> {
    window: Duration,
    clients: Cache<K, Arc<Mutex<VecDeque<Instant>>>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Windows<K> {
    fn new(window: Duration) -> Self {
        Self {
            window,
            // A client idle for a whole window has nothing left to remember. Least recently used
            // out first, and a new client is always admitted (so its limit always applies).
            clients: Cache::builder()
                .max_capacity(CLIENTS)
                .eviction_policy(EvictionPolicy::lru())
                .time_to_idle(window)
                .build(),
        }
    }

    /// Records an event of `client` at `now` unless it already has `limit` within the window.
    fn record(&self, client: K, limit: usize, now: Instant) -> bool {
        let times = self.clients.get_with(client, Default::default);
        let mut times = times.lock().unwrap_or_else(PoisonError::into_inner);
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Forgets the oldest event of `client` (a ticket that was redeemed).
    fn forget_oldest(&self, client: &K) {
        if let Some(times) = self.clients.get(client) {
            times
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
        }
    }
}

/// The client an address stands for: an IPv4 address, or the /64 network of an IPv6 one (a
/// single host usually holds a whole /64 and could rotate through it).
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(network))
        }
    }
}

/// Credential attempts allowed per address per window.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    attempts: Windows<IpAddr>,
}

impl RateLimiter {
    /// At most `limit` attempts per `window` per address.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            attempts: Windows::new(window),
        }
    }

    /// Counts an attempt from `request`'s peer.
    ///
    /// # Errors
    /// 429 `rate_limited` when the address used up its window.
    pub fn check(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(address) = request.peer_addr().map(|a| client_of(a.ip())) else {
            return Ok(());
        };
        if self.attempts.record(address, self.limit, Instant::now()) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts from this address; retry in a minute",
            ))
        }
    }
}

/// WebSocket tickets issued by this instance and neither redeemed here nor expired, per user.
/// A ticket redeemed on another instance counts until it expires.
#[derive(Debug)]
pub struct TicketLedger {
    limit: usize,
    issued: Windows<UserId>,
}

impl TicketLedger {
    /// At most `limit` outstanding tickets per user, each living `ttl`.
    pub fn new(limit: usize, ttl: Duration) -> Self {
        Self {
            limit: limit.max(1),
            issued: Windows::new(ttl),
        }
    }

    /// Counts a new ticket for `user`.
    ///
    /// # Errors
    /// 429 `too_many_tickets` when the user holds `limit` unredeemed tickets.
    pub fn issue(&self, user: UserId) -> Result<(), ApiError> {
        if self.issued.record(user, self.limit, Instant::now()) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_tickets",
                format!(
                    "at most {} unused WebSocket tickets per user; use one or let it expire",
                    self.limit
                ),
            )
            .retry_after("5"))
        }
    }

    /// A ticket of `user` was redeemed.
    pub fn redeemed(&self, user: UserId) {
        self.issued.forget_oldest(&user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_beyond_the_limit_are_refused_until_the_window_moves_on() {
        let windows = Windows::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(windows.record("a", 2, start));
        assert!(windows.record("a", 2, start));
        assert!(!windows.record("a", 2, start), "a third within the window");
        assert!(
            windows.record("b", 2, start),
            "other clients are not affected"
        );
        assert!(
            windows.record("a", 2, start + Duration::from_secs(61)),
            "the window moved on"
        );
    }

    #[test]
    fn an_ipv6_client_is_its_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_of(v4), v4);
    }

    #[test]
    fn a_redeemed_ticket_frees_its_place() {
        let ledger = TicketLedger::new(1, Duration::from_secs(30));
        let user = UserId::generate();
        assert!(ledger.issue(user).is_ok());
        let refused = ledger.issue(user).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        ledger.redeemed(user);
        assert!(ledger.issue(user).is_ok());
        assert!(ledger.issue(UserId::generate()).is_ok());
    }
}
