//! The hub: one task owns the rooms and every socket's outgoing queue; a clonable
//! [`HubHandle`] talks to it through a bounded channel and implements the domain's
//! `EventBroadcaster`, so publishing is a non-blocking `try_send` on the request path.
//!
//! The hub never waits on a socket: a socket whose queue is full — in frames or in bytes — is
//! closed (1013, try again later) and the others carry on. Events are delivered in the order the hub receives them, which
//! for one project is commit order (see `tasklane_domain::ordering`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytestring::ByteString;
use serde_json::json;
use tasklane_domain::events::DomainEvent;
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::ports::{BroadcastError, EventBroadcaster};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::directory::MembershipCache;
use crate::envelope::{Audience, Effect, EncodeData, Envelope};
use crate::metrics;
use crate::protocol::{self, Room};

/// A socket's id within this process.
pub type ConnId = u64;

/// The close code for a socket that fell behind: try again later.
pub const CLOSE_TOO_SLOW: u16 = 1013;

/// How the hub answers a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinOutcome {
    /// In the room; the `joined` frame is queued.
    Joined,
    /// A membership was removed while the join was being checked: check again.
    Recheck,
}

pub(crate) enum Command {
    Publish(DomainEvent),
    Remote(Envelope),
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

/// A socket's outgoing queue, bounded in frames by the channel and in bytes by `queued`, which
/// the hub raises when it queues a frame and the socket lowers once the frame is written.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pub(crate) frames: mpsc::Sender<ByteString>,
    pub(crate) queued: Arc<AtomicUsize>,
}

/// The clonable side of the hub.
#[derive(Clone)]
pub struct HubHandle {
    commands: mpsc::Sender<Command>,
    instance: Uuid,
    next_id: Arc<AtomicU64>,
    pub(crate) membership: Arc<MembershipCache>,
    /// Events from other instances dropped because the hub's queue was full.
    missed: Arc<AtomicU64>,
}

impl std::fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubHandle")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl HubHandle {
    /// This instance's id (the `origin` of what it publishes).
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a command, waiting for room in the queue (connections may wait; requests never do).
    pub(crate) async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// Hands over an envelope received from another instance. When the hub's queue is full the
    /// envelope is dropped; a removal in it would be missed, so the next audit is asked for.
    pub(crate) fn remote(&self, envelope: Envelope) -> bool {
        let delivered = self.commands.try_send(Command::Remote(envelope)).is_ok();
        if !delivered {
            self.missed.fetch_add(1, Ordering::SeqCst);
        }
        delivered
    }

    /// How many events from other instances were dropped so far.
    pub(crate) fn missed(&self) -> u64 {
        self.missed.load(Ordering::SeqCst)
    }
}

impl EventBroadcaster for HubHandle {
    fn publish(&self, event: DomainEvent) -> Result<(), BroadcastError> {
        self.commands
            .try_send(Command::Publish(event))
            .map_err(|error| {
                let why = match error {
                    mpsc::error::TrySendError::Full(_) => "the hub's queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the hub is gone",
                };
                BroadcastError(anyhow::anyhow!(why))
            })
    }
}

struct Conn {
    user: UserId,
    outbox: Outbox,
    kick: Option<oneshot::Sender<u16>>,
    rooms: HashSet<Room>,
}

/// The task that owns the rooms.
pub struct Hub {
    commands: mpsc::Receiver<Command>,
    instance: Uuid,
    encode: EncodeData,
    relay: Option<mpsc::Sender<String>>,
    membership: Arc<MembershipCache>,
    /// Bytes a socket may have queued before it counts as fallen behind.
    queue_bytes: usize,
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<Room, HashSet<ConnId>>,
    /// The project of every `task:` room in use, to empty them when a membership ends.
    task_projects: HashMap<TaskId, ProjectId>,
    /// For users with a `user:` room here: the projects they are members of, and the reverse.
    user_projects: HashMap<UserId, HashSet<ProjectId>>,
    project_users: HashMap<ProjectId, HashSet<UserId>>,
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
        queue_bytes: usize,
        encode: EncodeData,
        relay: Option<mpsc::Sender<String>>,
        membership: Arc<MembershipCache>,
    ) -> (Hub, HubHandle) {
        let (commands, receiver) = mpsc::channel(capacity.max(1));
        let instance = Uuid::new_v4();
        let handle = HubHandle {
            commands,
            instance,
            next_id: Arc::new(AtomicU64::new(1)),
            membership: membership.clone(),
            missed: Arc::new(AtomicU64::new(0)),
        };
        let hub = Hub {
            commands: receiver,
            instance,
            encode,
            relay,
            membership,
            queue_bytes: queue_bytes.max(1),
            conns: HashMap::new(),
            rooms: HashMap::new(),
            task_projects: HashMap::new(),
            user_projects: HashMap::new(),
            project_users: HashMap::new(),
        };
        (hub, handle)
    }

    /// Runs until every handle is gone.
    pub async fn run(mut self) {
        while let Some(command) = self.commands.recv().await {
            self.handle(command);
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Publish(event) => {
                let envelope = Envelope::of(self.instance, &event, &self.encode);
                self.deliver(&envelope);
                self.forward(&envelope);
            }
            Command::Remote(envelope) => {
                // Our own events were delivered when they were published.
                if envelope.origin != self.instance {
                    self.deliver(&envelope);
                }
            }
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
                reply,
            } => {
                // A removal applied since the check may have been missed by it: check again.
                let current = self.conns.get(&id).map(|c| self.membership.epoch(c.user));
                let outcome = if current.is_none_or(|current| current == epoch) {
                    self.join(id, room, project, user_projects);
                    JoinOutcome::Joined
                } else {
                    JoinOutcome::Recheck
                };
                let _ = reply.send(outcome);
            }
            Command::Leave { id, room } => {
                self.leave(id, room);
                self.send(
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

    fn join(
        &mut self,
        id: ConnId,
        room: Room,
        project: Option<ProjectId>,
        user_projects: Option<Vec<ProjectId>>,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.rooms.insert(room);
        let user = conn.user;
        self.rooms.entry(room).or_default().insert(id);
        match (room, project, user_projects) {
            (Room::Task(task), Some(project), _) => {
                self.task_projects.insert(task, project);
            }
            (Room::User(_), _, Some(projects)) => {
                for project in &projects {
                    self.project_users.entry(*project).or_default().insert(user);
                }
                self.user_projects.entry(user).or_default().extend(projects);
            }
            _ => {}
        }
        self.send(
            id,
            &protocol::frame("joined", json!({"room": room.to_string()})).into(),
        );
    }

    fn leave(&mut self, id: ConnId, room: Room) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.rooms.remove(&room);
        }
        let empty = self.rooms.get_mut(&room).is_some_and(|members| {
            members.remove(&id);
            members.is_empty()
        });
        if empty {
            self.rooms.remove(&room);
            match room {
                Room::Task(task) => {
                    self.task_projects.remove(&task);
                }
                Room::User(user) => self.forget_user(user),
                Room::Project(_) => {}
            }
        }
    }

    /// The user has no `user:` room here any more: stop tracking their projects.
    fn forget_user(&mut self, user: UserId) {
        for project in self.user_projects.remove(&user).unwrap_or_default() {
            if let Some(users) = self.project_users.get_mut(&project) {
                users.remove(&user);
                if users.is_empty() {
                    self.project_users.remove(&project);
                }
            }
        }
    }

    fn unregister(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        for room in conn.rooms {
            // The connection is gone from `conns`, so `leave` only tidies the room indexes.
            self.leave(id, room);
        }
        metrics::connections(self.conns.len());
    }

    fn members_of(&self, room: Room) -> impl Iterator<Item = ConnId> + '_ {
        self.rooms.get(&room).into_iter().flatten().copied()
    }

    fn deliver(&mut self, envelope: &Envelope) {
        let project = ProjectId::from_uuid(envelope.project);
        let mut targets: HashSet<ConnId> = self.members_of(Room::Project(project)).collect();
        if let Some(task) = envelope.task {
            targets.extend(self.members_of(Room::Task(TaskId::from_uuid(task))));
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
                    targets.extend(self.members_of(Room::User(user)));
                }
            }
            Audience::User(user) => {
                targets.extend(self.members_of(Room::User(UserId::from_uuid(user))));
            }
        }
        // One buffer for every socket: each outbox gets a reference, not a copy.
        let frame = ByteString::from(envelope.frame.clone());
        for id in targets {
            self.send(id, &frame);
        }
        match envelope.effect {
            Some(Effect::MemberAdded(user)) => self.member_added(UserId::from_uuid(user), project),
            Some(Effect::MemberRemoved(user)) => {
                self.member_removed(UserId::from_uuid(user), project);
            }
            Some(Effect::ProjectDeleted) => self.project_deleted(project),
            None => {}
        }
    }

    fn member_added(&mut self, user: UserId, project: ProjectId) {
        self.membership.added(user, project);
        if let Some(projects) = self.user_projects.get_mut(&user) {
            projects.insert(project);
            self.project_users.entry(project).or_default().insert(user);
        }
    }

    fn member_removed(&mut self, user: UserId, project: ProjectId) {
        self.membership.removed(user, project);
        if let Some(projects) = self.user_projects.get_mut(&user) {
            projects.remove(&project);
        }
        if let Some(users) = self.project_users.get_mut(&project) {
            users.remove(&user);
        }
        self.evict_from_project(project, Some(user), "membership_removed");
    }

    fn project_deleted(&mut self, project: ProjectId) {
        self.membership.project_removed(project);
        for user in self.project_users.remove(&project).unwrap_or_default() {
            if let Some(projects) = self.user_projects.get_mut(&user) {
                projects.remove(&project);
            }
        }
        self.evict_from_project(project, None, "project_deleted");
    }

    /// Takes the sockets of `only` (or everyone) out of the project's `project:` and `task:`
    /// rooms, telling each with a `left` frame.
    fn evict_from_project(&mut self, project: ProjectId, only: Option<UserId>, reason: &str) {
        let mut rooms = vec![Room::Project(project)];
        rooms.extend(
            self.task_projects
                .iter()
                .filter(|(_, p)| **p == project)
                .map(|(task, _)| Room::Task(*task)),
        );
        for room in rooms {
            let evicted: Vec<ConnId> = self
                .members_of(room)
                .filter(|id| {
                    only.is_none_or(|user| self.conns.get(id).is_some_and(|c| c.user == user))
                })
                .collect();
            for id in evicted {
                self.leave(id, room);
                let frame =
                    protocol::frame("left", json!({"room": room.to_string(), "reason": reason}));
                self.send(id, &frame.into());
            }
        }
    }

    /// Queues a frame for one socket; a socket whose queue is full (in frames or bytes) is
    /// closed, not waited for.
    fn send(&mut self, id: ConnId, frame: &ByteString) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        // Counted before it is queued (the socket may write it at once and uncount it), and
        // uncounted if it is not queued after all.
        let queued = conn.outbox.queued.fetch_add(frame.len(), Ordering::SeqCst);
        let over_budget = queued.saturating_add(frame.len()) > self.queue_bytes;
        let sent = if over_budget {
            Err(mpsc::error::TrySendError::Full(()))
        } else {
            conn.outbox
                .frames
                .try_send(frame.clone())
                .map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => mpsc::error::TrySendError::Full(()),
                    mpsc::error::TrySendError::Closed(_) => mpsc::error::TrySendError::Closed(()),
                })
        };
        if sent.is_err() {
            conn.outbox.queued.fetch_sub(frame.len(), Ordering::SeqCst);
        }
        match sent {
            Ok(()) => metrics::delivered(),
            Err(mpsc::error::TrySendError::Full(())) => {
                tracing::info!(connection = id, user = %conn.user, "socket fell behind; closing it");
                if let Some(kick) = conn.kick.take() {
                    let _ = kick.send(CLOSE_TOO_SLOW);
                }
                metrics::slow_consumer_closed();
                self.unregister(id);
            }
            Err(mpsc::error::TrySendError::Closed(())) => self.unregister(id),
        }
    }
}
