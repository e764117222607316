//! # crcm-store-sea
//!
//! crcm's SQL backend through sea-orm 2: SQLite (`sqlite:` URLs, feature
//! `sqlite`, on by default), PostgreSQL (`postgres:`, feature `postgres`) and
//! MySQL/MariaDB (`mysql:`, feature `mysql`). PostgreSQL is how a deployment
//! outgrows one machine: many application nodes, each embedding crcm, on one
//! database.
//!
//! ## Schema
//!
//! Every table starts with `crcm_` (see [`entity`]), so crcm can live inside an
//! ERP's own database; on PostgreSQL, [`SeaOptions::schema`] puts the tables in
//! a schema of their own. The [`migration::Migrator`] creates tables, foreign
//! keys, unique constraints (lead number; phase code and order per account
//! type and stage code per pipeline, in `crcm_phases` and `crcm_stages`, which
//! mirror the configuration for SQL reports) and the indexes the filters use.
//! It runs on connect unless [`SeaOptions::migrate`] is off, is idempotent, and
//! nodes that start together serialize on a lock (see [`SeaStore::migrate`]).
//! A database whose recorded format is newer than this build's is refused
//! before anything is touched. Each record is stored as its JSON form (`body`)
//! plus the columns filters read.
//!
//! ## Transactions, versions and the event sequence
//!
//! One database transaction per unit of work. Updates and deletes are
//! `... WHERE id = ? AND version = ?`: zero rows means someone else wrote first,
//! and the unit fails with [`StoreError::Conflict`] and is rolled back. Inserts
//! of an existing id are conflicts too; a taken lead number is
//! [`StoreError::Duplicate`]. Deadlocks and serialization failures reported by
//! the server are conflicts as well, so the engine retries them.
//!
//! The event sequence is the row `event` of `crcm_sequences`. A unit of work
//! increments it as its last statement and writes its events under the new
//! numbers; the row lock is held until commit, so concurrent writers (threads or
//! nodes) take their numbers one after the other, in commit order, with no gap
//! and no duplicate, and a reader never sees number `n + 1` committed before `n`.
//!
//! A lost connection or any database error rolls the transaction back and
//! returns [`StoreError::Backend`]; nothing of the unit of work remains. (Only
//! when the connection is lost during `COMMIT` itself can the caller not know
//! whether the unit landed; it landed whole or not at all, and the event
//! outbox tells which.)

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod entity;
pub mod migration;
mod select;
mod steps;
mod verify;

use select::{BOARD, QueryColumns, SEARCH_WORDS};
pub use select::{count_statement, page_statement};

use std::collections::BTreeSet;

use async_trait::async_trait;
use crcm_core::domain::activity::Subject;
use crcm_core::domain::config::Config;
use crcm_core::domain::entity::{EntityKind, EntityRef};
use crcm_core::domain::event::EventEnvelope;
use crcm_core::domain::history::HistoryEntry;
use crcm_core::domain::ids::Code;
use crcm_core::domain::lead::Lead;
use crcm_core::store::error::StoreError;
use crcm_core::store::record::Record;
use crcm_core::store::tally::{BoardCell, Tally, TallyRow};
use crcm_core::store::uow::{Guard, UnitOfWork, Write};
use crcm_core::store::{CommitReceipt, FORMAT_VERSION, Page, PageRequest, Select, Store};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, OnConflict, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RuntimeErr, SqlErr, TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entity::{
    activity, communication, config, customer, deal, event, follow_up, history, lead, lead_tag, meta, sequence,
};

/// Connection options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeaOptions {
    /// Run the migrator on connect (default: true). When off, call
    /// [`SeaStore::migrate`] yourself before use.
    pub migrate: bool,
    /// PostgreSQL only: the schema that holds crcm's tables (created if
    /// missing). `None`: the connection's default search path.
    pub schema: Option<String>,
    /// Pool size (SQLite always uses one connection, so writers queue instead
    /// of failing with "database is locked").
    pub max_connections: u32,
    /// How long to wait for a connection (on connect and from the pool)
    /// before failing with [`StoreError::Backend`] (default: 10 s).
    pub connect_timeout: std::time::Duration,
}

impl Default for SeaOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            schema: None,
            max_connections: 8,
            connect_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The SQL store.
#[derive(Clone, Debug)]
pub struct SeaStore {
    db: DatabaseConnection,
    backend: &'static str,
}

/// Maps a database error. Contention the server resolved by aborting the
/// transaction (deadlock, serialization failure, lock timeout) becomes
/// [`StoreError::Contention`], which the engine re-runs. (A foreign key
/// stays a backend error: the engine guards every record its decision read,
/// so a concurrent delete fails the guard before any foreign key could.)
fn db_err(backend: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |e| {
        if is_lock_conflict(&e) {
            StoreError::Contention {
                backend,
                message: e.to_string(),
            }
        } else {
            StoreError::backend(backend, e)
        }
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("sql", e))
}

fn parse<T: DeserializeOwned>(body: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

/// A table row that holds a record's JSON form.
trait BodyRow {
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
fn decode_one<T: DeserializeOwned, R: BodyRow>(row: Option<R>) -> Result<Option<T>, StoreError> {
    row.map(|r| parse(r.body(), &r.name())).transpose()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A row limit the drivers accept: SQLite binds `LIMIT` as a signed 64-bit
/// integer and its driver panics on larger values.
fn sql_limit(limit: usize) -> u64 {
    Ord::min(u64::try_from(limit).unwrap_or(u64::MAX), i64::MAX as u64)
}

fn subject_key(s: Subject) -> String {
    match s {
        Subject::Lead(id) => format!("lead:{}", id.0),
        Subject::Deal(id) => format!("deal:{}", id.0),
    }
}

/// Whether the server aborted the transaction to resolve a lock conflict,
/// read from the database's own error code, never from message text:
/// PostgreSQL SQLSTATE 40001 (serialization failure) and 40P01 (deadlock
/// detected); MySQL/MariaDB errors 1213 (deadlock) and 1205 (lock wait
/// timeout); SQLite `SQLITE_BUSY` and `SQLITE_LOCKED` (primary codes 5 and 6,
/// with their extended codes).
fn is_lock_conflict(e: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = e
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(db) = &**e else {
        return false;
    };
    #[cfg(feature = "mysql")]
    if let Some(mysql) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        return matches!(mysql.number(), 1205 | 1213);
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
        return db
            .code()
            .and_then(|c| c.parse::<u32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    }
    matches!(db.code().as_deref(), Some("40001" | "40P01"))
}

/// A valid PostgreSQL identifier for a schema name.
fn schema_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SeaStore {
    /// Connects with the default options (migrating on connect).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SeaOptions::default()).await
    }

    /// Connects to `url`: `sqlite://path/to/file.db` (created when missing,
    /// unless the URL gives a `mode`), `postgres://user@host/db` or
    /// `mysql://user@host/db`. Refuses a database whose crcm format is newer
    /// than this build's, before running any migration.
    pub async fn connect_with(url: &str, options: SeaOptions) -> Result<Self, StoreError> {
        let backend = if url.starts_with("postgres") {
            "postgres"
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            "mysql"
        } else if url.starts_with("sqlite") {
            "sqlite"
        } else {
            return Err(StoreError::backend(
                "sql",
                format!("unsupported database URL scheme in {url:?}"),
            ));
        };
        let err = db_err(backend);
        // A SQLite file is created when missing unless the URL says otherwise.
        let url = if backend == "sqlite" && !url.contains("mode=") && !url.contains(":memory:") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let url = url.as_str();
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .max_connections(if backend == "sqlite" {
                1
            } else {
                Ord::max(options.max_connections, 1)
            })
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.connect_timeout);
        // PostgreSQL plans a prepared statement once after five runs and keeps
        // that plan until the table is analyzed: a plan made while a table was
        // nearly empty (a sequential scan) stays while an import fills it, and
        // each batch gets slower. Plan every statement for the table as it is.
        #[cfg(feature = "postgres")]
        opts.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
        if let Some(schema) = &options.schema {
            if backend != "postgres" || !schema_ok(schema) {
                return Err(StoreError::backend(
                    backend,
                    format!("schema {schema:?}: PostgreSQL only, letters, digits and _"),
                ));
            }
            // Create the schema with a plain connection first, then pin every pooled connection to it.
            let mut plain = ConnectOptions::new(url.to_owned());
            plain
                .sqlx_logging(false)
                .max_connections(1)
                .connect_timeout(options.connect_timeout)
                .acquire_timeout(options.connect_timeout);
            let plain = Database::connect(plain).await.map_err(&err)?;
            match plain
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
            {
                // Another node created it between the check and the insert.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
                other => {
                    other.map_err(&err)?;
                }
            }
            plain.close().await.map_err(&err)?;
            opts.set_schema_search_path(schema.clone());
        }
        let db = Database::connect(opts).await.map_err(&err)?;
        let store = Self { db, backend };
        if let Some(found) = store.stored_format().await?
            && found > FORMAT_VERSION
        {
            return Err(StoreError::FormatTooNew {
                found,
                supported: FORMAT_VERSION,
            });
        }
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Runs pending migrations (a no-op when the schema is current).
    ///
    /// Nodes that start together may all call this: on PostgreSQL the
    /// migration runs in one transaction under an advisory lock, on MySQL under
    /// a named lock, so one node migrates and the others then find nothing
    /// pending.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let err = self.err();
        let txn = self.db.begin().await.map_err(&err)?;
        let (lock, unlock) = match self.backend {
            "postgres" => (
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.crcm_migrate'))",
                None,
            ),
            "mysql" => (
                "SELECT GET_LOCK(CONCAT(DATABASE(), '.crcm_migrate'), 300)",
                Some("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.crcm_migrate'))"),
            ),
            // SQLite: the file's write lock already serializes writers.
            _ => ("SELECT 1", None),
        };
        txn.execute_unprepared(lock).await.map_err(&err)?;
        let migrated = migration::Migrator::up(&txn, None).await;
        if let Some(unlock) = unlock {
            // The lock also ends with the session; a failure here loses nothing.
            if let Err(e) = txn.execute_unprepared(unlock).await {
                tracing::warn!(error = %e, "releasing the migration lock failed");
            }
        }
        match migrated {
            Ok(()) => txn.commit().await.map_err(&err),
            Err(e) => {
                if let Err(rb) = txn.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(err(e))
            }
        }
    }

    /// The format recorded in `crcm_meta`, or `None` when crcm's tables do not exist yet.
    async fn stored_format(&self) -> Result<Option<u32>, StoreError> {
        let err = self.err();
        // No crcm_meta table: a database crcm has not migrated yet.
        if !SchemaManager::new(&self.db)
            .has_table("crcm_meta")
            .await
            .map_err(&err)?
        {
            return Ok(None);
        }
        match meta::Entity::find_by_id("format".to_owned())
            .one(&self.db)
            .await
            .map_err(&err)?
        {
            Some(row) => row.value.parse().map(Some).map_err(|_| StoreError::Corrupt {
                what: "crcm_meta.format".into(),
                message: format!("not a number: {:?}", row.value),
            }),
            None => Ok(None),
        }
    }

    /// The connection, for hosts that share it.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await.map_err(db_err(self.backend))
    }

    fn err(&self) -> impl Fn(DbErr) -> StoreError {
        db_err(self.backend)
    }
}

async fn put_row<C: ConnectionTrait>(
    c: &C,
    table: &str,
    id: &str,
    expected: Option<u64>,
    cols: Vec<(&'static str, sea_orm::Value)>,
) -> Result<u64, DbErr> {
    match expected {
        None => {
            let mut q = Query::insert();
            q.into_table(Alias::new(table))
                .columns(cols.iter().map(|(n, _)| Alias::new(*n)));
            q.values(cols.into_iter().map(|(_, v)| Expr::val(v)))
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(c.execute(&q).await?.rows_affected())
        }
        Some(v) => {
            let mut q = Query::update();
            q.table(Alias::new(table))
                .values(cols.into_iter().map(|(n, v)| (Alias::new(n), Expr::val(v))))
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .and_where(Expr::col(Alias::new("version")).eq(to_i64(v)));
            Ok(c.execute(&q).await?.rows_affected())
        }
    }
}

fn table_of(kind: EntityKind) -> &'static str {
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
fn columns(record: &Record) -> Result<Vec<(&'static str, sea_orm::Value)>, StoreError> {
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
            ("body", json(l)?.into()),
        ]),
        Record::Customer(c) => cols.extend([
            ("email", opt(c.email.as_ref().map(ToString::to_string))),
            ("phone", opt(c.phone.as_ref().map(|p| p.e164.clone()))),
            ("owner", c.owner.as_str().into()),
            ("body", json(c)?.into()),
        ]),
        Record::Deal(d) => cols.extend([
            ("lead_id", opt(d.lead.map(|l| l.0.to_string()))),
            ("customer_id", d.customer.0.to_string().into()),
            ("pipeline", d.pipeline.as_str().into()),
            ("stage", d.stage.as_str().into()),
            ("status", d.status.as_str().into()),
            ("lost_reason", opt(d.lost_reason.as_ref().map(ToString::to_string))),
            ("owner", d.owner.as_str().into()),
            ("body", json(d)?.into()),
        ]),
        Record::Activity(a) => cols.extend([
            ("subject", subject_key(a.subject).into()),
            ("occurred_at", a.occurred_at.timestamp_micros().into()),
            ("body", json(a)?.into()),
        ]),
        Record::FollowUp(f) => cols.extend([
            ("subject", subject_key(f.subject).into()),
            ("due", f.due.to_string().into()),
            ("assignee", f.assignee.as_str().into()),
            ("done", i64::from(f.done).into()),
            ("body", json(f)?.into()),
        ]),
        Record::Communication(c) => cols.extend([
            ("lead_id", opt(c.lead.map(|l| l.0.to_string()))),
            ("status", c.status.as_str().into()),
            ("received_at", c.received_at.timestamp_micros().into()),
            ("body", json(c)?.into()),
        ]),
    }
    Ok(cols)
}

/// Checks the unit's guards and bumps its touched lookup keys, first thing in
/// its transaction. The key rows are created when missing and then locked in
/// name order (every committer locks in the same order, so they queue rather
/// than deadlock); a guarded record is read under a shared lock. Locking reads
/// see the latest committed version on PostgreSQL and MySQL; SQLite has one
/// writer at a time.
async fn check_guards<C: ConnectionTrait>(c: &C, uow: &UnitOfWork, backend: &'static str) -> Result<(), StoreError> {
    let err = db_err(backend);
    let sqlite = c.get_database_backend() == DbBackend::Sqlite;
    let mut names: BTreeSet<&str> = uow.touched().iter().map(String::as_str).collect();
    names.extend(uow.guards().iter().filter_map(|g| match g {
        Guard::Key { key, .. } => Some(key.as_str()),
        Guard::Record { .. } => None,
    }));
    if !names.is_empty() {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(LOOKUPS))
            .columns([Alias::new("name"), Alias::new("version")]);
        for name in &names {
            insert
                .values([(*name).into(), 0i64.into()])
                .map_err(|e| err(DbErr::Custom(e.to_string())))?;
        }
        insert.on_conflict(
            OnConflict::column(Alias::new("name"))
                .do_nothing_on([Alias::new("name")])
                .to_owned(),
        );
        c.execute(&insert).await.map_err(&err)?;
        let versions = read_lookups(c, names.iter().copied(), !sqlite).await.map_err(&err)?;
        for g in uow.guards() {
            if let Guard::Key { key, .. } = g {
                g.check(versions.get(key).copied())?;
            }
        }
        if !uow.touched().is_empty() {
            let bump = Query::update()
                .table(Alias::new(LOOKUPS))
                .value(Alias::new("version"), Expr::col(Alias::new("version")).add(1i64))
                .and_where(Expr::col(Alias::new("name")).is_in(uow.touched().iter().map(String::as_str)))
                .to_owned();
            c.execute(&bump).await.map_err(&err)?;
        }
    }
    for g in uow.guards() {
        if let Guard::Record { entity, .. } = g {
            let mut q = Query::select()
                .column(Alias::new("version"))
                .from(Alias::new(table_of(entity.kind)))
                .and_where(Expr::col(Alias::new("id")).eq(entity.id.to_string()))
                .to_owned();
            if !sqlite {
                q.lock(LockType::Share);
            }
            let found = match c.query_one(&q).await.map_err(&err)? {
                Some(r) => Some(to_u64(r.try_get::<i64>("", "version").map_err(&err)?)),
                None => None,
            };
            g.check(found)?;
        }
    }
    Ok(())
}

/// The table of lookup-key versions.
const LOOKUPS: &str = "crcm_lookup_keys";

/// The stored versions of lookup keys (keys never touched have no row);
/// `lock` reads them under an exclusive row lock, in name order.
async fn read_lookups<'a, C: ConnectionTrait>(
    c: &C,
    names: impl IntoIterator<Item = &'a str>,
    lock: bool,
) -> Result<std::collections::BTreeMap<String, u64>, DbErr> {
    let mut select = Query::select();
    select
        .columns([Alias::new("name"), Alias::new("version")])
        .from(Alias::new(LOOKUPS))
        .and_where(Expr::col(Alias::new("name")).is_in(names))
        .order_by(Alias::new("name"), Order::Asc);
    if lock {
        select.lock(LockType::Update);
    }
    let mut versions = std::collections::BTreeMap::new();
    for row in c.query_all(&select).await? {
        let name: String = row.try_get("", "name")?;
        let version: i64 = row.try_get("", "version")?;
        versions.insert(name, to_u64(version));
    }
    Ok(versions)
}

/// Inserts the unit's new records, table by table in foreign-key order
/// (customers before the leads and deals that name them), many rows per
/// statement: a unit that creates a thousand leads costs a handful of
/// statements, not thousands. An id that exists already is a conflict, a
/// lead number that exists already a duplicate; both are checked first.
async fn insert_new<C: ConnectionTrait>(
    c: &C,
    uow: &UnitOfWork,
    cells: &mut select::CellDeltas,
    backend: &'static str,
) -> Result<(), StoreError> {
    let err = db_err(backend);
    for kind in [
        EntityKind::Customer,
        EntityKind::Lead,
        EntityKind::Deal,
        EntityKind::Activity,
        EntityKind::FollowUp,
        EntityKind::Communication,
    ] {
        let records: Vec<&Record> = uow
            .writes()
            .iter()
            .filter_map(|w| match w {
                Write::Put { record, expected: None } if record.entity().kind == kind => Some(record),
                _ => None,
            })
            .collect();
        let Some(first) = records.first() else {
            continue;
        };
        let table = table_of(kind);
        let width = columns(first)?.len();
        // Bind parameters per statement stay well under every driver's limit.
        let per_statement = (20_000 / width.max(1)).max(1);
        for chunk in records.chunks(per_statement) {
            let ids: Vec<String> = chunk.iter().map(|r| r.entity().id.to_string()).collect();
            let taken = Query::select()
                .columns([Alias::new("id"), Alias::new("version")])
                .from(Alias::new(table))
                .and_where(Expr::col(Alias::new("id")).is_in(ids.iter().map(String::as_str)))
                .to_owned();
            if let Some(row) = c.query_one(&taken).await.map_err(&err)? {
                let id: String = row.try_get("", "id").map_err(&err)?;
                let version: i64 = row.try_get("", "version").map_err(&err)?;
                let entity = chunk
                    .iter()
                    .map(|r| r.entity())
                    .find(|e| e.id.to_string() == id)
                    .unwrap_or_else(|| first.entity());
                return Err(StoreError::Conflict {
                    entity,
                    expected: None,
                    found: Some(to_u64(version)),
                });
            }
            let leads: Vec<&Lead> = chunk
                .iter()
                .filter_map(|r| match r {
                    Record::Lead(l) => Some(l),
                    _ => None,
                })
                .collect();
            if !leads.is_empty() {
                let numbers = Query::select()
                    .column(Alias::new("number"))
                    .from(Alias::new("crcm_leads"))
                    .and_where(Expr::col(Alias::new("number")).is_in(leads.iter().map(|l| to_i64(l.number))))
                    .to_owned();
                if let Some(row) = c.query_one(&numbers).await.map_err(&err)? {
                    let number: i64 = row.try_get("", "number").map_err(&err)?;
                    return Err(StoreError::Duplicate {
                        what: "lead number".into(),
                        value: number.to_string(),
                    });
                }
            }
            let mut insert = Query::insert();
            let mut named = false;
            for record in chunk {
                let cols = columns(record)?;
                if !named {
                    insert
                        .into_table(Alias::new(table))
                        .columns(cols.iter().map(|(n, _)| Alias::new(*n)));
                    named = true;
                }
                insert
                    .values(cols.into_iter().map(|(_, v)| Expr::val(v)))
                    .map_err(|e| err(DbErr::Custom(e.to_string())))?;
            }
            if let Err(e) = c.execute(&insert).await {
                return Err(match (e.sql_err(), leads.first()) {
                    (Some(SqlErr::UniqueConstraintViolation(msg)), Some(l)) if msg.contains("number") => {
                        StoreError::Duplicate {
                            what: "lead number".into(),
                            value: l.number.to_string(),
                        }
                    }
                    (Some(SqlErr::UniqueConstraintViolation(_)), _) => StoreError::Conflict {
                        entity: first.entity(),
                        expected: None,
                        found: Some(0),
                    },
                    _ => err(e),
                });
            }
            let tags: Vec<(String, String)> = leads
                .iter()
                .flat_map(|l| l.tags.iter().map(|t| (l.id.0.to_string(), t.to_string())))
                .collect();
            for part in tags.chunks(5_000) {
                let mut q = Query::insert();
                q.into_table(Alias::new("crcm_lead_tags"))
                    .columns([Alias::new("lead_id"), Alias::new("tag")]);
                for (lead, tag) in part {
                    q.values([lead.as_str().into(), tag.as_str().into()])
                        .map_err(|e| err(DbErr::Custom(e.to_string())))?;
                }
                c.execute(&q).await.map_err(&err)?;
            }
            select::insert_terms(c, chunk).await.map_err(&err)?;
            for l in &leads {
                select::count_lead(cells, l, 1);
            }
        }
    }
    Ok(())
}

/// Rows per multi-row insert of history entries and events: few enough
/// bind parameters for every driver (at most 4 per row).
const ROWS_PER_INSERT: usize = 1_000;

/// Applies a unit of work inside an open transaction.
async fn apply<C: ConnectionTrait>(
    c: &C,
    uow: &UnitOfWork,
    backend: &'static str,
) -> Result<CommitReceipt, StoreError> {
    let err = db_err(backend);
    check_guards(c, uow, backend).await?;
    let mut cells = select::CellDeltas::new();
    insert_new(c, uow, &mut cells, backend).await?;
    for w in uow.writes() {
        if matches!(w, Write::Put { expected: None, .. }) {
            continue;
        }
        let entity = w.entity();
        let id = entity.id.to_string();
        let table = table_of(entity.kind);
        if entity.kind == EntityKind::Lead {
            // The board cells move with the lead: out of its stored cell, into its new one.
            let expected = match w {
                Write::Put { expected, .. } => *expected,
                Write::Delete { expected, .. } => Some(*expected),
            };
            if let Some(v) = expected
                && let Some((key, value)) = select::stored_cell(c, &id, v).await.map_err(&err)?
            {
                select::count_value(&mut cells, key, value, -1);
            }
            if let Write::Put {
                record: Record::Lead(l),
                ..
            } = w
            {
                select::count_lead(&mut cells, l, 1);
            }
        }
        let (rows, expected) = match w {
            Write::Put { record, expected } => {
                // An insert of an id that exists is a conflict. Checked first:
                // after a failed statement PostgreSQL reads nothing more in the
                // transaction, and SQLite may name another unique column.
                if expected.is_none()
                    && let Some(found) = current_version(c, table, &id, false).await.map_err(&err)?
                {
                    return Err(StoreError::Conflict {
                        entity,
                        expected: None,
                        found: Some(found),
                    });
                }
                let rows = match put_row(c, table, &id, *expected, columns(record)?).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        return Err(match (e.sql_err(), record) {
                            (Some(SqlErr::UniqueConstraintViolation(msg)), Record::Lead(l))
                                if msg.contains("number") =>
                            {
                                StoreError::Duplicate {
                                    what: "lead number".into(),
                                    value: l.number.to_string(),
                                }
                            }
                            (Some(SqlErr::UniqueConstraintViolation(_)), _) => StoreError::Conflict {
                                entity,
                                expected: *expected,
                                found: Some(0),
                            },
                            _ => err(e),
                        });
                    }
                };
                if let Record::Lead(l) = record
                    && rows == 1
                {
                    lead_tag::Entity::delete_many()
                        .filter(lead_tag::Column::LeadId.eq(id.clone()))
                        .exec(c)
                        .await
                        .map_err(&err)?;
                    for tag in &l.tags {
                        lead_tag::ActiveModel {
                            lead_id: Set(id.clone()),
                            tag: Set(tag.to_string()),
                        }
                        .insert(c)
                        .await
                        .map_err(&err)?;
                    }
                }
                if rows == 1 {
                    select::write_terms(c, record).await.map_err(&err)?;
                }
                (rows, *expected)
            }
            Write::Delete { expected, .. } => {
                select::delete_terms(c, entity).await.map_err(&err)?;
                let q = Query::delete()
                    .from_table(Alias::new(table))
                    .and_where(Expr::col(Alias::new("id")).eq(id.clone()))
                    .and_where(Expr::col(Alias::new("version")).eq(to_i64(*expected)))
                    .to_owned();
                let rows = c.execute(&q).await.map_err(&err)?.rows_affected();
                (rows, Some(*expected))
            }
        };
        if rows != 1 {
            let found = current_version(c, table, &id, true).await.map_err(&err)?;
            return Err(StoreError::Conflict {
                entity,
                expected,
                found,
            });
        }
    }
    select::apply_cells(c, &cells).await.map_err(&err)?;
    if let Some(cw) = uow.config() {
        let body = json(&cw.config)?;
        let rows = match cw.expected {
            None => config::Entity::insert(config::ActiveModel {
                id: Set(1),
                version: Set(to_i64(cw.version)),
                body: Set(body),
            })
            .exec_without_returning(c)
            .await
            .or_else(|e| {
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    Ok(0)
                } else {
                    Err(e)
                }
            })
            .map_err(&err)?,
            Some(v) => {
                config::Entity::update_many()
                    .col_expr(config::Column::Version, Expr::val(to_i64(cw.version)))
                    .col_expr(config::Column::Body, Expr::val(body))
                    .filter(config::Column::Id.eq(1))
                    .filter(config::Column::Version.eq(to_i64(v)))
                    .exec(c)
                    .await
                    .map_err(&err)?
                    .rows_affected
            }
        };
        if rows != 1 {
            let found = config::Entity::find_by_id(1)
                .one(c)
                .await
                .map_err(&err)?
                .map(|r| to_u64(r.version));
            return Err(StoreError::ConfigConflict {
                expected: cw.expected,
                found,
            });
        }
    }
    if let Some(cw) = uow.config() {
        write_reference_rows(c, &cw.config).await.map_err(&err)?;
    }
    // Many rows per statement: an import batch writes thousands.
    for part in uow.history().chunks(ROWS_PER_INSERT) {
        let mut rows = Vec::with_capacity(part.len());
        for h in part {
            rows.push(history::ActiveModel {
                entity_kind: Set(h.entity.kind.as_str().to_owned()),
                entity_id: Set(h.entity.id.to_string()),
                version: Set(to_i64(h.version)),
                body: Set(json(h)?),
            });
        }
        history::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await
            .map_err(&err)?;
    }
    steps::write_steps(c, uow.steps()).await.map_err(&err)?;
    let count = uow.events().len() as u64;
    let mut first = 0;
    if count > 0 {
        // Last statement: the row lock on the sequence orders committers.
        sequence::Entity::update_many()
            .col_expr(
                sequence::Column::Value,
                Expr::col(sequence::Column::Value).add(to_i64(count)),
            )
            .filter(sequence::Column::Name.eq("event"))
            .exec(c)
            .await
            .map_err(&err)?;
        let last = sequence::Entity::find_by_id("event".to_owned())
            .one(c)
            .await
            .map_err(&err)?
            .map_or(0, |r| to_u64(r.value));
        first = last + 1 - count;
        for (p, part) in uow.events().chunks(ROWS_PER_INSERT).enumerate() {
            let mut rows = Vec::with_capacity(part.len());
            for (i, e) in part.iter().enumerate() {
                let seq = first + (p * ROWS_PER_INSERT + i) as u64;
                let envelope = EventEnvelope {
                    seq,
                    at: uow.at(),
                    actor: uow.actor().clone(),
                    event: e.clone(),
                };
                rows.push(event::ActiveModel {
                    seq: Set(to_i64(seq)),
                    body: Set(json(&envelope)?),
                });
            }
            event::Entity::insert_many(rows)
                .exec_without_returning(c)
                .await
                .map_err(&err)?;
        }
    }
    Ok(CommitReceipt {
        first_seq: first,
        events: count,
    })
}

/// The name serde gives a unit enum value (e.g. `"initial"`).
fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

/// Rewrites `crcm_phases` and `crcm_stages` from the configuration.
async fn write_reference_rows<C: ConnectionTrait>(c: &C, config: &Config) -> Result<(), DbErr> {
    for table in ["crcm_phases", "crcm_stages"] {
        c.execute(&Query::delete().from_table(Alias::new(table)).to_owned())
            .await?;
    }
    for p in &config.phases {
        let mut q = Query::insert();
        q.into_table(Alias::new("crcm_phases"))
            .columns(["account_type", "code", "description", "phase_type", "order_no"].map(Alias::new))
            .values([
                p.account_type.as_str().into(),
                p.code.as_str().into(),
                p.description.as_str().into(),
                label(&p.phase_type).into(),
                i64::from(p.order).into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        c.execute(&q).await?;
    }
    for pipeline in &config.pipelines {
        for (position, s) in pipeline.stages.iter().enumerate() {
            let mut q = Query::insert();
            q.into_table(Alias::new("crcm_stages"))
                .columns(["pipeline", "code", "name", "kind", "position", "probability"].map(Alias::new))
                .values([
                    pipeline.code.as_str().into(),
                    s.code.as_str().into(),
                    s.name.as_str().into(),
                    label(&s.kind).into(),
                    to_i64(position as u64).into(),
                    i64::from(s.probability).into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            c.execute(&q).await?;
        }
    }
    Ok(())
}

/// The stored version of a row, as committed now. On MySQL/MariaDB a plain
/// SELECT in a transaction reads the transaction's snapshot (REPEATABLE READ),
/// which can predate the write that caused a conflict; a locking read sees the
/// latest committed row. PostgreSQL (READ COMMITTED) and SQLite (one writer)
/// see it with a plain read.
///
/// `latest` asks for that locking read; the existence check before an insert
/// does without it, because a locking read of a missing row takes a gap lock
/// on MySQL, and two inserters holding gap locks deadlock.
async fn current_version<C: ConnectionTrait>(c: &C, table: &str, id: &str, latest: bool) -> Result<Option<u64>, DbErr> {
    let mut q = Query::select()
        .column(Alias::new("version"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    if latest && c.get_database_backend() == DbBackend::MySql {
        q.lock(sea_orm::sea_query::LockType::Update);
    }
    let row = c.query_one(&q).await?;
    Ok(match row {
        Some(r) => Some(to_u64(r.try_get::<i64>("", "version")?)),
        None => None,
    })
}

#[async_trait]
impl Store for SeaStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn format_version(&self) -> Result<u32, StoreError> {
        Ok(self.stored_format().await?.unwrap_or(FORMAT_VERSION))
    }

    async fn config(&self) -> Result<Option<(Config, u64)>, StoreError> {
        match config::Entity::find_by_id(1).one(&self.db).await.map_err(self.err())? {
            None => Ok(None),
            Some(r) => Ok(Some((parse(&r.body, "configuration")?, to_u64(r.version)))),
        }
    }

    async fn get(&self, e: EntityRef) -> Result<Option<Record>, StoreError> {
        let id = e.id.to_string();
        let err = self.err();
        let db = &self.db;
        Ok(match e.kind {
            EntityKind::Lead => {
                decode_one(lead::Entity::find_by_id(id).one(db).await.map_err(&err)?)?.map(Record::Lead)
            }
            EntityKind::Customer => {
                decode_one(customer::Entity::find_by_id(id).one(db).await.map_err(&err)?)?.map(Record::Customer)
            }
            EntityKind::Deal => {
                decode_one(deal::Entity::find_by_id(id).one(db).await.map_err(&err)?)?.map(Record::Deal)
            }
            EntityKind::Activity => {
                decode_one(activity::Entity::find_by_id(id).one(db).await.map_err(&err)?)?.map(Record::Activity)
            }
            EntityKind::FollowUp => {
                decode_one(follow_up::Entity::find_by_id(id).one(db).await.map_err(&err)?)?.map(Record::FollowUp)
            }
            EntityKind::Communication => {
                decode_one(communication::Entity::find_by_id(id).one(db).await.map_err(&err)?)?
                    .map(Record::Communication)
            }
        })
    }

    async fn select(&self, q: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError> {
        select::select(&self.db, self.backend, q, page).await
    }

    async fn board_cells(&self, account_type: &Code) -> Result<Vec<BoardCell>, StoreError> {
        select::board_cells(&self.db, self.backend, account_type).await
    }

    async fn tally(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError> {
        select::tally(&self.db, self.backend, tally).await
    }

    async fn history(&self, e: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = history::Entity::find()
            .filter(history::Column::EntityKind.eq(e.kind.as_str()))
            .filter(history::Column::EntityId.eq(e.id.to_string()))
            .order_by_asc(history::Column::Version)
            .all(&self.db)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| parse(&r.body, &format!("history of {e}")))
            .collect()
    }

    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        let rows = event::Entity::find()
            .filter(event::Column::Seq.gt(to_i64(after)))
            .order_by_asc(event::Column::Seq)
            .limit(sql_limit(limit))
            .all(&self.db)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| parse(&r.body, &format!("event {}", r.seq)))
            .collect()
    }

    async fn reserve_lead_numbers(&self, count: u64) -> Result<u64, StoreError> {
        let err = self.err();
        let count = std::cmp::max(count, 1);
        let txn = self.db.begin().await.map_err(&err)?;
        sequence::Entity::update_many()
            .col_expr(
                sequence::Column::Value,
                Expr::col(sequence::Column::Value).add(to_i64(count)),
            )
            .filter(sequence::Column::Name.eq("lead"))
            .exec(&txn)
            .await
            .map_err(&err)?;
        let value = sequence::Entity::find_by_id("lead".to_owned())
            .one(&txn)
            .await
            .map_err(&err)?
            .map_or(0, |r| to_u64(r.value));
        txn.commit().await.map_err(&err)?;
        Ok(std::cmp::max((value + 1).saturating_sub(count), 1))
    }

    async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        let err = self.err();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let versions = read_lookups(&self.db, keys.iter().map(String::as_str), false)
            .await
            .map_err(&err)?;
        Ok(keys.iter().map(|k| versions.get(k).copied().unwrap_or(0)).collect())
    }

    async fn commit(&self, uow: UnitOfWork) -> Result<CommitReceipt, StoreError> {
        let err = self.err();
        let txn = self.db.begin().await.map_err(&err)?;
        match apply(&txn, &uow, self.backend).await {
            Ok(receipt) => txn.commit().await.map(|()| receipt).map_err(err),
            Err(e) => {
                // Nothing of the unit may remain; a failed rollback means the
                // connection is gone, and the server discards the transaction.
                if let Err(rb) = txn.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

/// The backend a URL names, e.g. for logs.
pub fn backend_of(url: &str) -> Option<DbBackend> {
    if url.starts_with("postgres") {
        Some(DbBackend::Postgres)
    } else if url.starts_with("mysql") || url.starts_with("mariadb") {
        Some(DbBackend::MySql)
    } else if url.starts_with("sqlite") {
        Some(DbBackend::Sqlite)
    } else {
        None
    }
}
