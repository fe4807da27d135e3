//! Statuses, on the `statuses` entity: the board's columns. Every change locks the project row, reads the project's
//! statuses, lets the domain decide, then writes the plan; a name clash or a status in use that
//! a concurrent change can still cause becomes the operation's error.

use sea_orm::sea_query::{CaseStatement, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::Status;
use tasklane_domain::ports::{
    Logged, RecordEvents, StatusChangeRequest, StatusContext, StatusPlan, StatusTarget,
    StatusesChanged, StatusesRead,
};
use uuid::Uuid;

use super::{lock_project, role, select};
use crate::Store;
use crate::convert::{self, JsonStatus};
use crate::db::{Dialect, all, in_transaction};
use crate::entities::{DbId, project_members, statuses, tasks};
use crate::errors::{Constraint, Fail, repo_error, violates};

/// The status context: the project (of the target status), locked, with its statuses.
async fn status_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: StatusChangeRequest,
) -> Result<(StatusContext, Option<ProjectId>), DbErr> {
    let (project_id, target) = match request.target {
        StatusTarget::Project(id) => (Some(id), None),
        StatusTarget::Status(id) => {
            let project = statuses::Entity::find()
                .select_only()
                .column(statuses::Column::ProjectId)
                .filter(statuses::Column::Id.eq(d.id(id)))
                .into_tuple::<DbId>()
                .one(txn)
                .await?
                .map(Uuid::from);
            (project.map(ProjectId::from_uuid), Some(id))
        }
    };
    let empty = StatusContext {
        project: None,
        actor_role: None,
        statuses: Vec::new(),
        target_in_use: false,
    };
    let Some(project_id) = project_id else {
        return Ok((empty, None));
    };
    lock_project(txn, d, project_id).await?;
    // One statement: the project, its aggregation row and the actor's role, the statuses as a
    // JSON array, and whether a task uses the target status.
    let statuses_json = d.json_sql(
        "(SELECT COALESCE({agg}({obj}('id', s.id, 'name', s.name, 'category', s.category, 'position', s.position) \
           ORDER BY s.position), {arr0}) FROM statuses s WHERE s.project_id = projects.id)",
    );
    // A creation or a reorder has no target: nothing to look for (a `NULL` comparison would
    // still make the planner scan `tasks`).
    let in_use = match target {
        Some(status) => Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(tasks::Entity)
                .and_where(tasks::Column::StatusId.eq(d.id(status)))
                .to_owned(),
        ),
        None => Expr::val(false),
    };
    let found = select::with_role(d, request.actor)
        .expr_as(Expr::cust(statuses_json), "statuses")
        .expr_as(in_use, "in_use")
        .filter(select::by_id(d, project_id));
    let Some(row) = select::first_row(txn, d, found).await? else {
        return Ok((empty, None));
    };
    let statuses: Vec<JsonStatus> = d.row(&row).json("statuses")?;
    let in_use = d.row(&row).flag("in_use")?;
    let project = select::read_row(&row)?;
    Ok((
        StatusContext {
            actor_role: project.role,
            statuses: statuses
                .iter()
                .map(|s| s.to_status(project_id))
                .collect::<Result<_, _>>()?,
            target_in_use: in_use,
            project: Some(select::project(txn, d, project.project, project.aggregation).await?),
        },
        Some(project_id),
    ))
}

/// Writes a decided status plan; returns the statuses in their new order. `on_name_taken` and
/// `on_in_use` turn the constraint violations a concurrent change can still cause into the
/// operation's errors.
async fn apply_status_plan<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
    current: Vec<Status>,
    plan: StatusPlan,
    on_name_taken: impl Fn(&StatusPlan) -> Option<E>,
    on_in_use: impl Fn() -> Option<E>,
) -> Result<Vec<Status>, Fail<E>> {
    // A name clash a concurrent change can still cause becomes the operation's error.
    let name_clash = |error: DbErr, plan: &StatusPlan| match on_name_taken(plan) {
        Some(rejection) if violates(&error, Constraint::StatusName) => Fail::Rejected(rejection),
        _ => Fail::Db(error),
    };
    use statuses::Column as S;
    if let Some(status) = &plan.create {
        let insert = Query::insert()
            .into_table(statuses::Entity)
            .columns([
                S::Id,
                S::ProjectId,
                S::Name,
                S::NameLower,
                S::Category,
                S::Position,
                S::AppendSeq,
            ])
            .values_panic([
                d.id(status.id).into(),
                d.id(project_id).into(),
                status.name.as_str().into(),
                status.name.as_str().to_lowercase().into(),
                status.category.as_str().into(),
                i64::from(status.position).into(),
                0i64.into(),
            ])
            .to_owned();
        txn.execute(&insert)
            .await
            .map_err(|e| name_clash(e, &plan))?;
    }
    if let Some((id, name)) = &plan.rename {
        statuses::Entity::update_many()
            .col_expr(S::Name, Expr::val(name.as_str()))
            .col_expr(S::NameLower, Expr::val(name.as_str().to_lowercase()))
            .filter(S::Id.eq(d.id(*id)))
            .exec(txn)
            .await
            .map_err(|e| name_clash(e, &plan))?;
    }
    if let Some(id) = plan.delete {
        let deleted = statuses::Entity::delete_many()
            .filter(S::Id.eq(d.id(id)))
            .exec(txn)
            .await;
        deleted.map_err(|error| {
            let in_use = matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
            );
            match on_in_use() {
                Some(rejection) if in_use => Fail::Rejected(rejection),
                _ => Fail::Db(error),
            }
        })?;
    }
    if !plan.order.is_empty() {
        let mut position = CaseStatement::new();
        for (id, index) in plan.order.iter().zip(0i64..) {
            position = position.case(S::Id.eq(d.id(*id)), index);
        }
        statuses::Entity::update_many()
            .col_expr(S::Position, position.finally(Expr::col(S::Position)).into())
            .filter(S::ProjectId.eq(d.id(project_id)))
            .exec(txn)
            .await?;
    }
    let mut all_statuses = current;
    all_statuses.extend(plan.create);
    if let Some((id, name)) = plan.rename {
        all_statuses
            .iter_mut()
            .filter(|s| s.id == id)
            .for_each(|s| s.name = name.clone());
    }
    Ok(plan
        .order
        .iter()
        .zip(0..)
        .filter_map(|(id, position)| {
            all_statuses.iter().find(|s| s.id == *id).map(|s| Status {
                position,
                ..s.clone()
            })
        })
        .collect())
}

/// Runs one status change: lock, read the context, decide, apply.
pub(super) async fn change_statuses<E>(
    store: &Store,
    request: StatusChangeRequest,
    decide: &Decide<StatusContext, StatusPlan, E>,
    on_name_taken: impl Fn(&StatusPlan) -> Option<E>,
    on_in_use: impl Fn() -> Option<E>,
    record: &RecordEvents<StatusesChanged>,
) -> Result<Logged<StatusesChanged>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<
        Logged<StatusesChanged>,
        Fail<E>,
    > {
        let (context, project_id) = status_context(txn, d, request).await?;
        let current = context.statuses.clone();
        let plan = decide(context).map_err(Fail::Rejected)?;
        let project_id = project_id
            .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a project")))?;
        let statuses = apply_status_plan(
            txn,
            d,
            project_id,
            current,
            plan,
            &on_name_taken,
            &on_in_use,
        )
        .await?;
        let changed = StatusesChanged {
            project_id,
            statuses,
        };
        Ok(crate::events::log(txn, d, changed, record).await?)
    })
    .map_err(Fail::into_tx)
}

/// The project's statuses in board order, if `viewer` is a member.
pub(super) async fn list(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
) -> Result<StatusesRead, RepoError> {
    use statuses::Column as S;
    let d = store.dialect;
    let viewer_role = Query::select()
        .column(project_members::Column::Role)
        .from(project_members::Entity)
        .and_where(project_members::Column::ProjectId.eq(d.id(project_id)))
        .and_where(project_members::Column::UserId.eq(d.id(viewer)))
        .to_owned();
    // One statement: the statuses, each row carrying the viewer's role.
    let select = statuses::Entity::find()
        .expr_as(Expr::from(viewer_role), "viewer_role")
        .filter(S::ProjectId.eq(d.id(project_id)))
        .order_by_asc(S::Position)
        .order_by_asc(S::Id)
        .build(d.backend());
    let read = async {
        let rows = all(&store.reader, select).await?;
        let viewer_role = match rows.first() {
            Some(row) => role(row, d, "viewer_role")?,
            None => None,
        };
        let statuses = match viewer_role {
            Some(_) => rows
                .iter()
                .map(|row| convert::status_model(statuses::Model::from_query_result(row, "")?))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(StatusesRead {
            viewer_role,
            statuses,
        })
    };
    read.await.map_err(repo_error)
}
