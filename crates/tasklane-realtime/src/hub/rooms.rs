//! The hub's rooms: joining (authorised by the directory, with the socket's cursor when it asks
//! to catch up), leaving, and everything that takes sockets out of rooms (a member removed, a
//! project deleted, a socket gone). Methods of `Hub`, split from `hub.rs` by responsibility.

use serde_json::json;
use tasklane_domain::ids::{ProjectId, UserId};

use crate::metrics;
use crate::protocol::{self, Room};

use super::*;

impl Hub {
    pub(super) fn join(
        &mut self,
        id: ConnId,
        room: Room,
        project: Option<ProjectId>,
        user_projects: Option<Vec<ProjectId>>,
        head: Option<u64>,
        since: Option<u64>,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.rooms.insert(room) {
            // Already in it: say so again, nothing else changes.
            self.send_counted(
                id,
                &protocol::frame("joined", json!({"room": room.to_string()})).into(),
            );
            return;
        }
        let user = conn.user;
        self.rooms.entry(room).or_default().insert(id);
        let ordered = matches!(room, Room::Project(_) | Room::Task(_));
        if let (true, Some(project)) = (ordered, project) {
            let stream = self
                .streams
                .entry(project)
                .or_insert_with(|| Stream::new(head.unwrap_or(0)));
            let delivered = stream.delivered();
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            let cursor = conn.cursors.entry(project).or_insert_with(|| {
                stream.sockets += 1;
                Cursor {
                    seq: delivered,
                    catching_up: false,
                    reading: false,
                    rooms: 0,
                }
            });
            cursor.rooms += 1;
            match since {
                // Behind what this socket would be sent next: catch up from the log first.
                Some(since) if since < cursor.seq => {
                    cursor.seq = since;
                    cursor.catching_up = true;
                }
                // It has seen events this instance has not delivered yet: skip those.
                Some(since) => cursor.seq = since,
                None => {}
            }
        }
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
        self.send_counted(
            id,
            &protocol::frame("joined", json!({"room": room.to_string()})).into(),
        );
        if let (true, Some(project)) = (ordered, project) {
            self.continue_catch_up(id, project);
        }
    }

    /// The project a `project:` or `task:` room belongs to.
    pub(super) fn project_of(&self, room: Room) -> Option<ProjectId> {
        match room {
            Room::Project(project) => Some(project),
            Room::Task(task) => self.task_projects.get(&task).copied(),
            Room::User(_) => None,
        }
    }

    pub(super) fn leave(&mut self, id: ConnId, room: Room) {
        let project = self.project_of(room);
        let mut forget_stream = None;
        if let Some(conn) = self.conns.get_mut(&id)
            && conn.rooms.remove(&room)
            && let Some(project) = project
            && let Some(cursor) = conn.cursors.get_mut(&project)
        {
            cursor.rooms = cursor.rooms.saturating_sub(1);
            if cursor.rooms == 0 {
                conn.cursors.remove(&project);
                forget_stream = Some(project);
            }
        }
        if let Some(project) = forget_stream
            && let Some(stream) = self.streams.get_mut(&project)
        {
            stream.sockets = stream.sockets.saturating_sub(1);
            if stream.sockets == 0 {
                self.streams.remove(&project);
            }
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
    pub(super) fn forget_user(&mut self, user: UserId) {
        for project in self.user_projects.remove(&user).unwrap_or_default() {
            if let Some(users) = self.project_users.get_mut(&project) {
                users.remove(&user);
                if users.is_empty() {
                    self.project_users.remove(&project);
                }
            }
        }
    }

    pub(super) fn unregister(&mut self, id: ConnId) {
        let rooms: Vec<Room> = match self.conns.get(&id) {
            Some(conn) => conn.rooms.iter().copied().collect(),
            None => return,
        };
        for room in rooms {
            self.leave(id, room);
        }
        self.conns.remove(&id);
        metrics::connections(self.conns.len());
    }

    pub(super) fn members_of(&self, room: Room) -> impl Iterator<Item = ConnId> + '_ {
        self.rooms.get(&room).into_iter().flatten().copied()
    }

    pub(super) fn member_added(&mut self, user: UserId, project: ProjectId) {
        self.membership.added(user, project);
        if let Some(projects) = self.user_projects.get_mut(&user) {
            projects.insert(project);
            self.project_users.entry(project).or_default().insert(user);
        }
    }

    pub(super) fn member_removed(&mut self, user: UserId, project: ProjectId) {
        self.membership.removed(user, project);
        if let Some(projects) = self.user_projects.get_mut(&user) {
            projects.remove(&project);
        }
        if let Some(users) = self.project_users.get_mut(&project) {
            users.remove(&user);
        }
        self.evict_from_project(project, Some(user), "membership_removed");
    }

    pub(super) fn project_deleted(&mut self, project: ProjectId) {
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
    pub(super) fn evict_from_project(
        &mut self,
        project: ProjectId,
        only: Option<UserId>,
        reason: &str,
    ) {
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
                self.send_counted(id, &frame.into());
            }
        }
    }

    /// Takes one socket out of the project's `project:` and `task:` rooms, telling it why.
    pub(super) fn evict_socket(&mut self, id: ConnId, project: ProjectId, reason: &str) {
        let rooms: Vec<Room> = match self.conns.get(&id) {
            Some(conn) => conn
                .rooms
                .iter()
                .copied()
                .filter(|room| self.project_of(*room) == Some(project))
                .collect(),
            None => return,
        };
        for room in rooms {
            self.leave(id, room);
            let frame =
                protocol::frame("left", json!({"room": room.to_string(), "reason": reason}));
            self.send_counted(id, &frame.into());
        }
    }
}
