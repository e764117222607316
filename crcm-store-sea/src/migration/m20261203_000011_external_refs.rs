//! External references: `crcm_leads.external_ref` (a lead's `system:id` in
//! the system it came from), indexed, so an import run again finds its
//! leads by reference. Leads stored before have none.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tables::{index, t};

/// The column: `system:id`, at most a 64-character code, `:` and a
/// 128-character id.
fn column() -> ColumnDef {
    ColumnDef::new(t("external_ref")).string_len(200).null().to_owned()
}

/// Adds the column and its index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000011_external_refs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if !m.has_column("crcm_leads", "external_ref").await? {
            m.alter_table(Table::alter().table(t("crcm_leads")).add_column(column()).to_owned())
                .await?;
        }
        m.create_index(index("crcm_leads", "external_ref", &["external_ref"]))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("crcm_leads_external_ref")
                .table(t("crcm_leads"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(t("crcm_leads"))
                .drop_column(t("external_ref"))
                .to_owned(),
        )
        .await
    }
}
