//! # crcm
//!
//! An embeddable CRM pipeline engine: leads, phases per account type, deals in
//! pipelines, customers, activities, history and domain events, with every
//! business rule enforced for every caller.
//!
//! This crate is the one a Rust application depends on. It re-exports
//! [`crcm_core`] (the domain, the storage contract and the [`Engine`]) and, by
//! feature, the storage backends.
//!
//! ```no_run
//! use std::sync::Arc;
//! use crcm::{Actor, Config, Currency, Engine, MemoryStore, NewLead, Role, UserId};
//!
//! # async fn demo() -> Result<(), crcm::Error> {
//! // MemoryStore is for tests; applications use a persistent backend.
//! let engine = Engine::open(Arc::new(MemoryStore::new())).await?;
//! let manager = Actor::new(UserId::new("maria")?, Role::Manager);
//! engine.set_config(&manager, Config::default_with("US", Currency::new("USD")?), None).await?;
//! let lead = engine
//!     .create_lead(&manager, NewLead { company: "Acme".into(), ..NewLead::default() })
//!     .await?;
//! assert_eq!(lead.number, 1);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use crcm_core::*;
