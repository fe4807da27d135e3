//! A circuit breaker for a remote dependency: after `threshold` consecutive failures calls are
//! skipped (an immediate miss) until `open_for` has passed; then one call probes, and its success
//! closes the breaker. State changes are logged once and published as a gauge.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; everyone else skips.
    Probing,
}

/// A breaker named after its dependency (`redis`), publishing `tasklane_{name}_up`.
#[derive(Debug)]
pub struct Breaker {
    name: &'static str,
    gauge: &'static str,
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(
        name: &'static str,
        gauge: &'static str,
        threshold: u32,
        open_for: Duration,
    ) -> Self {
        metrics::gauge!(gauge).set(1.0);
        Self {
            name,
            gauge,
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            open_for,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the state itself is always valid.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Whether a call may go to the dependency now (the first call after the open period is the
    /// probe).
    pub fn allow(&self) -> bool {
        self.with(|state| match *state {
            State::Closed { .. } => true,
            State::Open { until } if Instant::now() >= until => {
                *state = State::Probing;
                true
            }
            State::Open { .. } | State::Probing => false,
        })
    }

    /// Whether the dependency is believed up.
    pub fn is_closed(&self) -> bool {
        self.with(|state| matches!(state, State::Closed { .. }))
    }

    /// Records a successful call.
    pub fn success(&self) {
        let reopened = self.with(|state| {
            let was_down = !matches!(state, State::Closed { .. });
            *state = State::Closed { failures: 0 };
            was_down
        });
        if reopened {
            tracing::info!(dependency = self.name, "back up; using it again");
            metrics::gauge!(self.gauge).set(1.0);
        }
    }

    /// Records a failed call (an error or a timeout).
    pub fn failure(&self, error: &dyn std::fmt::Display) {
        let opened = self.with(|state| match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                *state = State::Open {
                    until: Instant::now() + self.open_for,
                };
                true
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Open { .. } | State::Probing => {
                *state = State::Open {
                    until: Instant::now() + self.open_for,
                };
                false
            }
        });
        if opened {
            tracing::warn!(dependency = self.name, %error, "unavailable; skipping it until a probe succeeds");
            metrics::gauge!(self.gauge).set(0.0);
        }
    }

    /// Opens the breaker without a failed call (the dependency was down at start).
    pub fn trip(&self, error: &dyn std::fmt::Display) {
        for _ in 0..self.threshold {
            self.failure(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_repeated_failures_probes_after_a_while_and_closes_on_success() {
        let breaker = Breaker::new("test", "tasklane_test_up", 3, Duration::from_millis(20));
        breaker.failure(&"timeout");
        breaker.failure(&"timeout");
        assert!(
            breaker.allow() && breaker.is_closed(),
            "two failures keep it closed"
        );
        breaker.failure(&"timeout");
        assert!(!breaker.allow(), "open: calls are skipped");
        std::thread::sleep(Duration::from_millis(25));
        assert!(
            breaker.allow(),
            "the first call after the open period probes"
        );
        assert!(!breaker.allow(), "one probe at a time");
        breaker.failure(&"still down");
        assert!(!breaker.allow(), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(25));
        assert!(breaker.allow());
        breaker.success();
        assert!(breaker.is_closed() && breaker.allow());
    }
}
