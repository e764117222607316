//! [`Error`]: everything the [`Engine`](crate::Engine) can refuse or fail
//! with, composed of the errors each layer defines beside what raises them.

use thiserror::Error as ThisError;

use crate::domain::config::ConfigError;
use crate::domain::entity::EntityRef;
use crate::domain::error::InputError;
use crate::rules::access::PermissionError;
use crate::rules::machine::ReasonError;
use crate::rules::machine::{DealError, LeadError, PhaseError};
use crate::store::error::StoreError;

/// Everything the [`Engine`](crate::Engine) can refuse or fail with.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Malformed or missing input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A refused configuration change, or no configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The actor may not do this.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// A missing, unknown or note-less reason.
    #[error(transparent)]
    Reason(#[from] ReasonError),
    /// A refused lead lifecycle command.
    #[error(transparent)]
    Lead(#[from] LeadError),
    /// A refused lead phase command.
    #[error(transparent)]
    Phase(#[from] PhaseError),
    /// A refused deal command.
    #[error(transparent)]
    Deal(#[from] DealError),
    /// The command names a record that does not exist.
    #[error("{0} not found")]
    NotFound(EntityRef),
    /// The lead number names no lead.
    #[error("lead number {0} not found")]
    LeadNumberNotFound(u64),
    /// Storage failed, or a write lost an optimistic-concurrency race.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A broken internal expectation: a bug in crcm, please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// True when the command lost an optimistic-concurrency race (retry against fresh state).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_conflict())
    }

    /// A stable, machine-readable name of the error's kind (used by the C ABI and JSON).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Input(_) => "input",
            Self::Config(_) => "config",
            Self::Permission(_) => "permission",
            Self::Reason(_) => "reason",
            Self::Lead(_) => "lead",
            Self::Phase(_) => "phase",
            Self::Deal(_) => "deal",
            Self::NotFound(_) | Self::LeadNumberNotFound(_) => "not_found",
            Self::Store(e) if e.is_conflict() => "conflict",
            Self::Internal(_) => "internal",
            Self::Store(_) => "store",
        }
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
