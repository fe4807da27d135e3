//! The services' interaction tests, with mocked ports (mockall), one module per service and
//! per kind of task operation, and the support they share (`support.rs`: the harness of mocks,
//! a recording broadcaster, fixtures and store simulations). They live here, outside
//! `services/`, so that the production tree holds production code only. Whole flows over real
//! in-memory adapters are in `tests/memory.rs` at the crate's root.

mod comments;
mod labels;
mod projects;
mod role_matrix;
mod sessions;
pub(crate) mod support;
mod tasks;
mod users;
