//! # tasklane-domain
//!
//! The domain of Tasklane, a real-time task tracker: projects with per-project workflows, tasks
//! with gap-free per-project keys (`WEB-42`) and fractional board ranks, and a per-project
//! aggregation of task counts from which the project's status is derived.
//!
//! The crate does no IO and knows no framework. It holds:
//! - [`values`] and [`ids`]: validated value types;
//! - [`aggregation`]: the six counters, their deltas and the derivation policies;
//! - [`rank`]: board ranks (after, before, strictly between) and the rebalance rule;
//! - [`access`]: the role matrix;
//! - [`ports`]: the traits adapters implement (repositories, cache, broadcaster, clock, hasher),
//!   with mockall mocks behind the `mocks` feature;
//! - [`events`]: what happened, logged per project with a gap-free `seq` in the transaction
//!   that caused it;
//! - [`services`]: every operation in the same order of effects: validate, one transaction
//!   through a port (which logs the operation's events), then post-commit broadcasts and cache
//!   writes that never fail or delay the request.
//!
//! ```
//! use tasklane_domain::aggregation::{AggregationDelta, Counts, DerivationPolicy, DerivedStatus};
//! use tasklane_domain::values::StatusCategory;
//!
//! let after = Counts::ZERO.apply(&AggregationDelta::create(StatusCategory::Done)).unwrap();
//! assert_eq!(DerivationPolicy::default().derive(&after), DerivedStatus::Done);
//! ```
#![warn(missing_docs)]

pub mod access;
pub mod aggregation;
pub mod cursor;
pub mod errors;
pub mod events;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod ports;
pub mod rank;
pub mod services;
pub mod validation;
pub mod values;

#[cfg(test)]
mod tests;
