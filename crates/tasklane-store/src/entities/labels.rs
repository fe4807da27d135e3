//! A label of a project; its name is unique per project ignoring case (`name_lower`).

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "labels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub project_id: DbId,
    pub name: String,
    pub name_lower: String,
    pub color: String,
    pub created_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
