//! [`StoreError`]: what a storage backend reports.

use thiserror::Error as ThisError;

use crate::domain::entity::EntityRef;

/// A version for a message: "version 3", or "no record".
fn version(v: Option<u64>) -> String {
    v.map_or_else(|| "no record".to_owned(), |v| format!("version {v}"))
}

/// A failure of the storage backend.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the record changed since it was read; nothing was written.
    #[error("conflict on {entity}: expected {}, found {}", version(*expected), version(*found))]
    Conflict {
        /// The record.
        entity: EntityRef,
        /// The version the writer read (None: the writer expected no record).
        expected: Option<u64>,
        /// The version stored now (None: no record).
        found: Option<u64>,
    },
    /// Optimistic concurrency on the configuration: it changed since it was read.
    #[error("configuration conflict: expected {}, found {}", version(*expected), version(*found))]
    ConfigConflict {
        /// The version the writer read.
        expected: Option<u64>,
        /// The version stored now.
        found: Option<u64>,
    },
    /// Optimistic concurrency on a set the decision read through a lookup
    /// (the customers with an e-mail, the deals of a lead, ...; see
    /// [`crate::store::record::lookup`]): it changed since it was read.
    #[error("conflict on {key}: expected version {expected}, found {found}")]
    LookupConflict {
        /// The lookup key.
        key: String,
        /// The version the decision read.
        expected: u64,
        /// The version stored now.
        found: u64,
    },
    /// The database aborted the transaction to resolve contention with
    /// another one (deadlock, serialization failure, a foreign key that a
    /// concurrent transaction just removed); nothing was written, and the
    /// command can be re-run.
    #[error("{backend}: transaction aborted by contention: {message}")]
    Contention {
        /// The backend's name.
        backend: &'static str,
        /// What the database reported.
        message: String,
    },
    /// A unique key (lead number, ...) is taken.
    #[error("duplicate {what}: {value}")]
    Duplicate {
        /// The key.
        what: String,
        /// Its value.
        value: String,
    },
    /// The store was written by a newer crcm.
    #[error("store format {found} is newer than this crcm supports ({supported}); upgrade crcm")]
    FormatTooNew {
        /// The format found.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The options given to open a store cannot work (an empty path, a cache
    /// too small); nothing was opened or written.
    #[error("invalid store options: {message}")]
    InvalidOptions {
        /// What is wrong.
        message: String,
    },
    /// The location holds data that is not a crcm store; it was not modified.
    #[error("not a crcm store: {0}")]
    NotACrcmStore(String),
    /// A stored record could not be decoded.
    #[error("corrupt record {what}: {message}")]
    Corrupt {
        /// The record or key.
        what: String,
        /// The decoder's message.
        message: String,
    },
    /// The unit of work **was applied** and is visible to readers, but making
    /// it durable failed (e.g. the disk refused a flush): it may not survive a
    /// crash. Never retried by the engine, because retrying would apply it twice.
    #[error(
        "{backend}: the unit of work was applied (events {first_seq}..+{events}) but could not be made durable: {message}"
    )]
    NotDurable {
        /// The backend's name.
        backend: &'static str,
        /// Sequence of the unit's first event (when `events > 0`).
        first_seq: u64,
        /// How many events the unit wrote.
        events: u64,
        /// What the flush reported.
        message: String,
    },
    /// A sum the store maintains (a board cell's count or value) would leave
    /// the range the store can hold; the unit of work was not applied. With
    /// amounts within [`limits::AMOUNT`](crate::domain::limits::AMOUNT) no
    /// realistic store comes near it.
    #[error("{what} would overflow; nothing was written")]
    Overflow {
        /// The figure (e.g. `board cell b2b/CALL/ann/USD`).
        what: String,
    },
    /// The backend failed (I/O, connection lost, database error); the unit of work was not applied.
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend's own error.
    pub fn backend(backend: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend {
            backend,
            source: source.into(),
        }
    }

    /// The typed details as JSON (for [`ErrorReport`](crate::error::ErrorReport)).
    pub fn details(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Self::Conflict {
                entity,
                expected,
                found,
            } => json!({ "entity": entity, "expected": expected, "found": found }),
            Self::ConfigConflict { expected, found } => json!({ "expected": expected, "found": found }),
            Self::LookupConflict { key, expected, found } => {
                json!({ "key": key, "expected": expected, "found": found })
            }
            Self::Contention { backend, message } => json!({ "backend": backend, "message": message }),
            Self::Duplicate { what, value } => json!({ "what": what, "value": value }),
            Self::FormatTooNew { found, supported } => json!({ "found": found, "supported": supported }),
            Self::InvalidOptions { message } => json!({ "message": message }),
            Self::NotACrcmStore(what) => json!({ "what": what }),
            Self::Corrupt { what, message } => json!({ "what": what, "message": message }),
            Self::NotDurable {
                backend,
                first_seq,
                events,
                message,
            } => json!({ "backend": backend, "first_seq": first_seq, "events": events, "message": message }),
            Self::Overflow { what } => json!({ "what": what }),
            Self::Backend { backend, source } => json!({ "backend": backend, "message": source.to_string() }),
        }
    }

    /// True for an optimistic-concurrency conflict: nothing was written, and
    /// the command can be re-run against fresh state.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::ConfigConflict { .. } | Self::LookupConflict { .. } | Self::Contention { .. }
        )
    }
}
