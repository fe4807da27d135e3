//! The SeaORM storage adapter for PostgreSQL and SQLite. Filled by issue 3; empty until then.
