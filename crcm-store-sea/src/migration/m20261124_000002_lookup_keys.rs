//! The versions of lookup keys, which guard decisions that read a set of
//! records through a query (see `crcm_core::store::record::lookup`).

use sea_orm_migration::prelude::*;

/// Creates `crcm_lookup_keys`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000002_lookup_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("crcm_lookup_keys"))
                .if_not_exists()
                // A prefix and an e-mail of at most 254 characters, or a UUID.
                .col(
                    ColumnDef::new(Alias::new("name"))
                        .string_len(300)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Alias::new("version")).big_integer().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("crcm_lookup_keys")).to_owned())
            .await
    }
}
