//! The event log: pages of a project's (or a task's) events after a position, heads, pruning.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::errors::RepoError;
use tasklane_domain::events::StoredEvent;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::{EventLogRepository, EventQuery, EventScope, EventsRead};

use crate::MemoryStore;

#[async_trait]
impl EventLogRepository for MemoryStore {
    async fn read_events(&self, query: EventQuery) -> Result<EventsRead, RepoError> {
        Ok(self.read(|tables| {
            let (project, task) = match query.scope {
                EventScope::Project(project) => (Some(project), None),
                EventScope::Task(task) => {
                    (tables.tasks.get(&task).map(|t| t.project_id), Some(task))
                }
            };
            let Some(project) = project.filter(|p| tables.projects.contains_key(p)) else {
                return EventsRead {
                    viewer_role: None,
                    head: 0,
                    oldest: None,
                    items: Vec::new(),
                };
            };
            let log = tables
                .events
                .get(&project)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let items = log
                .iter()
                .filter(|e| e.seq > query.after)
                .filter(|e| task.is_none() || e.event.task_id() == task)
                .take(query.limit as usize)
                .map(|e| StoredEvent {
                    seq: e.seq,
                    kind: e.event.payload.name().to_owned(),
                    task_id: e.event.task_id(),
                    member_id: e.event.member_id(),
                    actor_id: e.event.actor_id,
                    at: e.event.at,
                    data: e.data.clone(),
                })
                .collect();
            EventsRead {
                viewer_role: tables.role(project, query.viewer),
                head: tables.heads.get(&project).copied().unwrap_or_default(),
                oldest: log.first().map(|e| e.seq),
                items,
            }
        }))
    }

    async fn heads(&self, projects: Vec<ProjectId>) -> Result<Vec<(ProjectId, u64)>, RepoError> {
        Ok(self.read(|tables| {
            projects
                .iter()
                .filter_map(|p| tables.heads.get(p).map(|head| (*p, *head)))
                .collect()
        }))
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        self.write(|tables| {
            let mut pruned = 0;
            for (project, log) in &mut tables.events {
                // The newest event stays: its number is where the sequence continues.
                let head = tables.heads.get(project).copied().unwrap_or_default();
                let count = log.len();
                log.retain(|e| e.event.at >= before || e.seq >= head);
                pruned += (count - log.len()) as u64;
            }
            Ok(pruned)
        })
    }
}
