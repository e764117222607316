//! External references: `crcm_leads.external_ref` (a lead's `system:id` in
//! the system it came from), indexed, so an import run again finds its
//! leads by reference. Leads stored before have none.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tables::{index, t};

/// Adds a nullable text column of at most `len` characters to `crcm_leads`
/// (unless it is there) and an index on it named `crcm_leads_{name}`.
pub(super) async fn add_indexed_lead_column(m: &SchemaManager<'_>, name: &str, len: u32) -> Result<(), DbErr> {
    if !m.has_column("crcm_leads", name).await? {
        let column = ColumnDef::new(t(name)).string_len(len).null().to_owned();
        m.alter_table(Table::alter().table(t("crcm_leads")).add_column(column).to_owned())
            .await?;
    }
    m.create_index(index("crcm_leads", name, &[name])).await
}

/// Drops what [`add_indexed_lead_column`] added.
pub(super) async fn drop_indexed_lead_column(m: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    m.drop_index(
        Index::drop()
            .name(format!("crcm_leads_{name}"))
            .table(t("crcm_leads"))
            .to_owned(),
    )
    .await?;
    m.alter_table(Table::alter().table(t("crcm_leads")).drop_column(t(name)).to_owned())
        .await
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
    /// The column: `system:id`, at most a 64-character code, `:` and a
    /// 128-character id.
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_indexed_lead_column(m, "external_ref", 200).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_indexed_lead_column(m, "external_ref").await
    }
}
