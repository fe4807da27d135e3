//! The aggregation repository port: read, recount, race-safe insert, and repair.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::aggregation::{Aggregation, Counts};
use crate::errors::RepoError;
use crate::ids::ProjectId;
use crate::ports::{Logged, RecordEvents};

/// Why an aggregation row could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertAggregationError {
    /// A row for the project already exists (a concurrent insert won the race).
    #[error("the project already has an aggregation row")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The result of a repair: the row before (if there was one) and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationRepair {
    /// The counters before the repair; `None` when the row was missing.
    pub before: Option<Counts>,
    /// The repaired row, equal to a fresh recount.
    pub after: Aggregation,
}

/// The row's counts and the project's tasks version, read together in one statement.
///
/// The tasks version grows with every change to the row's counts and lives outside the row, so it
/// survives the row's deletion: cached bootstrap values carry the version they were read at, and a
/// hit is used only while it is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregationSnapshot {
    /// The row's counters; `None` when the row is missing.
    pub counts: Option<Counts>,
    /// The project's tasks version (0 before its first counted change).
    pub tasks_version: u64,
}

/// Per-project aggregation rows.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AggregationRepository: Send + Sync {
    /// The project's row, if it exists.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn get_aggregation(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<Aggregation>, RepoError>;

    /// The row's counts (if any) and the project's tasks version, from one consistent read.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn aggregation_snapshot(
        &self,
        project_id: ProjectId,
    ) -> Result<AggregationSnapshot, RepoError>;

    /// Counts the project's non-archived tasks per category with one aggregate query
    /// (`GROUP BY`); MUST NOT load tasks.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn recount(&self, project_id: ProjectId) -> Result<Counts, RepoError>;

    /// Inserts the project's row with `counts`, in its own short transaction.
    ///
    /// # Errors
    /// MUST return [`InsertAggregationError::Conflict`] when a row already exists, including one
    /// inserted concurrently; the conflict MUST NOT abort any other transaction (use
    /// `INSERT … ON CONFLICT DO NOTHING` and report zero rows as the conflict).
    async fn insert_aggregation(
        &self,
        project_id: ProjectId,
        counts: Counts,
        at: DateTime<Utc>,
    ) -> Result<Aggregation, InsertAggregationError>;

    /// Recounts and overwrites (or inserts) the row in one transaction that locks it, so that
    /// the result equals a recount even while tasks change, and logs the events `record` returns
    /// (a derived status that moved) in the same transaction.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    async fn repair_aggregation(
        &self,
        project_id: ProjectId,
        at: DateTime<Utc>,
        record: RecordEvents<AggregationRepair>,
    ) -> Result<Logged<AggregationRepair>, RepoError>;
}
