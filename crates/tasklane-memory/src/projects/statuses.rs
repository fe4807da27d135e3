//! Statuses: the context a status change is decided on, and the plan's creation, rename,
//! deletion and new order applied in one write.

use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ports::{
    Logged, RecordEvents, StatusChangeRequest, StatusContext, StatusPlan, StatusTarget,
    StatusesChanged,
};

use crate::tables::StatusRow;
use crate::{Abort, MemoryStore};

impl MemoryStore {
    /// Reads the status context, decides, and applies the plan.
    pub(super) fn change_statuses<E>(
        &self,
        request: StatusChangeRequest,
        decide: &Decide<StatusContext, StatusPlan, E>,
        record: &RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<E>> {
        self.write(|tables| {
            let (project, target) = match request.target {
                StatusTarget::Project(project) => (Some(project), None),
                StatusTarget::Status(status) => (
                    tables.statuses.get(&status).map(|s| s.status.project_id),
                    Some(status),
                ),
            };
            let context = match project.and_then(|p| tables.project(p)) {
                Some(project) => StatusContext {
                    actor_role: tables.role(project.id, request.actor),
                    statuses: tables.statuses_of(project.id),
                    target_in_use: target
                        .is_some_and(|s| tables.tasks.values().any(|t| t.status.id == s)),
                    project: Some(project),
                },
                None => StatusContext {
                    project: None,
                    actor_role: None,
                    statuses: Vec::new(),
                    target_in_use: false,
                },
            };
            let plan = decide(context).map_err(Abort::Rejected)?;
            let project = project.ok_or_else(|| RepoError::other("decision without a project"))?;
            if let Some(status) = plan.create {
                tables.statuses.insert(
                    status.id,
                    StatusRow {
                        status,
                        append_seq: 0,
                    },
                );
            }
            if let Some((id, name)) = plan.rename
                && let Some(row) = tables.statuses.get_mut(&id)
            {
                row.status.name = name.clone();
                for task in tables.tasks.values_mut().filter(|t| t.status.id == id) {
                    task.status.name = name.clone();
                }
            }
            if let Some(id) = plan.delete {
                tables.statuses.remove(&id);
            }
            let mut statuses = Vec::with_capacity(plan.order.len());
            for (position, id) in (0..).zip(&plan.order) {
                if let Some(row) = tables.statuses.get_mut(id) {
                    row.status.position = position;
                    statuses.push(row.status.clone());
                }
            }
            let changed = StatusesChanged {
                project_id: project,
                statuses,
            };
            Ok::<_, Abort<E>>(tables.log(changed, record))
        })
        .map_err(TxError::from)
    }
}
