//! Test support (feature `testing`): a fresh database per test, dropped afterwards.
//!
//! - [`TestDb::sqlite`]: a new SQLite file in the temp folder.
//! - [`TestDb::postgres`]: a new schema in the database of `TASKLANE_TEST_DATABASE_URL`
//!   (default `postgres://postgres@127.0.0.1:5432/test`). It fails loudly when PostgreSQL cannot
//!   be reached: a suite that silently skipped its PostgreSQL half would prove nothing.

use std::path::PathBuf;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

use crate::{Dialect, Store, StoreOptions};

/// The PostgreSQL server the tests use.
pub fn postgres_url() -> String {
    std::env::var("TASKLANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { admin_url: String, schema: String },
}

/// A migrated, empty database that exists for one test.
pub struct TestDb {
    /// The store over it.
    pub store: Store,
    /// The URL the store was opened with (for servers started by end-to-end tests).
    pub url: String,
    cleanup: Option<Cleanup>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestDb {
    /// A new SQLite database file.
    ///
    /// # Errors
    /// When the file cannot be created or migrated.
    pub async fn sqlite() -> anyhow::Result<TestDb> {
        let path = std::env::temp_dir().join(format!(
            "tasklane-test-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        store.migrate_up().await?;
        Ok(TestDb {
            store,
            url,
            cleanup: Some(Cleanup::Sqlite(path)),
        })
    }

    /// A new PostgreSQL schema.
    ///
    /// # Errors
    /// When PostgreSQL cannot be reached (the message says how to point the tests at it) or the
    /// schema cannot be created or migrated.
    pub async fn postgres() -> anyhow::Result<TestDb> {
        Self::postgres_with(&StoreOptions::default()).await
    }

    /// A new PostgreSQL schema, with a store of the given options (a pool of one connection, to
    /// look at what a connection holds).
    ///
    /// # Errors
    /// As [`TestDb::postgres`].
    pub async fn postgres_with(options: &StoreOptions) -> anyhow::Result<TestDb> {
        let admin_url = postgres_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url).await.with_context(|| {
            format!("PostgreSQL is required for these tests and is not reachable at {admin_url} (set TASKLANE_TEST_DATABASE_URL)")
        })?;
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
            .await?;
        admin.close().await?;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        let store = Store::connect(&url, options).await?;
        let db = TestDb {
            store,
            url,
            cleanup: Some(Cleanup::Postgres { admin_url, schema }),
        };
        db.store.migrate_up().await?;
        Ok(db)
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.store.dialect()
    }

    /// Runs raw SQL (test set-up such as triggers or deleting an aggregation row).
    ///
    /// # Errors
    /// When the statement fails.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        self.store.writer.execute_unprepared(sql).await?;
        Ok(())
    }

    /// The integer in the first column of the first row of `sql`.
    ///
    /// # Errors
    /// When the query fails or returns nothing.
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        let stmt = sea_orm::Statement::from_string(self.store.dialect().backend(), sql.to_owned());
        let row = self
            .store
            .writer
            .query_one_raw(stmt)
            .await?
            .context("no row")?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    /// The texts in the first two columns of every row of `sql`.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn text_pairs(&self, sql: &str) -> anyhow::Result<Vec<(String, String)>> {
        let stmt = sea_orm::Statement::from_string(self.store.dialect().backend(), sql.to_owned());
        let rows = self.store.writer.query_all_raw(stmt).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get_by_index::<String>(0)?,
                    row.try_get_by_index::<String>(1)?,
                ))
            })
            .collect()
    }

    /// The connection, to read through the entities.
    pub fn connection(&self) -> &sea_orm::DatabaseConnection {
        &self.store.writer
    }

    /// The integers in the first column of every row of `sql`.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn integers(&self, sql: &str) -> anyhow::Result<Vec<i64>> {
        let stmt = sea_orm::Statement::from_string(self.store.dialect().backend(), sql.to_owned());
        let rows = self.store.writer.query_all_raw(stmt).await?;
        rows.iter()
            .map(|row| Ok(row.try_get_by_index::<i64>(0)?))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.cleanup.take() {
            Some(Cleanup::Sqlite(path)) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Some(Cleanup::Postgres { admin_url, schema }) => {
                // Drop cannot await: drop the schema from a thread with its own runtime.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime.block_on(async {
                        let admin = Database::connect(&admin_url).await.ok()?;
                        admin
                            .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                            .await
                            .ok()?;
                        admin.close().await.ok()
                    })
                });
                let _ = dropped.join();
            }
            None => {}
        }
    }
}
