//! A label on a task, both of the same project.

use sea_orm::entity::prelude::*;

use super::values::DbId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_labels")]
pub struct Model {
    pub project_id: DbId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: DbId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub label_id: DbId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
