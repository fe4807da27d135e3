//! The hub: one task owns the rooms and every socket's outgoing queue; a clonable
//! [`HubHandle`] talks to it through a bounded channel and implements the domain's
//! `EventBroadcaster`, so publishing is a non-blocking `try_send` on the request path.
//!
//! The hub never waits on a socket: a socket whose queue is full — in frames or in bytes — is
//! closed (1013, try again later) and the others carry on.
//!
//! # Order and completeness come from `seq`
//! For every project with sockets in its `project:` or `task:` rooms here, the hub keeps a
//! *stream*: the next `seq` to deliver and the events that arrived ahead of it. Events are
//! delivered strictly in `seq` order; one that arrives early waits for the missing ones, and a gap
//! still open after [`GAP_WAIT`] is filled from the log (a publish that failed, a Redis message
//! lost, an instance that died between commit and publish). The poller (`lib.rs`) reports the
//! log's heads, so an event nobody published at all is found too. Each socket also has a cursor
//! per project: a socket that joined with `since` catches up from the log, page by page, while
//! live events pass it by, and goes live when its cursor reaches the stream; no `seq` reaches a
//! socket twice or out of order. That part lives in `hub/sequence.rs`, the rooms (join, leave,
//! evictions) in `hub/rooms.rs`, the clonable handle in `hub/handle.rs`. This file keeps what
//! they all share and stays near 500 lines for it: the commands, the hub's state (sockets and
//! their queues, streams, rooms) and the one loop that dispatches each command to the part that
//! answers it, with delivery to a room.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use serde_json::json;
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::directory::{Directory, LogPage, MembershipCache};
use crate::envelope::{Audience, Effect, Envelope};
use crate::metrics;
pub(crate) use crate::outbox::Outbox;
use crate::outbox::Pushed;
use crate::protocol::{self, Room};

mod handle;
mod rooms;

pub use handle::HubHandle;
mod sequence;

/// How long a stream waits for a missing event before it reads it from the log. Events of one
/// project published concurrently arrive out of order by microseconds here and by milliseconds
/// through Redis; longer waits mean a lost message.
pub(crate) const GAP_WAIT: Duration = Duration::from_millis(150);

/// How often the hub looks for gaps to fill and catch-ups to continue.
const TICK: Duration = Duration::from_millis(25);

/// Events read from the log per fill of a stream's gap.
const FILL_PAGE: u32 = 1000;

/// Events read from the log per page of a socket's catch-up; the next page is read once the
/// socket's queue is at most half full, so a catch-up never overflows it.
const CATCH_UP_PAGE: u32 = 256;

/// Events a stream holds ahead of a gap; beyond that they are dropped and read from the log.
const MAX_PENDING: usize = 10_000;

/// A socket's id within this process.
pub type ConnId = u64;

/// The close code for a socket that fell behind: try again later.
pub const CLOSE_TOO_SLOW: u16 = 1013;

/// The hub wakes the sockets it queued for after this many frames at most, even with commands
/// still waiting: a burst's first event is not held back much longer than its delivery takes.
const WAKE_AFTER_FRAMES: usize = 10_000;

/// …and after this many commands: commands that queue nothing (events of projects nobody here
/// watches, heads from the poller) must not hold back what the first ones queued.
const WAKE_AFTER_COMMANDS: usize = 256;

/// How the hub answers a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinOutcome {
    /// In the room; the `joined` frame is queued.
    Joined,
    /// A membership was removed while the join was being checked: check again.
    Recheck,
}

pub(crate) enum Command {
    Publish(LoggedEvent),
    Remote(Envelope),
    /// The log's reader, for filling gaps and catching sockets up (given once the services
    /// behind it exist; until then gaps wait).
    Directory(Arc<dyn Directory>),
    /// The projects with streams here (for the poller).
    StreamProjects(oneshot::Sender<Vec<ProjectId>>),
    /// The log's heads of the projects the poller asked about (a project missing from them no
    /// longer exists).
    Heads {
        asked: Vec<ProjectId>,
        heads: Vec<(ProjectId, u64)>,
    },
    /// A stream's fill from the log: the page read after `after`.
    Filled {
        project: ProjectId,
        after: u64,
        page: anyhow::Result<LogPage>,
    },
    /// A page of a socket's catch-up.
    CaughtUp {
        id: ConnId,
        project: ProjectId,
        after: u64,
        page: anyhow::Result<LogPage>,
    },
    Register {
        id: ConnId,
        user: UserId,
        outbox: Outbox,
        kick: oneshot::Sender<u16>,
    },
    Unregister(ConnId),
    Join {
        id: ConnId,
        room: Room,
        /// The project the room belongs to (for `task:` rooms, the task's project).
        project: Option<ProjectId>,
        /// For `user:` rooms: the projects the user is a member of.
        user_projects: Option<Vec<ProjectId>>,
        /// The removal epoch the check was made at.
        epoch: u64,
        /// The project's log head read after the check (for `project:` and `task:` rooms).
        head: Option<u64>,
        /// Catch up from the log after this `seq` before going live.
        since: Option<u64>,
        reply: oneshot::Sender<JoinOutcome>,
    },
    Leave {
        id: ConnId,
        room: Room,
    },
    /// Who is in which project's rooms here (for an audit after removals may have been missed).
    Memberships(oneshot::Sender<Vec<(UserId, ProjectId)>>),
    /// The audit found that `user` is no longer a member of `project`: as a removal, applied
    /// here only.
    Revoke {
        user: UserId,
        project: ProjectId,
    },
}

struct Conn {
    user: UserId,
    outbox: Outbox,
    kick: Option<oneshot::Sender<u16>>,
    rooms: HashSet<Room>,
    /// Per project whose `project:` or `task:` rooms it is in: how far it has been sent.
    cursors: HashMap<ProjectId, Cursor>,
}

/// How far a socket has been sent one project's events.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The last `seq` it was sent (or passed over: events of other tasks).
    seq: u64,
    /// Reading the log to catch up; live events pass it by meanwhile.
    catching_up: bool,
    /// A page of its catch-up is being read.
    reading: bool,
    /// The project's rooms it is in.
    rooms: usize,
}

/// A project's ordered delivery here.
#[derive(Debug)]
struct Stream {
    /// The next `seq` to deliver; every one before it was delivered.
    next: u64,
    /// Events that arrived ahead of a gap.
    pending: BTreeMap<u64, Envelope>,
    /// The highest `seq` known to exist (arrived, or reported by the poller).
    known_head: u64,
    /// Since when an event before `known_head` is missing.
    missing_since: Option<Instant>,
    /// A fill from the log is being read.
    filling: bool,
    /// Sockets with a cursor in this project.
    sockets: usize,
}

impl Stream {
    fn new(head: u64) -> Self {
        Stream {
            next: head + 1,
            pending: BTreeMap::new(),
            known_head: head,
            missing_since: None,
            filling: false,
            sockets: 0,
        }
    }

    /// The last `seq` delivered.
    fn delivered(&self) -> u64 {
        self.next - 1
    }
}

/// The task that owns the rooms.
pub struct Hub {
    commands: mpsc::Receiver<Command>,
    /// For the tasks the hub starts (fills, catch-ups) to answer through.
    handle: mpsc::Sender<Command>,
    instance: Uuid,
    directory: Option<Arc<dyn Directory>>,
    relay: Option<mpsc::Sender<String>>,
    membership: Arc<MembershipCache>,
    /// Frames, and bytes, a socket may have queued before it counts as fallen behind.
    queue_frames: usize,
    queue_bytes: usize,
    /// Sockets queued for since the last wake-up (see `run`), and the frames queued meanwhile.
    to_wake: Vec<Outbox>,
    queued_since_wake: usize,
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<Room, HashSet<ConnId>>,
    /// The project of every `task:` room in use, to empty them when a membership ends.
    task_projects: HashMap<TaskId, ProjectId>,
    /// For users with a `user:` room here: the projects they are members of, and the reverse.
    user_projects: HashMap<UserId, HashSet<ProjectId>>,
    project_users: HashMap<ProjectId, HashSet<UserId>>,
    /// Ordered delivery per project with sockets in its rooms here.
    streams: HashMap<ProjectId, Stream>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("instance", &self.instance)
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub and its handle. `capacity` bounds the queue between publishers and the hub;
    /// `relay` receives every locally published envelope for the other instances.
    pub(crate) fn new(
        capacity: usize,
        queue_frames: usize,
        queue_bytes: usize,
        relay: Option<mpsc::Sender<String>>,
        membership: Arc<MembershipCache>,
    ) -> (Hub, HubHandle) {
        let (commands, receiver) = mpsc::channel(capacity.max(1));
        let instance = Uuid::new_v4();
        let handle = HubHandle {
            commands: commands.clone(),
            instance,
            next_id: Arc::new(AtomicU64::new(1)),
            membership: membership.clone(),
            missed: Arc::new(AtomicU64::new(0)),
        };
        let hub = Hub {
            commands: receiver,
            handle: commands,
            instance,
            directory: None,
            relay,
            membership,
            queue_frames: queue_frames.max(1),
            queue_bytes: queue_bytes.max(1),
            to_wake: Vec::new(),
            queued_since_wake: 0,
            conns: HashMap::new(),
            rooms: HashMap::new(),
            task_projects: HashMap::new(),
            user_projects: HashMap::new(),
            project_users: HashMap::new(),
            streams: HashMap::new(),
        };
        (hub, handle)
    }

    /// Runs until every handle but its own is gone.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.handle(command);
                        // The commands already waiting too (a batch's events arrive together),
                        // then one wake-up per socket for all of them.
                        for _ in 1..WAKE_AFTER_COMMANDS {
                            if self.queued_since_wake >= WAKE_AFTER_FRAMES {
                                break;
                            }
                            match self.commands.try_recv() {
                                Ok(command) => self.handle(command),
                                Err(_) => break,
                            }
                        }
                        self.wake_sockets();
                    }
                    None => return,
                },
                _ = tick.tick() => {
                    // Only the hub's own sender left (its tasks hold clones briefly): done.
                    if self.commands.sender_strong_count() <= 1 && self.commands.is_empty() {
                        return;
                    }
                    self.tick();
                    self.wake_sockets();
                }
            }
        }
    }

    /// Wakes the sockets queued for since the last call, each once.
    fn wake_sockets(&mut self) {
        for outbox in self.to_wake.drain(..) {
            outbox.wake();
        }
        self.queued_since_wake = 0;
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Publish(event) => {
                let envelope = Envelope::logged(self.instance, &event);
                // Forwarded first: other instances order by `seq` themselves.
                self.forward(&envelope);
                self.arrive(envelope);
            }
            Command::Remote(envelope) => {
                // Our own events were delivered when they were published.
                if envelope.origin != self.instance {
                    self.arrive(envelope);
                }
            }
            Command::Directory(directory) => self.directory = Some(directory),
            Command::StreamProjects(reply) => {
                let _ = reply.send(self.streams.keys().copied().collect());
            }
            Command::Heads { asked, heads } => self.heads(&asked, &heads),
            Command::Filled {
                project,
                after,
                page,
            } => self.filled(project, after, page),
            Command::CaughtUp {
                id,
                project,
                after,
                page,
            } => self.caught_up(id, project, after, page),
            Command::Register {
                id,
                user,
                outbox,
                kick,
            } => {
                self.conns.insert(
                    id,
                    Conn {
                        user,
                        outbox,
                        kick: Some(kick),
                        rooms: HashSet::new(),
                        cursors: HashMap::new(),
                    },
                );
                metrics::connections(self.conns.len());
            }
            Command::Unregister(id) => self.unregister(id),
            Command::Join {
                id,
                room,
                project,
                user_projects,
                epoch,
                head,
                since,
                reply,
            } => {
                // A removal applied since the check may have been missed by it: check again.
                let current = self.conns.get(&id).map(|c| self.membership.epoch(c.user));
                let outcome = if current.is_none_or(|current| current == epoch) {
                    self.join(id, room, project, user_projects, head, since);
                    JoinOutcome::Joined
                } else {
                    JoinOutcome::Recheck
                };
                let _ = reply.send(outcome);
            }
            Command::Leave { id, room } => {
                self.leave(id, room);
                self.send_counted(
                    id,
                    &protocol::frame("left", json!({"room": room.to_string()})).into(),
                );
            }
            Command::Memberships(reply) => {
                let _ = reply.send(self.memberships());
            }
            Command::Revoke { user, project } => self.member_removed(user, project),
        }
    }

    /// Every `(user, project)` whose sockets here are in a `project:` or `task:` room.
    fn memberships(&self) -> Vec<(UserId, ProjectId)> {
        let mut pairs = HashSet::new();
        for (room, ids) in &self.rooms {
            let project = match room {
                Room::Project(project) => *project,
                Room::Task(task) => match self.task_projects.get(task) {
                    Some(project) => *project,
                    None => continue,
                },
                Room::User(_) => continue,
            };
            for id in ids {
                if let Some(conn) = self.conns.get(id) {
                    pairs.insert((conn.user, project));
                }
            }
        }
        pairs.into_iter().collect()
    }

    fn forward(&self, envelope: &Envelope) {
        let Some(relay) = &self.relay else {
            return;
        };
        match serde_json::to_string(envelope) {
            Ok(text) => {
                if relay.try_send(text).is_err() {
                    tracing::warn!(
                        "the relay's queue is full; an event reaches this instance only"
                    );
                    metrics::broadcast_failed();
                }
            }
            Err(error) => {
                tracing::error!(%error, "an envelope could not be serialised");
                metrics::broadcast_failed();
            }
        }
    }

    fn deliver(&mut self, envelope: &Envelope) {
        let project = ProjectId::from_uuid(envelope.project);
        // The project room's sockets as a list (a busy room's thousand sockets are not hashed
        // again for every event), then the sockets of the other rooms the event reaches, each
        // once and only if not in the project room.
        let mut targets: Vec<ConnId> = self.members_of(Room::Project(project)).collect();
        let mut others: HashSet<ConnId> = HashSet::new();
        if let Some(task) = envelope.task {
            others.extend(self.members_of(Room::Task(TaskId::from_uuid(task))));
        }
        match envelope.audience {
            Audience::Project => {}
            Audience::Members => {
                let users: Vec<UserId> = self
                    .project_users
                    .get(&project)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                for user in users {
                    others.extend(self.members_of(Room::User(user)));
                }
            }
            Audience::User(user) => {
                others.extend(self.members_of(Room::User(UserId::from_uuid(user))));
            }
        }
        if !others.is_empty() {
            let in_project_room = self.rooms.get(&Room::Project(project));
            targets.extend(
                others
                    .into_iter()
                    .filter(|id| !in_project_room.is_some_and(|room| room.contains(id))),
            );
        }
        // One buffer for every socket: each outbox gets a reference, not a copy.
        let frame = ByteString::from(envelope.frame.clone());
        let mut queued = 0;
        for id in targets {
            // A socket catching up gets this from the log; one already sent it skips it.
            if let Some(cursor) = self
                .conns
                .get_mut(&id)
                .and_then(|conn| conn.cursors.get_mut(&project))
            {
                if cursor.catching_up || envelope.seq <= cursor.seq {
                    continue;
                }
                cursor.seq = envelope.seq;
            }
            queued += u64::from(self.send(id, &frame));
        }
        metrics::delivered(queued);
        match envelope.effect {
            Some(Effect::MemberAdded(user)) => self.member_added(UserId::from_uuid(user), project),
            Some(Effect::MemberRemoved(user)) => {
                self.member_removed(UserId::from_uuid(user), project);
            }
            Some(Effect::ProjectDeleted) => self.project_deleted(project),
            None => {}
        }
    }

    /// [`Hub::send`], counted.
    fn send_counted(&mut self, id: ConnId, frame: &ByteString) {
        if self.send(id, frame) {
            metrics::delivered(1);
        }
    }

    /// Queues a frame for one socket (woken by `run` after the burst); a socket whose queue is
    /// full (in frames or bytes) is closed, not waited for. Whether it was queued (the caller
    /// counts it, in `tasklane_ws_frames_queued_total`).
    fn send(&mut self, id: ConnId, frame: &ByteString) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        match conn.outbox.push(frame, self.queue_frames, self.queue_bytes) {
            Pushed::Queued { wake } => {
                if wake {
                    self.to_wake.push(conn.outbox.clone());
                }
                self.queued_since_wake += 1;
                true
            }
            Pushed::Full => {
                tracing::info!(connection = id, user = %conn.user, "socket fell behind; closing it");
                if let Some(kick) = conn.kick.take() {
                    let _ = kick.send(CLOSE_TOO_SLOW);
                }
                metrics::slow_consumer_closed();
                self.unregister(id);
                false
            }
            Pushed::Closed => {
                self.unregister(id);
                false
            }
        }
    }
}
