//! The answers to a client's frames: `join` (with its authorisation and its catch-up from the
//! log), `leave`, `ping`, and the errors of a frame that is not one of them.

use serde_json::json;
use tasklane_domain::ids::ProjectId;
use tokio::sync::oneshot;

use crate::hub::{Command, JoinOutcome};
use crate::protocol::{self, ClientFrame, FrameError, Room};

use super::{Connection, RateLimit};

impl Connection {
    /// The answer to one client frame (`None` when the answer is queued by the hub, as `joined`
    /// and `left` are, to keep them in order with events). `text` is `None` for a binary frame.
    pub(super) async fn answer(
        &mut self,
        limit: &mut RateLimit,
        text: Option<&str>,
        max_frame: usize,
    ) -> Option<String> {
        if !limit.allow() {
            return Some(protocol::error(FrameError::RateLimited));
        }
        let Some(text) = text else {
            return Some(protocol::error(FrameError::InvalidJson));
        };
        if text.len() > max_frame {
            return Some(protocol::error(FrameError::TooLarge));
        }
        match protocol::parse(text) {
            Ok(ClientFrame::Ping) => Some(protocol::frame("pong", json!({}))),
            Ok(ClientFrame::Join { room, since }) => match self.join(room, since).await {
                Ok(()) => None,
                Err(error) => Some(protocol::error(error)),
            },
            Ok(ClientFrame::Leave(room)) => {
                self.realtime
                    .hub
                    .send(Command::Leave { id: self.id, room })
                    .await;
                None
            }
            Err(error) => Some(protocol::error(error)),
        }
    }

    /// Checks the room against the user's memberships and joins it; rechecks when a membership
    /// was removed meanwhile. For `project:` and `task:` rooms it also reads the project's log
    /// head, where the hub starts the project's stream, and checks `since` against the log.
    async fn join(&self, room: Room, since: Option<u64>) -> Result<(), FrameError> {
        if since.is_some() && matches!(room, Room::User(_)) {
            return Err(FrameError::BadSince);
        }
        for _ in 0..3 {
            let epoch = self.realtime.hub.membership.epoch(self.user);
            let (project, user_projects) = self.authorize(room).await?;
            let head = match project {
                Some(project) => Some(self.log_head(project, since).await?),
                None => None,
            };
            let (reply, outcome) = oneshot::channel();
            let command = Command::Join {
                id: self.id,
                room,
                project,
                user_projects,
                epoch,
                head,
                since,
                reply,
            };
            if !self.realtime.hub.send(command).await {
                return Err(FrameError::Unavailable);
            }
            match outcome.await {
                Ok(JoinOutcome::Joined) => return Ok(()),
                Ok(JoinOutcome::Recheck) => {}
                Err(_) => return Err(FrameError::Unavailable),
            }
        }
        Err(FrameError::Unavailable)
    }

    /// The project's log head; with `since`, also whether the log can continue from it.
    async fn log_head(&self, project: ProjectId, since: Option<u64>) -> Result<u64, FrameError> {
        let page = self
            .realtime
            .directory
            .events(project, since.unwrap_or(0), 0)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "the event log could not be read");
                FrameError::Unavailable
            })?;
        if let Some(since) = since {
            if since > page.head {
                return Err(FrameError::BadSince);
            }
            let pruned = match page.oldest {
                Some(oldest) => since + 1 < oldest,
                None => since < page.head,
            };
            if pruned {
                return Err(FrameError::ResyncRequired);
            }
        }
        Ok(page.head)
    }

    async fn authorize(
        &self,
        room: Room,
    ) -> Result<(Option<ProjectId>, Option<Vec<ProjectId>>), FrameError> {
        let directory = &self.realtime.directory;
        let unavailable = |error: anyhow::Error| {
            tracing::warn!(error = %error, "room check failed");
            FrameError::Unavailable
        };
        match room {
            Room::User(user) if user == self.user => {
                let projects = directory.projects_of(user).await.map_err(unavailable)?;
                Ok((None, Some(projects)))
            }
            Room::User(_) => Err(FrameError::Forbidden),
            Room::Project(project) => {
                let cache = &self.realtime.hub.membership;
                let cacheable = self.realtime.may_cache_memberships();
                let member = match cache.get(self.user, project).filter(|_| cacheable) {
                    Some(member) => member,
                    None => {
                        // The epoch before the read: a removal applied meanwhile keeps this
                        // answer out of the cache.
                        let read_at = cache.epoch(self.user);
                        let member = directory
                            .is_member(self.user, project)
                            .await
                            .map_err(unavailable)?;
                        if cacheable {
                            cache.put(self.user, project, member, read_at);
                        }
                        member
                    }
                };
                if member {
                    Ok((Some(project), None))
                } else {
                    Err(FrameError::Forbidden)
                }
            }
            Room::Task(task) => match directory
                .visible_task_project(self.user, task)
                .await
                .map_err(unavailable)?
            {
                Some(project) => Ok((Some(project), None)),
                None => Err(FrameError::Forbidden),
            },
        }
    }
}
