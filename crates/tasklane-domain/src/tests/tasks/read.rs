//! Reads: who may see a task, the listing's validation and filters, and cursors.

use super::*;

#[tokio::test]
async fn reads_hide_tasks_from_non_members_and_keys_of_other_projects() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 42);
    let mut h = Harness::new();
    let hidden = task.clone();
    h.tasks.expect_get_task().returning(move |_, _| {
        Ok(TaskRead {
            viewer_role: None,
            task: Some(hidden.clone()),
        })
    });
    let visible = task.clone();
    h.tasks
        .expect_get_task_by_number()
        .returning(move |_, _, _| {
            Ok(TaskRead {
                viewer_role: Some(Role::Viewer),
                task: Some(visible.clone()),
            })
        });
    let (services, _) = h.build();
    let actor = crate::ids::UserId::generate();

    let error = services.tasks.get_task(actor, task.id).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotFound);
    let found = services
        .tasks
        .get_task_by_key(actor, board.project_id, "web-42")
        .await
        .unwrap();
    assert_eq!(found.id, task.id);
    for key in ["APP-42", "nonsense"] {
        let error = services
            .tasks
            .get_task_by_key(actor, board.project_id, key)
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::NotFound, "{key}");
    }
}
#[tokio::test]
async fn listing_validates_limit_search_and_cursor_before_reading() {
    let (services, _) = Harness::new().build();
    let (actor, project) = (
        crate::ids::UserId::generate(),
        crate::ids::ProjectId::generate(),
    );
    let cases = [
        (
            TaskListInput {
                limit: Some(0),
                ..TaskListInput::default()
            },
            "limit",
        ),
        (
            TaskListInput {
                limit: Some(201),
                ..TaskListInput::default()
            },
            "limit",
        ),
        (
            TaskListInput {
                search: Some("s".repeat(201)),
                ..TaskListInput::default()
            },
            "search",
        ),
        (
            TaskListInput {
                cursor: Some("garbage".into()),
                ..TaskListInput::default()
            },
            "cursor",
        ),
        (
            TaskListInput {
                due_before: Some("2026-1-5".into()),
                ..TaskListInput::default()
            },
            "due_before",
        ),
        (
            TaskListInput {
                due_after: Some("0000-01-01".into()),
                ..TaskListInput::default()
            },
            "due_after",
        ),
        (
            TaskListInput {
                label_ids: vec![crate::ids::LabelId::generate(); 21],
                ..TaskListInput::default()
            },
            "label_id",
        ),
        (
            TaskListInput {
                unassigned: true,
                assignee_id: Some(crate::ids::UserId::generate()),
                ..TaskListInput::default()
            },
            "assignee_id",
        ),
    ];
    for (input, field) in cases {
        let error = services
            .tasks
            .list_tasks(actor, project, input)
            .await
            .unwrap_err();
        assert_eq!(error.field_errors().unwrap().errors()[0].field, field);
    }
}
#[tokio::test]
async fn the_new_filters_reach_the_store_as_parsed_values() {
    let mut h = Harness::new();
    let label = crate::ids::LabelId::generate();
    h.tasks
        .expect_list_tasks()
        .withf(move |_, _, q| {
            q.unassigned
                && q.label_ids == [label]
                && q.due_before == chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
                && q.due_after == chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                && q.order == crate::ports::TaskOrder::Due
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(crate::ports::TaskListing {
                viewer_role: Some(Role::Viewer),
                page: crate::model::Page {
                    items: Vec::new(),
                    next_cursor: None,
                },
            })
        });
    let (services, _) = h.build();
    let input = TaskListInput {
        unassigned: true,
        label_ids: vec![label],
        due_before: Some("2026-12-06".into()),
        due_after: Some("2026-11-30".into()),
        order: crate::ports::TaskOrder::Due,
        ..TaskListInput::default()
    };
    let user = crate::ids::UserId::generate();
    let project = crate::ids::ProjectId::generate();
    assert!(
        services
            .tasks
            .list_tasks(user, project, input)
            .await
            .is_ok()
    );
}
#[tokio::test]
async fn a_cursor_continues_the_listing_in_the_order_it_was_made_in() {
    let mut h = Harness::new();
    h.tasks
        .expect_list_tasks()
        .withf(|_, _, query| {
            query.order == crate::ports::TaskOrder::Updated && query.cursor.is_some()
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(crate::ports::TaskListing {
                viewer_role: Some(Role::Viewer),
                page: crate::model::Page {
                    items: Vec::new(),
                    next_cursor: None,
                },
            })
        });
    let (services, _) = h.build();
    let updated_cursor = crate::cursor::TaskCursor::Updated {
        updated_at: now(),
        id: crate::ids::TaskId::generate(),
    }
    .encode();
    let input = TaskListInput {
        cursor: Some(updated_cursor),
        order: crate::ports::TaskOrder::Board,
        ..TaskListInput::default()
    };
    let page = services
        .tasks
        .list_tasks(
            crate::ids::UserId::generate(),
            crate::ids::ProjectId::generate(),
            input,
        )
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn an_opened_listing_is_checked_authorized_and_read_at_its_version() {
    let version = crate::ports::ListingVersion {
        project_seq: 12,
        directory: 3,
    };
    let member = crate::ids::UserId::generate();
    let stranger = crate::ids::UserId::generate();
    let project = crate::ids::ProjectId::generate();
    let mut h = Harness::new();
    h.tasks
        .expect_listing_version()
        .returning(move |_, viewer| Ok(((viewer == member).then_some(Role::Viewer), version)));
    h.tasks
        .expect_task_page()
        .withf(move |p, q| *p == project && q.limit == 7)
        .times(1)
        .returning(|_, _| {
            Ok(crate::model::Page {
                items: Vec::new(),
                next_cursor: None,
            })
        });
    let (services, _) = h.build();
    let input = |limit| TaskListInput {
        limit: Some(limit),
        ..TaskListInput::default()
    };

    // Bad input is refused before the store is asked anything.
    let error = services
        .tasks
        .open_listing(member, project, input(0))
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "limit");
    let error = services
        .tasks
        .open_listing(stranger, project, input(7))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotFound);

    let gate = services
        .tasks
        .open_listing(member, project, input(7))
        .await
        .unwrap();
    assert_eq!(gate.version(), version);
    let page = services.tasks.read_listing(&gate).await.unwrap();
    assert!(page.items.is_empty());
}
