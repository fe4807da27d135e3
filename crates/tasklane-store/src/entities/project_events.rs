//! One committed change of a project, numbered gap-free per project. Appended by the budgeted writes (`events/`).

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: DbId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub actor_id: DbId,
    pub at: DbTime,
    pub task_id: Option<DbId>,
    pub status_id: Option<DbId>,
    pub member_id: Option<DbId>,
    pub data: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
