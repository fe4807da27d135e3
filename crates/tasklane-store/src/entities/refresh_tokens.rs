//! A refresh token (its SHA-256 only), its session (`family_id`), expiry and revocation.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    pub user_id: DbId,
    pub family_id: DbId,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub expires_at: DbTime,
    pub revoked_at: Option<DbTime>,
    pub created_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
