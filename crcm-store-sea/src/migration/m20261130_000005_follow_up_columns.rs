//! The follow-up columns of the workload report: who a follow-up is assigned
//! to and whether it is done, so "overdue per sales person" is one grouped
//! count (`WHERE done = 0 AND due < today GROUP BY assignee`). Existing rows
//! are filled from their JSON bodies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use super::m20261123_000001_create_tables::{index, t};

/// Adds `crcm_follow_ups.assignee` and `done`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000005_follow_up_columns"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ColumnDef::new(t("assignee"))
                .string_len(128)
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(t("done")).big_integer().not_null().default(0).to_owned(),
        ] {
            m.alter_table(Table::alter().table(t("crcm_follow_ups")).add_column(col).to_owned())
                .await?;
        }
        m.create_index(index("crcm_follow_ups", "open_due", &["done", "due"]))
            .await?;
        let c = m.get_connection();
        let select = Query::select()
            .columns([t("id"), t("body")])
            .from(t("crcm_follow_ups"))
            .to_owned();
        for row in c.query_all(&select).await? {
            let id: String = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            let f: crcm_core::domain::activity::FollowUp =
                crate::parse(&body, &id).map_err(|e| DbErr::Migration(e.to_string()))?;
            let update = Query::update()
                .table(t("crcm_follow_ups"))
                .value(t("assignee"), f.assignee.as_str())
                .value(t("done"), i64::from(f.done))
                .and_where(Expr::col(t("id")).eq(id))
                .to_owned();
            c.execute(&update).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["done", "assignee"] {
            m.alter_table(
                Table::alter()
                    .table(t("crcm_follow_ups"))
                    .drop_column(t(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
