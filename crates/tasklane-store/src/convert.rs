//! Conversions between stored rows (raw rows, entity models, JSON built in SQL) and domain types,
//! in one place. Stored values go through the domain's validating constructors; a value they
//! refuse is reported as corrupt data, never passed on.

use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use serde::Deserialize;
use tasklane_domain::aggregation::{Aggregation, Counts};
use tasklane_domain::ids::{LabelId, ProjectId, StatusId, TaskId, UserId};
use tasklane_domain::model::{Label, Member, Project, Status, StatusRef, Task, User, UserSummary};
use tasklane_domain::rank::Rank;
use tasklane_domain::values::{
    AvatarUrl, DisplayName, Email, LabelColor, LabelName, ProjectDescription, ProjectKey,
    ProjectName, StatusName, StoryPoints, TaskDescription, TaskKey, TaskTitle,
};
use uuid::Uuid;

use crate::db::{Row, json_time};
use crate::entities::{project_aggregations, project_members, projects, statuses, users};

/// A stored value the domain refuses.
pub(crate) fn corrupt(what: &str, error: impl Display) -> DbErr {
    DbErr::Type(format!("stored {what} is invalid: {error}"))
}

/// `result`, or a corrupt-data error naming `what`.
pub(crate) fn valid<T, E: Display>(what: &str, result: Result<T, E>) -> Result<T, DbErr> {
    result.map_err(|e| corrupt(what, e))
}

/// A closed enum from its stored name.
pub(crate) fn parsed<T: FromStr>(what: &str, text: &str) -> Result<T, DbErr>
where
    T::Err: Display,
{
    valid(what, text.parse())
}

/// A count from a non-negative integer column.
pub(crate) fn count(value: i64) -> Result<u64, DbErr> {
    valid("count", u64::try_from(value))
}

/// A database integer from a domain count.
pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

// ----- SQL fragments every reader shares --------------------------------------------------

/// The columns of [`project`], for `FROM` [`PROJECT_FROM`].
pub(crate) const PROJECT_COLUMNS: &str = "p.id, p.key, p.name, p.description, p.task_counter, \
    p.row_version, p.archived_at, p.created_by, p.created_at, p.updated_at, \
    a.total, a.todo, a.in_progress, a.in_review, a.issue, a.done, a.updated_at AS agg_updated_at";

/// A project with its aggregation row, if any.
pub(crate) const PROJECT_FROM: &str =
    "projects p LEFT JOIN project_aggregations a ON a.project_id = p.id";

/// The columns of [`task`], for `FROM` [`TASK_FROM`].
pub(crate) const TASK_COLUMNS: &str = "t.id, t.project_id, p.key AS project_key, t.number, \
    t.title, t.description, s.id AS status_id, s.name AS status_name, s.category AS status_category, \
    t.priority, t.task_type, t.story_points, t.due_date, \
    au.id AS assignee_id, au.email AS assignee_email, au.display_name AS assignee_name, au.avatar_url AS assignee_avatar, \
    ru.id AS reporter_id, ru.email AS reporter_email, ru.display_name AS reporter_name, ru.avatar_url AS reporter_avatar, \
    t.parent_id, (SELECT count(*) FROM tasks c WHERE c.parent_id = t.id) AS subtask_count, \
    t.comment_count, (SELECT COALESCE({agg}({obj}('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.id), {arr0}) \
      FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = t.id) AS labels, \
    t.rank, t.row_version, t.created_at, t.updated_at, t.completed_at, t.archived_at";

/// A task with its project, status, assignee and reporter: one row per task, no N+1.
pub(crate) const TASK_FROM: &str = "tasks t JOIN projects p ON p.id = t.project_id \
    JOIN statuses s ON s.id = t.status_id \
    LEFT JOIN users au ON au.id = t.assignee_id LEFT JOIN users ru ON ru.id = t.reporter_id";

// ----- rows → domain ------------------------------------------------------------------------

/// The user whose columns are `{prefix}_id`, `_email`, `_name`, `_avatar`, if present.
pub(crate) fn user_columns(row: &Row<'_>, prefix: &str) -> Result<Option<UserSummary>, DbErr> {
    let Some(id) = row.opt_id(&format!("{prefix}_id"))? else {
        return Ok(None);
    };
    Ok(Some(summary(
        id,
        &row.text(&format!("{prefix}_email"))?,
        &row.text(&format!("{prefix}_name"))?,
        row.opt_text(&format!("{prefix}_avatar"))?,
    )?))
}

/// A user summary from its stored fields.
pub(crate) fn summary(
    id: Uuid,
    email: &str,
    name: &str,
    avatar: Option<String>,
) -> Result<UserSummary, DbErr> {
    Ok(UserSummary {
        id: UserId::from_uuid(id),
        email: valid("email", Email::new(email))?,
        display_name: valid("display name", DisplayName::new(name))?,
        avatar_url: avatar
            .map(|a| valid("avatar URL", AvatarUrl::new(&a)))
            .transpose()?,
    })
}

/// The six counters from `total, todo, in_progress, in_review, issue, done`; `None` when the
/// aggregation row was missing from a left join.
pub(crate) fn counts(row: &Row<'_>) -> Result<Option<Counts>, DbErr> {
    let Some(total) = row.opt_int("total")? else {
        return Ok(None);
    };
    Ok(Some(Counts {
        total: count(total)?,
        todo: count(row.int("todo")?)?,
        in_progress: count(row.int("in_progress")?)?,
        in_review: count(row.int("in_review")?)?,
        issue: count(row.int("issue")?)?,
        done: count(row.int("done")?)?,
    }))
}

/// A project from [`PROJECT_COLUMNS`]; the aggregation is `fallback` when its row is missing.
pub(crate) fn project(row: &Row<'_>, fallback: impl FnOnce() -> Counts) -> Result<Project, DbErr> {
    let id = ProjectId::from_uuid(row.id("id")?);
    let (counts, updated_at) = match counts(row)? {
        Some(counts) => (counts, row.time("agg_updated_at")?),
        None => (fallback(), row.time("updated_at")?),
    };
    Ok(Project {
        id,
        key: valid("project key", ProjectKey::new(&row.text("key")?))?,
        name: valid("project name", ProjectName::new(&row.text("name")?))?,
        description: valid(
            "description",
            ProjectDescription::new(&row.text("description")?),
        )?,
        task_counter: count(row.int("task_counter")?)?,
        row_version: count(row.int("row_version")?)?,
        archived_at: row.opt_time("archived_at")?,
        created_by: UserId::from_uuid(row.id("created_by")?),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        aggregation: Aggregation {
            project_id: id,
            counts,
            updated_at,
        },
    })
}

/// A label inside a JSON array (`{obj}('id', …, 'name', …, 'color', …)`).
#[derive(Debug, Deserialize)]
pub(crate) struct JsonLabel {
    pub id: Uuid,
    pub name: String,
    pub color: String,
}

impl JsonLabel {
    pub(crate) fn to_label(&self) -> Result<Label, DbErr> {
        Ok(Label {
            id: LabelId::from_uuid(self.id),
            name: valid("label name", LabelName::new(&self.name))?,
            color: valid("label colour", LabelColor::new(&self.color))?,
        })
    }
}

/// The JSON array of labels in column `labels`.
pub(crate) fn labels(row: &Row<'_>) -> Result<Vec<Label>, DbErr> {
    let labels: Vec<JsonLabel> = row.opt_json("labels")?.unwrap_or_default();
    labels.iter().map(JsonLabel::to_label).collect()
}

/// A task from [`TASK_COLUMNS`].
pub(crate) fn task(row: &Row<'_>) -> Result<Task, DbErr> {
    let project_key = valid("project key", ProjectKey::new(&row.text("project_key")?))?;
    Ok(Task {
        id: TaskId::from_uuid(row.id("id")?),
        project_id: ProjectId::from_uuid(row.id("project_id")?),
        key: TaskKey::new(project_key, count(row.int("number")?)?),
        title: valid("title", TaskTitle::new(&row.text("title")?))?,
        description: row
            .opt_text("description")?
            .map(|d| valid("description", TaskDescription::new(&d)))
            .transpose()?,
        status: StatusRef {
            id: StatusId::from_uuid(row.id("status_id")?),
            name: valid("status name", StatusName::new(&row.text("status_name")?))?,
            category: parsed("category", &row.text("status_category")?)?,
        },
        priority: parsed("priority", &row.text("priority")?)?,
        task_type: parsed("task type", &row.text("task_type")?)?,
        story_points: row
            .opt_int("story_points")?
            .map(|p| valid("story points", StoryPoints::new(p)))
            .transpose()?,
        due_date: row.opt_date("due_date")?,
        assignee: user_columns(row, "assignee")?,
        reporter: user_columns(row, "reporter")?,
        parent_id: row.opt_id("parent_id")?.map(TaskId::from_uuid),
        subtask_count: count(row.int("subtask_count")?)?,
        comment_count: count(row.int("comment_count")?)?,
        labels: labels(row)?,
        rank: valid("rank", Rank::parse(&row.text("rank")?))?,
        row_version: count(row.int("row_version")?)?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        completed_at: row.opt_time("completed_at")?,
        archived_at: row.opt_time("archived_at")?,
    })
}

// ----- JSON built inside context reads ------------------------------------------------------

/// A status inside a JSON array (`{obj}('id', …, 'name', …, 'category', …)`).
#[derive(Debug, Deserialize)]
pub(crate) struct JsonStatus {
    pub id: Uuid,
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub position: Option<i64>,
}

impl JsonStatus {
    pub(crate) fn to_ref(&self) -> Result<StatusRef, DbErr> {
        Ok(StatusRef {
            id: StatusId::from_uuid(self.id),
            name: valid("status name", StatusName::new(&self.name))?,
            category: parsed("category", &self.category)?,
        })
    }

    pub(crate) fn to_status(&self, project_id: ProjectId) -> Result<Status, DbErr> {
        Ok(Status {
            id: StatusId::from_uuid(self.id),
            project_id,
            name: valid("status name", StatusName::new(&self.name))?,
            category: parsed("category", &self.category)?,
            position: valid("position", u32::try_from(self.position.unwrap_or_default()))?,
        })
    }
}

/// A member inside a JSON array.
#[derive(Debug, Deserialize)]
pub(crate) struct JsonMember {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub role: String,
    #[serde(deserialize_with = "json_time")]
    pub added_at: DateTime<Utc>,
}

impl JsonMember {
    pub(crate) fn to_member(&self) -> Result<Member, DbErr> {
        Ok(Member {
            user: summary(
                self.id,
                &self.email,
                &self.display_name,
                self.avatar_url.clone(),
            )?,
            role: parsed("role", &self.role)?,
            added_at: self.added_at,
        })
    }
}

/// The JSON object of a member with its user, for `{agg}(…)` over `project_members m JOIN users u`.
pub(crate) const JSON_MEMBER: &str = "{obj}('id', u.id, 'email', u.email, 'display_name', u.display_name, \
    'avatar_url', u.avatar_url, 'role', m.role, 'added_at', m.added_at)";

// ----- entities → domain --------------------------------------------------------------------

/// A user from its entity.
pub(crate) fn user_model(model: users::Model) -> Result<User, DbErr> {
    Ok(User {
        summary: summary(
            model.id.0,
            &model.email,
            &model.display_name,
            model.avatar_url,
        )?,
        created_at: model.created_at.0,
        updated_at: model.updated_at.0,
    })
}

/// A status from its entity.
pub(crate) fn status_model(model: statuses::Model) -> Result<Status, DbErr> {
    Ok(Status {
        id: StatusId::from_uuid(model.id.0),
        project_id: ProjectId::from_uuid(model.project_id.0),
        name: valid("status name", StatusName::new(&model.name))?,
        category: parsed("category", &model.category)?,
        position: valid("position", u32::try_from(model.position))?,
    })
}

/// A member from its entity and its user's.
pub(crate) fn member_model(
    member: project_members::Model,
    user: users::Model,
) -> Result<Member, DbErr> {
    Ok(Member {
        user: user_model(user)?.summary,
        role: parsed("role", &member.role)?,
        added_at: member.added_at.0,
    })
}

/// The counts of an aggregation entity.
pub(crate) fn counts_model(model: &project_aggregations::Model) -> Result<Counts, DbErr> {
    Ok(Counts {
        total: count(model.total)?,
        todo: count(model.todo)?,
        in_progress: count(model.in_progress)?,
        in_review: count(model.in_review)?,
        issue: count(model.issue)?,
        done: count(model.done)?,
    })
}

/// A project from its entity and its aggregation row's; `fallback` counts when the row is
/// missing.
pub(crate) fn project_model(
    model: projects::Model,
    aggregation: Option<&project_aggregations::Model>,
    fallback: impl FnOnce() -> Counts,
) -> Result<Project, DbErr> {
    let id = ProjectId::from_uuid(model.id.0);
    let (counts, updated_at) = match aggregation {
        Some(row) => (counts_model(row)?, row.updated_at.0),
        None => (fallback(), model.updated_at.0),
    };
    Ok(Project {
        id,
        key: valid("project key", ProjectKey::new(&model.key))?,
        name: valid("project name", ProjectName::new(&model.name))?,
        description: valid("description", ProjectDescription::new(&model.description))?,
        task_counter: count(model.task_counter)?,
        row_version: count(model.row_version)?,
        archived_at: model.archived_at.map(|at| at.0),
        created_by: UserId::from_uuid(model.created_by.0),
        created_at: model.created_at.0,
        updated_at: model.updated_at.0,
        aggregation: Aggregation {
            project_id: id,
            counts,
            updated_at,
        },
    })
}
