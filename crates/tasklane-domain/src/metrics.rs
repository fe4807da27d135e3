//! The metrics the domain emits, through the `metrics` facade (the server installs the
//! Prometheus recorder). Names follow PERFORMANCE.md and the seed's monitoring section.

/// Bootstrap cache look-ups, labelled `result` = `hit` | `miss` | `error` (an error is also
/// treated as a miss; failed writes and deletes count as `error` too).
pub const AGG_BOOTSTRAP_CACHE_TOTAL: &str = "tasklane_agg_bootstrap_cache_total";
/// Aggregation inserts that lost a race to a concurrent insert (the seed's `IntegrityError`).
pub const AGG_CONFLICTS_TOTAL: &str = "tasklane_agg_conflicts_total";
/// Events the broadcaster could not take.
pub const WS_BROADCAST_FAILURES_TOTAL: &str = "tasklane_ws_broadcast_failures_total";
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

pub(crate) fn aggregation_conflict() {
    ::metrics::counter!(AGG_CONFLICTS_TOTAL).increment(1);
}

pub(crate) fn broadcast_failed() {
    ::metrics::counter!(WS_BROADCAST_FAILURES_TOTAL).increment(1);
}
