//! The store's contract suite: every test runs once against SQLite and once against PostgreSQL,
//! each in a fresh database (a temp file, a new schema) dropped afterwards. Most tests drive the
//! store through the domain's services, so the decisions are the real ones; some call the ports
//! directly to reach the failure cases each port documents.

// Test code: a panic is a failed test with its location, which is what these should report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aggregation;
mod concurrency;
mod counts;
mod entities;
mod events;
mod projects;
mod reads;
mod schema;
mod sessions;
mod tasks;
mod users;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use tasklane_domain::aggregation::Counts;
use tasklane_domain::events::{DomainEvent, LoggedEvent};
use tasklane_domain::ids::{ProjectId, StatusId, UserId};
use tasklane_domain::model::Task;
use tasklane_domain::ports::{
    AggregationCache, AggregationRepository, BootstrapValues, BroadcastError, CacheError,
    EventBroadcaster, EventEncoder, SystemClock, WriteEvents,
};
use tasklane_domain::services::projects::{NewProjectInput, ProjectView};
use tasklane_domain::services::tasks::NewTaskInput;
use tasklane_domain::services::users::RegisterInput;
use tasklane_domain::services::{DomainSettings, Ports, Services};
use tasklane_domain::values::StatusCategory;
use tasklane_memory::simple::{PlainPasswords, SequentialTokens};
use tasklane_store::Store;
use tasklane_store::testing::TestDb;

/// Runs each listed `async fn(TestDb) -> anyhow::Result<()>` against both databases.
macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(tasklane_store::testing::TestDb::sqlite().await?).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(tasklane_store::testing::TestDb::postgres().await?).await
                }
            )+
        }
    };
}
pub(crate) use contract;

/// A cache that never holds anything, so every bootstrap recounts.
#[derive(Debug)]
struct NoCache;

#[async_trait]
impl AggregationCache for NoCache {
    async fn get_bootstrap(&self, _: ProjectId) -> Result<Option<BootstrapValues>, CacheError> {
        Ok(None)
    }

    async fn put_bootstrap(
        &self,
        _: ProjectId,
        _: BootstrapValues,
        _: Duration,
    ) -> Result<(), CacheError> {
        Ok(())
    }

    async fn delete_bootstrap(&self, _: ProjectId) -> Result<(), CacheError> {
        Ok(())
    }
}

/// Encodes an event as its type, the ids it concerns and its task's key, title, number, rank
/// and version: enough to tell events apart in the log, and to see that the values
/// logged are the ones written.
#[derive(Debug)]
pub(crate) struct IdsEncoder;

impl EventEncoder for IdsEncoder {
    fn encode(&self, event: &DomainEvent) -> String {
        let mut event = event.clone();
        let task = event.task_mut().map(|t| {
            serde_json::json!({
                "key": t.key.to_string(),
                "title": t.title.as_str(),
                "number": t.key.number(),
                "rank": t.rank.as_str(),
                "row_version": t.row_version,
            })
        });
        serde_json::json!({
            "type": event.payload.name(),
            "task_id": event.task_id().map(|t| t.to_string()),
            "member_id": event.member_id().map(|m| m.to_string()),
            "task": task,
        })
        .to_string()
    }
}

/// A task write's events when the test does not look at them: none.
pub(crate) fn no_events<W: ?Sized, R>() -> WriteEvents<W, R> {
    WriteEvents {
        written: Box::new(|_| Vec::new()),
        outcome: Box::new(|_| Vec::new()),
    }
}

/// Keeps every published event, in the order `publish` was called.
#[derive(Debug, Default)]
pub(crate) struct Recorder(std::sync::Mutex<Vec<LoggedEvent>>);

impl EventBroadcaster for Recorder {
    fn publish(&self, event: LoggedEvent) -> Result<(), BroadcastError> {
        self.0
            .lock()
            .map_err(|_| BroadcastError(anyhow::anyhow!("poisoned")))?
            .push(event);
        Ok(())
    }
}

impl Recorder {
    /// The published events with their numbers.
    pub(crate) fn logged(&self) -> Vec<LoggedEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// A database with the domain's services on top of it.
pub(crate) struct World {
    pub db: TestDb,
    pub services: Services,
    /// What the services published.
    pub published: Arc<Recorder>,
}

impl World {
    pub(crate) fn new(db: TestDb) -> World {
        let store = Arc::new(db.store.clone());
        let published = Arc::new(Recorder::default());
        let ports = Ports {
            users: store.clone(),
            projects: store.clone(),
            tasks: store.clone(),
            comments: store.clone(),
            labels: store.clone(),
            aggregations: store.clone(),
            events: store.clone(),
            encoder: Arc::new(IdsEncoder),
            cache: Arc::new(NoCache),
            broadcaster: published.clone(),
            clock: Arc::new(SystemClock),
            passwords: Arc::new(PlainPasswords),
            refresh_tokens: store.clone(),
            tokens: Arc::new(SequentialTokens::default()),
            idempotency: store.clone(),
        };
        World {
            db,
            services: Services::new(ports, DomainSettings::default()),
            published,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.db.store
    }

    pub(crate) async fn user(&self, name: &str) -> anyhow::Result<UserId> {
        let input = RegisterInput {
            email: format!("{name}@example.com"),
            password: "correct horse".into(),
            display_name: name.into(),
        };
        Ok(self.services.users.register(input).await?.summary.id)
    }

    /// Makes `user` an editor of `project` (set-up, not the subject of a test).
    pub(crate) async fn editor(
        &self,
        owner: UserId,
        project: ProjectId,
        user: UserId,
    ) -> anyhow::Result<()> {
        self.services
            .members
            .set_member_role(owner, project, user, tasklane_domain::values::Role::Editor)
            .await?;
        Ok(())
    }

    pub(crate) async fn project(&self, owner: UserId, key: &str) -> anyhow::Result<ProjectView> {
        let input = NewProjectInput {
            key: key.into(),
            name: format!("Project {key}"),
            description: None,
        };
        Ok(self.services.projects.create_project(owner, input).await?)
    }

    pub(crate) async fn task(
        &self,
        actor: UserId,
        project: ProjectId,
        title: &str,
    ) -> anyhow::Result<Task> {
        let input = NewTaskInput {
            title: title.into(),
            ..NewTaskInput::default()
        };
        self.create(actor, project, input).await
    }

    pub(crate) async fn create(
        &self,
        actor: UserId,
        project: ProjectId,
        input: NewTaskInput,
    ) -> anyhow::Result<Task> {
        let mut created = self
            .services
            .tasks
            .create_task(actor, project, input)
            .await?;
        Ok(created.tasks.remove(0))
    }

    /// The project's first status of `category`.
    pub(crate) async fn status(
        &self,
        actor: UserId,
        project: ProjectId,
        category: StatusCategory,
    ) -> anyhow::Result<StatusId> {
        let statuses = self.services.statuses.list_statuses(actor, project).await?;
        statuses
            .iter()
            .find(|s| s.category == category)
            .map(|s| s.id)
            .context("no such status")
    }

    /// The stored aggregation and a fresh recount.
    pub(crate) async fn counts(&self, project: ProjectId) -> anyhow::Result<(Counts, Counts)> {
        let stored = self
            .store()
            .get_aggregation(project)
            .await?
            .map(|a| a.counts)
            .unwrap_or_default();
        Ok((stored, self.store().recount(project).await?))
    }

    /// Asserts that the stored aggregation equals a recount.
    pub(crate) async fn assert_exact(&self, project: ProjectId) -> anyhow::Result<Counts> {
        let (stored, recount) = self.counts(project).await?;
        assert_eq!(stored, recount, "aggregation drifted from the recount");
        Ok(stored)
    }
}
