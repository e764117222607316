//! Duplicate keys and closing time: `crcm_leads.company_contact` (a lead's
//! company and contact name, for "same company and contact" duplicates),
//! `crcm_leads.closed_at` (when the lead closed, for the reasons report; rows
//! of leads closed before crcm recorded it stay empty), both indexed, and the term
//! rows of every e-mail and phone a customer is reached at, its contact
//! persons' included, so an inbound call from a contact person finds the
//! customer; and deals' sort columns (`expected_close`, `value_key`, indexed)
//! and search words. Existing rows are filled from their JSON bodies.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tables::{index, t};
use crate::QueryColumns;

/// The lead columns this migration adds (migration 4 adds them too when
/// this build runs it): the duplicate key and when the lead closed.
pub(super) fn lead_columns() -> [ColumnDef; 2] {
    [
        ColumnDef::new(t("company_contact")).string_len(255).null().to_owned(),
        ColumnDef::new(t("closed_at")).big_integer().null().to_owned(),
    ]
}

/// The deal sort columns this migration adds (migration 4 too, as above):
/// expected close date and value as keys, missing ones as the largest key.
pub(super) fn deal_columns() -> [ColumnDef; 2] {
    let key = |name: &str| {
        ColumnDef::new(t(name))
            .big_integer()
            .not_null()
            .default(i64::MAX)
            .to_owned()
    };
    [key("expected_close"), key("value_key")]
}

/// Rewrites the duplicate keys and term rows of every stored lead,
/// customer and deal from their JSON bodies ([`QueryColumns::refill`]).
pub(super) async fn refill_all(c: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    for (table, kind) in [
        ("crcm_leads", QueryColumns::Lead),
        ("crcm_customers", QueryColumns::Customer),
        ("crcm_deals", QueryColumns::Deal),
    ] {
        let select = Query::select().columns([t("id"), t("body")]).from(t(table)).to_owned();
        for row in c.query_all(&select).await? {
            let id: String = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            kind.refill(c, &id, &body).await?;
        }
    }
    Ok(())
}

/// Adds the column and index and fills both keys.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000007_duplicate_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in [("crcm_leads", lead_columns()), ("crcm_deals", deal_columns())] {
            for column in columns {
                let name = column.get_column_name();
                if !m.has_column(table, &name).await? {
                    m.alter_table(Table::alter().table(t(table)).add_column(column).to_owned())
                        .await?;
                }
            }
        }
        m.create_index(index("crcm_leads", "company_contact", &["company_contact"]))
            .await?;
        m.create_index(index("crcm_leads", "closed_at", &["closed_at"])).await?;
        m.create_index(index("crcm_deals", "expected_close", &["expected_close"]))
            .await?;
        m.create_index(index("crcm_deals", "value_key", &["value_key"])).await?;
        refill_all(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [
            ("crcm_leads", "company_contact"),
            ("crcm_leads", "closed_at"),
            ("crcm_deals", "expected_close"),
            ("crcm_deals", "value_key"),
        ] {
            m.drop_index(Index::drop().name(format!("{table}_{name}")).table(t(table)).to_owned())
                .await?;
            m.alter_table(Table::alter().table(t(table)).drop_column(t(name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
