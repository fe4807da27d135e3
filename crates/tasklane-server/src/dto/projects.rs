//! Projects, their aggregation, members and statuses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklane_domain::aggregation::{Aggregation, Counts, DerivedStatus};
use tasklane_domain::model::{Member, Project, Status};
use tasklane_domain::services::projects::{AggregationView, ProjectView, Recount};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{CategoryDto, DerivedStatusDto, RoleDto, UserDto, rules};

/// A project's counters and derived status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AggregationDto {
    /// The project.
    pub project_id: Uuid,
    /// Live tasks.
    pub total: u64,
    /// In a `todo` status.
    pub todo: u64,
    /// In an `in_progress` status.
    pub in_progress: u64,
    /// In an `in_review` status.
    pub in_review: u64,
    /// In an `issue` status.
    pub issue: u64,
    /// In a `done` status.
    pub done: u64,
    /// Derived from the counters.
    pub derived_status: DerivedStatusDto,
    /// When the counters last changed.
    pub updated_at: DateTime<Utc>,
}

impl AggregationDto {
    /// The body of `aggregation`, whose derived status is `derived`.
    pub fn new(aggregation: &Aggregation, derived: DerivedStatus) -> Self {
        let c = &aggregation.counts;
        Self {
            project_id: aggregation.project_id.as_uuid(),
            total: c.total,
            todo: c.todo,
            in_progress: c.in_progress,
            in_review: c.in_review,
            issue: c.issue,
            done: c.done,
            derived_status: derived.into(),
            updated_at: aggregation.updated_at,
        }
    }
}

impl From<&AggregationView> for AggregationDto {
    fn from(view: &AggregationView) -> Self {
        Self::new(&view.aggregation, view.derived_status)
    }
}

/// The six counters alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountsDto {
    /// Live tasks.
    pub total: u64,
    /// In a `todo` status.
    pub todo: u64,
    /// In an `in_progress` status.
    pub in_progress: u64,
    /// In an `in_review` status.
    pub in_review: u64,
    /// In an `issue` status.
    pub issue: u64,
    /// In a `done` status.
    pub done: u64,
}

impl From<&Counts> for CountsDto {
    fn from(c: &Counts) -> Self {
        Self {
            total: c.total,
            todo: c.todo,
            in_progress: c.in_progress,
            in_review: c.in_review,
            issue: c.issue,
            done: c.done,
        }
    }
}

/// The result of a recount.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecountDto {
    /// The stored counters before (`null` when the row was missing).
    pub before: Option<CountsDto>,
    /// The repaired aggregation.
    pub after: AggregationDto,
    /// Whether the stored counters differed.
    pub drift: bool,
}

impl From<&Recount> for RecountDto {
    fn from(recount: &Recount) -> Self {
        Self {
            before: recount.before.as_ref().map(CountsDto::from),
            after: AggregationDto::from(&recount.after),
            drift: recount.drift,
        }
    }
}

/// A project as its member sees it. Its `ETag` is `"<row_version>"`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectDto {
    /// The project's id.
    pub id: Uuid,
    /// Its key (`WEB`).
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Derived from the aggregation.
    pub derived_status: DerivedStatusDto,
    /// The last task number handed out.
    pub task_counter: u64,
    /// For `If-Match`.
    pub row_version: u64,
    /// Set while archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// Its creator.
    pub created_by: Uuid,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last activity.
    pub updated_at: DateTime<Utc>,
    /// Its counters.
    pub aggregation: AggregationDto,
    /// The reader's role.
    pub my_role: RoleDto,
}

impl ProjectDto {
    /// The body of `project`, whose derived status is `derived`, for a reader with `role`.
    pub fn new(
        project: &Project,
        role: tasklane_domain::values::Role,
        derived: DerivedStatus,
    ) -> Self {
        Self {
            id: project.id.as_uuid(),
            key: project.key.as_str().to_owned(),
            name: project.name.as_str().to_owned(),
            description: project.description.as_str().to_owned(),
            derived_status: derived.into(),
            task_counter: project.task_counter,
            row_version: project.row_version,
            archived_at: project.archived_at,
            created_by: project.created_by.as_uuid(),
            created_at: project.created_at,
            updated_at: project.updated_at,
            aggregation: AggregationDto::new(&project.aggregation, derived),
            my_role: role.into(),
        }
    }
}

impl From<&ProjectView> for ProjectDto {
    fn from(view: &ProjectView) -> Self {
        Self::new(&view.project, view.my_role, view.derived_status)
    }
}

/// `POST /projects`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 2 to 10 letters and digits, a letter first (lower case is upper-cased).
    #[schema(schema_with = rules::project_key)]
    pub key: String,
    /// 1 to 255 characters.
    #[schema(schema_with = rules::project_name)]
    pub name: String,
    /// At most 10,000 characters.
    #[schema(schema_with = rules::project_description)]
    pub description: Option<String>,
}

/// `PATCH /projects/{id}`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateProjectRequest {
    /// New name.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::project_name)]
    pub name: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::new_project_description)]
    pub description: Option<String>,
}

/// `GET /projects` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProjectListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(schema_with = rules::limit)]
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(schema_with = rules::project_cursor)]
    pub cursor: Option<String>,
    /// Substring of the name or key.
    #[param(schema_with = rules::search)]
    pub search: Option<String>,
    /// Include archived projects (default false).
    #[param(nullable = false)]
    pub include_archived: Option<bool>,
    /// Only projects whose derived status is this.
    #[param(nullable = false)]
    pub derived_status: Option<DerivedStatusDto>,
}

/// A member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    /// The user.
    pub user: UserDto,
    /// Their role.
    pub role: RoleDto,
    /// When they joined.
    pub added_at: DateTime<Utc>,
}

impl From<&Member> for MemberDto {
    fn from(member: &Member) -> Self {
        Self {
            user: UserDto::from(&member.user),
            role: member.role.into(),
            added_at: member.added_at,
        }
    }
}

/// `PUT /projects/{id}/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    /// The role to give.
    pub role: RoleDto,
}

/// `POST /projects/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The e-mail of an existing user, compared case-insensitively.
    #[schema(schema_with = rules::email)]
    pub email: String,
    /// The role to give.
    pub role: RoleDto,
}

/// A status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    /// The status's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: CategoryDto,
    /// 0-based board position.
    pub position: u32,
}

impl From<&Status> for StatusDto {
    fn from(status: &Status) -> Self {
        Self {
            id: status.id.as_uuid(),
            name: status.name.as_str().to_owned(),
            category: status.category.into(),
            position: status.position,
        }
    }
}

/// `POST /projects/{id}/statuses`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStatusRequest {
    /// 1 to 50 characters, unique in the project ignoring case.
    #[schema(schema_with = rules::status_name)]
    pub name: String,
    /// Its category.
    pub category: CategoryDto,
    /// 0-based position (default: last).
    #[serde(default, deserialize_with = "rules::whole_or_null")]
    #[schema(schema_with = rules::position)]
    pub position: Option<u32>,
}

/// `PATCH /statuses/{id}`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateStatusRequest {
    /// New name.
    #[serde(default, deserialize_with = "rules::present")]
    #[schema(schema_with = rules::status_name)]
    pub name: Option<String>,
    /// New position.
    #[serde(default, deserialize_with = "rules::whole_present")]
    #[schema(schema_with = rules::new_position)]
    pub position: Option<u32>,
}
