//! Import provenance: `crcm_leads.import_id` (the id of the import that
//! created a lead), indexed, so reverting an import finds its leads. Leads
//! stored before have none.

use sea_orm_migration::prelude::*;

use super::m20261203_000011_external_refs::{add_indexed_lead_column, drop_indexed_lead_column};

/// Adds the column and its index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000012_import_origin"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// The column: an import's UUID in its 36-character text form.
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_indexed_lead_column(m, "import_id", 36).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_indexed_lead_column(m, "import_id").await
    }
}
