//! A project: its key, name, task counter (the last number handed out) and version.

use sea_orm::entity::prelude::*;

use super::values::{DbId, DbTime};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DbId,
    #[sea_orm(unique)]
    pub key: String,
    pub name: String,
    pub description: String,
    pub task_counter: i64,
    pub row_version: i64,
    pub archived_at: Option<DbTime>,
    pub created_by: DbId,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

/// The joins a project read makes. Written from this side only (SeaORM's `has_one`/`has_many`
/// would need the reverse relation too), so the entities depend on each other one way.
#[derive(Copy, Clone, Debug, EnumIter)]
pub enum Relation {
    /// The project's aggregation row (at most one: its key is the project's id).
    Aggregation,
    /// The project's members.
    Members,
}

impl RelationTrait for Relation {
    fn def(&self) -> RelationDef {
        // `belongs_to` is only SeaORM's builder of a join with its columns given explicitly.
        match self {
            Self::Aggregation => Entity::belongs_to(super::project_aggregations::Entity)
                .from(Column::Id)
                .to(super::project_aggregations::Column::ProjectId)
                .into(),
            Self::Members => Entity::belongs_to(super::project_members::Entity)
                .from(Column::Id)
                .to(super::project_members::Column::ProjectId)
                .into(),
        }
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Related<super::project_aggregations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Aggregation.def()
    }
}
