//! The project event log, read back: catch-up after a disconnect (`after` a `seq` the client
//! saw) and the activity history of a project or of one task. Any member may read; others are
//! told the project does not exist. A cursor past the project's head is the client's mistake; a
//! cursor older than what the log keeps means the client must refetch (`resync_required`).

use std::sync::Arc;

use crate::access::AccessDenied;
use crate::errors::{Classify, ErrorClass, RepoError};
use crate::events::StoredEvent;
use crate::ids::{ProjectId, TaskId, UserId};
use crate::ports::{EventQuery, EventScope};
use crate::services::Ports;
use crate::validation::ValidationErrors;

/// Page sizes of the log: larger than listings, since catching up is reading in bulk.
pub const EVENT_PAGE_LIMITS: std::ops::RangeInclusive<u32> = 1..=1000;
/// The page size when none is asked for.
pub const DEFAULT_EVENT_PAGE: u32 = 100;

/// Events after a cursor, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// The events.
    pub items: Vec<StoredEvent>,
    /// The cursor for the next page: the last item's `seq`, or the one asked with when there
    /// were none (poll again with it).
    pub next_after: u64,
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadEventsError {
    /// The project (or task) does not exist or the caller is not a member.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The page size is out of range.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// The cursor is past the project's last event.
    #[error("the cursor {after} is past the project's last event {head}")]
    BadSince {
        /// The cursor asked with.
        after: u64,
        /// The project's last `seq`.
        head: u64,
    },
    /// Events after the cursor were pruned: the client must refetch what it shows.
    #[error("events after {after} are no longer kept (the oldest kept is {oldest})")]
    ResyncRequired {
        /// The cursor asked with.
        after: u64,
        /// The oldest `seq` still kept.
        oldest: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl Classify for ReadEventsError {
    fn class(&self) -> ErrorClass {
        match self {
            ReadEventsError::Access(denied) => denied.class(),
            ReadEventsError::Invalid(_) => ErrorClass::Invalid,
            ReadEventsError::BadSince { .. } => ErrorClass::BadSince,
            ReadEventsError::ResyncRequired { .. } => ErrorClass::ResyncRequired,
            ReadEventsError::Store(error) => error.class(),
        }
    }

    fn field_errors(&self) -> Option<&ValidationErrors> {
        match self {
            ReadEventsError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

/// Reads the log.
#[derive(Debug, Clone)]
pub struct EventService {
    ports: Arc<Ports>,
}

impl EventService {
    pub(crate) fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// Deletes the events older than `retention` (a project's newest event always stays, so
    /// its head survives); returns how many.
    ///
    /// # Errors
    /// [`RepoError`] when the store fails.
    pub async fn prune_older_than(&self, retention: std::time::Duration) -> Result<u64, RepoError> {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let before = self.ports.clock.now() - retention;
        self.ports.events.prune_events(before).await
    }

    /// The project's events after `after`.
    ///
    /// # Errors
    /// [`ReadEventsError`]: not found, bad page size, cursor past the head, cursor pruned,
    /// store failure.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, after))]
    pub async fn project_events(
        &self,
        actor: UserId,
        project_id: ProjectId,
        after: u64,
        limit: Option<u32>,
    ) -> Result<EventPage, ReadEventsError> {
        self.read(EventScope::Project(project_id), actor, after, limit)
            .await
    }

    /// The events about one task after `after` (numbered in its project's sequence): its
    /// history, who changed which fields from what to what.
    ///
    /// # Errors
    /// As [`EventService::project_events`].
    #[tracing::instrument(skip_all, fields(%actor, %task_id, after))]
    pub async fn task_events(
        &self,
        actor: UserId,
        task_id: TaskId,
        after: u64,
        limit: Option<u32>,
    ) -> Result<EventPage, ReadEventsError> {
        self.read(EventScope::Task(task_id), actor, after, limit)
            .await
    }

    async fn read(
        &self,
        scope: EventScope,
        viewer: UserId,
        after: u64,
        limit: Option<u32>,
    ) -> Result<EventPage, ReadEventsError> {
        let limit = limit.unwrap_or(DEFAULT_EVENT_PAGE);
        if !EVENT_PAGE_LIMITS.contains(&limit) {
            return Err(ReadEventsError::Invalid(ValidationErrors::single(
                "limit",
                format!(
                    "must be between {} and {}",
                    EVENT_PAGE_LIMITS.start(),
                    EVENT_PAGE_LIMITS.end()
                ),
            )));
        }
        let query = EventQuery {
            scope,
            viewer,
            after,
            limit,
        };
        let read = self.ports.events.read_events(query).await?;
        if read.viewer_role.is_none() {
            return Err(AccessDenied::NotFound.into());
        }
        check_cursor(after, read.head, read.oldest)?;
        let next_after = read.items.last().map_or(after, |event| event.seq);
        Ok(EventPage {
            items: read.items,
            next_after,
        })
    }
}

/// Whether a client that has seen everything up to `after` can continue from the log, which
/// holds `oldest..=head`: not past the head, and nothing after it pruned.
///
/// # Errors
/// [`ReadEventsError::BadSince`] or [`ReadEventsError::ResyncRequired`].
pub fn check_cursor(after: u64, head: u64, oldest: Option<u64>) -> Result<(), ReadEventsError> {
    if after > head {
        return Err(ReadEventsError::BadSince { after, head });
    }
    match oldest {
        Some(oldest) if after.saturating_add(1) < oldest => {
            Err(ReadEventsError::ResyncRequired { after, oldest })
        }
        // Nothing kept while the head is past the cursor: everything after it was pruned
        // (pruning keeps each project's newest event, so this means data loss, not a race).
        None if after < head => Err(ReadEventsError::ResyncRequired {
            after,
            oldest: head.saturating_add(1),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_good_between_the_event_before_the_oldest_kept_and_the_head() {
        assert!(check_cursor(0, 0, None).is_ok(), "no events yet");
        assert!(check_cursor(4, 10, Some(1)).is_ok());
        assert!(check_cursor(10, 10, Some(1)).is_ok(), "up to date");
        assert!(check_cursor(4, 10, Some(5)).is_ok(), "the next one is kept");
        assert!(matches!(
            check_cursor(3, 10, Some(5)),
            Err(ReadEventsError::ResyncRequired {
                after: 3,
                oldest: 5
            })
        ));
        assert!(matches!(
            check_cursor(11, 10, Some(1)),
            Err(ReadEventsError::BadSince {
                after: 11,
                head: 10
            })
        ));
        assert!(matches!(
            check_cursor(3, 10, None),
            Err(ReadEventsError::ResyncRequired { .. })
        ));
    }
}
