//! # crcm-core
//!
//! The domain of crcm, an embeddable CRM pipeline engine: leads, phases per
//! account type, deals in pipelines, customers, activities, history and domain
//! events; the three state machines (lead lifecycle, lead phase, deal);
//! reference data and its validation; permissions.
//!
//! Every business rule lives in this crate, in pure functions
//! ([`rules`], [`machine`]) that take loaded records and return a
//! [`UnitOfWork`] or a typed refusal.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod access;
pub mod activity;
pub mod command;
pub mod config;
pub mod contact;
pub mod custom;
pub mod customer;
pub mod deal;
pub mod engine;
pub mod error;
pub mod event;
pub mod history;
pub mod ids;
pub mod lead;
pub mod limits;
pub mod machine;
pub mod memory;
pub mod money;
pub mod record;
pub mod rules;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod uow;

pub use access::{Actor, Role};
pub use activity::{Activity, ActivityKind, Communication, CommunicationKind, CommunicationStatus, FollowUp, Subject};
pub use command::{Command, CommandOutput, CustomerChoice, DealDraft, LeadPatch, NewLead};
pub use config::{Config, Phase, PhaseRef, PhaseType, Pipeline, Stage, StageKind};
pub use contact::{Email, Phone};
pub use customer::{Contact, Customer};
pub use deal::{Deal, DealStatus};
pub use engine::{Engine, Executed};
pub use error::{Error, Result};
pub use event::{DomainEvent, EventEnvelope};
pub use history::{FieldChange, HistoryEntry};
pub use ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
pub use lead::{Lead, LeadStatus};
pub use memory::MemoryStore;
pub use money::{Currency, Money};
pub use record::{EntityKind, EntityRef, Record};
pub use store::{DealFilter, DynStore, LeadFilter, Store, StoreExt};
pub use uow::UnitOfWork;
