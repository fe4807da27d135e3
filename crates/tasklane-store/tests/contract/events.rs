//! The event log through its ports: what a write logs, reading it back per project and per task,
//! who may read, and pruning that keeps each project's newest event.

use chrono::{Duration, Utc};
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{EventLogRepository, EventQuery, EventScope};
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, TaskUpdateInput};
use tasklane_domain::values::{Role, StatusCategory};
use tasklane_store::testing::TestDb;

use crate::World;

fn query(scope: EventScope, viewer: UserId, after: u64, limit: u32) -> EventQuery {
    EventQuery {
        scope,
        viewer,
        after,
        limit,
    }
}

async fn the_log_reads_back_per_project_and_per_task_in_seq_order(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let outsider = world.user("outsider").await?;
    let project = world.project(owner, "LOG").await?.project.id;
    let store = world.store();
    let created = store
        .read_events(query(EventScope::Project(project), owner, 0, 10))
        .await?;
    let kinds: Vec<(u64, &str)> = created
        .items
        .iter()
        .map(|e| (e.seq, e.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [(1, "project_created")],
        "the creation is logged first"
    );
    assert_eq!(
        created.items[0].member_id,
        Some(owner),
        "to the creator's room"
    );
    assert_eq!((created.head, created.oldest), (1, Some(1)));
    assert_eq!(created.viewer_role, Some(Role::Owner));

    let first = world.task(owner, project, "first").await?;
    let second = world.task(owner, project, "second").await?;
    let rename = TaskUpdateInput {
        title: Some("first, renamed".into()),
        ..Default::default()
    };
    world
        .services
        .tasks
        .update_task(owner, first.id, rename, None)
        .await?;

    let all = store
        .read_events(query(EventScope::Project(project), owner, 0, 100))
        .await?;
    let kinds: Vec<(u64, &str)> = all.items.iter().map(|e| (e.seq, e.kind.as_str())).collect();
    // The first creation moves the derived status (an empty project is todo, so it stays todo:
    // no status event); every event has its own number.
    assert_eq!(
        kinds,
        [
            (1, "project_created"),
            (2, "task_created"),
            (3, "task_created"),
            (4, "task_updated")
        ]
    );
    assert_eq!((all.head, all.oldest), (4, Some(1)));
    assert!(
        all.items[3].data.contains("task_updated"),
        "the encoder's data is kept"
    );
    assert!(all.items.iter().all(|e| e.actor_id == owner));

    let page = store
        .read_events(query(EventScope::Project(project), owner, 2, 1))
        .await?;
    assert_eq!(page.items.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);

    let history = store
        .read_events(query(EventScope::Task(first.id), owner, 0, 100))
        .await?;
    assert_eq!(
        history.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 4],
        "only the task's own events, numbered in the project's sequence"
    );
    let other = store
        .read_events(query(EventScope::Task(second.id), owner, 0, 100))
        .await?;
    assert_eq!(other.items.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);

    let stranger = store
        .read_events(query(EventScope::Project(project), outsider, 0, 100))
        .await?;
    assert_eq!(stranger.viewer_role, None, "the service refuses on this");

    world
        .services
        .projects
        .delete_project(owner, project)
        .await?;
    let gone = store
        .read_events(query(EventScope::Project(project), owner, 0, 100))
        .await?;
    assert_eq!((gone.viewer_role, gone.items.len()), (None, 0));
    assert_eq!(
        world
            .db
            .scalar("SELECT count(*) FROM project_events")
            .await?,
        0,
        "a deleted project's log is deleted with it"
    );
    let deleted = world.published.logged();
    let last = deleted.last().map(|e| (e.seq, e.event.payload.name()));
    assert_eq!(
        last,
        Some((5, "project_deleted")),
        "numbered after the log's last event"
    );
    Ok(())
}

async fn pruning_deletes_old_events_but_keeps_each_projects_newest(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "OLD").await?.project.id;
    for title in ["a", "b", "c"] {
        world.task(owner, project, title).await?;
    }
    let store = world.store();
    assert_eq!(store.prune_events(Utc::now() - Duration::days(1)).await?, 0);
    let pruned = store.prune_events(Utc::now() + Duration::days(1)).await?;
    assert_eq!(pruned, 3, "all but the newest (project_created, a, b)");
    let read = store
        .read_events(query(EventScope::Project(project), owner, 0, 100))
        .await?;
    assert_eq!((read.head, read.oldest), (4, Some(4)));
    world.task(owner, project, "d").await?;
    let read = store
        .read_events(query(EventScope::Project(project), owner, 4, 100))
        .await?;
    assert_eq!(
        read.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5],
        "the sequence continues"
    );
    Ok(())
}

/// The events a write logs inside its own statement (PostgreSQL) are encoded before the
/// database decides a task's number, key and rank: the log and the published frame must both hold
/// the decided values, byte for byte the same.
async fn logged_events_hold_the_values_the_database_decided(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "DEC").await?.project.id;
    let done = world.status(owner, project, StatusCategory::Done).await?;
    let tasks = &world.services.tasks;

    let mut written = Vec::new();
    // A title of 19 digits, the shape of a stand-in, is the client's text and stays as it is.
    written.push(world.task(owner, project, "1234567890123456789").await?);
    let batch = (0..3)
        .map(|i| NewTaskInput {
            title: format!("b{i}"),
            ..Default::default()
        })
        .collect();
    written.extend(tasks.create_batch(owner, project, batch).await?.tasks);
    let to_end = MoveInput {
        status_id: Some(done),
        ..Default::default()
    };
    written.push(tasks.move_task(owner, written[1].id, to_end, None).await?);
    let between = MoveInput {
        after_id: Some(written[2].id),
        before_id: Some(written[3].id),
        ..Default::default()
    };
    written.push(tasks.move_task(owner, written[0].id, between, None).await?);
    let rename = TaskUpdateInput {
        title: Some("renamed".into()),
        ..Default::default()
    };
    written.push(
        tasks
            .update_task(owner, written[3].id, rename, None)
            .await?,
    );

    let published = world.published.logged();
    let log = world
        .store()
        .read_events(query(EventScope::Project(project), owner, 0, 100))
        .await?;
    let task_events: Vec<_> = published
        .iter()
        .filter(|e| e.event.task_id().is_some())
        .collect();
    assert_eq!(
        task_events.len(),
        written.len(),
        "one event per task written"
    );
    for (event, task) in task_events.iter().zip(&written) {
        let logged = log
            .items
            .iter()
            .find(|l| l.seq == event.seq)
            .ok_or_else(|| anyhow::anyhow!("seq {} not in the log", event.seq))?;
        assert_eq!(logged.data, event.data, "log and frame hold the same bytes");
        let data: serde_json::Value = serde_json::from_str(&event.data)?;
        let expected = serde_json::json!({
            "key": task.key.to_string(),
            "title": task.title.as_str(),
            "number": task.key.number(),
            "rank": task.rank.as_str(),
            "row_version": task.row_version,
        });
        assert_eq!(
            data["task"],
            expected,
            "{} (seq {})",
            event.event.payload.name(),
            event.seq
        );
        let mut carried = event.event.clone();
        assert_eq!(
            carried.task_mut().map(|t| &*t),
            Some(task),
            "the event's task as written"
        );
    }
    assert!(
        task_events[0]
            .data
            .contains(r#""title":"1234567890123456789""#),
        "the client's digits are untouched"
    );
    Ok(())
}

crate::contract!(
    logged_events_hold_the_values_the_database_decided,
    the_log_reads_back_per_project_and_per_task_in_seq_order,
    pruning_deletes_old_events_but_keeps_each_projects_newest,
);
