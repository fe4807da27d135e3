//! Members: the list, adding by id or e-mail and changing roles (one upsert), removal. Each
//! change locks the project row first, so the owner count cannot change under its decision.

use sea_orm::{DatabaseTransaction, DbErr};
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::Member;
use tasklane_domain::ports::{
    Logged, MembersRead, MembershipChange, MembershipContext, MembershipRequest, RecordEvents,
};
use tasklane_domain::services::members::RemoveMemberError;
use tasklane_domain::values::Role;

use super::{lock_project, role};
use crate::Store;
use crate::convert::{self, parsed};
use crate::db::{Dialect, all, exec, in_transaction, one};
use crate::errors::{Fail, repo_error};

/// The membership context, read after the project row is locked: the owner count cannot
/// change under the decision.
async fn membership_context(
    txn: &DatabaseTransaction,
    d: Dialect,
    request: MembershipRequest,
) -> Result<MembershipContext, DbErr> {
    lock_project(txn, d, request.project_id).await?;
    let stmt = d.stmt(
        "SELECT p.id, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $2) AS actor_role, \
           (SELECT role FROM project_members WHERE project_id = p.id AND user_id = $3) AS target_role, \
           (SELECT count(*) FROM project_members WHERE project_id = p.id AND role = 'owner') AS owners, \
           u.id AS target_id, u.email AS target_email, u.display_name AS target_name, u.avatar_url AS target_avatar \
         FROM projects p LEFT JOIN users u ON u.id = $3 WHERE p.id = $1",
        vec![d.id(request.project_id), d.id(request.actor), d.id(request.user_id)],
    );
    let Some(row) = one(txn, stmt).await? else {
        return Ok(MembershipContext {
            actor_role: None,
            target_user: None,
            target_role: None,
            owner_count: 0,
        });
    };
    Ok(MembershipContext {
        actor_role: role(&row, d, "actor_role")?,
        target_role: role(&row, d, "target_role")?,
        owner_count: convert::count(d.row(&row).int("owners")?)?,
        target_user: convert::user_columns(&d.row(&row), "target")?,
    })
}

/// The project's members, owners first, if `viewer` is one of them.
pub(super) async fn list(
    store: &Store,
    project_id: ProjectId,
    viewer: UserId,
) -> Result<MembersRead, RepoError> {
    let d = store.dialect;
    let stmt = d.stmt(
        "SELECT m.role, m.added_at, u.id AS user_id, u.email AS user_email, u.display_name AS user_name, \
           u.avatar_url AS user_avatar \
         FROM project_members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, m.added_at, u.id",
        vec![d.id(project_id)],
    );
    let read = async {
        let mut members = Vec::new();
        for row in all(&store.reader, stmt).await? {
            let r = d.row(&row);
            let user = convert::user_columns(&r, "user")?
                .ok_or_else(|| convert::corrupt("member", "no user"))?;
            members.push(Member {
                user,
                role: parsed("role", &r.text("role")?)?,
                added_at: r.time("added_at")?,
            });
        }
        let viewer_role = members.iter().find(|m| m.user.id == viewer).map(|m| m.role);
        if viewer_role.is_none() {
            members.clear();
        }
        Ok(MembersRead {
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
    in_transaction!(store.writer, |txn| -> Result<Logged<MembershipChange>, Fail<E>> {
        let context = membership_context(txn, d, request).await?;
        let (previous_role, user) = (context.target_role, context.target_user.clone());
        let role = decide(context).map_err(Fail::Rejected)?;
        let user = user.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("decision without a user")))?;
        let stmt = d.stmt(
            "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role RETURNING added_at",
            vec![d.id(request.project_id), d.id(request.user_id), role.as_str().into(), d.time(request.at)],
        );
        let row = one(txn, stmt).await?.ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("membership not written")))?;
        let change = MembershipChange {
            member: Some(Member { user, role, added_at: d.row(&row).time("added_at")? }),
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
        let stmt = d.stmt(
            "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
            vec![d.id(request.project_id), d.id(request.user_id)],
        );
        exec(txn, stmt).await?;
        let change = MembershipChange {
            member: None,
            previous_role,
        };
        Ok(crate::events::log(txn, d, change, &record).await?)
    })
    .map_err(Fail::into_tx)
}
