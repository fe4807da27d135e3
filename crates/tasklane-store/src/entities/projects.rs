//! A project: its key, name, task counter (the last number handed out) and version.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    #[sea_orm(unique)]
    pub key: String,
    pub name: String,
    pub description: String,
    pub task_counter: i64,
    pub row_version: i64,
    pub archived_at: Option<DbTime>,
    pub created_by: DbId,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::project_aggregations::Entity")]
    Aggregation,
    #[sea_orm(has_many = "super::project_members::Entity")]
    Members,
}

impl ActiveModelBehavior for ActiveModel {}

impl Related<super::project_aggregations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Aggregation.def()
    }
}

impl Related<super::project_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Members.def()
    }
}
