//! MySQL/MariaDB only: store exactly what crcm accepts. Every table gets the
//! `utf8mb4` character set (emoji and every other character, whatever the
//! database's default) with the binary collation `utf8mb4_bin` (codes that
//! differ by case or accent are different codes, and filters compare exactly,
//! as on the other backends); record bodies become `LONGTEXT` (a `TEXT`
//! column holds 64 KB, less than a lead at its limits with its history).
//! Other backends: nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Character set, collation and body size on MySQL/MariaDB.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000003_mysql_text"
    }
}

const TABLES: [&str; 15] = [
    "crcm_meta",
    "crcm_config",
    "crcm_phases",
    "crcm_stages",
    "crcm_sequences",
    "crcm_customers",
    "crcm_leads",
    "crcm_lead_tags",
    "crcm_deals",
    "crcm_activities",
    "crcm_follow_ups",
    "crcm_communications",
    "crcm_history",
    "crcm_events",
    "crcm_lookup_keys",
];

const WITH_BODY: [&str; 9] = [
    "crcm_config",
    "crcm_customers",
    "crcm_leads",
    "crcm_deals",
    "crcm_activities",
    "crcm_follow_ups",
    "crcm_communications",
    "crcm_history",
    "crcm_events",
];

/// The foreign keys of format 1: (table, column, referenced table, cascade).
const FOREIGN_KEYS: [(&str, &str, &str, bool); 5] = [
    ("crcm_leads", "customer_id", "crcm_customers", false),
    ("crcm_lead_tags", "lead_id", "crcm_leads", true),
    ("crcm_deals", "lead_id", "crcm_leads", false),
    ("crcm_deals", "customer_id", "crcm_customers", false),
    ("crcm_communications", "lead_id", "crcm_leads", false),
];

async fn convert<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    // MariaDB refuses to change the collation of a column a foreign key
    // joins, even with the checks off: drop the keys, convert, add them back.
    for (table, column, _, _) in FOREIGN_KEYS {
        db.execute_unprepared(&format!("ALTER TABLE `{table}` DROP FOREIGN KEY `{table}_{column}_fk`"))
            .await?;
    }
    for table in TABLES {
        db.execute_unprepared(&format!(
            "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await?;
    }
    for table in WITH_BODY {
        db.execute_unprepared(&format!(
            "ALTER TABLE `{table}` MODIFY `body` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
        ))
        .await?;
    }
    for (table, column, to, cascade) in FOREIGN_KEYS {
        let on_delete = if cascade { " ON DELETE CASCADE" } else { "" };
        db.execute_unprepared(&format!(
            "ALTER TABLE `{table}` ADD CONSTRAINT `{table}_{column}_fk` FOREIGN KEY (`{column}`) REFERENCES `{to}` (`id`){on_delete}"
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::MySql {
            return Ok(());
        }
        convert(db).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Going back to TEXT could truncate bodies; the wider columns stay.
        Ok(())
    }
}
