//! Phase steps in SQL: `crcm_phase_steps` holds one row per stay of a lead in
//! a phase (crcm-core's [`PhaseStep`]), written in the unit of work that
//! moved the lead, so the funnel and time in phase are one `GROUP BY` each.

use crcm_core::domain::ids::{Code, LeadId};
use crcm_core::store::query::{TimeRange, Visible};
use crcm_core::store::steps::PhaseStep;
use crcm_core::store::tally::TallyRow;
use sea_orm::sea_query::{Alias, Asterisk, Cond, Expr, ExprTrait, Func, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr};

/// The table.
pub(crate) const STEPS: &str = "crcm_phase_steps";

fn t(name: &str) -> Alias {
    Alias::new(name)
}

fn col(name: &str) -> Expr {
    Expr::col(t(name))
}

/// Writes steps, each replacing the row with its key (lead, phase, entered).
pub(crate) async fn write_steps<C: ConnectionTrait>(c: &C, steps: &[PhaseStep]) -> Result<(), DbErr> {
    for s in steps {
        let lead = s.lead.0.to_string();
        let entered = s.entered_at.timestamp_micros();
        let delete = Query::delete()
            .from_table(t(STEPS))
            .and_where(col("lead_id").eq(lead.as_str()))
            .and_where(col("phase").eq(s.phase.code.as_str()))
            .and_where(col("entered_at").eq(entered))
            .to_owned();
        c.execute(&delete).await?;
        let mut insert = Query::insert();
        insert.into_table(t(STEPS)).columns(
            [
                "lead_id",
                "account_type",
                "phase",
                "lead_created",
                "entered_at",
                "left_at",
                "seconds",
                "hours",
            ]
            .map(t),
        );
        insert
            .values([
                lead.into(),
                s.phase.account_type.as_str().into(),
                s.phase.code.as_str().into(),
                s.lead_created.timestamp_micros().into(),
                entered.into(),
                s.left_at.map(|l| l.timestamp_micros()).into(),
                s.seconds().into(),
                s.hours().into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        c.execute(&insert).await?;
    }
    Ok(())
}

fn in_range(column: &str, range: &TimeRange) -> Cond {
    let (from, before) = range.micros();
    let mut cond = Cond::all();
    if let Some(f) = from {
        cond = cond.add(col(column).gte(f));
    }
    if let Some(b) = before {
        cond = cond.add(col(column).lt(b));
    }
    cond
}

/// The funnel: distinct leads per phase, of the leads of `account_type`
/// created in `created`.
pub(crate) async fn reach<C: ConnectionTrait>(
    c: &C,
    account_type: &Code,
    created: &TimeRange,
    visible: Option<&Visible>,
) -> Result<Vec<TallyRow>, DbErr> {
    let q = Query::select()
        .expr_as(col("phase"), t("g0"))
        .expr_as(Func::count_distinct(col("lead_id")), t("n"))
        .from(t(STEPS))
        .cond_where(
            Cond::all()
                .add(col("account_type").eq(account_type.as_str()))
                .add(in_range("lead_created", created))
                .add_option(visible.map(seen_leads)),
        )
        .group_by_col(t("phase"))
        .to_owned();
    let mut out = Vec::new();
    for row in c.query_all(&q).await? {
        let n: i64 = row.try_get("", "n")?;
        out.push(TallyRow {
            key: vec![Some(row.try_get::<String>("", "g0")?)],
            count: u64::try_from(n).unwrap_or(0),
            value: 0,
            weighted: 0,
        });
    }
    out.sort();
    Ok(out)
}

/// Time in phase: stays of `account_type` that ended in `left`, per phase
/// and whole hours, with their seconds.
pub(crate) async fn time<C: ConnectionTrait>(
    c: &C,
    account_type: &Code,
    left: &TimeRange,
    visible: Option<&Visible>,
) -> Result<Vec<TallyRow>, DbErr> {
    let sum: Expr = Func::sum(col("seconds")).into();
    let sum = match c.get_database_backend() {
        sea_orm::DbBackend::Postgres => sum.cast_as(t("BIGINT")),
        sea_orm::DbBackend::MySql => sum.cast_as(t("SIGNED")),
        _ => sum,
    };
    let q = Query::select()
        .expr_as(col("phase"), t("g0"))
        .expr_as(col("hours"), t("g1"))
        .expr_as(Func::count(Expr::col(Asterisk)), t("n"))
        .expr_as(sum, t("v"))
        .from(t(STEPS))
        .cond_where(
            Cond::all()
                .add(col("account_type").eq(account_type.as_str()))
                .add(col("left_at").is_not_null())
                .add(in_range("left_at", left))
                .add_option(visible.map(seen_leads)),
        )
        .group_by_col(t("phase"))
        .group_by_col(t("hours"))
        .to_owned();
    let mut out = Vec::new();
    for row in c.query_all(&q).await? {
        let n: i64 = row.try_get("", "n")?;
        let hours: Option<i64> = row.try_get("", "g1")?;
        out.push(TallyRow {
            key: vec![
                Some(row.try_get::<String>("", "g0")?),
                Some(hours.unwrap_or(0).to_string()),
            ],
            count: u64::try_from(n).unwrap_or(0),
            value: i128::from(row.try_get::<Option<i64>>("", "v")?.unwrap_or(0)),
            weighted: 0,
        });
    }
    out.sort();
    Ok(out)
}

/// Fills the steps of existing leads from their history, a page of leads at
/// a time (for the migration that adds the table).
pub(crate) async fn backfill<C: ConnectionTrait>(c: &C) -> Result<u64, DbErr> {
    const PAGE: u64 = 500;
    let mut after = String::new();
    let mut written = 0;
    loop {
        let ids = Query::select()
            .column(t("id"))
            .from(t("crcm_leads"))
            .and_where(col("id").gt(after.as_str()))
            .order_by(t("id"), sea_orm::Order::Asc)
            .limit(PAGE)
            .to_owned();
        let ids: Vec<String> = c
            .query_all(&ids)
            .await?
            .iter()
            .map(|r| r.try_get::<String>("", "id"))
            .collect::<Result<_, _>>()?;
        let Some(last) = ids.last() else {
            return Ok(written);
        };
        after = last.clone();
        let history = Query::select()
            .columns([t("entity_id"), t("body")])
            .from(t("crcm_history"))
            .and_where(col("entity_kind").eq("lead"))
            .and_where(col("entity_id").is_in(ids.iter().map(String::as_str)))
            .order_by(t("entity_id"), sea_orm::Order::Asc)
            .order_by(t("version"), sea_orm::Order::Asc)
            .to_owned();
        let mut by_lead: std::collections::BTreeMap<String, Vec<crcm_core::domain::history::HistoryEntry>> =
            std::collections::BTreeMap::new();
        for row in c.query_all(&history).await? {
            let id: String = row.try_get("", "entity_id")?;
            let body: String = row.try_get("", "body")?;
            let entry = crate::parse(&body, &id).map_err(|e| DbErr::Migration(e.to_string()))?;
            by_lead.entry(id).or_default().push(entry);
        }
        for (id, entries) in by_lead {
            let lead: LeadId = id
                .parse::<uuid::Uuid>()
                .map(LeadId)
                .map_err(|e| DbErr::Migration(format!("lead id {id}: {e}")))?;
            let steps = PhaseStep::replay(lead, &entries);
            written += steps.len() as u64;
            write_steps(c, &steps).await?;
        }
    }
}

/// Steps of the leads an actor sees (a deleted lead's steps are left out).
fn seen_leads(v: &Visible) -> SimpleExpr {
    col("lead_id").in_subquery(
        Query::select()
            .column(t("id"))
            .from(t("crcm_leads"))
            .cond_where(crate::select::visible_cond(crate::select::LEAD_TEAM, v))
            .to_owned(),
    )
}
