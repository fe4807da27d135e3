//! The initial schema: users, refresh tokens, projects, members, statuses, tasks, the
//! aggregation and idempotency keys. It stays one file of about 600 lines because an applied
//! migration is history: it is never edited, only followed by others.
//!
//! Identifiers are UUIDs (PostgreSQL `uuid`; SQLite stores their text form). Timestamps are
//! `timestamptz` on PostgreSQL and fixed-width RFC 3339 text on SQLite, which sorts correctly.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Email,
    EmailLower,
    DisplayName,
    AvatarUrl,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
    Key,
    Name,
    Description,
    TaskCounter,
    RowVersion,
    ArchivedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    AddedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Statuses {
    Table,
    Id,
    ProjectId,
    Name,
    NameLower,
    Category,
    Position,
    AppendSeq,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    ProjectId,
    Number,
    Title,
    Description,
    StatusId,
    Priority,
    TaskType,
    StoryPoints,
    DueDate,
    AssigneeId,
    ReporterId,
    ParentId,
    Rank,
    RowVersion,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
    ArchivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProjectAggregations {
    Table,
    ProjectId,
    Total,
    Todo,
    InProgress,
    InReview,
    Issue,
    Done,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    ProjectId,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

/// `column IN ('a', 'b', …)` as a CHECK expression.
fn one_of(column: impl IntoIden + Copy + 'static, values: &[&str]) -> SimpleExpr {
    Expr::col(column).is_in(values.iter().map(|v| (*v).to_owned()))
}

fn non_negative(column: impl IntoIden + Copy + 'static) -> SimpleExpr {
    Expr::col(column).gte(0)
}

fn uuid(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().not_null().to_owned()
}

fn uuid_null(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().null().to_owned()
}

fn time(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn time_null(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().to_owned()
}

fn counter(column: impl IntoIden + Copy + 'static) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .default(0)
        .check(non_negative(column))
        .to_owned()
}

const CATEGORIES: &[&str] = &["todo", "in_progress", "in_review", "issue", "done"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Ranks compare byte by byte (`0-9A-Za-z` in ASCII order). SQLite's default collation
        // does; PostgreSQL's database collation may not, so the column says so.
        let mut rank = text(Tasks::Rank);
        if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            rank.extra("COLLATE \"C\"");
        }
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid(Users::Id).primary_key())
                .col(text(Users::Email))
                // The email's lower-cased form, computed by the domain (Unicode-aware, unlike
                // SQLite's `lower`), is what uniqueness is checked on.
                .col(text(Users::EmailLower).unique_key())
                .col(text(Users::DisplayName))
                .col(ColumnDef::new(Users::AvatarUrl).text().null())
                .col(text(Users::PasswordHash))
                .col(time(Users::CreatedAt))
                .col(time(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(uuid(RefreshTokens::Id).primary_key())
                .col(uuid(RefreshTokens::UserId))
                .col(uuid(RefreshTokens::FamilyId))
                .col(text(RefreshTokens::TokenHash).unique_key())
                .col(time(RefreshTokens::ExpiresAt))
                .col(time_null(RefreshTokens::RevokedAt))
                .col(time(RefreshTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("refresh_tokens_user_fk")
                        .from(RefreshTokens::Table, RefreshTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("refresh_tokens_family_idx")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(uuid(Projects::Id).primary_key())
                // Keys are stored upper-cased by the domain, so this is case-insensitive.
                .col(text(Projects::Key).unique_key())
                .col(text(Projects::Name))
                .col(text(Projects::Description).default(""))
                .col(counter(Projects::TaskCounter))
                .col(
                    ColumnDef::new(Projects::RowVersion)
                        .big_integer()
                        .not_null()
                        .default(1)
                        .check(Expr::col(Projects::RowVersion).gte(1)),
                )
                .col(time_null(Projects::ArchivedAt))
                .col(uuid(Projects::CreatedBy))
                .col(time(Projects::CreatedAt))
                .col(time(Projects::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("projects_created_by_fk")
                        .from(Projects::Table, Projects::CreatedBy)
                        .to(Users::Table, Users::Id)
                        // A user who created projects is kept: their projects name them.
                        .on_delete(ForeignKeyAction::NoAction),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("projects_activity_idx")
                .table(Projects::Table)
                .col((Projects::UpdatedAt, IndexOrder::Desc))
                .col((Projects::Id, IndexOrder::Desc))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectMembers::Table)
                .col(uuid(ProjectMembers::ProjectId))
                .col(uuid(ProjectMembers::UserId))
                .col(
                    text(ProjectMembers::Role)
                        .check(one_of(ProjectMembers::Role, &["owner", "editor", "viewer"])),
                )
                .col(time(ProjectMembers::AddedAt))
                .primary_key(
                    Index::create()
                        .col(ProjectMembers::ProjectId)
                        .col(ProjectMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("project_members_project_fk")
                        .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("project_members_user_fk")
                        .from(ProjectMembers::Table, ProjectMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("project_members_user_idx")
                .table(ProjectMembers::Table)
                .col(ProjectMembers::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Statuses::Table)
                .col(uuid(Statuses::Id).primary_key())
                .col(uuid(Statuses::ProjectId))
                .col(text(Statuses::Name))
                .col(text(Statuses::NameLower))
                .col(text(Statuses::Category).check(one_of(Statuses::Category, CATEGORIES)))
                .col(
                    ColumnDef::new(Statuses::Position)
                        .integer()
                        .not_null()
                        .check(non_negative(Statuses::Position)),
                )
                // The last append rank handed out in this column (`Rank::from_sequence`).
                .col(counter(Statuses::AppendSeq))
                .foreign_key(
                    ForeignKey::create()
                        .name("statuses_project_fk")
                        .from(Statuses::Table, Statuses::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("statuses_project_name_key")
                .table(Statuses::Table)
                .col(Statuses::ProjectId)
                .col(Statuses::NameLower)
                .unique()
                .to_owned(),
        )
        .await?;
        // The target of tasks' composite foreign key: a task's status is of the task's project.
        m.create_index(
            Index::create()
                .name("statuses_project_id_key")
                .table(Statuses::Table)
                .col(Statuses::ProjectId)
                .col(Statuses::Id)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(uuid(Tasks::Id).primary_key())
                .col(uuid(Tasks::ProjectId))
                .col(
                    ColumnDef::new(Tasks::Number)
                        .big_integer()
                        .not_null()
                        .check(Expr::col(Tasks::Number).gte(1)),
                )
                .col(text(Tasks::Title))
                .col(ColumnDef::new(Tasks::Description).text().null())
                .col(uuid(Tasks::StatusId))
                .col(text(Tasks::Priority).check(one_of(
                    Tasks::Priority,
                    &["lowest", "low", "medium", "high", "highest"],
                )))
                .col(text(Tasks::TaskType).check(one_of(
                    Tasks::TaskType,
                    &["story", "bug", "epic", "subtask", "task"],
                )))
                .col(
                    ColumnDef::new(Tasks::StoryPoints)
                        .small_integer()
                        .null()
                        .check(Expr::col(Tasks::StoryPoints).between(0, 100)),
                )
                .col(ColumnDef::new(Tasks::DueDate).date().null())
                .col(uuid_null(Tasks::AssigneeId))
                .col(uuid_null(Tasks::ReporterId))
                .col(uuid_null(Tasks::ParentId))
                .col(rank)
                .col(
                    ColumnDef::new(Tasks::RowVersion)
                        .big_integer()
                        .not_null()
                        .default(1)
                        .check(Expr::col(Tasks::RowVersion).gte(1)),
                )
                .col(time(Tasks::CreatedAt))
                .col(time(Tasks::UpdatedAt))
                .col(time_null(Tasks::CompletedAt))
                .col(time_null(Tasks::ArchivedAt))
                // The target of the parent foreign key below: a parent is of the task's project.
                // Declared in the table so that the self-reference can use it.
                .index(
                    Index::create()
                        .name("tasks_project_id_key")
                        .col(Tasks::ProjectId)
                        .col(Tasks::Id)
                        .unique(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_project_fk")
                        .from(Tasks::Table, Tasks::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_status_fk")
                        .from(Tasks::Table, (Tasks::ProjectId, Tasks::StatusId))
                        .to(Statuses::Table, (Statuses::ProjectId, Statuses::Id))
                        // A status in use cannot be deleted. NO ACTION, not RESTRICT: the check runs
                        // at the end of the statement, so deleting a project (which cascades to
                        // both its statuses and its tasks) succeeds.
                        .on_delete(ForeignKeyAction::NoAction),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_parent_fk")
                        .from(Tasks::Table, (Tasks::ProjectId, Tasks::ParentId))
                        .to(Tasks::Table, (Tasks::ProjectId, Tasks::Id))
                        // Sub-tasks are deleted with their parent.
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_assignee_fk")
                        .from(Tasks::Table, Tasks::AssigneeId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("tasks_reporter_fk")
                        .from(Tasks::Table, Tasks::ReporterId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_project_number_key")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col(Tasks::Number)
                .unique()
                .to_owned(),
        )
        .await?;
        // The board: a column's live tasks in rank order.
        m.create_index(
            Index::create()
                .name("tasks_board_idx")
                .table(Tasks::Table)
                .col(Tasks::StatusId)
                .col(Tasks::Rank)
                .col(Tasks::Id)
                .and_where(Expr::col(Tasks::ArchivedAt).is_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_project_updated_idx")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col((Tasks::UpdatedAt, IndexOrder::Desc))
                .col((Tasks::Id, IndexOrder::Desc))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_assignee_idx")
                .table(Tasks::Table)
                .col(Tasks::AssigneeId)
                .and_where(Expr::col(Tasks::ArchivedAt).is_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_parent_idx")
                .table(Tasks::Table)
                .col(Tasks::ParentId)
                .to_owned(),
        )
        .await?;
        // The recount: live tasks per status of one project, answered from the index alone.
        m.create_index(
            Index::create()
                .name("tasks_live_status_idx")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col(Tasks::StatusId)
                .and_where(Expr::col(Tasks::ArchivedAt).is_null())
                .to_owned(),
        )
        .await?;
        // The auto-archive job: live tasks by completion time.
        m.create_index(
            Index::create()
                .name("tasks_completed_idx")
                .table(Tasks::Table)
                .col(Tasks::CompletedAt)
                .and_where(Expr::col(Tasks::ArchivedAt).is_null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectAggregations::Table)
                .col(uuid(ProjectAggregations::ProjectId).primary_key())
                .col(counter(ProjectAggregations::Total))
                .col(counter(ProjectAggregations::Todo))
                .col(counter(ProjectAggregations::InProgress))
                .col(counter(ProjectAggregations::InReview))
                .col(counter(ProjectAggregations::Issue))
                .col(counter(ProjectAggregations::Done))
                .col(time(ProjectAggregations::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("project_aggregations_project_fk")
                        .from(ProjectAggregations::Table, ProjectAggregations::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(uuid(IdempotencyKeys::UserId))
                .col(text(IdempotencyKeys::Key))
                .col(uuid(IdempotencyKeys::ProjectId))
                .col(text(IdempotencyKeys::RequestHash))
                .col(
                    ColumnDef::new(IdempotencyKeys::ResponseStatus)
                        .integer()
                        .null(),
                )
                .col(ColumnDef::new(IdempotencyKeys::ResponseBody).text().null())
                .col(time(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::UserId)
                        .col(IdempotencyKeys::Key),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("idempotency_keys_user_fk")
                        .from(IdempotencyKeys::Table, IdempotencyKeys::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("idempotency_keys_project_fk")
                        .from(IdempotencyKeys::Table, IdempotencyKeys::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idempotency_keys_created_idx")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ProjectAggregations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Statuses::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ProjectMembers::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Projects::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        // All or nothing on SQLite too (its DDL is transactional).
        Some(true)
    }
}
