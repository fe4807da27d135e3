//! A project's event log head: the last sequence number handed out.

use sea_orm::entity::prelude::*;

use super::values::DbId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_event_heads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: DbId,
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
