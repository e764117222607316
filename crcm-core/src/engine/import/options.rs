//! How an import reads a file: the fields columns fill, the mapping, the mode and the options.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::failure::ImportFailure;
use crate::domain::ids::{Code, ImportId};

use super::DEFAULT_BATCH_SIZE;

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
    /// it in every phase it passed (at the import's time, or at the row's
    /// `created_at` and `phase_entered_at`).
    Phase,
    /// `closing_reason`: a closing reason's code or label, recorded when the
    /// lead's phase is a closing one.
    ClosingReason,
    /// `external_id`: the lead's id in the system it comes from; with
    /// `external_system`, its [`ExternalRef`](crate::domain::lead::ExternalRef),
    /// which an import run again finds it by ([`ImportAction`]).
    ExternalId,
    /// `external_system`: the code of that system (a column or, usually, a
    /// constant: `--const external_system=espo`).
    ExternalSystem,
    /// `created_at`: when the lead was created in the system it comes from,
    /// a date (`2016-10-20`, midnight UTC) or a time (`2016-10-20T09:30:00Z`,
    /// RFC 3339). Not in the future. Without it the lead is created at the
    /// import's time (or at the earliest of the row's other dates).
    CreatedAt,
    /// `phase_entered_at`: when the lead entered its phase (the `phase`
    /// column's, or its Initial phase). The lead passes the phases before its
    /// own at its creation and enters its own at this time; without it, at
    /// its creation. Not before `created_at`, not in the future.
    PhaseEnteredAt,
    /// `closed_at`: when the lead closed; only for a lead imported into a
    /// closing phase, which it entered then (a `phase_entered_at` given too
    /// must be the same time). Not before `created_at`, not in the future.
    ClosedAt,
    /// A custom field, by name (`custom:NAME` in a mapping, or the bare name).
    Custom(Code),
}

impl ImportField {
    /// The standard fields, in the order an export writes them: seed 001's
    /// columns first.
    pub const STANDARD: [Self; 28] = [
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
        Self::ExternalId,
        Self::ExternalSystem,
        Self::CreatedAt,
        Self::PhaseEnteredAt,
        Self::ClosedAt,
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
            Self::ExternalId => "external_id",
            Self::ExternalSystem => "external_system",
            Self::CreatedAt => "created_at",
            Self::PhaseEnteredAt => "phase_entered_at",
            Self::ClosedAt => "closed_at",
            Self::Custom(code) => code.as_str(),
        }
    }

    /// The standard field with this name (case-insensitive), if any.
    pub fn standard(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::STANDARD.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The standard field a column header names: its name or its label as
    /// people write it (`Contact Name`, `E-mail`, `company`, `Phone number`),
    /// compared folded, without spaces or punctuation, as Odoo's import
    /// matches labels.
    pub fn for_header(header: &str) -> Option<Self> {
        let key = header_key(header);
        if key.is_empty() {
            return None;
        }
        Self::STANDARD
            .into_iter()
            .find(|f| header_key(f.name()) == key)
            .or_else(|| {
                HEADER_ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == key)
                    .map(|(_, f)| f.clone())
            })
    }

    pub(crate) fn is_name_part(&self) -> bool {
        matches!(self, Self::FirstName | Self::LastName)
    }
}

/// Headers people use for a field besides its name, as [`header_key`]s.
const HEADER_ALIASES: [(&str, ImportField); 7] = [
    ("company", ImportField::Company),
    ("createddate", ImportField::CreatedAt),
    ("createdon", ImportField::CreatedAt),
    ("datecreated", ImportField::CreatedAt),
    ("emailaddress", ImportField::Email),
    ("phonenumber", ImportField::Phone),
    ("leadsource", ImportField::Source),
];

/// A header as it is compared: folded (accents and case), letters and
/// digits only (`E-mail` and `email`, `Contact Name` and `contact_name`).
pub(crate) fn header_key(text: &str) -> String {
    crate::store::query::fold(text)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OtherColumns {
    /// The import is refused, naming the columns (a typo in a header is not
    /// silently dropped).
    #[default]
    Refuse,
    /// They are ignored.
    Ignore,
}

/// How a file's columns become lead fields (see the [module docs](crate::engine::import)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
struct MappingForm {
    columns: Vec<ColumnForm>,
    constants: Vec<ConstantForm>,
    values: Vec<ValueForm>,
    required: BTreeSet<ImportField>,
    other_columns: OtherColumns,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ColumnForm {
    column: String,
    /// `null`: ignore the column.
    field: Option<ImportField>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ConstantForm {
    field: ImportField,
    value: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// What a row whose external reference a lead has already does (EspoCRM's
/// and SuiteCRM's import modes, keyed on the reference): `create_only`,
/// `update_only`, `create_or_update`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    /// New leads only: a row whose reference a lead has is a duplicate of it.
    #[default]
    #[serde(alias = "create-only")]
    CreateOnly,
    /// Existing leads only, found by the reference: a row updates its lead's
    /// fields; a row without a reference, or with one no lead has, is refused.
    #[serde(alias = "update-only")]
    UpdateOnly,
    /// A row updates the lead with its reference, or creates one.
    #[serde(alias = "create-or-update")]
    CreateOrUpdate,
}

impl FromStr for ImportAction {
    type Err = ImportFailure;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "create_only" => Ok(Self::CreateOnly),
            "update_only" => Ok(Self::UpdateOnly),
            "create_or_update" => Ok(Self::CreateOrUpdate),
            _ => Err(ImportFailure::UnknownMode { name: s.to_owned() }),
        }
    }
}

/// How to import. Its JSON form names every part; each is optional
/// (`{"mode": "skip_invalid", "mapping": {"columns": [{"column": "E-mail",
/// "field": "email"}]}}`), and a new `id` is drawn when none is given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// Columns to fields.
    pub mapping: ImportMapping,
    /// All-or-nothing (default) or skip-invalid.
    pub mode: ImportMode,
    /// The account type of every lead (default: the only one configured).
    pub account_type: Option<Code>,
    /// Rows per unit of work, 1 to [`MAX_BATCH_SIZE`](crate::engine::import::MAX_BATCH_SIZE).
    pub batch_size: usize,
    /// This import's identity: give an interrupted import's id (and the same
    /// batch size) with `resume` to continue it.
    #[cfg_attr(feature = "schema", schemars(transform = drawn_when_absent))]
    pub id: ImportId,
    /// Skip the rows of the batches that import `id` already committed.
    pub resume: bool,
    /// Check every row (the lead rules, duplicates in the file and in the
    /// store) and write nothing: the report says what an import would do.
    pub dry_run: bool,
    /// The file's encoding, by its WHATWG label (`windows-1252`, `latin1`,
    /// `utf-16le`, `shift_jis`, ...). Default: UTF-8, or UTF-16 when the
    /// file starts with a UTF-16 byte order mark.
    pub encoding: Option<String>,
    /// What a row whose external reference a lead has does (default: it is
    /// a duplicate; see [`ImportAction`]).
    pub action: ImportAction,
    /// The delimiter: one ASCII character (`;`, a tab). Default: the one of
    /// `,` `;` tab `|` that the header line holds most of (outside quotes),
    /// `,` when it holds none.
    pub delimiter: Option<char>,
}

/// Drops the `default` of a value that holds an id drawn afresh when the
/// client gives none (an import's id) from its JSON Schema: a drawn value is
/// not a default, and the schema must not change from one generation to the
/// next.
#[cfg(feature = "schema")]
pub(crate) fn drawn_when_absent(schema: &mut schemars::Schema) {
    schema.remove("default");
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
            dry_run: false,
            encoding: None,
            action: ImportAction::CreateOnly,
            delimiter: None,
        }
    }
}
