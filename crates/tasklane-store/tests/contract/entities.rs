//! The SeaORM entities against the migrated schema: every table has an entity, every entity
//! names exactly its table's columns, and every entity reads its table's rows (ids and times in
//! either database's form).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use futures::future::LocalBoxFuture;
use sea_orm::{EntityTrait, Iterable};
use tasklane_domain::ports::{
    IdempotencyRepository, IdempotencyRequest, NewRefreshToken, RefreshTokenRepository,
};
use tasklane_domain::services::labels::NewLabelInput;
use tasklane_domain::services::tasks::TaskUpdateInput;
use tasklane_store::Dialect;
use tasklane_store::entities::*;
use tasklane_store::testing::TestDb;
use uuid::Uuid;

use crate::World;

type Columns = BTreeMap<String, BTreeSet<String>>;

/// Adds entity `E`'s table and columns to `columns`.
fn add<E: EntityTrait>(columns: &mut Columns) {
    let names = E::Column::iter().map(|c| sea_orm::IdenStatic::as_str(&c).to_owned());
    columns.insert(E::default().table_name().to_owned(), names.collect());
}

/// Reads every row of `E`'s table through the entity; returns how many it read.
fn read_all<E: EntityTrait>(
    db: &TestDb,
) -> LocalBoxFuture<'_, anyhow::Result<(String, usize, i64)>> {
    Box::pin(async move {
        let table = E::default().table_name().to_owned();
        let read = E::find().all(db.connection()).await?.len();
        let counted = db.scalar(&format!("SELECT count(*) FROM {table}")).await?;
        Ok((table, read, counted))
    })
}

macro_rules! for_every_entity {
    ($apply:ident $(, $arg:expr)*) => {
        vec![
            $apply::<users::Entity>($($arg),*),
            $apply::<refresh_tokens::Entity>($($arg),*),
            $apply::<projects::Entity>($($arg),*),
            $apply::<project_members::Entity>($($arg),*),
            $apply::<statuses::Entity>($($arg),*),
            $apply::<tasks::Entity>($($arg),*),
            $apply::<project_aggregations::Entity>($($arg),*),
            $apply::<project_task_versions::Entity>($($arg),*),
            $apply::<idempotency_keys::Entity>($($arg),*),
            $apply::<project_event_heads::Entity>($($arg),*),
            $apply::<project_events::Entity>($($arg),*),
            $apply::<comments::Entity>($($arg),*),
            $apply::<labels::Entity>($($arg),*),
            $apply::<task_labels::Entity>($($arg),*),
            $apply::<directory_version::Entity>($($arg),*),
        ]
    };
}

async fn every_table_has_an_entity_that_names_its_columns_and_reads_its_rows(
    db: TestDb,
) -> anyhow::Result<()> {
    let sql = match db.dialect() {
        Dialect::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'"
        }
        Dialect::Sqlite => {
            "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name <> 'seaql_migrations' AND m.name NOT LIKE 'sqlite_%'"
        }
    };
    let mut in_database = Columns::new();
    for (table, column) in db.text_pairs(sql).await? {
        in_database.entry(table).or_default().insert(column);
    }
    let mut in_entities = Columns::new();
    let _: Vec<()> = for_every_entity!(add, &mut in_entities);
    assert_eq!(in_entities, in_database);

    // A row in every table; nullable columns both set (a parent, an assignee, a due date) and
    // unset (the rest) somewhere.
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "WEB").await?.project.id;
    let task = world.task(owner, project, "first").await?;
    let subtask = world.task(owner, project, "second").await?;
    let label = world
        .services
        .labels
        .create(
            owner,
            project,
            NewLabelInput {
                name: "bug".into(),
                color: "#aa0000".into(),
            },
        )
        .await?;
    let change = TaskUpdateInput {
        label_ids: Some(vec![label.id]),
        parent_id: Some(Some(task.id)),
        assignee_id: Some(Some(owner)),
        due_date: Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 24)),
        ..TaskUpdateInput::default()
    };
    world
        .services
        .tasks
        .update_task(owner, subtask.id, change, None)
        .await?;
    world
        .services
        .comments
        .add(owner, task.id, "a comment")
        .await?;
    let now = Utc::now();
    let store = world.store();
    store
        .store_refresh_token(NewRefreshToken {
            id: Uuid::new_v4(),
            user_id: owner,
            family_id: Uuid::new_v4(),
            token_hash: "h".into(),
            expires_at: now + chrono::Duration::days(1),
            created_at: now,
        })
        .await?;
    store
        .begin_idempotent(
            IdempotencyRequest {
                user_id: owner,
                key: "k".into(),
                project_id: project,
                request_hash: "r".into(),
            },
            now,
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(60),
        )
        .await?;

    for read in for_every_entity!(read_all, &world.db) {
        let (table, read, counted) = read.await?;
        assert!(counted > 0, "{table} has rows to read");
        assert_eq!(i64::try_from(read)?, counted, "{table} read whole");
    }
    let parent = tasks::Entity::find().all(world.db.connection()).await?;
    assert!(
        parent
            .iter()
            .any(|t| t.parent_id == Some(DbId(task.id.as_uuid()))),
        "a nullable id reads back"
    );
    Ok(())
}

crate::contract!(every_table_has_an_entity_that_names_its_columns_and_reads_its_rows);
