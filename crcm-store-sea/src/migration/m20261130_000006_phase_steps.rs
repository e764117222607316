//! Phase steps (`crcm_phase_steps`): one row per stay of a lead in a phase,
//! for the funnel and time in phase. Existing leads' steps are derived from
//! their history, so the reports cover the past too.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tables::{index, t};
use crate::steps::{STEPS, backfill};

/// Adds `crcm_phase_steps` and fills it from history.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000006_phase_steps"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let big = |name: &str| ColumnDef::new(t(name)).big_integer().not_null().to_owned();
        let optional = |name: &str| ColumnDef::new(t(name)).big_integer().null().to_owned();
        m.create_table(
            Table::create()
                .table(t(STEPS))
                .col(ColumnDef::new(t("lead_id")).string_len(64).not_null())
                .col(ColumnDef::new(t("account_type")).string_len(64).not_null())
                .col(ColumnDef::new(t("phase")).string_len(64).not_null())
                .col(big("lead_created"))
                .col(big("entered_at"))
                .col(optional("left_at"))
                .col(optional("seconds"))
                .col(optional("hours"))
                .primary_key(Index::create().col(t("lead_id")).col(t("phase")).col(t("entered_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(STEPS, "reach", &["account_type", "lead_created"]))
            .await?;
        m.create_index(index(STEPS, "left", &["account_type", "left_at"]))
            .await?;
        backfill(m.get_connection()).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(t(STEPS)).to_owned()).await
    }
}
