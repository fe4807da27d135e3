//! A number that grows with every change of a project's counts (bumped by a trigger); cached counts carry it.

use sea_orm::entity::prelude::*;

use super::values::DbId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_task_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: DbId,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
