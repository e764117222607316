//! Errors: one `thiserror` type per concern, and [`Error`], the sum the
//! [`Engine`](crate::Engine) returns. Every variant carries what a caller needs to
//! tell the user what was refused and why.

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

use crate::access::{Action, Role};
use crate::config::ConfigProblem;
use crate::deal::DealStatus;
use crate::ids::{Code, CustomerId, DealId, UserId};
use crate::lead::LeadStatus;
use crate::record::EntityRef;

/// Refused input: a field whose value is malformed or missing.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InputError {
    /// An e-mail address that is not valid.
    #[error("invalid e-mail address {value:?}: {reason}")]
    InvalidEmail {
        /// The text given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A phone number that cannot be parsed or is not valid for its region.
    #[error("invalid phone number {value:?}: {reason}")]
    InvalidPhone {
        /// The text given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A region code (ISO 3166 alpha-2) the phone library does not know.
    #[error("unknown phone region {value:?}; use an ISO 3166 code such as US or NL")]
    InvalidRegion {
        /// The text given.
        value: String,
    },
    /// A reference-data code with characters outside `A-Z a-z 0-9 _ - .` or of the wrong length.
    #[error("invalid code {value:?}: use 1 to 64 letters, digits, '_', '-' or '.'")]
    InvalidCode {
        /// The text given.
        value: String,
    },
    /// A user identifier that is empty or longer than 128 characters.
    #[error("invalid user id {value:?}")]
    InvalidUserId {
        /// The text given.
        value: String,
    },
    /// A currency code that is not an ISO 4217 currency with a minor unit
    /// (unknown codes, and codes such as XAU or XXX that are not money one
    /// pays with, are refused).
    #[error("invalid currency {value:?}: use an ISO 4217 currency code such as EUR, JPY or KWD")]
    InvalidCurrency {
        /// The text given.
        value: String,
    },
    /// A negative amount of money.
    #[error("amount must not be negative (got {minor} minor units)")]
    NegativeAmount {
        /// The amount given.
        minor: i64,
    },
    /// A probability outside 0..=100.
    #[error("probability must be between 0 and 100 (got {value})")]
    ProbabilityOutOfRange {
        /// The value given.
        value: i64,
    },
    /// A required field left empty.
    #[error("{field} is required")]
    Required {
        /// The field's name.
        field: String,
    },
    /// A text longer than its field allows.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// The field's name.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A text holds a control character (NUL, escape, ...; line breaks and
    /// tabs are allowed in multi-line texts only).
    #[error("{field} holds the control character U+{code_point:04X}")]
    ControlCharacter {
        /// The field's name.
        field: String,
        /// The character's code point.
        code_point: u32,
    },
    /// A list holds more items than allowed.
    #[error("{field} holds more than {max} items")]
    TooMany {
        /// The field's name.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A code that names no configured item of that kind.
    #[error("unknown {kind} {code:?}")]
    UnknownReference {
        /// What kind of reference data (e.g. "lead source").
        kind: String,
        /// The code given.
        code: String,
    },
    /// A custom field value that does not fit its definition.
    #[error("custom field {field:?}: {reason}")]
    CustomField {
        /// The field's name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Several input errors at once.
    #[error("{} invalid fields: {}", .0.len(), join(.0))]
    Many(Vec<InputError>),
}

fn join(errors: &[InputError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl InputError {
    /// Folds a list of errors into one (`Ok` when the list is empty).
    pub fn collect(mut errors: Vec<InputError>) -> Result<(), InputError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(InputError::Many(errors)),
        }
    }
}

/// A refused configuration change.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration breaks one or more rules; every problem is listed.
    #[error("invalid configuration ({} problems): {}", .problems.len(), .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// Every problem found, not only the first.
        problems: Vec<ConfigProblem>,
    },
    /// The change removes items that existing data still uses.
    #[error("configuration items still in use: {}", .uses.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InUse {
        /// Each removed item and what uses it.
        uses: Vec<ItemInUse>,
    },
    /// The change was prepared against an older configuration version.
    #[error("configuration changed meanwhile: expected version {expected}, found {found}")]
    Stale {
        /// The version the change was based on.
        expected: u64,
        /// The version stored now.
        found: u64,
    },
    /// No configuration has been stored yet.
    #[error("the store has no configuration yet; set one with Engine::set_config")]
    Missing,
}

/// A configuration item that a change would remove while data uses it.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[error("{item} is used by {count} {what} (for example {examples})", examples = .examples.join(", "))]
pub struct ItemInUse {
    /// The item, e.g. `phase B2B/QUOTE`.
    pub item: String,
    /// How many records use it.
    pub count: usize,
    /// What kind of records (`leads`, `deals`).
    pub what: String,
    /// A few of them, by number or id.
    pub examples: Vec<String>,
}

/// A command the actor's role or relation to the record does not allow.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[error("{user} ({role}) may not {action}: {reason}")]
pub struct PermissionError {
    /// Who asked.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// What they asked to do.
    pub action: Action,
    /// Why it is refused.
    pub reason: String,
}

/// A reason (closing, lost or disqualify) that is missing, unknown, or lacks its note.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ReasonError {
    /// The action needs a reason.
    #[error("a {kind} is required")]
    Required {
        /// `closing reason` or `lost reason`.
        kind: String,
    },
    /// The code names no configured reason.
    #[error("unknown {kind} {code:?}")]
    Unknown {
        /// `closing reason` or `lost reason`.
        kind: String,
        /// The code given.
        code: Code,
    },
    /// The reason is configured to need a note, and none was given.
    #[error("the {kind} {code:?} needs a note")]
    NoteRequired {
        /// `closing reason` or `lost reason`.
        kind: String,
        /// The reason chosen.
        code: Code,
    },
}

/// A refused lead lifecycle command (New, Contacted, Qualified, Converted, Disqualified, Merged).
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LeadError {
    /// Seed 001: only New and Contacted are picked by hand; other statuses are reached by an action.
    #[error("status {status} cannot be set by hand; it is reached by {action}")]
    StatusRequiresAction {
        /// The status asked for.
        status: LeadStatus,
        /// The action that reaches it.
        action: String,
    },
    /// The action is not possible from the lead's current status.
    #[error("cannot {action} lead {number} while it is {status}")]
    NotAllowed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
        /// The action refused.
        action: String,
    },
    /// Qualify found existing customers matching the lead's e-mail or phone; the caller must choose.
    #[error("lead {number} matches {} existing customers; choose to link one or to create a new customer", .candidates.len())]
    CustomerChoiceRequired {
        /// The lead's number.
        number: u64,
        /// The matching customers.
        candidates: Vec<CustomerId>,
    },
    /// Seed 001: "Quotations always belong to a deal — you must qualify the lead first."
    #[error("quotations belong to deals: {}", if .deals.is_empty() { format!("qualify lead {} first", .number) } else { format!("attach it to one of the lead's {} deals", .deals.len()) })]
    QuotationRequiresDeal {
        /// The lead's number.
        number: u64,
        /// The lead's deals (empty when it is not qualified).
        deals: Vec<DealId>,
    },
    /// Seed 003: a lead with linked documents, communications or deals is not deleted.
    #[error("lead {number} cannot be deleted while it has links: {}", .links.join(", "))]
    HasLinks {
        /// The lead's number.
        number: u64,
        /// What is linked.
        links: Vec<String>,
    },
    /// A lead cannot be merged into itself.
    #[error("a lead cannot be merged into itself")]
    MergeIntoSelf,
    /// The lead's closed status forbids the action (closed leads are not qualified or merged again).
    #[error("lead {number} is closed ({status}); {action} is refused")]
    Closed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
        /// The action refused.
        action: String,
    },
}

/// A refused lead phase command.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PhaseError {
    /// Seed 000: "Each lead phase belongs to one account type."
    #[error("phase {phase} does not belong to account type {account_type}")]
    NotInAccountType {
        /// The phase asked for (`account type/code`).
        phase: String,
        /// The lead's account type.
        account_type: Code,
    },
    /// The phase code names no phase.
    #[error("unknown phase {phase}")]
    UnknownPhase {
        /// The phase asked for.
        phase: String,
    },
    /// The account type has no phases and the settings allow none.
    #[error("account type {account_type} has no phases")]
    NoPhases {
        /// The account type.
        account_type: Code,
    },
    /// Seed 004 FAQ: changing the type needs a phase that is valid for the new type.
    #[error("changing the account type to {account_type} needs a phase of that type")]
    PhaseRequiredForAccountType {
        /// The new account type.
        account_type: Code,
    },
    /// Seed 000: "Only a closing phase lets you record why a deal was won or lost."
    #[error("a closing reason can only be recorded in a closing phase; lead {number} is in {phase}")]
    NotClosingPhase {
        /// The lead's number.
        number: u64,
        /// Its current phase, or `none`.
        phase: String,
    },
    /// The lead's status is closed, so its phase does not move.
    #[error("lead {number} is {status}; reopen it before moving its phase")]
    LeadClosed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
    },
}

/// A refused deal command.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DealError {
    /// The stage is not part of the deal's pipeline.
    #[error("stage {stage} is not in pipeline {pipeline}")]
    StageNotInPipeline {
        /// The stage asked for.
        stage: Code,
        /// The deal's pipeline.
        pipeline: Code,
    },
    /// The action is not possible from the deal's status.
    #[error("cannot {action} a deal that is {status}")]
    NotAllowed {
        /// The deal's status.
        status: DealStatus,
        /// The action refused.
        action: String,
    },
    /// A lost stage is reached through LoseDeal, which records a reason.
    #[error("stage {stage} is a lost stage: use LoseDeal with a reason")]
    LostNeedsReason {
        /// The stage asked for.
        stage: Code,
    },
    /// Won and lost deals have a fixed probability (100 and 0).
    #[error("the probability of a {status} deal is fixed")]
    ProbabilityFixed {
        /// The deal's status.
        status: DealStatus,
    },
}

/// A failure of the storage backend.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the record changed since it was read; nothing was written.
    #[error("conflict on {entity}: expected version {expected:?}, found {found:?}")]
    Conflict {
        /// The record.
        entity: EntityRef,
        /// The version the writer read (None: the writer expected no record).
        expected: Option<u64>,
        /// The version stored now (None: no record).
        found: Option<u64>,
    },
    /// Optimistic concurrency on the configuration: it changed since it was read.
    #[error("configuration conflict: expected version {expected:?}, found {found:?}")]
    ConfigConflict {
        /// The version the writer read.
        expected: Option<u64>,
        /// The version stored now.
        found: Option<u64>,
    },
    /// Optimistic concurrency on a set the decision read through a lookup
    /// (the customers with an e-mail, the deals of a lead, ...; see
    /// [`crate::record::lookup`]): it changed since it was read.
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

    /// True for an optimistic-concurrency conflict: nothing was written, and
    /// the command can be re-run against fresh state.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::ConfigConflict { .. } | Self::LookupConflict { .. } | Self::Contention { .. }
        )
    }
}

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
