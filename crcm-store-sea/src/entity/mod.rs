//! One sea-orm entity module per table. Every table name starts with `crcm_`,
//! so crcm can live inside an existing ERP database.

pub mod activity;
pub mod communication;
pub mod config;
pub mod customer;
pub mod deal;
pub mod event;
pub mod follow_up;
pub mod history;
pub mod lead;
pub mod lead_tag;
pub mod meta;
pub mod sequence;
