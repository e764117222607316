#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use crcm_core::*;

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
