//! The project event log: every committed change of a project as a row with a per-project,
//! gap-free sequence number `seq`, written in the same transaction as the change.
//!
//! `project_event_heads` holds each project's head (the last `seq` given out). On PostgreSQL the
//! statement that appends events bumps it, which takes the head row's lock until `COMMIT`: that
//! lock is what makes `seq` follow commit order. It is a row of its own, not a column of
//! `projects`, because writers take the project row early (creation, deletion, tree changes) and
//! the head last: a lock every writer takes last cannot close a deadlock cycle. SQLite has one
//! writer; a trigger advances the head as events are inserted. Pruning never removes a project's
//! newest event.
//!
//! Events reference their head row, not the project: the foreign-key check of an insert then
//! locks a row the appending transaction already holds, never the project row another writer
//! may hold while it waits for the head. The log is deleted with its project (the head cascades
//! from the project, the events from the head): events of a deleted project are readable to
//! nobody. Every project gets its head row when it is created.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = "\
CREATE TABLE project_event_heads (
    project_id UUID PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL CHECK (seq >= 0)
);
INSERT INTO project_event_heads (project_id, seq) SELECT id, 0 FROM projects;
CREATE TABLE project_events (
    project_id UUID NOT NULL REFERENCES project_event_heads (project_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    type TEXT NOT NULL,
    actor_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    task_id UUID,
    status_id UUID,
    member_id UUID,
    data TEXT NOT NULL,
    PRIMARY KEY (project_id, seq)
);
CREATE INDEX project_events_task ON project_events (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX project_events_at ON project_events (at);";

const SQLITE_UP: &str = "\
CREATE TABLE project_event_heads (
    project_id TEXT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 0)
);
INSERT INTO project_event_heads (project_id, seq) SELECT id, 0 FROM projects;
CREATE TABLE project_events (
    project_id TEXT NOT NULL REFERENCES project_event_heads (project_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    at TEXT NOT NULL,
    task_id TEXT,
    status_id TEXT,
    member_id TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (project_id, seq)
);
CREATE INDEX project_events_task ON project_events (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX project_events_at ON project_events (at);
CREATE TRIGGER project_events_head
    AFTER INSERT ON project_events
    FOR EACH ROW
BEGIN
    INSERT INTO project_event_heads (project_id, seq) VALUES (NEW.project_id, NEW.seq)
    ON CONFLICT (project_id) DO UPDATE SET seq = max(seq, excluded.seq);
END;";

const POSTGRES_DOWN: &str = "\
DROP TABLE IF EXISTS project_events;
DROP TABLE IF EXISTS project_event_heads;";

const SQLITE_DOWN: &str = "\
DROP TRIGGER IF EXISTS project_events_head;
DROP TABLE IF EXISTS project_events;
DROP TABLE IF EXISTS project_event_heads;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let sql = match m.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        m.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let sql = match m.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        m.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
