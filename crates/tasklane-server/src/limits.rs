//! A per-client rate limit for the credential routes (register, login, refresh): a sliding
//! window of attempts per IP address, answered with 429 and `Retry-After` beyond it. In-process:
//! each instance limits on its own, which bounds guessing per instance.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use crate::error::ApiError;

/// Attempts allowed per address per window.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    attempts: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `limit` attempts per `window` per address.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `request`'s peer.
    ///
    /// # Errors
    /// 429 `rate_limited` when the address used up its window.
    pub fn check(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(address) = request.peer_addr().map(|a| a.ip()) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut attempts = self
            .attempts
            .lock()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("rate limiter poisoned")))?;
        if attempts.len() > 100_000 {
            // Forget idle addresses rather than grow without bound.
            attempts.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let times = attempts.entry(address).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts from this address; retry in a minute",
            ));
        }
        times.push_back(now);
        Ok(())
    }
}
