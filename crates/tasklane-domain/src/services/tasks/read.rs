//! Task reads: one task by id or key, and keyset-paginated listings.

use chrono::{Datelike, NaiveDate};

use super::{GetTaskError, ListTasksError, TaskListInput, TaskService};
use crate::access::{AccessDenied, Action, authorize};
use crate::cursor::TaskCursor;
use crate::ids::{ProjectId, TaskId, UserId};
use crate::model::{Page, Task};
use crate::ports::{ListingVersion, TaskQuery, TaskRead};
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
        let query = listing_query(input)?;
        let listing = self
            .ports
            .tasks
            .list_tasks(project_id, actor, query)
            .await?;
        authorize(listing.viewer_role, Action::Read)?;
        Ok(listing.page)
    }
}

/// A listing's query from the client's input, every field checked.
fn listing_query(input: TaskListInput) -> Result<TaskQuery, ListTasksError> {
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
    Ok(TaskQuery {
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
    })
}

/// A task listing whose reader is authorized and whose version is read: the page can be read
/// (statement 2) or found elsewhere (a client's copy, a server's cache) at that version. Made
/// only by [`TaskService::open_listing`].
#[derive(Debug, Clone)]
pub struct ListingGate {
    project_id: ProjectId,
    query: TaskQuery,
    version: ListingVersion,
}

impl ListingGate {
    /// The listing's version, read before any page.
    pub fn version(&self) -> ListingVersion {
        self.version
    }
}

impl TaskService {
    /// Checks a listing's input and its reader's access and reads its version: one statement.
    /// The page is [`TaskService::read_listing`]'s, for a caller that does not hold it at this
    /// version.
    ///
    /// # Errors
    /// As [`TaskService::list_tasks`]: input is checked before the store is asked, so a bad
    /// query is refused whatever page the caller holds.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn open_listing(
        &self,
        actor: UserId,
        project_id: ProjectId,
        input: TaskListInput,
    ) -> Result<ListingGate, ListTasksError> {
        let query = listing_query(input)?;
        let (role, version) = self.ports.tasks.listing_version(project_id, actor).await?;
        authorize(role, Action::Read)?;
        Ok(ListingGate {
            project_id,
            query,
            version,
        })
    }

    /// The page of an opened listing: one statement, read after the version, so never older
    /// than it.
    ///
    /// # Errors
    /// [`ListTasksError::Store`] when the store fails.
    #[tracing::instrument(skip_all, fields(project_id = %gate.project_id))]
    pub async fn read_listing(&self, gate: &ListingGate) -> Result<Page<Task>, ListTasksError> {
        Ok(self
            .ports
            .tasks
            .task_page(gate.project_id, gate.query.clone())
            .await?)
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
