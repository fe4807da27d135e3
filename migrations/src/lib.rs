//! The schema of Tasklane, as one backend-neutral sea-orm-migration set that runs on PostgreSQL
//! and SQLite. The constraints make the domain's rules hold in the database too: unique keys,
//! case-insensitive uniqueness through stored lower-cased columns, a task's status and parent
//! in the task's own project (composite foreign keys), counters that cannot go negative.

mod m20261129_000001_initial;
mod m20261129_000002_task_versions;
mod m20261130_000003_project_events;
mod m20261130_000004_comments_and_labels;
mod m20261201_000005_idempotency_responses;
mod m20261201_000006_directory_version;

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial::Migration),
            Box::new(m20261129_000002_task_versions::Migration),
            Box::new(m20261130_000003_project_events::Migration),
            Box::new(m20261130_000004_comments_and_labels::Migration),
            Box::new(m20261201_000005_idempotency_responses::Migration),
            Box::new(m20261201_000006_directory_version::Migration),
        ]
    }
}

/// The names of the applied and the pending migrations.
///
/// # Errors
/// When the migration table cannot be read.
pub async fn status(
    db: &sea_orm_migration::sea_orm::DatabaseConnection,
) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let names = |list: Vec<sea_orm_migration::Migration>| {
        list.iter().map(|m| m.name().to_owned()).collect()
    };
    let applied = Migrator::get_applied_migrations(db).await?;
    let pending = Migrator::get_pending_migrations(db).await?;
    Ok((names(applied), names(pending)))
}
