//! The schema migrations shared by PostgreSQL and SQLite (sea-orm-migration). Filled by issue 3.
