//! The HTTP API end to end: the real server over SQLite and over PostgreSQL, driven by a real
//! HTTP client. Every route of docs/api.md, the role matrix, validation at its boundaries,
//! idempotency, `If-Match`, restoration, statement budgets, the OpenAPI document.

// Test code: a panic is a failed test with its location, which is what these should report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod comments;
mod conditional;
mod hardening;
mod labels;
mod ops;
mod projects;
mod queries;
mod roles;
mod tasks;
mod validation;
