//! Comments on tasks and per-project labels, and an index for listing a project's tasks by due
//! date.
//!
//! A comment belongs to its task (deleted with it); its author may be deleted (the comment
//! stays, authorless). `tasks.comment_count` is kept by the comment writes in their transaction,
//! so a board page reads it with the task, not with a count per task.
//!
//! A label belongs to its project; its name is unique per project ignoring case (the stored
//! lower-cased `name_lower`, as for statuses). `task_labels` links tasks to labels of the same
//! project: the composite foreign keys make a label of another project impossible in the
//! database too. Deleting a task or a label deletes its links.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = "\
ALTER TABLE tasks ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0 CHECK (comment_count >= 0);
CREATE TABLE comments (
    id UUID PRIMARY KEY,
    task_id UUID NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    author_id UUID REFERENCES users (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    edited_at TIMESTAMPTZ
);
CREATE INDEX comments_task ON comments (task_id, created_at, id);
CREATE UNIQUE INDEX tasks_project_id ON tasks (project_id, id);
CREATE TABLE labels (
    id UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, name_lower),
    UNIQUE (project_id, id)
);
CREATE TABLE task_labels (
    project_id UUID NOT NULL,
    task_id UUID NOT NULL,
    label_id UUID NOT NULL,
    PRIMARY KEY (task_id, label_id),
    FOREIGN KEY (project_id, task_id) REFERENCES tasks (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, label_id) REFERENCES labels (project_id, id) ON DELETE CASCADE
);
CREATE INDEX task_labels_label ON task_labels (label_id, task_id);
CREATE INDEX tasks_project_due ON tasks (project_id, due_date, id);";

const SQLITE_UP: &str = "\
ALTER TABLE tasks ADD COLUMN comment_count INTEGER NOT NULL DEFAULT 0 CHECK (comment_count >= 0);
CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    edited_at TEXT
);
CREATE INDEX comments_task ON comments (task_id, created_at, id);
CREATE UNIQUE INDEX tasks_project_id ON tasks (project_id, id);
CREATE TABLE labels (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name_lower),
    UNIQUE (project_id, id)
);
CREATE TABLE task_labels (
    project_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    label_id TEXT NOT NULL,
    PRIMARY KEY (task_id, label_id),
    FOREIGN KEY (project_id, task_id) REFERENCES tasks (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, label_id) REFERENCES labels (project_id, id) ON DELETE CASCADE
);
CREATE INDEX task_labels_label ON task_labels (label_id, task_id);
CREATE INDEX tasks_project_due ON tasks (project_id, due_date, id);";

const POSTGRES_DOWN: &str = "\
DROP INDEX IF EXISTS tasks_project_due;
DROP TABLE IF EXISTS task_labels;
DROP TABLE IF EXISTS labels;
DROP INDEX IF EXISTS tasks_project_id;
DROP TABLE IF EXISTS comments;
ALTER TABLE tasks DROP COLUMN IF EXISTS comment_count;";

const SQLITE_DOWN: &str = "\
DROP INDEX IF EXISTS tasks_project_due;
DROP TABLE IF EXISTS task_labels;
DROP TABLE IF EXISTS labels;
DROP INDEX IF EXISTS tasks_project_id;
DROP TABLE IF EXISTS comments;
ALTER TABLE tasks DROP COLUMN comment_count;";

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
