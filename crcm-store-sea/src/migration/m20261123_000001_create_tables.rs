//! Format 1: every table, foreign key, unique constraint and index.

use sea_orm_migration::prelude::*;

/// Creates the tables of format 1.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_create_tables"
    }
}

/// A table or column name.
pub(super) fn t(name: &str) -> Alias {
    Alias::new(name)
}

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(t(name)).text().not_null().to_owned()
}

fn key(name: &str) -> ColumnDef {
    ColumnDef::new(t(name)).string_len(64).not_null().to_owned()
}

fn short(name: &str, null: bool) -> ColumnDef {
    let mut c = ColumnDef::new(t(name));
    c.string_len(255);
    if !null {
        c.not_null();
    }
    c
}

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(t(name)).big_integer().not_null().to_owned()
}

/// A named index of `table` over `cols`.
pub(super) fn index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("{table}_{name}")).table(t(table));
    for c in cols {
        i.col(t(c));
    }
    i.to_owned()
}

fn fk(from: &str, col: &str, to: &str, cascade: bool) -> ForeignKeyCreateStatement {
    let mut f = ForeignKey::create();
    f.name(format!("{from}_{col}_fk"))
        .from(t(from), t(col))
        .to(t(to), t("id"));
    if cascade {
        f.on_delete(ForeignKeyAction::Cascade);
    }
    f.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("crcm_meta"))
                .col(key("key").primary_key())
                .col(short("value", false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_config"))
                .col(ColumnDef::new(t("id")).integer().not_null().primary_key())
                .col(big("version"))
                .col(text("body"))
                .to_owned(),
        )
        .await?;
        // The phases and stages of the configuration, one row each, rewritten
        // with every configuration change: SQL reports can join them, and the
        // keys back the configuration's own uniqueness rules.
        m.create_table(
            Table::create()
                .table(t("crcm_phases"))
                .col(key("account_type"))
                .col(key("code"))
                .col(text("description"))
                .col(short("phase_type", false))
                .col(big("order_no"))
                .primary_key(Index::create().col(t("account_type")).col(t("code")))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("crcm_phases_order")
                .table(t("crcm_phases"))
                .col(t("account_type"))
                .col(t("order_no"))
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_stages"))
                .col(key("pipeline"))
                .col(key("code"))
                .col(text("name"))
                .col(short("kind", false))
                .col(big("position"))
                .col(big("probability"))
                .primary_key(Index::create().col(t("pipeline")).col(t("code")))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_sequences"))
                .col(key("name").primary_key())
                .col(big("value"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_customers"))
                .col(key("id").primary_key())
                .col(big("version"))
                .col(short("email", true))
                .col(short("phone", true))
                .col(text("body"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_leads"))
                .col(key("id").primary_key())
                .col(big("number").unique_key())
                .col(big("version"))
                .col(short("status", false))
                .col(short("owner", false))
                .col(short("account_type", false))
                .col(short("phase", true))
                .col(short("source", true))
                .col(short("priority", true))
                .col(short("zone", false))
                .col(short("email", true))
                .col(short("phone", true))
                .col(short("customer_id", true))
                .col(short("closing_reason", true))
                .col(short("lost_reason", true))
                .col(big("updated_at"))
                .col(text("body"))
                .foreign_key(&mut fk("crcm_leads", "customer_id", "crcm_customers", false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_lead_tags"))
                .col(key("lead_id"))
                .col(key("tag"))
                .primary_key(Index::create().col(t("lead_id")).col(t("tag")))
                .foreign_key(&mut fk("crcm_lead_tags", "lead_id", "crcm_leads", true))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_deals"))
                .col(key("id").primary_key())
                .col(big("version"))
                .col(ColumnDef::new(t("lead_id")).string_len(64).null())
                .col(key("customer_id"))
                .col(key("pipeline"))
                .col(key("stage"))
                .col(short("status", false))
                .col(short("lost_reason", true))
                .col(short("owner", false))
                .col(text("body"))
                .foreign_key(&mut fk("crcm_deals", "lead_id", "crcm_leads", false))
                .foreign_key(&mut fk("crcm_deals", "customer_id", "crcm_customers", false))
                .to_owned(),
        )
        .await?;
        for (table, time) in [("crcm_activities", "occurred_at"), ("crcm_follow_ups", "due")] {
            let mut c = Table::create();
            c.table(t(table))
                .col(key("id").primary_key())
                .col(big("version"))
                .col(short("subject", false));
            if time == "due" {
                c.col(key("due"));
            } else {
                c.col(big(time));
            }
            m.create_table(c.col(text("body")).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(t("crcm_communications"))
                .col(key("id").primary_key())
                .col(big("version"))
                .col(ColumnDef::new(t("lead_id")).string_len(64).null())
                .col(big("received_at"))
                .col(text("body"))
                .foreign_key(&mut fk("crcm_communications", "lead_id", "crcm_leads", false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_history"))
                .col(key("entity_kind"))
                .col(key("entity_id"))
                .col(big("version"))
                .col(text("body"))
                .primary_key(
                    Index::create()
                        .col(t("entity_kind"))
                        .col(t("entity_id"))
                        .col(t("version")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("crcm_events"))
                .col(ColumnDef::new(t("seq")).big_integer().not_null().primary_key())
                .col(text("body"))
                .to_owned(),
        )
        .await?;
        // The indexes the lead and deal filters use.
        for (name, cols) in [
            ("status", &["status"][..]),
            ("owner", &["owner"]),
            ("phase", &["phase"]),
            ("source", &["source"]),
            ("priority", &["priority"]),
            ("zone", &["zone"]),
            ("email", &["email"]),
            ("phone", &["phone"]),
            ("customer", &["customer_id"]),
            ("closing_reason", &["closing_reason"]),
            ("lost_reason", &["lost_reason"]),
            ("updated_at", &["updated_at"]),
        ] {
            m.create_index(index("crcm_leads", name, cols)).await?;
        }
        m.create_index(index("crcm_lead_tags", "tag", &["tag"])).await?;
        m.create_index(index("crcm_customers", "email", &["email"])).await?;
        m.create_index(index("crcm_customers", "phone", &["phone"])).await?;
        for (name, cols) in [
            ("lead", &["lead_id"][..]),
            ("customer", &["customer_id"]),
            ("stage", &["pipeline", "stage"]),
            ("status", &["status"]),
            ("owner", &["owner"]),
        ] {
            m.create_index(index("crcm_deals", name, cols)).await?;
        }
        m.create_index(index("crcm_activities", "subject", &["subject"]))
            .await?;
        m.create_index(index("crcm_follow_ups", "subject", &["subject"]))
            .await?;
        m.create_index(index("crcm_communications", "lead", &["lead_id"]))
            .await?;
        let seed = Query::insert()
            .into_table(t("crcm_sequences"))
            .columns([t("name"), t("value")])
            .values(["lead".into(), 0i64.into()])
            .and_then(|q| q.values(["event".into(), 0i64.into()]))
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        m.exec_stmt(seed).await?;
        let format = Query::insert()
            .into_table(t("crcm_meta"))
            .columns([t("key"), t("value")])
            .values(["format".into(), "1".into()])
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        m.exec_stmt(format).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "crcm_events",
            "crcm_history",
            "crcm_communications",
            "crcm_follow_ups",
            "crcm_activities",
            "crcm_deals",
            "crcm_lead_tags",
            "crcm_leads",
            "crcm_customers",
            "crcm_sequences",
            "crcm_stages",
            "crcm_phases",
            "crcm_config",
            "crcm_meta",
        ] {
            m.drop_table(Table::drop().table(t(table)).to_owned()).await?;
        }
        Ok(())
    }
}
