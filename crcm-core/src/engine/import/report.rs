//! What an import tells: each refused or duplicate row, its progress, and its report.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::error::InputError;
use crate::domain::ids::ImportId;

use super::MAX_LISTED;

/// How many allowed codes an unknown value's message names.
const MAX_ALLOWED_SHOWN: usize = 12;

/// Why a row was not imported: one reason each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
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
    /// A source, priority, tag, account type, phase or closing reason that
    /// matches no code or label.
    Unknown {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// The codes the field takes (empty when there is no list).
        #[serde(default)]
        allowed: Vec<String>,
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
    /// A history date out of place: in the future, before the lead's
    /// creation, or a close date for an open lead.
    BadDate {
        /// The field (`created_at`, `phase_entered_at`, `closed_at`).
        field: String,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The lead rule refused a value (an e-mail, a phone, a length...).
    Invalid {
        /// The field, where the rule's message does not name it already.
        field: Option<String>,
        /// The rule's reason.
        error: InputError,
    },
    /// An update by external reference ([`ImportAction::UpdateOnly`](super::ImportAction::UpdateOnly))
    /// with a reference no lead has, or with none.
    NoSuchReference {
        /// The reference, `system:id` (empty: the row has none).
        reference: String,
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
            Self::Unknown { field, value, allowed } => {
                write!(f, "{field}: unknown {field} {value:?}")?;
                match allowed.as_slice() {
                    [] => Ok(()),
                    list if list.len() <= MAX_ALLOWED_SHOWN => write!(f, " (one of {})", list.join(", ")),
                    list => write!(
                        f,
                        " (one of {}, and {} more)",
                        list[..MAX_ALLOWED_SHOWN].join(", "),
                        list.len() - MAX_ALLOWED_SHOWN
                    ),
                }
            }
            Self::BadValue { field, value, expected } => write!(f, "{field}: {value:?} is not {expected}"),
            Self::BadDate { field, value, reason } => write!(f, "{field}: {value:?} {reason}"),
            Self::Invalid {
                field: Some(field),
                error,
            } => write!(f, "{field}: {error}"),
            Self::Invalid { field: None, error } => write!(f, "{error}"),
            Self::NoSuchReference { reference } if reference.is_empty() => {
                f.write_str("external_id: missing: an update-only import finds leads by their reference")
            }
            Self::NoSuchReference { reference } => {
                write!(f, "external_id: no lead has the reference {reference} to update")
            }
            Self::Refused { message } => write!(f, "{message}"),
        }
    }
}

/// A row that was not imported, with every reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RowRejection {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// The row's number as a spreadsheet shows it (the header is row 1): the
    /// line, unless a quoted value of an earlier row holds a line break.
    #[serde(default)]
    pub row: u64,
    /// Every reason.
    pub problems: Vec<RowProblem>,
}

/// `line 7` or, when a quoted line break moved them apart, `line 9 (row 7)`.
fn write_place(f: &mut fmt::Formatter<'_>, line: u64, row: u64) -> fmt::Result {
    if row == line || row == 0 {
        write!(f, "line {line}")
    } else {
        write!(f, "line {line} (row {row})")
    }
}

impl fmt::Display for RowRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, self.line, self.row)?;
        f.write_str(": ")?;
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RowDuplicate {
    /// The line the row starts on.
    pub line: u64,
    /// The row's number as a spreadsheet shows it (see [`RowRejection::row`]).
    #[serde(default)]
    pub row: u64,
    /// `email` or `phone`.
    pub field: String,
    /// The normalized value they share.
    pub value: String,
    /// The number of the lead it duplicates (an earlier row's lead, or one
    /// that existed before); 0 when it duplicates an earlier row of a file
    /// that was only checked (a dry run, or an all-or-nothing import that
    /// refused rows), whose lead was never created.
    pub lead: u64,
    /// The line of the earlier row of the same file it duplicates, if it
    /// duplicates one.
    #[serde(default)]
    pub earlier_line: Option<u64>,
}

impl fmt::Display for RowDuplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, self.line, self.row)?;
        match (self.lead, self.earlier_line) {
            (0, Some(earlier)) => write!(f, ": duplicate of line {earlier}")?,
            (lead, Some(earlier)) => write!(f, ": duplicate of lead {lead}, from line {earlier}")?,
            (lead, None) => write!(f, ": duplicate of lead {lead}")?,
        }
        write!(f, " (same {} {})", self.field, self.value)
    }
}

/// Which pass an import is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportStage {
    /// All-or-nothing: checking every row before writing.
    Checking,
    /// Writing batches.
    Importing,
}

fn comma() -> char {
    ','
}

/// A column of an imported file and the field it filled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportColumn {
    /// The column's header.
    pub column: String,
    /// The field's name ([`ImportField::name`](super::ImportField::name)),
    /// `None` when the column was ignored.
    pub field: Option<String>,
}

impl ImportReport {
    /// `Contact Name -> contact_name, E-mail -> email, Notes -> (ignored)`.
    pub fn mapping_shown(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("{} -> {}", c.column, c.field.as_deref().unwrap_or("(ignored)")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Asked after each [`progress`](Self::progress): `true` stops the
    /// import there with [`ImportFailure::Cancelled`](crate::domain::failure::ImportFailure::Cancelled).
    /// The batches committed stay, so the import can be resumed.
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// Hears nothing.
impl ImportObserver for () {}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Leads updated by their external reference (in a dry run: that would
    /// be); a row that changes nothing is not counted.
    #[serde(default)]
    pub updated: u64,
    /// Rows that passed every check and duplicate nothing: the leads
    /// imported, or, in a dry run or an all-or-nothing import that refused
    /// rows, those it would import.
    #[serde(default)]
    pub accepted: u64,
    /// Of the accepted rows, those with no e-mail and no phone: nothing
    /// tells a rerun of the same file that they are here already, so a rerun
    /// would import them again.
    #[serde(default)]
    pub without_duplicate_key: u64,
    /// Whether the import only checked the file and wrote nothing
    /// ([`ImportOptions::dry_run`](super::ImportOptions::dry_run)).
    #[serde(default)]
    pub dry_run: bool,
    /// The file's columns and the field each filled (`None`: ignored), as
    /// the mapping, the field names and the labels chose them.
    #[serde(default)]
    pub columns: Vec<ImportColumn>,
    /// The encoding the file was read in (`UTF-8`, `UTF-16LE`,
    /// `windows-1252`, ...).
    #[serde(default)]
    pub encoding: String,
    /// The delimiter the file was read with.
    #[serde(default = "comma")]
    pub delimiter: char,
    /// The first [`MAX_LISTED`] refused rows.
    pub rejections: Vec<RowRejection>,
    /// The first [`MAX_LISTED`] duplicate rows.
    pub duplicate_rows: Vec<RowDuplicate>,
    /// The lowest and highest number of the leads created.
    pub numbers: Option<(u64, u64)>,
}

impl ImportReport {
    pub(super) fn new(id: ImportId) -> Self {
        Self {
            id,
            rows: 0,
            skipped: 0,
            imported: 0,
            rejected: 0,
            duplicates: 0,
            updated: 0,
            accepted: 0,
            without_duplicate_key: 0,
            dry_run: false,
            columns: Vec::new(),
            encoding: String::new(),
            delimiter: ',',
            rejections: Vec::new(),
            duplicate_rows: Vec::new(),
            numbers: None,
        }
    }

    /// Whether every row was imported or was a duplicate.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0
    }

    /// `imported N, rejected M, duplicates D` (a dry run: `would import
    /// N, ...`), then how many accepted rows have no e-mail or phone, when
    /// some have none.
    pub fn summary(&self) -> String {
        let updated = match (self.updated, self.dry_run) {
            (0, _) => String::new(),
            (n, false) => format!(", updated {n}"),
            (n, true) => format!(", would update {n}"),
        };
        let mut text = if self.dry_run {
            format!(
                "dry run: would import {}{updated}, rejected {}, duplicates {}",
                self.accepted, self.rejected, self.duplicates
            )
        } else {
            format!(
                "imported {}{updated}, rejected {}, duplicates {}",
                self.imported, self.rejected, self.duplicates
            )
        };
        match self.without_duplicate_key {
            0 => {}
            1 => text
                .push_str("; 1 accepted row has no e-mail or phone to recognise it by: a rerun would import it again"),
            n => text.push_str(&format!(
                "; {n} accepted rows have no e-mail or phone to recognise them by: a rerun would import them again"
            )),
        }
        text
    }

    pub(super) fn reject(&mut self, row: RowRejection, observer: &mut dyn ImportObserver) {
        observer.rejected(&row);
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED {
            self.rejections.push(row);
        }
    }

    pub(super) fn duplicate(&mut self, row: RowDuplicate, observer: &mut dyn ImportObserver) {
        observer.duplicate(&row);
        self.duplicates += 1;
        if self.duplicate_rows.len() < MAX_LISTED {
            self.duplicate_rows.push(row);
        }
    }

    pub(super) fn progress(&self, stage: ImportStage, rows: u64, bytes: u64) -> ImportProgress {
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
