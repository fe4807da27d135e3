//! Changes to existing tasks: updates with `If-Match`, moves and ranks, completion, archive and
//! unarchive, deletion with sub-tasks, and the auto-archive job.

use super::*;

#[tokio::test]
async fn update_with_a_stale_if_match_is_a_version_mismatch() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(1, 0, 0, 0, 0),
    );
    let (services, recorder) = h.build();
    let change = TaskUpdateInput {
        title: Some("New".into()),
        ..TaskUpdateInput::default()
    };

    let error = services
        .tasks
        .update_task(
            crate::ids::UserId::generate(),
            task.id,
            change.clone(),
            Some(7),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        UpdateTaskError::VersionMismatch { current: 1 }
    ));
    assert_eq!(error.class(), ErrorClass::VersionMismatch);
    assert!(recorder.events().is_empty());

    let updated = services
        .tasks
        .update_task(crate::ids::UserId::generate(), task.id, change, Some(1))
        .await
        .unwrap();
    assert_eq!((updated.title.as_str(), updated.row_version), ("New", 2));
    match &recorder.events()[0].payload {
        EventPayload::TaskUpdated {
            task: after,
            previous,
            changed,
        } => {
            assert_eq!(changed, &[TaskField::Title]);
            // The history shows each changed field from → to.
            assert_eq!(**previous, task);
            assert_eq!(after.title.as_str(), "New");
        }
        other => panic!("unexpected {other:?}"),
    }
}
#[tokio::test]
async fn update_to_another_status_appends_to_that_column_and_moves_the_count() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &task);
    context.status = Some(board.status(StatusCategory::Issue));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &task, counts(1, 0, 0, 0, 0));
    let (services, recorder) = h.build();
    let change = TaskUpdateInput {
        status_id: Some(board.status(StatusCategory::Issue).id),
        ..TaskUpdateInput::default()
    };

    let updated = services
        .tasks
        .update_task(crate::ids::UserId::generate(), task.id, change, None)
        .await
        .unwrap();

    assert_eq!(updated.status.category, StatusCategory::Issue);
    assert_eq!(updated.rank, Rank::from_sequence(1_000), "appended");
    assert_eq!(recorder.names(), ["task_updated", "project_status_changed"]);
}
#[tokio::test]
async fn update_refuses_archived_tasks_archived_projects_cycles_and_empty_bodies() {
    let board = Board::new();
    let mut archived = board.task(StatusCategory::Todo, 1);
    archived.archived_at = Some(now());
    let live = board.task(StatusCategory::Todo, 2);
    let child = board.task(StatusCategory::Todo, 3);
    let title = TaskUpdateInput {
        title: Some("x".into()),
        ..TaskUpdateInput::default()
    };
    let actor = crate::ids::UserId::generate();

    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &archived),
        &archived,
        Counts::ZERO,
    );
    let (services, _) = h.build();
    let error = services
        .tasks
        .update_task(actor, archived.id, title.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, UpdateTaskError::TaskArchived));
    assert_eq!(error.class(), ErrorClass::Archived);

    let mut in_archived_project = board.task_context(Some(Role::Editor), &live);
    in_archived_project.project = Some(board.state(true));
    let mut h = Harness::new();
    store_updates(&mut h, &board, in_archived_project, &live, Counts::ZERO);
    let (services, _) = h.build();
    let error = services
        .tasks
        .update_task(actor, live.id, title, None)
        .await
        .unwrap_err();
    assert!(matches!(error, UpdateTaskError::ProjectArchived));

    // `live` becomes the parent of `child`; making `child` the parent of `live` is a cycle.
    let mut cyclic = board.task_context(Some(Role::Editor), &live);
    cyclic.parent = Some(ParentCandidate {
        id: child.id,
        ancestor_ids: vec![live.id],
    });
    let mut h = Harness::new();
    store_updates(&mut h, &board, cyclic, &live, Counts::ZERO);
    let (services, _) = h.build();
    for (parent, message) in [
        (child.id, "would make the task its own ancestor"),
        (live.id, "a task cannot be its own parent"),
    ] {
        let change = TaskUpdateInput {
            parent_id: Some(Some(parent)),
            ..TaskUpdateInput::default()
        };
        let error = services
            .tasks
            .update_task(actor, live.id, change, None)
            .await
            .unwrap_err();
        assert_eq!(error.field_errors().unwrap().errors()[0].message, message);
    }
    let error = services
        .tasks
        .update_task(actor, live.id, TaskUpdateInput::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "body");
}
#[tokio::test]
async fn move_between_two_neighbours_gets_a_rank_strictly_between_them() {
    let board = Board::new();
    let moving = board.task(StatusCategory::Todo, 9);
    let (a, b) = (
        board.task(StatusCategory::InProgress, 1),
        board.task(StatusCategory::InProgress, 2),
    );
    let mut context = board.task_context(Some(Role::Editor), &moving);
    context.after = Some(neighbour(&a, Some(b.rank.clone())));
    context.before = Some(neighbour(&b, Some(a.rank.clone())));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &moving, counts(1, 2, 0, 0, 0));
    let (services, recorder) = h.build();

    let moved = services
        .tasks
        .move_task(
            crate::ids::UserId::generate(),
            moving.id,
            MoveInput {
                after_id: Some(a.id),
                before_id: Some(b.id),
                status_id: None,
            },
            None,
        )
        .await
        .unwrap();

    assert!(a.rank < moved.rank && moved.rank < b.rank);
    assert_eq!(moved.status.id, a.status.id, "the neighbours' column");
    match &recorder.events()[0].payload {
        EventPayload::TaskMoved {
            from_status_id,
            to_status_id,
            ..
        } => {
            assert_eq!(
                (*from_status_id, *to_status_id),
                (moving.status.id, a.status.id)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
#[tokio::test]
async fn move_decides_append_before_first_rebalance_and_refuses_bad_neighbours() {
    let board = Board::new();
    let moving = board.task(StatusCategory::Todo, 9);
    let a = board.task(StatusCategory::Todo, 1);
    let b = board.task(StatusCategory::Todo, 2);
    let mut tie = board.task(StatusCategory::Todo, 3);
    tie.rank = a.rank.clone();
    let other_column = board.task(StatusCategory::Done, 4);
    let actor = crate::ids::UserId::generate();

    let plan_for = |context: crate::ports::TaskContext, input: MoveInput| {
        crate::services::tasks::decide::plan_move(context, input, None, now())
    };
    let base = board.task_context(Some(Role::Editor), &moving);

    let mut last = base.clone();
    last.after = Some(neighbour(&b, None));
    let plan = plan_for(
        last,
        MoveInput {
            after_id: Some(b.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.patch.placement,
        Some(Placement::Append),
        "after the last task: append"
    );

    let mut first = base.clone();
    first.before = Some(neighbour(&a, None));
    let plan = plan_for(
        first,
        MoveInput {
            before_id: Some(a.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    match plan.patch.placement {
        Some(Placement::At(rank)) => assert!(rank < a.rank),
        other => panic!("unexpected {other:?}"),
    }

    let mut tied = base.clone();
    tied.after = Some(neighbour(&a, None));
    tied.before = Some(neighbour(&tie, None));
    let plan = plan_for(
        tied,
        MoveInput {
            after_id: Some(a.id),
            before_id: Some(tie.id),
            ..MoveInput::default()
        },
    )
    .unwrap();
    assert_eq!(plan.patch.placement, Some(Placement::Rebalance));

    let mut reversed = base.clone();
    reversed.after = Some(neighbour(&b, None));
    reversed.before = Some(neighbour(&a, None));
    let error = plan_for(
        reversed,
        MoveInput {
            after_id: Some(b.id),
            before_id: Some(a.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].message,
        "must be above before_id in the column"
    );

    let mut mixed = base.clone();
    mixed.after = Some(neighbour(&a, None));
    mixed.before = Some(neighbour(&other_column, None));
    let error = plan_for(
        mixed,
        MoveInput {
            after_id: Some(a.id),
            before_id: Some(other_column.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "before_id");

    let error = plan_for(
        base.clone(),
        MoveInput {
            after_id: Some(moving.id),
            ..MoveInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.field_errors().unwrap().errors()[0].message,
        "a task cannot be placed next to itself"
    );

    let (services, _) = Harness::new().build();
    let error = services
        .tasks
        .move_task(actor, moving.id, MoveInput::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Invalid);
}
#[tokio::test]
async fn moving_into_done_sets_completed_at_and_moving_out_clears_it() {
    let board = Board::new();
    let todo = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &todo);
    context.status = Some(board.status(StatusCategory::Done));
    let plan = crate::services::tasks::decide::plan_move(
        context,
        MoveInput {
            status_id: Some(board.status(StatusCategory::Done).id),
            ..MoveInput::default()
        },
        None,
        now(),
    )
    .unwrap();
    assert_eq!(plan.patch.completed_at, Some(Some(now())));
    assert_eq!(
        plan.delta,
        crate::aggregation::AggregationDelta::status_change(
            StatusCategory::Todo,
            StatusCategory::Done
        )
    );

    let mut done = board.task(StatusCategory::Done, 2);
    done.completed_at = Some(now());
    let mut context = board.task_context(Some(Role::Editor), &done);
    context.status = Some(board.status(StatusCategory::InReview));
    let plan = crate::services::tasks::decide::plan_move(
        context,
        MoveInput {
            status_id: Some(board.status(StatusCategory::InReview).id),
            ..MoveInput::default()
        },
        None,
        now(),
    )
    .unwrap();
    assert_eq!(plan.patch.completed_at, Some(None));
}
#[tokio::test]
async fn archive_leaves_the_aggregation_and_unarchive_in_an_archived_project_restores_it() {
    let board = Board::new();
    let task = board.task(StatusCategory::InProgress, 1);
    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(0, 1, 0, 0, 0),
    );
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();
    let archived = services
        .tasks
        .set_task_archived(actor, task.id, true, None)
        .await
        .unwrap();
    assert_eq!(archived.archived_at, Some(now()));
    assert_eq!(
        recorder.names(),
        ["task_archived", "project_status_changed"]
    );

    let mut gone = board.task(StatusCategory::InProgress, 2);
    gone.archived_at = Some(now());
    let mut context = board.task_context(Some(Role::Editor), &gone);
    context.project = Some(board.state(true));
    let mut h = Harness::new();
    store_updates(&mut h, &board, context, &gone, Counts::ZERO);
    let (services, recorder) = h.build();
    let back = services
        .tasks
        .set_task_archived(actor, gone.id, false, None)
        .await
        .unwrap();
    assert_eq!(back.archived_at, None);
    assert_eq!(
        recorder.names(),
        [
            "task_unarchived",
            "project_restored",
            "project_status_changed"
        ]
    );
    let error = services
        .tasks
        .set_task_archived(actor, gone.id, true, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ArchiveTaskError::ProjectArchived),
        "archiving needs an active project"
    );

    let mut h = Harness::new();
    store_updates(
        &mut h,
        &board,
        board.task_context(Some(Role::Editor), &task),
        &task,
        counts(0, 1, 0, 0, 0),
    );
    let (services, _) = h.build();
    let error = services
        .tasks
        .set_task_archived(actor, task.id, false, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ArchiveTaskError::AlreadyInState { archived: false }),
        "{error}"
    );
    assert_eq!(error.to_string(), "the task is already not archived");
}
#[tokio::test]
async fn delete_subtracts_the_task_and_its_non_archived_subtasks_and_publishes_each_deletion() {
    let board = Board::new();
    let parent = board.task(StatusCategory::Todo, 1);
    let mut context = board.task_context(Some(Role::Editor), &parent);
    context.subtree = vec![
        SubtaskState {
            id: crate::ids::TaskId::generate(),
            key: "WEB-2".parse().unwrap(),
            category: StatusCategory::Done,
            archived: false,
        },
        SubtaskState {
            id: crate::ids::TaskId::generate(),
            key: "WEB-3".parse().unwrap(),
            category: StatusCategory::Issue,
            archived: true,
        },
    ];
    let mut h = Harness::new();
    let (task, subtree) = (parent.clone(), context.subtree.clone());
    h.tasks
        .expect_delete_task()
        .times(1)
        .returning(move |request, decide, record| {
            assert!(request.lookup.subtree);
            let plan = decide(context.clone()).map_err(TxError::Rejected)?;
            assert_eq!(plan.delta.total, -2, "the task and one live sub-task");
            assert_eq!(
                (plan.delta.todo, plan.delta.done, plan.delta.issue),
                (-1, -1, 0)
            );
            let before = counts(1, 0, 0, 0, 1);
            let deleted = crate::ports::TaskDeleted {
                task: task.clone(),
                subtree: subtree.clone(),
                aggregation: Some(crate::aggregation::AggregationChange {
                    before,
                    after: before.apply(&plan.delta).unwrap(),
                }),
            };
            Ok(logged(deleted, &record))
        });
    let (services, recorder) = h.build();

    services
        .tasks
        .delete_task(crate::ids::UserId::generate(), parent.id, None)
        .await
        .unwrap();

    assert_eq!(
        recorder.names(),
        ["task_deleted", "task_deleted", "task_deleted"]
    );
}
#[tokio::test]
async fn the_auto_archive_job_archives_old_done_tasks_in_batches_and_publishes_each() {
    let board = Board::new();
    let mut h = Harness::new();
    let mut seq = Sequence::new();
    let full: Vec<_> = (1..=500)
        .map(|n| board.task(StatusCategory::Done, n))
        .collect();
    let (first, project_id) = (full.clone(), board.project_id);
    h.tasks
        .expect_archive_done_tasks()
        .withf(|cutoff, limit, at, _| *at - *cutoff == chrono::Duration::days(7) && *limit == 500)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, record| {
            let batch = ArchivedByJob {
                project_id,
                tasks: first.clone(),
                aggregation: crate::aggregation::AggregationChange {
                    before: counts(0, 0, 0, 0, 501),
                    after: counts(0, 0, 0, 0, 1),
                },
            };
            Ok(vec![logged(batch, &record)])
        });
    let last = board.task(StatusCategory::Done, 501);
    h.tasks
        .expect_archive_done_tasks()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _, record| {
            let batch = ArchivedByJob {
                project_id,
                tasks: vec![last.clone()],
                aggregation: crate::aggregation::AggregationChange {
                    before: counts(0, 0, 0, 0, 1),
                    after: Counts::ZERO,
                },
            };
            Ok(vec![logged(batch, &record)])
        });
    let (services, recorder) = h.build();

    assert_eq!(services.tasks.archive_done_tasks().await.unwrap(), 501);

    let names = recorder.names();
    assert_eq!(names.iter().filter(|n| **n == "task_archived").count(), 501);
    assert_eq!(
        names.last(),
        Some(&"project_status_changed"),
        "done → todo when the last one goes"
    );
}
