//! Resolving a mapping against a file's header, and turning a row into a
//! new lead (or every reason it cannot be one).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::options::header_key;
use super::{ImportColumn, ImportError, ImportField, ImportMapping, OtherColumns, RowProblem};
use crate::domain::config::PhaseRef;
use crate::domain::config::{Config, CustomFieldKind};
use crate::domain::custom::CustomValue;
use crate::domain::error::InputError;
use crate::domain::failure::ImportFailure;
use crate::domain::ids::{Code, UserId};
use crate::domain::input::{LeadPatch, NewLead};
use crate::domain::lead::{ExternalRef, Lead};
use crate::domain::money::Money;
use crate::rules::error::Error;
use crate::rules::{self, Ctx};

/// Where a field's value comes from.
#[derive(Clone, Debug)]
enum Feed {
    /// These columns (by index), joined with a space.
    Columns(Vec<usize>),
    /// One value for every row.
    Constant(String),
}

/// A mapping resolved against a file's header and the configuration.
#[derive(Debug)]
pub(super) struct Plan {
    headers: Vec<String>,
    /// Each column and the field it fills (`None`: ignored), in file order.
    pub(super) assigned: Vec<ImportColumn>,
    feeds: BTreeMap<ImportField, Feed>,
    required: BTreeSet<ImportField>,
    /// Value translations, the `from` side lower-cased.
    values: Vec<(ImportField, String, String)>,
}

/// A row read through the mapping: what could be read of it, and what the
/// import itself refused (values it cannot read: missing, unknown, of the
/// wrong form). The lead rules run on the rest ([`check`]), so a row is
/// reported with every reason at once.
#[derive(Clone, Debug)]
pub(super) struct RowRead {
    /// The lead as far as it could be read; `None` when the row's shape is
    /// wrong (another number of fields than the header).
    input: Option<RowInput>,
    /// The import's own reasons.
    problems: Vec<RowProblem>,
    /// The fields those reasons are about ([`about`]'s names).
    refused: BTreeSet<String>,
}

/// A row read through the mapping: the new lead, and where in its funnel it
/// is to be placed.
#[derive(Clone, Debug)]
pub(super) struct RowInput {
    pub(super) lead: NewLead,
    /// The phase's code or description, as given.
    pub(super) phase: Option<String>,
    /// The closing reason.
    pub(super) closing_reason: Option<Code>,
    /// The fields the row gives a value for (what an update changes).
    pub(super) given: BTreeSet<ImportField>,
    /// The external id and system as given (they make one reference).
    external_id: Option<String>,
    external_system: Option<String>,
    /// The lead's history dates from the system it comes from, each with
    /// its text as given.
    created_at: Option<(String, DateTime<Utc>)>,
    phase_entered_at: Option<(String, DateTime<Utc>)>,
    closed_at: Option<(String, DateTime<Utc>)>,
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

impl Plan {
    pub(super) fn new(header: &csv::ByteRecord, mapping: &ImportMapping, config: &Config) -> Result<Self, ImportError> {
        let mut headers = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let raw = if i == 0 { strip_bom(raw) } else { raw };
            let text = std::str::from_utf8(raw).map_err(|_| {
                ImportError::from(ImportFailure::HeaderNotUtf8 {
                    column: String::from_utf8_lossy(raw).into_owned(),
                    index: i + 1,
                })
            })?;
            headers.push(text.trim().to_owned());
        }
        let known_custom = |f: &ImportField| match f {
            ImportField::Custom(code) => config.custom_field(code).is_some(),
            _ => true,
        };
        let mut feeds: BTreeMap<ImportField, Feed> = BTreeMap::new();
        let add_column = |feeds: &mut BTreeMap<ImportField, Feed>, field: ImportField, index: usize| match feeds
            .entry(field)
            .or_insert_with(|| Feed::Columns(Vec::new()))
        {
            Feed::Columns(list) => list.push(index),
            Feed::Constant(_) => {}
        };
        for (header, field) in &mapping.columns {
            if !headers.iter().any(|h| h.eq_ignore_ascii_case(header.trim())) {
                return Err(ImportError::from(ImportFailure::NoSuchColumn {
                    column: header.clone(),
                }));
            }
            if let Some(f) = field
                && !known_custom(f)
            {
                return Err(ImportError::from(ImportFailure::UnknownField {
                    name: f.name().to_owned(),
                }));
            }
        }
        let mut unknown = Vec::new();
        let mut assigned = Vec::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            let mapped = mapping.columns.iter().find(|(c, _)| c.trim().eq_ignore_ascii_case(h));
            let field = match mapped {
                Some((_, target)) => target.clone(),
                None => ImportField::for_header(h).or_else(|| {
                    let key = header_key(h);
                    config
                        .custom_fields
                        .iter()
                        .find(|d| {
                            d.name.as_str().eq_ignore_ascii_case(h)
                                || (!key.is_empty()
                                    && (header_key(d.name.as_str()) == key || header_key(&d.label) == key))
                        })
                        .map(|d| ImportField::Custom(d.name.clone()))
                }),
            };
            assigned.push(ImportColumn {
                column: h.clone(),
                field: field.as_ref().map(|f| f.name().to_owned()),
            });
            match field {
                Some(f) => add_column(&mut feeds, f, i),
                None if mapped.is_some() || mapping.other_columns == OtherColumns::Ignore => {}
                None => unknown.push(h.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(ImportError::from(ImportFailure::UnknownColumns { columns: unknown }));
        }
        for (field, value) in &mapping.constants {
            if !known_custom(field) {
                return Err(ImportError::from(ImportFailure::UnknownField {
                    name: field.name().to_owned(),
                }));
            }
            if feeds.contains_key(field) {
                return Err(ImportError::from(ImportFailure::ConflictingMapping {
                    field: field.name().to_owned(),
                    reason: "a constant and a column (or two constants)".to_owned(),
                }));
            }
            feeds.insert(field.clone(), Feed::Constant(value.clone()));
        }
        if feeds.contains_key(&ImportField::ContactName) && feeds.keys().any(ImportField::is_name_part) {
            return Err(ImportError::from(ImportFailure::ConflictingMapping {
                field: ImportField::ContactName.name().to_owned(),
                reason: "contact_name and first_name or last_name".to_owned(),
            }));
        }
        let names_fed = feeds.contains_key(&ImportField::ContactName) || feeds.keys().any(ImportField::is_name_part);
        let missing: Vec<String> = mapping
            .required
            .iter()
            .filter(|f| match f {
                ImportField::ContactName => !names_fed,
                other => !feeds.contains_key(other),
            })
            .map(|f| f.name().to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::from(ImportFailure::MissingColumns { fields: missing }));
        }
        Ok(Self {
            headers,
            assigned,
            feeds,
            required: mapping.required.clone(),
            values: mapping
                .values
                .iter()
                .map(|(f, from, to)| (f.clone(), from.trim().to_lowercase(), to.trim().to_owned()))
                .collect(),
        })
    }

    /// The row's new lead as far as it can be read, and the import's own
    /// reasons against it (the lead rules run later, in [`check`]).
    pub(super) fn row(&self, record: &csv::ByteRecord, config: &Config, account_type: Option<&Code>) -> RowRead {
        let mut problems = Vec::new();
        if record.len() != self.headers.len() {
            return RowRead {
                input: None,
                problems: vec![RowProblem::FieldCount {
                    found: record.len(),
                    expected: self.headers.len(),
                }],
                refused: BTreeSet::new(),
            };
        }
        let mut values: BTreeMap<&ImportField, String> = BTreeMap::new();
        // Fields with bytes that are not UTF-8: reported as such, not as missing.
        let mut unreadable: BTreeSet<&ImportField> = BTreeSet::new();
        for (field, feed) in &self.feeds {
            let value = match feed {
                Feed::Constant(v) => v.trim().to_owned(),
                Feed::Columns(columns) => {
                    let mut parts = Vec::new();
                    for &i in columns {
                        match std::str::from_utf8(record.get(i).unwrap_or_default()) {
                            Ok(text) if !text.trim().is_empty() => {
                                parts.push(crate::engine::export::unguard_cell(text.trim()));
                            }
                            Ok(_) => {}
                            Err(_) => {
                                unreadable.insert(field);
                                problems.push(RowProblem::NotUtf8 {
                                    column: self.headers.get(i).cloned().unwrap_or_default(),
                                });
                            }
                        }
                    }
                    parts.join(" ")
                }
            };
            let lower = value.to_lowercase();
            let value = match self.values.iter().find(|(f, from, _)| f == field && *from == lower) {
                Some((_, _, to)) => to.clone(),
                None => value,
            };
            if !value.is_empty() {
                values.insert(field, value);
            }
        }
        let names = [ImportField::ContactName, ImportField::FirstName, ImportField::LastName];
        let names_given = names.iter().any(|f| values.contains_key(f) || unreadable.contains(f));
        for field in &self.required {
            let present = match field {
                ImportField::ContactName => names_given,
                other => values.contains_key(other) || unreadable.contains(other),
            };
            if !present {
                problems.push(RowProblem::Missing {
                    field: field.name().to_owned(),
                });
            }
        }
        let mut input = RowInput {
            lead: NewLead {
                account_type: account_type.cloned(),
                ..NewLead::default()
            },
            phase: None,
            closing_reason: None,
            given: values.keys().map(|f| (*f).clone()).collect(),
            external_id: None,
            external_system: None,
            created_at: None,
            phase_entered_at: None,
            closed_at: None,
        };
        for (field, value) in values {
            apply(&mut input, field, value, config, &mut problems);
        }
        if let Some(id) = input.external_id.take() {
            match input.external_system.as_deref().map(Code::new) {
                None => problems.push(RowProblem::Missing {
                    field: ImportField::ExternalSystem.name().to_owned(),
                }),
                Some(Err(_)) => problems.push(bad(
                    &ImportField::ExternalSystem,
                    input.external_system.as_deref().unwrap_or_default(),
                    "a code: letters, digits, _, - and .",
                )),
                Some(Ok(system)) => input.lead.external_ref = Some(ExternalRef { system, id }),
            }
        }
        let mut refused: BTreeSet<String> = problems.iter().flat_map(about).collect();
        refused.extend(unreadable.iter().map(|f| canonical(f.name())));
        RowRead {
            input: Some(input),
            problems,
            refused,
        }
    }
}

/// The field names a problem is about, one name per field: the name parts
/// as `contact_name`, the company as `company_name`. A lead rule's reason
/// about a field the import already refused is left out (a missing name is
/// not also "one of first_name, last_name, company is required").
fn about(problem: &RowProblem) -> Vec<String> {
    match problem {
        RowProblem::Missing { field }
        | RowProblem::Unknown { field, .. }
        | RowProblem::BadValue { field, .. }
        | RowProblem::BadDate { field, .. } => {
            vec![canonical(field)]
        }
        RowProblem::Invalid { field: Some(field), .. } => vec![canonical(field)],
        RowProblem::Invalid { field: None, error } => match error {
            InputError::Required { field }
            | InputError::TooLong { field, .. }
            | InputError::ControlCharacter { field, .. }
            | InputError::TooMany { field, .. }
            | InputError::CustomField { field, .. }
            | InputError::OutOfRange { field, .. } => vec![canonical(field)],
            InputError::OneOfRequired { fields } => fields.iter().map(|f| canonical(f)).collect(),
            _ => Vec::new(),
        },
        RowProblem::NotUtf8 { .. }
        | RowProblem::FieldCount { .. }
        | RowProblem::Refused { .. }
        | RowProblem::NoSuchReference { .. } => Vec::new(),
    }
}

fn canonical(field: &str) -> String {
    match field {
        "first_name" | "last_name" | "contact_name" => "contact_name",
        "company" | "company_name" => "company_name",
        other => other,
    }
    .to_owned()
}

/// Every reason a row cannot be imported: the import's own, and the lead
/// rules' on what could be read (those about a field the import already
/// refused left out); or the lead, ready to create.
pub(super) fn check(ctx: &Ctx<'_>, read: &RowRead) -> Result<Prepared, Vec<RowProblem>> {
    let Some(input) = &read.input else {
        return Err(read.problems.clone());
    };
    let ruled = prepare(ctx, input);
    if read.problems.is_empty() {
        return ruled;
    }
    let mut problems = read.problems.clone();
    if let Err(more) = ruled {
        problems.extend(
            more.into_iter()
                .filter(|p| about(p).iter().all(|f| !read.refused.contains(f))),
        );
    }
    Err(problems)
}

/// Splits `contact_name` at its last run of whitespace.
fn split_contact_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.rfind(char::is_whitespace) {
        Some(at) => {
            let (first, last) = name.split_at(at);
            (first.trim_end().to_owned(), last.trim_start().to_owned())
        }
        None => (name.to_owned(), String::new()),
    }
}

/// The code of the item whose code or label is `value` (case-insensitive;
/// codes win).
fn find_code<'a, T: 'a>(
    items: impl Iterator<Item = &'a T> + Clone,
    value: &str,
    code: impl Fn(&T) -> &Code,
    label: impl Fn(&T) -> &str,
) -> Option<Code> {
    let v = value.trim().to_lowercase();
    items
        .clone()
        .find(|i| code(i).as_str().to_lowercase() == v)
        .or_else(|| items.clone().find(|i| label(i).trim().to_lowercase() == v))
        .map(|i| code(i).clone())
}

fn bad(field: &ImportField, value: &str, expected: &str) -> RowProblem {
    RowProblem::BadValue {
        field: field.name().to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

fn unknown(field: &ImportField, value: &str, allowed: Vec<String>) -> RowProblem {
    RowProblem::Unknown {
        field: field.name().to_owned(),
        value: value.to_owned(),
        allowed,
    }
}

/// The codes of a list of reference data, for saying what is allowed.
fn codes<'a, T: 'a>(items: impl Iterator<Item = &'a T>, code: impl Fn(&T) -> &Code) -> Vec<String> {
    items.map(|i| code(i).to_string()).collect()
}

fn apply(input: &mut RowInput, field: &ImportField, value: String, config: &Config, problems: &mut Vec<RowProblem>) {
    let lead = &mut input.lead;
    match field {
        ImportField::AccountType => {
            lead.account_type = find_code(config.account_types.iter(), &value, |a| &a.code, |a| &a.name);
            if lead.account_type.is_none() {
                problems.push(unknown(field, &value, codes(config.account_types.iter(), |a| &a.code)));
            }
        }
        ImportField::Phase => input.phase = Some(value),
        ImportField::ExternalId => input.external_id = Some(value),
        ImportField::ExternalSystem => input.external_system = Some(value),
        ImportField::CreatedAt | ImportField::PhaseEnteredAt | ImportField::ClosedAt => match parse_time(&value) {
            Some(at) => {
                let slot = match field {
                    ImportField::CreatedAt => &mut input.created_at,
                    ImportField::PhaseEnteredAt => &mut input.phase_entered_at,
                    _ => &mut input.closed_at,
                };
                *slot = Some((value, at));
            }
            None => problems.push(bad(
                field,
                &value,
                "a date like 2016-10-20 or a time like 2016-10-20T09:30:00Z",
            )),
        },
        ImportField::ClosingReason => {
            input.closing_reason = find_code(config.closing_reasons.iter(), &value, |r| &r.code, |r| &r.label);
            if input.closing_reason.is_none() {
                problems.push(unknown(
                    field,
                    &value,
                    codes(config.closing_reasons.iter(), |r| &r.code),
                ));
            }
        }
        ImportField::ContactName => (lead.first_name, lead.last_name) = split_contact_name(&value),
        ImportField::FirstName => lead.first_name = value,
        ImportField::LastName => lead.last_name = value,
        ImportField::Company => lead.company = value,
        ImportField::Title => lead.title = value,
        ImportField::JobTitle => lead.job_title = value,
        ImportField::Email => lead.email = Some(value),
        ImportField::Phone => lead.phone = Some(value),
        ImportField::Address => lead.address = value,
        ImportField::City => lead.city = value,
        ImportField::State => lead.state = value,
        ImportField::Zone => lead.zone = value,
        ImportField::Description => lead.description = value,
        ImportField::Source => {
            lead.source = find_code(config.sources.iter(), &value, |s| &s.code, |s| &s.label);
            if lead.source.is_none() {
                problems.push(unknown(field, &value, codes(config.sources.iter(), |s| &s.code)));
            }
        }
        ImportField::Priority => {
            lead.priority = find_code(config.priorities.iter(), &value, |p| &p.code, |p| &p.label);
            if lead.priority.is_none() {
                problems.push(unknown(field, &value, codes(config.priorities.iter(), |p| &p.code)));
            }
        }
        ImportField::Tags => {
            for tag in value.split(';').map(str::trim).filter(|t| !t.is_empty()) {
                match find_code(config.tags.iter(), tag, |t| &t.code, |t| &t.label) {
                    Some(code) => {
                        lead.tags.insert(code);
                    }
                    None => problems.push(unknown(field, tag, codes(config.tags.iter(), |t| &t.code))),
                }
            }
        }
        ImportField::ExpectedClose => match NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
            Ok(d) => lead.expected_close = Some(d),
            Err(_) => problems.push(bad(field, &value, "a date like 2026-12-31")),
        },
        ImportField::ExpectedRevenue => match Money::parse(&value, config.settings.default_currency) {
            Some(m) => lead.expected_revenue = Some(m),
            None => problems.push(bad(field, &value, "an amount like 1054.50 or 1054.50 EUR")),
        },
        ImportField::Probability => match value.trim_end_matches('%').trim().parse::<u8>() {
            Ok(p) if p <= 100 => lead.probability = Some(p),
            _ => problems.push(bad(field, &value, "a whole number from 0 to 100")),
        },
        ImportField::Owner => match UserId::new(&value) {
            Ok(u) => lead.owner = Some(u),
            Err(_) => problems.push(bad(field, &value, "a user id")),
        },
        ImportField::Custom(name) => {
            let Some(def) = config.custom_field(name) else {
                problems.push(unknown(field, &value, Vec::new()));
                return;
            };
            let parsed = match &def.kind {
                CustomFieldKind::Text => Ok(CustomValue::Text(value.clone())),
                CustomFieldKind::Number => match value.parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(CustomValue::Number(n)),
                    _ => Err("a number"),
                },
                CustomFieldKind::Date => NaiveDate::parse_from_str(&value, "%Y-%m-%d")
                    .map(CustomValue::Date)
                    .map_err(|_| "a date like 2026-12-31"),
                CustomFieldKind::Bool => match value.to_lowercase().as_str() {
                    "true" | "yes" | "y" | "1" => Ok(CustomValue::Bool(true)),
                    "false" | "no" | "n" | "0" => Ok(CustomValue::Bool(false)),
                    _ => Err("yes or no"),
                },
                CustomFieldKind::Choice { options } => options
                    .iter()
                    .find(|o| o.to_lowercase() == value.to_lowercase())
                    .map(|o| CustomValue::Choice(o.clone()))
                    .ok_or(""),
            };
            match parsed {
                Ok(v) => {
                    lead.custom.insert(name.clone(), v);
                }
                Err("") => {
                    let options = match &def.kind {
                        CustomFieldKind::Choice { options } => options.join(", "),
                        _ => String::new(),
                    };
                    problems.push(bad(field, &value, &format!("one of {options}")));
                }
                Err(expected) => problems.push(bad(field, &value, expected)),
            }
        }
    }
}

/// A refused value as a row problem, with the import field it came from
/// when the rule's message does not say (the other messages name it).
fn invalid(error: InputError) -> RowProblem {
    let field = match &error {
        InputError::InvalidEmail { .. } => Some(ImportField::Email),
        InputError::InvalidPhone { .. } => Some(ImportField::Phone),
        InputError::InvalidCurrency { .. } | InputError::NegativeAmount { .. } => Some(ImportField::ExpectedRevenue),
        InputError::ProbabilityOutOfRange { .. } => Some(ImportField::Probability),
        InputError::InvalidUserId { .. } => Some(ImportField::Owner),
        _ => None,
    };
    RowProblem::Invalid {
        field: field.map(|f| f.name().to_owned()),
        error,
    }
}

/// The lead rule's refusal of a row, as row problems.
pub(super) fn rule_problems(e: Error) -> Vec<RowProblem> {
    match e {
        Error::Input(InputError::Many(list)) => list.into_iter().map(invalid).collect(),
        Error::Input(error) => vec![invalid(error)],
        other => vec![RowProblem::Refused {
            message: other.to_string(),
        }],
    }
}

/// A row checked by the lead rules: the new lead in its Initial phase, and
/// the phases it then moves through, in order (the last one with the
/// closing reason), with when it was created and when it entered its phase.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub(super) lead: Lead,
    pub(super) path: Vec<PhaseRef>,
    pub(super) closing_reason: Option<Code>,
    /// The row's values as changes to an existing lead (an update by
    /// external reference).
    pub(super) patch: LeadPatch,
    /// When the lead was created: the time of its insert, and of the moves
    /// through the phases before its own.
    pub(super) created: DateTime<Utc>,
    /// When it entered its own phase: the time of the last move.
    pub(super) entered: DateTime<Utc>,
}

/// Runs the lead rules on a row: the create, then each move of its path.
pub(super) fn prepare(ctx: &Ctx<'_>, input: &RowInput) -> Result<Prepared, Vec<RowProblem>> {
    let given = [&input.created_at, &input.phase_entered_at, &input.closed_at];
    let mut problems: Vec<RowProblem> = Vec::new();
    for (field, date) in [
        ImportField::CreatedAt,
        ImportField::PhaseEnteredAt,
        ImportField::ClosedAt,
    ]
    .iter()
    .zip(given)
    {
        if let Some((text, at)) = date
            && *at > ctx.now
        {
            problems.push(bad_date(
                field,
                text,
                format!("is in the future (the import runs at {})", show_time(ctx.now)),
            ));
        }
    }
    // The created date, else the earliest date the row gives, else now.
    let created = input
        .created_at
        .as_ref()
        .map(|(_, at)| *at)
        .or_else(|| given.iter().filter_map(|d| d.as_ref().map(|(_, at)| *at)).min())
        .unwrap_or(ctx.now)
        .min(ctx.now);
    let at_creation = Ctx { now: created, ..*ctx };
    let mut lead = rules::new_lead(&at_creation, &input.lead).map_err(|e| {
        let mut all = problems.clone();
        all.extend(rule_problems(e));
        all
    })?;
    let path = match &input.phase {
        None => Vec::new(),
        Some(text) => phase_path(ctx.config, &lead, text).map_err(|mut more| {
            more.splice(0..0, problems.iter().cloned());
            more
        })?,
    };
    let target = path.last().or(lead.phase.as_ref());
    let closing = target
        .and_then(|p| ctx.config.phase(p))
        .is_some_and(|p| p.phase_type == crate::domain::config::PhaseType::Closing);
    let entered = match (&input.phase_entered_at, &input.closed_at) {
        (_, Some((text, _))) if !closing => {
            let phase = target.map_or_else(|| "none".to_owned(), |p| p.code.to_string());
            problems.push(bad_date(
                &ImportField::ClosedAt,
                text,
                format!("is given, but the lead is open: its phase {phase} is not a closing phase"),
            ));
            None
        }
        (Some((_, phase)), Some((text, closed))) if phase != closed => {
            problems.push(bad_date(
                &ImportField::ClosedAt,
                text,
                format!(
                    "is not phase_entered_at {}: a lead in a closing phase closed when it entered it",
                    show_time(*phase)
                ),
            ));
            None
        }
        (_, Some((text, at))) | (Some((text, at)), None) => Some((text, *at)),
        (None, None) => None,
    };
    let entered = match entered {
        Some((text, at)) if at < created => {
            let field = if input.closed_at.is_some() {
                ImportField::ClosedAt
            } else {
                ImportField::PhaseEnteredAt
            };
            problems.push(bad_date(
                &field,
                text,
                format!("is before created_at {}", show_time(created)),
            ));
            created
        }
        Some((_, at)) => at.min(ctx.now),
        None => created,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    if path.is_empty() {
        // No move: the lead entered its (Initial) phase at the given time.
        lead.phase_entered_at = entered;
    }
    let prepared = Prepared {
        lead,
        path,
        closing_reason: input.closing_reason.clone(),
        patch: patch_of(input),
        created,
        entered,
    };
    // A dry run of the moves, so a refused one refuses the row.
    walk(ctx, prepared.lead.clone(), &prepared, |_| {}).map_err(rule_problems)?;
    Ok(prepared)
}

/// A time in messages: RFC 3339, to the second.
fn show_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn bad_date(field: &ImportField, value: &str, reason: String) -> RowProblem {
    RowProblem::BadDate {
        field: field.name().to_owned(),
        value: value.to_owned(),
        reason,
    }
}

/// A date (`2016-10-20`, midnight UTC) or a time: RFC 3339
/// (`2016-10-20T09:30:00Z`, `2016-10-20 09:30:00+02:00`) or without an
/// offset (`2016-10-20 09:30[:00]`, UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z") {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

/// A row's values as changes to the lead it updates: every field the row
/// gives a value for, as the lead rules take it. The owner, account type,
/// phase and closing reason are not changed by an update (they have their
/// own actions: reassign, the phase moves), nor are its history dates.
fn patch_of(input: &RowInput) -> LeadPatch {
    let lead = &input.lead;
    let mut patch = LeadPatch::default();
    for field in &input.given {
        match field {
            ImportField::ContactName => {
                patch.first_name = Some(lead.first_name.clone());
                patch.last_name = Some(lead.last_name.clone());
            }
            ImportField::FirstName => patch.first_name = Some(lead.first_name.clone()),
            ImportField::LastName => patch.last_name = Some(lead.last_name.clone()),
            ImportField::Company => patch.company = Some(lead.company.clone()),
            ImportField::Title => patch.title = Some(lead.title.clone()),
            ImportField::JobTitle => patch.job_title = Some(lead.job_title.clone()),
            ImportField::Email => patch.email = Some(lead.email.clone()),
            ImportField::Phone => patch.phone = Some(lead.phone.clone()),
            ImportField::Address => patch.address = Some(lead.address.clone()),
            ImportField::City => patch.city = Some(lead.city.clone()),
            ImportField::State => patch.state = Some(lead.state.clone()),
            ImportField::Zone => patch.zone = Some(lead.zone.clone()),
            ImportField::Source => patch.source = Some(lead.source.clone()),
            ImportField::Priority => patch.priority = Some(lead.priority.clone()),
            ImportField::Description => patch.description = Some(lead.description.clone()),
            ImportField::Tags => patch.tags = Some(lead.tags.clone()),
            ImportField::ExpectedClose => patch.expected_close = Some(lead.expected_close),
            ImportField::ExpectedRevenue => patch.expected_revenue = Some(lead.expected_revenue),
            ImportField::Probability => patch.probability = Some(lead.probability),
            ImportField::Custom(name) => {
                if let Some(v) = lead.custom.get(name) {
                    patch.custom.insert(name.clone(), Some(v.clone()));
                }
            }
            ImportField::Owner
            | ImportField::AccountType
            | ImportField::Phase
            | ImportField::ClosingReason
            | ImportField::ExternalId
            | ImportField::ExternalSystem
            | ImportField::CreatedAt
            | ImportField::PhaseEnteredAt
            | ImportField::ClosedAt => {}
        }
    }
    patch
}

/// Moves `lead` along the prepared path with the phase rule, handing each
/// move's unit of work to `absorb`; returns the lead at the end. The moves
/// through the phases before the lead's own happen at its creation, the
/// last one when it entered its phase.
pub(super) fn walk(
    ctx: &Ctx<'_>,
    mut lead: Lead,
    prepared: &Prepared,
    mut absorb: impl FnMut(crate::store::uow::UnitOfWork),
) -> Result<Lead, Error> {
    for (i, phase) in prepared.path.iter().enumerate() {
        let last = i + 1 == prepared.path.len();
        let reason = if last { prepared.closing_reason.as_ref() } else { None };
        let now = if last { prepared.entered } else { prepared.created };
        let ctx = Ctx { now, ..*ctx };
        let (uow, next) = rules::move_phase(&ctx, &lead, phase, reason, None)?;
        absorb(uow);
        lead = next;
    }
    Ok(lead)
}

/// The phases from the lead's Initial phase to the one named `text` (code or
/// description): every regular phase in between, in funnel order, then it.
fn phase_path(config: &Config, lead: &Lead, text: &str) -> Result<Vec<PhaseRef>, Vec<RowProblem>> {
    let phases = config.phases_of(&lead.account_type);
    let wanted = text.trim().to_lowercase();
    let target = phases
        .iter()
        .find(|p| p.code.as_str().to_lowercase() == wanted)
        .or_else(|| phases.iter().find(|p| p.description.trim().to_lowercase() == wanted))
        .ok_or_else(|| {
            vec![unknown(
                &ImportField::Phase,
                text,
                phases.iter().map(|p| p.code.to_string()).collect(),
            )]
        })?;
    let start = lead
        .phase
        .as_ref()
        .and_then(|p| config.phase(p))
        .map_or(i64::MIN, |p| i64::from(p.order));
    if lead.phase.as_ref() == Some(&target.reference()) {
        return Ok(Vec::new());
    }
    let end = i64::from(target.order);
    let mut path: Vec<PhaseRef> = phases
        .iter()
        .filter(|p| {
            let order = i64::from(p.order);
            order > start && order < end && p.phase_type != crate::domain::config::PhaseType::Closing
        })
        .map(|p| p.reference())
        .collect();
    path.push(target.reference());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_names_split_at_the_last_space() {
        assert_eq!(
            split_contact_name("Mary Ann Smith"),
            ("Mary Ann".into(), "Smith".into())
        );
        assert_eq!(split_contact_name("  Cher "), ("Cher".into(), String::new()));
        assert_eq!(split_contact_name("Ann  van\tDyke"), ("Ann  van".into(), "Dyke".into()));
    }
}
