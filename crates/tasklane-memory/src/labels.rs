//! A project's labels. Renaming or recolouring a label changes it on every task that has it;
//! deleting it takes it off them.

use async_trait::async_trait;
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{LabelId, ProjectId, UserId};
use tasklane_domain::model::Label;
use tasklane_domain::ports::{
    CreateLabelError, DeleteLabelError, LabelContext, LabelRepository, LabelsRead, Logged,
    ProjectLabel, RecordEvents, UpdateLabelError,
};
use tasklane_domain::services::labels::name_taken;

use crate::tables::Tables;
use crate::{Abort, MemoryStore};

fn context(
    tables: &Tables,
    project: Option<ProjectId>,
    actor: UserId,
    target: Option<Label>,
) -> LabelContext {
    let Some(row) = project.and_then(|p| tables.projects.get(&p)) else {
        return LabelContext {
            project_id: None,
            actor_role: None,
            project_archived: false,
            labels: Vec::new(),
            target: None,
        };
    };
    LabelContext {
        project_id: Some(row.id),
        actor_role: tables.role(row.id, actor),
        project_archived: row.archived_at.is_some(),
        labels: tables.labels_of(row.id),
        target,
    }
}

fn context_of(tables: &Tables, label: LabelId, actor: UserId) -> LabelContext {
    let found = tables.labels.get(&label).cloned();
    context(
        tables,
        found.as_ref().map(|(p, _)| *p),
        actor,
        found.map(|(_, l)| l),
    )
}

/// Whether another label of `project` has `label`'s name, ignoring case (the unique index of
/// the database).
fn name_in_use(tables: &Tables, project: ProjectId, label: &Label) -> bool {
    let name = label.name.as_str().to_lowercase();
    tables
        .labels
        .values()
        .any(|(p, l)| *p == project && l.id != label.id && l.name.as_str().to_lowercase() == name)
}

#[async_trait]
impl LabelRepository for MemoryStore {
    async fn list_labels(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<LabelsRead, RepoError> {
        Ok(self.read(|tables| {
            let context = context(tables, Some(project_id), viewer, None);
            LabelsRead {
                viewer_role: context.actor_role,
                labels: if context.actor_role.is_some() {
                    context.labels
                } else {
                    Vec::new()
                },
            }
        }))
    }

    async fn create_label(
        &self,
        project_id: ProjectId,
        actor: UserId,
        decide: Decide<LabelContext, Label, CreateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<CreateLabelError>> {
        self.write(|tables| {
            let label =
                decide(context(tables, Some(project_id), actor, None)).map_err(Abort::Rejected)?;
            if name_in_use(tables, project_id, &label) {
                return Err(Abort::Rejected(name_taken(&label.name).into()));
            }
            tables.labels.insert(label.id, (project_id, label.clone()));
            let written = ProjectLabel { project_id, label };
            Ok(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }

    async fn update_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, Label, UpdateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<UpdateLabelError>> {
        self.write(|tables| {
            let label = decide(context_of(tables, label_id, actor)).map_err(Abort::Rejected)?;
            let project_id = tables
                .labels
                .get(&label_id)
                .map(|(p, _)| *p)
                .ok_or_else(|| RepoError::other("decision without a label"))?;
            if name_in_use(tables, project_id, &label) {
                return Err(Abort::Rejected(name_taken(&label.name).into()));
            }
            tables.labels.insert(label_id, (project_id, label.clone()));
            for task in tables.tasks.values_mut() {
                for on_task in task.labels.iter_mut().filter(|l| l.id == label_id) {
                    *on_task = label.clone();
                }
            }
            let written = ProjectLabel { project_id, label };
            Ok(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }

    async fn delete_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, (), DeleteLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<DeleteLabelError>> {
        self.write(|tables| {
            decide(context_of(tables, label_id, actor)).map_err(Abort::Rejected)?;
            let (project_id, label) = tables
                .labels
                .remove(&label_id)
                .ok_or_else(|| RepoError::other("decision without a label"))?;
            for task in tables.tasks.values_mut() {
                task.labels.retain(|l| l.id != label_id);
            }
            let written = ProjectLabel { project_id, label };
            Ok::<_, Abort<DeleteLabelError>>(tables.log(written, &record))
        })
        .map_err(TxError::from)
    }
}
