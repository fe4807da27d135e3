//! Whole flows of the domain over the in-memory adapters, where what matters is the outcome
//! across services and ports, not the calls in between: the aggregation stays equal to a
//! recount whatever happens to the tasks, a session ends when an old refresh token comes back,
//! a keyed creation creates once, and each project's events are numbered without gaps.

use tasklane_domain::aggregation::{Counts, DerivationPolicy};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::ports::AggregationRepository;
use tasklane_domain::services::Services;
use tasklane_domain::services::projects::NewProjectInput;
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, Once, RequestKey};
use tasklane_domain::services::users::RegisterInput;
use tasklane_domain::values::StatusCategory;
use tasklane_memory::Memory;

fn person(name: &str) -> RegisterInput {
    RegisterInput {
        email: format!("{name}@example.com"),
        password: "correct horse battery".into(),
        display_name: name.into(),
    }
}

fn task(title: &str) -> NewTaskInput {
    NewTaskInput {
        title: title.into(),
        ..NewTaskInput::default()
    }
}

async fn board(services: &Services, key: &str) -> anyhow::Result<(UserId, ProjectId)> {
    let owner = services
        .sessions
        .register(person(&key.to_lowercase()))
        .await?
        .user
        .summary
        .id;
    let input = NewProjectInput {
        key: key.into(),
        name: format!("Project {key}"),
        description: None,
    };
    let project = services.projects.create_project(owner, input).await?;
    Ok((owner, project.project.id))
}

/// A small deterministic generator (no dependency for a shuffle).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[tokio::test]
async fn the_aggregation_equals_a_recount_after_any_sequence_of_changes() {
    let memory = Memory::new();
    let services = memory.services();
    let (owner, project) = board(&services, "AGG").await.unwrap();
    let statuses = services
        .statuses
        .list_statuses(owner, project)
        .await
        .unwrap();
    let mut tasks: Vec<TaskId> = Vec::new();
    let mut random = Lcg(7);
    for step in 0..300 {
        let choice = if tasks.is_empty() { 0 } else { random.below(6) };
        match choice {
            0 | 1 => {
                let created = services
                    .tasks
                    .create_task(owner, project, task(&format!("t{step}")))
                    .await
                    .unwrap();
                tasks.push(created.tasks[0].id);
            }
            2 | 3 => {
                let target = tasks[random.below(tasks.len())];
                let status = statuses[random.below(statuses.len())].id;
                let input = MoveInput {
                    status_id: Some(status),
                    ..MoveInput::default()
                };
                // A move of an archived task is refused; the counts must not care.
                let _ = services.tasks.move_task(owner, target, input, None).await;
            }
            4 => {
                let target = tasks[random.below(tasks.len())];
                let archived = random.below(2) == 0;
                let _ = services
                    .tasks
                    .set_task_archived(owner, target, archived, None)
                    .await;
            }
            _ => {
                let target = tasks.swap_remove(random.below(tasks.len()));
                services
                    .tasks
                    .delete_task(owner, target, None)
                    .await
                    .unwrap();
            }
        }
    }
    let kept = services
        .projects
        .get_aggregation(owner, project)
        .await
        .unwrap()
        .aggregation
        .counts;
    let recounted: Counts = memory.store.recount(project).await.unwrap();
    assert_eq!(kept, recounted);
    assert!(kept.is_consistent());
    assert!(kept.total > 0, "the walk left some live tasks");
}

#[tokio::test]
async fn an_old_refresh_token_presented_again_ends_the_session() {
    let memory = Memory::new();
    let services = memory.services();
    let first = services.sessions.register(person("ada")).await.unwrap();
    let second = services
        .sessions
        .refresh(&first.refresh_token)
        .await
        .unwrap();
    assert_eq!(second.id, first.id, "a refresh keeps the session");

    assert!(
        services
            .sessions
            .refresh(&first.refresh_token)
            .await
            .is_err()
    );
    assert!(
        services
            .sessions
            .refresh(&second.refresh_token)
            .await
            .is_err(),
        "the reuse ended the whole session"
    );
    let other = services
        .sessions
        .login("ada@example.com", "correct horse battery")
        .await
        .unwrap();
    assert!(
        services
            .sessions
            .refresh(&other.refresh_token)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_keyed_creation_creates_once_and_replays_its_first_response() {
    let memory = Memory::new();
    let services = memory.services();
    let (owner, project) = board(&services, "KEY").await.unwrap();
    let key = || RequestKey {
        key: "k-1".into(),
        canonical: b"{\"title\":\"once\"}".to_vec(),
    };
    let respond = |c: &tasklane_domain::services::tasks::Creation| Ok(c.tasks[0].key.to_string());

    let first = services
        .tasks
        .create_task_once(owner, project, task("once"), key(), respond)
        .await
        .unwrap();
    let again = services
        .tasks
        .create_task_once(owner, project, task("once"), key(), respond)
        .await
        .unwrap();
    assert!(matches!(first, Once::Created { ref response, .. } if response == "KEY-1"));
    assert!(matches!(again, Once::Replayed { ref response } if response == "KEY-1"));
    let counts = services
        .projects
        .get_aggregation(owner, project)
        .await
        .unwrap();
    assert_eq!(counts.aggregation.counts.total, 1);
}

#[tokio::test]
async fn each_projects_events_are_numbered_without_gaps_and_read_back_as_published() {
    let memory = Memory::new();
    let services = memory.services();
    let (a_owner, a) = board(&services, "AAA").await.unwrap();
    let (b_owner, b) = board(&services, "BBB").await.unwrap();
    for i in 0..5 {
        services
            .tasks
            .create_task(a_owner, a, task(&format!("a{i}")))
            .await
            .unwrap();
        services
            .tasks
            .create_task(b_owner, b, task(&format!("b{i}")))
            .await
            .unwrap();
    }
    let done = services
        .statuses
        .list_statuses(a_owner, a)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.category == StatusCategory::Done)
        .unwrap();
    let first = services
        .tasks
        .list_tasks(a_owner, a, Default::default())
        .await
        .unwrap()
        .items[0]
        .id;
    let input = MoveInput {
        status_id: Some(done.id),
        ..MoveInput::default()
    };
    services
        .tasks
        .move_task(a_owner, first, input, None)
        .await
        .unwrap();

    let published = memory.published.events();
    for (project, owner) in [(a, a_owner), (b, b_owner)] {
        let seqs: Vec<u64> = published
            .iter()
            .filter(|e| e.event.project_id == project)
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        let read = services
            .events
            .project_events(owner, project, 0, Some(1000))
            .await
            .unwrap();
        let read: Vec<u64> = read.items.iter().map(|e| e.seq).collect();
        assert_eq!(read, seqs, "the log holds what was published");
    }
    let project = services.projects.get_project(a_owner, a).await.unwrap();
    assert_eq!(
        project.project.derived_status(DerivationPolicy::ActiveWins),
        project.derived_status
    );
}

#[tokio::test]
async fn pages_in_every_order_add_up_to_the_whole_listing() {
    use tasklane_domain::ports::TaskOrder;
    use tasklane_domain::services::tasks::TaskListInput;

    let memory = Memory::new();
    let services = memory.services();
    let (owner, project) = board(&services, "PAGE").await.unwrap();
    let statuses = services
        .statuses
        .list_statuses(owner, project)
        .await
        .unwrap();
    for i in 0..11 {
        let created = services
            .tasks
            .create_task(owner, project, task(&format!("t{i}")))
            .await
            .unwrap();
        if i % 3 == 0 {
            let input = MoveInput {
                status_id: Some(statuses[i % statuses.len()].id),
                ..MoveInput::default()
            };
            memory.clock.advance(chrono::Duration::seconds(1));
            services
                .tasks
                .move_task(owner, created.tasks[0].id, input, None)
                .await
                .unwrap();
        }
    }
    for order in [
        TaskOrder::Board,
        TaskOrder::Updated,
        TaskOrder::Due,
        TaskOrder::Priority,
    ] {
        let listing = |limit, cursor| TaskListInput {
            order,
            limit: Some(limit),
            cursor,
            ..TaskListInput::default()
        };
        let whole = services
            .tasks
            .list_tasks(owner, project, listing(100, None))
            .await
            .unwrap();
        assert_eq!(whole.items.len(), 11);
        assert_eq!(whole.next_cursor, None);
        let mut paged = Vec::new();
        let mut cursor = None;
        loop {
            let page = services
                .tasks
                .list_tasks(owner, project, listing(4, cursor))
                .await
                .unwrap();
            paged.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let whole: Vec<TaskId> = whole.items.iter().map(|t| t.id).collect();
        assert_eq!(paged, whole, "{order:?}");
    }
}
