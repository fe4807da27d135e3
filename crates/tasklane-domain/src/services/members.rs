//! The member service: list, add by e-mail, add or change a role, remove. A project always
//! keeps an owner.

use std::future::Future;
use std::sync::Arc;

use crate::access::{Action, authorize};
use crate::errors::TxError;
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{ProjectId, UserId};
use crate::model::Member;
use crate::ports::{Logged, MembershipChange, MembershipContext, MembershipRequest, RecordEvents};
use crate::services::Ports;
use crate::services::effects::{publish, record};
use crate::validation::ValidationErrors;
use crate::values::{Email, Role};

/// The errors of the operations whose transactions the port decides live beside the port.
pub use crate::ports::{AddMemberError, RemoveMemberError, SetMemberRoleError};

/// Members.
#[derive(Debug, Clone)]
pub struct MemberService {
    ports: Arc<Ports>,
}

fn decide_role(context: MembershipContext, role: Role) -> Result<Role, SetMemberRoleError> {
    authorize(context.actor_role, Action::ManageMembers)?;
    if context.target_user.is_none() {
        return Err(SetMemberRoleError::UnknownUser);
    }
    if context.target_role == Some(Role::Owner) && role != Role::Owner && context.owner_count <= 1 {
        return Err(SetMemberRoleError::LastOwner);
    }
    Ok(role)
}

fn decide_addition(context: MembershipContext, role: Role) -> Result<Role, AddMemberError> {
    authorize(context.actor_role, Action::ManageMembers)?;
    if context.target_user.is_none() {
        // Deleted between the lookup and the write.
        return Err(AddMemberError::UserNotFound);
    }
    if context.target_role.is_some() {
        return Err(AddMemberError::AlreadyMember);
    }
    Ok(role)
}

fn decide_removal(
    context: MembershipContext,
    removing_self: bool,
) -> Result<(), RemoveMemberError> {
    // Anyone may leave; only owners remove others.
    let action = if removing_self {
        Action::Read
    } else {
        Action::ManageMembers
    };
    authorize(context.actor_role, action)?;
    match context.target_role {
        None => Err(RemoveMemberError::NotAMember),
        Some(Role::Owner) if context.owner_count <= 1 => Err(RemoveMemberError::LastOwner),
        Some(_) => Ok(()),
    }
}

impl MemberService {
    /// A service over `ports`.
    pub fn new(ports: Arc<Ports>) -> Self {
        Self { ports }
    }

    /// The project's members, if `actor` is one.
    ///
    /// # Errors
    /// [`crate::services::projects::GetProjectError`] (not found) for non-members.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn list_members(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<Vec<Member>, crate::services::projects::GetProjectError> {
        let read = self.ports.projects.list_members(project_id, actor).await?;
        authorize(read.viewer_role, Action::Read)?;
        Ok(read.members)
    }

    /// Adds `user_id` with `role`, or changes their role (owners).
    ///
    /// # Errors
    /// [`SetMemberRoleError`]: not found, forbidden, unknown user, last owner.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, %user_id, %role))]
    pub async fn set_member_role(
        &self,
        actor: UserId,
        project_id: ProjectId,
        user_id: UserId,
        role: Role,
    ) -> Result<Member, SetMemberRoleError> {
        let decide = move |c| decide_role(c, role);
        self.grant(actor, project_id, user_id, role, |request, events| {
            self.ports
                .projects
                .set_member_role(request, Box::new(decide), events)
        })
        .await
    }

    /// Adds the user whose e-mail is `email` (compared case-insensitively) with `role`
    /// (owners). Whether an address belongs to a user is said only to those who may add
    /// members: the caller's role is checked before the address is looked up.
    ///
    /// # Errors
    /// [`AddMemberError`]: not found (project), forbidden, invalid e-mail, no such user, already
    /// a member.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, %role))]
    pub async fn add_member_by_email(
        &self,
        actor: UserId,
        project_id: ProjectId,
        email: &str,
        role: Role,
    ) -> Result<Member, AddMemberError> {
        let email = Email::new(email)
            .map_err(|error| ValidationErrors::single("email", error.to_string()))?;
        let read = self.ports.projects.list_members(project_id, actor).await?;
        authorize(read.viewer_role, Action::ManageMembers)?;
        let user = self
            .ports
            .users
            .find_user_by_email(email)
            .await?
            .ok_or(AddMemberError::UserNotFound)?;
        let decide = move |c| decide_addition(c, role);
        self.grant(
            actor,
            project_id,
            user.summary.id,
            role,
            |request, events| {
                self.ports
                    .projects
                    .add_member(request, Box::new(decide), events)
            },
        )
        .await
    }

    /// Gives `user_id` `role` in the project through `write` (the port method with its
    /// decision), logging and publishing `member_added`.
    async fn grant<E, Write>(
        &self,
        actor: UserId,
        project_id: ProjectId,
        user_id: UserId,
        role: Role,
        write: impl FnOnce(MembershipRequest, RecordEvents<MembershipChange>) -> Write,
    ) -> Result<Member, E>
    where
        E: From<crate::errors::RepoError>,
        Write: Future<Output = Result<Logged<MembershipChange>, TxError<E>>>,
    {
        let at = self.ports.clock.now();
        let request = MembershipRequest {
            project_id,
            actor,
            user_id,
            at,
        };
        let events = record(&self.ports.encoder, move |_: &MembershipChange| {
            vec![DomainEvent {
                project_id,
                actor_id: actor,
                at,
                payload: EventPayload::MemberAdded { user_id, role },
            }]
        });
        let Logged {
            value: change,
            events,
        } = write(request, events)
            .await
            .map_err(TxError::into_operation_error)?;
        publish(self.ports.broadcaster.as_ref(), events);
        let member = change.member.ok_or_else(|| {
            crate::errors::RepoError::other("membership missing after it was set")
        })?;
        Ok(member)
    }

    /// Removes `user_id` from the project (owners, or the member themself).
    ///
    /// # Errors
    /// [`RemoveMemberError`]: not found, forbidden, not a member, last owner.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, %user_id))]
    pub async fn remove_member(
        &self,
        actor: UserId,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<(), RemoveMemberError> {
        {
            let at = self.ports.clock.now();
            let request = MembershipRequest {
                project_id,
                actor,
                user_id,
                at,
            };
            let removing_self = actor == user_id;
            let events = record(&self.ports.encoder, move |change: &MembershipChange| {
                change
                    .previous_role
                    .map(|role| DomainEvent {
                        project_id,
                        actor_id: actor,
                        at,
                        payload: EventPayload::MemberRemoved { user_id, role },
                    })
                    .into_iter()
                    .collect()
            });
            let logged = self
                .ports
                .projects
                .remove_member(
                    request,
                    Box::new(move |c| decide_removal(c, removing_self)),
                    events,
                )
                .await
                .map_err(|e| e.into_operation_error())?;
            publish(self.ports.broadcaster.as_ref(), logged.events);
            Ok(())
        }
    }
}
