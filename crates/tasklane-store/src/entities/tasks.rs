//! A task. Its writes are statement-budgeted and hand-written (`tasks/`); the entity names the table's columns.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub project_id: DbId,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub status_id: DbId,
    pub priority: String,
    pub task_type: String,
    pub story_points: Option<i16>,
    pub due_date: Option<Date>,
    pub assignee_id: Option<DbId>,
    pub reporter_id: Option<DbId>,
    pub parent_id: Option<DbId>,
    pub rank: String,
    pub row_version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub completed_at: Option<DbTime>,
    pub archived_at: Option<DbTime>,
    pub comment_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
