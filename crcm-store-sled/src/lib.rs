//! # crcm-store-sled
//!
//! crcm's embedded default backend: one directory, no server, safe to kill.
//! It implements [`crcm_core::store::Store`] on [sled] 0.34.
//!
//! ## Directory layout
//!
//! ```text
//! <dir>/crcm-store.json   marker: {"crcm_store": true, "format": 1}
//! <dir>/sled/             the sled database
//! ```
//!
//! The marker is written before the database is created, and read before
//! anything is opened: a directory that has files but no marker is not a crcm
//! store and is refused untouched; a marker with a newer format is refused
//! untouched.
//!
//! ## Trees and keys
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `format`, `config`, `lead_seq`, `event_seq`, `board`, `index` (key versions) | u32/u64 big-endian, or JSON `{version, config}` |
//! | `records` | kind byte + UUID (16 bytes) | encoded [`Record`] |
//! | `history` | kind byte + UUID + version (u64 BE) | encoded [`HistoryEntry`] |
//! | `events` | sequence (u64 BE) | encoded [`EventEnvelope`] |
//! | `idx` | index tag + length-prefixed values + kind byte + UUID (see [`index`] for the exceptions) | empty, or the lead's number target or query row |
//! | `board` | account type + phase's account type + phase code + status + owner + currency (length-prefixed) | count (u64 BE) + summed expected revenue (i64 BE) |
//! | `lookups` | lookup key (UTF-8, see `crcm_core::store::record::lookup`) | version (u64 BE) |
//!
//! Numbers are big-endian so that byte order is numeric order. Encoded values
//! are one byte of value-encoding version (`1` = JSON) followed by the JSON
//! form of the crcm type; the store's format version (in the marker and in
//! `meta`) is [`crcm_core::store::FORMAT_VERSION`].
//!
//! Secondary indexes (tags in [`index`]) cover every field a lead, deal,
//! customer or communication select narrows by (`crcm_core::store::query`),
//! search words, each lead's query row (what filters and sorts read, so a
//! query decodes only the leads it returns), the phase-entered time (rotten
//! and stuck leads are a key range), and the timeline's subjects; the
//! read paths are in `select.rs`. They, the board cells, history and events are written
//! in the same sled multi-tree transaction as the records, after the
//! optimistic-version checks, so they cannot disagree with the records;
//! [`SledStore::verify`] checks that they do not.
//!
//! ## Durability
//!
//! With [`Durability::Flush`] (the default), `commit` returns after sled has
//! flushed the unit of work to disk. One flusher thread does the flushing for
//! every writer (group commit: units that applied while a flush was running
//! share the next one), with sled's blocking `flush()`; sled's `flush_async` is
//! never used, because concurrent calls to it can hang sled 0.34 for good. A
//! flush that fails after the unit applied returns
//! [`StoreError::NotDurable`]: the unit is in the store, but may not survive a
//! crash. [`Durability::Periodic`] returns as soon as
//! the transaction is applied and lets sled flush every `every_ms`
//! milliseconds: a crash (of the machine, or a kill of the process) can then
//! lose the units of work committed in the last `every_ms` milliseconds, always
//! whole units and always the most recent ones; it never leaves a partial one.
//!
//! ## Threads
//!
//! Every sled call (reads, transactions, flushes) runs on tokio's blocking
//! pool (`spawn_blocking`), never on an async worker thread, so a slow disk or
//! sled's transaction lock cannot stall the host's runtime. Outside a tokio
//! runtime the calls run inline.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod codec;
mod flush;
pub mod index;
mod select;
mod verify;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use crcm_core::domain::config::Config;
use crcm_core::domain::config::PhaseRef;
use crcm_core::domain::entity::{EntityKind, EntityRef};
use crcm_core::domain::event::EventEnvelope;
use crcm_core::domain::history::HistoryEntry;
use crcm_core::domain::ids::{Code, LeadId, UserId};
use crcm_core::domain::lead::LeadStatus;
use crcm_core::store::error::StoreError;
use crcm_core::store::record::Record;
use crcm_core::store::steps::PhaseStep;
use crcm_core::store::tally::{BoardCell, Tally, TallyRow};
use crcm_core::store::uow::{Guard, UnitOfWork, Write};
use crcm_core::store::{CommitReceipt, FORMAT_VERSION, Page, PageRequest, Select, Store};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::codec::{decode, encode, record_key, u64_value};
use crate::flush::{DiskSync, FlushFn, Flusher};
pub use crate::verify::VerifyReport;

const BACKEND: &str = "sled";
const MARKER: &str = "crcm-store.json";

/// Whether `dir` holds a crcm store (its marker file), without opening or
/// creating anything.
pub fn holds_store(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

/// When a committed unit of work reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the unit of work is flushed to disk. (Default.)
    #[default]
    Flush,
    /// `commit` returns once applied; sled flushes every `every_ms` ms. A crash
    /// loses at most the units committed in that window (whole units, newest first).
    Periodic {
        /// Flush interval in milliseconds.
        every_ms: u64,
    },
}

/// Options for [`SledStore::open_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SledOptions {
    /// When commits reach the disk.
    pub durability: Durability,
    /// sled's page cache size in bytes, at least [`SledOptions::MIN_CACHE`].
    pub cache_capacity: u64,
}

impl SledOptions {
    /// The smallest page cache accepted (1 MiB): sled 0.34 divides its cache
    /// among shards and panics on one that holds nothing.
    pub const MIN_CACHE: u64 = 1024 * 1024;
}

impl Default for SledOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Flush,
            cache_capacity: 64 * 1024 * 1024,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Marker {
    crcm_store: bool,
    format: u32,
}

#[derive(Serialize, Deserialize)]
struct StoredConfig {
    version: u64,
    config: Config,
}

/// The sled store. Cheap to share behind an `Arc`; one process opens a
/// directory at a time (sled locks it).
#[derive(Clone)]
pub struct SledStore {
    // First, so that the last clone's drop stops the flusher (which flushes
    // once more) before the database handle goes.
    flusher: Option<std::sync::Arc<Flusher>>,
    db: sled::Db,
    meta: sled::Tree,
    records: sled::Tree,
    history: sled::Tree,
    events: sled::Tree,
    idx: sled::Tree,
    board: sled::Tree,
    lookups: sled::Tree,
    durability: Durability,
    dir: PathBuf,
    /// Index entries and rows read by selects (see [`SledStore::select_reads`]).
    reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("dir", &self.dir)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

fn io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::backend(BACKEND, e)
}

/// Reads the marker of an existing store, refusing what is not a crcm store.
fn check_dir(dir: &Path) -> Result<Option<u32>, StoreError> {
    let marker = dir.join(MARKER);
    if marker.exists() {
        let text = std::fs::read_to_string(&marker).map_err(io)?;
        let m: Marker = serde_json::from_str(&text)
            .map_err(|e| StoreError::NotACrcmStore(format!("{}: unreadable marker: {e}", marker.display())))?;
        if !m.crcm_store {
            return Err(StoreError::NotACrcmStore(format!(
                "{}: not a crcm marker",
                marker.display()
            )));
        }
        if m.format > FORMAT_VERSION {
            return Err(StoreError::FormatTooNew {
                found: m.format,
                supported: FORMAT_VERSION,
            });
        }
        return Ok(Some(m.format));
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(StoreError::NotACrcmStore(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut entries = std::fs::read_dir(dir).map_err(io)?;
        if entries.next().is_some() {
            return Err(StoreError::NotACrcmStore(format!(
                "{} is not empty and has no {MARKER}; it was left untouched",
                dir.display()
            )));
        }
    }
    Ok(None)
}

fn write_marker(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let text = serde_json::to_string(&Marker {
        crcm_store: true,
        format: FORMAT_VERSION,
    })
    .map_err(io)?;
    // Write then rename, so a crash never leaves a half-written marker.
    let tmp = dir.join(format!("{MARKER}.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, dir.join(MARKER)).map_err(io)?;
    Ok(())
}

type Trees<'a> = (
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
);

/// A record to store: its encoded value, its index entries and its board
/// cell with the revenue it adds.
struct NewValue {
    value: Vec<u8>,
    entries: Vec<index::Entry>,
    board: Option<(Vec<u8>, i128)>,
}

/// What a write changes, prepared outside the transaction (which may re-run).
struct PreparedWrite {
    entity: EntityRef,
    key: Vec<u8>,
    expected: Option<u64>,
    new: Option<NewValue>,
    new_lead_number: Option<u64>,
}

enum Abort {
    Store(StoreError),
}

impl SledStore {
    /// Opens (or creates) a store in `dir` with the default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(dir, SledOptions::default())
    }

    /// Opens (or creates) a store in `dir`.
    ///
    /// Refused without touching the directory: a non-empty directory without
    /// a crcm marker ([`StoreError::NotACrcmStore`]), a store of a newer format
    /// ([`StoreError::FormatTooNew`]).
    pub fn open_with(dir: impl AsRef<Path>, options: SledOptions) -> Result<Self, StoreError> {
        Self::open_inner(dir.as_ref(), options, None)
    }

    /// Opens the store; `flush` replaces sled's flush in tests.
    fn open_inner(dir: &Path, options: SledOptions, flush: Option<FlushFn>) -> Result<Self, StoreError> {
        // An empty path would put the store into the current directory,
        // whatever else it holds.
        if dir.as_os_str().is_empty() {
            return Err(StoreError::InvalidOptions {
                message: "the store's directory is an empty path; name a directory such as ./crcm-data".into(),
            });
        }
        if options.cache_capacity < SledOptions::MIN_CACHE {
            return Err(StoreError::InvalidOptions {
                message: format!(
                    "a page cache of {} bytes is less than the {} bytes sled needs",
                    options.cache_capacity,
                    SledOptions::MIN_CACHE
                ),
            });
        }
        let dir = dir.to_path_buf();
        let found = check_dir(&dir)?;
        if found.is_none() {
            write_marker(&dir)?;
        }
        let flush_every_ms = match options.durability {
            Durability::Flush => None,
            Durability::Periodic { every_ms } => Some(every_ms.max(1)),
        };
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(options.cache_capacity)
            .flush_every_ms(flush_every_ms)
            .open()
            .map_err(io)?;
        let tree = |name: &str| db.open_tree(name).map_err(io);
        let flusher = match options.durability {
            Durability::Periodic { .. } => None,
            Durability::Flush => {
                let flush = match flush {
                    Some(f) => f,
                    None => {
                        let db = db.clone();
                        let mut disk = DiskSync::open(&dir.join("sled")).map_err(io)?;
                        Box::new(move || {
                            db.flush().map_err(|e| e.to_string())?;
                            disk.sync().map_err(|e| format!("fsync: {e}"))
                        })
                    }
                };
                Some(std::sync::Arc::new(Flusher::start(flush).map_err(io)?))
            }
        };
        let store = Self {
            flusher,
            meta: tree("meta")?,
            records: tree("records")?,
            history: tree("history")?,
            events: tree("events")?,
            idx: tree("idx")?,
            board: tree("board")?,
            lookups: tree("lookups")?,
            db,
            durability: options.durability,
            dir,
            reads: std::sync::Arc::default(),
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Brings a store of an older format to [`FORMAT_VERSION`]. Format 1 is
    /// the first; later formats add their steps here.
    fn upgrade(&self) -> Result<(), StoreError> {
        match self.meta.get(b"format").map_err(io)? {
            None => {
                self.meta.insert(b"format", &FORMAT_VERSION.to_be_bytes()).map_err(io)?;
            }
            Some(v) => {
                let found = v
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "meta/format".into(),
                        message: "not a u32".into(),
                    })?;
                if found > FORMAT_VERSION {
                    return Err(StoreError::FormatTooNew {
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
            }
        }
        self.rebuild_board_if_old()?;
        self.reindex_if_old()?;
        // The lead sequence never falls behind the highest stored number.
        if let Some((k, _)) = self
            .idx
            .scan_prefix(index::lead_number_prefix())
            .next_back()
            .transpose()
            .map_err(io)?
        {
            let max = index::number_from_key(&k);
            self.meta
                .fetch_and_update(b"lead_seq", |old| {
                    let cur = old.map_or(0, u64_value);
                    Some(cur.max(max).to_be_bytes().to_vec())
                })
                .map_err(io)?;
        }
        self.db.flush().map_err(io)?;
        Ok(())
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes everything to disk now (on a blocking thread).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|s| s.db.flush().map(|_| ()).map_err(io)).await
    }

    /// Runs sled calls on tokio's blocking pool (inline outside a runtime).
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&SledStore) -> Result<T, StoreError> + Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return f(self);
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| io(format!("sled task failed: {e}")))?
    }

    /// Checks that every index entry, board count, history run and the event
    /// sequence agree with the records. Any user can run it on a store.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify::verify(self)
    }

    /// Every board cell (leads per account type, phase, status, owner and
    /// currency, with their summed expected revenue), kept in the same
    /// transactions as the leads.
    pub fn board_counts(&self) -> Result<Vec<BoardCell>, StoreError> {
        self.cells_under(&[])
    }

    /// The board cells whose key starts with `prefix`, in key order.
    pub(crate) fn cells_under(&self, prefix: &[u8]) -> Result<Vec<BoardCell>, StoreError> {
        let mut out = Vec::new();
        for item in self.board.scan_prefix(prefix) {
            let (k, v) = item.map_err(io)?;
            self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let parts = index::split_parts(&k);
            let corrupt = || StoreError::Corrupt {
                what: format!("board cell {}", codec::hex(&k)),
                message: "unreadable key".into(),
            };
            let [at, phase_type, phase_code, status, owner, currency] = parts.as_slice() else {
                return Err(corrupt());
            };
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt());
            let phase = if phase_code.is_empty() {
                None
            } else {
                Some(PhaseRef {
                    account_type: Code::new(&text(phase_type)?).map_err(|_| corrupt())?,
                    code: Code::new(&text(phase_code)?).map_err(|_| corrupt())?,
                })
            };
            let status = text(status)?;
            let (count, value) = index::read_cell(&v);
            let currency = text(currency)?;
            out.push(BoardCell {
                account_type: Code::new(&text(at)?).map_err(|_| corrupt())?,
                phase,
                status: LeadStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str() == status)
                    .ok_or_else(corrupt)?,
                owner: UserId::new(&text(owner)?).map_err(|_| corrupt())?,
                currency: (!currency.is_empty()).then_some(currency),
                count,
                value,
            });
        }
        out.sort();
        Ok(out)
    }

    /// Recounts the board from the leads when it was written with the key of
    /// an older build: (account type, phase code, status), where two account
    /// types sharing a phase code collided, or (account type, phase, status)
    /// without owner, currency and revenue, or 64-bit sums an older build
    /// saturated (version 4 sums in 128 bits, exactly). Runs once per key
    /// version; `meta/board` records it.
    fn rebuild_board_if_old(&self) -> Result<(), StoreError> {
        const BOARD_KEY_VERSION: u32 = 4;
        let current = self
            .meta
            .get(b"board")
            .map_err(io)?
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes));
        if current.is_some_and(|v| v >= BOARD_KEY_VERSION) {
            return Ok(());
        }
        self.board.clear().map_err(io)?;
        let mut counts: std::collections::BTreeMap<Vec<u8>, (u64, i128)> = std::collections::BTreeMap::new();
        for item in self.records.iter() {
            let (k, v) = item.map_err(io)?;
            if let Some((b, value)) = index::board_cell(&decode::<Record>(&v, &k)?) {
                let cell = counts.entry(b).or_default();
                cell.0 += 1;
                cell.1 += value;
            }
        }
        for (k, (n, value)) in counts {
            self.board.insert(k, &index::cell_value(n, value)).map_err(io)?;
        }
        self.meta
            .insert(b"board", &BOARD_KEY_VERSION.to_be_bytes())
            .map_err(io)?;
        Ok(())
    }

    /// Rebuilds the secondary indexes when they were written by an older
    /// build (before search words, query rows, the communication-status
    /// index, sort entries, deal words and phase steps, which come from
    /// history; version 6: a deleted lead's stay ends at its deletion; version 7: a
    /// lead's query row carries its record team, for visibility; version 8:
    /// search words are folded for accents, case and punctuation, and a
    /// lead's external reference is indexed; version 9: the import that
    /// created a lead is indexed; version 10: closed leads by the time they
    /// closed). Runs
    /// once; `meta/index` marks it done.
    fn reindex_if_old(&self) -> Result<(), StoreError> {
        const INDEX_VERSION: u32 = 10;
        let current = self
            .meta
            .get(b"index")
            .map_err(io)?
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes));
        if current.is_some_and(|v| v >= INDEX_VERSION) {
            return Ok(());
        }
        self.idx.clear().map_err(io)?;
        for item in self.records.iter() {
            let (k, v) = item.map_err(io)?;
            for (ik, iv) in index::keys(&decode::<Record>(&v, &k)?) {
                self.idx.insert(ik, iv).map_err(io)?;
            }
        }
        // Phase steps from the leads' history (keys are entity, then
        // version, so each lead's entries come together and in order).
        let mut lead: Option<(EntityRef, Vec<HistoryEntry>)> = None;
        let replay = |done: Option<(EntityRef, Vec<HistoryEntry>)>| -> Result<(), StoreError> {
            if let Some((e, entries)) = done {
                for step in PhaseStep::replay(LeadId(e.id), &entries) {
                    for (ik, iv) in index::step_entries(&step) {
                        self.idx.insert(ik, iv).map_err(io)?;
                    }
                }
            }
            Ok(())
        };
        for item in self.history.iter() {
            let (k, v) = item.map_err(io)?;
            let h: HistoryEntry = decode(&v, &k)?;
            if h.entity.kind != EntityKind::Lead {
                continue;
            }
            match &mut lead {
                Some((e, entries)) if *e == h.entity => entries.push(h),
                _ => replay(lead.replace((h.entity, vec![h])))?,
            }
        }
        replay(lead)?;
        self.meta.insert(b"index", &INDEX_VERSION.to_be_bytes()).map_err(io)?;
        Ok(())
    }

    fn load(&self, key: &[u8]) -> Result<Option<Record>, StoreError> {
        match self.records.get(key).map_err(io)? {
            None => Ok(None),
            Some(v) => decode::<Record>(&v, key).map(Some),
        }
    }

    fn prepare(&self, uow: &UnitOfWork) -> Result<Vec<PreparedWrite>, StoreError> {
        uow.writes()
            .iter()
            .map(|w| {
                let entity = w.entity();
                Ok(match w {
                    Write::Put { record, expected } => PreparedWrite {
                        entity,
                        key: record_key(entity),
                        expected: *expected,
                        new: Some(NewValue {
                            value: encode(record)?,
                            entries: index::keys(record),
                            board: index::board_cell(record),
                        }),
                        new_lead_number: match (record, expected) {
                            (Record::Lead(l), None) => Some(l.number),
                            _ => None,
                        },
                    },
                    Write::Delete { expected, .. } => PreparedWrite {
                        entity,
                        key: record_key(entity),
                        expected: Some(*expected),
                        new: None,
                        new_lead_number: None,
                    },
                })
            })
            .collect()
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Store(e))
}

fn add_cell(
    board: &sled::transaction::TransactionalTree,
    key: &[u8],
    count: i64,
    value: i128,
) -> Result<(), ConflictableTransactionError<Abort>> {
    let (cur, sum) = board.get(key)?.map_or((0, 0), |v| index::read_cell(&v));
    // Exact or refused: a saturated sum would stay wrong after the lead
    // leaves the cell.
    let (Some(next), Some(next_sum)) = (cur.checked_add_signed(count), sum.checked_add(value)) else {
        return Err(abort(StoreError::Overflow {
            what: format!("board cell {}", codec::hex(key)),
        }));
    };
    if next == 0 {
        board.remove(key)?;
    } else {
        board.insert(key, &index::cell_value(next, next_sum))?;
    }
    Ok(())
}

/// The synchronous bodies of the [`Store`] methods, run on the blocking pool.
impl SledStore {
    fn format_version_now(&self) -> Result<u32, StoreError> {
        let v = self.meta.get(b"format").map_err(io)?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(FORMAT_VERSION))
    }

    fn config_now(&self) -> Result<Option<(Config, u64)>, StoreError> {
        match self.meta.get(b"config").map_err(io)? {
            None => Ok(None),
            Some(v) => {
                let c: StoredConfig = decode(&v, b"meta/config")?;
                Ok(Some((c.config, c.version)))
            }
        }
    }

    fn get_now(&self, entity: EntityRef) -> Result<Option<Record>, StoreError> {
        self.load(&record_key(entity))
    }

    fn history_now(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self.history.scan_prefix(record_key(entity)) {
            let (k, v) = item.map_err(io)?;
            out.push(decode(&v, &k)?);
        }
        Ok(out)
    }

    fn events_since_now(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        let mut out = Vec::new();
        let Some(start) = after.checked_add(1) else {
            return Ok(out);
        };
        for item in self.events.range(start.to_be_bytes()..).take(limit) {
            let (k, v) = item.map_err(io)?;
            out.push(decode(&v, &k)?);
        }
        Ok(out)
    }

    fn reserve_lead_numbers_now(&self, count: u64) -> Result<u64, StoreError> {
        let count = count.max(1);
        let last = self
            .meta
            .update_and_fetch(b"lead_seq", |old| {
                Some(old.map_or(0, u64_value).saturating_add(count).to_be_bytes().to_vec())
            })
            .map_err(io)?;
        Ok(last.map_or(1, |v| (u64_value(&v) + 1).saturating_sub(count).max(1)))
    }

    fn lookup_versions_now(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        keys.iter()
            .map(|k| Ok(self.lookups.get(k.as_bytes()).map_err(io)?.map_or(0, u64_value)))
            .collect()
    }

    fn commit_now(&self, uow: &UnitOfWork) -> Result<CommitReceipt, StoreError> {
        let prepared = self.prepare(uow)?;
        let history: Vec<(Vec<u8>, Vec<u8>)> = uow
            .history()
            .iter()
            .map(|h| Ok((codec::history_key(h.entity, h.version), encode(h)?)))
            .collect::<Result<_, StoreError>>()?;
        let config = match uow.config() {
            Some(c) => Some((
                c.expected,
                encode(&StoredConfig {
                    version: c.version,
                    config: c.config.clone(),
                })?,
            )),
            None => None,
        };
        let event_count = uow.events().len() as u64;
        let trees: Trees<'_> = (
            &self.meta,
            &self.records,
            &self.history,
            &self.events,
            &self.idx,
            &self.board,
            &self.lookups,
        );
        let result = trees.transaction(|(meta, records, history_t, events, idx, board, lookups)| {
            for g in uow.guards() {
                let found = match g {
                    Guard::Record { entity, .. } => match records.get(record_key(*entity))? {
                        None => None,
                        Some(v) => Some(decode::<Record>(&v, b"guard").map_err(abort)?.version()),
                    },
                    Guard::Key { key, .. } => lookups.get(key.as_bytes())?.map(|v| u64_value(&v)),
                };
                g.check(found).map_err(abort)?;
            }
            for key in uow.touched() {
                let next = lookups.get(key.as_bytes())?.map_or(0, u64_value) + 1;
                lookups.insert(key.as_bytes(), &next.to_be_bytes())?;
            }
            for w in &prepared {
                let old = match records.get(&w.key)? {
                    None => None,
                    Some(v) => Some(decode::<Record>(&v, &w.key).map_err(abort)?),
                };
                let found = old.as_ref().map(Record::version);
                if found != w.expected {
                    return Err(abort(StoreError::Conflict {
                        entity: w.entity,
                        expected: w.expected,
                        found,
                    }));
                }
                if let Some(number) = w.new_lead_number
                    && idx.get(index::lead_number_key(number))?.is_some()
                {
                    return Err(abort(StoreError::Duplicate {
                        what: "lead number".into(),
                        value: number.to_string(),
                    }));
                }
                if let Some(old) = &old {
                    for (k, _) in index::keys(old) {
                        idx.remove(k)?;
                    }
                    if let Some((b, value)) = index::board_cell(old) {
                        add_cell(board, &b, -1, -value)?;
                    }
                }
                match &w.new {
                    Some(new) => {
                        for (k, v) in &new.entries {
                            idx.insert(k.as_slice(), v.as_slice())?;
                        }
                        if let Some((b, value)) = &new.board {
                            add_cell(board, b, 1, *value)?;
                        }
                        records.insert(w.key.as_slice(), new.value.as_slice())?;
                    }
                    None => {
                        records.remove(w.key.as_slice())?;
                    }
                }
            }
            for step in uow.steps() {
                for (k, v) in index::step_entries(step) {
                    idx.insert(k, v)?;
                }
            }
            if let Some((expected, value)) = &config {
                let found = match meta.get(b"config")? {
                    None => None,
                    Some(v) => Some(decode::<StoredConfig>(&v, b"meta/config").map_err(abort)?.version),
                };
                if found != *expected {
                    return Err(abort(StoreError::ConfigConflict {
                        expected: *expected,
                        found,
                    }));
                }
                meta.insert(b"config", value.as_slice())?;
            }
            for (k, v) in &history {
                history_t.insert(k.as_slice(), v.as_slice())?;
            }
            let last = meta.get(b"event_seq")?.map_or(0, u64_value);
            for (i, event) in uow.events().iter().enumerate() {
                let seq = last + 1 + i as u64;
                let envelope = EventEnvelope {
                    seq,
                    at: uow.at(),
                    actor: uow.actor().clone(),
                    event: event.clone(),
                };
                let value = encode(&envelope).map_err(abort)?;
                events.insert(&seq.to_be_bytes(), value)?;
            }
            if event_count > 0 {
                meta.insert(b"event_seq", &(last + event_count).to_be_bytes())?;
            }
            Ok(last + 1)
        });
        let first_seq = match result {
            Ok(first) => first,
            Err(TransactionError::Abort(Abort::Store(e))) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(io(e)),
        };
        if let Some(flusher) = &self.flusher
            && let Err(message) = flusher.wait_durable()
        {
            // The transaction applied: say so, rather than "not applied".
            return Err(StoreError::NotDurable {
                backend: BACKEND,
                first_seq,
                events: event_count,
                message,
            });
        }
        Ok(CommitReceipt {
            first_seq,
            events: event_count,
        })
    }
}

#[async_trait]
impl Store for SledStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn format_version(&self) -> Result<u32, StoreError> {
        self.blocking(|s| s.format_version_now()).await
    }

    async fn config(&self) -> Result<Option<(Config, u64)>, StoreError> {
        self.blocking(|s| s.config_now()).await
    }

    async fn get(&self, entity: EntityRef) -> Result<Option<Record>, StoreError> {
        self.blocking(move |s| s.get_now(entity)).await
    }

    async fn select(&self, select: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError> {
        let (select, page) = (select.clone(), *page);
        self.blocking(move |s| s.select_now(&select, &page)).await
    }

    async fn board_cells(&self, account_type: &Code) -> Result<Vec<BoardCell>, StoreError> {
        let prefix = index::board_prefix(account_type.as_str());
        self.blocking(move |s| s.cells_under(&prefix)).await
    }

    async fn tally(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError> {
        let tally = tally.clone();
        self.blocking(move |s| s.tally_now(&tally)).await
    }

    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        self.blocking(move |s| s.history_now(entity)).await
    }

    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        self.blocking(move |s| s.events_since_now(after, limit)).await
    }

    async fn reserve_lead_numbers(&self, count: u64) -> Result<u64, StoreError> {
        self.blocking(move |s| s.reserve_lead_numbers_now(count)).await
    }

    async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        let keys = keys.to_vec();
        self.blocking(move |s| s.lookup_versions_now(&keys)).await
    }

    async fn commit(&self, uow: UnitOfWork) -> Result<CommitReceipt, StoreError> {
        self.blocking(move |s| s.commit_now(&uow)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead_store() -> (tempfile::TempDir, SledStore, crcm_core::Engine, tokio::runtime::Runtime) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(tmp.path().join("s")).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
        let engine = rt.block_on(crcm_core::testing::configured(std::sync::Arc::new(store.clone())));
        for i in 0..5 {
            let lead = crcm_core::NewLead {
                company: format!("Co {i}"),
                email: Some(format!("c{i}@example.com")),
                account_type: crcm_core::Code::new("b2b").ok(),
                ..crcm_core::NewLead::default()
            };
            rt.block_on(engine.run(&crcm_core::testing::ann(), crcm_core::commands::CreateLead { lead }))
                .expect("lead");
        }
        (tmp, store, engine, rt)
    }

    /// The board cells as (account type, phase, status, count).
    fn cells(store: &SledStore) -> Vec<(String, String, String, u64)> {
        store
            .board_counts()
            .expect("board")
            .into_iter()
            .map(|c| {
                let phase = c.phase.map(|p| p.to_string()).unwrap_or_default();
                (c.account_type.to_string(), phase, c.status.as_str().to_owned(), c.count)
            })
            .collect()
    }

    #[test]
    fn verify_finds_a_healthy_store_consistent() {
        let (_tmp, store, _engine, _rt) = lead_store();
        let report = store.verify().expect("verify");
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!((report.records, report.leads, report.history_entries), (5, 5, 5));
        assert_eq!(report.events, 6, "config + 5 leads");
        assert_eq!(
            report.index_entries,
            5 * (8 + 2 + 6 + 2 + 1 + 5),
            "status, owner, type, phase, zone, email, number, updated; owner-phase-number, phase-number; \
             6 search words (co, the digit, c<i>, example, com, and the e-mail's runs joined); query row, phase entered; \
             the phase step; 5 sort keys (created, updated, expected close, value, phase entered)"
        );
        assert_eq!(
            cells(&store),
            vec![("b2b".to_owned(), "b2b/CALL".to_owned(), "new".to_owned(), 5)]
        );
    }

    #[test]
    fn a_failed_flush_reports_the_unit_as_applied() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let tmp = tempfile::tempdir().expect("tempdir");
        let failing = std::sync::Arc::new(AtomicBool::new(false));
        let f = std::sync::Arc::clone(&failing);
        let flush: FlushFn = Box::new(move || {
            if f.load(Ordering::SeqCst) {
                Err("injected: disk full".to_owned())
            } else {
                Ok(())
            }
        });
        let store = SledStore::open_inner(&tmp.path().join("s"), SledOptions::default(), Some(flush)).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
        let engine = rt.block_on(crcm_core::testing::configured(std::sync::Arc::new(store)));
        failing.store(true, Ordering::SeqCst);
        let lead = crcm_core::NewLead {
            company: "Unflushed".into(),
            account_type: crcm_core::Code::new("b2b").ok(),
            ..crcm_core::NewLead::default()
        };
        let err = rt
            .block_on(engine.run(&crcm_core::testing::ann(), crcm_core::commands::CreateLead { lead }))
            .expect_err("the flush failed");
        assert!(
            matches!(
                err,
                crcm_core::Error::Store(StoreError::NotDurable {
                    events: 1,
                    first_seq: 2,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("was applied"), "{err}");
        // The unit is in the store, once: the engine did not retry it.
        let stored = rt
            .block_on(engine.lead_by_number(&crcm_core::testing::root(), 1))
            .expect("the lead was applied");
        assert_eq!(stored.company, "Unflushed");
        assert!(
            rt.block_on(engine.lead_by_number(&crcm_core::testing::root(), 2))
                .is_err(),
            "applied once"
        );
    }

    #[test]
    fn a_board_of_an_older_key_is_recounted_on_open() {
        let (tmp, store, engine, _rt) = lead_store();
        // Rewrite the board as an older build did: (account type, phase code, status).
        let old: Vec<(Vec<u8>, sled::IVec)> = store
            .board
            .iter()
            .map(|kv| kv.expect("read"))
            .map(|(k, v)| {
                let parts = index::split_parts(&k);
                let mut key = Vec::new();
                for p in [parts[0], parts[2], parts[3]] {
                    key.extend_from_slice(&u16::try_from(p.len()).expect("short").to_be_bytes());
                    key.extend_from_slice(p);
                }
                (key, v)
            })
            .collect();
        store.board.clear().expect("clear");
        for (k, v) in old {
            store.board.insert(k, v).expect("write");
        }
        store.meta.remove(b"board").expect("unmark");
        assert!(store.board_counts().is_err(), "old cells are not read as new ones");
        drop(engine);
        drop(store);
        let store = SledStore::open(tmp.path().join("s")).expect("reopen");
        assert_eq!(
            cells(&store),
            vec![("b2b".to_owned(), "b2b/CALL".to_owned(), "new".to_owned(), 5)]
        );
        let report = store.verify().expect("verify");
        assert!(report.is_ok(), "{:?}", report.problems);
    }

    #[test]
    fn phase_steps_of_an_older_index_come_from_history() {
        let (tmp, store, engine, rt) = lead_store();
        let lead = rt
            .block_on(engine.lead_by_number(&crcm_core::testing::root(), 1))
            .expect("lead");
        rt.block_on(engine.run(
            &crcm_core::testing::ann(),
            crcm_core::commands::MoveLeadPhase {
                lead: lead.id,
                phase: crcm_core::testing::phase("b2b", "MEETING"),
                closing_reason: None,
                note: None,
            },
        ))
        .expect("move");
        let steps = |store: &SledStore| [index::STEP, index::STEP_LEFT].map(|tag| store.idx.scan_prefix([tag]).count());
        assert_eq!(steps(&store), [6, 1], "five stays in CALL (one ended), one in MEETING");
        // An older build wrote no steps.
        for tag in [index::STEP, index::STEP_LEFT] {
            for k in store.idx.scan_prefix([tag]).keys() {
                store.idx.remove(k.expect("key")).expect("remove");
            }
        }
        store.meta.remove(b"index").expect("unmark");
        assert!(!store.verify().expect("verify").is_ok(), "missing steps are reported");
        drop(engine);
        drop(store);
        let store = SledStore::open(tmp.path().join("s")).expect("reopen");
        assert_eq!(steps(&store), [6, 1], "the steps are filled from history");
        let report = store.verify().expect("verify");
        assert!(report.is_ok(), "{:?}", report.problems);
    }

    #[test]
    fn verify_reports_tampering() {
        let (_tmp, store, _engine, _rt) = lead_store();
        let (k, _) = store
            .idx
            .scan_prefix([index::EMAIL])
            .next()
            .expect("an email entry")
            .expect("read");
        store.idx.remove(&k).expect("remove");
        store.idx.insert(b"Zstray", &[]).expect("insert");
        let (bk, _) = store.board.iter().next().expect("cell").expect("read");
        store.board.insert(&bk, &index::cell_value(9, 0)).expect("tamper");
        store.events.remove(2u64.to_be_bytes()).expect("remove event");
        let report = store.verify().expect("verify");
        let text = report.problems.join("\n");
        assert!(text.contains("missing index entry"), "{text}");
        assert!(text.contains("stray index entry"), "{text}");
        assert!(text.contains("counts 9, the leads say 5"), "{text}");
        assert!(text.contains("event sequence jumps from 1 to 3"), "{text}");
        assert_eq!(report.problems.len(), 5, "{text}");
    }
}
