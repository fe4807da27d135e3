//! Memberships: the context every membership change is decided on (roles, the owner count)
//! and the writes that follow.

use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::model::Member;
use tasklane_domain::ports::{
    Logged, MembershipChange, MembershipContext, MembershipRequest, RecordEvents,
};
use tasklane_domain::values::Role;

use crate::tables::{MemberRow, Tables};
use crate::{Abort, MemoryStore};

impl MemoryStore {
    /// Reads the membership context, decides, and writes the membership.
    pub(super) fn change_membership<P, E>(
        &self,
        request: MembershipRequest,
        decide: &Decide<MembershipContext, P, E>,
        apply: impl FnOnce(&mut Tables, P, &MembershipContext) -> Result<Option<Member>, RepoError>,
        record: &RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<E>> {
        self.write(|tables| {
            let project = request.project_id;
            let context = MembershipContext {
                actor_role: tables.role(project, request.actor),
                target_user: tables
                    .projects
                    .contains_key(&project)
                    .then(|| tables.summary(request.user_id))
                    .flatten(),
                target_role: tables.role(project, request.user_id),
                owner_count: tables
                    .members
                    .iter()
                    .filter(|((p, _), m)| *p == project && m.role == Role::Owner)
                    .count() as u64,
            };
            let plan = decide(context.clone()).map_err(Abort::Rejected)?;
            let member = apply(tables, plan, &context)?;
            let change = MembershipChange {
                member,
                previous_role: context.target_role,
            };
            Ok::<_, Abort<E>>(tables.log(change, record))
        })
        .map_err(TxError::from)
    }

    /// Writes the decided membership (insert, or a new role keeping its date).
    pub(super) fn upsert_member<E>(
        &self,
        request: MembershipRequest,
        decide: &Decide<MembershipContext, Role, E>,
        record: &RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<E>> {
        let apply = |tables: &mut Tables, role: Role, context: &MembershipContext| {
            let user = context
                .target_user
                .clone()
                .ok_or_else(|| RepoError::other("decision without a user"))?;
            let row = tables
                .members
                .entry((request.project_id, request.user_id))
                .or_insert(MemberRow {
                    role,
                    added_at: request.at,
                });
            row.role = role;
            Ok(Some(Member {
                user,
                role,
                added_at: row.added_at,
            }))
        };
        self.change_membership(request, decide, apply, record)
    }
}
