//! The schema itself: migrations go down and up again, and the constraints hold the rules in the
//! database too (non-negative counters, a task's status from its own project, byte-ordered ranks).

use tasklane_store::testing::TestDb;

use crate::World;

async fn migrations_go_down_and_up_again(db: TestDb) -> anyhow::Result<()> {
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (6, 0));
    assert!(
        db.execute("SELECT response_status FROM idempotency_keys")
            .await
            .is_err(),
        "a key keeps only its response body"
    );
    // The directory's one row starts at version 0, and a second row is refused.
    assert_eq!(
        db.scalar("SELECT version FROM directory_version WHERE id = 1")
            .await?,
        0
    );
    assert!(
        db.execute("INSERT INTO directory_version (id, version) VALUES (2, 0)")
            .await
            .is_err(),
        "one row only"
    );
    // Down one step at a time: the directory version goes, the response status comes back, then
    // comments and labels go, the event log, the tasks version, then the initial schema.
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (5, 1));
    assert!(
        db.execute("SELECT count(*) FROM directory_version")
            .await
            .is_err(),
        "the directory version dropped"
    );
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (4, 2));
    db.execute("SELECT response_status FROM idempotency_keys")
        .await?;
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (3, 3));
    for table in ["comments", "labels", "task_labels"] {
        let gone = db.execute(&format!("SELECT count(*) FROM {table}")).await;
        assert!(gone.is_err(), "{table} dropped");
    }
    assert!(
        db.execute("SELECT comment_count FROM tasks").await.is_err(),
        "the column went with them"
    );
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (2, 4));
    assert!(
        db.execute("SELECT count(*) FROM project_events")
            .await
            .is_err()
    );
    assert!(
        db.execute("SELECT count(*) FROM project_event_heads")
            .await
            .is_err(),
        "the heads went with it"
    );
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (1, 5));
    assert!(
        db.execute("SELECT count(*) FROM project_task_versions")
            .await
            .is_err()
    );
    assert_eq!(db.scalar("SELECT count(*) FROM tasks").await?, 0);
    db.store.migrate_down().await?;
    let (applied, pending) = db.store.migration_status().await?;
    assert_eq!((applied.len(), pending.len()), (0, 6));
    assert!(
        db.execute("SELECT count(*) FROM tasks").await.is_err(),
        "tables dropped"
    );
    db.store.migrate_up().await?;
    assert_eq!(db.scalar("SELECT count(*) FROM tasks").await?, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM project_events").await?, 0);
    assert_eq!(db.scalar("SELECT version FROM directory_version").await?, 0);
    assert_eq!(
        db.scalar("SELECT count(*) FROM project_task_versions")
            .await?,
        0
    );
    Ok(())
}

async fn constraints_refuse_negative_counters_foreign_statuses_and_order_ranks_by_bytes(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let web = world.project(owner, "WEB").await?.project.id;
    let app = world.project(owner, "APP").await?.project.id;
    world.task(owner, web, "t").await?;

    let negative = world
        .db
        .execute("UPDATE project_aggregations SET todo = todo - 5")
        .await;
    assert!(negative.is_err(), "counters are never negative");

    let foreign_status = world.services.statuses.list_statuses(owner, app).await?[0].id;
    let moved = world
        .db
        .execute(&format!(
            "UPDATE tasks SET status_id = '{foreign_status}' WHERE project_id = '{web}'"
        ))
        .await;
    assert!(
        moved.is_err(),
        "a task's status belongs to the task's project"
    );

    let duplicate = world
        .db
        .execute(&format!(
            "UPDATE tasks SET number = 1 WHERE project_id = '{web}'"
        ))
        .await;
    assert!(duplicate.is_ok(), "setting the same number is not a clash");
    world.task(owner, web, "u").await?;
    let clash = world
        .db
        .execute(&format!(
            "UPDATE tasks SET number = 1 WHERE project_id = '{web}'"
        ))
        .await;
    assert!(clash.is_err(), "numbers are unique per project");

    // `Z` (0x5A) sorts before `a` (0x61) byte-wise, whatever the database's collation.
    world
        .db
        .execute(&format!(
            "UPDATE tasks SET rank = 'Zz' WHERE project_id = '{web}' AND number = 1"
        ))
        .await?;
    world
        .db
        .execute(&format!(
            "UPDATE tasks SET rank = 'a0' WHERE project_id = '{web}' AND number = 2"
        ))
        .await?;
    let first = world
        .db
        .scalar(&format!(
            "SELECT number FROM tasks WHERE project_id = '{web}' ORDER BY rank LIMIT 1"
        ))
        .await?;
    assert_eq!(first, 1);
    Ok(())
}

crate::contract!(
    migrations_go_down_and_up_again,
    constraints_refuse_negative_counters_foreign_statuses_and_order_ranks_by_bytes,
);
