//! A status (a board column) of a project: its name, category, position and the last append sequence handed out in it.

use sea_orm::entity::prelude::*;

use super::values::DbId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "statuses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub project_id: DbId,
    pub name: String,
    pub name_lower: String,
    pub category: String,
    pub position: i32,
    pub append_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
