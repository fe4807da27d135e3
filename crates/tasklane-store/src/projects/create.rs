//! Project creation: the project, its owner, its statuses, its aggregation row and its event
//! log's head, with its first event, in one transaction, each row written through its entity.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Query;
use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::model::Project;
use tasklane_domain::ports::{CreateProjectStoreError, Logged, NewProject, RecordEvents};
use tasklane_domain::values::Role;

use crate::Store;
use crate::db::in_transaction;
use crate::entities::{
    project_aggregations, project_event_heads, project_members, projects, statuses,
};
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
        let at = d.time(project.created_at);
        let insert = Query::insert()
            .into_table(projects::Entity)
            .columns([
                projects::Column::Id,
                projects::Column::Key,
                projects::Column::Name,
                projects::Column::Description,
                projects::Column::TaskCounter,
                projects::Column::RowVersion,
                projects::Column::CreatedBy,
                projects::Column::CreatedAt,
                projects::Column::UpdatedAt,
            ])
            .values_panic([
                d.id(project.id).into(),
                project.key.as_str().into(),
                project.name.as_str().into(),
                project.description.as_str().into(),
                0i64.into(),
                1i64.into(),
                d.id(project.owner).into(),
                at.clone().into(),
                at.clone().into(),
            ])
            .to_owned();
        if let Err(error) = txn.execute(&insert).await {
            return Err(if violates(&error, Constraint::ProjectKey) {
                Fail::Rejected(CreateProjectStoreError::KeyTaken)
            } else if violates(&error, Constraint::ProjectCreator) {
                Fail::Rejected(CreateProjectStoreError::UnknownOwner)
            } else {
                Fail::Db(error)
            });
        }
        let owner = Query::insert()
            .into_table(project_members::Entity)
            .columns([
                project_members::Column::ProjectId,
                project_members::Column::UserId,
                project_members::Column::Role,
                project_members::Column::AddedAt,
            ])
            .values_panic([
                d.id(project.id).into(),
                d.id(project.owner).into(),
                Role::Owner.as_str().into(),
                at.clone().into(),
            ])
            .to_owned();
        txn.execute(&owner).await?;
        let mut statuses = Query::insert()
            .into_table(statuses::Entity)
            .columns([
                statuses::Column::Id,
                statuses::Column::ProjectId,
                statuses::Column::Name,
                statuses::Column::NameLower,
                statuses::Column::Category,
                statuses::Column::Position,
                statuses::Column::AppendSeq,
            ])
            .to_owned();
        for status in &project.statuses {
            statuses.values_panic([
                d.id(status.id).into(),
                d.id(project.id).into(),
                status.name.as_str().into(),
                status.name.as_str().to_lowercase().into(),
                status.category.as_str().into(),
                i64::from(status.position).into(),
                0i64.into(),
            ]);
        }
        // The domain always gives a project its default statuses; an empty list would be an
        // `INSERT` without rows, which no database accepts.
        if !project.statuses.is_empty() {
            txn.execute(&statuses).await?;
        }
        use project_aggregations::Column as A;
        let aggregation = Query::insert()
            .into_table(project_aggregations::Entity)
            .columns([
                A::ProjectId,
                A::Total,
                A::Todo,
                A::InProgress,
                A::InReview,
                A::Issue,
                A::Done,
                A::UpdatedAt,
            ])
            .values_panic([
                d.id(project.id).into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                at.clone().into(),
            ])
            .to_owned();
        txn.execute(&aggregation).await?;
        // The event log's head, so that the first event only updates it (see `events/mod.rs`).
        let head = Query::insert()
            .into_table(project_event_heads::Entity)
            .columns([
                project_event_heads::Column::ProjectId,
                project_event_heads::Column::Seq,
            ])
            .values_panic([d.id(project.id).into(), 0i64.into()])
            .to_owned();
        txn.execute(&head).await?;
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
