//! The role matrix of docs/domain.md, checked through every service operation: each test runs one
//! operation as owner, editor, viewer and non-member against a store that reports that role, and
//! compares who may act (allowed), who is refused (forbidden, 403) and who must not learn the
//! project exists (not found, 404).
//!
//! Test code only (`#[cfg(test)]`), over 600 lines on purpose: the matrix is one table, one
//! short test per operation, and reading every operation's row side by side is what lets a
//! reviewer see that no operation was left out.

use std::future::Future;

use crate::aggregation::Counts;
use crate::errors::{Classify, ErrorClass, TxError};
use crate::ids::UserId;
use crate::model::{Member, ProjectRead};
use crate::ports::{
    AggregationRepair, MembersRead, MembershipChange, MembershipContext, ProjectContext,
    StatusContext, StatusesChanged, StatusesRead, TaskListing, TaskRead,
};
use crate::services::Services;
use crate::services::projects::*;
use crate::services::statuses::*;
use crate::services::tasks::*;
use crate::tests::support::{Board, Harness, counts, logged, now, user};
use crate::values::{Role, StatusCategory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}
use Outcome::{Allowed, Forbidden, NotFound};

/// Owner, editor, viewer, non-member.
const ROLES: [Option<Role>; 4] = [
    Some(Role::Owner),
    Some(Role::Editor),
    Some(Role::Viewer),
    None,
];
const READ: [Outcome; 4] = [Allowed, Allowed, Allowed, NotFound];
const OWNER_AND_EDITOR: [Outcome; 4] = [Allowed, Allowed, Forbidden, NotFound];
const OWNER_ONLY: [Outcome; 4] = [Allowed, Forbidden, Forbidden, NotFound];

fn outcome<T, E: Classify>(result: Result<T, E>) -> Outcome {
    match result {
        Ok(_) => Allowed,
        Err(error) => match error.class() {
            ErrorClass::Forbidden => Forbidden,
            ErrorClass::NotFound => NotFound,
            other => panic!("unexpected {other:?}: {error}"),
        },
    }
}

/// Runs `operation` once per role, each against fresh mocks built by `arrange`.
async fn check<Fut>(
    expected: [Outcome; 4],
    arrange: impl Fn(&mut Harness, &Board, Option<Role>),
    operation: impl Fn(Services, Board) -> Fut,
) where
    Fut: Future<Output = Outcome>,
{
    for (role, want) in ROLES.into_iter().zip(expected) {
        let board = Board::new();
        let mut h = Harness::new();
        arrange(&mut h, &board, role);
        let (services, _) = h.build();
        assert_eq!(operation(services, board).await, want, "as {role:?}");
    }
}

fn actor() -> UserId {
    UserId::generate()
}

// ----- projects ------------------------------------------------------------------------------

fn project_read(h: &mut Harness, board: &Board, role: Option<Role>) {
    let read = ProjectRead {
        project: board.project(Counts::ZERO, false),
        role,
    };
    h.projects
        .expect_get_project()
        .returning(move |_, _| Ok(Some(read.clone())));
}

fn project_context(board: &Board, role: Option<Role>, archived: bool) -> ProjectContext {
    ProjectContext {
        project: Some(board.project(Counts::ZERO, archived)),
        actor_role: role,
    }
}

#[tokio::test]
async fn role_matrix_get_project() {
    check(READ, project_read, |s, b| async move {
        outcome(s.projects.get_project(actor(), b.project_id).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_get_aggregation() {
    check(READ, project_read, |s, b| async move {
        outcome(s.projects.get_aggregation(actor(), b.project_id).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_update_project() {
    check(
        OWNER_AND_EDITOR,
        |h, b, role| {
            let (context, project) = (
                project_context(b, role, false),
                b.project(Counts::ZERO, false),
            );
            h.projects
                .expect_update_project()
                .returning(move |_, decide, record| {
                    decide(context.clone()).map_err(TxError::Rejected)?;
                    let read = ProjectRead {
                        project: project.clone(),
                        role,
                    };
                    Ok(logged(read, &record))
                });
        },
        |s, b| async move {
            let input = ProjectUpdateInput {
                name: Some("Renamed".into()),
                description: None,
            };
            outcome(
                s.projects
                    .update_project(actor(), b.project_id, input, None)
                    .await,
            )
        },
    )
    .await;
}

fn archivable(archived_before: bool) -> impl Fn(&mut Harness, &Board, Option<Role>) {
    move |h, b, role| {
        let (context, project) = (
            project_context(b, role, archived_before),
            b.project(Counts::ZERO, !archived_before),
        );
        h.projects
            .expect_set_project_archived()
            .returning(move |_, decide, record| {
                decide(context.clone()).map_err(TxError::Rejected)?;
                let read = ProjectRead {
                    project: project.clone(),
                    role,
                };
                Ok(logged(read, &record))
            });
    }
}

#[tokio::test]
async fn role_matrix_archive_project() {
    check(OWNER_ONLY, archivable(false), |s, b| async move {
        outcome(s.projects.set_archived(actor(), b.project_id, true).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_restore_project() {
    check(OWNER_ONLY, archivable(true), |s, b| async move {
        outcome(s.projects.set_archived(actor(), b.project_id, false).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_delete_project() {
    check(
        OWNER_ONLY,
        |h, b, role| {
            let context = project_context(b, role, false);
            h.projects
                .expect_delete_project()
                .returning(move |_, decide, record| {
                    decide(context.clone()).map_err(TxError::Rejected)?;
                    Ok(logged((), &record))
                });
        },
        |s, b| async move { outcome(s.projects.delete_project(actor(), b.project_id).await) },
    )
    .await;
}

#[tokio::test]
async fn role_matrix_recount_aggregation() {
    check(
        OWNER_ONLY,
        |h, b, role| {
            project_read(h, b, role);
            let after = b.project(counts(1, 0, 0, 0, 0), false).aggregation;
            h.aggregations
                .expect_repair_aggregation()
                .returning(move |_, _, record| {
                    let repair = AggregationRepair {
                        before: Some(Counts::ZERO),
                        after: after.clone(),
                    };
                    Ok(logged(repair, &record))
                });
        },
        |s, b| async move { outcome(s.projects.recount(actor(), b.project_id).await) },
    )
    .await;
}

// ----- members -------------------------------------------------------------------------------

fn membership(role: Option<Role>) -> MembershipContext {
    MembershipContext {
        actor_role: role,
        target_user: Some(user("target")),
        target_role: Some(Role::Editor),
        owner_count: 1,
    }
}

#[tokio::test]
async fn role_matrix_list_members() {
    check(
        READ,
        |h, _, role| {
            h.projects.expect_list_members().returning(move |_, _| {
                Ok(MembersRead {
                    viewer_role: role,
                    members: vec![],
                })
            });
        },
        |s, b| async move { outcome(s.members.list_members(actor(), b.project_id).await) },
    )
    .await;
}

#[tokio::test]
async fn role_matrix_set_member_role() {
    check(
        OWNER_ONLY,
        |h, _, role| {
            h.projects
                .expect_set_member_role()
                .returning(move |_, decide, record| {
                    let role = decide(membership(role)).map_err(TxError::Rejected)?;
                    let change = MembershipChange {
                        member: Some(Member {
                            user: user("target"),
                            role,
                            added_at: now(),
                        }),
                        previous_role: Some(Role::Editor),
                    };
                    Ok(logged(change, &record))
                });
        },
        |s, b| async move {
            outcome(
                s.members
                    .set_member_role(actor(), b.project_id, actor(), Role::Viewer)
                    .await,
            )
        },
    )
    .await;
}

#[tokio::test]
async fn role_matrix_remove_another_member() {
    check(
        OWNER_ONLY,
        |h, _, role| {
            h.projects
                .expect_remove_member()
                .returning(move |_, decide, record| {
                    decide(membership(role)).map_err(TxError::Rejected)?;
                    let change = MembershipChange {
                        member: None,
                        previous_role: Some(Role::Editor),
                    };
                    Ok(logged(change, &record))
                });
        },
        |s, b| async move {
            outcome(
                s.members
                    .remove_member(actor(), b.project_id, actor())
                    .await,
            )
        },
    )
    .await;
}

// ----- statuses ------------------------------------------------------------------------------

fn status_context(board: &Board, role: Option<Role>) -> StatusContext {
    StatusContext {
        project: Some(board.project(Counts::ZERO, false)),
        actor_role: role,
        statuses: board.statuses.clone(),
        target_in_use: false,
    }
}

/// The statuses a store would hold after applying `plan`.
fn statuses_after<E>(
    context: &StatusContext,
    decide: crate::errors::Decide<StatusContext, crate::ports::StatusPlan, E>,
    record: crate::ports::RecordEvents<StatusesChanged>,
) -> Result<crate::ports::Logged<StatusesChanged>, TxError<E>> {
    let plan = decide(context.clone()).map_err(TxError::Rejected)?;
    let mut statuses = context.statuses.clone();
    statuses.extend(plan.create);
    let project_id = statuses[0].project_id;
    let changed = StatusesChanged {
        project_id,
        statuses,
    };
    Ok(logged(changed, &record))
}

fn statuses_change(h: &mut Harness, board: &Board, role: Option<Role>) {
    let context = status_context(board, role);
    let c = context.clone();
    h.projects
        .expect_create_status()
        .returning(move |_, d, r| statuses_after(&c, d, r));
    let c = context.clone();
    h.projects
        .expect_update_status()
        .returning(move |_, d, r| statuses_after(&c, d, r));
    h.projects
        .expect_delete_status()
        .returning(move |_, d, r| statuses_after(&context, d, r));
}

#[tokio::test]
async fn role_matrix_list_statuses() {
    check(
        READ,
        |h, b, role| {
            let statuses = b.statuses.clone();
            h.projects.expect_list_statuses().returning(move |_, _| {
                Ok(StatusesRead {
                    viewer_role: role,
                    statuses: statuses.clone(),
                })
            });
        },
        |s, b| async move { outcome(s.statuses.list_statuses(actor(), b.project_id).await) },
    )
    .await;
}

#[tokio::test]
async fn role_matrix_create_status() {
    check(OWNER_ONLY, statuses_change, |s, b| async move {
        let input = NewStatusInput {
            name: "Blocked".into(),
            category: StatusCategory::Issue,
            position: None,
        };
        outcome(s.statuses.create_status(actor(), b.project_id, input).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_update_status() {
    check(OWNER_ONLY, statuses_change, |s, b| async move {
        let input = StatusUpdateInput {
            name: Some("Doing".into()),
            position: None,
        };
        outcome(
            s.statuses
                .update_status(actor(), b.status(StatusCategory::InProgress).id, input)
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_delete_status() {
    check(OWNER_ONLY, statuses_change, |s, b| async move {
        outcome(
            s.statuses
                .delete_status(actor(), b.status(StatusCategory::InReview).id)
                .await,
        )
    })
    .await;
}

// ----- tasks ---------------------------------------------------------------------------------

fn creations(h: &mut Harness, board: &Board, role: Option<Role>) {
    let board = board.clone();
    h.tasks
        .expect_create_tasks()
        .returning(move |_, decide, record| {
            let plan = decide(board.create_context(role, false)).map_err(TxError::Rejected)?;
            Ok(logged(
                board.apply_create(&plan, Counts::ZERO, 0, false),
                &record,
            ))
        });
}

#[tokio::test]
async fn role_matrix_create_task() {
    check(OWNER_AND_EDITOR, creations, |s, b| async move {
        let input = NewTaskInput {
            title: "t".into(),
            ..NewTaskInput::default()
        };
        outcome(s.tasks.create_task(actor(), b.project_id, input).await)
    })
    .await;
}

#[tokio::test]
async fn role_matrix_create_batch() {
    check(OWNER_AND_EDITOR, creations, |s, b| async move {
        let input = NewTaskInput {
            title: "t".into(),
            ..NewTaskInput::default()
        };
        outcome(
            s.tasks
                .create_batch(actor(), b.project_id, vec![input.clone(), input])
                .await,
        )
    })
    .await;
}

fn task_read(h: &mut Harness, board: &Board, role: Option<Role>) {
    let task = board.task(StatusCategory::Todo, 1);
    let read = TaskRead {
        viewer_role: role,
        task: Some(task),
    };
    let by_number = read.clone();
    h.tasks
        .expect_get_task()
        .returning(move |_, _| Ok(read.clone()));
    h.tasks
        .expect_get_task_by_number()
        .returning(move |_, _, _| Ok(by_number.clone()));
    h.tasks.expect_list_tasks().returning(move |_, _, _| {
        Ok(TaskListing {
            viewer_role: role,
            page: crate::model::Page {
                items: vec![],
                next_cursor: None,
            },
        })
    });
}

#[tokio::test]
async fn role_matrix_get_task() {
    check(READ, task_read, |s, _| async move {
        outcome(
            s.tasks
                .get_task(actor(), crate::ids::TaskId::generate())
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_get_task_by_key() {
    check(READ, task_read, |s, b| async move {
        outcome(
            s.tasks
                .get_task_by_key(actor(), b.project_id, "WEB-1")
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_list_tasks() {
    check(READ, task_read, |s, b| async move {
        outcome(
            s.tasks
                .list_tasks(actor(), b.project_id, TaskListInput::default())
                .await,
        )
    })
    .await;
}

/// The store applies task changes to a task that is archived or not.
fn task_changes(archived: bool) -> impl Fn(&mut Harness, &Board, Option<Role>) {
    move |h, board, role| {
        let mut task = board.task(StatusCategory::Todo, 1);
        task.archived_at = archived.then(now);
        let mut context = board.task_context(role, &task);
        context.status = Some(board.status(StatusCategory::Todo));
        let (b, t, c) = (board.clone(), task.clone(), context.clone());
        h.tasks.expect_update_task().returning(move |_, d, r| {
            let plan = d(c.clone()).map_err(TxError::Rejected)?;
            Ok(logged(b.apply_update(&t, &plan, counts(1, 0, 0, 0, 0)), &r))
        });
        let (b, t, c) = (board.clone(), task.clone(), context.clone());
        h.tasks.expect_move_task().returning(move |_, d, r| {
            let plan = d(c.clone()).map_err(TxError::Rejected)?;
            Ok(logged(b.apply_update(&t, &plan, counts(1, 0, 0, 0, 0)), &r))
        });
        let (b, t, c) = (board.clone(), task.clone(), context.clone());
        h.tasks
            .expect_set_task_archived()
            .returning(move |_, d, r| {
                let plan = d(c.clone()).map_err(TxError::Rejected)?;
                Ok(logged(b.apply_update(&t, &plan, counts(1, 0, 0, 0, 0)), &r))
            });
        h.tasks.expect_delete_task().returning(move |_, d, r| {
            d(context.clone()).map_err(TxError::Rejected)?;
            let deleted = crate::ports::TaskDeleted {
                task: task.clone(),
                subtree: vec![],
                aggregation: None,
            };
            Ok(logged(deleted, &r))
        });
    }
}

#[tokio::test]
async fn role_matrix_update_task() {
    check(OWNER_AND_EDITOR, task_changes(false), |s, _| async move {
        let input = TaskUpdateInput {
            title: Some("x".into()),
            ..TaskUpdateInput::default()
        };
        outcome(
            s.tasks
                .update_task(actor(), crate::ids::TaskId::generate(), input, None)
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_move_task() {
    check(OWNER_AND_EDITOR, task_changes(false), |s, b| async move {
        let input = MoveInput {
            status_id: Some(b.status(StatusCategory::Todo).id),
            ..MoveInput::default()
        };
        outcome(
            s.tasks
                .move_task(actor(), crate::ids::TaskId::generate(), input, None)
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_archive_task() {
    check(OWNER_AND_EDITOR, task_changes(false), |s, _| async move {
        outcome(
            s.tasks
                .set_task_archived(actor(), crate::ids::TaskId::generate(), true, None)
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_unarchive_task() {
    check(OWNER_AND_EDITOR, task_changes(true), |s, _| async move {
        outcome(
            s.tasks
                .set_task_archived(actor(), crate::ids::TaskId::generate(), false, None)
                .await,
        )
    })
    .await;
}

#[tokio::test]
async fn role_matrix_delete_task() {
    check(OWNER_AND_EDITOR, task_changes(false), |s, _| async move {
        outcome(
            s.tasks
                .delete_task(actor(), crate::ids::TaskId::generate(), None)
                .await,
        )
    })
    .await;
}
