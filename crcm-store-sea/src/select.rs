//! The read side in SQL: the query columns a record's row carries, and every
//! [`Select`] as one `SELECT ... WHERE ... ORDER BY ... LIMIT` on indexed
//! columns (plus one `COUNT(*)` when a total is asked). Only the rows of the
//! page are decoded.

use crcm_core::domain::entity::{EntityKind, EntityRef};
use std::collections::BTreeMap;

use crcm_core::domain::config::PhaseRef;
use crcm_core::domain::deal::Deal;
use crcm_core::domain::ids::{Code, UserId};
use crcm_core::domain::lead::{Lead, LeadStatus};
use crcm_core::store::error::StoreError;
use crcm_core::store::query::{
    Closed, CommunicationFilter, Cursor, CustomerFilter, DealFilter, DealKey, FollowUpFilter, LeadFilter, LeadKey,
    LeadOrder, LeadRow, MISSING_KEY, Page, PageRequest, PhaseCutoffs, Search, Select, TimeRange, Visible,
    company_contact_key, customer_words, date_key, deal_words, lead_words,
};
use crcm_core::store::record::Record;
use crcm_core::store::tally::{BoardCell, DealGroup, LeadGroup, Tally, TallyRow};
use sea_orm::sea_query::{Alias, BinOper, Cond, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::{db_err, parse_stored, sql_limit, subject_key, to_i64};

/// The table of search words: (`kind`: `l` lead, `c` customer; `id`; `word`).
pub(crate) const SEARCH_WORDS: &str = "crcm_search_words";
/// Term kind of a deal's search words.
const DEAL_WORDS: &str = "d";
/// Term kind of a customer's e-mails (its own and its contacts').
const CUSTOMER_EMAILS: &str = "e";
/// Term kind of a customer's phones (its own and its contacts').
const CUSTOMER_PHONES: &str = "p";
/// Term kind of a lead's record team members (a user id per row).
pub(crate) const LEAD_TEAM: &str = "t";
/// Term kind of a deal's team members (its lead's record team).
const DEAL_TEAM: &str = "u";

/// The table of board cells.
pub(crate) const BOARD: &str = "crcm_board";

fn t(name: &str) -> Alias {
    Alias::new(name)
}

fn col(name: &str) -> Expr {
    Expr::col(t(name))
}

/// The query columns of a lead's row beyond the filter columns of format 1.
pub(crate) fn lead_columns(l: &Lead) -> Vec<(&'static str, Value)> {
    let row = LeadRow::of(l);
    vec![
        ("created_at", row.created.into()),
        (
            "expected_close",
            row.expected_close.map_or(MISSING_KEY, date_key).into(),
        ),
        ("value_minor", row.value.unwrap_or(MISSING_KEY).into()),
        ("phase_entered_at", row.phase_entered.into()),
        ("missing_mask", i64::from(row.missing).into()),
        ("currency", Value::String(row.currency)),
        ("company_contact", Value::String(row.company_contact)),
        ("closed_at", Value::BigInt(row.closed)),
        ("external_ref", Value::String(row.external_ref)),
        ("import_id", Value::String(row.import)),
    ]
}

/// The query columns of a deal's row beyond those of format 1.
pub(crate) fn deal_columns(d: &Deal) -> Vec<(&'static str, Value)> {
    vec![
        ("value_minor", d.value.map_or(0, |m| m.minor).into()),
        ("currency", Value::String(d.value.map(|m| m.currency.to_string()))),
        ("probability", i64::from(d.probability).into()),
        ("expected_close", d.expected_close.map_or(MISSING_KEY, date_key).into()),
        ("value_key", d.value.map_or(MISSING_KEY, |m| m.minor).into()),
    ]
}

/// A board cell's key as stored: account type, phase (`type/code`, or empty),
/// status, owner, currency (or empty).
type CellKey = (String, String, String, String, String);

/// Changes to board cells made by one unit of work: (count, low, high)
/// deltas. A cell keeps its sum in two 64-bit columns, `value` (the low 32
/// bits of each amount) and `value_high` (the rest), so that no number of
/// leads overflows it and every database sums with integers alone; the sum is
/// `value + value_high * 2^32`.
pub(crate) type CellDeltas = BTreeMap<CellKey, (i64, i64, i64)>;

/// An amount's two parts in a cell: its low 32 bits and the rest.
pub(crate) fn split_amount(value: i64) -> (i64, i64) {
    (value & LOW_MASK, value >> 32)
}

/// The low 32 bits of an amount.
pub(crate) const LOW_MASK: i64 = 0xFFFF_FFFF;

/// A cell's sum from its two columns.
pub(crate) fn join_amount(low: i64, high: i64) -> i128 {
    (i128::from(high) << 32) + i128::from(low)
}

/// Adds `sign` leads of amount `value` to a cell's deltas.
pub(crate) fn count_value(deltas: &mut CellDeltas, key: CellKey, value: i64, sign: i64) {
    let (low, high) = split_amount(value);
    let e = deltas.entry(key).or_default();
    e.0 += sign;
    e.1 += sign * low;
    e.2 += sign * high;
}

fn cell_key(cell: &BoardCell) -> CellKey {
    (
        cell.account_type.to_string(),
        cell.phase.as_ref().map(ToString::to_string).unwrap_or_default(),
        cell.status.as_str().to_owned(),
        cell.owner.to_string(),
        cell.currency.clone().unwrap_or_default(),
    )
}

/// Adds a lead to (`sign` 1) or removes it from (`sign` -1) its cell.
pub(crate) fn count_lead(deltas: &mut CellDeltas, lead: &Lead, sign: i64) {
    let cell = BoardCell::of(lead);
    let value = lead.expected_revenue.map_or(0, |m| m.minor);
    count_value(deltas, cell_key(&cell), value, sign);
}

/// The cell of a stored lead row at an expected version (before a unit of
/// work changes it): `None` when the row is not at that version, in which
/// case the write conflicts and the unit rolls back anyway.
pub(crate) async fn stored_cell<C: ConnectionTrait>(
    c: &C,
    id: &str,
    version: u64,
) -> Result<Option<(CellKey, i64)>, DbErr> {
    let q = Query::select()
        .columns(["account_type", "phase", "status", "owner", "currency", "value_minor"].map(t))
        .from(t("crcm_leads"))
        .and_where(col("id").eq(id))
        .and_where(col("version").eq(to_i64(version)))
        .to_owned();
    let Some(row) = c.query_one(&q).await? else {
        return Ok(None);
    };
    let text = |name: &str| -> Result<String, DbErr> {
        row.try_get::<Option<String>>("", name).map(Option::unwrap_or_default)
    };
    let value: i64 = row.try_get("", "value_minor")?;
    Ok(Some((
        (
            text("account_type")?,
            text("phase")?,
            text("status")?,
            text("owner")?,
            text("currency")?,
        ),
        if value == MISSING_KEY { 0 } else { value },
    )))
}

/// Applies cell deltas in key order (every writer locks cells in the same
/// order, so writers queue instead of deadlocking): creates a missing cell at
/// zero, then adds.
pub(crate) async fn apply_cells<C: ConnectionTrait>(c: &C, deltas: &CellDeltas) -> Result<(), DbErr> {
    for ((account_type, phase, status, owner, currency), (count, low, high)) in deltas {
        if *count == 0 && *low == 0 && *high == 0 {
            continue;
        }
        let key_cols = ["account_type", "phase", "status", "owner", "currency"];
        let mut insert = Query::insert();
        insert
            .into_table(t(BOARD))
            .columns(key_cols.iter().copied().chain(["count", "value", "value_high"]).map(t))
            .values([
                account_type.as_str().into(),
                phase.as_str().into(),
                status.as_str().into(),
                owner.as_str().into(),
                currency.as_str().into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        insert.on_conflict(
            sea_orm::sea_query::OnConflict::columns(key_cols.map(t))
                .do_nothing_on([t("account_type")])
                .to_owned(),
        );
        c.execute(&insert).await?;
        let update = Query::update()
            .table(t(BOARD))
            .value(t("count"), col("count").add(*count))
            .value(t("value"), col("value").add(*low))
            .value(t("value_high"), col("value_high").add(*high))
            .and_where(col("account_type").eq(account_type.as_str()))
            .and_where(col("phase").eq(phase.as_str()))
            .and_where(col("status").eq(status.as_str()))
            .and_where(col("owner").eq(owner.as_str()))
            .and_where(col("currency").eq(currency.as_str()))
            .to_owned();
        c.execute(&update).await?;
    }
    Ok(())
}

/// A `SELECT` of every board cell recounted from the leads' query columns:
/// key columns, `n`, and the two parts of the summed revenue (`low`, `high`).
pub(crate) fn recount_cells_sql(backend: sea_orm::DbBackend) -> String {
    let amount = format!("(CASE WHEN value_minor < {MISSING_KEY} THEN value_minor ELSE 0 END)");
    let sum = |e: String| match backend {
        sea_orm::DbBackend::Postgres => format!("CAST(SUM({e}) AS BIGINT)"),
        sea_orm::DbBackend::MySql => format!("CAST(SUM({e}) AS SIGNED)"),
        _ => format!("SUM({e})"),
    };
    format!(
        "SELECT account_type, COALESCE(phase, '') AS phase, status, owner, COALESCE(currency, '') AS currency, \
         COUNT(*) AS n, {} AS low, {} AS high \
         FROM crcm_leads GROUP BY account_type, COALESCE(phase, ''), status, owner, COALESCE(currency, '')",
        sum(format!("{amount} & {LOW_MASK}")),
        sum(format!("{amount} >> 32")),
    )
}

/// The non-empty board cells of an account type.
pub(crate) async fn board_cells<C: ConnectionTrait>(
    c: &C,
    backend: &'static str,
    account_type: &Code,
) -> Result<Vec<BoardCell>, StoreError> {
    let err = db_err(backend);
    let q = Query::select()
        .columns(["phase", "status", "owner", "currency", "count", "value", "value_high"].map(t))
        .from(t(BOARD))
        .and_where(col("account_type").eq(account_type.as_str()))
        .and_where(col("count").gt(0i64))
        .to_owned();
    let corrupt = |what: &str, v: &str| StoreError::Corrupt {
        what: format!("board cell of {account_type}"),
        message: format!("{what} {v:?}"),
    };
    let mut out = Vec::new();
    for row in c.query_all(&q).await.map_err(&err)? {
        let phase: String = row.try_get("", "phase").map_err(&err)?;
        let status: String = row.try_get("", "status").map_err(&err)?;
        let owner: String = row.try_get("", "owner").map_err(&err)?;
        let currency: String = row.try_get("", "currency").map_err(&err)?;
        let count: i64 = row.try_get("", "count").map_err(&err)?;
        let value = join_amount(
            row.try_get("", "value").map_err(&err)?,
            row.try_get("", "value_high").map_err(&err)?,
        );
        let phase = if phase.is_empty() {
            None
        } else {
            let (at, code) = phase.split_once('/').ok_or_else(|| corrupt("phase", &phase))?;
            Some(PhaseRef {
                account_type: Code::new(at).map_err(|_| corrupt("phase", &phase))?,
                code: Code::new(code).map_err(|_| corrupt("phase", &phase))?,
            })
        };
        out.push(BoardCell {
            account_type: account_type.clone(),
            phase,
            status: LeadStatus::ALL
                .into_iter()
                .find(|s| s.as_str() == status)
                .ok_or_else(|| corrupt("status", &status))?,
            owner: UserId::new(&owner).map_err(|_| corrupt("owner", &owner))?,
            currency: (!currency.is_empty()).then_some(currency),
            count: u64::try_from(count).unwrap_or(0),
            value,
        });
    }
    out.sort();
    Ok(out)
}

fn lead_group_col(g: LeadGroup) -> &'static str {
    match g {
        LeadGroup::AccountType => "account_type",
        LeadGroup::Phase => "phase",
        LeadGroup::Status => "status",
        LeadGroup::Owner => "owner",
        LeadGroup::Source => "source",
        LeadGroup::Priority => "priority",
        LeadGroup::ClosingReason => "closing_reason",
        LeadGroup::LostReason => "lost_reason",
        LeadGroup::Currency => "currency",
        LeadGroup::Zone => "zone",
        LeadGroup::Email => "email",
        LeadGroup::Phone => "phone",
        LeadGroup::CompanyContact => "company_contact",
    }
}

fn deal_group_col(g: DealGroup) -> &'static str {
    match g {
        DealGroup::Pipeline => "pipeline",
        DealGroup::Stage => "stage",
        DealGroup::Status => "status",
        DealGroup::Owner => "owner",
        DealGroup::LostReason => "lost_reason",
        DealGroup::Currency => "currency",
    }
}

/// A grouped count: one `SELECT ... GROUP BY` on indexed columns.
pub(crate) async fn tally<C: ConnectionTrait>(
    c: &C,
    backend: &'static str,
    tally: &Tally,
) -> Result<Vec<TallyRow>, StoreError> {
    let err = db_err(backend);
    let (table, cond, groups, value, weighted): (&str, Cond, Vec<&str>, Expr, Expr) = match tally {
        Tally::Leads(t) => (
            "crcm_leads",
            lead_cond(&t.filter),
            t.by.iter().map(|g| lead_group_col(*g)).collect(),
            Expr::case(col("value_minor").lt(MISSING_KEY), col("value_minor"))
                .finally(0i64)
                .into(),
            Expr::val(0i64),
        ),
        Tally::Deals(t) => (
            "crcm_deals",
            deal_cond(&t.filter),
            t.by.iter().map(|g| deal_group_col(*g)).collect(),
            col("value_minor"),
            col("value_minor").mul(col("probability")),
        ),
        Tally::PhaseReach(t) => {
            return crate::steps::reach(c, &t.account_type, &t.created, t.visible.as_ref())
                .await
                .map_err(&err);
        }
        Tally::PhaseTime(t) => {
            return crate::steps::time(c, &t.account_type, &t.left, t.visible.as_ref())
                .await
                .map_err(&err);
        }
        Tally::FollowUps(t) => (
            "crcm_follow_ups",
            follow_up_cond(&t.filter),
            vec!["assignee"],
            Expr::val(0i64),
            Expr::val(0i64),
        ),
    };
    // SUM of a 64-bit column is a wider type on PostgreSQL and MySQL.
    let as_i64 = |e: Expr| -> Expr {
        let sum: Expr = sea_orm::sea_query::Func::sum(e).into();
        match c.get_database_backend() {
            sea_orm::DbBackend::Postgres => sum.cast_as(t("BIGINT")),
            sea_orm::DbBackend::MySql => sum.cast_as(t("SIGNED")),
            _ => sum,
        }
    };
    // Amounts are summed in two parts, their low 32 bits and the rest, each
    // of which fits 64 bits for any number of rows (SQLite has no wider
    // integer); Rust joins them in 128 bits.
    let low = |e: Expr| as_i64(e.binary(BinOper::BitAnd, Expr::val(LOW_MASK)));
    let high = |e: Expr| as_i64(e.right_shift(Expr::val(32i32)));
    let mut q = Query::select();
    for (i, g) in groups.iter().enumerate() {
        q.expr_as(col(g), t(&format!("g{i}")));
        q.group_by_col(t(g));
    }
    q.expr_as(
        sea_orm::sea_query::Func::count(Expr::col(sea_orm::sea_query::Asterisk)),
        t("n"),
    )
    .expr_as(low(value.clone()), t("v"))
    .expr_as(high(value), t("vh"))
    .expr_as(low(weighted.clone()), t("w"))
    .expr_as(high(weighted), t("wh"))
    .from(t(table))
    .cond_where(cond);
    let mut out = Vec::new();
    for row in c.query_all(&q).await.map_err(&err)? {
        let mut key = Vec::with_capacity(groups.len());
        for i in 0..groups.len() {
            key.push(row.try_get::<Option<String>>("", &format!("g{i}")).map_err(&err)?);
        }
        let n: i64 = row.try_get("", "n").map_err(&err)?;
        let sum = |name: &str| -> Result<i64, StoreError> {
            Ok(row.try_get::<Option<i64>>("", name).map_err(&err)?.unwrap_or(0))
        };
        if n == 0 {
            // An aggregate without GROUP BY answers one row even for no match.
            continue;
        }
        out.push(TallyRow {
            key,
            count: u64::try_from(n).unwrap_or(0),
            value: join_amount(sum("v")?, sum("vh")?),
            weighted: join_amount(sum("w")?, sum("wh")?),
        });
    }
    out.sort();
    Ok(out)
}

/// Which record kind a backfill row holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum QueryColumns {
    Lead,
    Customer,
    Deal,
    Communication,
}

impl QueryColumns {
    /// Rewrites the duplicate keys of one stored lead or customer (its
    /// `company_contact` column; its term rows), leaving the board alone.
    pub(crate) async fn refill<C: ConnectionTrait>(self, c: &C, id: &str, body: &str) -> Result<(), DbErr> {
        let bad = |e: StoreError| DbErr::Migration(e.to_string());
        let record = match self {
            Self::Lead => {
                let l: Lead = parse_stored(body, id).map_err(bad)?;
                let update = Query::update()
                    .table(t("crcm_leads"))
                    .value(t("company_contact"), company_contact_key(&l))
                    .value(t("closed_at"), l.closed_at.map(|c| c.timestamp_micros()))
                    .and_where(col("id").eq(id))
                    .to_owned();
                c.execute(&update).await?;
                Record::Lead(l)
            }
            Self::Customer => Record::Customer(parse_stored(body, id).map_err(bad)?),
            Self::Deal => {
                let d: Deal = parse_stored(body, id).map_err(bad)?;
                let update = Query::update()
                    .table(t("crcm_deals"))
                    .values(deal_columns(&d).into_iter().map(|(n, v)| (t(n), Expr::val(v))))
                    .and_where(col("id").eq(id))
                    .to_owned();
                c.execute(&update).await?;
                Record::Deal(d)
            }
            Self::Communication => return Ok(()),
        };
        write_terms(c, &record).await
    }

    /// Fills the query columns and rows of one stored record.
    pub(crate) async fn backfill<C: ConnectionTrait>(self, c: &C, id: &str, body: &str) -> Result<(), DbErr> {
        let bad = |e: StoreError| DbErr::Migration(e.to_string());
        let (table, cols, record): (&str, Vec<(&'static str, Value)>, Record) = match self {
            Self::Lead => {
                let l: Lead = parse_stored(body, id).map_err(bad)?;
                let mut deltas = CellDeltas::new();
                count_lead(&mut deltas, &l, 1);
                apply_cells(c, &deltas).await?;
                ("crcm_leads", lead_columns(&l), Record::Lead(l))
            }
            Self::Deal => {
                let d: Deal = parse_stored(body, id).map_err(bad)?;
                ("crcm_deals", deal_columns(&d), Record::Deal(d))
            }
            Self::Customer => {
                let x: crcm_core::domain::customer::Customer = parse_stored(body, id).map_err(bad)?;
                (
                    "crcm_customers",
                    vec![("owner", x.owner.as_str().into())],
                    Record::Customer(x),
                )
            }
            Self::Communication => {
                let x: crcm_core::domain::activity::Communication = parse_stored(body, id).map_err(bad)?;
                (
                    "crcm_communications",
                    vec![("status", x.status.as_str().into())],
                    Record::Communication(x),
                )
            }
        };
        let update = Query::update()
            .table(t(table))
            .values(cols.into_iter().map(|(n, v)| (t(n), Expr::val(v))))
            .and_where(col("id").eq(id))
            .to_owned();
        c.execute(&update).await?;
        write_terms(c, &record).await
    }
}

/// Rewrites the term rows of a record just written: a lead's custom-field
/// names and search words, a customer's search words.
pub(crate) async fn write_terms<C: ConnectionTrait>(c: &C, record: &Record) -> Result<(), DbErr> {
    let (kind, id, words) = match record {
        Record::Lead(l) => {
            let id = l.id.0.to_string();
            c.execute(
                &Query::delete()
                    .from_table(t("crcm_lead_fields"))
                    .and_where(col("lead_id").eq(id.as_str()))
                    .to_owned(),
            )
            .await?;
            if !l.custom.is_empty() {
                let mut insert = Query::insert();
                insert
                    .into_table(t("crcm_lead_fields"))
                    .columns([t("lead_id"), t("name")]);
                for name in l.custom.keys() {
                    insert
                        .values([id.as_str().into(), name.as_str().into()])
                        .map_err(|e| DbErr::Custom(e.to_string()))?;
                }
                c.execute(&insert).await?;
            }
            replace_words(c, LEAD_TEAM, &id, l.team.iter().map(ToString::to_string).collect()).await?;
            ("l", id, lead_words(l))
        }
        Record::Deal(d) => {
            let id = d.id.0.to_string();
            replace_words(c, DEAL_TEAM, &id, d.team.iter().map(ToString::to_string).collect()).await?;
            (DEAL_WORDS, id, deal_words(d))
        }
        Record::Customer(x) => {
            let id = x.id.0.to_string();
            for (kind, values) in [(CUSTOMER_EMAILS, x.emails()), (CUSTOMER_PHONES, x.phones())] {
                delete_words(c, kind, &id).await?;
                if !values.is_empty() {
                    let mut insert = Query::insert();
                    insert
                        .into_table(t(SEARCH_WORDS))
                        .columns([t("kind"), t("id"), t("word")]);
                    for v in values {
                        insert
                            .values([kind.into(), id.as_str().into(), v.into()])
                            .map_err(|e| DbErr::Custom(e.to_string()))?;
                    }
                    c.execute(&insert).await?;
                }
            }
            ("c", id, customer_words(x))
        }
        _ => return Ok(()),
    };
    replace_words(c, kind, &id, words).await
}

/// Replaces the term rows of one kind of one record.
async fn replace_words<C: ConnectionTrait>(c: &C, kind: &str, id: &str, words: Vec<String>) -> Result<(), DbErr> {
    delete_words(c, kind, id).await?;
    if !words.is_empty() {
        let mut insert = Query::insert();
        insert
            .into_table(t(SEARCH_WORDS))
            .columns([t("kind"), t("id"), t("word")]);
        for w in words {
            insert
                .values([kind.into(), id.into(), w.into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        c.execute(&insert).await?;
    }
    Ok(())
}

/// Inserts the term rows of new records (nothing to delete first), many rows
/// per statement.
pub(crate) async fn insert_terms<C: ConnectionTrait>(c: &C, records: &[&Record]) -> Result<(), DbErr> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut words: Vec<(&'static str, String, String)> = Vec::new();
    for record in records {
        match record {
            Record::Lead(l) => {
                let id = l.id.0.to_string();
                fields.extend(l.custom.keys().map(|k| (id.clone(), k.to_string())));
                words.extend(lead_words(l).into_iter().map(|w| ("l", id.clone(), w)));
                words.extend(l.team.iter().map(|u| (LEAD_TEAM, id.clone(), u.to_string())));
            }
            Record::Deal(d) => {
                let id = d.id.0.to_string();
                words.extend(deal_words(d).into_iter().map(|w| (DEAL_WORDS, id.clone(), w)));
                words.extend(d.team.iter().map(|u| (DEAL_TEAM, id.clone(), u.to_string())));
            }
            Record::Customer(x) => {
                let id = x.id.0.to_string();
                words.extend(customer_words(x).into_iter().map(|w| ("c", id.clone(), w)));
                words.extend(x.emails().into_iter().map(|w| (CUSTOMER_EMAILS, id.clone(), w)));
                words.extend(x.phones().into_iter().map(|w| (CUSTOMER_PHONES, id.clone(), w)));
            }
            _ => {}
        }
    }
    for part in fields.chunks(5_000) {
        let mut insert = Query::insert();
        insert
            .into_table(t("crcm_lead_fields"))
            .columns([t("lead_id"), t("name")]);
        for (id, name) in part {
            insert
                .values([id.clone().into(), name.clone().into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        c.execute(&insert).await?;
    }
    for part in words.chunks(5_000) {
        let mut insert = Query::insert();
        insert
            .into_table(t(SEARCH_WORDS))
            .columns([t("kind"), t("id"), t("word")]);
        for (kind, id, w) in part {
            insert
                .values([(*kind).into(), id.clone().into(), w.clone().into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        c.execute(&insert).await?;
    }
    Ok(())
}

async fn delete_words<C: ConnectionTrait>(c: &C, kind: &str, id: &str) -> Result<(), DbErr> {
    c.execute(
        &Query::delete()
            .from_table(t(SEARCH_WORDS))
            .and_where(col("kind").eq(kind))
            .and_where(col("id").eq(id))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Removes the search words of a deleted record (custom-field rows go with
/// the lead's row, by their foreign key).
pub(crate) async fn delete_terms<C: ConnectionTrait>(c: &C, entity: EntityRef) -> Result<(), DbErr> {
    match entity.kind {
        EntityKind::Lead => {
            let id = entity.id.to_string();
            delete_words(c, "l", &id).await?;
            delete_words(c, LEAD_TEAM, &id).await
        }
        EntityKind::Deal => {
            let id = entity.id.to_string();
            delete_words(c, DEAL_WORDS, &id).await?;
            delete_words(c, DEAL_TEAM, &id).await
        }
        EntityKind::Customer => {
            let id = entity.id.to_string();
            for kind in ["c", CUSTOMER_EMAILS, CUSTOMER_PHONES] {
                delete_words(c, kind, &id).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The largest character: appended to a prefix, it bounds every word that
/// starts with the prefix (words hold letters and digits only).
const AFTER_WORDS: char = '\u{10FFFF}';

/// Where a record's e-mail addresses are, for a search by address.
#[derive(Clone, Copy)]
enum EmailsAt {
    /// A column of the record's row.
    Column(&'static str),
    /// Term rows of this kind.
    Terms(&'static str),
    /// The record has none.
    Nowhere,
}

/// Records of `kind` whose search words match.
fn search_cond(kind: &str, s: &Search, phone_col: &str, emails: EmailsAt) -> Cond {
    let mut any = Cond::any();
    if !s.words.is_empty() {
        let mut all = Cond::all();
        for w in &s.words {
            let upper = format!("{w}{AFTER_WORDS}");
            all = all.add(
                col("id").in_subquery(
                    Query::select()
                        .column(t("id"))
                        .from(t(SEARCH_WORDS))
                        .and_where(col("kind").eq(kind))
                        .and_where(col("word").gte(w.as_str()))
                        .and_where(col("word").lt(upper))
                        .to_owned(),
                ),
            );
        }
        any = any.add(all);
    }
    if let Some(p) = &s.phone {
        any = any.add(col(phone_col).eq(p.as_str()));
    }
    if let Some(e) = &s.email {
        match emails {
            EmailsAt::Column(name) => any = any.add(col(name).eq(e.as_str())),
            EmailsAt::Terms(terms) => {
                any = any.add(
                    col("id").in_subquery(
                        Query::select()
                            .column(t("id"))
                            .from(t(SEARCH_WORDS))
                            .and_where(col("kind").eq(terms))
                            .and_where(col("word").eq(e.as_str()))
                            .to_owned(),
                    ),
                );
            }
            EmailsAt::Nowhere => {}
        }
    }
    if any.is_empty() {
        // An empty search finds nothing.
        any = any.add(Expr::val(1).eq(0));
    }
    any
}

/// Dates in an interval, on a date-key column where a missing date is
/// [`MISSING_KEY`] (never in a set interval).
fn date_range(cond: Cond, name: &str, r: &crcm_core::store::query::DateRange) -> Cond {
    if r.is_open() {
        return cond;
    }
    let (from, before) = r.keys();
    let mut cond = cond.add(col(name).lt(MISSING_KEY));
    if let Some(v) = from {
        cond = cond.add(col(name).gte(v));
    }
    if let Some(v) = before {
        cond = cond.add(col(name).lt(v));
    }
    cond
}

fn range(cond: Cond, name: &str, r: &TimeRange) -> Cond {
    let (from, before) = r.micros();
    let mut cond = cond;
    if let Some(f) = from {
        cond = cond.add(col(name).gte(f));
    }
    if let Some(b) = before {
        cond = cond.add(col(name).lt(b));
    }
    cond
}

fn closed_cond(c: &Closed) -> Cond {
    let closed_statuses: Vec<&str> = LeadStatus::ALL
        .iter()
        .filter(|s| s.is_closed())
        .map(|s| s.as_str())
        .collect();
    let phases: Vec<String> = c.closing_phases.iter().map(ToString::to_string).collect();
    if c.closed {
        let mut any = Cond::any().add(col("status").is_in(closed_statuses));
        if !phases.is_empty() {
            any = any.add(col("phase").is_in(phases));
        }
        any
    } else {
        let mut all = Cond::all().add(col("status").is_not_in(closed_statuses));
        if !phases.is_empty() {
            all = all.add(
                Cond::any()
                    .add(col("phase").is_null())
                    .add(col("phase").is_not_in(phases)),
            );
        }
        all
    }
}

fn cutoffs_cond(c: &PhaseCutoffs) -> Cond {
    let mut past = Cond::any();
    for (phase, cut) in &c.cutoffs {
        past = past.add(
            Cond::all()
                .add(col("phase").eq(phase.to_string()))
                .add(col("phase_entered_at").lte(cut.timestamp_micros())),
        );
    }
    if c.cutoffs.is_empty() {
        past = past.add(Expr::val(1).eq(0));
    }
    if c.past {
        past
    } else {
        Cond::any().add(col("phase").is_null()).add(past.not())
    }
}

fn lead_cond(f: &LeadFilter) -> Cond {
    let mut c = Cond::all();
    for (name, v) in [
        ("owner", f.owner.as_ref().map(ToString::to_string)),
        ("account_type", f.account_type.as_ref().map(ToString::to_string)),
        ("phase", f.phase.as_ref().map(ToString::to_string)),
        ("source", f.source.as_ref().map(ToString::to_string)),
        ("priority", f.priority.as_ref().map(ToString::to_string)),
        ("zone", f.zone.clone()),
        ("email", f.email.clone()),
        ("phone", f.phone.clone()),
        ("company_contact", f.company_contact.clone()),
        ("external_ref", f.external_ref.clone()),
        ("import_id", f.import.map(|i| i.0.to_string())),
        ("customer_id", f.customer.map(|x| x.0.to_string())),
        ("closing_reason", f.closing_reason.as_ref().map(ToString::to_string)),
        ("lost_reason", f.lost_reason.as_ref().map(ToString::to_string)),
    ] {
        if let Some(v) = v {
            c = c.add(col(name).eq(v));
        }
    }
    if let Some(n) = f.number {
        c = c.add(col("number").eq(to_i64(n)));
    }
    if let Some(s) = &f.statuses {
        c = c.add(col("status").is_in(s.iter().map(|s| s.as_str())));
    }
    if let Some(closed) = &f.closed {
        c = c.add(closed_cond(closed));
    }
    for tag in &f.tags {
        c = c.add(
            col("id").in_subquery(
                Query::select()
                    .column(t("lead_id"))
                    .from(t("crcm_lead_tags"))
                    .and_where(col("tag").eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(name) = &f.has_custom {
        c = c.add(
            col("id").in_subquery(
                Query::select()
                    .column(t("lead_id"))
                    .from(t("crcm_lead_fields"))
                    .and_where(col("name").eq(name.as_str()))
                    .to_owned(),
            ),
        );
    }
    c = range(c, "created_at", &f.created);
    c = range(c, "updated_at", &f.updated);
    if !f.closed_at.is_open() {
        c = range(c.add(col("closed_at").is_not_null()), "closed_at", &f.closed_at);
    }
    c = range(c, "phase_entered_at", &f.phase_entered);
    c = date_range(c, "expected_close", &f.expected_close);
    if !f.missing.is_empty() {
        let mask = f.missing.iter().fold(0i64, |m, x| m | i64::from(x.bit()));
        c = c.add(col("missing_mask").bit_and(mask).eq(mask));
    }
    if let Some(cut) = &f.cutoffs {
        c = c.add(cutoffs_cond(cut));
    }
    if let Some(v) = &f.visible {
        c = c.add(visible_cond(LEAD_TEAM, v));
    }
    if let Some(s) = &f.search {
        c = c.add(search_cond("l", s, "phone", EmailsAt::Column("email")));
    }
    c
}

fn lead_key(order: &LeadOrder) -> SimpleExpr {
    match &order.key {
        LeadKey::Number => col("number"),
        LeadKey::Created => col("created_at"),
        LeadKey::Updated => col("updated_at"),
        LeadKey::ExpectedClose => col("expected_close"),
        LeadKey::Value => col("value_minor"),
        LeadKey::PhaseEntered => col("phase_entered_at"),
        LeadKey::Priority(ranks) => {
            let len = i64::try_from(ranks.len()).unwrap_or(i64::MAX);
            if ranks.is_empty() {
                return Expr::val(len);
            }
            let mut case = Expr::case(col("priority").eq(ranks[0].as_str()), 0i64);
            for (i, r) in ranks.iter().enumerate().skip(1) {
                case = case.case(col("priority").eq(r.as_str()), i64::try_from(i).unwrap_or(len));
            }
            case.finally(len).into()
        }
    }
}

fn deal_cond(f: &DealFilter) -> Cond {
    let mut c = Cond::all();
    if let Some(l) = f.lead {
        c = c.add(col("lead_id").eq(l.0.to_string()));
    }
    if let Some(x) = f.customer {
        c = c.add(col("customer_id").eq(x.0.to_string()));
    }
    if let Some(p) = &f.pipeline {
        c = c.add(col("pipeline").eq(p.as_str()));
    }
    if let Some(s) = &f.stage {
        c = c.add(col("stage").eq(s.as_str()));
    }
    if let Some(s) = f.status {
        c = c.add(col("status").eq(s.as_str()));
    }
    if let Some(r) = &f.lost_reason {
        c = c.add(col("lost_reason").eq(r.as_str()));
    }
    if let Some(o) = &f.owner {
        c = c.add(col("owner").eq(o.as_str()));
    }
    c = date_range(c, "expected_close", &f.expected_close);
    if let Some(v) = &f.visible {
        c = c.add(visible_cond(DEAL_TEAM, v));
    }
    if let Some(s) = &f.search {
        c = c.add(search_cond(DEAL_WORDS, s, "id", EmailsAt::Nowhere));
    }
    c
}

/// Records an actor sees: owned by one of the owners, or with the member on
/// their team (term rows of `team_kind`). Seeing nothing is a false condition.
pub(crate) fn visible_cond(team_kind: &str, v: &Visible) -> Cond {
    let mut any = Cond::any();
    if !v.owners.is_empty() {
        any = any.add(col("owner").is_in(v.owners.iter().map(|o| o.as_str().to_owned())));
    }
    if let Some(m) = &v.member {
        any = any.add(
            col("id").in_subquery(
                Query::select()
                    .column(t("id"))
                    .from(t(SEARCH_WORDS))
                    .and_where(col("kind").eq(team_kind))
                    .and_where(col("word").eq(m.as_str()))
                    .to_owned(),
            ),
        );
    }
    if v.owners.is_empty() && v.member.is_none() {
        any = any.add(Expr::val(1).eq(0));
    }
    any
}

/// A filter's date bound as `due` text. Stored dates lie within
/// `limits::DATE_MIN..=DATE_MAX` (four-digit years, where the text's order is
/// the dates'); a bound outside that range is moved to its edge, which
/// selects the same rows, so that `+10000-01-01` never sorts as text before
/// `2030-01-01`.
fn due_text(d: chrono::NaiveDate) -> String {
    use crcm_core::domain::limits::{DATE_MAX, DATE_MIN};
    d.clamp(DATE_MIN, DATE_MAX.succ_opt().unwrap_or(DATE_MAX)).to_string()
}

/// `due` holds `YYYY-MM-DD` text, whose order is the dates' order.
fn follow_up_cond(f: &FollowUpFilter) -> Cond {
    let mut c = Cond::all();
    if let Some(a) = &f.assignee {
        c = c.add(col("assignee").eq(a.as_str()));
    }
    if let Some(d) = f.done {
        c = c.add(col("done").eq(i64::from(d)));
    }
    if let Some(from) = f.due.from {
        c = c.add(col("due").gte(due_text(from)));
    }
    if let Some(before) = f.due.before {
        c = c.add(col("due").lt(due_text(before)));
    }
    c
}

fn customer_cond(f: &CustomerFilter) -> Cond {
    let mut c = Cond::all();
    // Its own or a contact person's: the customer's contact term rows.
    for (kind, value) in [(CUSTOMER_EMAILS, &f.email), (CUSTOMER_PHONES, &f.phone)] {
        if let Some(v) = value {
            c = c.add(
                col("id").in_subquery(
                    Query::select()
                        .column(t("id"))
                        .from(t(SEARCH_WORDS))
                        .and_where(col("kind").eq(kind))
                        .and_where(col("word").eq(v.as_str()))
                        .to_owned(),
                ),
            );
        }
    }
    if let Some(o) = &f.owner {
        c = c.add(col("owner").eq(o.as_str()));
    }
    if let Some(s) = &f.search {
        c = c.add(search_cond("c", s, "phone", EmailsAt::Terms(CUSTOMER_EMAILS)));
    }
    c
}

fn communication_cond(f: &CommunicationFilter) -> Cond {
    let mut c = Cond::all();
    if let Some(l) = f.lead {
        c = c.add(col("lead_id").eq(l.0.to_string()));
    }
    if let Some(s) = f.status {
        c = c.add(col("status").eq(s.as_str()));
    }
    c
}

/// How one select reads its table.
struct Plan {
    table: &'static str,
    cond: Cond,
    /// The sort key as SQL (`None`: the id alone orders).
    key: Option<SimpleExpr>,
    /// Turns a cursor's key into the SQL value of `key`.
    key_value: fn(i64) -> Value,
    descending: bool,
    /// The key alone orders (lead numbers are unique): no id tie-break.
    unique_key: bool,
    what: &'static str,
}

fn micros_value(k: i64) -> Value {
    k.into()
}

/// A follow-up's `due` column holds the date as text (`YYYY-MM-DD`), whose
/// order is the dates' order.
fn due_value(k: i64) -> Value {
    let date = i32::try_from(k)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
        .map_or_else(String::new, |d| d.to_string());
    date.into()
}

fn plan(select: &Select) -> Plan {
    match select {
        Select::Leads { filter, order } => Plan {
            table: "crcm_leads",
            cond: lead_cond(filter),
            key: Some(lead_key(order)),
            key_value: micros_value,
            descending: order.descending,
            unique_key: order.key == LeadKey::Number,
            what: "lead",
        },
        Select::Deals { filter, order } => Plan {
            table: "crcm_deals",
            cond: deal_cond(filter),
            key: match order.key {
                DealKey::Created => None,
                DealKey::ExpectedClose => Some(col("expected_close")),
                DealKey::Value => Some(col("value_key")),
            },
            key_value: micros_value,
            descending: order.descending,
            unique_key: false,
            what: "deal",
        },
        Select::Customers { filter } => Plan {
            table: "crcm_customers",
            cond: customer_cond(filter),
            key: None,
            key_value: micros_value,
            descending: false,
            unique_key: false,
            what: "customer",
        },
        Select::Activities { subject } => Plan {
            table: "crcm_activities",
            cond: Cond::all().add(col("subject").eq(subject_key(*subject))),
            key: Some(col("occurred_at")),
            key_value: micros_value,
            descending: false,
            unique_key: false,
            what: "activity",
        },
        Select::FollowUps { subject } => Plan {
            table: "crcm_follow_ups",
            cond: Cond::all().add(col("subject").eq(subject_key(*subject))),
            key: Some(col("due")),
            key_value: due_value,
            descending: false,
            unique_key: false,
            what: "follow-up",
        },
        Select::Communications { filter } => Plan {
            table: "crcm_communications",
            cond: communication_cond(filter),
            key: Some(col("received_at")),
            key_value: micros_value,
            descending: false,
            unique_key: false,
            what: "communication",
        },
    }
}

/// Rows strictly after the cursor in the plan's order.
fn after_cursor(plan: &Plan, cursor: &Cursor) -> Cond {
    let id = cursor.id().to_string();
    let Some(key_expr) = &plan.key else {
        return Cond::all().add(if plan.descending {
            col("id").lt(id)
        } else {
            col("id").gt(id)
        });
    };
    let key = (plan.key_value)(cursor.key());
    let k = || Expr::expr(key_expr.clone());
    if plan.unique_key {
        return Cond::all().add(if plan.descending { k().lt(key) } else { k().gt(key) });
    }
    if plan.descending {
        Cond::any()
            .add(k().lt(key.clone()))
            .add(Cond::all().add(k().eq(key)).add(col("id").lt(id)))
    } else {
        Cond::any()
            .add(k().gt(key.clone()))
            .add(Cond::all().add(k().eq(key)).add(col("id").gt(id)))
    }
}

fn decode(what: &str, select: &Select, id: &str, body: &str) -> Result<Record, StoreError> {
    let name = format!("{what} {id}");
    Ok(match select {
        Select::Leads { .. } => Record::Lead(parse_stored(body, &name)?),
        Select::Deals { .. } => Record::Deal(parse_stored(body, &name)?),
        Select::Customers { .. } => Record::Customer(parse_stored(body, &name)?),
        Select::Activities { .. } => Record::Activity(parse_stored(body, &name)?),
        Select::FollowUps { .. } => Record::FollowUp(parse_stored(body, &name)?),
        Select::Communications { .. } => Record::Communication(parse_stored(body, &name)?),
    })
}

/// The `SELECT` of one page (its rows: `id`, `body`), as the store runs it, for
/// tests that read the query plan.
pub fn page_statement(select: &Select, page: &PageRequest) -> SelectStatement {
    let plan = plan(select);
    let mut q = Query::select();
    q.columns([t("id"), t("body")])
        .from(t(plan.table))
        .cond_where(plan.cond.clone());
    if let Some(cursor) = &page.after {
        q.and_where(after_cursor(&plan, cursor).into());
    }
    let dir = if plan.descending { Order::Desc } else { Order::Asc };
    if let Some(key) = &plan.key {
        q.order_by_expr(key.clone(), dir.clone());
    }
    if !plan.unique_key {
        q.order_by(t("id"), dir);
    }
    q.limit(sql_limit(page.limit().saturating_add(1)));
    q
}

/// The `SELECT COUNT(*)` of a select's total (its row: `n`).
pub fn count_statement(select: &Select) -> SelectStatement {
    let plan = plan(select);
    Query::select()
        .expr_as(
            sea_orm::sea_query::Func::count(Expr::col(sea_orm::sea_query::Asterisk)),
            t("n"),
        )
        .from(t(plan.table))
        .cond_where(plan.cond)
        .to_owned()
}

/// Answers a select (see the store contract).
pub(crate) async fn select<C: ConnectionTrait>(
    c: &C,
    backend: &'static str,
    select: &Select,
    page: &PageRequest,
) -> Result<Page<Record>, StoreError> {
    let err = db_err(backend);
    let plan = plan(select);
    let total = if page.total {
        let count = Query::select()
            .expr_as(
                sea_orm::sea_query::Func::count(Expr::col(sea_orm::sea_query::Asterisk)),
                t("n"),
            )
            .from(t(plan.table))
            .cond_where(plan.cond.clone())
            .to_owned();
        let row = c.query_one(&count).await.map_err(&err)?;
        let n: i64 = match row {
            Some(r) => r.try_get("", "n").map_err(&err)?,
            None => 0,
        };
        Some(u64::try_from(n).unwrap_or(0))
    } else {
        None
    };
    let limit = page.limit();
    let rows = c.query_all(&page_statement(select, page)).await.map_err(&err)?;
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        let id: String = row.try_get("", "id").map_err(&err)?;
        let body: String = row.try_get("", "body").map_err(&err)?;
        items.push(decode(plan.what, select, &id, &body)?);
    }
    let next = match items.last() {
        Some(last) if more => Some(cursor_of(select, last)?),
        _ => None,
    };
    Ok(Page { items, next, total })
}

/// The cursor just after a record, from the reference sort key.
fn cursor_of(select: &Select, record: &Record) -> Result<Cursor, StoreError> {
    select
        .key_of(record)
        .map(|(key, id)| Cursor::new(key, id))
        .ok_or_else(|| StoreError::Corrupt {
            what: record.entity().to_string(),
            message: "a select returned a record of another kind".into(),
        })
}

/// Writes the team rows of one stored lead or deal (from its JSON body): the
/// rows [`visible_cond`] reads, which migration 9 adds.
pub(crate) async fn refill_team<C: ConnectionTrait>(
    c: &C,
    kind: QueryColumns,
    id: &str,
    body: &str,
) -> Result<(), DbErr> {
    let bad = |e: StoreError| DbErr::Migration(e.to_string());
    let (team_kind, team) = match kind {
        QueryColumns::Lead => (LEAD_TEAM, parse_stored::<Lead>(body, id).map_err(bad)?.team),
        QueryColumns::Deal => (DEAL_TEAM, parse_stored::<Deal>(body, id).map_err(bad)?.team),
        QueryColumns::Customer | QueryColumns::Communication => return Ok(()),
    };
    replace_words(c, team_kind, id, team.iter().map(ToString::to_string).collect()).await
}
