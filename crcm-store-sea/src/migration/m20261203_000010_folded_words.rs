//! Folded search words: search matches words folded for accents, case and
//! punctuation (`nunez` finds `Ñúñez`, `obrien` finds `O'Brien`; see
//! [`crcm_core::store::query::fold`]). The term rows of every stored lead,
//! customer and deal are written again from their JSON bodies.

use sea_orm_migration::prelude::*;

/// Rewrites the search words of every lead, customer and deal.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000010_folded_words"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        super::m20261201_000007_duplicate_keys::refill_all(m.get_connection()).await
    }

    /// Nothing to undo: an older build reads folded words as words (its
    /// searches simply miss accented text, as before).
    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
