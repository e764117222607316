//! The crcm side: an [`Engine`] over the store a spec names, through the
//! Rust API, with each backend's count of what a read costs.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crcm::commands::{CreateLead, MoveLeadPhase, SetConfig};
use crcm::engine::board::BoardQuery;
use crcm::engine::import::ImportOptions;
use crcm::engine::query::LeadQuery;
use crcm::engine::reports::Interval;
use crcm::open::{OpenedStore, StoreOptions};
use crcm::store::query::{Cursor, LeadFilter, PageRequest};
use crcm::{Actor, Code, Engine, LeadId, NewLead, PhaseRef, Role, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::Result;

/// What a backend counts of the work a read does (see [`Reads::total`]).
pub enum Reads {
    /// sled: index entries and query rows read by selects.
    Sled(Arc<crcm::SledStore>),
    /// SQLite: B-tree pages the store's one connection asked its page cache
    /// for (hits and misses), so a page read twice counts twice.
    Sqlite(DatabaseConnection),
    /// PostgreSQL: rows its tables returned to scans (sequential and index),
    /// from the statistics collector.
    Postgres {
        /// A connection of the harness's own.
        admin: DatabaseConnection,
        /// The schema crcm's tables are in.
        schema: String,
    },
    /// MySQL/MariaDB: the server's handler reads (first, key, next, prev,
    /// rnd, rnd_next): every row or index entry a statement stepped to.
    Mysql(DatabaseConnection),
}

impl Reads {
    /// What the counter says now (it only grows).
    pub async fn total(&self) -> Result<u64> {
        match self {
            Self::Sled(store) => Ok(store.select_reads()),
            Self::Sqlite(db) => sqlite_pages(db).await,
            Self::Postgres { admin, schema } => {
                // Each backend sends its counts within a second of going idle.
                tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
                admin.execute_unprepared("SELECT pg_stat_clear_snapshot()").await?;
                let row = admin
                    .query_one_raw(Statement::from_sql_and_values(
                        admin.get_database_backend(),
                        "SELECT COALESCE(SUM(seq_tup_read + COALESCE(idx_tup_fetch, 0)), 0)::bigint AS n \
                         FROM pg_stat_user_tables WHERE schemaname = $1",
                        [schema.as_str().into()],
                    ))
                    .await?
                    .ok_or("pg_stat_user_tables answered no row")?;
                Ok(row.try_get::<i64>("", "n")?.max(0) as u64)
            }
            Self::Mysql(admin) => {
                let rows = admin
                    .query_all_raw(Statement::from_string(
                        admin.get_database_backend(),
                        "SHOW GLOBAL STATUS LIKE 'Handler_read%'",
                    ))
                    .await?;
                let mut n = 0u64;
                for row in rows {
                    let value: String = row.try_get_by_index(1)?;
                    n += value.parse::<u64>().unwrap_or(0);
                }
                Ok(n)
            }
        }
    }
}

/// The page cache requests of the SQLite store's only connection.
async fn sqlite_pages(db: &DatabaseConnection) -> Result<u64> {
    use libsqlite3_sys::{SQLITE_DBSTATUS_CACHE_HIT, SQLITE_DBSTATUS_CACHE_MISS, SQLITE_OK, sqlite3_db_status};
    let pool = db.get_sqlite_connection_pool();
    let mut conn = pool.acquire().await?;
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle().as_ptr();
    let mut total = 0u64;
    for op in [SQLITE_DBSTATUS_CACHE_HIT, SQLITE_DBSTATUS_CACHE_MISS] {
        let (mut current, mut highest) = (0, 0);
        // SAFETY: `raw` is the open connection `handle` holds locked for
        // this call; sqlite3_db_status only reads its counters.
        let rc = unsafe { sqlite3_db_status(raw, op, &mut current, &mut highest, 0) };
        if rc != SQLITE_OK {
            return Err(format!("sqlite3_db_status({op}) returned {rc}").into());
        }
        total += current.max(0) as u64;
    }
    Ok(total)
}

/// crcm through its Rust API.
pub struct CrcmSide {
    /// The engine.
    pub engine: Engine,
    /// The store under it.
    pub opened: OpenedStore,
    /// A manager: sees every lead.
    pub actor: Actor,
    /// The leads `create` made, and whether each is in QUOTE.
    created: Vec<(LeadId, bool)>,
}

/// The story's account type.
pub fn business() -> Result<Code> {
    Ok(Code::new("business")?)
}

/// The lead `create` writes: the same every time but its e-mail and phone.
pub fn new_lead(i: usize) -> Result<NewLead> {
    Ok(NewLead {
        account_type: Some(business()?),
        first_name: format!("Ada{i}"),
        last_name: "Lovelace".into(),
        company: "Analytical Engines".into(),
        email: Some(format!("ada{i}@engines.example.org")),
        phone: Some(format!("+1 202 555 {:04}", i % 10_000)),
        source: Some(Code::new("referral")?),
        description: "Met at the fair; wants a demo.".into(),
        ..NewLead::default()
    })
}

impl CrcmSide {
    /// Opens (creating) the store `spec` names with the story's configuration.
    pub async fn open(spec: &str, options: &StoreOptions) -> Result<Self> {
        let opened = crcm::open::open_store(spec, options).await?;
        let engine = Engine::open(opened.store()).await?;
        let actor = Actor::new(UserId::new("maria")?, Role::Manager);
        if engine.config().await.map(|(_, v)| v).unwrap_or(0) == 0 {
            engine
                .run(
                    &actor,
                    SetConfig {
                        config: serde_json::from_str(include_str!("../../examples/story/config.json"))?,
                        expected_version: None,
                    },
                )
                .await?;
        }
        Ok(Self {
            engine,
            opened,
            actor,
            created: Vec::new(),
        })
    }

    /// Creates one lead, durably.
    pub async fn create(&mut self, i: usize) -> Result<crcm::Lead> {
        let lead = self.engine.run(&self.actor, CreateLead { lead: new_lead(i)? }).await?;
        self.created.push((lead.id, false));
        Ok(lead)
    }

    /// Moves one of the leads `create` made between CALL and QUOTE, durably.
    pub async fn move_one(&mut self, i: usize) -> Result<()> {
        let n = self.created.len();
        let (lead, quoted) = self.created.get_mut(i % n).ok_or("no lead to move")?;
        let code = if *quoted { "CALL" } else { "QUOTE" };
        self.engine
            .run(
                &self.actor,
                MoveLeadPhase {
                    lead: *lead,
                    phase: PhaseRef {
                        account_type: business()?,
                        code: Code::new(code)?,
                    },
                    closing_reason: None,
                    note: None,
                },
            )
            .await?;
        *quoted = !*quoted;
        Ok(())
    }

    /// Imports an import file; every row must import. The leads imported.
    pub async fn import_file(&self, file: std::fs::File) -> Result<u64> {
        let report = self
            .engine
            .import_leads(&self.actor, file, &ImportOptions::default(), &mut ())
            .await?;
        if report.rejected > 0 || report.duplicates > 0 || report.imported != report.rows {
            return Err(format!(
                "the import took {} of {} rows ({} rejected, {} duplicates)",
                report.imported, report.rows, report.rejected, report.duplicates
            )
            .into());
        }
        Ok(report.imported)
    }

    /// A page of 50 of an owner's open leads, after `after`; the next page's cursor.
    pub async fn list(&self, owner: &str, after: Option<Cursor>) -> Result<(usize, Option<Cursor>)> {
        let query = LeadQuery {
            filter: LeadFilter {
                owner: Some(UserId::new(owner)?),
                ..LeadFilter::default()
            },
            open: Some(true),
            page: PageRequest {
                after,
                ..PageRequest::default()
            },
            ..LeadQuery::default()
        };
        let page = self.engine.leads(&self.actor, &query).await?;
        Ok((page.items.len(), page.next))
    }

    /// The search box: the first page of leads found by `text`.
    pub async fn search(&self, text: &str) -> Result<usize> {
        let query = LeadQuery {
            search: Some(text.to_owned()),
            ..LeadQuery::default()
        };
        Ok(self.engine.leads(&self.actor, &query).await?.items.len())
    }

    /// The board of the business account type, five cards a column.
    pub async fn board(&self) -> Result<usize> {
        let board = self
            .engine
            .board(
                &self.actor,
                &BoardQuery {
                    account_type: business()?,
                    owner: None,
                    filter: LeadFilter::default(),
                    cards: 5,
                },
            )
            .await?;
        Ok(board.columns.iter().map(|c| c.cards.len()).sum())
    }

    /// One report over the 30 days before `now`: `sources`, `funnel` or `reasons`.
    pub async fn report(&self, name: &str, now: DateTime<Utc>) -> Result<usize> {
        let interval = Interval::days(now - chrono::Duration::days(30), 30);
        Ok(match name {
            "sources" => self.engine.report_sources(&self.actor, &interval).await?.len(),
            "funnel" => self
                .engine
                .report_funnel(&self.actor, &business()?, &interval)
                .await?
                .phases
                .len(),
            "reasons" => self.engine.report_reasons(&self.actor, &interval).await?.len(),
            other => return Err(format!("no report {other}").into()),
        })
    }
}
