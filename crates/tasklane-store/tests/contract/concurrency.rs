//! Concurrency: many requests at once on one project. Gap-free numbers, an aggregation equal to
//! a recount after any mix of changes, first writes racing to create a missing aggregation row,
//! and an owner kept through concurrent removals.

use std::collections::BTreeSet;

use futures::future::join_all;
use tasklane_domain::aggregation::AggregationDelta;
use tasklane_domain::errors::{Classify, Decide, ErrorClass, TxError};
use tasklane_domain::events::{DomainEvent, EventPayload};
use tasklane_domain::ids::{ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::StatusRef;
use tasklane_domain::ports::{
    CreateTasksContext, CreateTasksPlan, CreateTasksRequest, TaskDraft, TaskRepository,
};

use tasklane_domain::model::Task;
use tasklane_domain::services::tasks::{CreateTaskError, MoveInput, NewTaskInput, TaskUpdateInput};
use tasklane_domain::values::Role;
use tasklane_domain::values::{Priority, StatusCategory, TaskTitle, TaskType};
use tasklane_store::Dialect;
use tasklane_store::testing::TestDb;

use crate::World;

async fn numbers(world: &World, project: ProjectId) -> anyhow::Result<Vec<i64>> {
    let sql = format!("SELECT number FROM tasks WHERE project_id = '{project}' ORDER BY number");
    let stmt = sea_orm::Statement::from_string(world.db.dialect().backend(), sql);
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        &sea_orm::Database::connect(&world.db.url).await?,
        stmt,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0))
        .collect::<Result<_, _>>()?)
}

async fn scalar(world: &World, sql: &str) -> anyhow::Result<i64> {
    let stmt = sea_orm::Statement::from_string(world.db.dialect().backend(), sql);
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &sea_orm::Database::connect(&world.db.url).await?,
        stmt,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn two_hundred_concurrent_creations_get_numbers_1_to_200_and_an_exact_aggregation(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "HOT").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let creations = (0..200).map(|i| {
        let services = world.services.clone();
        let status_id = Some(statuses[i % statuses.len()].id);
        tokio::spawn(async move {
            let input = NewTaskInput {
                title: format!("c{i}"),
                status_id,
                ..Default::default()
            };
            services.tasks.create_task(owner, project, input).await
        })
    });
    let results = join_all(creations).await;
    let mut ranks_per_status = std::collections::HashMap::<_, BTreeSet<String>>::new();
    for result in results {
        let mut creation = result??;
        let task = creation.tasks.remove(0);
        // Each request sees the project as it stood right after its own creation, whether or
        // not its write was shared with others.
        assert_eq!(
            creation.aggregation.after.total,
            task.number(),
            "per-request counts"
        );
        assert_eq!(creation.aggregation.before.total + 1, task.number());
        assert_eq!(
            creation.project.task_counter,
            task.number(),
            "per-request counter"
        );
        assert!(
            ranks_per_status
                .entry(task.status.id)
                .or_default()
                .insert(task.rank.as_str().to_owned()),
            "a rank tie"
        );
    }
    assert_eq!(
        numbers(&world, project).await?,
        (1..=200).collect::<Vec<i64>>(),
        "gap-free, no duplicate"
    );
    let counts = world.assert_exact(project).await?;
    assert_eq!(counts.total, 200);
    if world.db.dialect() == Dialect::Postgres {
        // Rows written by one transaction share its xmin: concurrent creations were coalesced.
        let transactions = scalar(
            &world,
            &format!("SELECT count(DISTINCT xmin::text) FROM tasks WHERE project_id = '{project}'"),
        )
        .await?;
        assert!(
            transactions < 200,
            "200 concurrent creations took {transactions} transactions"
        );
    }
    // In `seq` order the creations come in number order: both were handed out in commit order.
    let in_seq_order = assert_logged_gap_free(&world, project).await?;
    let numbers: Vec<u64> = in_seq_order
        .iter()
        .filter_map(|event| match &event.payload {
            EventPayload::TaskCreated { task } => Some(task.number()),
            _ => None,
        })
        .collect();
    assert_eq!(numbers, (1..=200).collect::<Vec<u64>>(), "commit order");
    Ok(())
}

async fn two_hundred_concurrent_moves_archives_unarchives_and_deletes_keep_the_aggregation_exact(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "MIX").await?.project.id;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let inputs = (0..50)
        .map(|i| NewTaskInput {
            title: format!("m{i}"),
            status_id: Some(statuses[i % 5].id),
            ..Default::default()
        })
        .collect();
    let tasks = world
        .services
        .tasks
        .create_batch(owner, project, inputs)
        .await?
        .tasks;
    // Archive a few up front so that unarchives have work.
    for task in tasks.iter().step_by(7) {
        world
            .services
            .tasks
            .set_task_archived(owner, task.id, true, None)
            .await?;
    }
    let operations = (0..200usize).map(|i| {
        let services = world.services.clone();
        let task = tasks[(i * 37) % tasks.len()].id;
        let neighbour = tasks[(i * 11 + 3) % tasks.len()].id;
        let status_id = statuses[(i * 3) % statuses.len()].id;
        tokio::spawn(async move {
            let t = &services.tasks;
            let outcome = match i % 8 {
                0..=2 => t
                    .move_task(
                        owner,
                        task,
                        MoveInput {
                            status_id: Some(status_id),
                            ..Default::default()
                        },
                        None,
                    )
                    .await
                    .map(drop)
                    .map_err(|e| e.class()),
                3 => t
                    .move_task(
                        owner,
                        task,
                        MoveInput {
                            after_id: Some(neighbour),
                            ..Default::default()
                        },
                        None,
                    )
                    .await
                    .map(drop)
                    .map_err(|e| e.class()),
                4 => t
                    .set_task_archived(owner, task, true, None)
                    .await
                    .map(drop)
                    .map_err(|e| e.class()),
                5..=6 => t
                    .set_task_archived(owner, task, false, None)
                    .await
                    .map(drop)
                    .map_err(|e| e.class()),
                _ => t
                    .delete_task(owner, task, None)
                    .await
                    .map(drop)
                    .map_err(|e| e.class()),
            };
            (i, outcome)
        })
    });
    let mut succeeded = 0;
    for result in join_all(operations).await {
        let (i, outcome) = result?;
        match outcome {
            Ok(()) => succeeded += 1,
            // Refusals because another operation got there first are fine; failures are not.
            Err(
                ErrorClass::NotFound
                | ErrorClass::Conflict
                | ErrorClass::Archived
                | ErrorClass::AlreadyMember
                | ErrorClass::Invalid,
            ) => {}
            Err(other) => panic!("operation {i} failed: {other:?}"),
        }
    }
    assert!(succeeded > 50, "most operations went through ({succeeded})");
    world.assert_exact(project).await?;
    let in_seq_order = assert_logged_gap_free(&world, project).await?;
    assert_published_in_commit_order(&in_seq_order);
    Ok(())
}

/// Every event of the project was logged with `seq` 1, 2, 3, … without a gap or a duplicate,
/// and published with the number it was logged with. Returns the events in `seq` order.
async fn assert_logged_gap_free(
    world: &World,
    project: ProjectId,
) -> anyhow::Result<Vec<DomainEvent>> {
    let mut published: Vec<_> = world
        .published
        .logged()
        .into_iter()
        .filter(|logged| logged.event.project_id == project)
        .collect();
    published.sort_by_key(|logged| logged.seq);
    let seqs: Vec<u64> = published.iter().map(|logged| logged.seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "published seqs are 1..=N");
    let logged: Vec<u64> = world
        .db
        .integers(&format!(
            "SELECT seq FROM project_events WHERE project_id = '{project}' ORDER BY seq"
        ))
        .await?
        .into_iter()
        .map(|seq| seq.unsigned_abs())
        .collect();
    assert_eq!(logged, expected, "the log holds exactly what was published");
    Ok(published.into_iter().map(|logged| logged.event).collect())
}

/// Events in commit order: each task's versions only grow, and each derived-status change
/// starts where the previous one ended.
fn assert_published_in_commit_order(events: &[DomainEvent]) {
    let mut versions = std::collections::HashMap::new();
    let mut status = None;
    for event in events {
        match &event.payload {
            EventPayload::TaskMoved { task, .. }
            | EventPayload::TaskArchived { task }
            | EventPayload::TaskUnarchived { task }
            | EventPayload::TaskUpdated { task, .. } => {
                let last = versions.insert(task.id, task.row_version);
                assert!(
                    last.is_none_or(|last| last < task.row_version),
                    "task {} published version {} after {last:?}",
                    task.id,
                    task.row_version
                );
            }
            EventPayload::ProjectStatusChanged {
                old_status,
                new_status,
                ..
            } => {
                if let Some(previous) = status {
                    assert_eq!(*old_status, previous, "a status change out of order");
                }
                status = Some(*new_status);
            }
            _ => {}
        }
    }
}

async fn fifty_concurrent_first_writes_without_an_aggregation_row_never_fail(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "BOOT").await?.project.id;
    for i in 0..10 {
        world.task(owner, project, &format!("legacy {i}")).await?;
    }
    world.db.execute("DELETE FROM project_aggregations").await?;
    let writes = (0..50).map(|i| {
        let services = world.services.clone();
        tokio::spawn(async move {
            let input = NewTaskInput {
                title: format!("first {i}"),
                ..Default::default()
            };
            services.tasks.create_task(owner, project, input).await
        })
    });
    for result in join_all(writes).await {
        result??;
    }
    let counts = world.assert_exact(project).await?;
    assert_eq!(counts.total, 60);
    assert_eq!(
        numbers(&world, project).await?,
        (1..=60).collect::<Vec<i64>>()
    );
    Ok(())
}

async fn concurrent_owner_removals_leave_exactly_one_owner(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let first = world.user("first").await?;
    let project = world.project(first, "OWN").await?.project.id;
    let mut owners = vec![first];
    for name in ["second", "third", "fourth"] {
        let user = world.user(name).await?;
        world
            .services
            .members
            .set_member_role(first, project, user, Role::Owner)
            .await?;
        owners.push(user);
    }
    // Every owner leaves at once: one must stay.
    let leaves = owners.iter().map(|owner| {
        let (services, owner) = (world.services.clone(), *owner);
        tokio::spawn(async move {
            services
                .members
                .remove_member(owner, project, owner)
                .await
                .map_err(|e| e.class())
        })
    });
    let outcomes: Vec<_> = join_all(leaves)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(ErrorClass::Conflict)))
    );
    let remaining = world
        .db
        .scalar(&format!(
            "SELECT count(*) FROM project_members WHERE project_id = '{project}' AND role = 'owner'"
        ))
        .await?;
    assert_eq!(remaining, 1);
    Ok(())
}

/// A one-task creation in the project's first status, decided as the domain would, except that
/// `alter` may change the status first: the tests below hand the store their own decision to
/// simulate a status that changed between the decision and the write.
fn one_task_creation(
    project_id: ProjectId,
    actor: UserId,
    title: TaskTitle,
    alter: impl Fn(&mut StatusRef) + Send + Sync + 'static,
) -> (
    CreateTasksRequest,
    Decide<CreateTasksContext, CreateTasksPlan, CreateTaskError>,
) {
    let request = CreateTasksRequest {
        project_id,
        actor,
        assignee_ids: Vec::new(),
        parent_ids: Vec::new(),
    };
    let decide = Box::new(move |context: CreateTasksContext| {
        let mut status = context.statuses[0].clone();
        alter(&mut status);
        Ok(one_task_plan(&context, status, &title))
    });
    (request, decide)
}

fn one_task_plan(
    context: &CreateTasksContext,
    status: StatusRef,
    title: &TaskTitle,
) -> CreateTasksPlan {
    CreateTasksPlan {
        delta: AggregationDelta::create(status.category),
        drafts: vec![TaskDraft {
            id: TaskId::generate(),
            title: title.clone(),
            description: None,
            status,
            priority: Priority::default(),
            task_type: TaskType::default(),
            story_points: None,
            due_date: None,
            assignee: None,
            reporter: context.reporter.clone(),
            parent_id: None,
            completed_at: None,
        }],
        restore_project: false,
        at: chrono::Utc::now(),
    }
}

/// On PostgreSQL concurrent creations share a transaction; one whose status vanished after its
/// context read (simulated by its decision naming a status that does not exist) must fail alone
/// and leave the others' numbers gap-free.
async fn a_creation_whose_status_vanished_fails_alone_among_concurrent_creations(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "ISO").await?.project.id;
    const BAD: usize = 10;
    let creations = (0..21).map(|i| {
        let store = world.store().clone();
        let title = TaskTitle::new(&format!("t{i}"));
        tokio::spawn(async move {
            let (request, decide) = one_task_creation(project, owner, title?, move |status| {
                if i == BAD {
                    status.id = StatusId::generate();
                }
            });
            anyhow::Ok(
                store
                    .create_tasks(request, decide, crate::no_events())
                    .await,
            )
        })
    });
    for (i, result) in join_all(creations).await.into_iter().enumerate() {
        match result?? {
            Err(TxError::Rejected(CreateTaskError::Invalid(_))) if i == BAD => {}
            Ok(created) if i != BAD => assert_eq!(created.value.tasks.len(), 1),
            other => anyhow::bail!("creation {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        numbers(&world, project).await?,
        (1..=20).collect::<Vec<i64>>(),
        "the others are created, gap-free"
    );
    assert_eq!(world.assert_exact(project).await?.total, 20);
    Ok(())
}

/// PostgreSQL decides a coalesced creation before its transaction: a status whose category
/// changed since the decision (simulated by a plan naming another category) must not be counted
/// in the old category; the creation is refused whole. (SQLite decides inside its single-writer
/// transaction, where the status cannot change under the decision.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_creation_whose_status_changed_category_since_the_decision()
-> anyhow::Result<()> {
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let project = world.project(owner, "CAT").await?.project.id;
    let (request, decide) = one_task_creation(
        project,
        owner,
        TaskTitle::new("stale category")?,
        |status| {
            status.category = StatusCategory::Done;
        },
    );
    let result = world
        .store()
        .create_tasks(request, decide, crate::no_events())
        .await;
    assert!(
        matches!(result, Err(TxError::Rejected(CreateTaskError::Invalid(_)))),
        "{result:?}"
    );
    assert!(
        numbers(&world, project).await?.is_empty(),
        "nothing written"
    );
    assert_eq!(world.assert_exact(project).await?.total, 0);
    Ok(())
}

/// Holds the row of `project` (`FOR UPDATE`, which every creation's lock waits for) in a
/// transaction of its own; returns it with its transaction id.
async fn hold_project_row(
    world: &World,
    project: ProjectId,
) -> anyhow::Result<(sea_orm::DatabaseTransaction, String)> {
    let txn = sea_orm::TransactionTrait::begin(world.db.connection()).await?;
    let sql = format!("SELECT 1 FROM projects WHERE id = '{project}' FOR UPDATE");
    let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql);
    sea_orm::ConnectionTrait::query_one_raw(&txn, stmt).await?;
    // The 32-bit id that pg_locks shows (the 64-bit one less its epoch).
    let sql = "SELECT (pg_current_xact_id()::text::bigint % 4294967296)::text AS xid";
    let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql);
    let row = sea_orm::ConnectionTrait::query_one_raw(&txn, stmt)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no transaction id"))?;
    Ok((txn, row.try_get("", "xid")?))
}

/// Waits until a transaction waits for transaction `xid`.
async fn someone_waits_for(world: &World, xid: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let sql = format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted \
         AND transactionid::text = '{xid}'"
    );
    while world.db.scalar(&sql).await? == 0 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "nobody waited for {xid}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Waits until `count` says `want` (a store's count of what waits for its writer or reader).
async fn until_counted(
    what: &str,
    want: Option<usize>,
    count: impl Fn() -> Option<usize>,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count() != want {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{want:?} {what} never waited (now {:?})",
            count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Waits until `waiting` projects' creation batches wait for a group.
async fn creation_batches_waiting(world: &World, waiting: usize) -> anyhow::Result<()> {
    until_counted("creation batches", Some(waiting), || {
        world.store().creation_batches_waiting()
    })
    .await
}

/// On PostgreSQL creations in different projects that wait at once share one transaction
/// (group commit), each answered as if it had committed alone; a group with a creation that
/// fails is written again project by project, and only that creation fails.
///
/// The store has one writers' connection (a pool of 4), so one committer: a creation held at
/// its project's row keeps it busy while the others line up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_creations_of_several_projects_in_one_transaction() -> anyhow::Result<()> {
    let options = tasklane_store::StoreOptions {
        max_connections: 4,
        ..Default::default()
    };
    let world = World::new(TestDb::postgres_with(&options).await?);
    let owner = world.user("owner").await?;
    let mut projects = Vec::new();
    for key in ["GA", "GB", "GC", "GD", "GE", "GF", "GG"] {
        projects.push(world.project(owner, key).await?.project.id);
    }
    let (blocker, grouped) = (projects[0], projects[1..].to_vec());
    let create = |project: ProjectId, title: String| {
        let services = world.services.clone();
        tokio::spawn(async move {
            let input = NewTaskInput {
                title,
                ..Default::default()
            };
            services.tasks.create_task(owner, project, input).await
        })
    };

    // Round 1: six projects' creations wait behind the held one, then commit together.
    for round in 1u64..=2 {
        let (held, xid) = hold_project_row(&world, blocker).await?;
        let first = create(blocker, format!("blocker {round}"));
        someone_waits_for(&world, &xid).await?;
        creation_batches_waiting(&world, 0).await?;
        let mut started = Vec::new();
        for (i, project) in grouped.iter().enumerate() {
            if round == 2 && i == 2 {
                // Round 2: the third project's creation names a status that vanished.
                let store = world.store().clone();
                let project = *project;
                started.push(tokio::spawn(async move {
                    let title = TaskTitle::new("vanished")?;
                    let (request, decide) = one_task_creation(project, owner, title, |status| {
                        status.id = StatusId::generate();
                    });
                    let result = store
                        .create_tasks(request, decide, crate::no_events())
                        .await;
                    anyhow::ensure!(
                        matches!(result, Err(TxError::Rejected(CreateTaskError::Invalid(_)))),
                        "the vanished status: {result:?}"
                    );
                    Ok(None)
                }));
                creation_batches_waiting(&world, i + 1).await?;
                continue;
            }
            let creation = create(*project, format!("r{round} p{i}"));
            started.push(tokio::spawn(async move {
                let created = creation.await??;
                anyhow::Ok(Some(created))
            }));
            creation_batches_waiting(&world, i + 1).await?;
        }
        held.commit().await?;
        first.await??;
        let mut written = Vec::new();
        for outcome in join_all(started).await {
            if let Some(created) = outcome?? {
                written.push(created);
            }
        }
        assert_eq!(written.len(), if round == 1 { 6 } else { 5 });
        for created in &written {
            // Each answer is its project's own: its first (or second) task, its own counts.
            let number = round;
            let task = &created.tasks[0];
            assert_eq!(task.number(), number, "{}", task.title.as_str());
            assert_eq!(
                created.aggregation.before.total + 1,
                created.aggregation.after.total
            );
            assert_eq!(created.aggregation.after.total, number);
            assert_eq!(created.project.task_counter, number);
        }
        let ids: Vec<TaskId> = written.iter().map(|created| created.tasks[0].id).collect();
        let transactions = writers_of(&world, &ids).await?;
        if round == 1 {
            assert_eq!(
                transactions, 1,
                "six projects' creations in one transaction"
            );
        } else {
            assert_eq!(
                transactions, 5,
                "the failed group written again project by project"
            );
        }
    }
    for (i, project) in grouped.iter().enumerate() {
        let expected = if i == 2 { 1 } else { 2 };
        assert_eq!(world.assert_exact(*project).await?.total, expected);
        assert_eq!(
            numbers(&world, *project).await?,
            (1..=expected as i64).collect::<Vec<i64>>()
        );
        if i != 2 {
            let logged = assert_logged_gap_free(&world, *project).await?;
            let created = logged
                .iter()
                .filter(|event| matches!(event.payload, EventPayload::TaskCreated { .. }))
                .count();
            assert_eq!(created, 2, "the project's two task_created events");
        }
    }
    Ok(())
}

/// Holds the project's event head in a transaction of its own, so that every change of the
/// project waits at its write until [`EventHeadHeld::release`].
struct EventHeadHeld(sea_orm::DatabaseTransaction);

impl EventHeadHeld {
    async fn take(world: &World, project: ProjectId) -> anyhow::Result<EventHeadHeld> {
        let txn = sea_orm::TransactionTrait::begin(world.db.connection()).await?;
        let sql = format!(
            "SELECT seq FROM project_event_heads WHERE project_id = '{project}' FOR UPDATE"
        );
        let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql);
        sea_orm::ConnectionTrait::query_one_raw(&txn, stmt)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the project has no event head"))?;
        Ok(EventHeadHeld(txn))
    }

    async fn release(self) -> anyhow::Result<()> {
        Ok(self.0.commit().await?)
    }
}

/// A new project `key` of `owner` with `count` tasks in its first column.
async fn project_with_tasks(
    world: &World,
    owner: UserId,
    key: &str,
    count: usize,
) -> anyhow::Result<(ProjectId, Vec<Task>)> {
    let project = world.project(owner, key).await?.project.id;
    let inputs = (0..count)
        .map(|i| NewTaskInput {
            title: format!("{key} {i}"),
            ..Default::default()
        })
        .collect();
    let created = world
        .services
        .tasks
        .create_batch(owner, project, inputs)
        .await?;
    Ok((project, created.tasks))
}

/// How many transactions last wrote `tasks` (rows written by one transaction share its xmin).
async fn writers_of(world: &World, tasks: &[TaskId]) -> anyhow::Result<i64> {
    let ids: Vec<String> = tasks.iter().map(|id| format!("'{id}'")).collect();
    world
        .db
        .scalar(&format!(
            "SELECT count(DISTINCT xmin::text) FROM tasks WHERE id IN ({})",
            ids.join(", ")
        ))
        .await
}

/// Waits until `waiting` changes of `project` wait for its writer (which then has one under way).
async fn changes_waiting(world: &World, project: ProjectId, waiting: usize) -> anyhow::Result<()> {
    until_counted("changes", Some(waiting), || {
        world.store().changes_waiting(project)
    })
    .await
}

/// Starts `changes` while the first one holds the project's writer: the first is written
/// alone and waits at the held event head, the others queue behind it and are written as one
/// batch once the head is released. After starting change `k` of a `(k, waiting)` checkpoint,
/// waits until `waiting` changes wait for the writer, so that the changes after it queue after
/// those. Returns each change's outcome and statement count.
async fn changes_behind_a_held_writer<T: Send + 'static>(
    world: &World,
    project: ProjectId,
    changes: Vec<futures::future::BoxFuture<'static, T>>,
    checkpoints: &[(usize, usize)],
) -> anyhow::Result<Vec<(T, u32)>> {
    let held = EventHeadHeld::take(world, project).await?;
    let mut started = Vec::new();
    for (k, change) in changes.into_iter().enumerate() {
        started.push(tokio::spawn(tasklane_store::count_statements(change)));
        if let Some(&(_, waiting)) = checkpoints.iter().find(|(at, _)| *at == k) {
            changes_waiting(world, project, waiting).await?;
        }
    }
    held.release().await?;
    let mut outcomes = Vec::new();
    for outcome in join_all(started).await {
        outcomes.push(outcome?);
    }
    Ok(outcomes)
}

/// What a change in [`postgres_writes_the_concurrent_changes_of_a_project_in_one_transaction`]
/// does.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Rename,
    Move,
    Archive,
    /// A move with a stale `If-Match`: refused on its context read, before it is queued.
    StaleMove,
}

/// On PostgreSQL the concurrent changes of one project are written in one transaction, each
/// decided on a context read made before it (in the request's own task). Each request still
/// gets its own outcome and counts its own statements (the batch's lock as one); a change
/// whose read went out of date before the write (a second change of the same task in the
/// batch) is decided again under the lock, and written or refused as the task then stands; the
/// log, the aggregation and every task's versions come out as if the changes had committed one
/// after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_the_concurrent_changes_of_a_project_in_one_transaction()
-> anyhow::Result<()> {
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let (project, tasks) = project_with_tasks(&world, owner, "BAT", 21).await?;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    // The first change holds the writer; 20 changes queue behind it, then three more: a second
    // archive of task 1 and a second rename of task 2 (both read before the batch is written,
    // so out of date by their turn), and a refused move.
    let mut plan: Vec<(usize, Kind)> = (0..=20)
        .map(|i| (i, [Kind::Rename, Kind::Move, Kind::Archive][i % 3]))
        .collect();
    plan[1].1 = Kind::Archive;
    plan[2].1 = Kind::Rename;
    plan.extend([(1, Kind::Archive), (2, Kind::Rename), (3, Kind::StaleMove)]);
    let changes = plan
        .iter()
        .enumerate()
        .map(|(n, &(i, kind))| {
            let services = world.services.clone();
            let task = tasks[i].id;
            let status_id = Some(statuses[(i + 1) % statuses.len()].id);
            let change: futures::future::BoxFuture<'static, Result<Task, ErrorClass>> =
                Box::pin(async move {
                    let t = &services.tasks;
                    let to = MoveInput {
                        status_id,
                        ..Default::default()
                    };
                    match kind {
                        Kind::Rename => {
                            let input = TaskUpdateInput {
                                title: Some(format!("renamed {n}")),
                                ..Default::default()
                            };
                            t.update_task(owner, task, input, None)
                                .await
                                .map_err(|e| e.class())
                        }
                        Kind::Move => t
                            .move_task(owner, task, to, None)
                            .await
                            .map_err(|e| e.class()),
                        Kind::StaleMove => t
                            .move_task(owner, task, to, Some(99))
                            .await
                            .map_err(|e| e.class()),
                        Kind::Archive => t
                            .set_task_archived(owner, task, true, None)
                            .await
                            .map_err(|e| e.class()),
                    }
                });
            change
        })
        .collect();
    let outcomes =
        changes_behind_a_held_writer(&world, project, changes, &[(0, 0), (20, 20), (23, 22)])
            .await?;
    let mut batched = Vec::new();
    for (n, (outcome, statements)) in outcomes.into_iter().enumerate() {
        let (i, kind) = plan[n];
        match (n, kind, outcome) {
            (_, Kind::StaleMove, Err(ErrorClass::VersionMismatch)) => {
                assert_eq!(statements, 1, "refused on its context read");
            }
            // Archived meanwhile, by the change before it in the batch.
            (21, Kind::Archive, Err(ErrorClass::Archived | ErrorClass::Conflict)) => {
                assert_eq!(
                    statements, 4,
                    "read, lock, the write that matched nothing, read again"
                );
            }
            (22, Kind::Rename, Ok(task)) => {
                assert_eq!(task.title.as_str(), "renamed 22");
                assert_eq!(
                    task.row_version,
                    tasks[i].row_version + 2,
                    "after the first rename"
                );
                assert!(
                    (5..=6).contains(&statements),
                    "read, lock, the write that matched nothing, read and write again: {statements}"
                );
            }
            (1..=20, _, Ok(task)) => {
                assert_eq!(task.row_version, tasks[i].row_version + 1, "change {n}");
                batched.push(task.id);
                assert!(
                    (3..=4).contains(&statements),
                    "change {n}: {statements} statements (read, lock, write, maybe the derived status)"
                );
            }
            (0, _, Ok(_)) => {}
            (n, kind, outcome) => anyhow::bail!("change {n} ({kind:?}): unexpected {outcome:?}"),
        }
    }
    assert_eq!(batched.len(), 20);
    assert_eq!(
        writers_of(&world, &batched).await?,
        1,
        "the changes queued behind the first were written in one transaction"
    );
    assert_eq!(
        world
            .db
            .scalar(&format!(
                "SELECT row_version FROM tasks WHERE id = '{}'",
                tasks[3].id
            ))
            .await?,
        i64::try_from(tasks[3].row_version + 1)?,
        "the refused move wrote nothing"
    );
    world.assert_exact(project).await?;
    let in_seq_order = assert_logged_gap_free(&world, project).await?;
    assert_published_in_commit_order(&in_seq_order);
    Ok(())
}

/// Holds `project`'s row (`FOR NO KEY UPDATE`, as a writer does: inserts that reference the
/// project go on) in a transaction of its own: a change writer's lock statement waits for it,
/// and changes queue behind that writer.
async fn hold_project_row_for_changes(
    world: &World,
    project: ProjectId,
) -> anyhow::Result<sea_orm::DatabaseTransaction> {
    let held = sea_orm::TransactionTrait::begin(world.db.connection()).await?;
    let lock = format!("SELECT id FROM projects WHERE id = '{project}' FOR NO KEY UPDATE");
    sea_orm::ConnectionTrait::execute_unprepared(&held, &lock).await?;
    Ok(held)
}

/// Starts renaming `task` as `actor`; its outcome and the statements it sent.
fn rename(
    world: &World,
    actor: UserId,
    task: TaskId,
    title: &str,
) -> tokio::task::JoinHandle<(Result<Task, ErrorClass>, u32)> {
    let services = world.services.clone();
    let input = TaskUpdateInput {
        title: Some(title.into()),
        ..Default::default()
    };
    tokio::spawn(tasklane_store::count_statements(async move {
        services
            .tasks
            .update_task(actor, task, input, None)
            .await
            .map_err(|e| e.class())
    }))
}

/// A change decided on a read made before its transaction is decided again, under the locks,
/// when something it read moved before the write, even without the task's version: a comment
/// added meanwhile (the answer carries the new count), a role taken away meanwhile (refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_decides_a_change_again_when_its_early_read_went_out_of_date() -> anyhow::Result<()>
{
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let (editor, demoted) = (world.user("editor").await?, world.user("demoted").await?);
    let (project, tasks) = project_with_tasks(&world, owner, "RED", 3).await?;
    for member in [editor, demoted] {
        world.editor(owner, project, member).await?;
    }
    // The project row held: the writer's lock statement waits, changes queue behind it.
    let held = hold_project_row_for_changes(&world, project).await?;
    let rename = |actor, task, title| rename(&world, actor, task, title);
    let first = rename(owner, tasks[0].id, "first");
    changes_waiting(&world, project, 0).await?;
    let commented = rename(editor, tasks[1].id, "after a comment");
    let refused = rename(demoted, tasks[2].id, "after a demotion");
    changes_waiting(&world, project, 2).await?;
    // Both were read and decided; now what they read moves.
    world
        .services
        .comments
        .add(owner, tasks[1].id, "meanwhile")
        .await?;
    world
        .db
        .execute(&format!(
            "UPDATE project_members SET role = 'viewer' WHERE project_id = '{project}' AND user_id = '{demoted}'"
        ))
        .await?;
    held.commit().await?;
    let (first, _) = first.await?;
    assert!(first.is_ok(), "{first:?}");
    let (commented, statements) = commented.await?;
    let commented = commented.map_err(|class| anyhow::anyhow!("{class:?}"))?;
    assert_eq!(
        commented.comment_count, 1,
        "the answer carries the comment added meanwhile"
    );
    assert_eq!(
        statements, 5,
        "read, lock, the write that matched nothing, read and write again"
    );
    let (refused, statements) = refused.await?;
    assert!(matches!(refused, Err(ErrorClass::Forbidden)), "{refused:?}");
    assert_eq!(
        statements, 4,
        "read, lock, the write that matched nothing, read again"
    );
    assert_eq!(
        world
            .db
            .scalar(&format!(
                "SELECT row_version FROM tasks WHERE id = '{}'",
                tasks[2].id
            ))
            .await?,
        i64::try_from(tasks[2].row_version)?,
        "the demoted member's change wrote nothing"
    );
    world.assert_exact(project).await?;
    assert_logged_gap_free(&world, project).await?;
    Ok(())
}

/// How many statements last wrote `tasks`: rows written by one statement share its transaction
/// (`xmin`) and its command within it (`cmin`).
async fn statements_of(world: &World, tasks: &[TaskId]) -> anyhow::Result<i64> {
    let ids: Vec<String> = tasks.iter().map(|id| format!("'{id}'")).collect();
    world
        .db
        .scalar(&format!(
            "SELECT count(DISTINCT (xmin::text, cmin::text)) FROM tasks WHERE id IN ({})",
            ids.join(", ")
        ))
        .await
}

/// On PostgreSQL the changes of a batch decided before it, of distinct tasks, are written by
/// one statement, as if one after the other in queue order: moves to the end of one column
/// take its next places in that order, each answer is the row as written, the derived status's
/// change is logged once, and the aggregation and the log come out as they would have
/// committing one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_a_batch_of_decided_changes_in_one_statement() -> anyhow::Result<()> {
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let (project, tasks) = project_with_tasks(&world, owner, "SET", 12).await?;
    let statuses = world
        .services
        .statuses
        .list_statuses(owner, project)
        .await?;
    let target = statuses
        .iter()
        .find(|status| {
            status.id != tasks[0].status.id && status.category != tasks[0].status.category
        })
        .map(|status| status.id)
        .ok_or_else(|| anyhow::anyhow!("no column of another category"))?;
    // The first change holds the writer; then eight moves to `target` and three renames queue.
    let changes = (0..12)
        .map(|i| {
            let services = world.services.clone();
            let task = tasks[i].id;
            let change: futures::future::BoxFuture<'static, Result<Task, ErrorClass>> =
                Box::pin(async move {
                    let t = &services.tasks;
                    if (1..=8).contains(&i) {
                        let to = MoveInput {
                            status_id: Some(target),
                            ..Default::default()
                        };
                        t.move_task(owner, task, to, None)
                            .await
                            .map_err(|e| e.class())
                    } else {
                        let input = TaskUpdateInput {
                            title: Some(format!("renamed {i}")),
                            ..Default::default()
                        };
                        t.update_task(owner, task, input, None)
                            .await
                            .map_err(|e| e.class())
                    }
                });
            change
        })
        .collect();
    let outcomes =
        changes_behind_a_held_writer(&world, project, changes, &[(0, 0), (11, 11)]).await?;
    let mut written = Vec::new();
    let mut with_derived_status = 0;
    for (n, (outcome, statements)) in outcomes.into_iter().enumerate() {
        let task = outcome.map_err(|class| anyhow::anyhow!("change {n}: {class:?}"))?;
        if n > 0 {
            // The first move in queue order takes the project out of `todo`: its derived
            // status's change is logged after the batch's statement, by one more.
            assert!(
                (3..=4).contains(&statements),
                "change {n}: read, lock, the batch's statement (and the derived status): {statements}"
            );
            with_derived_status += usize::from(statements == 4);
            assert_eq!(task.row_version, tasks[n].row_version + 1, "change {n}");
            written.push(task);
        }
    }
    assert_eq!(
        with_derived_status, 1,
        "one change moved the derived status"
    );
    let ids: Vec<TaskId> = written.iter().map(|task| task.id).collect();
    assert_eq!(writers_of(&world, &ids).await?, 1, "one transaction");
    assert_eq!(statements_of(&world, &ids).await?, 1, "one statement");
    for task in &written {
        let rows = world
            .db
            .text_pairs(&format!(
                "SELECT rank, row_version::text FROM tasks WHERE id = '{}'",
                task.id
            ))
            .await?;
        assert_eq!(
            rows,
            vec![(task.rank.as_str().to_owned(), task.row_version.to_string())],
            "the answer is the row as written"
        );
    }
    world.assert_exact(project).await?;
    let in_seq_order = assert_logged_gap_free(&world, project).await?;
    assert_published_in_commit_order(&in_seq_order);
    // The moves in log order (queue order) took the column's next places in that order, as
    // their answers say.
    let moved: Vec<&Task> = in_seq_order
        .iter()
        .filter_map(|event| match &event.payload {
            EventPayload::TaskMoved { task, .. } if task.status.id == target => Some(task.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(moved.len(), 8);
    assert!(
        moved.windows(2).all(|pair| pair[0].rank < pair[1].rank),
        "appended in log order: {:?}",
        moved.iter().map(|t| t.rank.as_str()).collect::<Vec<_>>()
    );
    for task in &moved {
        let answer = written.iter().find(|answer| answer.id == task.id);
        assert_eq!(
            answer.map(|a| &a.rank),
            Some(&task.rank),
            "the event holds the answer's rank"
        );
    }
    // The renames move no count: the aggregation's time is the last move's, in log order.
    let last_moved = moved
        .last()
        .map(|task| task.id.to_string())
        .unwrap_or_default();
    assert_eq!(
        world
            .db
            .scalar(&format!(
                "SELECT (a.updated_at = t.updated_at)::int::bigint FROM project_aggregations a, tasks t \
                 WHERE a.project_id = '{project}' AND t.id = '{last_moved}'"
            ))
            .await?,
        1,
        "the aggregation's time is its last count change's"
    );
    Ok(())
}

/// When a premise of one decision in a batch moved before the write (here its actor's role),
/// the batch's one statement writes nothing, and each change is written on its own, where its
/// own check decides: the demoted member's changes are refused, the owner's is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_each_change_alone_when_a_premise_of_its_batch_moved() -> anyhow::Result<()>
{
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let demoted = world.user("demoted").await?;
    let (project, tasks) = project_with_tasks(&world, owner, "PRE", 4).await?;
    world.editor(owner, project, demoted).await?;
    // The project row held: the writer's lock statement waits, changes queue behind it.
    let held = hold_project_row_for_changes(&world, project).await?;
    let rename = |actor, task, title| rename(&world, actor, task, title);
    let first = rename(owner, tasks[0].id, "first");
    changes_waiting(&world, project, 0).await?;
    let refused = [
        rename(demoted, tasks[1].id, "demoted 1"),
        rename(demoted, tasks[2].id, "demoted 2"),
    ];
    let kept = rename(owner, tasks[3].id, "kept");
    changes_waiting(&world, project, 3).await?;
    // All three were read and decided; now the demoted member's role moves.
    world
        .db
        .execute(&format!(
            "UPDATE project_members SET role = 'viewer' WHERE project_id = '{project}' AND user_id = '{demoted}'"
        ))
        .await?;
    held.commit().await?;
    assert!(first.await?.0.is_ok());
    for (i, refused) in refused.into_iter().enumerate() {
        let (outcome, statements) = refused.await?;
        assert!(matches!(outcome, Err(ErrorClass::Forbidden)), "{outcome:?}");
        assert_eq!(
            statements, 5,
            "read, lock, the batch's statement that wrote nothing, the write that matched nothing, read again"
        );
        assert_eq!(
            world
                .db
                .scalar(&format!(
                    "SELECT row_version FROM tasks WHERE id = '{}'",
                    tasks[i + 1].id
                ))
                .await?,
            i64::try_from(tasks[i + 1].row_version)?,
            "the demoted member's change wrote nothing"
        );
    }
    let (kept, statements) = kept.await?;
    let kept = kept.map_err(|class| anyhow::anyhow!("{class:?}"))?;
    assert_eq!(kept.title.as_str(), "kept");
    assert_eq!(
        statements, 4,
        "read, lock, the batch's statement that wrote nothing, the write"
    );
    world.assert_exact(project).await?;
    assert_logged_gap_free(&world, project).await?;
    Ok(())
}

/// A batch that fails for a reason other than a refusal (here a trigger raising for one
/// title) is rolled back and each change written again alone: only the change that fails alone
/// fails, and nothing of the rolled-back batch is logged or counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_a_failed_batch_of_changes_again_one_by_one() -> anyhow::Result<()> {
    let world = World::new(TestDb::postgres().await?);
    world
        .db
        .execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.title = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_boom BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        )
        .await?;
    let owner = world.user("owner").await?;
    let (project, tasks) = project_with_tasks(&world, owner, "BOO", 10).await?;
    let done = world.status(owner, project, StatusCategory::Done).await?;
    const BOOM: usize = 5;
    let changes = (0..10)
        .map(|i| {
            let services = world.services.clone();
            let task = tasks[i].id;
            let change: futures::future::BoxFuture<'static, Result<Task, ErrorClass>> =
                Box::pin(async move {
                    let input = TaskUpdateInput {
                        title: Some(if i == BOOM {
                            "boom".into()
                        } else {
                            format!("fine {i}")
                        }),
                        status_id: (i % 2 == 0).then_some(done),
                        ..Default::default()
                    };
                    services
                        .tasks
                        .update_task(owner, task, input, None)
                        .await
                        .map_err(|e| e.class())
                });
            change
        })
        .collect();
    let outcomes =
        changes_behind_a_held_writer(&world, project, changes, &[(0, 0), (9, 9)]).await?;
    let mut written = Vec::new();
    for (i, (outcome, _)) in outcomes.into_iter().enumerate() {
        match outcome {
            Err(ErrorClass::Internal) if i == BOOM => {}
            Ok(task) if i != BOOM => {
                assert_eq!(task.title.as_str(), format!("fine {i}"));
                if i > 0 {
                    written.push(task.id);
                }
            }
            other => anyhow::bail!("change {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        writers_of(&world, &written).await?,
        8,
        "after the batch failed, each change was written alone"
    );
    assert_eq!(world.assert_exact(project).await?.done, 5);
    let in_seq_order = assert_logged_gap_free(&world, project).await?;
    assert_published_in_commit_order(&in_seq_order);
    Ok(())
}

crate::contract!(
    a_creation_whose_status_vanished_fails_alone_among_concurrent_creations,
    two_hundred_concurrent_creations_get_numbers_1_to_200_and_an_exact_aggregation,
    two_hundred_concurrent_moves_archives_unarchives_and_deletes_keep_the_aggregation_exact,
    fifty_concurrent_first_writes_without_an_aggregation_row_never_fail,
    concurrent_owner_removals_leave_exactly_one_owner,
);

/// Waits until `waiting` board readers of `project` wait for the statement after the one under
/// way.
async fn listing_readers_waiting(
    world: &World,
    project: ProjectId,
    waiting: usize,
) -> anyhow::Result<()> {
    until_counted("board readers", Some(waiting), || {
        world.store().listing_readers_waiting(project)
    })
    .await
}

/// On PostgreSQL the board readers of a project that arrive while its listing's version is
/// being read share the next statement: each gets its own role (owner, editor, none), a version
/// with a creation committed while they waited, and counts the statement once. (That none is
/// answered by the statement under way when it arrived is shown by `gate.rs`'s unit tests: here
/// that statement also reads after the creation, its snapshot taken once the table's lock is
/// granted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_board_readers_that_arrive_together_share_one_version_read() -> anyhow::Result<()>
{
    let world = World::new(TestDb::postgres().await?);
    let owner = world.user("owner").await?;
    let editor = world.user("editor").await?;
    let stranger = world.user("stranger").await?;
    let project = world.project(owner, "GATE").await?.project.id;
    world.editor(owner, project, editor).await?;
    let store = std::sync::Arc::new(world.store().clone());
    let read = |viewer: UserId| {
        let store = store.clone();
        tokio::spawn(tasklane_store::count_statements(async move {
            TaskRepository::listing_version(&*store, project, viewer).await
        }))
    };
    let (before, _) = read(owner).await?;
    let (_, before) = before?;

    // The first reader's statement waits for the version's table.
    let txn = sea_orm::TransactionTrait::begin(world.db.connection()).await?;
    let lock = "LOCK TABLE directory_version IN ACCESS EXCLUSIVE MODE";
    let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, lock);
    sea_orm::ConnectionTrait::execute_raw(&txn, stmt).await?;
    let first = read(editor);
    listing_readers_waiting(&world, project, 0).await?;
    let viewers = [owner, editor, stranger, owner, stranger, editor];
    let mut gathered = Vec::new();
    for (k, viewer) in viewers.iter().enumerate() {
        gathered.push(read(*viewer));
        listing_readers_waiting(&world, project, k + 1).await?;
    }
    world.task(owner, project, "while they wait").await?;
    txn.rollback().await?;

    let (first, counted) = first.await?;
    assert_eq!(first?.0, Some(Role::Editor));
    assert_eq!(counted, 1);
    for (viewer, reader) in viewers.iter().zip(gathered) {
        let (answer, counted) = reader.await?;
        let (role, version) = answer?;
        let expected = match *viewer {
            v if v == owner => Some(Role::Owner),
            v if v == editor => Some(Role::Editor),
            _ => None,
        };
        assert_eq!(role, expected, "{viewer}'s role");
        assert!(
            version.project_seq > before.project_seq,
            "the creation committed while it waited shows: {version:?} after {before:?}"
        );
        assert_eq!(counted, 1, "each reader counts the statement once");
    }
    assert_eq!(
        world.store().listing_versions_shared(),
        (1, 6),
        "one statement answered the six gathered readers"
    );
    assert_eq!(world.store().listing_readers_waiting(project), None);
    Ok(())
}
