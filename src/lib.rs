#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The facade names what it exports, so an item added to crcm-core's root
// does not silently become part of this crate's API.

/// The public testing kit (strategies, reference model, conformance suite).
#[cfg(feature = "testing")]
pub use crcm_core::testing;
/// The `uuid` crate of crcm's ids, the same version crcm uses.
pub use crcm_core::uuid;
/// Codes and user ids checked when the program compiles.
pub use crcm_core::{code, user_id};
/// The front doors: every command, every error, and the common imports.
pub use crcm_core::{commands, error, prelude};
/// The layers of crcm-core: records, the storage contract, the rules, the engine.
pub use crcm_core::{domain, engine, rules, store};

/// The in-memory store: for tests only, it keeps nothing.
pub use crcm_core::MemoryStore;
pub use crcm_core::{
    Activity, ActivityId, ActivityKind, Code, Communication, CommunicationId, CommunicationKind, CommunicationStatus,
    Contact, Customer, CustomerId, Deal, DealId, DealStatus, DomainEvent, EntityKind, EntityRef, EventEnvelope,
    FieldChange, FollowUp, FollowUpId, HistoryEntry, Lead, LeadId, LeadStatus, Subject, UserId,
};
pub use crcm_core::{Actor, Command, CommandOutput, Engine, Error, Executed, Result, Role, TypedCommand};
pub use crcm_core::{
    CommunicationFilter, Cursor, CustomerFilter, CustomerQuery, DealFilter, LeadFilter, LeadQuery, LeadSort, Page,
    PageRequest,
};
pub use crcm_core::{Config, Phase, PhaseRef, PhaseType, Pipeline, Stage, StageKind};
pub use crcm_core::{Currency, Email, Money, MoneySum, Phone};
pub use crcm_core::{CustomerChoice, DealDraft, LeadPatch, NewLead};

/// The embedded default backend ([`crcm_store_sled`]).
#[cfg(feature = "sled")]
pub use crcm_store_sled as sled;
#[cfg(feature = "sled")]
pub use crcm_store_sled::SledStore;

/// The SQL backend ([`crcm_store_sea`]): SQLite, PostgreSQL, MySQL/MariaDB.
#[cfg(feature = "sea")]
pub use crcm_store_sea as sea;
#[cfg(feature = "sea")]
pub use crcm_store_sea::{SeaOptions, SeaStore};

#[cfg(any(feature = "sled", feature = "sea"))]
pub mod open;

pub mod blocking;
