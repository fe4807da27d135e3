//! Creation under a client's request key (`Idempotency-Key`): a repeat of the same request
//! within the window answers the first response and creates nothing; the same key with another
//! request is refused; a key whose request is still running is a conflict.
//!
//! The key is reserved before the creation and settled after it: completed with the response
//! when the task exists (a failure to record it is logged, never turned into an error: the task
//! was created), released when the creation failed, so that a retry can proceed. A reservation
//! left behind by a crash counts as abandoned after `DomainSettings::idempotency_stale`.

use sha2::{Digest, Sha256};

use crate::errors::{Classify, ErrorClass, RepoError};
use crate::ids::{ProjectId, UserId};
use crate::ports::{IdempotencyRequest, IdempotencyStart};
use crate::services::tasks::{CreateTaskError, Creation, NewTaskInput, TaskService};
use crate::validation::ValidationErrors;

/// A client's key for one request, with the request in a canonical form (its bytes decide
/// whether a repeat is the same request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// The client's key.
    pub key: String,
    /// The request's body, encoded canonically.
    pub canonical: Vec<u8>,
}

/// What a keyed creation did.
#[derive(Debug)]
pub enum Once {
    /// Created now; `response` is what was recorded for repeats.
    Created {
        /// The creation (boxed: it is large beside a replay).
        creation: Box<Creation>,
        /// The response, as the caller encoded it.
        response: String,
    },
    /// A repeat: the first response, as recorded; nothing was created.
    Replayed {
        /// The recorded response.
        response: String,
    },
}

/// Why a keyed creation failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateOnceError {
    /// The creation failed (the key was released).
    #[error(transparent)]
    Create(#[from] CreateTaskError),
    /// The key was used before with another request.
    #[error("invalid input: {0}")]
    KeyReused(ValidationErrors),
    /// A request with this key is running now.
    #[error("a request with this Idempotency-Key is in progress")]
    InProgress,
}

impl Classify for CreateOnceError {
    fn class(&self) -> ErrorClass {
        match self {
            CreateOnceError::Create(error) => error.class(),
            CreateOnceError::KeyReused(_) => ErrorClass::Invalid,
            CreateOnceError::InProgress => ErrorClass::Conflict,
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            CreateOnceError::Create(error) => error.field_errors(),
            CreateOnceError::KeyReused(errors) => Some(errors),
            CreateOnceError::InProgress => None,
        }
    }
}

impl From<RepoError> for CreateOnceError {
    fn from(error: RepoError) -> Self {
        CreateOnceError::Create(error.into())
    }
}

/// The fingerprint of a request: the project and the canonical body, SHA-256, hex.
fn fingerprint(project: ProjectId, canonical: &[u8]) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(project.as_uuid().as_bytes())
            .chain_update(canonical)
            .finalize(),
    )
}

impl TaskService {
    /// Creates a task once per `key`: see the module's documentation. `respond` encodes the
    /// response to record for repeats.
    ///
    /// # Errors
    /// [`CreateOnceError`]: the creation's own errors, a key reused with another request, a key
    /// in progress.
    pub async fn create_task_once(
        &self,
        actor: UserId,
        project: ProjectId,
        input: NewTaskInput,
        key: RequestKey,
        respond: impl FnOnce(&Creation) -> anyhow::Result<String>,
    ) -> Result<Once, CreateOnceError> {
        let keys = &self.ports.idempotency;
        let reservation = IdempotencyRequest {
            user_id: actor,
            key: key.key.clone(),
            project_id: project,
            request_hash: fingerprint(project, &key.canonical),
        };
        let start = keys
            .begin_idempotent(
                reservation,
                self.ports.clock.now(),
                self.settings.idempotency_window,
                self.settings.idempotency_stale,
            )
            .await?;
        match start {
            IdempotencyStart::Proceed => {}
            IdempotencyStart::Replay { response } => return Ok(Once::Replayed { response }),
            IdempotencyStart::Mismatch => {
                return Err(CreateOnceError::KeyReused(ValidationErrors::single(
                    "Idempotency-Key",
                    "was already used with a different request",
                )));
            }
            IdempotencyStart::InProgress => return Err(CreateOnceError::InProgress),
        }
        let created = self
            .create_task(actor, project, input)
            .await
            .and_then(|creation| {
                let response = respond(&creation).map_err(RepoError::Other)?;
                Ok((creation, response))
            });
        match created {
            Ok((creation, response)) => {
                let recorded = keys
                    .complete_idempotent(actor, key.key, response.clone())
                    .await;
                if let Err(error) = recorded {
                    tracing::warn!(%error, "idempotency response not recorded");
                }
                Ok(Once::Created {
                    creation: Box::new(creation),
                    response,
                })
            }
            Err(error) => {
                if let Err(abandon) = keys.abandon_idempotent(actor, key.key).await {
                    tracing::warn!(error = %abandon, "idempotency reservation not released");
                }
                Err(error.into())
            }
        }
    }

    /// Forgets the request keys past their replay window; returns how many.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn purge_expired_keys(&self) -> Result<u64, RepoError> {
        let window = chrono::Duration::from_std(self.settings.idempotency_window)
            .unwrap_or(chrono::Duration::days(1));
        let before = self.ports.clock.now() - window;
        self.ports.idempotency.purge_idempotency_keys(before).await
    }
}
