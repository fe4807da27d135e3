//! Interaction tests of the project service with mocked ports; its members and its statuses
//! have their own modules. The imports here serve all three.

mod members;
mod statuses;

use crate::aggregation::Counts;
use crate::errors::{Classify, ErrorClass, TxError};
use crate::events::{EventPayload, RestoredVia};
use crate::ids::{ProjectId, UserId};
use crate::model::{Member, ProjectRead, User};
use crate::ports::{
    AggregationRepair, CreateProjectStoreError, MembersRead, MembershipChange, MembershipContext,
    ProjectContext, StatusContext, StatusesChanged,
};
use crate::services::members::{AddMemberError, RemoveMemberError, SetMemberRoleError};
use crate::services::projects::*;
use crate::services::statuses::*;
use crate::tests::support::{Board, Harness, counts, logged, now, user};
use crate::values::{Role, StatusCategory};

fn new_project(key: &str) -> NewProjectInput {
    NewProjectInput {
        key: key.into(),
        name: "Web".into(),
        description: None,
    }
}
#[tokio::test]
async fn create_project_makes_the_creator_owner_with_the_five_default_statuses_and_logs_it() {
    let board = Board::new();
    let actor = UserId::generate();
    let mut h = Harness::new();
    let project = board.project(Counts::ZERO, false);
    h.projects
        .expect_create_project()
        .withf(move |p, _| {
            let statuses: Vec<(&str, StatusCategory, u32)> = p
                .statuses
                .iter()
                .map(|s| (s.name.as_str(), s.category, s.position))
                .collect();
            p.owner == actor
                && p.key.as_str() == "WEB"
                && statuses
                    == [
                        ("Todo", StatusCategory::Todo, 0),
                        ("In Progress", StatusCategory::InProgress, 1),
                        ("In Review", StatusCategory::InReview, 2),
                        ("Issue", StatusCategory::Issue, 3),
                        ("Done", StatusCategory::Done, 4),
                    ]
        })
        .times(1)
        .returning(move |_, record| Ok(logged(project.clone(), &record)));
    let (services, recorder) = h.build();

    let view = services
        .projects
        .create_project(actor, new_project("web"))
        .await
        .unwrap();

    assert_eq!(view.my_role, Role::Owner);
    let published = recorder.events();
    assert_eq!(recorder.names(), ["project_created"]);
    assert_eq!(published[0].actor_id, actor);
    assert_eq!(
        published[0].member_id(),
        Some(actor),
        "to the creator's room"
    );
    assert_eq!(view.project.aggregation.counts, Counts::ZERO);
    assert_eq!(view.derived_status, crate::aggregation::DerivedStatus::Todo);
}
#[tokio::test]
async fn create_project_reports_a_taken_key_and_invalid_fields() {
    let mut h = Harness::new();
    h.projects
        .expect_create_project()
        .times(1)
        .returning(|_, _| Err(CreateProjectStoreError::KeyTaken));
    let (services, _) = h.build();
    let actor = UserId::generate();

    let error = services
        .projects
        .create_project(actor, new_project("Web"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::KeyTaken);
    assert_eq!(error.to_string(), "the project key WEB is taken");

    let bad = NewProjectInput {
        key: "1X".into(),
        name: " ".into(),
        description: Some("d".repeat(10_001)),
    };
    let error = services
        .projects
        .create_project(actor, bad)
        .await
        .unwrap_err();
    let fields: Vec<&str> = error
        .field_errors()
        .unwrap()
        .errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(fields, ["key", "name", "description"]);
}
fn updatable(h: &mut Harness, board: &Board, role: Role, archived: bool) {
    let context = ProjectContext {
        project: Some(board.project(Counts::ZERO, archived)),
        actor_role: Some(role),
    };
    let mut after = board.project(Counts::ZERO, archived);
    after.row_version = 2;
    h.projects
        .expect_update_project()
        .returning(move |_, decide, record| {
            let patch = decide(context.clone()).map_err(TxError::Rejected)?;
            let mut project = after.clone();
            project.name = patch.name.unwrap_or(project.name);
            let read = ProjectRead {
                project,
                role: Some(role),
            };
            Ok(logged(read, &record))
        });
}
#[tokio::test]
async fn update_project_checks_if_match_and_refuses_archived_projects() {
    let board = Board::new();
    let actor = UserId::generate();
    let rename = ProjectUpdateInput {
        name: Some("  Website ".into()),
        description: None,
    };

    let mut h = Harness::new();
    updatable(&mut h, &board, Role::Editor, false);
    let (services, recorder) = h.build();
    let error = services
        .projects
        .update_project(actor, board.project_id, rename.clone(), Some(3))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        UpdateProjectError::VersionMismatch { current: 1 }
    ));
    let view = services
        .projects
        .update_project(actor, board.project_id, rename.clone(), Some(1))
        .await
        .unwrap();
    assert_eq!(
        (view.project.name.as_str(), view.my_role),
        ("Website", Role::Editor)
    );
    assert_eq!(recorder.names(), ["project_updated"]);
    let error = services
        .projects
        .update_project(actor, board.project_id, ProjectUpdateInput::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Invalid);

    let mut h = Harness::new();
    updatable(&mut h, &board, Role::Owner, true);
    let (services, _) = h.build();
    let error = services
        .projects
        .update_project(actor, board.project_id, rename, None)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Archived);
}
#[tokio::test]
async fn archiving_twice_is_a_conflict_and_restoring_publishes_project_restored() {
    let board = Board::new();
    let actor = UserId::generate();
    for (archived_before, archive, expect_ok) in [
        (true, true, false),
        (false, true, true),
        (true, false, true),
    ] {
        let mut h = Harness::new();
        let context = ProjectContext {
            project: Some(board.project(Counts::ZERO, archived_before)),
            actor_role: Some(Role::Owner),
        };
        let after = board.project(Counts::ZERO, archive);
        h.projects
            .expect_set_project_archived()
            .returning(move |_, decide, record| {
                decide(context.clone()).map_err(TxError::Rejected)?;
                let read = ProjectRead {
                    project: after.clone(),
                    role: Some(Role::Owner),
                };
                Ok(logged(read, &record))
            });
        let (services, recorder) = h.build();
        let result = services
            .projects
            .set_archived(actor, board.project_id, archive)
            .await;
        assert_eq!(
            result.is_ok(),
            expect_ok,
            "archived {archived_before} → archive {archive}"
        );
        if !expect_ok {
            assert_eq!(result.unwrap_err().class(), ErrorClass::Conflict);
        } else if !archive {
            assert!(matches!(
                recorder.events()[0].payload,
                EventPayload::ProjectRestored {
                    restored_via: RestoredVia::Manual,
                    ..
                }
            ));
        } else {
            assert_eq!(recorder.names(), ["project_archived"]);
        }
    }
}
#[tokio::test]
async fn recount_reports_drift_and_publishes_a_status_change_when_the_repair_moves_it() {
    let board = Board::new();
    let mut h = Harness::new();
    let read = ProjectRead {
        project: board.project(counts(0, 0, 0, 0, 3), false),
        role: Some(Role::Owner),
    };
    h.projects
        .expect_get_project()
        .returning(move |_, _| Ok(Some(read.clone())));
    let after = board.project(counts(1, 0, 0, 0, 3), false).aggregation;
    h.aggregations
        .expect_repair_aggregation()
        .times(1)
        .returning(move |_, _, record| {
            let repair = AggregationRepair {
                before: Some(counts(0, 0, 0, 0, 3)),
                after: after.clone(),
            };
            Ok(logged(repair, &record))
        });
    let (services, recorder) = h.build();

    let recount = services
        .projects
        .recount(UserId::generate(), board.project_id)
        .await
        .unwrap();

    assert!(recount.drift);
    assert_eq!(recount.after.aggregation.counts, counts(1, 0, 0, 0, 3));
    assert_eq!(recorder.names(), ["project_status_changed"]);
}
#[tokio::test]
async fn listing_projects_validates_limit_and_cursor() {
    let (services, _) = Harness::new().build();
    for input in [
        ProjectListInput {
            limit: Some(0),
            ..ProjectListInput::default()
        },
        ProjectListInput {
            limit: Some(201),
            ..ProjectListInput::default()
        },
        ProjectListInput {
            cursor: Some("b1.x".into()),
            ..ProjectListInput::default()
        },
    ] {
        let error = services
            .projects
            .list_projects(UserId::generate(), input)
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Invalid);
    }
}
