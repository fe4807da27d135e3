//! Reads: one task by id or key, board pages in order and keyset-paginated without skips or
//! repeats while rows change, filters and search.

use std::collections::HashSet;

use tasklane_domain::errors::{Classify, ErrorClass};
use tasklane_domain::ids::TaskId;
use tasklane_domain::ports::TaskOrder;
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, TaskListInput, TaskUpdateInput};
use tasklane_domain::values::{Priority, Role, StatusCategory, TaskType};
use tasklane_store::testing::TestDb;

use crate::World;

async fn tasks_are_read_by_id_and_key_and_hidden_from_non_members(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let viewer = world.user("viewer").await?;
    let stranger = world.user("stranger").await?;
    let project = world.project(owner, "RD").await?.project.id;
    world
        .services
        .members
        .set_member_role(owner, project, viewer, Role::Viewer)
        .await?;
    let task = world.task(owner, project, "read me").await?;
    let tasks = &world.services.tasks;

    assert_eq!(tasks.get_task(viewer, task.id).await?, task);
    assert_eq!(tasks.get_task_by_key(viewer, project, "rd-1").await?, task);
    for (actor, key) in [(stranger, "RD-1"), (viewer, "RD-2"), (viewer, "XX-1")] {
        assert_eq!(
            tasks
                .get_task_by_key(actor, project, key)
                .await
                .unwrap_err()
                .class(),
            ErrorClass::NotFound
        );
    }
    assert_eq!(
        tasks.get_task(stranger, task.id).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    assert_eq!(
        tasks
            .get_task(owner, TaskId::generate())
            .await
            .unwrap_err()
            .class(),
        ErrorClass::NotFound
    );
    let hidden = tasks
        .list_tasks(stranger, project, TaskListInput::default())
        .await
        .unwrap_err();
    assert_eq!(hidden.class(), ErrorClass::NotFound);
    Ok(())
}

async fn board_pages_follow_status_position_then_rank_and_never_skip_or_repeat_while_rows_change(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "BRD").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let tasks = &world.services.tasks;
    let inputs: Vec<NewTaskInput> = (0..30)
        .map(|i| NewTaskInput {
            title: format!("t{i:02}"),
            status_id: Some(statuses[i % 3].id),
            ..Default::default()
        })
        .collect();
    let created = tasks.create_batch(owner, project, inputs).await?.tasks;

    let board = tasks
        .list_tasks(
            owner,
            project,
            TaskListInput {
                limit: Some(200),
                ..Default::default()
            },
        )
        .await?;
    let positions: Vec<usize> = board
        .items
        .iter()
        .map(|t| statuses.iter().position(|s| s.id == t.status.id).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] <= w[1]),
        "grouped by status position"
    );
    assert!(
        board
            .items
            .windows(2)
            .all(|w| w[0].status.id != w[1].status.id || w[0].rank < w[1].rank)
    );
    assert_eq!(board.next_cursor, None);

    // Page through while other rows come and go: every task present throughout is seen once.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut round = 0;
    loop {
        let page = tasks
            .list_tasks(
                owner,
                project,
                TaskListInput {
                    limit: Some(7),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await?;
        seen.extend(page.items.iter().map(|t| t.id));
        round += 1;
        if round == 2 {
            world.task(owner, project, "added meanwhile").await?;
            tasks.delete_task(owner, created[29].id, None).await?;
            tasks
                .set_task_archived(owner, created[28].id, true, None)
                .await?;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: HashSet<TaskId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no task repeated");
    for task in &created[..28] {
        assert!(unique.contains(&task.id), "{} skipped", task.title.as_str());
    }

    // The same by most recent change.
    tasks
        .update_task(
            owner,
            created[3].id,
            TaskUpdateInput {
                title: Some("touched".into()),
                ..Default::default()
            },
            None,
        )
        .await?;
    let recent = tasks
        .list_tasks(
            owner,
            project,
            TaskListInput {
                order: TaskOrder::Updated,
                limit: Some(1),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(recent.items[0].id, created[3].id);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let input = TaskListInput {
            order: TaskOrder::Updated,
            limit: Some(9),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = tasks.list_tasks(owner, project, input).await?;
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: HashSet<TaskId> = seen.iter().copied().collect();
    assert_eq!(
        (unique.len(), seen.len()),
        (29, 29),
        "28 left of the batch plus the added one"
    );
    Ok(())
}

async fn listings_filter_by_status_assignee_priority_type_archive_and_literal_search(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let editor = world.user("editor").await?;
    let project = world.project(owner, "FLT").await?.project.id;
    world
        .services
        .members
        .set_member_role(owner, project, editor, Role::Editor)
        .await?;
    let issue = world.status(owner, project, StatusCategory::Issue).await?;
    let tasks = &world.services.tasks;
    let make = |title: &str| NewTaskInput {
        title: title.into(),
        ..Default::default()
    };
    let a = tasks
        .create_task(
            owner,
            project,
            NewTaskInput {
                assignee_id: Some(editor),
                priority: Some(Priority::High),
                ..make("100% done")
            },
        )
        .await?
        .tasks
        .remove(0);
    let b = tasks
        .create_task(
            owner,
            project,
            NewTaskInput {
                task_type: Some(TaskType::Bug),
                ..make("snake_case bug")
            },
        )
        .await?
        .tasks
        .remove(0);
    let c = tasks
        .create_task(owner, project, make("plain"))
        .await?
        .tasks
        .remove(0);
    tasks
        .move_task(
            owner,
            c.id,
            MoveInput {
                status_id: Some(issue),
                ..Default::default()
            },
            None,
        )
        .await?;
    tasks.set_task_archived(owner, b.id, true, None).await?;

    let ids = |page: tasklane_domain::model::Page<tasklane_domain::model::Task>| {
        page.items.iter().map(|t| t.id).collect::<Vec<_>>()
    };
    let list = |input: TaskListInput| tasks.list_tasks(owner, project, input);
    assert_eq!(
        ids(list(TaskListInput {
            assignee_id: Some(editor),
            ..Default::default()
        })
        .await?),
        [a.id]
    );
    assert_eq!(
        ids(list(TaskListInput {
            priority: Some(Priority::High),
            ..Default::default()
        })
        .await?),
        [a.id]
    );
    assert_eq!(
        ids(list(TaskListInput {
            status_id: Some(issue),
            ..Default::default()
        })
        .await?),
        [c.id]
    );
    assert!(
        ids(list(TaskListInput {
            task_type: Some(TaskType::Bug),
            ..Default::default()
        })
        .await?)
        .is_empty(),
        "archived hidden"
    );
    assert_eq!(
        ids(list(TaskListInput {
            task_type: Some(TaskType::Bug),
            include_archived: true,
            ..Default::default()
        })
        .await?),
        [b.id]
    );
    assert_eq!(
        ids(list(TaskListInput {
            search: Some("%".into()),
            include_archived: true,
            ..Default::default()
        })
        .await?),
        [a.id],
        "% is literal"
    );
    assert_eq!(
        ids(list(TaskListInput {
            search: Some("_".into()),
            include_archived: true,
            ..Default::default()
        })
        .await?),
        [b.id],
        "_ is literal"
    );
    assert_eq!(
        ids(list(TaskListInput {
            search: Some("flt-3".into()),
            ..Default::default()
        })
        .await?),
        [c.id],
        "by key"
    );
    assert_eq!(
        ids(list(TaskListInput {
            search: Some("PLAIN".into()),
            ..Default::default()
        })
        .await?),
        [c.id],
        "ignoring case"
    );
    Ok(())
}

crate::contract!(
    tasks_are_read_by_id_and_key_and_hidden_from_non_members,
    board_pages_follow_status_position_then_rank_and_never_skip_or_repeat_while_rows_change,
    listings_filter_by_status_assignee_priority_type_archive_and_literal_search,
);
