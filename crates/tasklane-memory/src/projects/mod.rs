//! Projects, their members (`members.rs`) and their statuses (`statuses.rs`).

mod members;
mod statuses;

use async_trait::async_trait;
use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::cursor::ProjectCursor;
use tasklane_domain::errors::{Decide, RepoError, TxError};
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::model::{Member, Page, Project, ProjectRead, Status};
use tasklane_domain::ports::{
    AddMemberError, ArchiveProjectError, CreateProjectStoreError, CreateStatusError,
    DeleteProjectError, DeleteStatusError, Logged, MembersRead, MembershipChange,
    MembershipContext, MembershipRequest, NewProject, ProjectChangeRequest, ProjectContext,
    ProjectPatch, ProjectQuery, ProjectRepository, RecordEvents, RemoveMemberError,
    SetMemberRoleError, StatusChangeRequest, StatusContext, StatusPlan, StatusesChanged,
    StatusesRead, UpdateProjectError, UpdateStatusError,
};
use tasklane_domain::values::Role;

use crate::tables::{MemberRow, ProjectRow, StatusRow, Tables, contains};
use crate::{Abort, MemoryStore};

fn project_context(tables: &Tables, request: ProjectChangeRequest) -> ProjectContext {
    ProjectContext {
        project: tables.project(request.project_id),
        actor_role: tables.role(request.project_id, request.actor),
    }
}

impl MemoryStore {
    /// Reads the context, decides, and applies the patch.
    fn change_project<E>(
        &self,
        request: ProjectChangeRequest,
        decide: &Decide<ProjectContext, ProjectPatch, E>,
        record: &RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<E>> {
        self.write(|tables| {
            let context = project_context(tables, request);
            let role = context.actor_role;
            let patch = decide(context).map_err(Abort::Rejected)?;
            let row = tables
                .projects
                .get_mut(&request.project_id)
                .ok_or_else(|| RepoError::other("decision without a project"))?;
            if let Some(name) = patch.name {
                row.name = name;
            }
            if let Some(description) = patch.description {
                row.description = description;
            }
            if let Some(archived_at) = patch.archived_at {
                row.archived_at = archived_at;
            }
            row.row_version += 1;
            row.updated_at = patch.at;
            let project = tables
                .project(request.project_id)
                .ok_or_else(|| RepoError::other("project vanished"))?;
            Ok::<_, Abort<E>>(tables.log(ProjectRead { project, role }, record))
        })
        .map_err(TxError::from)
    }
}

#[async_trait]
impl ProjectRepository for MemoryStore {
    async fn create_project(
        &self,
        project: NewProject,
        events: RecordEvents<Project>,
    ) -> Result<Logged<Project>, CreateProjectStoreError> {
        self.write(|tables| {
            let key = project.key.as_str().to_lowercase();
            if tables
                .projects
                .values()
                .any(|p| p.key.as_str().to_lowercase() == key)
            {
                return Err(CreateProjectStoreError::KeyTaken);
            }
            if !tables.users.contains_key(&project.owner) {
                return Err(CreateProjectStoreError::UnknownOwner);
            }
            let at = project.created_at;
            tables.projects.insert(
                project.id,
                ProjectRow {
                    id: project.id,
                    key: project.key,
                    name: project.name,
                    description: project.description,
                    task_counter: 0,
                    row_version: 1,
                    archived_at: None,
                    created_by: project.owner,
                    created_at: at,
                    updated_at: at,
                },
            );
            tables.aggregations.insert(
                project.id,
                Aggregation {
                    project_id: project.id,
                    counts: Counts::ZERO,
                    updated_at: at,
                },
            );
            tables.members.insert(
                (project.id, project.owner),
                MemberRow {
                    role: Role::Owner,
                    added_at: at,
                },
            );
            for status in project.statuses {
                tables.statuses.insert(
                    status.id,
                    StatusRow {
                        status: Status {
                            id: status.id,
                            project_id: project.id,
                            name: status.name,
                            category: status.category,
                            position: status.position,
                        },
                        append_seq: 0,
                    },
                );
            }
            let created = tables
                .project(project.id)
                .ok_or_else(|| RepoError::other("project vanished"))?;
            Ok(tables.log(created, &events))
        })
    }

    async fn get_project(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<Option<ProjectRead>, RepoError> {
        Ok(self.read(|tables| {
            tables.project(project_id).map(|project| ProjectRead {
                role: tables.role(project_id, viewer),
                project,
            })
        }))
    }

    async fn list_projects(
        &self,
        viewer: UserId,
        query: ProjectQuery,
    ) -> Result<Page<ProjectRead>, RepoError> {
        Ok(self.read(|tables| {
            let mut items: Vec<ProjectRead> = tables
                .members
                .iter()
                .filter(|((_, user), _)| *user == viewer)
                .filter_map(|((project, _), member)| {
                    tables.project(*project).map(|project| ProjectRead {
                        project,
                        role: Some(member.role),
                    })
                })
                .filter(|read| query.include_archived || read.project.archived_at.is_none())
                .filter(|read| {
                    query.search.as_deref().is_none_or(|search| {
                        contains(read.project.name.as_str(), search)
                            || contains(read.project.key.as_str(), search)
                    })
                })
                .filter(|read| {
                    query
                        .derived_status
                        .is_none_or(|status| read.project.derived_status(query.policy) == status)
                })
                .filter(|read| {
                    query.cursor.as_ref().is_none_or(|cursor| {
                        (read.project.updated_at, read.project.id) < (cursor.updated_at, cursor.id)
                    })
                })
                .collect();
            // Newest activity first.
            items.sort_by_key(|read| std::cmp::Reverse((read.project.updated_at, read.project.id)));
            let more = items.len() > query.limit as usize;
            items.truncate(query.limit as usize);
            let next_cursor = items.last().filter(|_| more).map(|last| {
                ProjectCursor {
                    updated_at: last.project.updated_at,
                    id: last.project.id,
                }
                .encode()
            });
            Page { items, next_cursor }
        }))
    }

    async fn update_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, UpdateProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<UpdateProjectError>> {
        self.change_project(request, &decide, &record)
    }

    async fn set_project_archived(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, ProjectPatch, ArchiveProjectError>,
        record: RecordEvents<ProjectRead>,
    ) -> Result<Logged<ProjectRead>, TxError<ArchiveProjectError>> {
        self.change_project(request, &decide, &record)
    }

    async fn delete_project(
        &self,
        request: ProjectChangeRequest,
        decide: Decide<ProjectContext, (), DeleteProjectError>,
        record: RecordEvents<()>,
    ) -> Result<Logged<()>, TxError<DeleteProjectError>> {
        self.write(|tables| {
            let context = project_context(tables, request);
            decide(context).map_err(Abort::Rejected)?;
            let id = request.project_id;
            // The log goes with the project (cascade): its last events are numbered after the
            // head and handed out, not kept.
            let head = tables.heads.remove(&id).unwrap_or_default();
            tables.events.remove(&id);
            let events = (head + 1..)
                .zip(record(&()))
                .map(|(seq, encoded)| LoggedEvent {
                    seq,
                    event: encoded.event,
                    data: encoded.data,
                })
                .collect();
            let logged = Logged { value: (), events };
            tables.projects.remove(&id);
            tables.aggregations.remove(&id);
            tables.members.retain(|(project, _), _| *project != id);
            tables.statuses.retain(|_, row| row.status.project_id != id);
            tables.tasks.retain(|_, task| task.project_id != id);
            tables
                .comments
                .retain(|_, comment| comment.project_id != id);
            tables.labels.retain(|_, (project, _)| *project != id);
            Ok::<_, Abort<DeleteProjectError>>(logged)
        })
        .map_err(TxError::from)
    }

    async fn list_members(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<MembersRead, RepoError> {
        Ok(self.read(|tables| {
            let viewer_role = tables.role(project_id, viewer);
            let mut members: Vec<Member> = if viewer_role.is_some() {
                tables
                    .members
                    .iter()
                    .filter(|((project, _), _)| *project == project_id)
                    .filter_map(|((_, user), row)| {
                        tables.summary(*user).map(|user| Member {
                            user,
                            role: row.role,
                            added_at: row.added_at,
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let rank = |role: Role| match role {
                Role::Owner => 0,
                Role::Editor => 1,
                Role::Viewer => 2,
            };
            members.sort_by_key(|m| (rank(m.role), m.added_at, m.user.id));
            MembersRead {
                viewer_role,
                members,
            }
        }))
    }

    async fn set_member_role(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, SetMemberRoleError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<SetMemberRoleError>> {
        self.upsert_member(request, &decide, &record)
    }

    async fn add_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, Role, AddMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<AddMemberError>> {
        self.upsert_member(request, &decide, &record)
    }

    async fn remove_member(
        &self,
        request: MembershipRequest,
        decide: Decide<MembershipContext, (), RemoveMemberError>,
        record: RecordEvents<MembershipChange>,
    ) -> Result<Logged<MembershipChange>, TxError<RemoveMemberError>> {
        let apply = |tables: &mut Tables, (), _: &MembershipContext| {
            tables
                .members
                .remove(&(request.project_id, request.user_id));
            Ok(None)
        };
        self.change_membership(request, &decide, apply, &record)
    }

    async fn list_statuses(
        &self,
        project_id: ProjectId,
        viewer: UserId,
    ) -> Result<StatusesRead, RepoError> {
        Ok(self.read(|tables| {
            let viewer_role = tables.role(project_id, viewer);
            StatusesRead {
                viewer_role,
                statuses: if viewer_role.is_some() {
                    tables.statuses_of(project_id)
                } else {
                    Vec::new()
                },
            }
        }))
    }

    async fn create_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, CreateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<CreateStatusError>> {
        self.change_statuses(request, &decide, &record)
    }

    async fn update_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, UpdateStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<UpdateStatusError>> {
        self.change_statuses(request, &decide, &record)
    }

    async fn delete_status(
        &self,
        request: StatusChangeRequest,
        decide: Decide<StatusContext, StatusPlan, DeleteStatusError>,
        record: RecordEvents<StatusesChanged>,
    ) -> Result<Logged<StatusesChanged>, TxError<DeleteStatusError>> {
        self.change_statuses(request, &decide, &record)
    }
}
