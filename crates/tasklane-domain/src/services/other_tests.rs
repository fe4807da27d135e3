//! Interaction tests of the project, member and status services with mocked ports.
//!
//! Over 600 lines because it holds the interaction tests of every service but tasks in one place;
//! splitting it by responsibility is left to the open restructuring issue (14), which names
//! this file.

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
use crate::services::testing::{Board, Harness, counts, logged, now, user};
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
    assert_eq!(error.class(), ErrorClass::Conflict("key_taken"));
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
    assert_eq!(error.class(), ErrorClass::Conflict("archived"));
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
            assert_eq!(
                result.unwrap_err().class(),
                ErrorClass::Conflict("conflict")
            );
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

fn members_store(h: &mut Harness, context: MembershipContext) {
    let c = context.clone();
    h.projects
        .expect_set_member_role()
        .returning(move |_, decide, record| {
            let role = decide(c.clone()).map_err(TxError::Rejected)?;
            let change = MembershipChange {
                member: Some(Member {
                    user: user("m"),
                    role,
                    added_at: now(),
                }),
                previous_role: c.target_role,
            };
            Ok(logged(change, &record))
        });
    h.projects
        .expect_remove_member()
        .returning(move |_, decide, record| {
            decide(context.clone()).map_err(TxError::Rejected)?;
            let change = MembershipChange {
                member: None,
                previous_role: context.target_role,
            };
            Ok(logged(change, &record))
        });
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted_but_a_second_owner_can() {
    let (project, me) = (ProjectId::generate(), UserId::generate());
    let last_owner = MembershipContext {
        actor_role: Some(Role::Owner),
        target_user: Some(user("o")),
        target_role: Some(Role::Owner),
        owner_count: 1,
    };
    let mut h = Harness::new();
    members_store(&mut h, last_owner.clone());
    let (services, recorder) = h.build();
    let error = services
        .members
        .set_member_role(me, project, me, Role::Editor)
        .await
        .unwrap_err();
    assert!(matches!(error, SetMemberRoleError::LastOwner));
    let error = services
        .members
        .remove_member(me, project, me)
        .await
        .unwrap_err();
    assert!(matches!(error, RemoveMemberError::LastOwner));
    assert!(recorder.events().is_empty());

    let mut h = Harness::new();
    members_store(
        &mut h,
        MembershipContext {
            owner_count: 2,
            ..last_owner
        },
    );
    let (services, recorder) = h.build();
    services
        .members
        .set_member_role(me, project, me, Role::Editor)
        .await
        .unwrap();
    services
        .members
        .remove_member(me, project, me)
        .await
        .unwrap();
    assert_eq!(recorder.names(), ["member_added", "member_removed"]);
}

/// A harness whose store says the caller has `role` and knows `mia@example.com` (a member
/// already when `mia_is_member`); `add_member` runs the decision on that context.
fn adding_by_email(role: Option<Role>, mia_is_member: bool) -> Harness {
    let mut h = Harness::new();
    h.projects.expect_list_members().returning(move |_, _| {
        Ok(MembersRead {
            viewer_role: role,
            members: Vec::new(),
        })
    });
    h.users.expect_find_user_by_email().returning(|email| {
        Ok((email.normalized() == "mia@example.com").then(|| User {
            summary: user("mia"),
            created_at: now(),
            updated_at: now(),
        }))
    });
    let context = MembershipContext {
        actor_role: role,
        target_user: Some(user("mia")),
        target_role: mia_is_member.then_some(Role::Viewer),
        owner_count: 1,
    };
    h.projects
        .expect_add_member()
        .returning(move |_, decide, record| {
            let role = decide(context.clone()).map_err(TxError::Rejected)?;
            let change = MembershipChange {
                member: Some(Member {
                    user: user("mia"),
                    role,
                    added_at: now(),
                }),
                previous_role: None,
            };
            Ok(logged(change, &record))
        });
    h
}

#[tokio::test]
async fn an_owner_adds_a_member_by_email_and_publishes_member_added() {
    let (services, recorder) = adding_by_email(Some(Role::Owner), false).build();
    let member = services
        .members
        .add_member_by_email(
            UserId::generate(),
            ProjectId::generate(),
            "Mia@Example.com",
            Role::Editor,
        )
        .await
        .unwrap();
    assert_eq!(member.role, Role::Editor);
    assert_eq!(recorder.names(), ["member_added"]);
}

#[tokio::test]
async fn adding_by_email_says_whether_the_address_exists_only_to_owners() {
    for (role, expected) in [
        (Some(Role::Editor), ErrorClass::Forbidden),
        (Some(Role::Viewer), ErrorClass::Forbidden),
        (None, ErrorClass::NotFound),
    ] {
        for email in ["mia@example.com", "nobody@example.com"] {
            let mut h = adding_by_email(role, false);
            h.users.checkpoint();
            h.users.expect_find_user_by_email().never();
            let (services, recorder) = h.build();
            let error = services
                .members
                .add_member_by_email(
                    UserId::generate(),
                    ProjectId::generate(),
                    email,
                    Role::Viewer,
                )
                .await
                .unwrap_err();
            assert_eq!(error.class(), expected, "{role:?} {email}");
            assert!(recorder.names().is_empty());
        }
    }
    let (services, _) = adding_by_email(Some(Role::Owner), false).build();
    let error = services
        .members
        .add_member_by_email(
            UserId::generate(),
            ProjectId::generate(),
            "nobody@example.com",
            Role::Viewer,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AddMemberError::UserNotFound));
    assert_eq!(error.class(), ErrorClass::Missing("user_not_found"));
}

#[tokio::test]
async fn adding_an_existing_member_or_a_malformed_address_changes_nothing() {
    let (services, recorder) = adding_by_email(Some(Role::Owner), true).build();
    let error = services
        .members
        .add_member_by_email(
            UserId::generate(),
            ProjectId::generate(),
            "mia@example.com",
            Role::Owner,
        )
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Conflict("already_member"));
    let mut h = Harness::new();
    h.projects.expect_list_members().never();
    h.users.expect_find_user_by_email().never();
    let (malformed, _) = h.build();
    let error = malformed
        .members
        .add_member_by_email(
            UserId::generate(),
            ProjectId::generate(),
            "mia at example",
            Role::Viewer,
        )
        .await
        .unwrap_err();
    let fields = error
        .field_errors()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(fields.contains("email"), "{fields}");
    assert!(recorder.names().is_empty());
}

#[tokio::test]
async fn a_viewer_may_leave_but_not_remove_others_and_unknown_users_are_not_found() {
    let (project, me, other) = (
        ProjectId::generate(),
        UserId::generate(),
        UserId::generate(),
    );
    let viewer = MembershipContext {
        actor_role: Some(Role::Viewer),
        target_user: Some(user("v")),
        target_role: Some(Role::Viewer),
        owner_count: 1,
    };
    let mut h = Harness::new();
    members_store(&mut h, viewer);
    let (services, _) = h.build();
    assert!(
        services
            .members
            .remove_member(me, project, me)
            .await
            .is_ok()
    );
    let error = services
        .members
        .remove_member(me, project, other)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Forbidden);

    let nobody = MembershipContext {
        actor_role: Some(Role::Owner),
        target_user: None,
        target_role: None,
        owner_count: 1,
    };
    let mut h = Harness::new();
    members_store(&mut h, nobody);
    let (services, _) = h.build();
    let error = services
        .members
        .set_member_role(me, project, other, Role::Editor)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotFound);
    let error = services
        .members
        .remove_member(me, project, other)
        .await
        .unwrap_err();
    assert!(matches!(error, RemoveMemberError::NotAMember));
}

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
