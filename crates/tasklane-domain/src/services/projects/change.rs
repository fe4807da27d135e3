//! Changes to a project: name and description (`If-Match`), archive and restore, deletion. Each
//! decision runs inside the store's transaction on the project row, locked.

use super::*;

impl ProjectService {
    /// Changes the name and/or description (owners and editors).
    ///
    /// # Errors
    /// [`UpdateProjectError`]: not found, forbidden, invalid, archived, version mismatch.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn update_project(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: ProjectUpdateInput,
        if_match: Option<u64>,
    ) -> Result<ProjectView, UpdateProjectError> {
        {
            let mut errors = ValidationErrors::new();
            let name = input
                .name
                .as_deref()
                .and_then(|n| errors.check("name", ProjectName::new(n)));
            let description = input
                .description
                .as_deref()
                .and_then(|d| errors.check("description", ProjectDescription::new(d)));
            if input == ProjectUpdateInput::default() {
                errors.add("body", "give name or description");
            }
            errors.into_result()?;
            let at = self.ports.clock.now();
            let decide = Box::new(move |context: ProjectContext| {
                let project = allowed(context, Action::EditProject)?;
                if let Some(expected) = if_match
                    && expected != project.row_version
                {
                    return Err(UpdateProjectError::VersionMismatch {
                        current: project.row_version,
                    });
                }
                if project.is_archived() {
                    return Err(UpdateProjectError::Archived);
                }
                Ok(ProjectPatch {
                    name: name.clone(),
                    description: description.clone(),
                    archived_at: None,
                    at,
                })
            });
            let request = ProjectChangeRequest { project_id, actor };
            let events = record(&self.ports.encoder, move |read: &ProjectRead| {
                let project = Box::new(read.project.clone());
                vec![event(
                    project_id,
                    actor,
                    at,
                    EventPayload::ProjectUpdated { project },
                )]
            });
            let Logged {
                value: read,
                events,
            } = self
                .ports
                .projects
                .update_project(request, decide, events)
                .await
                .map_err(|e| e.into_operation_error())?;
            publish(self.ports.broadcaster.as_ref(), events);
            let role = read
                .role
                .ok_or_else(|| RepoError::other("updated project without a role"))?;
            Ok(self.view(read.project, role))
        }
    }

    /// Archives (`archive = true`) or restores the project (owners).
    ///
    /// # Errors
    /// [`ArchiveProjectError`]: not found, forbidden, already in that state.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, archive))]
    pub async fn set_archived(
        &self,
        actor: UserId,
        project_id: ProjectId,
        archive: bool,
    ) -> Result<ProjectView, ArchiveProjectError> {
        {
            let at = self.ports.clock.now();
            let decide = Box::new(move |context: ProjectContext| {
                let project = allowed(context, Action::ArchiveProject)?;
                if project.is_archived() == archive {
                    return Err(ArchiveProjectError::AlreadyInState { archived: archive });
                }
                Ok(ProjectPatch {
                    name: None,
                    description: None,
                    archived_at: Some(archive.then_some(at)),
                    at,
                })
            });
            let request = ProjectChangeRequest { project_id, actor };
            let events = record(&self.ports.encoder, move |read: &ProjectRead| {
                let boxed = Box::new(read.project.clone());
                let payload = if archive {
                    EventPayload::ProjectArchived { project: boxed }
                } else {
                    EventPayload::ProjectRestored {
                        project: boxed,
                        restored_via: RestoredVia::Manual,
                    }
                };
                vec![event(project_id, actor, at, payload)]
            });
            let logged = self
                .ports
                .projects
                .set_project_archived(request, decide, events)
                .await
                .map_err(|e| e.into_operation_error())?;
            publish(self.ports.broadcaster.as_ref(), logged.events);
            Ok(self.view(logged.value.project, Role::Owner))
        }
    }

    /// Deletes the project with everything in it (owners).
    ///
    /// # Errors
    /// [`DeleteProjectError`]: not found, forbidden.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn delete_project(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<(), DeleteProjectError> {
        {
            let at = self.ports.clock.now();
            let decide = Box::new(|context: ProjectContext| {
                allowed(context, Action::DeleteProject)?;
                Ok(())
            });
            let request = ProjectChangeRequest { project_id, actor };
            let events = record(&self.ports.encoder, move |(): &()| {
                vec![event(project_id, actor, at, EventPayload::ProjectDeleted)]
            });
            let logged = self
                .ports
                .projects
                .delete_project(request, decide, events)
                .await
                .map_err(|e| e.into_operation_error())?;
            publish(self.ports.broadcaster.as_ref(), logged.events);
            Ok(())
        }
    }
}
