//! The tables, and what several repositories do with them: a project as read (with its
//! aggregation), a member's role, relative aggregation updates, and the event log's append.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklane_domain::aggregation::{Aggregation, AggregationChange, AggregationDelta, Counts};
use tasklane_domain::errors::RepoError;
use tasklane_domain::events::{EncodedEvent, LoggedEvent};
use tasklane_domain::ids::{CommentId, LabelId, ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::{Comment, Label, Project, Status, Task, User, UserSummary};
use tasklane_domain::ports::{EventsOf, Logged, NewRefreshToken, ProjectState};
use tasklane_domain::values::{ProjectDescription, ProjectKey, ProjectName, Role};

use crate::Abort;

/// A user and their password hash.
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub user: User,
    pub password_hash: String,
}

/// A project's own columns (its aggregation is a row of its own, which may be missing).
#[derive(Debug, Clone)]
pub(crate) struct ProjectRow {
    pub id: ProjectId,
    pub key: ProjectKey,
    pub name: ProjectName,
    pub description: ProjectDescription,
    pub task_counter: u64,
    pub row_version: u64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A status and its column's append sequence.
#[derive(Debug, Clone)]
pub(crate) struct StatusRow {
    pub status: Status,
    pub append_seq: u64,
}

/// A membership.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberRow {
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRow {
    pub token: NewRefreshToken,
    pub used: bool,
    pub revoked: bool,
}

/// A reserved request key.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub request_hash: String,
    pub response: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Every table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tables {
    pub users: BTreeMap<UserId, UserRow>,
    pub projects: BTreeMap<ProjectId, ProjectRow>,
    pub aggregations: BTreeMap<ProjectId, Aggregation>,
    pub tasks_versions: BTreeMap<ProjectId, u64>,
    pub members: BTreeMap<(ProjectId, UserId), MemberRow>,
    pub statuses: BTreeMap<StatusId, StatusRow>,
    /// Tasks as stored: `subtask_count` is computed when read.
    pub tasks: BTreeMap<TaskId, Task>,
    pub comments: BTreeMap<CommentId, Comment>,
    pub labels: BTreeMap<LabelId, (ProjectId, Label)>,
    pub events: BTreeMap<ProjectId, Vec<LoggedEvent>>,
    pub heads: BTreeMap<ProjectId, u64>,
    pub refresh_tokens: Vec<RefreshRow>,
    pub keys: BTreeMap<(UserId, String), KeyRow>,
    /// Bumped by every profile change: part of every listing's version.
    pub directory_version: u64,
}

impl Tables {
    /// The user's summary, if they exist.
    pub fn summary(&self, id: UserId) -> Option<UserSummary> {
        self.users.get(&id).map(|row| row.user.summary.clone())
    }

    /// `user`'s role in `project`.
    pub fn role(&self, project: ProjectId, user: UserId) -> Option<Role> {
        self.members.get(&(project, user)).map(|m| m.role)
    }

    /// The project as read: its row with its aggregation (zero counts when the row is missing).
    pub fn project(&self, id: ProjectId) -> Option<Project> {
        let row = self.projects.get(&id)?;
        let aggregation = self.aggregations.get(&id).cloned().unwrap_or(Aggregation {
            project_id: id,
            counts: Counts::ZERO,
            updated_at: row.created_at,
        });
        Some(Project {
            id,
            key: row.key.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            task_counter: row.task_counter,
            row_version: row.row_version,
            archived_at: row.archived_at,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            aggregation,
        })
    }

    /// The fields of the project a task change depends on.
    pub fn project_state(&self, id: ProjectId) -> Option<ProjectState> {
        self.projects.get(&id).map(|row| ProjectState {
            id,
            key: row.key.clone(),
            archived_at: row.archived_at,
        })
    }

    /// The project's statuses in board order.
    pub fn statuses_of(&self, project: ProjectId) -> Vec<Status> {
        let mut statuses: Vec<Status> = self
            .statuses
            .values()
            .filter(|row| row.status.project_id == project)
            .map(|row| row.status.clone())
            .collect();
        statuses.sort_by_key(|s| s.position);
        statuses
    }

    /// The project's labels by id.
    pub fn labels_of(&self, project: ProjectId) -> Vec<Label> {
        self.labels
            .values()
            .filter(|(p, _)| *p == project)
            .map(|(_, label)| label.clone())
            .collect()
    }

    /// The task as read: with its sub-task count.
    pub fn task(&self, id: TaskId) -> Option<Task> {
        let task = self.tasks.get(&id)?;
        Some(Task {
            subtask_count: self
                .tasks
                .values()
                .filter(|t| t.parent_id == Some(id))
                .count() as u64,
            ..task.clone()
        })
    }

    /// Applies `delta` to the project's aggregation: the change, or `None` without a row.
    pub fn update_aggregation(
        &mut self,
        project: ProjectId,
        delta: &AggregationDelta,
        at: DateTime<Utc>,
    ) -> Result<Option<AggregationChange>, RepoError> {
        let Some(row) = self.aggregations.get_mut(&project) else {
            return Ok(None);
        };
        let after = row
            .counts
            .apply(delta)
            .map_err(|error| RepoError::other(format!("aggregation: {error}")))?;
        let change = AggregationChange {
            before: row.counts,
            after,
        };
        row.counts = after;
        row.updated_at = at;
        if !delta.is_zero() {
            *self.tasks_versions.entry(project).or_default() += 1;
        }
        Ok(Some(change))
    }

    /// Applies a plan's delta when it is not zero; a missing row aborts the write.
    pub fn apply_delta<E>(
        &mut self,
        project: ProjectId,
        delta: &AggregationDelta,
        at: DateTime<Utc>,
    ) -> Result<Option<AggregationChange>, Abort<E>> {
        if delta.is_zero() {
            return Ok(None);
        }
        match self.update_aggregation(project, delta, at)? {
            Some(change) => Ok(Some(change)),
            None => Err(Abort::AggregationMissing),
        }
    }

    /// Appends `events` to their projects' logs, each with its project's next `seq`.
    pub fn append(&mut self, events: Vec<EncodedEvent>) -> Vec<LoggedEvent> {
        events
            .into_iter()
            .map(|encoded| {
                let project = encoded.event.project_id;
                let head = self.heads.entry(project).or_default();
                *head += 1;
                let logged = LoggedEvent {
                    seq: *head,
                    event: encoded.event,
                    data: encoded.data,
                };
                self.events.entry(project).or_default().push(logged.clone());
                logged
            })
            .collect()
    }

    /// `value` with the events `record` makes of it, logged.
    pub fn log<R>(&mut self, value: R, record: &impl EventsOf<R>) -> Logged<R> {
        let events = self.append(record.events_of(&value));
        Logged { value, events }
    }
}

/// A text matches a search when it contains it, ignoring case.
pub(crate) fn contains(text: &str, search: &str) -> bool {
    text.to_lowercase().contains(&search.to_lowercase())
}
