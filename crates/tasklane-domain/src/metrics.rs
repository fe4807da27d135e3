//! The metrics the domain emits, through the `metrics` facade (the server installs the
//! Prometheus recorder). The names are the ones the alert rules in `ops/prometheus/` and
//! docs/performance.md use.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Bootstrap cache look-ups, labelled `result` = `hit` | `miss` | `error` (an error is also
/// treated as a miss; failed writes and deletes count as `error` too).
pub const AGG_BOOTSTRAP_CACHE_TOTAL: &str = "tasklane_agg_bootstrap_cache_total";
/// Aggregation inserts that lost a race to a concurrent insert (the seed's `IntegrityError`).
pub const AGG_CONFLICTS_TOTAL: &str = "tasklane_agg_conflicts_total";
/// Events the broadcaster could not take.
pub const WS_BROADCAST_FAILURES_TOTAL: &str = "tasklane_ws_broadcast_failures_total";
/// Bootstrap look-ups that were hits, over the last [`HIT_RATIO_WINDOW`] look-ups (the seed's
/// "cache hit rate" gauge). A stale entry is not a hit: only the service knows that, so the
/// window lives here rather than in the cache adapter.
pub const REDIS_CACHE_HIT_RATIO: &str = "tasklane_redis_cache_hit_ratio";
/// How many look-ups the hit ratio covers.
pub const HIT_RATIO_WINDOW: usize = 1000;

/// The process's recent look-up outcomes (`true` = hit), like the recorder itself process-wide.
static RECENT_LOOKUPS: Mutex<VecDeque<bool>> = Mutex::new(VecDeque::new());

/// Task creation time, labelled `cache_hit` and `redis_available` (recorded by the server, which
/// knows whether Redis is up; the service reports whether the bootstrap cache was hit).
pub const TASK_CREATION_DURATION_SECONDS: &str = "tasklane_task_creation_duration_seconds";

/// Outcome of one bootstrap cache operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheResult {
    Hit,
    Miss,
    Error,
}

pub(crate) fn bootstrap_cache(result: CacheResult) {
    let label = match result {
        CacheResult::Hit => "hit",
        CacheResult::Miss => "miss",
        CacheResult::Error => "error",
    };
    ::metrics::counter!(AGG_BOOTSTRAP_CACHE_TOTAL, "result" => label).increment(1);
}

/// Records one bootstrap look-up: its counter, and the sliding-window hit ratio.
pub(crate) fn bootstrap_lookup(result: CacheResult) {
    bootstrap_cache(result);
    // A poisoned lock only means a panic elsewhere; the window itself is always valid.
    let mut recent = RECENT_LOOKUPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if recent.len() == HIT_RATIO_WINDOW {
        recent.pop_front();
    }
    recent.push_back(result == CacheResult::Hit);
    let hits = recent.iter().filter(|hit| **hit).count();
    ::metrics::gauge!(REDIS_CACHE_HIT_RATIO).set(hits as f64 / recent.len() as f64);
}

pub(crate) fn aggregation_conflict() {
    ::metrics::counter!(AGG_CONFLICTS_TOTAL).increment(1);
}

pub(crate) fn broadcast_failed() {
    ::metrics::counter!(WS_BROADCAST_FAILURES_TOTAL).increment(1);
}
