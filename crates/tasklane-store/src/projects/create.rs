//! Project creation: the project, its owner, its statuses, its aggregation row and its event
//! log's head, with its first event, in one transaction.

use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::model::Project;
use tasklane_domain::ports::{CreateProjectStoreError, Logged, NewProject, RecordEvents};

use crate::Store;
use crate::db::{exec, in_transaction};
use crate::errors::{Constraint, Fail, violates};
use crate::events;

/// Creates `project` and logs `events` of it.
pub(super) async fn create(
    store: &Store,
    project: NewProject,
    events: RecordEvents<Project>,
) -> Result<Logged<Project>, CreateProjectStoreError> {
    let d = store.dialect;
    let created = Project {
        id: project.id,
        key: project.key.clone(),
        name: project.name.clone(),
        description: project.description.clone(),
        task_counter: 0,
        row_version: 1,
        archived_at: None,
        created_by: project.owner,
        created_at: project.created_at,
        updated_at: project.created_at,
        aggregation: Aggregation {
            project_id: project.id,
            counts: Counts::ZERO,
            updated_at: project.created_at,
        },
    };
    // Nothing of the new project is decided by the database: its events are known before.
    let encoded = events(&created);
    let result = in_transaction!(store.writer, |txn| -> Result<
        Vec<LoggedEvent>,
        Fail<CreateProjectStoreError>,
    > {
        let insert = d.stmt(
            "INSERT INTO projects (id, key, name, description, task_counter, row_version, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 1, $5, $6, $6)",
            vec![
                d.id(project.id),
                project.key.as_str().into(),
                project.name.as_str().into(),
                project.description.as_str().into(),
                d.id(project.owner),
                d.time(project.created_at),
            ],
        );
        if let Err(error) = exec(txn, insert).await {
            return Err(if violates(&error, Constraint::ProjectKey) {
                Fail::Rejected(CreateProjectStoreError::KeyTaken)
            } else if violates(&error, Constraint::ProjectCreator) {
                Fail::Rejected(CreateProjectStoreError::UnknownOwner)
            } else {
                Fail::Db(error)
            });
        }
        let owner = d.stmt(
            "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, 'owner', $3)",
            vec![d.id(project.id), d.id(project.owner), d.time(project.created_at)],
        );
        exec(txn, owner).await?;
        let rows: Vec<String> = (0..project.statuses.len())
            .map(|i| {
                let p = 2 + i * 5;
                format!(
                    "(${}, $1, ${}, ${}, ${}, ${}, 0)",
                    p,
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4
                )
            })
            .collect();
        let mut values = vec![d.id(project.id)];
        for status in &project.statuses {
            values.extend([
                d.id(status.id),
                status.name.as_str().into(),
                status.name.as_str().to_lowercase().into(),
                status.category.as_str().into(),
                i64::from(status.position).into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO statuses (id, project_id, name, name_lower, category, position, append_seq) VALUES {}",
            rows.join(", ")
        );
        exec(txn, d.stmt(&sql, values)).await?;
        let aggregation = d.stmt(
            "INSERT INTO project_aggregations (project_id, total, todo, in_progress, in_review, issue, done, updated_at) \
             VALUES ($1, 0, 0, 0, 0, 0, 0, $2)",
            vec![d.id(project.id), d.time(project.created_at)],
        );
        exec(txn, aggregation).await?;
        // The event log's head, so that the first event only updates it (see `events.rs`).
        let head = d.stmt(
            "INSERT INTO project_event_heads (project_id, seq) VALUES ($1, 0)",
            vec![d.id(project.id)],
        );
        exec(txn, head).await?;
        Ok(events::append(txn, d, encoded.clone()).await?)
    });
    match result {
        Ok(events) => Ok(Logged {
            value: created,
            events,
        }),
        Err(Fail::Rejected(error)) => Err(error),
        Err(other) => Err(CreateProjectStoreError::Store(other.into_repo())),
    }
}
