//! Members, on the `project_members` entity: the list, adding by id or e-mail and changing roles
//! (one upsert), removal. Each change locks the project row first, so the owner count cannot
//! change under its decision, then reads its context in one statement (both roles and the owner
//! count as sub-queries, the target user joined).

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QueryOrder,
};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::Member;
use tasklane_domain::ports::{
    Logged, MembersRead, MembershipChange, MembershipContext, MembershipRequest, RecordEvents,
};
use tasklane_domain::services::members::RemoveMemberError;
use tasklane_domain::values::Role;

use super::{lock_project, role, select};
use crate::Store;
use crate::convert;
use crate::db::{Dialect, in_transaction};
use crate::entities::{DbId, DbTime, project_members, projects, users};
use crate::errors::{Fail, repo_error};

/// The membership context, read after the project row is locked: the owner count cannot
/// change under the decision.
async fn membership_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: MembershipRequest,
) -> Result<MembershipContext, DbErr> {
    use project_members::Column as M;
    lock_project(txn, d, request.project_id).await?;
    let owners = Query::select()
        .expr(Expr::col((project_members::Entity, M::UserId)).count())
        .from(project_members::Entity)
        .and_where(
            Expr::col((project_members::Entity, M::ProjectId))
                .equals((projects::Entity, projects::Column::Id)),
        )
        .and_where(M::Role.eq(Role::Owner.as_str()))
        .to_owned();
    let target = [
        users::Column::Id,
        users::Column::Email,
        users::Column::DisplayName,
        users::Column::AvatarUrl,
    ];
    let read = Query::select()
        .expr_as(Expr::from(select::role_of(d, request.actor)), "actor_role")
        .expr_as(
            Expr::from(select::role_of(d, request.user_id)),
            "target_role",
        )
        .expr_as(Expr::from(owners), "owners")
        .columns(target.map(|column| (users::Entity, column)))
        .from(projects::Entity)
        .join(
            JoinType::LeftJoin,
            users::Entity,
            users::Column::Id.eq(d.id(request.user_id)),
        )
        .and_where(select::by_id(d, request.project_id))
        .to_owned();
    let Some(row) = txn.query_one(&read).await? else {
        return Ok(MembershipContext {
            actor_role: None,
            target_user: None,
            target_role: None,
            owner_count: 0,
        });
    };
    // No such user reads as nulls; a user that does not decode is an error, not "no user".
    let target_user = match row.try_get::<Option<DbId>>("", "id")? {
        Some(_) => {
            let u = TargetUser::from_query_result(&row, "")?;
            Some(convert::summary(
                u.id.0,
                &u.email,
                &u.display_name,
                u.avatar_url,
            )?)
        }
        None => None,
    };
    Ok(MembershipContext {
        actor_role: role(&row, d, "actor_role")?,
        target_role: role(&row, d, "target_role")?,
        owner_count: convert::count(d.row(&row).int("owners")?)?,
        target_user,
    })
}

/// The user a membership change is about, as the context read selects it.
#[derive(FromQueryResult)]
struct TargetUser {
    id: DbId,
    email: String,
    display_name: String,
    avatar_url: Option<String>,
}

/// The project's members, owners first, if `viewer` is one of them.
pub(super) async fn list(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
) -> Result<MembersRead, RepoError> {
    use project_members::Column as M;
    let d = store.dialect;
    let rank: Expr = Expr::case(M::Role.eq("owner"), 0)
        .case(M::Role.eq("editor"), 1)
        .finally(2)
        .into();
    let read = async {
        let rows = project_members::Entity::find()
            .find_also_related(users::Entity)
            .filter(M::ProjectId.eq(d.id(project_id)))
            .order_by(rank, Order::Asc)
            .order_by_asc(M::AddedAt)
            .order_by_asc(users::Column::Id)
            .all(&store.reader)
            .await?;
        let mut members = Vec::with_capacity(rows.len());
        for (member, user) in rows {
            let user = user.ok_or_else(|| convert::corrupt("member", "no user"))?;
            members.push(convert::member_model(member, user)?);
        }
        let viewer_role = members.iter().find(|m| m.user.id == viewer).map(|m| m.role);
        if viewer_role.is_none() {
            members.clear();
        }
        Ok::<_, DbErr>(MembersRead {
            viewer_role,
            members,
        })
    };
    read.await.map_err(repo_error)
}

/// Inserts the membership, or changes its role, as `decide` says.
pub(super) async fn write<E>(
    store: &Store,
    request: MembershipRequest,
    decide: Decide<MembershipContext, Role, E>,
    record: RecordEvents<MembershipChange>,
) -> Result<Logged<MembershipChange>, TxError<E>> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<
        Logged<MembershipChange>,
        Fail<E>,
    > {
        let context = membership_context(txn, d, request).await?;
        let (previous_role, user) = (context.target_role, context.target_user.clone());
        let role = decide(context).map_err(Fail::Rejected)?;
        let user = user.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a user")))?;
        use project_members::Column as M;
        let upsert = Query::insert()
            .into_table(project_members::Entity)
            .columns([M::ProjectId, M::UserId, M::Role, M::AddedAt])
            .values_panic([
                d.id(request.project_id).into(),
                d.id(request.user_id).into(),
                role.as_str().into(),
                d.time(request.at).into(),
            ])
            .on_conflict(
                OnConflict::columns([M::ProjectId, M::UserId])
                    .update_column(M::Role)
                    .to_owned(),
            )
            .returning_col(M::AddedAt)
            .to_owned();
        let row = txn
            .query_one(&upsert)
            .await?
            .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("membership not written")))?;
        let added_at: DbTime = row.try_get("", "added_at")?;
        let change = MembershipChange {
            member: Some(Member {
                user,
                role,
                added_at: added_at.0,
            }),
            previous_role,
        };
        Ok(crate::events::log(txn, d, change, &record).await?)
    })
    .map_err(Fail::into_tx)
}

/// Removes the membership, as `decide` allows.
pub(super) async fn remove(
    store: &Store,
    request: MembershipRequest,
    decide: Decide<MembershipContext, (), RemoveMemberError>,
    record: RecordEvents<MembershipChange>,
) -> Result<Logged<MembershipChange>, TxError<RemoveMemberError>> {
    let d = store.dialect;
    in_transaction!(store.writer, |txn| -> Result<
        Logged<MembershipChange>,
        Fail<RemoveMemberError>,
    > {
        let context = membership_context(txn, d, request).await?;
        let previous_role = context.target_role;
        decide(context).map_err(Fail::Rejected)?;
        project_members::Entity::delete_many()
            .filter(project_members::Column::ProjectId.eq(d.id(request.project_id)))
            .filter(project_members::Column::UserId.eq(d.id(request.user_id)))
            .exec(txn)
            .await?;
        let change = MembershipChange {
            member: None,
            previous_role,
        };
        Ok(crate::events::log(txn, d, change, &record).await?)
    })
    .map_err(Fail::into_tx)
}
