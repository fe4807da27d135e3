//! The project's tasks version: a number that grows with every change to a project's
//! aggregation counts, kept in its own table so that it survives the aggregation row's deletion.
//!
//! Cached bootstrap values carry the version they were read at; a cache hit is used only while
//! the version is unchanged, so a stale entry can never put wrong counts into a recreated row.
//! A trigger bumps the version, so no task statement changes and none is added: every counted
//! change already updates the aggregation row, and the trigger runs after that update, always in
//! the order aggregation row → version row (no new lock-order deadlock).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ProjectTaskVersions {
    Table,
    ProjectId,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
}

const POSTGRES_UP: &str = "\
CREATE FUNCTION bump_project_task_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_task_versions (project_id, version) VALUES (NEW.project_id, 1)
    ON CONFLICT (project_id) DO UPDATE SET version = project_task_versions.version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER project_aggregations_bump_task_version
    AFTER UPDATE ON project_aggregations
    FOR EACH ROW EXECUTE FUNCTION bump_project_task_version();";

const SQLITE_UP: &str = "\
CREATE TRIGGER project_aggregations_bump_task_version
    AFTER UPDATE ON project_aggregations
    FOR EACH ROW
BEGIN
    INSERT INTO project_task_versions (project_id, version) VALUES (NEW.project_id, 1)
    ON CONFLICT (project_id) DO UPDATE SET version = version + 1;
END;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ProjectTaskVersions::Table)
                .col(
                    ColumnDef::new(ProjectTaskVersions::ProjectId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ProjectTaskVersions::Version)
                        .big_integer()
                        .not_null()
                        .check(Expr::col(ProjectTaskVersions::Version).gte(0)),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("project_task_versions_project_fk")
                        .from(ProjectTaskVersions::Table, ProjectTaskVersions::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        let trigger = match m.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        m.get_connection().execute_unprepared(trigger).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let drop = match m.get_database_backend() {
            DatabaseBackend::Postgres => {
                "DROP TRIGGER IF EXISTS project_aggregations_bump_task_version ON project_aggregations;
                 DROP FUNCTION IF EXISTS bump_project_task_version();"
            }
            _ => "DROP TRIGGER IF EXISTS project_aggregations_bump_task_version;",
        };
        m.get_connection().execute_unprepared(drop).await?;
        m.drop_table(Table::drop().table(ProjectTaskVersions::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
