//! Task creation: one transaction, the events it publishes, the derived status, restoration of
//! an archived project, validation at the boundaries, batches.

use super::*;

#[tokio::test]
async fn create_when_the_aggregation_exists_commits_once_and_publishes_task_created() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(2, 0, 0, 0, 0), false);
    let writes = count_cache_writes(&mut h.cache);
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let created = services
        .tasks
        .create_task(actor, board.project_id, input("Write docs"))
        .await
        .unwrap();
    settle().await;

    let task = &created.tasks[0];
    assert_eq!(task.key.to_string(), "WEB-3");
    assert_eq!(
        task.status.category,
        StatusCategory::Todo,
        "defaults to the first todo status"
    );
    assert_eq!(created.aggregation.after, counts(3, 0, 0, 0, 0));
    assert_eq!(created.bootstrap, None);
    assert_eq!(recorder.names(), ["task_created"]);
    assert_eq!(recorder.events()[0].actor_id, actor);
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "no cache traffic when the row exists"
    );
}
#[tokio::test]
async fn create_publishes_exactly_the_events_the_store_logged_with_the_encoders_data() {
    let board = Board::new();
    let mut h = Harness::new();
    let returned = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (store, kept) = (board.clone(), returned.clone());
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), true))
                .map_err(TxError::Rejected)?;
            let created = store.apply_create(&plan, counts(0, 0, 0, 0, 2), 2, true);
            // The project already logged 40 events: numbering goes on from there, so a service
            // that renumbered (or published events of its own) would not match.
            let written = logged_from(41, created, &record);
            *kept.lock().unwrap() = written.events.clone();
            Ok(written)
        });
    let (services, recorder) = h.build();

    services
        .tasks
        .create_batch(
            crate::ids::UserId::generate(),
            board.project_id,
            vec![input("a"), input("b")],
        )
        .await
        .unwrap();

    let returned = returned.lock().unwrap().clone();
    let seqs: Vec<u64> = returned.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [41, 42, 43, 44]);
    // The data the store logged is the encoder's output for each event, in creation order.
    let data: Vec<&str> = returned.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        data,
        [
            r#"{"type":"task_created"}"#,
            r#"{"type":"task_created"}"#,
            r#"{"type":"project_restored"}"#,
            r#"{"type":"project_status_changed"}"#,
        ]
    );
    assert_eq!(
        recorder.logged(),
        returned,
        "published as logged: same seqs, same order, same data"
    );
}
#[tokio::test]
async fn a_write_whose_transaction_fails_after_recording_its_events_publishes_none_of_them() {
    // A real store records the events inside the transaction; when it then fails, they are
    // rolled back with it and must never reach clients.
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut h = Harness::new();
    let recorded = Arc::new(AtomicUsize::new(0));
    let (store, seen) = (board.clone(), recorded.clone());
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), false))
                .map_err(TxError::Rejected)?;
            let created = store.apply_create(&plan, counts(1, 0, 0, 0, 0), 1, false);
            seen.fetch_add(record.events_of(&created).len(), Ordering::SeqCst);
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "could not serialize access"
            ))))
        });
    let (store, seen) = (board.clone(), recorded.clone());
    let (before, context) = (task.clone(), board.task_context(Some(Role::Editor), &task));
    h.tasks
        .expect_update_task()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            let updated = store.apply_update(&before, &plan, counts(1, 0, 0, 0, 0));
            seen.fetch_add(record.events_of(&updated).len(), Ordering::SeqCst);
            Err(TxError::Store(RepoError::Other(anyhow::anyhow!(
                "connection reset during COMMIT"
            ))))
        });
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let error = services
        .tasks
        .create_task(actor, board.project_id, input("t"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    let change = TaskUpdateInput {
        title: Some("New".into()),
        ..TaskUpdateInput::default()
    };
    let error = services
        .tasks
        .update_task(actor, task.id, change, None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Internal);
    settle().await;

    assert_eq!(
        recorded.load(Ordering::SeqCst),
        2,
        "task_created and task_updated were recorded in the failed transactions"
    );
    assert!(recorder.logged().is_empty(), "nothing published");
}
#[tokio::test]
async fn create_succeeds_when_the_broadcaster_fails_and_the_failure_is_counted() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let mut broadcaster = MockEventBroadcaster::new();
    broadcaster
        .expect_publish()
        .times(1)
        .returning(|_| Err(crate::ports::BroadcastError(anyhow::anyhow!("hub gone"))));
    h.broadcaster = Arc::new(broadcaster);
    let (services, _) = h.build();
    let metrics = Counters::default();
    let _guard = metrics::set_default_local_recorder(&metrics);

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await;

    assert_eq!(created.unwrap().tasks.len(), 1);
    assert_eq!(metrics.get(WS_BROADCAST_FAILURES_TOTAL), 1);
}
#[tokio::test]
async fn create_that_changes_the_derived_status_publishes_one_project_status_changed_with_old_and_new()
 {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(0, 0, 0, 0, 2), false);
    let (services, recorder) = h.build();

    services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert_eq!(recorder.names(), ["task_created", "project_status_changed"]);
    match &recorder.events()[1].payload {
        EventPayload::ProjectStatusChanged {
            old_status,
            new_status,
            aggregation,
        } => {
            assert_eq!(
                (*old_status, *new_status),
                (DerivedStatus::Done, DerivedStatus::Todo)
            );
            assert_eq!(aggregation.counts, counts(1, 0, 0, 0, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
}
#[tokio::test]
async fn create_that_keeps_the_derived_status_publishes_no_status_change() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(1, 2, 0, 0, 0), false);
    let (services, recorder) = h.build();

    services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert_eq!(recorder.names(), ["task_created"]);
}
#[tokio::test]
async fn create_in_an_archived_project_restores_it_and_publishes_project_restored_after_the_task() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, true);
    let (services, recorder) = h.build();

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, input("t"))
        .await
        .unwrap();

    assert!(created.project_restored);
    assert!(created.project.archived_at.is_none());
    // What the write wrote comes first, what followed from it after (see `WriteEvents`).
    assert_eq!(recorder.names(), ["task_created", "project_restored"]);
    assert!(matches!(
        recorder.events()[1].payload,
        EventPayload::ProjectRestored {
            restored_via: RestoredVia::TaskCreated,
            ..
        }
    ));
}
#[tokio::test]
async fn create_rejects_invalid_fields_at_their_boundaries_before_any_write() {
    let (services, recorder) = Harness::new().build(); // no store expectation: any call panics
    let project = crate::ids::ProjectId::generate();
    let actor = crate::ids::UserId::generate();
    let cases = [
        (
            NewTaskInput {
                title: String::new(),
                ..input("")
            },
            "title",
        ),
        (input(&"x".repeat(501)), "title"),
        (
            NewTaskInput {
                description: Some("d".repeat(100_001)),
                ..input("t")
            },
            "description",
        ),
        (
            NewTaskInput {
                story_points: Some(101),
                ..input("t")
            },
            "story_points",
        ),
        (
            NewTaskInput {
                story_points: Some(-1),
                ..input("t")
            },
            "story_points",
        ),
    ];
    for (bad, field) in cases {
        let error = services
            .tasks
            .create_task(actor, project, bad)
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Invalid);
        assert_eq!(error.field_errors().unwrap().errors()[0].field, field);
    }
    assert!(recorder.events().is_empty());
}
#[tokio::test]
async fn create_accepts_fields_exactly_at_their_limits() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let (services, _) = h.build();
    let limits = NewTaskInput {
        title: "é".repeat(500),
        description: Some("d".repeat(100_000)),
        story_points: Some(100),
        ..NewTaskInput::default()
    };

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, limits)
        .await
        .unwrap();

    assert_eq!(created.tasks[0].title.as_str().chars().count(), 500);
}
#[tokio::test]
async fn create_rejects_a_status_of_another_project() {
    let board = Board::new();
    let foreign = Board::new().status(StatusCategory::Todo).id;
    let task = NewTaskInput {
        status_id: Some(foreign),
        ..input("t")
    };
    let error = create_error(board.create_context(Some(Role::Editor), false), task).await;
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "status_id");
}
#[tokio::test]
async fn create_rejects_a_non_member_or_viewer_assignee_and_a_foreign_parent() {
    let board = Board::new();
    let viewer = user("vera");
    let mut context = board.create_context(Some(Role::Editor), false);
    context.assignees.push(Member {
        user: viewer.clone(),
        role: Role::Viewer,
        added_at: now(),
    });
    let cases = [
        (
            NewTaskInput {
                assignee_id: Some(viewer.id),
                ..input("t")
            },
            "assignee_id",
            "viewers cannot be assigned tasks",
        ),
        (
            NewTaskInput {
                assignee_id: Some(user("x").id),
                ..input("t")
            },
            "assignee_id",
            "is not a member of this project",
        ),
        (
            NewTaskInput {
                parent_id: Some(crate::ids::TaskId::generate()),
                ..input("t")
            },
            "parent_id",
            "is not a task of this project",
        ),
    ];
    for (task, field, message) in cases {
        let error = create_error(context.clone(), task).await;
        let first = &error.field_errors().unwrap().errors()[0];
        assert_eq!(
            (first.field.as_str(), first.message.as_str()),
            (field, message)
        );
    }
}
#[tokio::test]
async fn create_with_an_editor_assignee_in_a_done_status_sets_assignee_and_completed_at() {
    let board = Board::new();
    let editor = user("eddie");
    let mut context = board.create_context(Some(Role::Owner), false);
    context.assignees.push(Member {
        user: editor.clone(),
        role: Role::Editor,
        added_at: now(),
    });
    let mut h = Harness::new();
    let store = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |request, decide, record| {
            assert_eq!(request.assignee_ids.len(), 1);
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            Ok(logged(
                store.apply_create(&plan, Counts::ZERO, 0, false),
                &record,
            ))
        });
    let (services, _) = h.build();
    let task = NewTaskInput {
        assignee_id: Some(editor.id),
        status_id: Some(board.status(StatusCategory::Done).id),
        ..input("t")
    };

    let created = services
        .tasks
        .create_task(crate::ids::UserId::generate(), board.project_id, task)
        .await
        .unwrap();

    assert_eq!(
        created.tasks[0].assignee.as_ref().map(|u| u.id),
        Some(editor.id)
    );
    assert_eq!(created.tasks[0].completed_at, Some(now()));
    assert_eq!(created.aggregation.after, counts(0, 0, 0, 0, 1));
}
#[tokio::test]
async fn batch_creates_all_in_one_transaction_and_reports_errors_by_index() {
    let board = Board::new();
    let mut h = Harness::new();
    let store = board.clone();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .returning(move |_, decide, record| {
            let plan = decide(store.create_context(Some(Role::Editor), false))
                .map_err(TxError::Rejected)?;
            assert_eq!(plan.delta.total, 3);
            Ok(logged(
                store.apply_create(&plan, Counts::ZERO, 7, false),
                &record,
            ))
        });
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let created = services
        .tasks
        .create_batch(
            actor,
            board.project_id,
            vec![input("a"), input("b"), input("c")],
        )
        .await
        .unwrap();
    let numbers: Vec<u64> = created.tasks.iter().map(|t| t.number()).collect();
    assert_eq!(numbers, [8, 9, 10]);
    assert_eq!(
        recorder.names(),
        ["task_created", "task_created", "task_created"]
    );

    let error = services
        .tasks
        .create_batch(actor, board.project_id, vec![input("ok"), input(" ")])
        .await
        .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].field,
        "tasks[1].title"
    );
}
#[tokio::test]
async fn batch_size_must_be_1_to_500() {
    let (services, _) = Harness::new().build();
    let (actor, project) = (
        crate::ids::UserId::generate(),
        crate::ids::ProjectId::generate(),
    );
    for size in [0, MAX_BATCH + 1] {
        let error = services
            .tasks
            .create_batch(actor, project, vec![input("t"); size])
            .await
            .unwrap_err();
        assert_eq!(
            error.field_errors().unwrap().errors()[0].field,
            "tasks",
            "size {size}"
        );
    }
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, Counts::ZERO, false);
    let (services, _) = h.build();
    let created = services
        .tasks
        .create_batch(actor, board.project_id, vec![input("t"); MAX_BATCH])
        .await
        .unwrap();
    assert_eq!(created.tasks.len(), MAX_BATCH);
}
