//! The aggregation port: get, the GROUP BY recount, the conflicting insert, the repair.

use chrono::Utc;
use tasklane_domain::aggregation::Counts;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{AggregationRepository, InsertAggregationError};
use tasklane_domain::services::tasks::TaskUpdateInput;
use tasklane_domain::values::StatusCategory;
use tasklane_store::testing::TestDb;

use crate::World;

async fn aggregation_insert_reports_a_conflict_and_repair_equals_a_recount(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "AGG").await?.project.id;
    for title in ["a", "b", "c"] {
        world.task(owner, project, title).await?;
    }
    let store = world.store();

    let stored = store
        .get_aggregation(project)
        .await?
        .expect("created with the project");
    assert_eq!(stored.counts.total, 3);
    assert!(
        store
            .get_aggregation(ProjectId::generate())
            .await?
            .is_none()
    );

    // The row exists: a second insert loses, whatever its values.
    let conflict = store
        .insert_aggregation(project, Counts::ZERO, Utc::now())
        .await;
    assert!(
        matches!(conflict, Err(InsertAggregationError::Conflict)),
        "{conflict:?}"
    );

    // Corrupt the row, then repair it.
    world
        .db
        .execute("UPDATE project_aggregations SET total = 9, todo = 9")
        .await?;
    let repair = store
        .repair_aggregation(project, Utc::now(), Box::new(|_| Vec::new()))
        .await?
        .value;
    assert_eq!(repair.before.map(|c| c.total), Some(9));
    assert_eq!(repair.after.counts, store.recount(project).await?);
    assert_eq!(repair.after.counts.todo, 3);
    world.assert_exact(project).await?;

    // A missing row: repair inserts it, insert succeeds once.
    world.db.execute("DELETE FROM project_aggregations").await?;
    let repair = store
        .repair_aggregation(project, Utc::now(), Box::new(|_| Vec::new()))
        .await?
        .value;
    assert_eq!(repair.before, None);
    world.db.execute("DELETE FROM project_aggregations").await?;
    let inserted = store
        .insert_aggregation(project, repair.after.counts, Utc::now())
        .await?;
    assert_eq!(inserted.counts.total, 3);
    Ok(())
}

async fn recount_counts_live_tasks_per_category_with_one_statement(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let view = world.project(owner, "CNT").await?;
    let project = view.project.id;
    let done = world
        .status(
            owner,
            project,
            tasklane_domain::values::StatusCategory::Done,
        )
        .await?;
    let first = world.task(owner, project, "todo").await?;
    let second = world.task(owner, project, "done").await?;
    world.task(owner, project, "third").await?;
    let change = TaskUpdateInput {
        status_id: Some(done),
        ..TaskUpdateInput::default()
    };
    world
        .services
        .tasks
        .update_task(owner, second.id, change, None)
        .await?;
    world
        .services
        .tasks
        .set_task_archived(owner, first.id, true, None)
        .await?;

    let (recount, statements) =
        tasklane_store::count_statements(world.store().recount(project)).await;
    let recount = recount?;
    assert_eq!(statements, 1, "one GROUP BY, no task loaded");
    assert_eq!((recount.total, recount.todo, recount.done), (2, 1, 1));
    world.assert_exact(project).await?;
    Ok(())
}

async fn the_tasks_version_grows_with_every_counted_change_and_outlives_the_row(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "VER").await?.project.id;
    let store = world.store();
    let fresh = store.aggregation_snapshot(project).await?;
    assert_eq!((fresh.counts, fresh.tasks_version), (Some(Counts::ZERO), 0));

    let task = world.task(owner, project, "a").await?;
    world.task(owner, project, "b").await?;
    let done = world.status(owner, project, StatusCategory::Done).await?;
    let change = TaskUpdateInput {
        status_id: Some(done),
        ..TaskUpdateInput::default()
    };
    world
        .services
        .tasks
        .update_task(owner, task.id, change, None)
        .await?;
    let (snapshot, statements) =
        tasklane_store::count_statements(store.aggregation_snapshot(project)).await;
    let snapshot = snapshot?;
    assert_eq!(statements, 1, "counts and version in one read");
    assert_eq!(
        snapshot.tasks_version, 3,
        "two creations and a status change"
    );
    assert_eq!(snapshot.counts.map(|c| (c.total, c.done)), Some((2, 1)));

    // A change without a delta leaves it alone.
    let rename = TaskUpdateInput {
        title: Some("renamed".into()),
        ..TaskUpdateInput::default()
    };
    world
        .services
        .tasks
        .update_task(owner, task.id, rename, None)
        .await?;
    assert_eq!(store.aggregation_snapshot(project).await?.tasks_version, 3);

    // The row goes; the version stays, and the next counted change moves it on.
    world.db.execute("DELETE FROM project_aggregations").await?;
    let orphan = store.aggregation_snapshot(project).await?;
    assert_eq!((orphan.counts, orphan.tasks_version), (None, 3));
    world.task(owner, project, "c").await?;
    let after = store.aggregation_snapshot(project).await?;
    assert_eq!(after.tasks_version, 4);
    world.assert_exact(project).await?;
    assert_eq!(
        store
            .aggregation_snapshot(ProjectId::generate())
            .await?
            .tasks_version,
        0
    );
    Ok(())
}

crate::contract!(
    aggregation_insert_reports_a_conflict_and_repair_equals_a_recount,
    the_tasks_version_grows_with_every_counted_change_and_outlives_the_row,
    recount_counts_live_tasks_per_category_with_one_statement,
);
