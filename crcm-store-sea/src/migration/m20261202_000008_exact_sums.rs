//! Sums and comparisons that every backend answers alike.
//!
//! - `crcm_board.value_high`: a board cell keeps its expected revenue in two
//!   64-bit columns, the low 32 bits of each amount in `value` and the rest in
//!   `value_high`, so no number of leads overflows a cell (SQLite has no wider
//!   integer, and an overflowing SQLite sum silently turns into a float). The
//!   cells are then recounted from the leads, which also repairs a cell that
//!   an overflow left wrong.
//! - Phase steps are rebuilt from the leads' history, deleted leads included:
//!   a deletion now ends the lead's stay in its phase.
//! - MySQL/MariaDB: every table moves to a binary collation without padding
//!   (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8), so that
//!   `'north '` no longer equals `'north'`, as on the other backends.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::m20261123_000001_create_tables::t;
use crate::BOARD;

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
        db.execute_unprepared(&format!(
            "INSERT INTO {BOARD} (account_type, phase, status, owner, currency, count, value, value_high) {}",
            crate::select::recount_cells_sql(db.get_database_backend())
        ))
        .await?;
        rebuild_steps(db).await?;
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

/// Rebuilds every phase step from the leads' history, deleted leads
/// included: a deletion ends the lead's stay, as a unit of work now records
/// it (an older build left the stay open, or wrote no steps for leads
/// deleted before steps existed).
async fn rebuild_steps<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    use crcm_core::domain::history::HistoryEntry;
    use crcm_core::domain::ids::LeadId;
    use crcm_core::store::steps::PhaseStep;
    db.execute_unprepared(&format!("DELETE FROM {}", crate::steps::STEPS))
        .await?;
    let backend = db.get_database_backend();
    let leads = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT DISTINCT entity_id FROM crcm_history WHERE entity_kind = 'lead'".to_owned(),
        ))
        .await?;
    for row in leads {
        let id: String = row.try_get("", "entity_id")?;
        let select = Query::select()
            .column(t("body"))
            .from(t("crcm_history"))
            .and_where(Expr::col(t("entity_kind")).eq("lead"))
            .and_where(Expr::col(t("entity_id")).eq(id.as_str()))
            .order_by(t("version"), Order::Asc)
            .to_owned();
        let mut entries: Vec<HistoryEntry> = Vec::new();
        for h in db.query_all(&select).await? {
            let body: String = h.try_get("", "body")?;
            entries.push(crate::parse(&body, &id).map_err(|e| DbErr::Migration(e.to_string()))?);
        }
        let uuid = id
            .parse::<uuid::Uuid>()
            .map_err(|e| DbErr::Migration(format!("lead id {id:?}: {e}")))?;
        crate::steps::write_steps(db, &PhaseStep::replay(LeadId(uuid), &entries)).await?;
    }
    Ok(())
}

/// crcm's foreign keys: (table, column, referenced table, on delete cascade).
const FOREIGN_KEYS: [(&str, &str, &str, bool); 6] = [
    ("crcm_leads", "customer_id", "crcm_customers", false),
    ("crcm_lead_tags", "lead_id", "crcm_leads", true),
    ("crcm_deals", "lead_id", "crcm_leads", false),
    ("crcm_deals", "customer_id", "crcm_customers", false),
    ("crcm_communications", "lead_id", "crcm_leads", false),
    ("crcm_lead_fields", "lead_id", "crcm_leads", true),
];

/// Whether a foreign key named `name` exists on `table` in this database.
async fn has_key<C: ConnectionTrait>(db: &C, table: &str, name: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT COUNT(*) AS n FROM information_schema.TABLE_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = ? \
             AND CONSTRAINT_TYPE = 'FOREIGN KEY'",
            [table.into(), name.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "n")? > 0,
        None => false,
    })
}

/// Converts every crcm table to the server's NO PAD binary collation; a
/// server without one keeps `utf8mb4_bin`. Safe to run again after a failure
/// part way (MySQL does not roll back schema changes): each step first looks
/// at what is there, and crcm's own foreign keys (a fixed list; the
/// application's tables and keys are never touched) are added back where
/// missing.
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
    let tables = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'crcm\\_%' AND TABLE_COLLATION <> ?",
            [collation.into()],
        ))
        .await?;
    if !tables.is_empty() {
        // MariaDB refuses to change the collation of a column a foreign key
        // joins, even with the checks off: drop crcm's keys, convert, add
        // them back.
        for (table, column, _, _) in FOREIGN_KEYS {
            let name = format!("{table}_{column}_fk");
            if has_key(db, table, &name).await? {
                db.execute_unprepared(&format!("ALTER TABLE `{table}` DROP FOREIGN KEY `{name}`"))
                    .await?;
            }
        }
        for row in &tables {
            let table = row.try_get::<String>("", "name")?;
            db.execute_unprepared(&format!(
                "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"
            ))
            .await?;
        }
    }
    for (table, column, to, cascade) in FOREIGN_KEYS {
        let name = format!("{table}_{column}_fk");
        if !has_key(db, table, &name).await? {
            let on_delete = if cascade { " ON DELETE CASCADE" } else { "" };
            db.execute_unprepared(&format!(
                "ALTER TABLE `{table}` ADD CONSTRAINT `{name}` FOREIGN KEY (`{column}`) REFERENCES `{to}` (`id`){on_delete}"
            ))
            .await?;
        }
    }
    Ok(())
}
