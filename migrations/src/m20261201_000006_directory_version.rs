//! The user directory's version: one row whose counter every profile change bumps in its own
//! transaction. Task listings show their assignees' and reporters' names and avatars, which no
//! project event covers, so a listing's `ETag` is the project's event sequence and this version.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden, Clone, Copy)]
enum DirectoryVersion {
    Table,
    Id,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryVersion::Table)
                    // One row, id 1: a second could only split the version in two.
                    .col(
                        ColumnDef::new(DirectoryVersion::Id)
                            .small_integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(DirectoryVersion::Id).eq(1)),
                    )
                    .col(
                        ColumnDef::new(DirectoryVersion::Version)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(DirectoryVersion::Version).gte(0)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(DirectoryVersion::Table)
                    .columns([DirectoryVersion::Id, DirectoryVersion::Version])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DirectoryVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;
