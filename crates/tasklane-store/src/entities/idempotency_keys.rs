//! A creation's idempotency key: the request's fingerprint and, once done, its response (in progress while it has none).

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: DbId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub project_id: DbId,
    pub request_hash: String,
    pub response_body: Option<String>,
    pub created_at: DbTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
