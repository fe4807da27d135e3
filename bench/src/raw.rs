//! The raw-SQL baseline: the store adapter's own statements for a task creation, issued in this
//! process straight to PostgreSQL through the same adapter and domain decision the server uses,
//! with no HTTP, JSON, authentication, broadcast or metrics in between. The ratio server/raw is
//! what the server layer costs on top of what the database allows.

use std::sync::Arc;
use std::time::Instant;

use tasklane_cache::{Caches, NoCache};
use tasklane_domain::events::DomainEvent;
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::{EventEncoder, NoopBroadcaster, SystemClock};
use tasklane_domain::services::tasks::NewTaskInput;
use tasklane_domain::services::{DomainSettings, Ports, Services};
use tasklane_memory::simple::{PlainPasswords, SequentialTokens};
use tasklane_store::{Store, StoreOptions};

use crate::load::Sample;

/// The adapter over its own pool, the same size as the server's.
#[derive(Clone)]
pub struct Raw {
    services: Services,
}

/// Encodes an event as its type only: the baseline logs every event as the server does, without
/// the server's JSON.
struct TypeOnly;

impl EventEncoder for TypeOnly {
    fn encode(&self, event: &DomainEvent) -> String {
        format!(r#"{{"type":"{}"}}"#, event.payload.name())
    }
}

impl Raw {
    /// Connects to `database_url` with `pool` connections.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn connect(database_url: &str, pool: u32) -> anyhow::Result<Raw> {
        let options = StoreOptions {
            max_connections: pool,
            // The baseline is one transaction per creation, the ceiling that design can reach.
            coalesce_writes: false,
            ..StoreOptions::default()
        };
        let store = Arc::new(Store::connect(database_url, &options).await?);
        let ports = Ports {
            users: store.clone(),
            projects: store.clone(),
            tasks: store.clone(),
            comments: store.clone(),
            labels: store.clone(),
            aggregations: store.clone(),
            events: store.clone(),
            // The log's rows are written as by the server; their data is not the point here.
            encoder: Arc::new(TypeOnly),
            cache: Arc::new(Caches::new(Arc::new(NoCache))),
            broadcaster: Arc::new(NoopBroadcaster),
            clock: Arc::new(SystemClock),
            passwords: Arc::new(PlainPasswords),
            refresh_tokens: store.clone(),
            tokens: Arc::new(SequentialTokens::default()),
            idempotency: store.clone(),
        };
        Ok(Raw {
            services: Services::new(ports, DomainSettings::default()),
        })
    }

    /// One task creation, its statements counted.
    pub async fn create(&self, actor: UserId, project: ProjectId, title: String) -> Sample {
        let started = Instant::now();
        let input = NewTaskInput {
            title,
            ..NewTaskInput::default()
        };
        let (result, statements) = tasklane_store::count_statements(
            self.services.tasks.create_task(actor, project, input),
        )
        .await;
        Sample {
            latency: started.elapsed(),
            ok: result.is_ok(),
            server_error: result.is_err(),
            statements: Some(statements),
        }
    }
}
