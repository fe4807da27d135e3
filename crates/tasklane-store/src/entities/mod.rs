//! SeaORM entities, one per table, derived by hand from the migrated schema (a contract test
//! holds every entity's columns equal to its table's, on both databases).
//!
//! The repositories use them off the hot paths: users, refresh tokens, idempotency keys,
//! projects (creation, reads, the listing, edits), members, statuses and label writes. They are
//! queried with SeaORM's builder (`Entity::find().filter(…)`, `update_many`, `delete_many`,
//! `Query::insert`) and read into their `Model`s; values are bound through
//! [`Dialect`](crate::db::Dialect), because an id or a time is stored differently on the two
//! databases ([`values`]). The budgeted hot paths (task creation and changes, the board page,
//! comments, the event append) keep their hand-written SQL, each statement under a `// Budget:`
//! comment; their tables have entities too, for their column names and for reads outside them.

pub mod values;

pub mod comments;
pub mod directory_version;
pub mod idempotency_keys;
pub mod labels;
pub mod project_aggregations;
pub mod project_event_heads;
pub mod project_events;
pub mod project_members;
pub mod project_task_versions;
pub mod projects;
pub mod refresh_tokens;
pub mod statuses;
pub mod task_labels;
pub mod tasks;
pub mod users;

pub use values::{DbId, DbTime};
