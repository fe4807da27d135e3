//! The hub's delivery in `seq` order: per-project streams that hold early events and fill gaps
//! from the event log, the poller's heads, and sockets catching up after `join {since}` (see the
//! hub's module documentation). Methods of `Hub`, split from `hub.rs` by responsibility.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use tasklane_domain::ids::{ProjectId, TaskId};
use tokio::sync::mpsc;

use super::{CATCH_UP_PAGE, Command, ConnId, FILL_PAGE, GAP_WAIT, Hub, MAX_PENDING, Stream};
use crate::directory::{Directory, LogPage};
use crate::envelope::{Effect, Envelope};
use crate::metrics;
use crate::protocol::Room;

impl Hub {
    /// An event reached this instance (published here, relayed, or read from the log): delivered
    /// now if it is the next of its project, held if it is early, dropped if it was delivered.
    pub(super) fn arrive(&mut self, envelope: Envelope) {
        let project = ProjectId::from_uuid(envelope.project);
        let Some(stream) = self.streams.get_mut(&project) else {
            // No ordered rooms of this project here: only `user:` rooms, which get it as it comes.
            self.deliver(&envelope);
            return;
        };
        stream.known_head = stream.known_head.max(envelope.seq);
        if envelope.seq < stream.next {
            metrics::duplicate_dropped();
            return;
        }
        if envelope.seq > stream.next {
            metrics::held();
            if stream.pending.len() < MAX_PENDING {
                stream.pending.insert(envelope.seq, envelope);
            }
            stream.missing_since.get_or_insert_with(Instant::now);
            return;
        }
        stream.next += 1;
        self.deliver(&envelope);
        self.drain(project);
    }

    /// Delivers what waited for the events just delivered.
    fn drain(&mut self, project: ProjectId) {
        loop {
            let Some(stream) = self.streams.get_mut(&project) else {
                return;
            };
            match stream.pending.remove(&stream.next) {
                Some(envelope) => {
                    stream.next += 1;
                    self.deliver(&envelope);
                }
                None => {
                    // Caught up with everything known: nothing is missing. Otherwise the wait
                    // starts again from this progress.
                    stream.missing_since = (stream.known_head >= stream.next
                        || !stream.pending.is_empty())
                    .then(Instant::now);
                    return;
                }
            }
        }
    }

    /// Heads from the poller: events this instance never heard of are missing.
    pub(super) fn heads(&mut self, asked: &[ProjectId], heads: &[(ProjectId, u64)]) {
        let known: HashMap<ProjectId, u64> = heads.iter().copied().collect();
        for project in asked {
            match known.get(project) {
                Some(head) => {
                    if let Some(stream) = self.streams.get_mut(project)
                        && *head >= stream.next
                    {
                        stream.known_head = stream.known_head.max(*head);
                        stream.missing_since.get_or_insert_with(Instant::now);
                    }
                }
                // Deleted, and its `project_deleted` never arrived here.
                None if self.streams.contains_key(project) => self.project_deleted(*project),
                None => {}
            }
        }
    }

    /// Starts the log reads that are due: fills of gaps open for [`GAP_WAIT`], and the next page
    /// of catch-ups whose sockets have room.
    pub(super) fn tick(&mut self) {
        let Some(directory) = self.directory.clone() else {
            return;
        };
        let now = Instant::now();
        for (project, stream) in &mut self.streams {
            let due = stream
                .missing_since
                .is_some_and(|since| now.duration_since(since) >= GAP_WAIT);
            if !due || stream.filling {
                continue;
            }
            stream.filling = true;
            let (project, after) = (*project, stream.delivered());
            let wanted = stream
                .known_head
                .saturating_sub(after)
                .clamp(1, u64::from(FILL_PAGE));
            let limit = u32::try_from(wanted).unwrap_or(FILL_PAGE);
            metrics::gap_fill();
            read_log(
                &self.handle,
                &directory,
                project,
                after,
                limit,
                move |page| Command::Filled {
                    project,
                    after,
                    page,
                },
            );
        }
        let waiting: Vec<(ConnId, ProjectId)> = self
            .conns
            .iter()
            .flat_map(|(id, conn)| {
                conn.cursors
                    .iter()
                    .filter(|(_, c)| c.catching_up && !c.reading)
                    .map(move |(project, _)| (*id, *project))
            })
            .collect();
        for (id, project) in waiting {
            self.continue_catch_up(id, project);
        }
    }

    /// A stream's fill arrived: its events go through [`Hub::arrive`] like any others.
    pub(super) fn filled(&mut self, project: ProjectId, after: u64, page: anyhow::Result<LogPage>) {
        let Some(stream) = self.streams.get_mut(&project) else {
            return;
        };
        stream.filling = false;
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%project, %error, "the event log could not be read; retrying");
                stream.missing_since = Some(Instant::now());
                return;
            }
        };
        if page.head == 0 && page.items.is_empty() && stream.known_head > 0 {
            self.project_deleted(project);
            return;
        }
        if let Some(oldest) = page.oldest
            && oldest > after + 1
            && stream.next <= after + 1
        {
            // Pruned before this instance delivered it: nothing to wait for.
            tracing::warn!(%project, after, oldest, "events missing from the log; skipped");
            stream.next = oldest;
            stream.pending.retain(|seq, _| *seq >= oldest);
        }
        for event in &page.items {
            let envelope = Envelope::stored(self.instance, project, event);
            self.arrive(envelope);
        }
        self.drain(project);
    }

    /// Reads the next page of a socket's catch-up, when it is catching up, not already reading,
    /// and its queue has room.
    pub(super) fn continue_catch_up(&mut self, id: ConnId, project: ProjectId) {
        let Some(directory) = self.directory.clone() else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let room = conn.outbox.half_empty(self.queue_frames, self.queue_bytes);
        let Some(cursor) = conn.cursors.get_mut(&project) else {
            return;
        };
        if !cursor.catching_up || cursor.reading || !room {
            return;
        }
        cursor.reading = true;
        let after = cursor.seq;
        read_log(
            &self.handle,
            &directory,
            project,
            after,
            CATCH_UP_PAGE,
            move |page| Command::CaughtUp {
                id,
                project,
                after,
                page,
            },
        );
    }

    /// A page of a socket's catch-up arrived: what concerns the socket is sent in order; a
    /// removal of its user ends it (the socket leaves the project's rooms); the end of the log
    /// makes it live.
    pub(super) fn caught_up(
        &mut self,
        id: ConnId,
        project: ProjectId,
        after: u64,
        page: anyhow::Result<LogPage>,
    ) {
        let delivered = self.streams.get(&project).map_or(0, Stream::delivered);
        let instance = self.instance;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let user = conn.user;
        let Some(cursor) = conn.cursors.get_mut(&project) else {
            return;
        };
        cursor.reading = false;
        if !cursor.catching_up || cursor.seq != after {
            return;
        }
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                // Tried again at the next tick.
                tracing::warn!(%project, %error, "a catch-up could not read the event log");
                return;
            }
        };
        let in_project_room = conn.rooms.contains(&Room::Project(project));
        let mut frames = Vec::with_capacity(page.items.len());
        let mut removed = false;
        let mut last = after;
        for event in &page.items {
            last = event.seq;
            let envelope = Envelope::stored(instance, project, event);
            let for_socket = in_project_room
                || envelope
                    .task
                    .is_some_and(|task| conn.rooms.contains(&Room::Task(TaskId::from_uuid(task))));
            if for_socket {
                frames.push(ByteString::from(envelope.frame));
            }
            if envelope.effect == Some(Effect::MemberRemoved(user.as_uuid())) {
                removed = true;
                break;
            }
        }
        let reached_head = !removed && page.items.len() < CATCH_UP_PAGE as usize;
        cursor.seq = if reached_head {
            last.max(page.head)
        } else {
            last
        };
        if reached_head && cursor.seq >= delivered {
            cursor.catching_up = false;
        }
        metrics::replayed(frames.len());
        for frame in &frames {
            self.send_counted(id, frame);
        }
        if removed {
            self.evict_socket(id, project, "membership_removed");
            return;
        }
        self.continue_catch_up(id, project);
    }
}

/// Reads a page of `project`'s log after `after` on a task of its own (the hub never waits on
/// the database) and hands it back to the hub as `answer(page)`.
fn read_log(
    hub: &mpsc::Sender<Command>,
    directory: &Arc<dyn Directory>,
    project: ProjectId,
    after: u64,
    limit: u32,
    answer: impl FnOnce(anyhow::Result<LogPage>) -> Command + Send + 'static,
) {
    let (hub, directory) = (hub.clone(), directory.clone());
    tokio::spawn(async move {
        let page = directory.events(project, after, limit).await;
        let _ = hub.send(answer(page)).await;
    });
}
