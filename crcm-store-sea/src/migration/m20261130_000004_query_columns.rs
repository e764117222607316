//! The read side: the columns, tables and indexes that let every lead,
//! customer and communication list be answered by the database (WHERE, ORDER
//! BY and LIMIT on indexed columns).
//!
//! - `crcm_leads` gains its sort keys (`created_at`, `expected_close`,
//!   `value_minor`, `phase_entered_at`; a missing date or value is stored as
//!   the largest key) and `missing_mask`, one bit per value a lead can lack;
//! - `crcm_lead_fields` lists the custom fields each lead has a value for;
//! - `crcm_search_words` holds the search words of leads and customers; the
//!   word column compares bytes (`COLLATE "C"` on PostgreSQL, `utf8mb4_bin`
//!   on MySQL, SQLite's default), so a prefix is one index range;
//! - `crcm_leads.currency`, and `crcm_deals.value_minor`, `currency` and
//!   `probability` for grouped sums;
//! - `crcm_board`: the board cells (leads per account type, phase, status,
//!   owner and currency, with their summed expected revenue), kept by every
//!   unit of work that writes a lead;
//! - `crcm_customers.owner` and `crcm_communications.status`;
//! - composite indexes for the lists users open every day.
//!
//! Existing rows are filled from their JSON bodies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use super::m20261123_000001_create_tables::{index, t};
use crate::{BOARD, QueryColumns, SEARCH_WORDS};

/// Adds the read side's columns, tables and indexes.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000004_query_columns"
    }
}

fn add(table: &str, col: ColumnDef) -> TableAlterStatement {
    Table::alter().table(t(table)).add_column(col).to_owned()
}

fn big(name: &str, default: i64) -> ColumnDef {
    ColumnDef::new(t(name))
        .big_integer()
        .not_null()
        .default(default)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        for col in [
            big("created_at", 0),
            big("expected_close", i64::MAX),
            big("value_minor", i64::MAX),
            big("phase_entered_at", 0),
            big("missing_mask", 0),
        ] {
            m.alter_table(add("crcm_leads", col)).await?;
        }
        m.alter_table(add(
            "crcm_leads",
            ColumnDef::new(t("currency")).string_len(8).null().to_owned(),
        ))
        .await?;
        // Added here for a database this build creates, by migration 7 for
        // one an earlier build brought to this migration.
        for column in super::m20261201_000007_duplicate_keys::lead_columns() {
            m.alter_table(add("crcm_leads", column)).await?;
        }
        for col in [big("value_minor", 0), big("probability", 0)] {
            m.alter_table(add("crcm_deals", col)).await?;
        }
        for column in super::m20261201_000007_duplicate_keys::deal_columns() {
            m.alter_table(add("crcm_deals", column)).await?;
        }
        m.alter_table(add(
            "crcm_deals",
            ColumnDef::new(t("currency")).string_len(8).null().to_owned(),
        ))
        .await?;
        m.alter_table(add(
            "crcm_customers",
            ColumnDef::new(t("owner"))
                .string_len(255)
                .not_null()
                .default("")
                .to_owned(),
        ))
        .await?;
        m.alter_table(add(
            "crcm_communications",
            ColumnDef::new(t("status"))
                .string_len(32)
                .not_null()
                .default("new")
                .to_owned(),
        ))
        .await?;

        let mut fields = Table::create();
        fields
            .table(t("crcm_lead_fields"))
            .col(ColumnDef::new(t("lead_id")).string_len(64).not_null())
            .col(ColumnDef::new(t("name")).string_len(64).not_null())
            .primary_key(Index::create().col(t("lead_id")).col(t("name")))
            .foreign_key(
                ForeignKey::create()
                    .name("crcm_lead_fields_lead_id_fk")
                    .from(t("crcm_lead_fields"), t("lead_id"))
                    .to(t("crcm_leads"), t("id"))
                    .on_delete(ForeignKeyAction::Cascade),
            );
        let mut word = ColumnDef::new(t("word"));
        word.string_len(255).not_null();
        if backend == DbBackend::Postgres {
            word.extra("COLLATE \"C\"");
        }
        let mut words = Table::create();
        words
            .table(t(SEARCH_WORDS))
            .col(ColumnDef::new(t("kind")).string_len(1).not_null())
            .col(ColumnDef::new(t("id")).string_len(64).not_null())
            .col(word)
            .primary_key(Index::create().col(t("kind")).col(t("id")).col(t("word")));
        let key = |name: &str, len: u32| ColumnDef::new(t(name)).string_len(len).not_null().to_owned();
        let mut board = Table::create();
        board
            .table(t(BOARD))
            .col(key("account_type", 64))
            .col(key("phase", 160))
            .col(key("status", 32))
            .col(key("owner", 128))
            .col(key("currency", 8))
            .col(big("count", 0))
            .col(big("value", 0))
            // Added by migration 8; created here too, so that this
            // migration's backfill writes cells as the current code does.
            .col(big("value_high", 0))
            .primary_key(
                Index::create()
                    .col(t("account_type"))
                    .col(t("phase"))
                    .col(t("status"))
                    .col(t("owner"))
                    .col(t("currency")),
            );
        if backend == DbBackend::MySql {
            for table in [&mut fields, &mut words, &mut board] {
                table.character_set("utf8mb4").collate("utf8mb4_bin");
            }
        }
        m.create_table(fields.to_owned()).await?;
        m.create_table(words.to_owned()).await?;
        m.create_table(board.to_owned()).await?;

        for (table, name, cols) in [
            ("crcm_lead_fields", "name", &["name", "lead_id"][..]),
            (SEARCH_WORDS, "word", &["kind", "word", "id"]),
            ("crcm_leads", "owner_number", &["owner", "number"]),
            ("crcm_leads", "status_number", &["status", "number"]),
            ("crcm_leads", "type_phase_number", &["account_type", "phase", "number"]),
            ("crcm_leads", "phase_entered", &["phase", "phase_entered_at"]),
            ("crcm_leads", "created_at", &["created_at"]),
            ("crcm_leads", "expected_close", &["expected_close"]),
            ("crcm_customers", "owner", &["owner"]),
            ("crcm_communications", "status", &["status", "received_at"]),
        ] {
            m.create_index(index(table, name, cols)).await?;
        }
        backfill(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [BOARD, SEARCH_WORDS, "crcm_lead_fields"] {
            m.drop_table(Table::drop().table(t(table)).to_owned()).await?;
        }
        Ok(())
    }
}

/// Fills the new columns and tables of rows written before this migration.
async fn backfill<C: ConnectionTrait>(c: &C) -> Result<(), DbErr> {
    for (table, kind) in [
        ("crcm_leads", QueryColumns::Lead),
        ("crcm_customers", QueryColumns::Customer),
        ("crcm_deals", QueryColumns::Deal),
        ("crcm_communications", QueryColumns::Communication),
    ] {
        let select = Query::select().columns([t("id"), t("body")]).from(t(table)).to_owned();
        for row in c.query_all(&select).await? {
            let id: String = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            kind.backfill(c, &id, &body).await?;
        }
    }
    Ok(())
}
