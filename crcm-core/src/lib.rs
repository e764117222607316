//! # crcm-core
//!
//! The domain of crcm, an embeddable CRM pipeline engine: leads, phases per
//! account type, deals in pipelines, customers, activities, history and domain
//! events; the three state machines (lead lifecycle, lead phase, deal);
//! reference data and its validation; permissions.
//!
//! The crate is four layers, each importing only the ones before it
//! (a test checks this):
//!
//! | layer | holds |
//! |---|---|
//! | [`domain`] | records, ids, contact data, money, configuration, history, events, [`InputError`](error::InputError) |
//! | [`store`] | the storage contract ([`Store`]), units of work, lookup keys, the in-memory store |
//! | [`rules`] | every business rule as a pure function: the three state machines, permissions, and one module per concern |
//! | [`engine`] | the [`Engine`] facade, the commands it runs, queries, board, reports, CSV import and export |
//!
//! A rule takes loaded records and returns a [`UnitOfWork`] (entity writes,
//! history, events) or a typed refusal; the engine loads, decides, commits.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// The `uuid` crate of crcm's ids (`LeadId(Uuid)`, `EntityRef::id`),
/// re-exported on purpose: a host names ids with the same version crcm uses.
pub use uuid;

pub mod domain;
pub mod engine;
pub mod rules;
/// The JSON Schema of the wire format (feature `schema`).
#[cfg(feature = "schema")]
pub use engine::schema;
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
pub use domain::money::{Currency, Money, MoneySum};
pub use engine::commands::{self, Command, CommandOutput, TypedCommand};
pub use engine::query::{CustomerQuery, LeadQuery, LeadSort};
pub use engine::{Engine, Executed};
pub use rules::access::{Actor, Role};
pub use rules::error::{Error, Result};
pub use store::memory::MemoryStore;
pub use store::record::Record;
pub use store::uow::UnitOfWork;
pub use store::{
    CommunicationFilter, Cursor, CustomerFilter, DealFilter, DynStore, LeadFilter, Page, PageRequest, Store, StoreExt,
};

/// What most applications use: the engine, the commands, the records and
/// their ids, the configuration, and the errors. `use crcm_core::prelude::*;`
pub mod prelude {
    pub use crate::domain::activity::{ActivityKind, Subject};
    pub use crate::domain::config::{Config, PhaseRef};
    pub use crate::domain::contact::{Email, Phone};
    pub use crate::domain::customer::Customer;
    pub use crate::domain::deal::{Deal, DealStatus};
    pub use crate::domain::ids::{Code, CustomerId, DealId, LeadId, UserId};
    pub use crate::domain::input::{
        CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
    };
    pub use crate::domain::lead::{Lead, LeadStatus};
    pub use crate::domain::money::{Currency, Money, MoneySum};
    pub use crate::engine::Engine;
    pub use crate::engine::api::{Body, Request, Response};
    pub use crate::engine::board::BoardQuery;
    pub use crate::engine::commands::{
        AddContact, AttachCommunication, ChangeAccountType, Command, CommandOutput, CompleteFollowUp, CreateCustomer,
        CreateLead, CreateLeadFromCommunication, DeleteLead, DisqualifyLead, IgnoreCommunication, LinkDealDocument,
        LinkLeadDocument, LogActivity, LoseDeal, MergeLead, MoveDealStage, MoveLeadPhase, OpenDeal, QualifyLead,
        ReassignLead, ReceiveCommunication, ReopenDeal, ReopenLead, ScheduleFollowUp, SetClosingReason, SetConfig,
        SetDealProbability, SetLeadStatus, SetLeadTeam, TypedCommand, UpdateDeal, UpdateLead, WinDeal,
    };
    pub use crate::engine::query::{CustomerQuery, DealQuery, LeadQuery, LeadSort};
    pub use crate::rules::access::{Actor, Role};
    pub use crate::rules::error::{Error, Result};
    pub use crate::store::{Cursor, DealFilter, LeadFilter, Page, PageRequest, Store};
}

/// Every error type, in one place: [`Error`] and the errors it composes,
/// each defined beside what raises it.
pub mod error {
    pub use crate::domain::config::{ConfigError, ItemInUse};
    pub use crate::domain::error::{InputError, ReferenceKind};
    pub use crate::domain::failure::{ImportFailure, RequestError};
    pub use crate::rules::access::{Action, DenyReason, PermissionError};
    pub use crate::rules::error::{ERROR_CODES, Error, ErrorCode, ErrorReport, Result, code};
    pub use crate::rules::machine::{
        CommunicationError, DealAction, DealError, LeadAction, LeadError, LeadLinks, PhaseError, ReasonError,
        ReasonKind,
    };
    pub use crate::store::error::StoreError;
}
