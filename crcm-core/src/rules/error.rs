//! [`Error`]: everything the [`Engine`](crate::Engine) can refuse or fail
//! with, composed of the errors each layer defines beside what raises them.

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

use crate::domain::config::ConfigError;
use crate::domain::entity::EntityRef;
use crate::domain::error::InputError;
use crate::domain::failure::{ImportFailure, RequestError};
use crate::rules::access::PermissionError;
use crate::rules::machine::ReasonError;
use crate::rules::machine::{CommunicationError, DealError, LeadError, PhaseError};
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
    /// A refused command on an inbound communication.
    #[error(transparent)]
    Communication(#[from] CommunicationError),
    /// A request that could not be read, or a blocking call made wrongly.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// An import or export that could not run.
    #[error(transparent)]
    Import(#[from] ImportFailure),
}

/// One row of the error table: a stable number, the group it belongs to, a
/// snake_case name and what it means. The C ABI and JSON clients get these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorCode {
    /// The stable number (grouped by thousands: 1xxx input, 2xxx permission,
    /// 3xxx not found, 4xxx conflict, 5xxx rule refusals by machine,
    /// 6xxx storage).
    pub code: u32,
    /// The group: `input`, `permission`, `not_found`, `conflict`, `config`,
    /// `lead`, `phase`, `deal`, `reason`, `communication`, `storage`.
    pub kind: &'static str,
    /// The snake_case name.
    pub name: &'static str,
    /// What it means, for the table in README.
    pub meaning: &'static str,
}

macro_rules! error_codes {
    ($($ident:ident = $code:literal, $kind:literal, $name:literal, $meaning:literal;)*) => {
        /// Every error code, one constant each (see [`ERROR_CODES`]).
        pub mod code {
            use super::ErrorCode;
            $(
                #[doc = $meaning]
                pub const $ident: ErrorCode = ErrorCode { code: $code, kind: $kind, name: $name, meaning: $meaning };
            )*
        }

        /// The error table, in code order: what [`Error::code`] returns for
        /// each refusal or failure.
        pub const ERROR_CODES: &[ErrorCode] = &[$(code::$ident),*];
    };
}

error_codes! {
    INVALID_EMAIL = 1001, "input", "invalid_email", "An e-mail address that is not valid.";
    INVALID_PHONE = 1002, "input", "invalid_phone", "A phone number that cannot be parsed or is not valid for its region.";
    INVALID_REGION = 1003, "input", "invalid_region", "A phone region that is not an ISO 3166 code the phone library knows.";
    INVALID_CODE = 1004, "input", "invalid_code", "A reference-data code with characters outside A-Z a-z 0-9 _ - . or of the wrong length.";
    INVALID_USER_ID = 1005, "input", "invalid_user_id", "A user id that is empty or too long.";
    INVALID_CURRENCY = 1006, "input", "invalid_currency", "A currency that is not an ISO 4217 currency with a minor unit.";
    NEGATIVE_AMOUNT = 1007, "input", "negative_amount", "A negative amount of money.";
    PROBABILITY_OUT_OF_RANGE = 1008, "input", "probability_out_of_range", "A probability outside 0..=100.";
    REQUIRED = 1009, "input", "required", "A required field left empty.";
    TOO_LONG = 1010, "input", "too_long", "A text longer than its field allows.";
    CONTROL_CHARACTER = 1011, "input", "control_character", "A text holding a control character.";
    TOO_MANY = 1012, "input", "too_many", "A list holding more items than allowed.";
    UNKNOWN_REFERENCE = 1013, "input", "unknown_reference", "A code naming no configured item of its kind (account type, source, priority, tag, pipeline).";
    CUSTOM_FIELD = 1014, "input", "custom_field", "A custom field value that does not fit its definition.";
    BAD_CURSOR = 1015, "input", "bad_cursor", "A page cursor that is not one crcm wrote.";
    INVALID_ID = 1016, "input", "invalid_id", "A record or import id that is not a UUID.";
    OUT_OF_RANGE = 1017, "input", "out_of_range", "A number or date outside the range crcm accepts (amounts, dates, day counts).";
    MALFORMED_REQUEST = 1018, "input", "malformed_request", "A request that is not one: not JSON, an unknown type, an unknown or missing field, a value of the wrong type (details: the JSON path).";
    REQUEST_TOO_LARGE = 1019, "input", "request_too_large", "A request larger than crcm reads (engine::api::MAX_REQUEST_BYTES).";
    UNSUPPORTED_WIRE_VERSION = 1020, "input", "unsupported_wire_version", "A request written for a wire version this crcm does not speak.";
    ONE_OF_REQUIRED = 1021, "input", "one_of_required", "Fields of which at least one must be filled are all empty (details: their names).";
    INVALID_FIELDS = 1099, "input", "invalid_fields", "Several input errors at once; each is listed with its own code.";
    PERMISSION_DENIED = 2001, "permission", "permission_denied", "The actor's role or relation to the record does not allow the command.";
    NOT_FOUND = 3001, "not_found", "not_found", "The command names a record that does not exist.";
    LEAD_NUMBER_NOT_FOUND = 3002, "not_found", "lead_number_not_found", "The lead number names no lead.";
    VERSION_CONFLICT = 4001, "conflict", "version_conflict", "A record changed since it was read; nothing was written.";
    CONFIG_CONFLICT = 4002, "conflict", "config_conflict", "The configuration changed since it was read; nothing was written.";
    LOOKUP_CONFLICT = 4003, "conflict", "lookup_conflict", "A set the decision read (customers with an e-mail, a lead's deals, ...) changed; nothing was written.";
    CONTENTION = 4004, "conflict", "contention", "The database aborted the transaction to resolve contention; nothing was written.";
    DUPLICATE = 4005, "conflict", "duplicate", "A unique key (lead number, ...) is taken.";
    CONFIG_STALE = 4006, "conflict", "config_stale", "A configuration change was prepared against an older version.";
    CONFIG_INVALID = 5001, "config", "config_invalid", "The configuration breaks one or more rules; every problem is listed.";
    CONFIG_IN_USE = 5002, "config", "config_in_use", "The configuration change removes items that data still uses.";
    CONFIG_MISSING = 5003, "config", "config_missing", "No configuration has been stored yet.";
    STATUS_REQUIRES_ACTION = 5101, "lead", "status_requires_action", "Only New and Contacted are set by hand; the other statuses are reached by an action.";
    LEAD_NOT_ALLOWED = 5102, "lead", "lead_not_allowed", "The action is not possible from the lead's status.";
    CUSTOMER_CHOICE_REQUIRED = 5103, "lead", "customer_choice_required", "Qualify found matching customers: link one or create a new one.";
    QUOTATION_REQUIRES_DEAL = 5104, "lead", "quotation_requires_deal", "Quotations belong to deals: qualify the lead first.";
    LEAD_HAS_LINKS = 5105, "lead", "lead_has_links", "A lead with documents, deals, communications or timeline items is not deleted.";
    MERGE_INTO_SELF = 5106, "lead", "merge_into_self", "A lead cannot be merged into itself.";
    LEAD_CLOSED = 5107, "lead", "lead_closed", "The lead is closed (converted, disqualified, merged, or in a closing phase).";
    LEAD_MERGED = 5108, "lead", "lead_merged", "The lead was merged into another one and no longer changes.";
    EXTERNAL_REF_TAKEN = 5109, "lead", "external_ref_taken", "Another lead has this external reference (system and id) already.";
    LEAD_CHANGED = 5110, "lead", "lead_changed", "The lead changed since the version the command names (a delete with if_version, an import's revert); it is left as it is.";
    PHASE_NOT_IN_ACCOUNT_TYPE = 5201, "phase", "phase_not_in_account_type", "The phase belongs to another account type.";
    UNKNOWN_PHASE = 5202, "phase", "unknown_phase", "The phase code names no phase.";
    NO_PHASES = 5203, "phase", "no_phases", "The account type has no phases.";
    PHASE_REQUIRED_FOR_ACCOUNT_TYPE = 5204, "phase", "phase_required_for_account_type", "Changing the account type needs a phase of the new type.";
    NOT_CLOSING_PHASE = 5205, "phase", "not_closing_phase", "A closing reason is recorded in a closing phase only.";
    PHASE_LEAD_CLOSED = 5206, "phase", "phase_lead_closed", "The lead's status is closed, so its phase does not move.";
    STAGE_NOT_IN_PIPELINE = 5301, "deal", "stage_not_in_pipeline", "The stage is not part of the deal's pipeline.";
    DEAL_NOT_ALLOWED = 5302, "deal", "deal_not_allowed", "The action is not possible from the deal's status.";
    LOST_NEEDS_REASON = 5303, "deal", "lost_needs_reason", "A lost stage is reached by losing the deal with a reason.";
    PROBABILITY_FIXED = 5304, "deal", "probability_fixed", "Won and lost deals have a fixed probability.";
    WRONG_STAGE_KIND = 5305, "deal", "wrong_stage_kind", "The stage chosen is of another kind than the action needs.";
    NO_STAGE_OF_KIND = 5306, "deal", "no_stage_of_kind", "The pipeline has no stage of the kind the action needs.";
    UNKNOWN_REASON = 5401, "reason", "unknown_reason", "The closing or lost reason is not configured.";
    REASON_NOTE_REQUIRED = 5402, "reason", "reason_note_required", "The reason is configured to need a note.";
    COMMUNICATION_IGNORED = 5501, "communication", "communication_ignored", "The communication is marked ignored.";
    COMMUNICATION_LINKED = 5502, "communication", "communication_linked", "A communication linked to a lead is not ignored.";
    FORMAT_TOO_NEW = 6001, "storage", "format_too_new", "The store was written by a newer crcm.";
    NOT_A_CRCM_STORE = 6002, "storage", "not_a_crcm_store", "The location holds data that is not a crcm store; it was not modified.";
    CORRUPT = 6003, "storage", "corrupt", "A stored record could not be decoded.";
    NOT_DURABLE = 6004, "storage", "not_durable", "The unit of work was applied but could not be made durable.";
    BACKEND = 6005, "storage", "backend", "The backend failed (I/O, connection, database); nothing was applied.";
    OVERFLOW = 6006, "storage", "overflow", "A sum the store maintains (a board cell) would overflow; nothing was applied.";
    INVALID_OPTIONS = 6007, "storage", "invalid_options", "The options given to open a store cannot work (an empty path, a cache too small, an unknown spec); nothing was opened.";
    IMPORT_IO = 7001, "import", "import_io", "Reading the import file or writing the export failed.";
    IMPORT_CSV = 7002, "import", "import_csv", "The file is not CSV crcm can read.";
    IMPORT_NO_HEADER = 7003, "import", "import_no_header", "The file is empty: it needs a header row.";
    IMPORT_RESUME_MISMATCH = 7004, "import", "import_resume_mismatch", "A resume with another file, mapping or batch size than the interrupted import; nothing was written.";
    IMPORT_RECORD_TOO_LONG = 7005, "import", "import_record_too_long", "A record longer than 1 MiB: not a CSV file, or a quote never closed.";
    IMPORT_HEADER_NOT_UTF8 = 7006, "import", "import_header_not_utf8", "A header that is not UTF-8.";
    IMPORT_UNKNOWN_COLUMNS = 7007, "import", "import_unknown_columns", "Columns that are neither fields nor mapped: map or ignore them.";
    IMPORT_NO_SUCH_COLUMN = 7008, "import", "import_no_such_column", "The mapping names a column the file does not have.";
    IMPORT_MISSING_COLUMNS = 7009, "import", "import_missing_columns", "Nothing fills a required field: map a column, set a constant, or relax it.";
    IMPORT_UNKNOWN_FIELD = 7010, "import", "import_unknown_field", "A field name that is neither a field nor a configured custom field.";
    IMPORT_UNKNOWN_MODE = 7011, "import", "import_unknown_mode", "An import mode crcm does not know.";
    IMPORT_CONFLICTING_MAPPING = 7012, "import", "import_conflicting_mapping", "A field filled in two ways (a constant and a column, ...).";
    IMPORT_BATCH_SIZE = 7013, "import", "import_batch_size", "A batch size outside 1 to the largest allowed.";
    IMPORT_CHANGED = 7014, "import", "import_changed", "All-or-nothing: a checked row was refused while importing (the configuration changed); resume the import.";
    IMPORT_CANCELLED = 7015, "import", "import_cancelled", "The caller stopped the import; the batches committed stay, resume it with its id.";
    IMPORT_DIALECT = 7016, "import", "import_dialect", "An encoding label no standard knows, or a delimiter that is not one ASCII character.";
    INSIDE_RUNTIME = 8001, "usage", "inside_runtime", "The blocking engine was called from inside an async runtime; nothing ran.";
    INTERNAL = 8002, "internal", "internal", "crcm failed inside (a bug, please report it); the request was stopped.";
}

impl Error {
    /// True when the command lost an optimistic-concurrency race (retry against fresh state).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_conflict())
    }

    /// The error's row in the error table ([`ERROR_CODES`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Input(e) => input_code(e),
            Self::Config(e) => match e {
                ConfigError::Invalid { .. } => code::CONFIG_INVALID,
                ConfigError::InUse { .. } => code::CONFIG_IN_USE,
                ConfigError::Stale { .. } => code::CONFIG_STALE,
                ConfigError::Missing => code::CONFIG_MISSING,
            },
            Self::Permission(_) => code::PERMISSION_DENIED,
            Self::Reason(e) => match e {
                ReasonError::Unknown { .. } => code::UNKNOWN_REASON,
                ReasonError::NoteRequired { .. } => code::REASON_NOTE_REQUIRED,
            },
            Self::Lead(e) => match e {
                LeadError::StatusRequiresAction { .. } => code::STATUS_REQUIRES_ACTION,
                LeadError::NotAllowed { .. } => code::LEAD_NOT_ALLOWED,
                LeadError::CustomerChoiceRequired { .. } => code::CUSTOMER_CHOICE_REQUIRED,
                LeadError::QuotationRequiresDeal { .. } => code::QUOTATION_REQUIRES_DEAL,
                LeadError::HasLinks { .. } => code::LEAD_HAS_LINKS,
                LeadError::MergeIntoSelf => code::MERGE_INTO_SELF,
                LeadError::Closed { .. } => code::LEAD_CLOSED,
                LeadError::Merged { .. } => code::LEAD_MERGED,
                LeadError::ExternalRefTaken { .. } => code::EXTERNAL_REF_TAKEN,
                LeadError::Changed { .. } => code::LEAD_CHANGED,
            },
            Self::Phase(e) => match e {
                PhaseError::NotInAccountType { .. } => code::PHASE_NOT_IN_ACCOUNT_TYPE,
                PhaseError::UnknownPhase { .. } => code::UNKNOWN_PHASE,
                PhaseError::NoPhases { .. } => code::NO_PHASES,
                PhaseError::PhaseRequiredForAccountType { .. } => code::PHASE_REQUIRED_FOR_ACCOUNT_TYPE,
                PhaseError::NotClosingPhase { .. } => code::NOT_CLOSING_PHASE,
                PhaseError::LeadClosed { .. } => code::PHASE_LEAD_CLOSED,
            },
            Self::Deal(e) => match e {
                DealError::StageNotInPipeline { .. } => code::STAGE_NOT_IN_PIPELINE,
                DealError::NotAllowed { .. } => code::DEAL_NOT_ALLOWED,
                DealError::LostNeedsReason { .. } => code::LOST_NEEDS_REASON,
                DealError::ProbabilityFixed { .. } => code::PROBABILITY_FIXED,
                DealError::WrongStageKind { .. } => code::WRONG_STAGE_KIND,
                DealError::NoStageOfKind { .. } => code::NO_STAGE_OF_KIND,
            },
            Self::Communication(e) => match e {
                CommunicationError::Ignored { .. } => code::COMMUNICATION_IGNORED,
                CommunicationError::Linked { .. } => code::COMMUNICATION_LINKED,
            },
            Self::NotFound(_) => code::NOT_FOUND,
            Self::LeadNumberNotFound(_) => code::LEAD_NUMBER_NOT_FOUND,
            Self::Request(e) => match e {
                RequestError::Malformed { .. } => code::MALFORMED_REQUEST,
                RequestError::TooLarge { .. } => code::REQUEST_TOO_LARGE,
                RequestError::UnsupportedWire { .. } => code::UNSUPPORTED_WIRE_VERSION,
                RequestError::InsideRuntime => code::INSIDE_RUNTIME,
                RequestError::Internal { .. } => code::INTERNAL,
            },
            Self::Import(e) => match e {
                ImportFailure::Io { .. } => code::IMPORT_IO,
                ImportFailure::Csv { .. } => code::IMPORT_CSV,
                ImportFailure::NoHeader => code::IMPORT_NO_HEADER,
                ImportFailure::ResumeMismatch { .. } => code::IMPORT_RESUME_MISMATCH,
                ImportFailure::RecordTooLong { .. } => code::IMPORT_RECORD_TOO_LONG,
                ImportFailure::HeaderNotUtf8 { .. } => code::IMPORT_HEADER_NOT_UTF8,
                ImportFailure::UnknownColumns { .. } => code::IMPORT_UNKNOWN_COLUMNS,
                ImportFailure::NoSuchColumn { .. } => code::IMPORT_NO_SUCH_COLUMN,
                ImportFailure::MissingColumns { .. } => code::IMPORT_MISSING_COLUMNS,
                ImportFailure::UnknownField { .. } => code::IMPORT_UNKNOWN_FIELD,
                ImportFailure::UnknownMode { .. } => code::IMPORT_UNKNOWN_MODE,
                ImportFailure::ConflictingMapping { .. } => code::IMPORT_CONFLICTING_MAPPING,
                ImportFailure::BatchSize { .. } => code::IMPORT_BATCH_SIZE,
                ImportFailure::ChangedDuringImport { .. } => code::IMPORT_CHANGED,
                ImportFailure::Cancelled { .. } => code::IMPORT_CANCELLED,
                ImportFailure::Dialect { .. } => code::IMPORT_DIALECT,
            },
            Self::Store(e) => match e {
                StoreError::Conflict { .. } => code::VERSION_CONFLICT,
                StoreError::ConfigConflict { .. } => code::CONFIG_CONFLICT,
                StoreError::LookupConflict { .. } => code::LOOKUP_CONFLICT,
                StoreError::Contention { .. } => code::CONTENTION,
                StoreError::Duplicate { .. } => code::DUPLICATE,
                StoreError::FormatTooNew { .. } => code::FORMAT_TOO_NEW,
                StoreError::NotACrcmStore(_) => code::NOT_A_CRCM_STORE,
                StoreError::Corrupt { .. } => code::CORRUPT,
                StoreError::NotDurable { .. } => code::NOT_DURABLE,
                StoreError::Overflow { .. } => code::OVERFLOW,
                StoreError::InvalidOptions { .. } => code::INVALID_OPTIONS,
                StoreError::Backend { .. } => code::BACKEND,
            },
        }
    }

    /// The error's group, a stable machine-readable name (see [`ErrorCode::kind`]).
    pub fn kind(&self) -> &'static str {
        self.code().kind
    }

    /// The error in the form the C ABI and JSON clients get: code, kind,
    /// name, message, and the typed details of the refusal.
    pub fn report(&self) -> ErrorReport {
        let code = self.code();
        ErrorReport {
            code: code.code,
            kind: code.kind.to_owned(),
            name: code.name.to_owned(),
            message: self.to_string(),
            details: self.details(),
        }
    }

    /// The typed details: the leaf error's serde form without its variant
    /// tag (the code names the variant); several input errors as a list of
    /// their own reports.
    fn details(&self) -> serde_json::Value {
        use serde_json::Value;
        let value = match self {
            Self::Input(InputError::Many(list)) => {
                return Value::Array(
                    list.iter()
                        .map(|e| serde_json::to_value(Error::Input(e.clone()).report()).unwrap_or(Value::Null))
                        .collect(),
                );
            }
            // The inner error's details, and where it stands.
            Self::Input(InputError::At { path, error }) => {
                let mut details = Error::Input((**error).clone()).details();
                if let Value::Object(map) = &mut details {
                    map.insert("path".into(), Value::String(path.clone()));
                    return details;
                }
                return serde_json::json!({ "path": path, "value": details });
            }
            Self::Input(e) => serde_json::to_value(e),
            Self::Config(e) => serde_json::to_value(e),
            Self::Permission(e) => serde_json::to_value(e),
            Self::Reason(e) => serde_json::to_value(e),
            Self::Lead(e) => serde_json::to_value(e),
            Self::Phase(e) => serde_json::to_value(e),
            Self::Deal(e) => serde_json::to_value(e),
            Self::Communication(e) => serde_json::to_value(e),
            Self::NotFound(entity) => serde_json::to_value(entity),
            Self::LeadNumberNotFound(number) => Ok(serde_json::json!({ "number": number })),
            Self::Store(e) => Ok(e.details()),
            Self::Request(e) => serde_json::to_value(e),
            Self::Import(e) => serde_json::to_value(e),
        };
        match value.unwrap_or(Value::Null) {
            // An enum variant: `{"Variant": {...fields}}` or a unit `"Variant"`.
            Value::Object(map) if map.len() == 1 && map.keys().all(|k| k.starts_with(char::is_uppercase)) => {
                map.into_iter().next().map_or(Value::Null, |(_, inner)| inner)
            }
            Value::String(_) => Value::Null,
            other => other,
        }
    }
}

fn input_code(e: &InputError) -> ErrorCode {
    match e {
        InputError::InvalidEmail { .. } => code::INVALID_EMAIL,
        InputError::InvalidPhone { .. } => code::INVALID_PHONE,
        InputError::InvalidRegion { .. } => code::INVALID_REGION,
        InputError::InvalidCode { .. } => code::INVALID_CODE,
        InputError::InvalidUserId { .. } => code::INVALID_USER_ID,
        InputError::InvalidCurrency { .. } => code::INVALID_CURRENCY,
        InputError::NegativeAmount { .. } => code::NEGATIVE_AMOUNT,
        InputError::ProbabilityOutOfRange { .. } => code::PROBABILITY_OUT_OF_RANGE,
        InputError::Required { .. } => code::REQUIRED,
        InputError::OneOfRequired { .. } => code::ONE_OF_REQUIRED,
        InputError::TooLong { .. } => code::TOO_LONG,
        InputError::ControlCharacter { .. } => code::CONTROL_CHARACTER,
        InputError::TooMany { .. } => code::TOO_MANY,
        InputError::BadCursor { .. } => code::BAD_CURSOR,
        InputError::InvalidId { .. } => code::INVALID_ID,
        InputError::UnknownReference { .. } => code::UNKNOWN_REFERENCE,
        InputError::CustomField { .. } => code::CUSTOM_FIELD,
        InputError::OutOfRange { .. } => code::OUT_OF_RANGE,
        InputError::Many(_) => code::INVALID_FIELDS,
        InputError::At { error, .. } => input_code(error),
    }
}

/// An [`Error`] as data: what the C ABI and JSON clients receive. Its JSON
/// Schema (`crate::engine::schema`) gives each code's `details` their shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The stable number from the error table.
    pub code: u32,
    /// The group (`input`, `permission`, `not_found`, `conflict`, `lead`, ...).
    pub kind: String,
    /// The snake_case name.
    pub name: String,
    /// A message for people.
    pub message: String,
    /// The typed details: the error's serde form (field names, allowed
    /// values, the ids that block a delete, ...).
    pub details: serde_json::Value,
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.report().serialize(serializer)
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
