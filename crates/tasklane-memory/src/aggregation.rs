//! The aggregation rows: read, recount from the live tasks, the insert that loses to a
//! concurrent one, and the repair that replaces the counters with a recount.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{
    AggregationRepair, AggregationRepository, AggregationSnapshot, InsertAggregationError, Logged,
    RecordEvents,
};

use crate::MemoryStore;
use crate::tables::Tables;

/// The counters of the project's live (not archived) tasks by their status's category.
fn recount_in(tables: &Tables, project: ProjectId) -> Counts {
    Counts::from_category_counts(
        tables
            .tasks
            .values()
            .filter(|t| t.project_id == project && t.archived_at.is_none())
            .map(|t| (t.status.category, 1)),
    )
}

#[async_trait]
impl AggregationRepository for MemoryStore {
    async fn get_aggregation(
        &self,
        project_id: ProjectId,
    ) -> Result<Option<Aggregation>, RepoError> {
        Ok(self.read(|tables| tables.aggregations.get(&project_id).cloned()))
    }

    async fn aggregation_snapshot(
        &self,
        project_id: ProjectId,
    ) -> Result<AggregationSnapshot, RepoError> {
        Ok(self.read(|tables| AggregationSnapshot {
            counts: tables.aggregations.get(&project_id).map(|a| a.counts),
            tasks_version: tables
                .tasks_versions
                .get(&project_id)
                .copied()
                .unwrap_or_default(),
        }))
    }

    async fn recount(&self, project_id: ProjectId) -> Result<Counts, RepoError> {
        Ok(self.read(|tables| recount_in(tables, project_id)))
    }

    async fn insert_aggregation(
        &self,
        project_id: ProjectId,
        counts: Counts,
        at: DateTime<Utc>,
    ) -> Result<Aggregation, InsertAggregationError> {
        self.write(|tables| {
            if tables.aggregations.contains_key(&project_id) {
                return Err(InsertAggregationError::Conflict);
            }
            if !tables.projects.contains_key(&project_id) {
                return Err(RepoError::other("no such project").into());
            }
            let row = Aggregation {
                project_id,
                counts,
                updated_at: at,
            };
            tables.aggregations.insert(project_id, row.clone());
            *tables.tasks_versions.entry(project_id).or_default() += 1;
            Ok(row)
        })
    }

    async fn repair_aggregation(
        &self,
        project_id: ProjectId,
        at: DateTime<Utc>,
        record: RecordEvents<AggregationRepair>,
    ) -> Result<Logged<AggregationRepair>, RepoError> {
        self.write(|tables| {
            if !tables.projects.contains_key(&project_id) {
                return Err(RepoError::other("no such project"));
            }
            let before = tables.aggregations.get(&project_id).map(|a| a.counts);
            let after = Aggregation {
                project_id,
                counts: recount_in(tables, project_id),
                updated_at: at,
            };
            tables.aggregations.insert(project_id, after.clone());
            *tables.tasks_versions.entry(project_id).or_default() += 1;
            Ok(tables.log(AggregationRepair { before, after }, &record))
        })
    }
}
