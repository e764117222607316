//! Records to rows and back: JSON bodies, query columns, table names.

use super::*;

pub(crate) fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("sql", e))
}

/// A record's body: its stored form (its JSON form and the engine's
/// bookkeeping).
pub(crate) fn stored<T: StoredForm>(record: &T) -> Result<String, StoreError> {
    record.to_stored_json().map_err(|e| StoreError::backend("sql", e))
}

/// Reads a record's body, written by [`stored`].
pub(crate) fn parse_stored<T: StoredForm>(body: &str, what: &str) -> Result<T, StoreError> {
    T::from_stored_json(body).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

pub(crate) fn parse<T: DeserializeOwned>(body: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

/// A table row that holds a record's JSON form.
pub(crate) trait BodyRow {
    fn body(&self) -> &str;
    /// What the row is, for a `Corrupt` error.
    fn name(&self) -> String;
}

macro_rules! body_rows {
    ($($table:ident => $what:literal),* $(,)?) => {
        $(impl BodyRow for $table::Model {
            fn body(&self) -> &str {
                &self.body
            }
            fn name(&self) -> String {
                format!(concat!($what, " {}"), self.id)
            }
        })*
    };
}

body_rows!(
    lead => "lead",
    customer => "customer",
    deal => "deal",
    activity => "activity",
    follow_up => "follow-up",
    communication => "communication",
);

/// Decodes the record of an optional row.
pub(crate) fn decode_one<T: StoredForm, R: BodyRow>(row: Option<R>) -> Result<Option<T>, StoreError> {
    row.map(|r| parse_stored(r.body(), &r.name())).transpose()
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A row limit the drivers accept: SQLite binds `LIMIT` as a signed 64-bit
/// integer and its driver panics on larger values.
pub(crate) fn sql_limit(limit: usize) -> u64 {
    Ord::min(u64::try_from(limit).unwrap_or(u64::MAX), i64::MAX as u64)
}

pub(crate) fn subject_key(s: Subject) -> String {
    match s {
        Subject::Lead(id) => format!("lead:{}", id.0),
        Subject::Deal(id) => format!("deal:{}", id.0),
    }
}

pub(crate) fn table_of(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Lead => "crcm_leads",
        EntityKind::Customer => "crcm_customers",
        EntityKind::Deal => "crcm_deals",
        EntityKind::Activity => "crcm_activities",
        EntityKind::FollowUp => "crcm_follow_ups",
        EntityKind::Communication => "crcm_communications",
    }
}

/// The columns of a record's row.
pub(crate) fn columns(record: &Record) -> Result<Vec<(&'static str, sea_orm::Value)>, StoreError> {
    let e = record.entity();
    let mut cols: Vec<(&'static str, sea_orm::Value)> = vec![
        ("id", e.id.to_string().into()),
        ("version", to_i64(record.version()).into()),
    ];
    let opt = |v: Option<String>| sea_orm::Value::String(v);
    if let Record::Lead(l) = record {
        cols.extend(select::lead_columns(l));
    }
    if let Record::Deal(d) = record {
        cols.extend(select::deal_columns(d));
    }
    match record {
        Record::Lead(l) => cols.extend([
            ("number", to_i64(l.number).into()),
            ("status", l.status.as_str().into()),
            ("owner", l.owner.as_str().into()),
            ("account_type", l.account_type.as_str().into()),
            ("phase", opt(l.phase.as_ref().map(ToString::to_string))),
            ("source", opt(l.source.as_ref().map(ToString::to_string))),
            ("priority", opt(l.priority.as_ref().map(ToString::to_string))),
            ("zone", l.zone.clone().into()),
            ("email", opt(l.email.as_ref().map(ToString::to_string))),
            ("phone", opt(l.phone.as_ref().map(|p| p.e164.clone()))),
            ("customer_id", opt(l.customer.map(|c| c.0.to_string()))),
            (
                "closing_reason",
                opt(l.closing_reason.as_ref().map(ToString::to_string)),
            ),
            ("lost_reason", opt(l.lost_reason.as_ref().map(ToString::to_string))),
            ("updated_at", l.updated_at.timestamp_micros().into()),
            ("body", stored(l)?.into()),
        ]),
        Record::Customer(c) => cols.extend([
            ("email", opt(c.email.as_ref().map(ToString::to_string))),
            ("phone", opt(c.phone.as_ref().map(|p| p.e164.clone()))),
            ("owner", c.owner.as_str().into()),
            ("body", stored(c)?.into()),
        ]),
        Record::Deal(d) => cols.extend([
            ("lead_id", opt(d.lead.map(|l| l.0.to_string()))),
            ("customer_id", d.customer.0.to_string().into()),
            ("pipeline", d.pipeline.as_str().into()),
            ("stage", d.stage.as_str().into()),
            ("status", d.status.as_str().into()),
            ("lost_reason", opt(d.lost_reason.as_ref().map(ToString::to_string))),
            ("owner", d.owner.as_str().into()),
            ("body", stored(d)?.into()),
        ]),
        Record::Activity(a) => cols.extend([
            ("subject", subject_key(a.subject).into()),
            ("occurred_at", a.occurred_at.timestamp_micros().into()),
            ("body", stored(a)?.into()),
        ]),
        Record::FollowUp(f) => cols.extend([
            ("subject", subject_key(f.subject).into()),
            ("due", f.due.to_string().into()),
            ("assignee", f.assignee.as_str().into()),
            ("done", i64::from(f.done).into()),
            ("body", stored(f)?.into()),
        ]),
        Record::Communication(c) => cols.extend([
            ("lead_id", opt(c.lead.map(|l| l.0.to_string()))),
            ("status", c.status.as_str().into()),
            ("received_at", c.received_at.timestamp_micros().into()),
            ("body", stored(c)?.into()),
        ]),
    }
    Ok(cols)
}

/// The name serde gives a unit enum value (e.g. `"initial"`).
pub(crate) fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}
