//! # tasklane-store
//!
//! The storage adapter of Tasklane: [`Store`] implements every repository port of
//! `tasklane-domain` (users, projects with members and statuses, tasks, comments, labels, aggregation) on
//! PostgreSQL and on SQLite, through SeaORM.
//!
//! The budgeted hot paths are hand-written statements with a known count: a task creation is
//! two statements on PostgreSQL (a context read and one data-modifying CTE), a board page two.
//! Users, sessions, idempotency keys, projects, members, statuses and label writes are built on
//! the [`entities`], one per table, with the same counts; a few other single statements (the
//! aggregation repository, single-task reads, label contexts) stay hand-written.
//! [`count_statements`] counts what a unit of work sends, for tests and for the
//! `tasklane_db_statements_per_request` histogram.
//!
//! SQLite runs in WAL mode with a busy timeout and all writes through one connection, so the
//! embedded default is safe under concurrent requests; reads use their own small pool.

mod aggregation;
mod auth;
mod comments;
mod convert;
mod counter;
mod db;
pub mod entities;
mod errors;
mod events;
mod labels;
mod projects;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::ProjectId;
use tasklane_migrations::{Migrator, MigratorTrait};

pub use counter::{STATEMENTS_PER_REQUEST, count_statements, record_statements};
pub use db::Dialect;
pub use tasks::{
    CHANGES_PER_TRANSACTION, CREATION_PROJECTS_PER_TRANSACTION, CREATIONS_PER_TRANSACTION,
    LISTING_READERS_PER_STATEMENT,
};

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL connections in all (with coalescing, a quarter of them, at least one, are the
    /// writers'; SQLite uses one writer and up to four readers).
    pub max_connections: u32,
    /// How long a request waits for a connection before the store reports `Unavailable`.
    pub acquire_timeout: Duration,
    /// PostgreSQL: write the concurrent creations of one project in one shared transaction, and
    /// its concurrent changes to tasks in another (`tasks/coalesce/`). Off, every write is its
    /// own transaction (the bench's raw-SQL baseline).
    pub coalesce_writes: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 32,
            acquire_timeout: Duration::from_secs(5),
            coalesce_writes: true,
        }
    }
}

/// The store: PostgreSQL or SQLite behind the domain's repository ports. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    dialect: Dialect,
    /// Where transactions and writes go (SQLite: the one writer connection).
    writer: DatabaseConnection,
    /// Where reads go (PostgreSQL: the same pool).
    reader: DatabaseConnection,
    /// PostgreSQL with coalescing on: the per-project writers of creations and changes.
    coalescing: Option<Arc<tasks::Coalescing>>,
    /// PostgreSQL: board readers of one project that arrive together share one statement for
    /// their roles and the listing's version (`tasks/gate.rs`).
    gates: Arc<tasks::Gates>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url`: `postgres://…` or `sqlite://path/to/file.db` (the file and its folder
    /// are created if missing; `sqlite::memory:` keeps everything on one connection).
    ///
    /// # Errors
    /// When the URL is not understood or the database cannot be reached.
    pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut connect = PgConnectOptions::from_str(url).context("bad PostgreSQL URL")?;
            // Operators (and the bench) tell the server's sessions apart in pg_stat_activity.
            if connect.get_application_name().is_none() {
                connect = connect.application_name("tasklane");
            }
            // With coalescing, a quarter of the connections (at least one) belong to the
            // writers' thread: the setting stays the store's total.
            let writers = if options.coalesce_writes {
                (options.max_connections / 4).max(1)
            } else {
                0
            };
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.saturating_sub(writers).max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await
                .context("cannot connect to PostgreSQL")?;
            let mut db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
            db.set_metric_callback(counter::statement_sent);
            let coalescing = if options.coalesce_writes {
                let writers = tasks::Coalescing::start(connect, writers, options.acquire_timeout)?;
                Some(Arc::new(writers))
            } else {
                None
            };
            Ok(Store {
                dialect: Dialect::Postgres,
                reader: db.clone(),
                writer: db,
                coalescing,
                gates: Arc::default(),
            })
        } else if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else {
            anyhow::bail!("unsupported database URL (expected postgres:// or sqlite:)")
        }
    }

    async fn connect_sqlite(url: &str, options: &StoreOptions) -> anyhow::Result<Store> {
        let connect = SqliteConnectOptions::from_str(url)
            .context("bad SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:");
        if !in_memory
            && let Some(folder) = connect.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let pool = |size: u32| {
            SqlitePoolOptions::new()
                .max_connections(size)
                // Writes queue for the one writer; a long queue is load, not an outage.
                .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(30)))
                .connect_with(connect.clone())
        };
        let mut writer = SqlxSqliteConnector::from_sqlx_sqlite_pool(
            pool(1).await.context("cannot open the SQLite database")?,
        );
        writer.set_metric_callback(counter::statement_sent);
        let reader = if in_memory {
            writer.clone()
        } else {
            let mut reader = SqlxSqliteConnector::from_sqlx_sqlite_pool(
                pool(4).await.context("cannot open the SQLite database")?,
            );
            reader.set_metric_callback(counter::statement_sent);
            reader
        };
        Ok(Store {
            dialect: Dialect::Sqlite,
            writer,
            reader,
            coalescing: None,
            gates: Arc::default(),
        })
    }

    /// How many changes of `project` wait for its writer (PostgreSQL with coalescing); `None`
    /// when it has no writer. For tests that line changes up behind a writer.
    #[cfg(feature = "testing")]
    pub fn changes_waiting(&self, project: ProjectId) -> Option<usize> {
        self.coalescing.as_ref()?.changes_waiting(project)
    }

    /// How many board readers of `project` wait for the statement after the one under way
    /// (`None`: none under way). For tests that gather readers behind a blocked statement.
    #[cfg(feature = "testing")]
    pub fn listing_readers_waiting(&self, project: ProjectId) -> Option<usize> {
        self.gates.waiting(project)
    }

    /// Statements sent for more than one board reader, and the readers they answered.
    #[cfg(feature = "testing")]
    pub fn listing_versions_shared(&self) -> (u64, u64) {
        self.gates.shared()
    }

    /// How many projects' creation batches wait for a group (PostgreSQL with coalescing);
    /// `None` without coalescing. For tests that line groups up behind a busy committer.
    #[cfg(feature = "testing")]
    pub fn creation_batches_waiting(&self) -> Option<usize> {
        Some(self.coalescing.as_ref()?.creation_batches_waiting())
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// When a migration fails (it is rolled back).
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        Migrator::up(&self.writer, None)
            .await
            .context("migration failed")
    }

    /// Rolls back the last migration.
    ///
    /// # Errors
    /// When the rollback fails.
    pub async fn migrate_down(&self) -> anyhow::Result<()> {
        Migrator::down(&self.writer, Some(1))
            .await
            .context("rollback failed")
    }

    /// The names of applied and pending migrations.
    ///
    /// # Errors
    /// When the migration table cannot be read.
    pub async fn migration_status(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        tasklane_migrations::status(&self.writer)
            .await
            .context("cannot read migrations")
    }

    /// Every project's id (for the recount of all projects).
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn project_ids(&self) -> Result<Vec<ProjectId>, RepoError> {
        let d = self.dialect;
        let rows = db::all(
            &self.reader,
            d.stmt("SELECT id FROM projects ORDER BY id", vec![]),
        )
        .await
        .map_err(errors::repo_error)?;
        rows.iter()
            .map(|row| d.row(row).id("id").map(ProjectId::from_uuid))
            .collect::<Result<_, _>>()
            .map_err(errors::repo_error)
    }

    /// Closes the connection pools (at shutdown).
    pub async fn close(&self) {
        let _ = self.writer.clone().close().await;
        if self.dialect == Dialect::Sqlite {
            let _ = self.reader.clone().close().await;
        }
    }
}

#[async_trait::async_trait]
impl tasklane_domain::ports::Health for Store {
    async fn ping(&self) -> Result<(), RepoError> {
        self.writer.ping().await.map_err(errors::repo_error)
    }
}
