//! A user: the email, its lower-cased form (unique), the profile and the password hash.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub email: String,
    #[sea_orm(unique)]
    pub email_lower: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub password_hash: String,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
