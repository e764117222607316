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

pub mod domain;
pub mod engine;
pub mod rules;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use domain::activity::{
    Activity, ActivityKind, Communication, CommunicationKind, CommunicationStatus, FollowUp, Subject,
};
pub use domain::config::{Config, Phase, PhaseRef, PhaseType, Pipeline, Stage, StageKind};
pub use domain::contact::{Email, Phone};
pub use domain::customer::{Contact, Customer};
pub use domain::deal::{Deal, DealStatus};
pub use domain::entity::{EntityKind, EntityRef};
pub use domain::event::{DomainEvent, EventEnvelope};
pub use domain::history::{FieldChange, HistoryEntry};
pub use domain::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
pub use domain::input::{CustomerChoice, DealDraft, LeadPatch, NewLead};
pub use domain::lead::{Lead, LeadStatus};
pub use domain::money::{Currency, Money};
pub use engine::command::{Command, CommandOutput};
pub use engine::{Engine, Executed};
pub use rules::access::{Actor, Role};
pub use rules::error::{Error, Result};
pub use store::memory::MemoryStore;
pub use store::record::Record;
pub use store::uow::UnitOfWork;
pub use store::{DealFilter, DynStore, LeadFilter, Store, StoreExt};

/// Every error type, in one place: [`Error`] and the errors it composes,
/// each defined beside what raises it.
pub mod error {
    pub use crate::domain::config::{ConfigError, ItemInUse};
    pub use crate::domain::error::InputError;
    pub use crate::rules::access::PermissionError;
    pub use crate::rules::error::{Error, Result};
    pub use crate::rules::machine::ReasonError;
    pub use crate::rules::machine::{DealError, LeadError, PhaseError};
    pub use crate::store::error::StoreError;
}
