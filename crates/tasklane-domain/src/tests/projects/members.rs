//! Interaction tests of the member service: the last owner stays, adding by e-mail, who may
//! remove whom.

use super::*;

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
    assert_eq!(error.class(), ErrorClass::UserNotFound);
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
    assert_eq!(error.class(), ErrorClass::AlreadyMember);
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
