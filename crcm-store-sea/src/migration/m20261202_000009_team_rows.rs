//! Team rows: each lead's record team and each deal's team as term rows of
//! `crcm_search_words` (kinds `t` and `u`, one user id per row), so a read
//! scoped to what an actor sees ("owned by one of these users, or with this
//! user on the team") runs in SQL. Existing leads and deals are filled from
//! their JSON bodies.

use sea_orm_migration::prelude::*;

use super::m20261123_000001_create_tables::t;
use crate::QueryColumns;

/// Fills the team rows of every stored lead and deal.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000009_team_rows"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = m.get_connection();
        for (table, kind) in [("crcm_leads", QueryColumns::Lead), ("crcm_deals", QueryColumns::Deal)] {
            let select = Query::select().columns([t("id"), t("body")]).from(t(table)).to_owned();
            for row in c.query_all(&select).await? {
                let id: String = row.try_get("", "id")?;
                let body: String = row.try_get("", "body")?;
                crate::select::refill_team(c, kind, &id, &body).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let delete = Query::delete()
            .from_table(t(crate::SEARCH_WORDS))
            .and_where(Expr::col(t("kind")).is_in(["t", "u"]))
            .to_owned();
        m.get_connection().execute(&delete).await?;
        Ok(())
    }
}
