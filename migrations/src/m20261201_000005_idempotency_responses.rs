//! An idempotency key's recorded response is only its body: only successful creations are
//! recorded, so the HTTP status the first version kept beside it said nothing, and it was an
//! HTTP detail in the store. A key is in progress while it has no body.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    ResponseStatus,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .drop_column(IdempotencyKeys::ResponseStatus)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .add_column(
                        ColumnDef::new(IdempotencyKeys::ResponseStatus)
                            .small_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
