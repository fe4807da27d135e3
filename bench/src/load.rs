//! The load driver: `clients` concurrent workers repeat one request until the duration or the
//! request budget runs out; latencies, errors and statements per request are collected.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The outcome of one request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// How long it took.
    pub latency: Duration,
    /// Whether it did what it should (2xx).
    pub ok: bool,
    /// Whether the server failed (5xx).
    pub server_error: bool,
    /// SQL statements it sent (`X-Db-Statements`, or counted for the raw baseline).
    pub statements: Option<u32>,
}

/// What a run of one request kind measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub per_second: f64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Requests that did not succeed.
    pub errors: u64,
    /// Of those, 5xx answers.
    pub server_errors: u64,
    /// Mean statements per request, when known.
    pub statements_per_request: Option<f64>,
}

impl Stats {
    /// Summarises `samples` taken over `elapsed`.
    pub fn of(samples: &[Sample], elapsed: Duration) -> Stats {
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        latencies.sort();
        let at = |p: f64| {
            let index = ((latencies.len().saturating_sub(1)) as f64 * p).round() as usize;
            latencies
                .get(index)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let statements: Vec<u32> = samples.iter().filter_map(|s| s.statements).collect();
        Stats {
            requests: samples.len() as u64,
            per_second: samples.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            errors: samples.iter().filter(|s| !s.ok).count() as u64,
            server_errors: samples.iter().filter(|s| s.server_error).count() as u64,
            statements_per_request: (!statements.is_empty()).then(|| {
                statements.iter().map(|n| f64::from(*n)).sum::<f64>() / statements.len() as f64
            }),
        }
    }
}

/// Runs `clients` workers for `duration` (and at most `budget` requests in all); worker `c`
/// calls `request(c, n)` for its n-th request. Returns every sample and the time it took.
pub async fn drive<F, Fut>(
    clients: usize,
    duration: Duration,
    budget: u64,
    request: F,
) -> (Vec<Sample>, Duration)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Sample> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (request, issued) = (request.clone(), issued.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < budget {
                    samples.push(request(client, n).await);
                    n += 1;
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        if let Ok(mut done) = worker.await {
            samples.append(&mut done);
        }
    }
    (samples, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_errors_and_statements_are_summarised() {
        let sample = |ms: u64, ok: bool| Sample {
            latency: Duration::from_millis(ms),
            ok,
            server_error: !ok,
            statements: Some(2),
        };
        let samples: Vec<Sample> = (1..=100).map(|ms| sample(ms, ms != 50)).collect();
        let stats = Stats::of(&samples, Duration::from_secs(2));
        assert_eq!(stats.requests, 100);
        assert_eq!(stats.per_second, 50.0);
        assert_eq!((stats.p50_ms, stats.p99_ms), (51.0, 99.0));
        assert_eq!((stats.errors, stats.server_errors), (1, 1));
        assert_eq!(stats.statements_per_request, Some(2.0));
    }
}
