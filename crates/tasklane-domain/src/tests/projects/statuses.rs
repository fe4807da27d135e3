//! Interaction tests of the status service: unique names, bounded positions, what cannot be
//! deleted.

use super::*;

fn status_store(h: &mut Harness, board: &Board, in_use: bool) {
    let context = StatusContext {
        project: Some(board.project(Counts::ZERO, false)),
        actor_role: Some(Role::Owner),
        statuses: board.statuses.clone(),
        target_in_use: in_use,
    };
    let project_id = board.project_id;
    let (c, statuses) = (context.clone(), board.statuses.clone());
    h.projects
        .expect_create_status()
        .returning(move |_, decide, record| {
            let plan = decide(c.clone()).map_err(TxError::Rejected)?;
            let mut all = statuses.clone();
            all.extend(plan.create);
            let changed = StatusesChanged {
                project_id,
                statuses: all,
            };
            Ok(logged(changed, &record))
        });
    let (c, statuses) = (context.clone(), board.statuses.clone());
    h.projects
        .expect_update_status()
        .returning(move |_, decide, record| {
            let plan = decide(c.clone()).map_err(TxError::Rejected)?;
            let mut all: Vec<_> = plan
                .order
                .iter()
                .filter_map(|id| statuses.iter().find(|s| s.id == *id).cloned())
                .collect();
            for (position, status) in all.iter_mut().enumerate() {
                status.position = position as u32;
                if let Some((id, name)) = &plan.rename
                    && *id == status.id
                {
                    status.name = name.clone();
                }
            }
            let changed = StatusesChanged {
                project_id,
                statuses: all,
            };
            Ok(logged(changed, &record))
        });
    h.projects
        .expect_delete_status()
        .returning(move |_, decide, record| {
            decide(context.clone()).map_err(TxError::Rejected)?;
            let changed = StatusesChanged {
                project_id,
                statuses: vec![],
            };
            Ok(logged(changed, &record))
        });
}
#[tokio::test]
async fn status_names_are_unique_case_insensitively_and_positions_are_bounded() {
    let board = Board::new();
    let mut h = Harness::new();
    status_store(&mut h, &board, false);
    let (services, recorder) = h.build();
    let actor = UserId::generate();

    let taken = NewStatusInput {
        name: "in review".into(),
        category: StatusCategory::InReview,
        position: None,
    };
    let error = services
        .statuses
        .create_status(actor, board.project_id, taken)
        .await
        .unwrap_err();
    assert!(matches!(error, CreateStatusError::NameTaken(_)));

    let created = services
        .statuses
        .create_status(
            actor,
            board.project_id,
            NewStatusInput {
                name: "Blocked".into(),
                category: StatusCategory::Issue,
                position: Some(5),
            },
        )
        .await
        .unwrap();
    assert_eq!((created.name.as_str(), created.position), ("Blocked", 5));
    let error = services
        .statuses
        .create_status(
            actor,
            board.project_id,
            NewStatusInput {
                name: "Later".into(),
                category: StatusCategory::Todo,
                position: Some(6),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "position");

    let done = board.status(StatusCategory::Done).id;
    let moved = services
        .statuses
        .update_status(
            actor,
            done,
            StatusUpdateInput {
                name: Some("Shipped".into()),
                position: Some(0),
            },
        )
        .await
        .unwrap();
    assert_eq!((moved.name.as_str(), moved.position), ("Shipped", 0));
    let error = services
        .statuses
        .update_status(
            actor,
            done,
            StatusUpdateInput {
                name: Some("TODO".into()),
                position: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, UpdateStatusError::NameTaken(_)));
    // Only the writes that happened are published, each with the status it concerns.
    assert_eq!(recorder.names(), ["status_created", "status_updated"]);
    let concerned: Vec<_> = recorder.events().iter().map(|e| e.status_id()).collect();
    assert_eq!(concerned, [Some(created.id), Some(done)]);
}
#[tokio::test]
async fn a_used_status_and_the_last_todo_or_done_status_cannot_be_deleted() {
    let board = Board::new();
    let actor = UserId::generate();
    let mut h = Harness::new();
    status_store(&mut h, &board, true);
    let (services, _) = h.build();
    let error = services
        .statuses
        .delete_status(actor, board.status(StatusCategory::Issue).id)
        .await
        .unwrap_err();
    assert!(matches!(error, DeleteStatusError::InUse));

    let mut h = Harness::new();
    status_store(&mut h, &board, false);
    let (services, _) = h.build();
    for category in [StatusCategory::Todo, StatusCategory::Done] {
        let error = services
            .statuses
            .delete_status(actor, board.status(category).id)
            .await
            .unwrap_err();
        assert!(matches!(error, DeleteStatusError::LastOfCategory(c) if c == category));
    }
    assert!(
        services
            .statuses
            .delete_status(actor, board.status(StatusCategory::InReview).id)
            .await
            .is_ok()
    );
}
