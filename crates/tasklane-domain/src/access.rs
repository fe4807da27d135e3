//! Who may do what in a project: the role matrix of docs/domain.md as one pure function, used by every
//! service before it writes.

use crate::values::Role;

/// Something a caller may want to do inside a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the project, its tasks, members, statuses and aggregation; join its rooms.
    Read,
    /// Edit the project's name and description.
    EditProject,
    /// Archive or restore the project.
    ArchiveProject,
    /// Delete the project.
    DeleteProject,
    /// Add members, change roles, remove other members.
    ManageMembers,
    /// Create, rename, reorder or delete statuses.
    ManageStatuses,
    /// Run the aggregation recount.
    RecountAggregation,
    /// Create, update, move, archive, unarchive or delete tasks.
    WriteTasks,
    /// Write comments, and edit or delete one's own.
    Comment,
    /// Delete anyone's comment.
    ModerateComments,
    /// Create, rename, recolour or delete labels.
    ManageLabels,
}

impl Action {
    /// Every action.
    pub const ALL: &'static [Action] = &[
        Action::Read,
        Action::EditProject,
        Action::ArchiveProject,
        Action::DeleteProject,
        Action::ManageMembers,
        Action::ManageStatuses,
        Action::RecountAggregation,
        Action::WriteTasks,
        Action::Comment,
        Action::ModerateComments,
        Action::ManageLabels,
    ];
}

impl Role {
    /// Whether a member with this role may perform `action`.
    pub const fn allows(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Role::Owner, _)
                | (_, Action::Read)
                | (
                    Role::Editor,
                    Action::EditProject
                        | Action::WriteTasks
                        | Action::Comment
                        | Action::ManageLabels
                )
        )
    }
}

/// Why a caller may not perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// The project (or task) does not exist, or the caller is not a member and must not learn
    /// that it exists.
    #[error("not found")]
    NotFound,
    /// The caller is a member whose role does not allow the action.
    #[error("your role in this project does not allow this")]
    Forbidden,
}

/// Checks that a caller with membership `role` (`None`: not a member) may perform `action`, and
/// returns the role.
///
/// # Errors
/// [`AccessDenied::NotFound`] for non-members, [`AccessDenied::Forbidden`] for members whose role
/// does not allow it.
///
/// ```
/// use tasklane_domain::access::{authorize, AccessDenied, Action};
/// use tasklane_domain::values::Role;
/// assert_eq!(authorize(Some(Role::Editor), Action::WriteTasks), Ok(Role::Editor));
/// assert_eq!(authorize(Some(Role::Viewer), Action::WriteTasks), Err(AccessDenied::Forbidden));
/// assert_eq!(authorize(None, Action::Read), Err(AccessDenied::NotFound));
/// ```
pub fn authorize(role: Option<Role>, action: Action) -> Result<Role, AccessDenied> {
    match role {
        None => Err(AccessDenied::NotFound),
        Some(role) if role.allows(action) => Ok(role),
        Some(_) => Err(AccessDenied::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/domain.md's matrix, written out by hand so that a change to `allows` must change it too.
    const MATRIX: &[(Action, bool, bool, bool)] = &[
        // action, owner, editor, viewer
        (Action::Read, true, true, true),
        (Action::EditProject, true, true, false),
        (Action::ArchiveProject, true, false, false),
        (Action::DeleteProject, true, false, false),
        (Action::ManageMembers, true, false, false),
        (Action::ManageStatuses, true, false, false),
        (Action::RecountAggregation, true, false, false),
        (Action::WriteTasks, true, true, false),
        (Action::Comment, true, true, false),
        (Action::ModerateComments, true, false, false),
        (Action::ManageLabels, true, true, false),
    ];

    #[test]
    fn the_role_matrix_matches_domain_md_for_every_action() {
        assert_eq!(MATRIX.len(), Action::ALL.len());
        for (action, owner, editor, viewer) in MATRIX {
            assert_eq!(Role::Owner.allows(*action), *owner, "owner {action:?}");
            assert_eq!(Role::Editor.allows(*action), *editor, "editor {action:?}");
            assert_eq!(Role::Viewer.allows(*action), *viewer, "viewer {action:?}");
            assert_eq!(authorize(None, *action), Err(AccessDenied::NotFound));
        }
    }
}
