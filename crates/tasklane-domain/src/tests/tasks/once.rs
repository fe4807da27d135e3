//! Keyed creation (`Idempotency-Key`): reserve, create, record; replay without creating; a key
//! reused with another body; a key in progress; a failed creation releasing its key.

use super::*;
use crate::ports::{IdempotencyRequest, IdempotencyStart};

fn key(body: &str) -> RequestKey {
    RequestKey {
        key: "k-1".into(),
        canonical: body.as_bytes().to_vec(),
    }
}

fn respond(creation: &Creation) -> anyhow::Result<String> {
    Ok(format!("task {}", creation.tasks[0].key))
}

#[tokio::test]
async fn a_new_key_creates_once_and_records_the_response() {
    let board = Board::new();
    let mut h = Harness::new();
    store_creates(&mut h, &board, Role::Editor, counts(2, 0, 0, 0, 0), false);
    let project = board.project_id;
    let reserved = Arc::new(std::sync::Mutex::new(None::<IdempotencyRequest>));
    let kept = reserved.clone();
    let mut seq = Sequence::new();
    h.idempotency
        .expect_begin_idempotent()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |request, _, window, stale| {
            assert_eq!(window, Duration::from_secs(24 * 3600));
            assert_eq!(stale, Duration::from_secs(60));
            *kept.lock().unwrap() = Some(request);
            Ok(IdempotencyStart::Proceed)
        });
    h.idempotency
        .expect_complete_idempotent()
        .withf(|_, key, response| key == "k-1" && response == "task WEB-3")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    h.idempotency.expect_abandon_idempotent().never();
    let (services, recorder) = h.build();
    let actor = crate::ids::UserId::generate();

    let once = services
        .tasks
        .create_task_once(actor, project, input("Write docs"), key("{}"), respond)
        .await
        .unwrap();
    settle().await;

    let Once::Created { creation, response } = once else {
        panic!("expected a creation");
    };
    assert_eq!(response, "task WEB-3");
    assert_eq!(creation.tasks[0].key.to_string(), "WEB-3");
    assert_eq!(recorder.names(), ["task_created"]);
    let request = reserved.lock().unwrap().clone().unwrap();
    assert_eq!((request.user_id, request.project_id), (actor, project));
    assert_eq!(request.request_hash.len(), 64, "SHA-256, hex");
}

#[tokio::test]
async fn the_fingerprint_covers_the_project_and_the_body() {
    let mut h = Harness::new();
    let hashes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = hashes.clone();
    h.idempotency
        .expect_begin_idempotent()
        .times(3)
        .returning(move |request, _, _, _| {
            kept.lock().unwrap().push(request.request_hash);
            Ok(IdempotencyStart::InProgress)
        });
    let (services, _) = h.build();
    let actor = crate::ids::UserId::generate();
    let (a, b) = (
        crate::ids::ProjectId::generate(),
        crate::ids::ProjectId::generate(),
    );
    for (project, body) in [(a, "{}"), (a, "{\"x\":1}"), (b, "{}")] {
        let error = services
            .tasks
            .create_task_once(actor, project, input("t"), key(body), respond)
            .await
            .unwrap_err();
        assert!(matches!(error, CreateOnceError::InProgress));
        assert_eq!(error.class(), ErrorClass::Conflict);
    }
    let hashes = hashes.lock().unwrap();
    assert_ne!(hashes[0], hashes[1], "another body");
    assert_ne!(hashes[0], hashes[2], "another project");
}

#[tokio::test]
async fn a_repeat_replays_the_recorded_response_and_creates_nothing() {
    let mut h = Harness::new();
    h.idempotency
        .expect_begin_idempotent()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(IdempotencyStart::Replay {
                response: "first".into(),
            })
        });
    h.tasks.expect_create_tasks().never();
    let (services, recorder) = h.build();

    let once = services
        .tasks
        .create_task_once(
            crate::ids::UserId::generate(),
            crate::ids::ProjectId::generate(),
            input("t"),
            key("{}"),
            respond,
        )
        .await
        .unwrap();
    assert!(matches!(once, Once::Replayed { response } if response == "first"));
    assert!(recorder.names().is_empty());
}

#[tokio::test]
async fn a_key_used_with_another_body_is_refused_naming_the_key() {
    let mut h = Harness::new();
    h.idempotency
        .expect_begin_idempotent()
        .returning(|_, _, _, _| Ok(IdempotencyStart::Mismatch));
    h.tasks.expect_create_tasks().never();
    let (services, _) = h.build();

    let error = services
        .tasks
        .create_task_once(
            crate::ids::UserId::generate(),
            crate::ids::ProjectId::generate(),
            input("t"),
            key("{}"),
            respond,
        )
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Invalid);
    assert_eq!(crate::tests::support::fields(&error), ["Idempotency-Key"]);
}

#[tokio::test]
async fn a_failed_creation_releases_its_key_and_a_failed_record_does_not_fail_the_creation() {
    let board = Board::new();
    let mut h = Harness::new();
    h.idempotency
        .expect_begin_idempotent()
        .returning(|_, _, _, _| Ok(IdempotencyStart::Proceed));
    // The first creation is refused (a viewer), the second succeeds.
    let store = board.clone();
    let mut seq = Sequence::new();
    h.tasks
        .expect_create_tasks()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, decide, _| {
            decide(store.create_context(Some(Role::Viewer), false)).map_err(TxError::Rejected)?;
            unreachable!("a viewer cannot create")
        });
    store_creates(&mut h, &board, Role::Editor, counts(0, 0, 0, 0, 0), false);
    h.idempotency
        .expect_abandon_idempotent()
        .withf(|_, key| key == "k-1")
        .times(1)
        .returning(|_, _| Ok(()));
    h.idempotency
        .expect_complete_idempotent()
        .times(1)
        .returning(|_, _, _| Err(RepoError::other("the store went away")));
    let (services, _) = h.build();
    let actor = crate::ids::UserId::generate();

    let refused = services
        .tasks
        .create_task_once(actor, board.project_id, input("t"), key("{}"), respond)
        .await
        .unwrap_err();
    assert_eq!(refused.class(), ErrorClass::Forbidden);
    let created = services
        .tasks
        .create_task_once(actor, board.project_id, input("t"), key("{}"), respond)
        .await
        .unwrap();
    assert!(matches!(created, Once::Created { .. }));
}
