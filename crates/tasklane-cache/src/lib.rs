//! Cache adapters (Redis, in-memory, no-op) for the domain's `AggregationCache`. Filled by issue 5.
