//! The domain layer: the records crcm keeps (leads, deals, customers,
//! activities, communications), their identifiers and contact data, money,
//! the configuration (reference data), history entries and domain events,
//! and the errors raised while building them. It imports nothing from the
//! layers above (store, rules, engine), so a reader can learn it first.

pub mod activity;
pub mod config;
pub mod contact;
pub mod custom;
pub mod customer;
pub mod deal;
pub mod entity;
pub mod error;
pub mod event;
pub mod failure;
pub mod history;
pub mod ids;
pub mod input;
pub mod lead;
pub mod limits;
pub mod money;
