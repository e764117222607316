//! CSV import and export of leads (seed 001, "Importing Leads": a CSV file
//! with the columns `contact_name`, `phone`, `source`, and optionally
//! `company_name`, `email`, `address`, `city`, `state`, `priority`,
//! `description`).
//!
//! # Columns
//!
//! A column whose header is a field name ([`ImportField`], e.g. `phone` or
//! `company_name`) or a custom field's name or label fills that field. Any
//! other column must be mapped ([`ImportMapping::map`]) or ignored
//! ([`ImportMapping::ignore`], [`OtherColumns::Ignore`]); otherwise the import
//! is refused before it reads a row, naming the columns. Several columns
//! mapped to one field are joined with a space (first and last name into
//! `contact_name`), and a constant ([`ImportMapping::constant`]) gives a field
//! one value for the whole file (the source of a purchased list).
//!
//! `contact_name` is one column in the manual; a lead keeps a first and a last
//! name (seed 002 shows both, and duplicate matching uses them), so the name
//! is split at its last space: `Mary Ann Smith` is first name `Mary Ann`, last
//! name `Smith`; a single word is a first name. A file may instead have
//! `first_name` and `last_name` columns, and the export writes those, so that
//! every name survives the round trip.
//!
//! Source, priority and tags arrive as a person types them: a code or a
//! label, in any case (`Referral`, `high`).
//!
//! # Rows
//!
//! Every row is checked by the same rule as a single create
//! ([`rules::new_lead`]), after the import's own
//! checks: required values ([`ImportMapping::required`], seed 001's
//! `contact_name`, `phone` and `source` by default), known source, priority
//! and tags, custom values of the right type, text that is UTF-8. A refused
//! row is reported with its line and every reason ([`RowRejection`]). A row
//! whose normalized e-mail or phone equals an existing lead's, or an earlier
//! row's, is a duplicate ([`RowDuplicate`]): reported, not imported twice.
//!
//! [`ImportMode::AllOrNothing`] checks every row before it writes any: one
//! refused row and nothing is imported. [`ImportMode::SkipInvalid`] imports the
//! valid rows and reports the others.
//!
//! # Batches, interruption and resuming
//!
//! Rows are read as a stream and committed in batches of
//! [`ImportOptions::batch_size`] rows: one unit of work per batch, with each
//! lead's history entry and `LeadCreated` event as for a single create, so
//! memory does not grow with the file. A batch commits whole or not at all,
//! so an interrupted import (a crash, a killed process) leaves whole batches.
//! It is **resumed**, not rolled back: run it again with the same
//! [`ImportOptions::id`], file, mapping and batch size and `resume: true`,
//! and it skips the rows of the batches it committed (each batch counts
//! itself in the same commit, under [`lookup::import_batches`], whose key
//! holds a fingerprint of the file's bytes and of the options). A resume
//! with another file, mapping, mode, account type or batch size is refused
//! before a row is written ([`ImportFailure::ResumeMismatch`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::error::InputError;
use crate::domain::failure::ImportFailure;
use crate::domain::ids::{Code, ImportId};
use crate::engine::Engine;
use crate::engine::scope::leads_sharing_contact;
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::{self, Ctx};
use crate::store::error::StoreError;
use crate::store::record::lookup;
use crate::store::uow::{Guard, UnitOfWork};

/// Rows per batch unless the options say otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// The largest batch: one unit of work stays well inside what every backend
/// commits in one transaction.
pub const MAX_BATCH_SIZE: usize = 5_000;

/// How many rejected and duplicate rows a report lists; the counts cover
/// all of them, and an [`ImportObserver`] sees every one.
pub const MAX_LISTED: usize = 1_000;

/// The history action of an import's units of work.
pub const IMPORT_ACTION: &str = "import_leads";

/// A lead field that a column or a constant fills. Its name ([`Self::name`],
/// also what [`FromStr`] reads) is the column header that fills it by default.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImportField {
    /// `contact_name`: first and last name in one column, split at the last space.
    ContactName,
    /// `first_name`.
    FirstName,
    /// `last_name`.
    LastName,
    /// `company_name`.
    Company,
    /// `title`.
    Title,
    /// `job_title`.
    JobTitle,
    /// `email`.
    Email,
    /// `phone`.
    Phone,
    /// `address`.
    Address,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `zone`.
    Zone,
    /// `source`: a lead source's code or label.
    Source,
    /// `priority`: a priority's code or label.
    Priority,
    /// `description`.
    Description,
    /// `tags`: codes or labels separated by `;`.
    Tags,
    /// `expected_close`: a date, `YYYY-MM-DD`.
    ExpectedClose,
    /// `expected_revenue`: an amount, `1054.50` in the default currency or
    /// `1054.50 EUR`.
    ExpectedRevenue,
    /// `probability`: 0 to 100.
    Probability,
    /// `owner`: a user id (another owner than the importer needs a manager).
    Owner,
    /// `account_type`: an account type's code or name (default: the
    /// import's [`ImportOptions::account_type`]).
    AccountType,
    /// `phase`: a phase's code or description. The lead starts in the
    /// Initial phase and moves, in funnel order, through each regular phase
    /// before this one and into it, as the rules move it, so the funnel counts
    /// it in every phase it passed (at the import's time).
    Phase,
    /// `closing_reason`: a closing reason's code or label, recorded when the
    /// lead's phase is a closing one.
    ClosingReason,
    /// A custom field, by name (`custom:NAME` in a mapping, or the bare name).
    Custom(Code),
}

impl ImportField {
    /// The standard fields, in the order an export writes them: seed 001's
    /// columns first.
    pub const STANDARD: [Self; 23] = [
        Self::ContactName,
        Self::Phone,
        Self::Source,
        Self::Company,
        Self::Email,
        Self::Address,
        Self::City,
        Self::State,
        Self::Priority,
        Self::Description,
        Self::FirstName,
        Self::LastName,
        Self::Title,
        Self::JobTitle,
        Self::Zone,
        Self::Tags,
        Self::ExpectedClose,
        Self::ExpectedRevenue,
        Self::Probability,
        Self::Owner,
        Self::AccountType,
        Self::Phase,
        Self::ClosingReason,
    ];

    /// Seed 001's required columns: the default of [`ImportMapping::required`].
    pub fn seed_required() -> BTreeSet<Self> {
        [Self::ContactName, Self::Phone, Self::Source].into_iter().collect()
    }

    /// The field's name: its default column header.
    pub fn name(&self) -> &str {
        match self {
            Self::ContactName => "contact_name",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Company => "company_name",
            Self::Title => "title",
            Self::JobTitle => "job_title",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Address => "address",
            Self::City => "city",
            Self::State => "state",
            Self::Zone => "zone",
            Self::Source => "source",
            Self::Priority => "priority",
            Self::Description => "description",
            Self::Tags => "tags",
            Self::ExpectedClose => "expected_close",
            Self::ExpectedRevenue => "expected_revenue",
            Self::Probability => "probability",
            Self::Owner => "owner",
            Self::AccountType => "account_type",
            Self::Phase => "phase",
            Self::ClosingReason => "closing_reason",
            Self::Custom(code) => code.as_str(),
        }
    }

    /// The standard field with this name (case-insensitive), if any.
    pub fn standard(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::STANDARD.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn is_name_part(&self) -> bool {
        matches!(self, Self::FirstName | Self::LastName)
    }
}

impl fmt::Display for ImportField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImportField {
    type Err = ImportFailure;

    /// A standard field's name, `custom:NAME`, or any other code (read as a
    /// custom field's name and checked against the configuration when the
    /// import starts).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = Self::standard(s) {
            return Ok(f);
        }
        let name = s.trim();
        let name = name.strip_prefix("custom:").unwrap_or(name);
        Code::new(name)
            .map(Self::Custom)
            .map_err(|_| ImportFailure::UnknownField { name: s.to_owned() })
    }
}

/// What happens to a column that is neither a field nor mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherColumns {
    /// The import is refused, naming the columns (a typo in a header is not
    /// silently dropped).
    #[default]
    Refuse,
    /// They are ignored.
    Ignore,
}

/// How a file's columns become lead fields (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "MappingForm", into = "MappingForm")]
pub struct ImportMapping {
    /// Columns by header (case-insensitive): the field each fills, or `None`
    /// to ignore it.
    pub columns: Vec<(String, Option<ImportField>)>,
    /// Values for every row.
    pub constants: Vec<(ImportField, String)>,
    /// Value translations: a field's value equal to the first text
    /// (case-insensitive) is read as the second (empty: no value), e.g. a
    /// placeholder `Select` as nothing, or `Closed Won` as a phase's code.
    pub values: Vec<(ImportField, String, String)>,
    /// The fields a row must have a value for. `ContactName` is met by a
    /// first or last name.
    pub required: BTreeSet<ImportField>,
    /// Columns neither named like a field nor mapped.
    pub other_columns: OtherColumns,
}

impl Default for ImportMapping {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            constants: Vec::new(),
            values: Vec::new(),
            required: ImportField::seed_required(),
            other_columns: OtherColumns::Refuse,
        }
    }
}

/// [`ImportMapping`]'s JSON form: every pair and triple as an object with
/// named parts, every part optional.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MappingForm {
    columns: Vec<ColumnForm>,
    constants: Vec<ConstantForm>,
    values: Vec<ValueForm>,
    required: BTreeSet<ImportField>,
    other_columns: OtherColumns,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnForm {
    column: String,
    /// `null`: ignore the column.
    field: Option<ImportField>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantForm {
    field: ImportField,
    value: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueForm {
    field: ImportField,
    from: String,
    to: String,
}

impl Default for MappingForm {
    fn default() -> Self {
        ImportMapping::default().into()
    }
}

impl From<MappingForm> for ImportMapping {
    fn from(f: MappingForm) -> Self {
        Self {
            columns: f.columns.into_iter().map(|c| (c.column, c.field)).collect(),
            constants: f.constants.into_iter().map(|c| (c.field, c.value)).collect(),
            values: f.values.into_iter().map(|v| (v.field, v.from, v.to)).collect(),
            required: f.required,
            other_columns: f.other_columns,
        }
    }
}

impl From<ImportMapping> for MappingForm {
    fn from(m: ImportMapping) -> Self {
        Self {
            columns: m
                .columns
                .into_iter()
                .map(|(column, field)| ColumnForm { column, field })
                .collect(),
            constants: m
                .constants
                .into_iter()
                .map(|(field, value)| ConstantForm { field, value })
                .collect(),
            values: m
                .values
                .into_iter()
                .map(|(field, from, to)| ValueForm { field, from, to })
                .collect(),
            required: m.required,
            other_columns: m.other_columns,
        }
    }
}

/// A field's JSON form is its name ([`ImportField::name`]).
impl Serialize for ImportField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ImportField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl ImportMapping {
    /// Maps a column to a field; a second column mapped to the same field is
    /// joined to the first with a space.
    #[must_use]
    pub fn map(mut self, header: impl Into<String>, field: ImportField) -> Self {
        self.columns.push((header.into(), Some(field)));
        self
    }

    /// Ignores a column.
    #[must_use]
    pub fn ignore(mut self, header: impl Into<String>) -> Self {
        self.columns.push((header.into(), None));
        self
    }

    /// Gives a field one value for every row.
    #[must_use]
    pub fn constant(mut self, field: ImportField, value: impl Into<String>) -> Self {
        self.constants.push((field, value.into()));
        self
    }

    /// Reads a field's value `from` (case-insensitive) as `to` (empty: no value).
    #[must_use]
    pub fn translate(mut self, field: ImportField, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.values.push((field, from.into(), to.into()));
        self
    }

    /// Makes a field optional.
    #[must_use]
    pub fn relax(mut self, field: &ImportField) -> Self {
        self.required.remove(field);
        self
    }

    /// Makes a field required.
    #[must_use]
    pub fn require(mut self, field: ImportField) -> Self {
        self.required.insert(field);
        self
    }

    /// Ignores every column that is neither a field nor mapped.
    #[must_use]
    pub fn ignore_other_columns(mut self) -> Self {
        self.other_columns = OtherColumns::Ignore;
        self
    }
}

/// All-or-nothing or skip-invalid (`all_or_nothing`, `skip_invalid`; the
/// command line's `all-or-nothing` and `skip-invalid` are read too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Every row is checked first; one refused row and nothing is imported.
    #[default]
    #[serde(alias = "all-or-nothing")]
    AllOrNothing,
    /// Valid rows are imported; refused rows are reported.
    #[serde(alias = "skip-invalid")]
    SkipInvalid,
}

impl FromStr for ImportMode {
    type Err = ImportFailure;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all-or-nothing" | "all_or_nothing" => Ok(Self::AllOrNothing),
            "skip-invalid" | "skip_invalid" => Ok(Self::SkipInvalid),
            _ => Err(ImportFailure::UnknownMode { name: s.to_owned() }),
        }
    }
}

/// How to import. Its JSON form names every part; each is optional
/// (`{"mode": "skip_invalid", "mapping": {"columns": [{"column": "E-mail",
/// "field": "email"}]}}`), and a new `id` is drawn when none is given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// Columns to fields.
    pub mapping: ImportMapping,
    /// All-or-nothing (default) or skip-invalid.
    pub mode: ImportMode,
    /// The account type of every lead (default: the only one configured).
    pub account_type: Option<Code>,
    /// Rows per unit of work, 1 to [`MAX_BATCH_SIZE`].
    pub batch_size: usize,
    /// This import's identity: give an interrupted import's id (and the same
    /// batch size) with `resume` to continue it.
    pub id: ImportId,
    /// Skip the rows of the batches that import `id` already committed.
    pub resume: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            mapping: ImportMapping::default(),
            mode: ImportMode::default(),
            account_type: None,
            batch_size: DEFAULT_BATCH_SIZE,
            id: ImportId::new(),
            resume: false,
        }
    }
}

/// Why a row was not imported: one reason each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum RowProblem {
    /// A required field has no value.
    Missing {
        /// The field.
        field: String,
    },
    /// A column's bytes are not UTF-8.
    NotUtf8 {
        /// The column's header.
        column: String,
    },
    /// The row has another number of fields than the header.
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A source, priority or tag that matches no code or label.
    Unknown {
        /// The field.
        field: String,
        /// The value.
        value: String,
    },
    /// A value of the wrong form (a date, a number, a yes/no, a user id).
    BadValue {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// What the field takes.
        expected: String,
    },
    /// The lead rule refused a value (an e-mail, a phone, a length...).
    Invalid {
        /// The field, where the rule's message does not name it already.
        field: Option<String>,
        /// The rule's reason.
        error: InputError,
    },
    /// The lead may not be created by the importer (e.g. another owner).
    Refused {
        /// The refusal.
        message: String,
    },
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { field } => write!(f, "{field}: missing required value"),
            Self::NotUtf8 { column } => write!(f, "{column}: not valid UTF-8"),
            Self::FieldCount { found, expected } => write!(f, "has {found} fields, the header has {expected}"),
            Self::Unknown { field, value } => write!(f, "{field}: unknown {field} {value:?}"),
            Self::BadValue { field, value, expected } => write!(f, "{field}: {value:?} is not {expected}"),
            Self::Invalid {
                field: Some(field),
                error,
            } => write!(f, "{field}: {error}"),
            Self::Invalid { field: None, error } => write!(f, "{error}"),
            Self::Refused { message } => write!(f, "{message}"),
        }
    }
}

/// A row that was not imported, with every reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRejection {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Every reason.
    pub problems: Vec<RowProblem>,
}

impl fmt::Display for RowRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A row not imported because its e-mail or phone is a lead's already.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDuplicate {
    /// The line the row starts on.
    pub line: u64,
    /// `email` or `phone`.
    pub field: String,
    /// The normalized value they share.
    pub value: String,
    /// The number of the lead it duplicates (an earlier row's lead, or one
    /// that existed before).
    pub lead: u64,
}

impl fmt::Display for RowDuplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: duplicate of lead {} (same {} {})",
            self.line, self.lead, self.field, self.value
        )
    }
}

/// Which pass an import is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStage {
    /// All-or-nothing: checking every row before writing.
    Checking,
    /// Writing batches.
    Importing,
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    /// The pass.
    pub stage: ImportStage,
    /// Rows read in this pass.
    pub rows: u64,
    /// Bytes of the file read so far (for a progress bar over the file's size).
    pub bytes: u64,
    /// Leads imported so far.
    pub imported: u64,
    /// Rows refused so far.
    pub rejected: u64,
    /// Duplicate rows so far.
    pub duplicates: u64,
}

/// Hears an import as it goes: every refused and duplicate row, and progress
/// after each batch. Every method does nothing by default.
pub trait ImportObserver: Send {
    /// After each batch (and each batch-sized stretch of the checking pass).
    fn progress(&mut self, progress: &ImportProgress) {
        let _ = progress;
    }
    /// A refused row.
    fn rejected(&mut self, row: &RowRejection) {
        let _ = row;
    }
    /// A duplicate row.
    fn duplicate(&mut self, row: &RowDuplicate) {
        let _ = row;
    }
}

/// Hears nothing.
impl ImportObserver for () {}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The import's id (to resume it).
    pub id: ImportId,
    /// Data rows read (after those a resume skipped).
    pub rows: u64,
    /// Rows a resume skipped: those of the batches committed before.
    pub skipped: u64,
    /// Leads created.
    pub imported: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Rows not imported as duplicates.
    pub duplicates: u64,
    /// The first [`MAX_LISTED`] refused rows.
    pub rejections: Vec<RowRejection>,
    /// The first [`MAX_LISTED`] duplicate rows.
    pub duplicate_rows: Vec<RowDuplicate>,
    /// The lowest and highest number of the leads created.
    pub numbers: Option<(u64, u64)>,
}

impl ImportReport {
    fn new(id: ImportId) -> Self {
        Self {
            id,
            rows: 0,
            skipped: 0,
            imported: 0,
            rejected: 0,
            duplicates: 0,
            rejections: Vec::new(),
            duplicate_rows: Vec::new(),
            numbers: None,
        }
    }

    /// Whether every row was imported or was a duplicate.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0
    }

    /// `imported N, rejected M, duplicates D`.
    pub fn summary(&self) -> String {
        format!(
            "imported {}, rejected {}, duplicates {}",
            self.imported, self.rejected, self.duplicates
        )
    }

    fn reject(&mut self, row: RowRejection, observer: &mut dyn ImportObserver) {
        observer.rejected(&row);
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED {
            self.rejections.push(row);
        }
    }

    fn duplicate(&mut self, row: RowDuplicate, observer: &mut dyn ImportObserver) {
        observer.duplicate(&row);
        self.duplicates += 1;
        if self.duplicate_rows.len() < MAX_LISTED {
            self.duplicate_rows.push(row);
        }
    }

    fn progress(&self, stage: ImportStage, rows: u64, bytes: u64) -> ImportProgress {
        ImportProgress {
            stage,
            rows,
            bytes,
            imported: self.imported,
            rejected: self.rejected,
            duplicates: self.duplicates,
        }
    }
}

/// Why an import or export could not run at all, inside the import code
/// (where `?` turns I/O, CSV and store errors into it); callers get it as
/// the engine's [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    /// The import's own reason.
    #[error(transparent)]
    Failure(ImportFailure),
    /// The engine refused or the store failed.
    #[error(transparent)]
    Engine(Error),
}

impl From<ImportFailure> for ImportError {
    fn from(e: ImportFailure) -> Self {
        Self::Failure(e)
    }
}

impl From<Error> for ImportError {
    fn from(e: Error) -> Self {
        Self::Engine(e)
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<std::io::Error> for ImportError {
    fn from(e: std::io::Error) -> Self {
        Self::Failure(ImportFailure::Io { message: e.to_string() })
    }
}

impl From<csv::Error> for ImportError {
    fn from(e: csv::Error) -> Self {
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => io.into(),
            _ => Self::Failure(ImportFailure::Csv { message }),
        }
    }
}

impl From<ImportError> for Error {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Failure(e) => e.into(),
            ImportError::Engine(e) => e,
        }
    }
}

mod read;
mod row;

use read::{next_row, open_csv};
use row::{Plan, Prepared, RowInput, prepare, walk};

/// What a resume must match: the file (its size, and an FNV-1a hash of its
/// first [`FINGERPRINT_BYTES`]: the fingerprint reads no more, whatever the
/// file's size) and every option that decides which rows land in which
/// batch. The options are hashed in their `Debug` form, so a resume needs
/// the crcm version that started the import.
fn fingerprint<R: Read + Seek>(source: &mut R, options: &ImportOptions) -> Result<u64, ImportError> {
    use crate::store::query::{FNV_OFFSET, fnv1a as fnv};
    let start = source.stream_position()?;
    let size = source.seek(SeekFrom::End(0))?.saturating_sub(start);
    source.seek(SeekFrom::Start(start))?;
    let mut hash = FNV_OFFSET;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = source.take(FINGERPRINT_BYTES);
    loop {
        let n = head.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash = fnv(hash, &buf[..n]);
    }
    let layout = format!(
        "{size}|{:?}|{:?}|{:?}|{}",
        options.mapping, options.mode, options.account_type, options.batch_size
    );
    Ok(fnv(hash, layout.as_bytes()))
}

/// How much of the file the resume fingerprint reads (1 MiB).
const FINGERPRINT_BYTES: u64 = 1024 * 1024;

/// A checked row of a batch.
struct Row {
    line: u64,
    lead: Result<Prepared, Vec<RowProblem>>,
}

impl Engine {
    /// Imports leads from CSV (see the [module docs](crate::engine::import)):
    /// streams the rows, checks each like a single create, and commits them
    /// in batches. `source` is read twice in all-or-nothing mode (check, then
    /// import), hence `Seek`.
    ///
    /// Returns the report; an `Err` means the import could not run on (the
    /// file, the mapping, the store: [`Error::Import`] for the import's own
    /// reasons), and the batches committed before it stay (resume them with
    /// the report's or the options' id).
    pub async fn import_leads<R: Read + Seek + Send>(
        &self,
        actor: &Actor,
        source: R,
        options: &ImportOptions,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportReport, Error> {
        Ok(self.import_rows(actor, source, options, observer).await?)
    }

    async fn import_rows<R: Read + Seek + Send>(
        &self,
        actor: &Actor,
        mut source: R,
        options: &ImportOptions,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportReport, ImportError> {
        if !(1..=MAX_BATCH_SIZE).contains(&options.batch_size) {
            return Err(ImportError::from(ImportFailure::BatchSize {
                size: options.batch_size,
                max: MAX_BATCH_SIZE,
            }));
        }
        let start = source.stream_position()?;
        let fingerprint = fingerprint(&mut source, options)?;
        source.seek(SeekFrom::Start(start))?;
        let batch_key = lookup::import_batches(options.id, fingerprint);
        let any_key = lookup::import_any_batches(options.id);
        let (config, _) = self.config().await?;
        let mut report = ImportReport::new(options.id);
        let done_batches = if options.resume {
            let done = self
                .store()
                .lookup_versions(&[batch_key.clone(), any_key.clone()])
                .await?;
            let (this, any) = (done.first().copied().unwrap_or(0), done.get(1).copied().unwrap_or(0));
            // Batches committed under another file, mapping or batch layout:
            // skipping by this one's count would import rows twice or miss some.
            if this != any {
                return Err(ImportError::from(ImportFailure::ResumeMismatch {
                    id: options.id,
                    committed: any,
                }));
            }
            this
        } else {
            0
        };
        let skip = done_batches.saturating_mul(options.batch_size as u64);

        if options.mode == ImportMode::AllOrNothing {
            let (mut reader, header) = open_csv(&mut source)?;
            let plan = Plan::new(&header, &options.mapping, &config)?;
            let mut record = csv::ByteRecord::new();
            let mut rows = 0u64;
            let mut seen = 0u64;
            let now = self.now();
            let ctx = Ctx {
                actor,
                config: &config,
                now,
                action: IMPORT_ACTION,
            };
            while let Some(line) = next_row(&mut reader, &mut record)? {
                seen += 1;
                if seen <= skip {
                    continue;
                }
                rows += 1;
                let checked = plan
                    .row(&record, &config, options.account_type.as_ref())
                    .and_then(|input| prepare(&ctx, &input));
                if let Err(problems) = checked {
                    report.reject(RowRejection { line, problems }, observer);
                }
                if rows.is_multiple_of(options.batch_size as u64) {
                    observer.progress(&report.progress(ImportStage::Checking, rows, reader.position().byte()));
                }
            }
            observer.progress(&report.progress(ImportStage::Checking, rows, reader.position().byte()));
            if report.rejected > 0 {
                report.rows = rows;
                report.skipped = skip.min(seen);
                return Ok(report);
            }
            drop(reader);
            source.seek(SeekFrom::Start(start))?;
        }

        let (mut reader, header) = open_csv(&mut source)?;
        let plan = Plan::new(&header, &options.mapping, &config)?;
        let mut record = csv::ByteRecord::new();
        let mut rows = 0u64;
        let mut seen = 0u64;
        let mut batch: Vec<(u64, Result<RowInput, Vec<RowProblem>>)> = Vec::with_capacity(options.batch_size);
        loop {
            let line = next_row(&mut reader, &mut record)?;
            if let Some(line) = line {
                seen += 1;
                if seen <= skip {
                    continue;
                }
                rows += 1;
                // The configuration is read again per batch (below); the
                // import's own checks use the one read at the start.
                batch.push((line, plan.row(&record, &config, options.account_type.as_ref())));
            }
            let full = batch.len() >= options.batch_size;
            if full || (line.is_none() && !batch.is_empty()) {
                let taken = std::mem::take(&mut batch);
                self.import_batch(actor, taken, [&batch_key, &any_key], options, &mut report, observer)
                    .await?;
                observer.progress(&report.progress(ImportStage::Importing, rows, reader.position().byte()));
            }
            if line.is_none() {
                break;
            }
        }
        report.rows = rows;
        report.skipped = skip.min(seen);
        Ok(report)
    }

    /// Checks, deduplicates and commits one batch, retrying it against fresh
    /// state when a concurrent writer changed what it read.
    async fn import_batch(
        &self,
        actor: &Actor,
        rows: Vec<(u64, Result<RowInput, Vec<RowProblem>>)>,
        batch_keys: [&str; 2],
        options: &ImportOptions,
        report: &mut ImportReport,
        observer: &mut dyn ImportObserver,
    ) -> Result<(), ImportError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (config, _) = self.config().await?;
            let ctx = Ctx {
                actor,
                config: &config,
                now: self.now(),
                action: IMPORT_ACTION,
            };
            let checked: Vec<Row> = rows
                .iter()
                .map(|(line, input)| Row {
                    line: *line,
                    lead: input.clone().and_then(|input| prepare(&ctx, &input)),
                })
                .collect();
            if options.mode == ImportMode::AllOrNothing
                && let Some(row) = checked.iter().find(|r| r.lead.is_err())
            {
                return Err(ImportError::from(ImportFailure::ChangedDuringImport {
                    line: row.line,
                    id: options.id,
                    imported: report.imported,
                }));
            }
            let (uow, outcome) = self.batch_unit(&ctx, checked, batch_keys).await?;
            match self.store().commit(uow).await {
                Ok(_) => {
                    outcome.record(report, observer);
                    return Ok(());
                }
                Err(e) if e.is_conflict() && attempts < self.max_attempts => {
                    tracing::debug!(attempts, "import batch conflicted; retrying against fresh state");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The unit of work of a checked batch: its new leads (duplicates left
    /// out), guarded by the lookup keys the duplicate check read, and the
    /// batch counted under both `batch_keys` (this import's, and any import
    /// of this id).
    async fn batch_unit(
        &self,
        ctx: &Ctx<'_>,
        rows: Vec<Row>,
        batch_keys: [&str; 2],
    ) -> Result<(UnitOfWork, BatchOutcome), ImportError> {
        let store = &**self.store();
        let mut keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.lead.as_ref().ok())
            .flat_map(|p| lookup::leads_by_contact(p.lead.email.as_ref(), p.lead.phone.as_ref()))
            .collect();
        keys.sort();
        keys.dedup();
        let versions: HashMap<String, u64> = keys.iter().cloned().zip(store.lookup_versions(&keys).await?).collect();
        let mut outcome = BatchOutcome::default();
        // Keys taken by earlier rows of this batch: the index in `accepted`.
        let mut taken: HashMap<String, usize> = HashMap::new();
        let mut accepted: Vec<(u64, Prepared)> = Vec::new();
        for row in rows {
            let prepared = match row.lead {
                Ok(p) => p,
                Err(problems) => {
                    outcome.rejected.push(RowRejection {
                        line: row.line,
                        problems,
                    });
                    continue;
                }
            };
            let lead = &prepared.lead;
            let contact = [
                lead.email
                    .as_ref()
                    .map(|e| ("email", e.as_str(), lookup::lead_email(e.as_str()))),
                lead.phone
                    .as_ref()
                    .map(|p| ("phone", p.key(), lookup::lead_phone(p.key()))),
            ];
            let mut duplicate = None;
            for (field, value, key) in contact.iter().flatten() {
                if let Some(&i) = taken.get(key) {
                    duplicate = Some((*field, (*value).to_owned(), Of::Row(i)));
                    break;
                }
                if versions.get(key).copied().unwrap_or(0) > 0 {
                    let (email, phone) = match *field {
                        "email" => (lead.email.as_ref(), None),
                        _ => (None, lead.phone.as_ref()),
                    };
                    if let Some(existing) = leads_sharing_contact(store, email, phone).await?.first() {
                        duplicate = Some((*field, (*value).to_owned(), Of::Lead(existing.number)));
                        break;
                    }
                }
            }
            match duplicate {
                Some((field, value, of)) => outcome.duplicates.push((row.line, field, value, of)),
                None => {
                    for (_, _, key) in contact.iter().flatten() {
                        taken.insert(key.clone(), accepted.len());
                    }
                    accepted.push((row.line, prepared));
                }
            }
        }
        let mut uow = UnitOfWork::new(&ctx.actor.user, ctx.now, ctx.action);
        if !accepted.is_empty() {
            let first = store.reserve_lead_numbers(accepted.len() as u64).await?;
            for (i, (line, prepared)) in accepted.into_iter().enumerate() {
                let number = first + i as u64;
                let lead = rules::add_new_lead(&mut uow, prepared.lead.clone(), number);
                let mut moves = Vec::new();
                walk(ctx, lead, &prepared, |u| moves.push(u))?;
                for u in moves {
                    uow.absorb(u);
                }
                outcome.numbers.push((line, number));
            }
        }
        uow.guard(versions.into_iter().map(|(key, version)| Guard::Key { key, version }));
        for key in batch_keys {
            uow.touched.insert(key.to_owned());
        }
        Ok((uow, outcome))
    }
}

/// What a duplicate row duplicates.
#[derive(Clone, Copy, Debug)]
enum Of {
    /// The accepted row at this index of the batch.
    Row(usize),
    /// A lead that existed before the batch, by number.
    Lead(u64),
}

/// A committed batch's rows, reported once the commit succeeded.
#[derive(Debug, Default)]
struct BatchOutcome {
    rejected: Vec<RowRejection>,
    duplicates: Vec<(u64, &'static str, String, Of)>,
    /// The line and number of each lead created.
    numbers: Vec<(u64, u64)>,
}

impl BatchOutcome {
    /// Adds the batch to the report, row by row in file order.
    fn record(self, report: &mut ImportReport, observer: &mut dyn ImportObserver) {
        enum Line {
            Rejected(RowRejection),
            Duplicate(RowDuplicate),
        }
        let mut lines: Vec<(u64, Line)> = self.rejected.into_iter().map(|r| (r.line, Line::Rejected(r))).collect();
        for (line, field, value, of) in self.duplicates {
            let lead = match of {
                Of::Row(i) => self.numbers.get(i).map_or(0, |(_, n)| *n),
                Of::Lead(n) => n,
            };
            lines.push((
                line,
                Line::Duplicate(RowDuplicate {
                    line,
                    field: field.to_owned(),
                    value,
                    lead,
                }),
            ));
        }
        lines.sort_by_key(|(l, _)| *l);
        for (_, l) in lines {
            match l {
                Line::Rejected(r) => report.reject(r, observer),
                Line::Duplicate(d) => report.duplicate(d, observer),
            }
        }
        if let (Some((_, lo)), Some((_, hi))) = (self.numbers.first(), self.numbers.last()) {
            report.imported += self.numbers.len() as u64;
            report.numbers = Some(match report.numbers {
                Some((a, b)) => (a.min(*lo), b.max(*hi)),
                None => (*lo, *hi),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_back() {
        for f in ImportField::STANDARD {
            assert_eq!(f.name().parse::<ImportField>().ok(), Some(f.clone()));
            assert_eq!(f.name().to_uppercase().parse::<ImportField>().ok(), Some(f));
        }
        assert_eq!(
            "custom:budget".parse::<ImportField>().ok(),
            Some(ImportField::Custom(Code::from_checked_literal("budget")))
        );
        assert!(matches!(
            "no such field!".parse::<ImportField>(),
            Err(ImportFailure::UnknownField { .. })
        ));
        assert_eq!("Skip-Invalid".parse::<ImportMode>().ok(), Some(ImportMode::SkipInvalid));
    }
}
