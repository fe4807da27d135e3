//! Labels: each write is a context read (every label of the project as JSON, the caller's role;
//! hand-written), the write (through the `labels` entity) and the event append. A creation locks the project row first (PostgreSQL), so the
//! per-project limit holds under concurrent creations; a name taken concurrently is caught by
//! the unique index on `(project_id, name_lower)`. Deleting a label deletes its links to tasks.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{LabelId, ProjectId, UserId};
use tasklane_domain::model::Label;
use tasklane_domain::ports::{
    LabelContext, LabelRepository, LabelsRead, Logged, ProjectLabel, RecordEvents,
};
use tasklane_domain::services::labels::{
    CreateLabelError, DeleteLabelError, UpdateLabelError, name_taken,
};
use tasklane_domain::values::Role;

use crate::Store;
use crate::convert::{JsonLabel, parsed};
use crate::db::{Dialect, Row, in_transaction, one};
use crate::entities::labels;
use crate::errors::{Constraint, Fail, repo_error, violates};
use crate::events;
use crate::projects::lock_project;

/// Every label of project `p`, in creation order.
const PROJECT_LABELS: &str = "(SELECT COALESCE({agg}({obj}('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.id), {arr0}) \
    FROM labels l WHERE l.project_id = p.id) AS labels";

/// The caller's (`$2`) role in project `p`.
const ROLE: &str =
    "(SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS role";

fn context(row: &Row<'_>, target: Option<Label>) -> Result<LabelContext, DbErr> {
    let labels: Vec<JsonLabel> = row.opt_json("labels")?.unwrap_or_default();
    Ok(LabelContext {
        project_id: Some(ProjectId::from_uuid(row.id("project_id")?)),
        actor_role: row
            .opt_text("role")?
            .map(|r| parsed::<Role>("role", &r))
            .transpose()?,
        project_archived: row.opt_time("archived_at")?.is_some(),
        labels: labels
            .iter()
            .map(JsonLabel::to_label)
            .collect::<Result<_, _>>()?,
        target,
    })
}

const NOTHING: LabelContext = LabelContext {
    project_id: None,
    actor_role: None,
    project_archived: false,
    labels: Vec::new(),
    target: None,
};

/// The context of a change of label `label_id`, locking the label (PostgreSQL).
async fn label_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    label_id: LabelId,
    actor: UserId,
) -> Result<LabelContext, DbErr> {
    let lock = match d {
        Dialect::Postgres => " FOR NO KEY UPDATE OF x",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "SELECT p.id AS project_id, p.archived_at, {ROLE}, {PROJECT_LABELS}, x.name AS target_name, x.color AS target_color \
         FROM labels x JOIN projects p ON p.id = x.project_id WHERE x.id = $1{lock}"
    );
    let Some(row) = one(txn, d.stmt(&sql, vec![d.id(label_id), d.id(actor)])).await? else {
        return Ok(NOTHING);
    };
    let row = d.row(&row);
    let target = JsonLabel {
        id: label_id.as_uuid(),
        name: row.text("target_name")?,
        color: row.text("target_color")?,
    }
    .to_label()?;
    context(&row, Some(target))
}

/// A write that hit the unique name index: a concurrent write took the name.
fn name_race<E: From<tasklane_domain::validation::ValidationErrors>>(
    error: DbErr,
    label: &Label,
) -> Fail<E> {
    if violates(&error, Constraint::LabelName) {
        Fail::Rejected(name_taken(&label.name).into())
    } else {
        Fail::Db(error)
    }
}

#[async_trait]
impl LabelRepository for Store {
    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn list_labels(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<LabelsRead, RepoError> {
        let d = self.dialect;
        let sql = format!(
            "SELECT p.id AS project_id, p.archived_at, {ROLE}, {PROJECT_LABELS} FROM projects p WHERE p.id = $1"
        );
        let row = one(
            &self.reader,
            d.stmt(&sql, vec![d.id(project_id), d.id(viewer)]),
        )
        .await
        .map_err(repo_error)?;
        let Some(row) = row else {
            return Ok(LabelsRead {
                viewer_role: None,
                labels: Vec::new(),
            });
        };
        let context = context(&d.row(&row), None).map_err(repo_error)?;
        let labels = if context.actor_role.is_some() {
            context.labels
        } else {
            Vec::new()
        };
        Ok(LabelsRead {
            viewer_role: context.actor_role,
            labels,
        })
    }

    #[tracing::instrument(skip_all, fields(%project_id))]
    async fn create_label(
        &self,
        project_id: ProjectId,
        actor: UserId,
        decide: Decide<LabelContext, Label, CreateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<CreateLabelError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<ProjectLabel>,
            Fail<CreateLabelError>,
        > {
            lock_project(txn, d, project_id).await?;
            let sql = format!(
                "SELECT p.id AS project_id, p.archived_at, {ROLE}, {PROJECT_LABELS} FROM projects p WHERE p.id = $1"
            );
            let row = one(txn, d.stmt(&sql, vec![d.id(project_id), d.id(actor)])).await?;
            let context = match row {
                Some(row) => context(&d.row(&row), None)?,
                None => NOTHING,
            };
            let label = decide(context).map_err(Fail::Rejected)?;
            use labels::Column as L;
            let insert = Query::insert()
                .into_table(labels::Entity)
                .columns([L::Id, L::ProjectId, L::Name, L::NameLower, L::Color, L::CreatedAt])
                .values_panic([
                    d.id(label.id).into(),
                    d.id(project_id).into(),
                    label.name.as_str().into(),
                    label.name.as_str().to_lowercase().into(),
                    label.color.as_str().into(),
                    d.time(chrono::Utc::now()).into(),
                ])
                .to_owned();
            txn.execute(&insert).await.map_err(|e| name_race(e, &label))?;
            Ok(events::log(txn, d, ProjectLabel { project_id, label }, &record).await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(%label_id))]
    async fn update_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, Label, UpdateLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<UpdateLabelError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<ProjectLabel>,
            Fail<UpdateLabelError>,
        > {
            let context = label_context(txn, d, label_id, actor).await?;
            let project_id = context.project_id;
            let label = decide(context).map_err(Fail::Rejected)?;
            let project_id = project_id.ok_or_else(|| {
                Fail::Corrupt(anyhow::anyhow!("a change of no label was allowed"))
            })?;
            use labels::Column as L;
            let update = labels::Entity::update_many()
                .col_expr(L::Name, Expr::val(label.name.as_str()))
                .col_expr(L::NameLower, Expr::val(label.name.as_str().to_lowercase()))
                .col_expr(L::Color, Expr::val(label.color.as_str()))
                .filter(L::Id.eq(d.id(label_id)));
            update.exec(txn).await.map_err(|e| name_race(e, &label))?;
            Ok(events::log(txn, d, ProjectLabel { project_id, label }, &record).await?)
        })
        .map_err(Fail::into_tx)
    }

    #[tracing::instrument(skip_all, fields(%label_id))]
    async fn delete_label(
        &self,
        label_id: LabelId,
        actor: UserId,
        decide: Decide<LabelContext, (), DeleteLabelError>,
        record: RecordEvents<ProjectLabel>,
    ) -> Result<Logged<ProjectLabel>, TxError<DeleteLabelError>> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<
            Logged<ProjectLabel>,
            Fail<DeleteLabelError>,
        > {
            let context = label_context(txn, d, label_id, actor).await?;
            let (project_id, target) = (context.project_id, context.target.clone());
            decide(context).map_err(Fail::Rejected)?;
            let (Some(project_id), Some(label)) = (project_id, target) else {
                return Err(Fail::Corrupt(anyhow::anyhow!(
                    "a deletion of no label was allowed"
                )));
            };
            labels::Entity::delete_many()
                .filter(labels::Column::Id.eq(d.id(label_id)))
                .exec(txn)
                .await?;
            Ok(events::log(txn, d, ProjectLabel { project_id, label }, &record).await?)
        })
        .map_err(Fail::into_tx)
    }
}
