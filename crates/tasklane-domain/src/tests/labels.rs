//! Interaction tests of the label service, and of setting a task's labels, with mocked ports:
//! who may manage labels, unique names ignoring case, the per-project limit, and a task's label
//! set that is all from its project or refused whole.

use crate::errors::{Classify, ErrorClass, TxError};
use crate::events::{EventPayload, TaskField};
use crate::ids::{LabelId, ProjectId, UserId};
use crate::model::Label;
use crate::ports::{LabelContext, ProjectLabel};
use crate::services::labels::{LabelUpdateInput, MAX_LABELS, NewLabelInput};
use crate::services::tasks::TaskUpdateInput;
use crate::tests::support::{Board, Harness, fields, logged};
use crate::values::{LabelColor, LabelName, Role, StatusCategory};

fn label(name: &str) -> Label {
    Label {
        id: LabelId::generate(),
        name: LabelName::new(name).unwrap(),
        color: LabelColor::new("#123456").unwrap(),
    }
}

fn context(role: Option<Role>, labels: Vec<Label>, target: Option<Label>) -> LabelContext {
    LabelContext {
        project_id: role.map(|_| ProjectId::generate()),
        actor_role: role,
        project_archived: false,
        labels,
        target,
    }
}

/// A repository that decides on `context` and writes what was decided.
fn repository(h: &mut Harness, context: LabelContext) {
    let (create, update, delete) = (context.clone(), context.clone(), context);
    h.labels
        .expect_create_label()
        .returning(move |project_id, _, decide, record| {
            let label = decide(create.clone()).map_err(TxError::Rejected)?;
            Ok(logged(ProjectLabel { project_id, label }, &record))
        });
    h.labels
        .expect_update_label()
        .returning(move |_, _, decide, record| {
            let label = decide(update.clone()).map_err(TxError::Rejected)?;
            let project_id = update.project_id.unwrap();
            Ok(logged(ProjectLabel { project_id, label }, &record))
        });
    h.labels
        .expect_delete_label()
        .returning(move |_, _, decide, record| {
            decide(delete.clone()).map_err(TxError::Rejected)?;
            let written = ProjectLabel {
                project_id: delete.project_id.unwrap(),
                label: delete.target.clone().unwrap(),
            };
            Ok(logged(written, &record))
        });
}

fn new(name: &str, color: &str) -> NewLabelInput {
    NewLabelInput {
        name: name.into(),
        color: color.into(),
    }
}

#[tokio::test]
async fn editors_create_labels_with_free_names_within_the_limit() {
    let mut h = Harness::new();
    repository(
        &mut h,
        context(Some(Role::Editor), vec![label("Bug")], None),
    );
    let (services, recorder) = h.build();
    let project = ProjectId::generate();
    let made = services
        .labels
        .create(UserId::generate(), project, new(" UX ", "#ABCDEF"))
        .await
        .unwrap();
    assert_eq!((made.name.as_str(), made.color.as_str()), ("UX", "#abcdef"));
    assert_eq!(recorder.names(), ["label_created"]);
    assert_eq!(recorder.events()[0].project_id, project);

    let taken = services
        .labels
        .create(UserId::generate(), project, new("bUG", "#000000"))
        .await
        .unwrap_err();
    assert_eq!(taken.class(), ErrorClass::Invalid);
    assert_eq!(taken.field_errors().unwrap().errors()[0].field, "name");
    let bad = services
        .labels
        .create(UserId::generate(), project, new("", "blue"))
        .await
        .unwrap_err();
    let fields = fields(&bad);
    assert_eq!(fields, ["name", "color"]);
    assert_eq!(recorder.names().len(), 1, "refusals publish nothing");

    let full: Vec<Label> = (0..MAX_LABELS).map(|i| label(&format!("l{i}"))).collect();
    let mut h = Harness::new();
    repository(&mut h, context(Some(Role::Owner), full, None));
    let (services, _) = h.build();
    let error = services
        .labels
        .create(UserId::generate(), project, new("one more", "#000000"))
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "body");
}

#[tokio::test]
async fn viewers_and_strangers_manage_no_labels() {
    for (role, class) in [
        (Some(Role::Viewer), ErrorClass::Forbidden),
        (None, ErrorClass::NotFound),
    ] {
        let target = label("Bug");
        let mut h = Harness::new();
        repository(
            &mut h,
            context(role, vec![target.clone()], Some(target.clone())),
        );
        let (services, recorder) = h.build();
        let actor = UserId::generate();
        let create = services
            .labels
            .create(actor, ProjectId::generate(), new("X", "#000000"));
        assert_eq!(create.await.unwrap_err().class(), class);
        let rename = LabelUpdateInput {
            name: Some("Y".into()),
            color: None,
        };
        assert_eq!(
            services
                .labels
                .update(actor, target.id, rename)
                .await
                .unwrap_err()
                .class(),
            class
        );
        assert_eq!(
            services
                .labels
                .delete(actor, target.id)
                .await
                .unwrap_err()
                .class(),
            class
        );
        assert!(recorder.names().is_empty());
    }
}

#[tokio::test]
async fn a_label_is_renamed_to_a_free_name_or_its_own_in_another_case() {
    let (bug, ux) = (label("Bug"), label("UX"));
    let mut h = Harness::new();
    repository(
        &mut h,
        context(Some(Role::Editor), vec![bug.clone(), ux], Some(bug.clone())),
    );
    let (services, recorder) = h.build();
    let actor = UserId::generate();
    let rename = |name: &str| LabelUpdateInput {
        name: Some(name.into()),
        color: None,
    };
    let error = services
        .labels
        .update(actor, bug.id, rename("ux"))
        .await
        .unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors()[0].field, "name");
    let renamed = services
        .labels
        .update(actor, bug.id, rename("BUG"))
        .await
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.color.as_str()),
        ("BUG", "#123456")
    );
    let empty = services
        .labels
        .update(actor, bug.id, LabelUpdateInput::default())
        .await;
    assert_eq!(
        empty.unwrap_err().field_errors().unwrap().errors()[0].field,
        "body"
    );
    services.labels.delete(actor, bug.id).await.unwrap();
    assert_eq!(recorder.names(), ["label_updated", "label_deleted"]);
}

#[tokio::test]
async fn a_tasks_labels_are_all_of_its_project_or_nothing_changes() {
    let board = Board::new();
    let task = board.task(StatusCategory::Todo, 1);
    let (bug, ux) = (label("Bug"), label("UX"));
    let mut context = board.task_context(Some(Role::Editor), &task);
    // The store found only the labels of the task's project among those asked for.
    context.labels = vec![bug.clone(), ux.clone()];
    let mut h = Harness::new();
    let (b, t, c) = (board.clone(), task.clone(), context);
    h.tasks
        .expect_update_task()
        .returning(move |request, decide, record| {
            assert!(
                request.lookup.label_ids.is_some(),
                "the store is asked to look them up"
            );
            let plan = decide(c.clone()).map_err(TxError::Rejected)?;
            Ok(logged(
                b.apply_update(&t, &plan, crate::aggregation::Counts::ZERO),
                &record,
            ))
        });
    let (services, recorder) = h.build();
    let actor = UserId::generate();
    let set = |ids: Vec<LabelId>| TaskUpdateInput {
        label_ids: Some(ids),
        ..TaskUpdateInput::default()
    };

    let foreign = services
        .tasks
        .update_task(actor, task.id, set(vec![bug.id, LabelId::generate()]), None)
        .await
        .unwrap_err();
    assert_eq!(
        foreign.field_errors().unwrap().errors()[0].field,
        "label_ids"
    );
    let too_many = services
        .tasks
        .update_task(actor, task.id, set(vec![bug.id; 21]), None)
        .await
        .unwrap_err();
    assert_eq!(
        too_many.field_errors().unwrap().errors()[0].field,
        "label_ids"
    );
    assert!(recorder.names().is_empty(), "nothing half-applied");

    let updated = services
        .tasks
        .update_task(actor, task.id, set(vec![ux.id, bug.id, ux.id]), None)
        .await
        .unwrap();
    let mut expected = vec![bug, ux];
    Label::sort(&mut expected);
    assert_eq!(updated.labels, expected, "each once, in creation order");
    let events = recorder.events();
    let EventPayload::TaskUpdated { changed, .. } = &events[0].payload else {
        panic!("{events:?}")
    };
    assert_eq!(changed, &[TaskField::Labels]);
}
