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

mod apply;
mod connect;
pub mod entity;
mod mapping;
pub mod migration;
mod select;
mod steps;
mod verify;

use apply::{apply, read_lookups};
pub use connect::SeaOptions;
pub(crate) use mapping::{
    columns, decode_one, json, label, parse, parse_stored, sql_limit, subject_key, table_of, to_i64, to_u64,
};

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
use crcm_core::store::stored::StoredForm;
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
