//! Projects, members and statuses through the port and the services.

use tasklane_domain::aggregation::Counts;
use tasklane_domain::errors::{Classify, ErrorClass};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::ProjectRepository;
use tasklane_domain::services::projects::{
    CreateProjectError, ProjectListInput, ProjectUpdateInput,
};
use tasklane_domain::services::statuses::{NewStatusInput, StatusUpdateInput};
use tasklane_domain::values::{Role, StatusCategory};
use tasklane_store::testing::TestDb;

use crate::World;

async fn a_project_is_created_with_its_owner_five_statuses_and_a_zero_aggregation(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let view = world.project(owner, "web").await?;
    assert_eq!(view.project.key.as_str(), "WEB");
    assert_eq!(
        (view.project.task_counter, view.project.row_version),
        (0, 1)
    );

    let read = world
        .store()
        .get_project(view.project.id, owner)
        .await?
        .expect("stored");
    assert_eq!(read.role, Some(Role::Owner));
    assert_eq!(read.project.aggregation.counts, Counts::ZERO);
    assert_eq!(read.project.name.as_str(), "Project web");
    let stranger = world.user("stranger").await?;
    assert_eq!(
        world
            .store()
            .get_project(view.project.id, stranger)
            .await?
            .and_then(|r| r.role),
        None
    );
    assert!(
        world
            .store()
            .get_project(ProjectId::generate(), owner)
            .await?
            .is_none()
    );

    let statuses = world
        .services
        .statuses
        .list_statuses(owner, view.project.id)
        .await?;
    let names: Vec<(&str, StatusCategory, u32)> = statuses
        .iter()
        .map(|s| (s.name.as_str(), s.category, s.position))
        .collect();
    assert_eq!(
        names,
        [
            ("Todo", StatusCategory::Todo, 0),
            ("In Progress", StatusCategory::InProgress, 1),
            ("In Review", StatusCategory::InReview, 2),
            ("Issue", StatusCategory::Issue, 3),
            ("Done", StatusCategory::Done, 4),
        ]
    );
    let members = world
        .services
        .members
        .list_members(owner, view.project.id)
        .await?;
    assert_eq!(
        (members.len(), members[0].role, members[0].user.id),
        (1, Role::Owner, owner)
    );
    Ok(())
}

async fn a_project_key_that_differs_only_in_case_is_taken(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    world.project(owner, "WEB").await?;
    let error = world.project(owner, "web").await.unwrap_err();
    let error = error.downcast::<CreateProjectError>()?;
    assert!(matches!(error, CreateProjectError::KeyTaken(_)), "{error}");
    assert_eq!(error.class(), ErrorClass::KeyTaken);
    Ok(())
}

async fn projects_are_listed_newest_activity_first_in_keyset_pages_with_search_and_archive_filter(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let other = world.user("other").await?;
    let mut keys = Vec::new();
    for key in ["AA", "BB", "CC", "DD", "EE"] {
        world.project(owner, key).await?;
        keys.push(key);
    }
    world.project(other, "ZZ").await?;
    // Activity: a task in AA makes it the newest.
    let aa = world
        .services
        .projects
        .list_projects(
            owner,
            ProjectListInput {
                search: Some("aa".into()),
                ..Default::default()
            },
        )
        .await?;
    world.task(owner, aa.items[0].project.id, "bump").await?;

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let input = ProjectListInput {
            limit: Some(2),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = world.services.projects.list_projects(owner, input).await?;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|v| v.project.key.as_str().to_owned()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["AA", "EE", "DD", "CC", "BB"],
        "newest activity first, only my projects"
    );

    // `_` and `%` are literal in search.
    let none = world
        .services
        .projects
        .list_projects(
            owner,
            ProjectListInput {
                search: Some("_".into()),
                ..Default::default()
            },
        )
        .await?;
    assert!(none.items.is_empty());
    let by_name = world
        .services
        .projects
        .list_projects(
            owner,
            ProjectListInput {
                search: Some("project d".into()),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(by_name.items.len(), 1);

    let dd = by_name.items[0].project.id;
    world
        .services
        .projects
        .set_archived(owner, dd, true)
        .await?;
    let active = world
        .services
        .projects
        .list_projects(owner, ProjectListInput::default())
        .await?;
    assert_eq!(active.items.len(), 4);
    let all = world
        .services
        .projects
        .list_projects(
            owner,
            ProjectListInput {
                include_archived: true,
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(all.items.len(), 5);
    Ok(())
}

async fn project_changes_follow_the_decision_and_a_refusal_changes_nothing(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "CHG").await?.project.id;
    let projects = &world.services.projects;

    let rename = ProjectUpdateInput {
        name: Some("Renamed".into()),
        description: Some("About".into()),
    };
    let stale = projects
        .update_project(owner, project, rename.clone(), Some(5))
        .await
        .unwrap_err();
    assert_eq!(stale.class(), ErrorClass::VersionMismatch);
    let unchanged = projects.get_project(owner, project).await?;
    assert_eq!(
        (
            unchanged.project.name.as_str(),
            unchanged.project.row_version
        ),
        ("Project CHG", 1)
    );

    let updated = projects
        .update_project(owner, project, rename, Some(1))
        .await?;
    assert_eq!(
        (updated.project.name.as_str(), updated.project.row_version),
        ("Renamed", 2)
    );
    let stored = projects.get_project(owner, project).await?;
    assert_eq!(
        (
            stored.project.description.as_str(),
            stored.project.row_version
        ),
        ("About", 2)
    );

    let archived = projects.set_archived(owner, project, true).await?;
    assert!(archived.project.archived_at.is_some());
    let refused = projects
        .update_project(
            owner,
            project,
            ProjectUpdateInput {
                name: Some("x".into()),
                description: None,
            },
            None,
        )
        .await;
    assert_eq!(refused.unwrap_err().class(), ErrorClass::Archived);
    let restored = projects.set_archived(owner, project, false).await?;
    assert!(restored.project.archived_at.is_none());
    assert_eq!(restored.project.row_version, 4);

    let editor = world.user("editor").await?;
    world
        .services
        .members
        .set_member_role(owner, project, editor, Role::Editor)
        .await?;
    let forbidden = projects.delete_project(editor, project).await.unwrap_err();
    assert_eq!(forbidden.class(), ErrorClass::Forbidden);
    world.task(owner, project, "goes with the project").await?;
    projects.delete_project(owner, project).await?;
    assert!(world.store().get_project(project, owner).await?.is_none());
    assert_eq!(
        world.db.scalar("SELECT count(*) FROM tasks").await?,
        0,
        "cascaded"
    );
    assert_eq!(world.db.scalar("SELECT count(*) FROM statuses").await?, 0);
    Ok(())
}

async fn members_are_added_changed_listed_and_removed_and_the_last_owner_stays(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let ed = world.user("ed").await?;
    let vi = world.user("vi").await?;
    let project = world.project(owner, "MEM").await?.project.id;
    let members = &world.services.members;

    members
        .set_member_role(owner, project, vi, Role::Viewer)
        .await?;
    members
        .set_member_role(owner, project, ed, Role::Viewer)
        .await?;
    let changed = members
        .set_member_role(owner, project, ed, Role::Editor)
        .await?;
    assert_eq!(changed.role, Role::Editor);
    let listed = members.list_members(ed, project).await?;
    let roles: Vec<(UserId, Role)> = listed.iter().map(|m| (m.user.id, m.role)).collect();
    assert_eq!(
        roles,
        [(owner, Role::Owner), (ed, Role::Editor), (vi, Role::Viewer)],
        "owners first, then by role"
    );
    let stranger = world.user("stranger").await?;
    assert_eq!(
        members
            .list_members(stranger, project)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::NotFound
    );
    let unknown = members
        .set_member_role(owner, project, UserId::generate(), Role::Editor)
        .await
        .unwrap_err();
    assert_eq!(unknown.class(), ErrorClass::NotFound);

    let last = members
        .remove_member(owner, project, owner)
        .await
        .unwrap_err();
    assert_eq!(last.class(), ErrorClass::Conflict);
    let demote = members
        .set_member_role(owner, project, owner, Role::Editor)
        .await
        .unwrap_err();
    assert_eq!(demote.class(), ErrorClass::Conflict);

    members
        .set_member_role(owner, project, ed, Role::Owner)
        .await?;
    members.remove_member(owner, project, owner).await?;
    members.remove_member(vi, project, vi).await?;
    let left: Vec<UserId> = members
        .list_members(ed, project)
        .await?
        .iter()
        .map(|m| m.user.id)
        .collect();
    assert_eq!(left, [ed]);
    Ok(())
}

async fn statuses_are_created_renamed_reordered_and_deleted_by_their_rules(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "STA").await?.project.id;
    let statuses = &world.services.statuses;

    let blocked = statuses
        .create_status(
            owner,
            project,
            NewStatusInput {
                name: "Blocked".into(),
                category: StatusCategory::Issue,
                position: Some(1),
            },
        )
        .await?;
    assert_eq!(blocked.position, 1);
    let taken = statuses
        .create_status(
            owner,
            project,
            NewStatusInput {
                name: "blocked".into(),
                category: StatusCategory::Issue,
                position: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(taken.class(), ErrorClass::Conflict);

    let list = statuses.list_statuses(owner, project).await?;
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Todo",
            "Blocked",
            "In Progress",
            "In Review",
            "Issue",
            "Done"
        ]
    );
    let positions: Vec<u32> = list.iter().map(|s| s.position).collect();
    assert_eq!(positions, [0, 1, 2, 3, 4, 5]);

    let renamed = statuses
        .update_status(
            owner,
            blocked.id,
            StatusUpdateInput {
                name: Some("Waiting".into()),
                position: Some(5),
            },
        )
        .await?;
    assert_eq!((renamed.name.as_str(), renamed.position), ("Waiting", 5));
    let clash = statuses
        .update_status(
            owner,
            blocked.id,
            StatusUpdateInput {
                name: Some("DONE".into()),
                position: None,
            },
        )
        .await;
    assert_eq!(clash.unwrap_err().class(), ErrorClass::Conflict);
    let names: Vec<String> = statuses
        .list_statuses(owner, project)
        .await?
        .iter()
        .map(|s| s.name.as_str().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "Todo",
            "In Progress",
            "In Review",
            "Issue",
            "Done",
            "Waiting"
        ]
    );

    // In use (even by an archived task) → refused; unused → deleted.
    let task = world.task(owner, project, "t").await?;
    let move_to = tasklane_domain::services::tasks::MoveInput {
        status_id: Some(blocked.id),
        ..Default::default()
    };
    world
        .services
        .tasks
        .move_task(owner, task.id, move_to, None)
        .await?;
    world
        .services
        .tasks
        .set_task_archived(owner, task.id, true, None)
        .await?;
    assert_eq!(
        statuses
            .delete_status(owner, blocked.id)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::Conflict
    );
    world
        .services
        .tasks
        .delete_task(owner, task.id, None)
        .await?;
    statuses.delete_status(owner, blocked.id).await?;
    let todo = statuses.list_statuses(owner, project).await?[0].id;
    assert_eq!(
        statuses
            .delete_status(owner, todo)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::Conflict,
        "last todo"
    );
    let positions: Vec<u32> = statuses
        .list_statuses(owner, project)
        .await?
        .iter()
        .map(|s| s.position)
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4]);
    Ok(())
}

/// The SQL that filters projects by derived status derives exactly as the domain does, under
/// both policies, for counts that tell the rules apart.
async fn projects_are_filtered_by_the_status_the_domain_derives(db: TestDb) -> anyhow::Result<()> {
    use tasklane_domain::aggregation::{DerivationPolicy, DerivedStatus};
    use tasklane_domain::ports::ProjectQuery;

    let world = World::new(db);
    let owner = world.user("owner").await?;
    // todo, in_progress, in_review, issue, done
    let shapes: [[u64; 5]; 7] = [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 3],
        [1, 0, 0, 1, 1],
        [1, 1, 0, 0, 0],
        [0, 0, 2, 0, 1],
        [2, 0, 0, 0, 0],
        [1, 0, 0, 0, 1],
    ];
    let mut projects = Vec::new();
    for (i, [todo, in_progress, in_review, issue, done]) in shapes.iter().copied().enumerate() {
        let id = world.project(owner, &format!("D{i}")).await?.project.id;
        let total = todo + in_progress + in_review + issue + done;
        world
            .db
            .execute(&format!(
                "UPDATE project_aggregations SET total = {total}, todo = {todo}, in_progress = {in_progress}, \
                 in_review = {in_review}, issue = {issue}, done = {done} WHERE project_id = '{id}'"
            ))
            .await?;
        let counts = Counts {
            total,
            todo,
            in_progress,
            in_review,
            issue,
            done,
        };
        projects.push((id, counts));
    }
    for policy in [DerivationPolicy::ActiveWins, DerivationPolicy::EarliestWins] {
        for status in [
            DerivedStatus::Todo,
            DerivedStatus::InProgress,
            DerivedStatus::Issue,
            DerivedStatus::Done,
        ] {
            let query = ProjectQuery {
                limit: 50,
                cursor: None,
                search: None,
                include_archived: false,
                derived_status: Some(status),
                policy,
            };
            let page = world.store().list_projects(owner, query).await?;
            let mut listed: Vec<ProjectId> = page.items.iter().map(|r| r.project.id).collect();
            let mut expected: Vec<ProjectId> = projects
                .iter()
                .filter(|(_, counts)| policy.derive(counts) == status)
                .map(|(id, _)| *id)
                .collect();
            listed.sort();
            expected.sort();
            assert_eq!(listed, expected, "{policy:?} {status:?}");
        }
    }
    Ok(())
}

crate::contract!(
    projects_are_filtered_by_the_status_the_domain_derives,
    a_project_is_created_with_its_owner_five_statuses_and_a_zero_aggregation,
    a_project_key_that_differs_only_in_case_is_taken,
    projects_are_listed_newest_activity_first_in_keyset_pages_with_search_and_archive_filter,
    project_changes_follow_the_decision_and_a_refusal_changes_nothing,
    members_are_added_changed_listed_and_removed_and_the_last_owner_stays,
    statuses_are_created_renamed_reordered_and_deleted_by_their_rules,
);
