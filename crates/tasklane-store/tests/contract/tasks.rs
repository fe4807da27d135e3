//! Task writes: numbers, ranks, the aggregation, restoration, batches, changes, rebalance,
//! deletion with sub-tasks, the missing-row path, a forced failure, the auto-archive job.

use chrono::{Duration, Utc};
use tasklane_domain::aggregation::Counts;
use tasklane_domain::errors::{Classify, ErrorClass, TxError};
use tasklane_domain::ids::{StatusId, TaskId};
use tasklane_domain::model::Status;
use tasklane_domain::ports::{CreateTasksRequest, TaskRepository};
use tasklane_domain::rank::Rank;
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, TaskUpdateInput};
use tasklane_domain::values::{Role, StatusCategory};
use tasklane_store::Dialect;
use tasklane_store::testing::TestDb;

use crate::World;

fn status(statuses: &[Status], category: StatusCategory) -> StatusId {
    statuses.iter().find(|s| s.category == category).unwrap().id
}

async fn tasks_get_consecutive_numbers_append_ranks_and_update_the_aggregation(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "NUM").await?.project.id;
    let mut previous: Option<Rank> = None;
    for n in 1..=5u64 {
        let task = world.task(owner, project, &format!("task {n}")).await?;
        assert_eq!(task.key.to_string(), format!("NUM-{n}"));
        assert_eq!(task.status.category, StatusCategory::Todo);
        if let Some(previous) = previous {
            assert!(
                task.rank > previous,
                "appended at the end: {} > {previous}",
                task.rank
            );
        }
        previous = Some(task.rank.clone());
    }
    let stored = world.assert_exact(project).await?;
    assert_eq!((stored.total, stored.todo), (5, 5));
    let read = world.services.projects.get_project(owner, project).await?;
    assert_eq!(read.project.task_counter, 5);

    // A deleted number is never reused.
    let last = world
        .services
        .tasks
        .get_task_by_key(owner, project, "NUM-5")
        .await?;
    world
        .services
        .tasks
        .delete_task(owner, last.id, None)
        .await?;
    assert_eq!(world.task(owner, project, "next").await?.number(), 6);
    Ok(())
}

async fn a_task_with_an_assignee_a_parent_and_a_done_status_is_stored_whole(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let editor = world.user("editor").await?;
    let viewer = world.user("viewer").await?;
    let project = world.project(owner, "ALL").await?.project.id;
    world
        .services
        .members
        .set_member_role(owner, project, editor, Role::Editor)
        .await?;
    world
        .services
        .members
        .set_member_role(owner, project, viewer, Role::Viewer)
        .await?;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let parent = world.task(owner, project, "parent").await?;
    let input = NewTaskInput {
        title: "  child  ".into(),
        description: Some("details".into()),
        status_id: Some(status(&statuses, StatusCategory::Done)),
        priority: Some(tasklane_domain::values::Priority::Highest),
        task_type: Some(tasklane_domain::values::TaskType::Bug),
        story_points: Some(8),
        due_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
        assignee_id: Some(editor),
        parent_id: Some(parent.id),
    };
    let created = world
        .services
        .tasks
        .create_task(owner, project, input.clone())
        .await?;
    let child = &created.tasks[0];
    let stored = world.services.tasks.get_task(editor, child.id).await?;
    assert_eq!(
        &stored, child,
        "what the write returned is what a read returns"
    );
    assert_eq!(stored.title.as_str(), "child");
    assert_eq!(stored.assignee.as_ref().map(|u| u.id), Some(editor));
    assert_eq!(stored.reporter.as_ref().map(|u| u.id), Some(owner));
    assert!(stored.completed_at.is_some());
    assert_eq!(
        world
            .services
            .tasks
            .get_task(owner, parent.id)
            .await?
            .subtask_count,
        1
    );
    assert_eq!(
        created.aggregation.after,
        Counts {
            total: 2,
            todo: 1,
            done: 1,
            ..Counts::ZERO
        }
    );

    let viewer_assigned = NewTaskInput {
        assignee_id: Some(viewer),
        ..input.clone()
    };
    let error = world
        .services
        .tasks
        .create_task(owner, project, viewer_assigned)
        .await
        .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].field,
        "assignee_id"
    );
    let foreign = world.project(owner, "OTH").await?.project.id;
    let foreign_status = world
        .services
        .statuses
        .list_statuses(owner, foreign)
        .await?[0]
        .id;
    let error = world
        .services
        .tasks
        .create_task(
            owner,
            project,
            NewTaskInput {
                status_id: Some(foreign_status),
                ..input
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "status_id");
    world.assert_exact(project).await?;
    Ok(())
}

async fn a_batch_is_created_whole_or_not_at_all(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "BAT").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let doing = status(&statuses, StatusCategory::InProgress);
    let inputs: Vec<NewTaskInput> = (0..20)
        .map(|i| NewTaskInput {
            title: format!("b{i}"),
            status_id: (i % 2 == 1).then_some(doing),
            ..Default::default()
        })
        .collect();
    let created = world
        .services
        .tasks
        .create_batch(owner, project, inputs.clone())
        .await?;
    let numbers: Vec<u64> = created.tasks.iter().map(|t| t.number()).collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    let doing_ranks: Vec<&Rank> = created
        .tasks
        .iter()
        .filter(|t| t.status.id == doing)
        .map(|t| &t.rank)
        .collect();
    assert!(
        doing_ranks.windows(2).all(|w| w[0] < w[1]),
        "each column appended in order"
    );
    assert_eq!(
        created.aggregation.after,
        Counts {
            total: 20,
            todo: 10,
            in_progress: 10,
            ..Counts::ZERO
        }
    );

    let mut bad = inputs;
    bad[7].parent_id = Some(TaskId::generate());
    let error = world
        .services
        .tasks
        .create_batch(owner, project, bad)
        .await
        .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].field,
        "tasks[7].parent_id"
    );
    assert_eq!(world.db.scalar("SELECT count(*) FROM tasks").await?, 20);
    assert_eq!(
        world
            .services
            .projects
            .get_project(owner, project)
            .await?
            .project
            .task_counter,
        20
    );
    world.assert_exact(project).await?;
    Ok(())
}

async fn creating_in_an_archived_project_restores_it(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "RES").await?.project.id;
    world
        .services
        .projects
        .set_archived(owner, project, true)
        .await?;
    let input = NewTaskInput {
        title: "back to work".into(),
        ..Default::default()
    };
    let created = world
        .services
        .tasks
        .create_task(owner, project, input)
        .await?;
    assert!(created.project_restored);
    assert!(created.project.archived_at.is_none());
    let read = world.services.projects.get_project(owner, project).await?;
    assert!(read.project.archived_at.is_none());
    assert_eq!(
        read.project.row_version, 3,
        "archive and restore are both updates"
    );
    Ok(())
}

async fn a_creation_without_an_aggregation_row_is_refused_whole_and_the_service_bootstraps_it(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "MIS").await?.project.id;
    world.task(owner, project, "before").await?;
    world.db.execute("DELETE FROM project_aggregations").await?;

    let request = CreateTasksRequest {
        project_id: project,
        actor: owner,
        assignee_ids: vec![],
        parent_ids: vec![],
    };
    let input = NewTaskInput {
        title: "t".into(),
        ..Default::default()
    };
    let decide = Box::new(move |context: tasklane_domain::ports::CreateTasksContext| {
        let status = context.statuses[0].clone();
        Ok(tasklane_domain::ports::CreateTasksPlan {
            drafts: vec![tasklane_domain::ports::TaskDraft {
                id: TaskId::generate(),
                title: tasklane_domain::values::TaskTitle::new("t").unwrap(),
                description: None,
                status: status.clone(),
                priority: Default::default(),
                task_type: Default::default(),
                story_points: None,
                due_date: None,
                assignee: None,
                reporter: None,
                parent_id: None,
                completed_at: None,
            }],
            delta: tasklane_domain::aggregation::AggregationDelta::create(status.category),
            restore_project: false,
            at: Utc::now(),
        })
    });
    let result = world
        .store()
        .create_tasks(request, decide, crate::no_events())
        .await;
    assert!(
        matches!(result, Err(TxError::AggregationMissing)),
        "{result:?}"
    );
    assert_eq!(
        world.db.scalar("SELECT count(*) FROM tasks").await?,
        1,
        "rolled back"
    );
    assert_eq!(
        world
            .services
            .projects
            .get_project(owner, project)
            .await?
            .project
            .task_counter,
        1
    );

    let created = world
        .services
        .tasks
        .create_task(owner, project, input)
        .await?;
    assert_eq!(
        created.bootstrap,
        Some(tasklane_domain::services::BootstrapSource::Recount)
    );
    assert_eq!(
        created.aggregation.after.total, 2,
        "the recount plus the new task, once"
    );
    assert_eq!(created.tasks[0].number(), 2);
    world.assert_exact(project).await?;
    Ok(())
}

async fn updates_moves_archives_unarchives_and_deletes_keep_the_aggregation_exact(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "CHG").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let tasks = &world.services.tasks;
    let a = world.task(owner, project, "a").await?;
    let b = world.task(owner, project, "b").await?;

    let change = TaskUpdateInput {
        title: Some("a, renamed".into()),
        status_id: Some(status(&statuses, StatusCategory::Done)),
        story_points: Some(Some(3)),
        ..Default::default()
    };
    let stale = tasks
        .update_task(owner, a.id, change.clone(), Some(7))
        .await
        .unwrap_err();
    assert_eq!(stale.class(), ErrorClass::VersionMismatch);
    let updated = tasks.update_task(owner, a.id, change, Some(1)).await?;
    assert_eq!(
        (updated.title.as_str(), updated.row_version),
        ("a, renamed", 2)
    );
    assert!(updated.completed_at.is_some());
    assert_eq!(
        tasks.get_task(owner, a.id).await?,
        updated,
        "the returned task is the stored one"
    );
    assert_eq!(
        world.assert_exact(project).await?,
        Counts {
            total: 2,
            todo: 1,
            done: 1,
            ..Counts::ZERO
        }
    );

    let moved = tasks
        .move_task(
            owner,
            b.id,
            MoveInput {
                status_id: Some(status(&statuses, StatusCategory::Issue)),
                ..Default::default()
            },
            None,
        )
        .await?;
    assert_eq!(moved.status.category, StatusCategory::Issue);
    assert_eq!(tasks.get_task(owner, b.id).await?, moved);
    assert_eq!(world.assert_exact(project).await?.issue, 1);

    tasks.set_task_archived(owner, b.id, true, None).await?;
    assert_eq!(
        world.assert_exact(project).await?,
        Counts {
            total: 1,
            done: 1,
            ..Counts::ZERO
        }
    );
    let refused = tasks
        .move_task(
            owner,
            b.id,
            MoveInput {
                status_id: Some(statuses[0].id),
                ..Default::default()
            },
            None,
        )
        .await;
    assert_eq!(refused.unwrap_err().class(), ErrorClass::Archived);
    let back = tasks.set_task_archived(owner, b.id, false, None).await?;
    assert_eq!(back.status.category, StatusCategory::Issue);
    assert_eq!(world.assert_exact(project).await?.issue, 1);

    tasks.delete_task(owner, a.id, None).await?;
    assert_eq!(
        world.assert_exact(project).await?,
        Counts {
            total: 1,
            issue: 1,
            ..Counts::ZERO
        }
    );
    assert_eq!(
        tasks.get_task(owner, a.id).await.unwrap_err().class(),
        ErrorClass::NotFound
    );

    // Unarchiving a task of an archived project restores the project.
    tasks.set_task_archived(owner, b.id, true, None).await?;
    world
        .services
        .projects
        .set_archived(owner, project, true)
        .await?;
    tasks.set_task_archived(owner, b.id, false, None).await?;
    assert!(
        world
            .services
            .projects
            .get_project(owner, project)
            .await?
            .project
            .archived_at
            .is_none()
    );
    world.assert_exact(project).await?;
    Ok(())
}

async fn moves_land_between_their_neighbours_and_tied_neighbours_rebalance_the_column(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "RNK").await?.project.id;
    let tasks = &world.services.tasks;
    let mut column = Vec::new();
    for title in ["a", "b", "c", "d"] {
        column.push(world.task(owner, project, title).await?);
    }
    let (a, b, c, d) = (&column[0], &column[1], &column[2], &column[3]);
    let moved = tasks
        .move_task(
            owner,
            d.id,
            MoveInput {
                after_id: Some(a.id),
                before_id: Some(b.id),
                ..Default::default()
            },
            None,
        )
        .await?;
    assert!(a.rank < moved.rank && moved.rank < b.rank);
    let first = tasks
        .move_task(
            owner,
            c.id,
            MoveInput {
                before_id: Some(a.id),
                ..Default::default()
            },
            None,
        )
        .await?;
    assert!(first.rank < a.rank);
    let order = |page: Vec<tasklane_domain::model::Task>| {
        page.iter()
            .map(|t| t.title.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let board = tasks.list_tasks(owner, project, Default::default()).await?;
    assert_eq!(order(board.items), ["c", "a", "d", "b"]);

    // Force a tie between a and d, then place b between them: the column is renumbered.
    let a_rank = tasks.get_task(owner, a.id).await?.rank;
    world
        .db
        .execute(&format!(
            "UPDATE tasks SET rank = '{a_rank}' WHERE title = 'd'"
        ))
        .await?;
    let (low, high) = if a.id < d.id { (a, d) } else { (d, a) };
    let placed = tasks
        .move_task(
            owner,
            b.id,
            MoveInput {
                after_id: Some(low.id),
                before_id: Some(high.id),
                ..Default::default()
            },
            None,
        )
        .await?;
    let board = tasks.list_tasks(owner, project, Default::default()).await?;
    let titles = order(board.items.clone());
    assert_eq!(titles[0], "c");
    assert_eq!(titles[2], "b", "b between the tied pair: {titles:?}");
    let ranks: Vec<&Rank> = board.items.iter().map(|t| &t.rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "distinct after the rebalance: {ranks:?}"
    );
    assert!(placed.rank.as_str().len() <= 4);
    // Appends continue after the renumbered column.
    let e = world.task(owner, project, "e").await?;
    assert!(board.items.iter().all(|t| t.rank < e.rank));
    Ok(())
}

async fn deleting_a_task_deletes_its_subtasks_and_subtracts_each_live_one(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "DEL").await?.project.id;
    let root = world.task(owner, project, "root").await?;
    let child_of = |parent: TaskId, title: &str| NewTaskInput {
        title: title.into(),
        parent_id: Some(parent),
        ..Default::default()
    };
    let child = world
        .create(owner, project, child_of(root.id, "child"))
        .await?;
    let grandchild = world
        .create(owner, project, child_of(child.id, "gc"))
        .await?;
    world
        .services
        .tasks
        .set_task_archived(owner, grandchild.id, true, None)
        .await?;
    let other = world.task(owner, project, "other").await?;

    // A cycle is refused: root under its own grandchild's parent.
    let cycle = TaskUpdateInput {
        parent_id: Some(Some(child.id)),
        ..Default::default()
    };
    let error = world
        .services
        .tasks
        .update_task(owner, root.id, cycle, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].message,
        "would make the task its own ancestor"
    );

    world
        .services
        .tasks
        .delete_task(owner, root.id, None)
        .await?;
    assert_eq!(world.db.scalar("SELECT count(*) FROM tasks").await?, 1);
    assert_eq!(
        world.services.tasks.get_task(owner, other.id).await?.id,
        other.id
    );
    assert_eq!(world.assert_exact(project).await?.total, 1);
    Ok(())
}

async fn a_transaction_that_fails_after_the_task_insert_changes_nothing(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "FAIL").await?.project.id;
    world.task(owner, project, "before").await?;
    let before = world
        .services
        .projects
        .get_project(owner, project)
        .await?
        .project;
    // The aggregation update, which runs after the task insert, fails.
    match world.db.dialect() {
        Dialect::Postgres => {
            world.db.execute(
                "CREATE FUNCTION fail_agg() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER fail_agg BEFORE UPDATE ON project_aggregations FOR EACH ROW EXECUTE FUNCTION fail_agg();",
            ).await?;
        }
        Dialect::Sqlite => {
            world.db.execute(
                "CREATE TRIGGER fail_agg BEFORE UPDATE ON project_aggregations BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            ).await?;
        }
    }
    let error = world
        .services
        .tasks
        .create_task(
            owner,
            project,
            NewTaskInput {
                title: "doomed".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    match world.db.dialect() {
        Dialect::Postgres => {
            world
                .db
                .execute("DROP TRIGGER fail_agg ON project_aggregations")
                .await?
        }
        Dialect::Sqlite => world.db.execute("DROP TRIGGER fail_agg").await?,
    }

    let after = world
        .services
        .projects
        .get_project(owner, project)
        .await?
        .project;
    assert_eq!(after.task_counter, before.task_counter, "counter unchanged");
    assert_eq!(
        after.aggregation.counts, before.aggregation.counts,
        "aggregation unchanged"
    );
    assert_eq!(
        world.db.scalar("SELECT count(*) FROM tasks").await?,
        1,
        "no task"
    );
    assert_eq!(
        world.task(owner, project, "next").await?.number(),
        2,
        "no gap"
    );
    Ok(())
}

async fn the_auto_archive_job_archives_old_done_tasks_and_updates_the_aggregation(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "JOB").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let done = status(&statuses, StatusCategory::Done);
    let old = world.task(owner, project, "old").await?;
    let recent = world.task(owner, project, "recent").await?;
    world.task(owner, project, "open").await?;
    for id in [old.id, recent.id] {
        world
            .services
            .tasks
            .update_task(
                owner,
                id,
                TaskUpdateInput {
                    status_id: Some(done),
                    ..Default::default()
                },
                None,
            )
            .await?;
    }
    let now = Utc::now();
    let long_ago = now - Duration::days(30);
    let stamp = match world.db.dialect() {
        Dialect::Postgres => format!("'{}'", long_ago.to_rfc3339()),
        Dialect::Sqlite => format!("'{}'", long_ago.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
    };
    world
        .db
        .execute(&format!(
            "UPDATE tasks SET completed_at = {stamp} WHERE title = 'old'"
        ))
        .await?;

    let batches: Vec<_> = world
        .store()
        .archive_done_tasks(now - Duration::days(7), 500, now, Box::new(|_| Vec::new()))
        .await?
        .into_iter()
        .map(|logged| logged.value)
        .collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(
        batches[0].tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [old.id]
    );
    assert!(batches[0].tasks[0].archived_at.is_some());
    assert_eq!(
        batches[0].aggregation.after,
        Counts {
            total: 2,
            todo: 1,
            done: 1,
            ..Counts::ZERO
        }
    );
    world.assert_exact(project).await?;
    assert!(
        world
            .store()
            .archive_done_tasks(now - Duration::days(7), 500, now, Box::new(|_| Vec::new()))
            .await?
            .is_empty()
    );
    Ok(())
}

crate::contract!(
    tasks_get_consecutive_numbers_append_ranks_and_update_the_aggregation,
    a_task_with_an_assignee_a_parent_and_a_done_status_is_stored_whole,
    a_batch_is_created_whole_or_not_at_all,
    creating_in_an_archived_project_restores_it,
    a_creation_without_an_aggregation_row_is_refused_whole_and_the_service_bootstraps_it,
    updates_moves_archives_unarchives_and_deletes_keep_the_aggregation_exact,
    moves_land_between_their_neighbours_and_tied_neighbours_rebalance_the_column,
    deleting_a_task_deletes_its_subtasks_and_subtracts_each_live_one,
    a_transaction_that_fails_after_the_task_insert_changes_nothing,
    the_auto_archive_job_archives_old_done_tasks_and_updates_the_aggregation,
);
