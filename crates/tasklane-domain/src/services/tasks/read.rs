//! Task reads: one task by id or key, and keyset-paginated listings.

use chrono::{Datelike, NaiveDate};

use super::{GetTaskError, ListTasksError, TaskListInput, TaskService};
use crate::access::{AccessDenied, Action, authorize};
use crate::cursor::TaskCursor;
use crate::ids::{ProjectId, TaskId, UserId};
use crate::model::{Page, Task};
use crate::ports::{TaskQuery, TaskRead};
use crate::services::labels::MAX_TASK_LABELS;
use crate::services::{page_limit, search_text};
use crate::validation::ValidationErrors;
use crate::values::TaskKey;

/// The default page size of task listings.
pub const DEFAULT_TASK_PAGE: u32 = 100;

fn visible(read: TaskRead) -> Result<Task, GetTaskError> {
    authorize(read.viewer_role, Action::Read)?;
    read.task.ok_or_else(|| AccessDenied::NotFound.into())
}

impl TaskService {
    /// One task, if `actor` is a member of its project.
    ///
    /// # Errors
    /// [`GetTaskError::Access`] (not found) for unknown tasks and non-members.
    #[tracing::instrument(skip_all, fields(%actor, %task_id))]
    pub async fn get_task(&self, actor: UserId, task_id: TaskId) -> Result<Task, GetTaskError> {
        visible(self.ports.tasks.get_task(task_id, actor).await?)
    }

    /// The task keyed `key` (`WEB-42`) in `project_id`. A key of another project, or a malformed
    /// key, is not found.
    ///
    /// # Errors
    /// [`GetTaskError::Access`] (not found) for unknown keys and non-members.
    #[tracing::instrument(skip_all, fields(%actor, %project_id, key))]
    pub async fn get_task_by_key(
        &self,
        actor: UserId,
        project_id: ProjectId,
        key: &str,
    ) -> Result<Task, GetTaskError> {
        let key: TaskKey = key.parse().map_err(|_| AccessDenied::NotFound)?;
        let read = self
            .ports
            .tasks
            .get_task_by_number(project_id, key.number(), actor)
            .await?;
        let task = visible(read)?;
        if task.key.project_key() != key.project_key() {
            return Err(AccessDenied::NotFound.into());
        }
        Ok(task)
    }

    /// A page of the project's tasks.
    ///
    /// # Errors
    /// [`ListTasksError::Access`] (not found) for non-members; [`ListTasksError::Invalid`] for a
    /// limit outside 1..=200, an over-long search or a malformed cursor. A cursor continues the
    /// listing in the order it was made in, whatever `order` says.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn list_tasks(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: TaskListInput,
    ) -> Result<Page<Task>, ListTasksError> {
        let mut errors = ValidationErrors::new();
        let limit = page_limit(&mut errors, input.limit, DEFAULT_TASK_PAGE);
        let search = search_text(&mut errors, input.search.as_deref());
        let cursor = input
            .cursor
            .as_deref()
            .and_then(|text| errors.check("cursor", TaskCursor::decode(text)));
        let due_before = due_bound(&mut errors, "due_before", input.due_before.as_deref());
        let due_after = due_bound(&mut errors, "due_after", input.due_after.as_deref());
        if input.label_ids.len() > MAX_TASK_LABELS {
            let message = format!("give at most {MAX_TASK_LABELS} labels");
            errors.add("label_id", message);
        }
        if input.unassigned && input.assignee_id.is_some() {
            errors.add("assignee_id", "give one assignee or none");
        }
        errors.into_result()?;
        let query = TaskQuery {
            status_id: input.status_id,
            assignee_id: input.assignee_id,
            unassigned: input.unassigned,
            reporter_id: input.reporter_id,
            parent_id: input.parent_id,
            label_ids: input.label_ids,
            due_before,
            due_after,
            priority: input.priority,
            task_type: input.task_type,
            search,
            include_archived: input.include_archived,
            order: cursor.as_ref().map_or(input.order, TaskCursor::order),
            limit,
            cursor,
        };
        let listing = self
            .ports
            .tasks
            .list_tasks(project_id, actor, query)
            .await?;
        authorize(listing.viewer_role, Action::Read)?;
        Ok(listing.page)
    }
}

/// A due-date bound of a listing: a date written `YYYY-MM-DD`, years 0001 to 9999.
fn due_bound(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?;
    let well_formed = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = well_formed
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .filter(|d| (1..=9999).contains(&d.year()));
    if date.is_none() {
        errors.add(
            field,
            "must be a date written YYYY-MM-DD, years 0001 to 9999",
        );
    }
    date
}
