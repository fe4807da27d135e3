//! Test support for the services: mocks of every port, a recording broadcaster, a test event
//! encoder, a counting metrics recorder, fixtures, and store simulations that apply a decided plan
//! (and log its events) the way an adapter would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use crate::aggregation::{Aggregation, AggregationChange, Counts};
use crate::events::{DomainEvent, LoggedEvent};
use crate::ids::{ProjectId, StatusId, TaskId, UserId};
use crate::model::{Project, Status, StatusRef, Task, UserSummary};
use crate::ports::{
    BroadcastError, CreateTasksContext, CreateTasksPlan, EventBroadcaster, EventEncoder, EventsOf,
    Logged, MockAggregationCache, MockAggregationRepository, MockClock, MockCommentRepository,
    MockEventLogRepository, MockIdempotencyRepository, MockLabelRepository, MockPasswordHasher,
    MockProjectRepository, MockRefreshTokenRepository, MockTaskRepository, MockTokenIssuer,
    MockUserRepository, ProjectState, TaskContext, TaskUpdatePlan, TaskUpdated, TasksCreated,
};
use crate::rank::{Placement, Rank};
use crate::services::{DomainSettings, Ports, Services};
use crate::values::{
    DisplayName, Email, Priority, ProjectDescription, ProjectKey, ProjectName, Role,
    StatusCategory, StatusName, TaskKey, TaskTitle, TaskType,
};

/// The fields an error's validation failures name, in order (none when it is not invalid).
pub(crate) fn fields(error: &impl crate::errors::Classify) -> Vec<String> {
    error
        .field_errors()
        .map(|errors| errors.errors().iter().map(|e| e.field.clone()).collect())
        .unwrap_or_default()
}

/// The fixed "now" of every test.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Lets detached post-commit effects run to completion (tests use the current-thread runtime).
pub(crate) async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// What a store does with a write's events ([`RecordEvents`] or [`WriteEvents`]): makes them
/// from what it wrote, then numbers them in the project's sequence from `first_seq` (the store's
/// next `seq`).
///
/// [`WriteEvents`]: crate::ports::WriteEvents
pub(crate) fn logged_from<R>(first_seq: u64, value: R, record: &impl EventsOf<R>) -> Logged<R> {
    let events = record
        .events_of(&value)
        .into_iter()
        .zip(first_seq..)
        .map(|(encoded, seq)| LoggedEvent {
            seq,
            event: encoded.event,
            data: encoded.data,
        })
        .collect();
    Logged { value, events }
}

/// [`logged_from`] a project whose log is empty: the events are numbered 1, 2, 3, …
pub(crate) fn logged<R>(value: R, record: &impl EventsOf<R>) -> Logged<R> {
    logged_from(1, value, record)
}

/// An encoder whose output names the event, so tests can tell it was used.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TestEncoder;

impl EventEncoder for TestEncoder {
    fn encode(&self, event: &DomainEvent) -> String {
        format!("{{\"type\":\"{}\"}}", event.payload.name())
    }
}

/// A broadcaster that records every logged event it is handed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    logged: Arc<Mutex<Vec<LoggedEvent>>>,
}

impl Recorder {
    /// The published events, without their log numbering.
    pub(crate) fn events(&self) -> Vec<DomainEvent> {
        self.logged().into_iter().map(|e| e.event).collect()
    }

    /// The published events as handed over: `seq`, event and `data`.
    pub(crate) fn logged(&self) -> Vec<LoggedEvent> {
        self.logged.lock().unwrap().clone()
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.events().iter().map(|e| e.payload.name()).collect()
    }
}

impl EventBroadcaster for Recorder {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        self.logged.lock().unwrap().push(event);
        Ok(())
    }
}

/// Every port as a mock (the broadcaster as a recorder and the encoder as [`TestEncoder`] unless
/// replaced).
pub(crate) struct Harness {
    pub users: MockUserRepository,
    pub projects: MockProjectRepository,
    pub tasks: MockTaskRepository,
    pub comments: MockCommentRepository,
    pub labels: MockLabelRepository,
    pub aggregations: MockAggregationRepository,
    pub cache: MockAggregationCache,
    pub events: MockEventLogRepository,
    pub encoder: Arc<dyn EventEncoder>,
    pub passwords: MockPasswordHasher,
    pub refresh_tokens: MockRefreshTokenRepository,
    pub tokens: MockTokenIssuer,
    pub idempotency: MockIdempotencyRepository,
    pub broadcaster: Arc<dyn EventBroadcaster>,
    pub recorder: Recorder,
    pub settings: DomainSettings,
}

impl Harness {
    pub(crate) fn new() -> Self {
        let recorder = Recorder::default();
        Self {
            users: MockUserRepository::new(),
            projects: MockProjectRepository::new(),
            tasks: MockTaskRepository::new(),
            comments: MockCommentRepository::new(),
            labels: MockLabelRepository::new(),
            aggregations: MockAggregationRepository::new(),
            cache: MockAggregationCache::new(),
            events: MockEventLogRepository::new(),
            encoder: Arc::new(TestEncoder),
            passwords: MockPasswordHasher::new(),
            refresh_tokens: MockRefreshTokenRepository::new(),
            tokens: MockTokenIssuer::new(),
            idempotency: MockIdempotencyRepository::new(),
            broadcaster: Arc::new(recorder.clone()),
            recorder,
            settings: DomainSettings::default(),
        }
    }

    /// The services over these mocks, and the recorder of what they published.
    pub(crate) fn build(self) -> (Services, Recorder) {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let ports = Ports {
            users: Arc::new(self.users),
            projects: Arc::new(self.projects),
            tasks: Arc::new(self.tasks),
            comments: Arc::new(self.comments),
            labels: Arc::new(self.labels),
            aggregations: Arc::new(self.aggregations),
            cache: Arc::new(self.cache),
            events: Arc::new(self.events),
            encoder: self.encoder,
            broadcaster: self.broadcaster,
            clock: Arc::new(clock),
            passwords: Arc::new(self.passwords),
            refresh_tokens: Arc::new(self.refresh_tokens),
            tokens: Arc::new(self.tokens),
            idempotency: Arc::new(self.idempotency),
        };
        (Services::new(ports, self.settings), self.recorder)
    }
}

/// Counts every counter increment by `name{label=value,…}`, for the thread it is installed on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters(Arc<Mutex<HashMap<String, u64>>>);

#[derive(Debug)]
struct CounterHandle {
    name: String,
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl metrics::CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.counts.lock().unwrap().insert(self.name.clone(), value);
    }
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        metrics::Counter::from_arc(Arc::new(CounterHandle {
            name,
            counts: self.0.clone(),
        }))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

impl Counters {
    pub(crate) fn get(&self, name: &str) -> u64 {
        self.0.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

pub(crate) fn user(name: &str) -> UserSummary {
    UserSummary {
        id: UserId::generate(),
        email: Email::new(&format!("{name}@example.com")).unwrap(),
        display_name: DisplayName::new(name).unwrap(),
        avatar_url: None,
    }
}

pub(crate) fn counts(todo: u64, in_progress: u64, in_review: u64, issue: u64, done: u64) -> Counts {
    Counts {
        total: todo + in_progress + in_review + issue + done,
        todo,
        in_progress,
        in_review,
        issue,
        done,
    }
}

/// A project's five default statuses, with fresh ids.
#[derive(Debug, Clone)]
pub(crate) struct Board {
    pub project_id: ProjectId,
    pub statuses: Vec<Status>,
}

impl Board {
    pub(crate) fn new() -> Self {
        let project_id = ProjectId::generate();
        let statuses = crate::model::DEFAULT_STATUSES
            .iter()
            .zip(0..)
            .map(|((name, category), position)| Status {
                id: StatusId::generate(),
                project_id,
                name: StatusName::new(name).unwrap(),
                category: *category,
                position,
            })
            .collect();
        Self {
            project_id,
            statuses,
        }
    }

    pub(crate) fn status(&self, category: StatusCategory) -> StatusRef {
        self.statuses
            .iter()
            .find(|s| s.category == category)
            .unwrap()
            .to_ref()
    }

    pub(crate) fn refs(&self) -> Vec<StatusRef> {
        self.statuses.iter().map(Status::to_ref).collect()
    }

    pub(crate) fn state(&self, archived: bool) -> ProjectState {
        ProjectState {
            id: self.project_id,
            key: ProjectKey::new("WEB").unwrap(),
            archived_at: archived.then(now),
        }
    }

    pub(crate) fn project(&self, counts: Counts, archived: bool) -> Project {
        Project {
            id: self.project_id,
            key: ProjectKey::new("WEB").unwrap(),
            name: ProjectName::new("Web").unwrap(),
            description: ProjectDescription::new("").unwrap(),
            task_counter: counts.total,
            row_version: 1,
            archived_at: archived.then(now),
            created_by: UserId::generate(),
            created_at: now(),
            updated_at: now(),
            aggregation: Aggregation {
                project_id: self.project_id,
                counts,
                updated_at: now(),
            },
        }
    }

    pub(crate) fn task(&self, category: StatusCategory, number: u64) -> Task {
        Task {
            id: TaskId::generate(),
            project_id: self.project_id,
            key: TaskKey::new(ProjectKey::new("WEB").unwrap(), number),
            title: TaskTitle::new("A task").unwrap(),
            description: None,
            status: self.status(category),
            priority: Priority::Medium,
            task_type: TaskType::Task,
            story_points: None,
            due_date: None,
            assignee: None,
            reporter: None,
            parent_id: None,
            subtask_count: 0,
            comment_count: 0,
            labels: Vec::new(),
            rank: Rank::from_sequence(number),
            row_version: 1,
            created_at: now(),
            updated_at: now(),
            completed_at: None,
            archived_at: None,
        }
    }

    pub(crate) fn create_context(&self, role: Option<Role>, archived: bool) -> CreateTasksContext {
        CreateTasksContext {
            actor_role: role,
            project: role.map(|_| self.state(archived)),
            statuses: self.refs(),
            assignees: Vec::new(),
            parents: Vec::new(),
            reporter: Some(user("reporter")),
        }
    }

    pub(crate) fn task_context(&self, role: Option<Role>, task: &Task) -> TaskContext {
        TaskContext {
            task: Some(task.clone()),
            actor_role: role,
            project: Some(self.state(false)),
            status: None,
            assignee: None,
            parent: None,
            after: None,
            before: None,
            subtree: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// What a store would commit for `plan`, given the aggregation before and the counter.
    pub(crate) fn apply_create(
        &self,
        plan: &CreateTasksPlan,
        before: Counts,
        counter: u64,
        archived: bool,
    ) -> TasksCreated {
        let after = before.apply(&plan.delta).unwrap();
        let tasks = plan
            .drafts
            .iter()
            .zip(counter + 1..)
            .map(|(draft, number)| Task {
                id: draft.id,
                title: draft.title.clone(),
                description: draft.description.clone(),
                status: draft.status.clone(),
                priority: draft.priority,
                task_type: draft.task_type,
                story_points: draft.story_points,
                due_date: draft.due_date,
                assignee: draft.assignee.clone(),
                reporter: draft.reporter.clone(),
                parent_id: draft.parent_id,
                completed_at: draft.completed_at,
                ..self.task(draft.status.category, number)
            })
            .collect::<Vec<_>>();
        let mut project = self.project(after, archived && !plan.restore_project);
        project.task_counter = counter + tasks.len() as u64;
        TasksCreated {
            tasks,
            project,
            aggregation: AggregationChange { before, after },
            project_restored: archived && plan.restore_project,
        }
    }

    /// What a store would commit for `plan` on `task`, given the aggregation before.
    pub(crate) fn apply_update(
        &self,
        task: &Task,
        plan: &TaskUpdatePlan,
        before: Counts,
    ) -> TaskUpdated {
        let patch = &plan.patch;
        let mut after = task.clone();
        if let Some(title) = &patch.title {
            after.title = title.clone();
        }
        if let Some(status) = &patch.status {
            after.status = status.clone();
        }
        if let Some(assignee) = &patch.assignee {
            after.assignee = assignee.clone();
        }
        if let Some(parent) = patch.parent_id {
            after.parent_id = parent;
        }
        if let Some(priority) = patch.priority {
            after.priority = priority;
        }
        if let Some(labels) = &patch.labels {
            after.labels = labels.clone();
        }
        if let Some(archived_at) = patch.archived_at {
            after.archived_at = archived_at;
        }
        if let Some(completed_at) = patch.completed_at {
            after.completed_at = completed_at;
        }
        match &patch.placement {
            Some(Placement::At(rank)) => after.rank = rank.clone(),
            Some(Placement::Append) => after.rank = Rank::from_sequence(1_000),
            Some(Placement::Rebalance) | None => {}
        }
        after.row_version += 1;
        TaskUpdated {
            previous: task.clone(),
            task: after,
            aggregation: (!plan.delta.is_zero()).then(|| AggregationChange {
                before,
                after: before.apply(&plan.delta).unwrap(),
            }),
            restored_project: plan
                .restore_project
                .then(|| self.project(before.apply(&plan.delta).unwrap(), false)),
        }
    }
}
