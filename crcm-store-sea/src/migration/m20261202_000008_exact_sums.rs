//! Sums and comparisons that every backend answers alike.
//!
//! - `crcm_board.value_high`: a board cell keeps its expected revenue in two
//!   64-bit columns, the low 32 bits of each amount in `value` and the rest in
//!   `value_high`, so no number of leads overflows a cell (SQLite has no wider
//!   integer, and an overflowing SQLite sum silently turns into a float). The
//!   cells are then recounted from the leads, which also repairs a cell that
//!   an overflow left wrong.
//! - MySQL/MariaDB: every table moves to a binary collation without padding
//!   (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8), so that
//!   `'north '` no longer equals `'north'`, as on the other backends.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::m20261123_000001_create_tables::t;
use crate::BOARD;
use crcm_core::store::query::MISSING_KEY;

/// Two-part cell sums, recounted cells, and NO PAD collations on MySQL.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000008_exact_sums"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if !m.has_column(BOARD, "value_high").await? {
            m.alter_table(
                Table::alter()
                    .table(t(BOARD))
                    .add_column(ColumnDef::new(t("value_high")).big_integer().not_null().default(0i64))
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        // Recount every cell from the leads' query columns, in two parts.
        db.execute_unprepared(&format!("DELETE FROM {BOARD}")).await?;
        let amount = format!("(CASE WHEN value_minor < {MISSING_KEY} THEN value_minor ELSE 0 END)");
        let sum = |e: String| match db.get_database_backend() {
            DbBackend::Postgres => format!("CAST(SUM({e}) AS BIGINT)"),
            DbBackend::MySql => format!("CAST(SUM({e}) AS SIGNED)"),
            _ => format!("SUM({e})"),
        };
        db.execute_unprepared(&format!(
            "INSERT INTO {BOARD} (account_type, phase, status, owner, currency, count, value, value_high) \
             SELECT account_type, COALESCE(phase, ''), status, owner, COALESCE(currency, ''), COUNT(*), {}, {} \
             FROM crcm_leads GROUP BY account_type, COALESCE(phase, ''), status, owner, COALESCE(currency, '')",
            sum(format!("{amount} & 4294967295")),
            sum(format!("{amount} >> 32")),
        ))
        .await?;
        if db.get_database_backend() == DbBackend::MySql {
            no_pad(db).await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // The cells stay correct with the extra column; the collation stays.
        Ok(())
    }
}

/// Converts every crcm table to the server's NO PAD binary collation; a
/// server without one keeps `utf8mb4_bin`.
async fn no_pad<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let mut collation = None;
    for name in ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"] {
        let found = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::MySql,
                "SELECT COUNT(*) AS n FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?",
                [name.into()],
            ))
            .await?;
        if let Some(row) = found
            && row.try_get::<i64>("", "n")? > 0
        {
            collation = Some(name);
            break;
        }
    }
    let Some(collation) = collation else {
        return Ok(());
    };
    let text = |row: &sea_orm_migration::sea_orm::QueryResult, name: &str| row.try_get::<String>("", name);
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'crcm\\_%'",
        ))
        .await?;
    // MariaDB refuses to change the collation of a column a foreign key
    // joins, even with the checks off: drop every key, convert, add them back.
    let keys = db
        .query_all_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT k.TABLE_NAME AS tab, k.COLUMN_NAME AS col, k.CONSTRAINT_NAME AS name, \
             k.REFERENCED_TABLE_NAME AS ref_tab, k.REFERENCED_COLUMN_NAME AS ref_col, r.DELETE_RULE AS del \
             FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
             ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL",
        ))
        .await?;
    let mut foreign = Vec::with_capacity(keys.len());
    for row in &keys {
        foreign.push([
            text(row, "tab")?,
            text(row, "col")?,
            text(row, "name")?,
            text(row, "ref_tab")?,
            text(row, "ref_col")?,
            text(row, "del")?,
        ]);
    }
    for [tab, _, name, ..] in &foreign {
        db.execute_unprepared(&format!("ALTER TABLE `{tab}` DROP FOREIGN KEY `{name}`"))
            .await?;
    }
    for row in &tables {
        let table = text(row, "name")?;
        db.execute_unprepared(&format!(
            "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"
        ))
        .await?;
    }
    for [tab, col, name, ref_tab, ref_col, del] in &foreign {
        let on_delete = match del.as_str() {
            "CASCADE" => " ON DELETE CASCADE",
            "SET NULL" => " ON DELETE SET NULL",
            _ => "",
        };
        db.execute_unprepared(&format!(
            "ALTER TABLE `{tab}` ADD CONSTRAINT `{name}` FOREIGN KEY (`{col}`) REFERENCES `{ref_tab}` (`{ref_col}`){on_delete}"
        ))
        .await?;
    }
    Ok(())
}
