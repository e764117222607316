//! Failures outside a record's input: a request that could not be read
//! ([`RequestError`]) and an import or export that could not run
//! ([`ImportFailure`]).

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

use crate::domain::ids::ImportId;

/// A request that could not be read as one (see `engine::api`): not JSON,
/// not the wire format, too large, or of a wire version this crcm does not
/// speak; or a host calling the blocking engine wrongly. Nothing ran.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum RequestError {
    /// The text is not a request: not JSON, an unknown `type`, an unknown or
    /// missing field, a value of the wrong type. `path` is where, in the
    /// JSON (`.` for the whole, `lead.email`, `ids[2]`).
    #[error("malformed request at {path}: {message}")]
    Malformed {
        /// Where in the request.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A request larger than crcm reads.
    #[error("a request of {bytes} bytes is larger than the {max} bytes crcm reads")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A request written for a wire version this crcm does not speak.
    #[error("wire version {given} is not spoken here: this crcm speaks wire version {supported}")]
    UnsupportedWire {
        /// The version the request names.
        given: u64,
        /// The version this crcm speaks.
        supported: u32,
    },
    /// The blocking engine was called from a thread that runs an async
    /// runtime (it would block that runtime); use the async engine there.
    #[error("the blocking engine was called from inside an async runtime: use the async Engine there")]
    InsideRuntime,
    /// crcm failed inside (a bug): the request was stopped, nothing it had
    /// not committed was written.
    #[error("crcm failed inside while handling the request: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

/// An import or export that could not run at all (its file, its mapping,
/// its options); a row's problems are not failures but part of the import's
/// report. The batches an import committed before failing stay.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum ImportFailure {
    /// Reading the file or writing the export failed.
    #[error("i/o error: {message}")]
    Io {
        /// The system's message.
        message: String,
    },
    /// The CSV could not be read or written.
    #[error("csv: {message}")]
    Csv {
        /// What the CSV reader said.
        message: String,
    },
    /// The file has no header row.
    #[error("the file is empty: it needs a header row")]
    NoHeader,
    /// A resume whose file, mapping, mode, account type or batch size
    /// differs from what was interrupted; nothing was written.
    #[error(
        "import {} committed {committed} batches of another file, mapping or batch size; resume it with what was interrupted",
        .id.0
    )]
    ResumeMismatch {
        /// The import.
        id: ImportId,
        /// Batches it committed.
        committed: u64,
    },
    /// A record longer than the limit: not a CSV file, or a quote never closed.
    #[error("line {line}: a record longer than {max_bytes} bytes (is this a CSV file, with every quote closed?)")]
    RecordTooLong {
        /// The line the record starts on.
        line: u64,
        /// The limit.
        max_bytes: usize,
    },
    /// A header is not UTF-8.
    #[error("header {column} (column {index}) is not valid UTF-8")]
    HeaderNotUtf8 {
        /// The header, invalid bytes replaced.
        column: String,
        /// Its position, from 1.
        index: usize,
    },
    /// Columns that are neither fields nor mapped.
    #[error("unknown columns {}: map them to a field, ignore them, or ignore other columns", columns.join(", "))]
    UnknownColumns {
        /// Their headers.
        columns: Vec<String>,
    },
    /// A mapped column is not in the file.
    #[error("the mapping names column {column}, which the file does not have")]
    NoSuchColumn {
        /// The header named.
        column: String,
    },
    /// No column or constant fills a required field.
    #[error("nothing fills the required fields {}: map a column, set a constant, or relax the requirement", fields.join(", "))]
    MissingColumns {
        /// The fields.
        fields: Vec<String>,
    },
    /// A field name that is neither a field nor a configured custom field.
    #[error("unknown field {name}")]
    UnknownField {
        /// The name given.
        name: String,
    },
    /// An import mode crcm does not know.
    #[error("unknown import mode {name}: all_or_nothing, skip_invalid, create_only, update_only, create_or_update")]
    UnknownMode {
        /// The name given.
        name: String,
    },
    /// A field filled in two ways.
    #[error("field {field} is filled twice: {reason}")]
    ConflictingMapping {
        /// The field.
        field: String,
        /// How.
        reason: String,
    },
    /// A batch size outside what is allowed.
    #[error("batch size {size} is outside 1 to {max}")]
    BatchSize {
        /// The size given.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// All-or-nothing: a row that passed the check was refused while
    /// importing (the configuration changed meanwhile); resume the import.
    #[error(
        "line {line} was refused while importing although it passed the check; resume import {} to continue",
        .id.0
    )]
    ChangedDuringImport {
        /// The row's line.
        line: u64,
        /// The import.
        id: ImportId,
        /// Leads imported before it.
        imported: u64,
    },
    /// The caller stopped the import (its observer said so after a batch);
    /// the batches committed before stay: resume the import with its id.
    #[error("import {} was stopped by its caller after {imported} leads; resume it to continue", .id.0)]
    Cancelled {
        /// The import.
        id: ImportId,
        /// Leads imported before it stopped.
        imported: u64,
        /// Data rows read before it stopped.
        rows: u64,
    },
    /// The file's encoding or delimiter cannot be used: an encoding label
    /// no standard knows, a delimiter that is not one ASCII character (or
    /// is a quote or a line break).
    #[error("{message}")]
    Dialect {
        /// What is wrong.
        message: String,
    },
}
