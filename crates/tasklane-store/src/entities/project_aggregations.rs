//! A project's live task counts per category. Written only by the budgeted task statements.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_aggregations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: DbId,
    pub total: i64,
    pub todo: i64,
    pub in_progress: i64,
    pub in_review: i64,
    pub issue: i64,
    pub done: i64,
    pub updated_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
