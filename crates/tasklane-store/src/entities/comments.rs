//! A comment on a task; its author may have been deleted.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub task_id: DbId,
    pub author_id: Option<DbId>,
    pub body: String,
    pub created_at: DbTime,
    pub edited_at: Option<DbTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
