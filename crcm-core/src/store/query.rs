//! What a store answers: typed filters, orders, keyset pages.
//!
//! Every query a backend answers is a [`Select`]: which records (a typed
//! filter), in which order, from which [`Cursor`] on, how many. The semantics
//! are defined here, in plain Rust ([`LeadFilter::matches`],
//! [`LeadOrder::key`], [`page_of`]); the in-memory store answers with them, and
//! the conformance suite checks every backend against them, cursors included.
//!
//! Filters hold only what a backend can evaluate from the stored record:
//! values, time ranges, word prefixes. Rules that depend on the configuration
//! or the clock ("open", "rotten", "days in phase") are resolved into these
//! terms by the engine (see [`crate::engine::query`]).
//!
//! ## Order and cursors
//!
//! Records are ordered by a 64-bit sort key, then by id (UUID order), both
//! ascending or both descending. A [`Cursor`] is the key and id of the last
//! record of a page; the next page starts strictly after it. Because the cursor
//! names a position rather than an offset, paging stays correct while records
//! change: a record that did not move is never skipped nor repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::activity::{Activity, Communication, CommunicationStatus, FollowUp, Subject};
use crate::domain::config::PhaseRef;
use crate::domain::customer::Customer;
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::ids::{Code, CustomerId, ImportId, LeadId, UserId};
use crate::domain::lead::{Lead, LeadStatus};
use crate::store::record::Record;

/// The longest search word kept, in characters; longer words are cut (on
/// both sides of the comparison, so they still match).
pub const MAX_WORD_CHARS: usize = 64;

/// The largest page a store returns; larger limits are cut to it.
pub const MAX_PAGE: usize = 10_000;

/// The key of a missing value (no expected close date, no expected revenue):
/// it sorts after every real value.
pub const MISSING_KEY: i64 = i64::MAX;

/// Folds text for search, the same way on every backend: NFKC, then each
/// character to its nearest Latin letters (accents and other combining marks
/// dropped, `ß` as `ss`, other scripts transliterated), lower-cased. So
/// `Ñúñez`, `ünïcödé`, `straße` and a decomposed `i̇stanbul` are found by
/// `nunez`, `unicode`, `strasse` and `istanbul`. A character the folding
/// table does not know is kept, lower-cased.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        match deunicode::deunicode_char(c) {
            // The table writes whole syllables with a trailing space (CJK):
            // kept, so each is a word of its own.
            Some(latin) => out.extend(latin.chars().map(|c| c.to_ascii_lowercase())),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Apostrophes inside a name (`O'Brien`, `D’Angelo` folds to `'`) join
/// rather than separate: a search for `obrien` finds it.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '`')
}

fn cut(word: &str) -> String {
    word.chars().take(MAX_WORD_CHARS).collect()
}

/// The words of a record's text that search matches ([`fold`]ed): runs of
/// letters and digits, each cut to [`MAX_WORD_CHARS`], and, for a
/// space-separated token made of several runs (`O'Brien`, `Jean-Pierre`,
/// `ann@acme.example`), the runs joined too (`obrien`, `jeanpierre`), so a
/// search typed without the punctuation finds it. Everything other than
/// letters and digits (spaces, quotes, `%`, `_`, `@`, `.`) is never syntax.
pub fn words(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out: Vec<String> = Vec::new();
    for token in folded.split_whitespace() {
        let mut runs = 0;
        let mut joined = String::new();
        for run in token.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            runs += 1;
            joined.push_str(run);
            out.push(cut(run));
        }
        if runs > 1 {
            out.push(cut(&joined));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The words of a search text ([`fold`]ed): runs of letters and digits, with
/// apostrophes dropped first (`o'brien` searches `obrien`, which a record's
/// [`words`] holds for `O'Brien` and for `OBrien`). Each must start a word of
/// the record.
pub fn search_words(text: &str) -> Vec<String> {
    let folded: String = fold(text).chars().filter(|c| !is_apostrophe(*c)).collect();
    let mut out: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(cut)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The words a lead is found by: its title, first and last name, company and
/// e-mail.
pub fn lead_words(lead: &Lead) -> Vec<String> {
    let email = lead.email.as_ref().map_or("", |e| e.as_str());
    words(&format!(
        "{} {} {} {} {}",
        lead.title, lead.first_name, lead.last_name, lead.company, email
    ))
}

/// The words a customer is found by: its name, e-mail and contacts' names.
pub fn customer_words(customer: &Customer) -> Vec<String> {
    let mut text = customer.name.clone();
    if let Some(e) = &customer.email {
        text.push(' ');
        text.push_str(e.as_str());
    }
    for c in &customer.contacts {
        text.push(' ');
        text.push_str(&c.name);
    }
    words(&text)
}

/// The longest [`company_contact_key`], in bytes: longer keys keep their
/// start and end in a hash, so every backend can index them.
pub const COMPANY_CONTACT_KEY_MAX: usize = 255;

/// A lead's company and contact name as one duplicate key: each lower-cased
/// with runs of white space made one space, `company|first last`. `None`
/// when the lead has no company or no contact name. A key longer than
/// [`COMPANY_CONTACT_KEY_MAX`] bytes is cut to 200 bytes followed by `#` and
/// a 64-bit FNV-1a hash of the whole key (so two long keys differ when the
/// names do).
pub fn company_contact_key(lead: &Lead) -> Option<String> {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let company = norm(&lead.company);
    let name = norm(&format!("{} {}", lead.first_name, lead.last_name));
    if company.is_empty() || name.is_empty() {
        return None;
    }
    let key = format!("{company}|{name}");
    if key.len() <= COMPANY_CONTACT_KEY_MAX {
        return Some(key);
    }
    // FNV-1a: a stable hash every build computes alike (std's hasher is not
    // guaranteed stable across releases).
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 200;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(format!("{}#{hash:016x}", &key[..cut]))
}

/// A resolved free-text search: every word must start a word of the record,
/// or the record's phone must equal `phone` (the search text read as a phone
/// number, when it is one), or one of its e-mail addresses must equal
/// `email` (the search text, when it is a whole address).
///
/// Each part is one index lookup (a word's prefix range, a phone, an
/// address), so what a search reads follows what it finds, not the store's
/// size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Search {
    /// Lower-cased word prefixes (see [`words`]), all required.
    pub words: Vec<String>,
    /// E.164 form of the text, when it reads as a phone number.
    pub phone: Option<String>,
    /// Normalized form of the text, when it is an e-mail address.
    pub email: Option<String>,
}

impl Search {
    /// Whether a record with these words, this phone and these (normalized)
    /// e-mail addresses matches.
    pub fn matches(&self, record_words: &[String], phone: Option<&str>, emails: &[String]) -> bool {
        let by_words = !self.words.is_empty()
            && self
                .words
                .iter()
                .all(|w| record_words.iter().any(|rw| rw.starts_with(w.as_str())));
        let by_phone = self.phone.is_some() && self.phone.as_deref() == phone;
        let by_email = self.email.as_ref().is_some_and(|e| emails.contains(e));
        by_words || by_phone || by_email
    }
}

/// A half-open time interval `[from, before)`; an unset end is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct TimeRange {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub before: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether neither end is set.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.before.is_none()
    }

    /// Whether `t` lies in the interval.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.contains_micros(t.timestamp_micros())
    }

    /// Whether a time in microseconds since the epoch lies in the interval.
    pub fn contains_micros(&self, t: i64) -> bool {
        let (from, before) = self.micros();
        from.is_none_or(|f| t >= f) && before.is_none_or(|b| t < b)
    }

    /// The interval in microseconds since the epoch (the stored form).
    pub fn micros(&self) -> (Option<i64>, Option<i64>) {
        (
            self.from.map(|t| t.timestamp_micros()),
            self.before.map(|t| t.timestamp_micros()),
        )
    }
}

/// A half-open date interval `[from, before)`; an unset end is open. A record
/// without the date never matches a set interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DateRange {
    /// On or after.
    pub from: Option<NaiveDate>,
    /// Before.
    pub before: Option<NaiveDate>,
}

impl DateRange {
    /// Whether neither end is set.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.before.is_none()
    }

    /// Whether `d` lies in the interval (`None` lies in an open one only).
    pub fn contains(&self, d: Option<NaiveDate>) -> bool {
        match d {
            None => self.is_open(),
            Some(d) => self.from.is_none_or(|f| d >= f) && self.before.is_none_or(|b| d < b),
        }
    }

    /// The interval as [`date_key`]s.
    pub fn keys(&self) -> (Option<i64>, Option<i64>) {
        (self.from.map(date_key), self.before.map(date_key))
    }
}

/// The sort key of a date: days since 1 January of year 1.
pub fn date_key(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// A value a lead can lack, for data-quality lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeadField {
    /// Expected close date.
    ExpectedClose,
    /// Description (empty or only white space).
    Description,
    /// Expected revenue.
    ExpectedRevenue,
    /// Source.
    Source,
    /// E-mail.
    Email,
    /// Phone.
    Phone,
}

impl LeadField {
    /// Every field, in order.
    pub const ALL: [LeadField; 6] = [
        LeadField::ExpectedClose,
        LeadField::Description,
        LeadField::ExpectedRevenue,
        LeadField::Source,
        LeadField::Email,
        LeadField::Phone,
    ];

    /// Whether the lead lacks this value.
    pub fn is_missing(self, lead: &Lead) -> bool {
        match self {
            Self::ExpectedClose => lead.expected_close.is_none(),
            Self::Description => lead.description.trim().is_empty(),
            Self::ExpectedRevenue => lead.expected_revenue.is_none(),
            Self::Source => lead.source.is_none(),
            Self::Email => lead.email.is_none(),
            Self::Phone => lead.phone.is_none(),
        }
    }

    /// Its bit in [`LeadRow::missing`].
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExpectedClose => "expected_close",
            Self::Description => "description",
            Self::ExpectedRevenue => "expected_revenue",
            Self::Source => "source",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// Leads that sat in a phase since before that phase's cutoff (how the engine
/// expresses "rotten" and "stuck": see [`crate::engine::query`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct PhaseCutoffs {
    /// Per phase: the lead entered the phase at or before this time.
    pub cutoffs: BTreeMap<PhaseRef, DateTime<Utc>>,
    /// `true`: the lead is in one of the phases past its cutoff; `false`: it is not.
    pub past: bool,
}

impl PhaseCutoffs {
    /// Whether the lead is past its phase's cutoff.
    pub fn is_past(&self, lead: &LeadRow) -> bool {
        lead.phase
            .as_ref()
            .and_then(|p| self.cutoffs.get(p))
            .is_some_and(|cut| lead.phase_entered <= cut.timestamp_micros())
    }
}

/// Closed leads (or open ones): a lead is closed when its status is closed
/// (converted, disqualified, merged) or it sits in one of the closing phases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Closed {
    /// The configuration's closing phases.
    pub closing_phases: BTreeSet<PhaseRef>,
    /// `true`: closed leads; `false`: open ones.
    pub closed: bool,
}

impl Closed {
    /// Whether the lead is closed.
    pub fn is_closed(&self, lead: &LeadRow) -> bool {
        lead.status.is_closed() || lead.phase.as_ref().is_some_and(|p| self.closing_phases.contains(p))
    }
}

/// A typed lead filter that every backend answers natively. Every set field
/// must match (AND); the default matches every lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct LeadFilter {
    /// Number equals.
    pub number: Option<u64>,
    /// Status is one of these.
    pub statuses: Option<BTreeSet<LeadStatus>>,
    /// Owner equals ("My leads": owner = the actor).
    pub owner: Option<UserId>,
    /// Account type equals.
    pub account_type: Option<Code>,
    /// Phase equals.
    pub phase: Option<PhaseRef>,
    /// Closed (or open) leads. Set by the engine from a query's `open`; not
    /// part of the wire form.
    #[serde(skip)]
    pub closed: Option<Closed>,
    /// Source equals.
    pub source: Option<Code>,
    /// Priority equals.
    pub priority: Option<Code>,
    /// Has every one of these tags.
    pub tags: BTreeSet<Code>,
    /// Zone equals.
    pub zone: Option<String>,
    /// Normalized e-mail equals.
    pub email: Option<String>,
    /// E.164 phone equals.
    pub phone: Option<String>,
    /// [`company_contact_key`] equals (duplicate lookups; not part of the
    /// wire form).
    #[serde(skip)]
    pub company_contact: Option<String>,
    /// Closing reason equals.
    pub closing_reason: Option<Code>,
    /// Lost reason equals.
    pub lost_reason: Option<Code>,
    /// Linked to this customer.
    pub customer: Option<CustomerId>,
    /// Has a value for this custom field.
    pub has_custom: Option<Code>,
    /// External reference equals, as `system:id` ([`ExternalRef::key`](crate::domain::lead::ExternalRef::key)).
    pub external_ref: Option<String>,
    /// Created by this import ([`Lead::import`](crate::domain::lead::Lead::import)).
    pub import: Option<ImportId>,
    /// Created in this interval.
    pub created: TimeRange,
    /// Last changed in this interval.
    pub updated: TimeRange,
    /// Closed in this interval ([`Lead::closed_at`]); a set interval never
    /// matches an open lead.
    pub closed_at: TimeRange,
    /// Entered its current phase in this interval.
    pub phase_entered: TimeRange,
    /// Expected to close in this interval.
    pub expected_close: DateRange,
    /// Lacks every one of these values.
    pub missing: BTreeSet<LeadField>,
    /// Past (or not past) its phase's cutoff. Set by the engine from a
    /// query's `rotten`; not part of the wire form.
    #[serde(skip)]
    pub cutoffs: Option<PhaseCutoffs>,
    /// Found by this search. Set by the engine from a query's `search` text;
    /// not part of the wire form.
    #[serde(skip)]
    pub search: Option<Search>,
    /// Only the leads the actor sees. Set by the engine from the actor's
    /// [`Visibility`](crate::domain::config::Visibility); not part of the
    /// wire form.
    #[serde(skip)]
    pub visible: Option<Visible>,
}

/// The leads (or deals) an actor sees when their role does not see all: those
/// owned by one of `owners`, and those whose record team has `member`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Visible {
    /// Records owned by one of these users are seen.
    pub owners: BTreeSet<UserId>,
    /// Records whose record team has this user are seen.
    pub member: Option<UserId>,
}

impl Visible {
    /// Whether a record with this owner and record team is seen.
    pub fn sees(&self, owner: &UserId, team: &BTreeSet<UserId>) -> bool {
        self.owners.contains(owner) || self.member.as_ref().is_some_and(|m| team.contains(m))
    }
}

impl LeadFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, lead: &Lead) -> bool {
        // Cheap refusals first: the in-memory store and the reference run
        // this over every lead.
        if self.number.is_some_and(|n| lead.number != n)
            || self.owner.as_ref().is_some_and(|o| o != &lead.owner)
            || self
                .email
                .as_deref()
                .is_some_and(|e| lead.email.as_ref().is_none_or(|x| x.as_str() != e))
            || self
                .phone
                .as_deref()
                .is_some_and(|p| lead.phone.as_ref().is_none_or(|x| x.key() != p))
        {
            return false;
        }
        let mut row = LeadRow::of_without_words(lead);
        if self.search.is_some() {
            row.words = lead_words(lead);
        }
        self.matches_row(&row)
    }

    /// [`LeadFilter::matches`] on a lead's query columns.
    pub fn matches_row(&self, lead: &LeadRow) -> bool {
        fn eq<T: PartialEq>(want: &Option<T>, have: Option<&T>) -> bool {
            want.as_ref().is_none_or(|w| have == Some(w))
        }
        let mask = self.missing.iter().fold(0u8, |m, f| m | f.bit());
        self.number.is_none_or(|n| lead.number == n)
            && self.statuses.as_ref().is_none_or(|s| s.contains(&lead.status))
            && eq(&self.owner, Some(&lead.owner))
            && eq(&self.account_type, Some(&lead.account_type))
            && eq(&self.phase, lead.phase.as_ref())
            && self.closed.as_ref().is_none_or(|c| c.is_closed(lead) == c.closed)
            && eq(&self.source, lead.source.as_ref())
            && eq(&self.priority, lead.priority.as_ref())
            && self.tags.iter().all(|t| lead.tags.contains(t))
            && eq(&self.zone, Some(&lead.zone))
            && eq(&self.email, lead.email.as_ref())
            && eq(&self.phone, lead.phone.as_ref())
            && eq(&self.company_contact, lead.company_contact.as_ref())
            && eq(&self.external_ref, lead.external_ref.as_ref())
            && eq(&self.import.map(|i| i.0.to_string()), lead.import.as_ref())
            && eq(&self.closing_reason, lead.closing_reason.as_ref())
            && eq(&self.lost_reason, lead.lost_reason.as_ref())
            && eq(&self.customer, lead.customer.as_ref())
            && self.has_custom.as_ref().is_none_or(|f| lead.custom.contains(f))
            && self.created.contains_micros(lead.created)
            && self.updated.contains_micros(lead.updated)
            && (self.closed_at.is_open() || lead.closed.is_some_and(|c| self.closed_at.contains_micros(c)))
            && self.phase_entered.contains_micros(lead.phase_entered)
            && self.expected_close.contains(lead.expected_close)
            && lead.missing & mask == mask
            && self.cutoffs.as_ref().is_none_or(|c| c.is_past(lead) == c.past)
            && self
                .search
                .as_ref()
                .is_none_or(|s| s.matches(&lead.words, lead.phone.as_deref(), lead.email.as_slice()))
            && self.visible.as_ref().is_none_or(|v| v.sees(&lead.owner, &lead.team))
    }
}

/// The query columns of a lead: everything a [`LeadFilter`] or a
/// [`LeadOrder`] reads, derived from the lead in one place. Backends store it
/// beside the lead (SQL: columns and term rows; sled: a row per lead) so that
/// a query never decodes a lead it does not return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeadRow {
    /// Lead id.
    pub id: LeadId,
    /// Number.
    pub number: u64,
    /// Status.
    pub status: LeadStatus,
    /// Owner.
    pub owner: UserId,
    /// Account type.
    pub account_type: Code,
    /// Phase.
    pub phase: Option<PhaseRef>,
    /// Source.
    pub source: Option<Code>,
    /// Priority.
    pub priority: Option<Code>,
    /// Tags.
    pub tags: BTreeSet<Code>,
    /// Zone.
    pub zone: String,
    /// Normalized e-mail.
    pub email: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// [`company_contact_key`].
    #[serde(default)]
    pub company_contact: Option<String>,
    /// [`ExternalRef::key`](crate::domain::lead::ExternalRef::key).
    #[serde(default)]
    pub external_ref: Option<String>,
    /// The UUID of the import that created it ([`Lead::import`](crate::domain::lead::Lead::import)), in its 36-character text form.
    #[serde(default)]
    pub import: Option<String>,
    /// Closing reason.
    pub closing_reason: Option<Code>,
    /// Lost reason.
    pub lost_reason: Option<Code>,
    /// Linked customer.
    pub customer: Option<CustomerId>,
    /// Custom fields with a value.
    pub custom: BTreeSet<Code>,
    /// Creation time, microseconds since the epoch.
    pub created: i64,
    /// Last change, microseconds since the epoch.
    pub updated: i64,
    /// When it closed, microseconds since the epoch.
    #[serde(default)]
    pub closed: Option<i64>,
    /// Entered the current phase, microseconds since the epoch.
    pub phase_entered: i64,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
    /// Expected revenue, minor units.
    pub value: Option<i64>,
    /// Currency of the expected revenue.
    pub currency: Option<String>,
    /// The values it lacks ([`LeadField::bit`]s).
    pub missing: u8,
    /// Search words ([`lead_words`]).
    pub words: Vec<String>,
    /// The record team (who sees the lead under
    /// [`Visibility::OwnAndRecordTeam`](crate::domain::config::Visibility)).
    #[serde(default)]
    pub team: BTreeSet<UserId>,
}

impl LeadRow {
    /// The query columns of a lead.
    pub fn of(lead: &Lead) -> Self {
        Self {
            words: lead_words(lead),
            ..Self::of_without_words(lead)
        }
    }

    /// The query columns without the search words (which only a search reads).
    fn of_without_words(lead: &Lead) -> Self {
        Self {
            id: lead.id,
            number: lead.number,
            status: lead.status,
            owner: lead.owner.clone(),
            account_type: lead.account_type.clone(),
            phase: lead.phase.clone(),
            source: lead.source.clone(),
            priority: lead.priority.clone(),
            tags: lead.tags.clone(),
            zone: lead.zone.clone(),
            email: lead.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: lead.phone.as_ref().map(|p| p.key().to_owned()),
            company_contact: company_contact_key(lead),
            external_ref: lead.external_ref.as_ref().map(|r| r.key()),
            import: lead.import.map(|i| i.id.0.to_string()),
            closing_reason: lead.closing_reason.clone(),
            lost_reason: lead.lost_reason.clone(),
            customer: lead.customer,
            custom: lead.custom.keys().cloned().collect(),
            created: lead.created_at.timestamp_micros(),
            updated: lead.updated_at.timestamp_micros(),
            closed: lead.closed_at.map(|t| t.timestamp_micros()),
            phase_entered: lead.phase_entered_at.timestamp_micros(),
            expected_close: lead.expected_close,
            value: lead.expected_revenue.map(|m| m.minor),
            currency: lead.expected_revenue.map(|m| m.currency.to_string()),
            missing: LeadField::ALL
                .iter()
                .filter(|f| f.is_missing(lead))
                .fold(0, |m, f| m | f.bit()),
            words: Vec::new(),
            team: lead.team.clone(),
        }
    }
}

/// What leads are sorted by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "by", content = "ranks")]
pub enum LeadKey {
    /// Lead number (the default).
    #[default]
    Number,
    /// Creation time.
    Created,
    /// Last change.
    Updated,
    /// Expected close date; leads without one come last.
    ExpectedClose,
    /// Priority, by its position in this list (the configuration's ranks);
    /// leads without a priority, or with one not listed, come last.
    Priority(Vec<Code>),
    /// Expected revenue in minor units (currencies are not converted); leads
    /// without one come last.
    Value,
    /// When the lead entered its current phase (oldest first: most days in phase).
    PhaseEntered,
}

/// A lead order: a key, then the id, both ascending or both descending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct LeadOrder {
    /// The sort key.
    pub key: LeadKey,
    /// Largest first.
    pub descending: bool,
}

impl LeadOrder {
    /// The sort key of a lead.
    pub fn key(&self, lead: &Lead) -> i64 {
        self.key_row(&LeadRow::of_without_words(lead))
    }

    /// The sort key of a lead's query columns.
    pub fn key_row(&self, lead: &LeadRow) -> i64 {
        match &self.key {
            LeadKey::Number => i64::try_from(lead.number).unwrap_or(i64::MAX),
            LeadKey::Created => lead.created,
            LeadKey::Updated => lead.updated,
            LeadKey::ExpectedClose => lead.expected_close.map_or(MISSING_KEY, date_key),
            LeadKey::Priority(ranks) => priority_rank(ranks, lead.priority.as_ref()),
            LeadKey::Value => lead.value.unwrap_or(MISSING_KEY),
            LeadKey::PhaseEntered => lead.phase_entered,
        }
    }
}

/// The rank of a priority in a list: its position, or the list's length when
/// it is missing or not listed.
pub fn priority_rank(ranks: &[Code], priority: Option<&Code>) -> i64 {
    let len = i64::try_from(ranks.len()).unwrap_or(i64::MAX);
    priority
        .and_then(|p| ranks.iter().position(|r| r == p))
        .map_or(len, |i| i64::try_from(i).unwrap_or(len))
}

/// A typed deal filter (AND of the set fields); deals are listed in a
/// [`DealOrder`] (by default by id: creation order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DealFilter {
    /// From this lead.
    pub lead: Option<LeadId>,
    /// Of this customer.
    pub customer: Option<CustomerId>,
    /// In this pipeline.
    pub pipeline: Option<Code>,
    /// At this stage (with `pipeline`).
    pub stage: Option<Code>,
    /// With this status.
    pub status: Option<DealStatus>,
    /// Lost for this reason.
    pub lost_reason: Option<Code>,
    /// Owned by.
    pub owner: Option<UserId>,
    /// Expected to close in this interval.
    pub expected_close: DateRange,
    /// Found by this search (title words; [`deal_words`]). Set by the
    /// engine from a query's `search` text; not part of the wire form.
    #[serde(skip)]
    pub search: Option<Search>,
    /// Only the deals the actor sees (a deal's owner and team are its
    /// lead's). Set by the engine; not part of the wire form.
    #[serde(skip)]
    pub visible: Option<Visible>,
}

/// The words a deal is found by: its title.
pub fn deal_words(deal: &Deal) -> Vec<String> {
    words(&deal.title)
}

/// What deals are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealKey {
    /// Creation (the id; the default).
    #[default]
    Created,
    /// Expected close date; deals without one come last.
    ExpectedClose,
    /// Value in minor units (currencies are not converted); deals without
    /// one come last.
    Value,
}

/// A deal order: a key, then the id, both ascending or both descending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct DealOrder {
    /// The sort key.
    pub key: DealKey,
    /// Largest first.
    pub descending: bool,
}

impl DealOrder {
    /// The sort key of a deal.
    pub fn key(&self, deal: &Deal) -> i64 {
        match self.key {
            DealKey::Created => 0,
            DealKey::ExpectedClose => deal.expected_close.map_or(MISSING_KEY, date_key),
            DealKey::Value => deal.value.map_or(MISSING_KEY, |m| m.minor),
        }
    }
}

impl DealFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, deal: &Deal) -> bool {
        self.lead.is_none_or(|l| deal.lead == Some(l))
            && self.customer.is_none_or(|c| deal.customer == c)
            && self.pipeline.as_ref().is_none_or(|p| &deal.pipeline == p)
            && self.stage.as_ref().is_none_or(|s| &deal.stage == s)
            && self.status.is_none_or(|s| deal.status == s)
            && self
                .lost_reason
                .as_ref()
                .is_none_or(|r| deal.lost_reason.as_ref() == Some(r))
            && self.owner.as_ref().is_none_or(|o| &deal.owner == o)
            && self.expected_close.contains(deal.expected_close)
            && self
                .search
                .as_ref()
                .is_none_or(|s| s.matches(&deal_words(deal), None, &[]))
            && self.visible.as_ref().is_none_or(|v| v.sees(&deal.owner, &deal.team))
    }
}

/// A typed customer filter (AND of the set fields); customers are ordered by
/// id (creation order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CustomerFilter {
    /// Reached at this normalized e-mail: its own or a contact person's
    /// ([`Customer::emails`]).
    pub email: Option<String>,
    /// Reached at this E.164 phone: its own or a contact person's
    /// ([`Customer::phones`]).
    pub phone: Option<String>,
    /// Owned by.
    pub owner: Option<UserId>,
    /// Found by this search (name, e-mail, contacts' names; phone). Set by
    /// the engine from a query's `search` text; not part of the wire form.
    #[serde(skip)]
    pub search: Option<Search>,
}

impl CustomerFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, c: &Customer) -> bool {
        self.email.as_ref().is_none_or(|e| c.emails().contains(e))
            && self.phone.as_ref().is_none_or(|p| c.phones().contains(p))
            && self.owner.as_ref().is_none_or(|o| &c.owner == o)
            && self.search.as_ref().is_none_or(|s| {
                s.matches(
                    &customer_words(c),
                    c.phone.as_ref().map(|p| p.key()),
                    &c.emails().into_iter().collect::<Vec<_>>(),
                )
            })
    }
}

/// A typed communication filter; communications are ordered by arrival, then id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CommunicationFilter {
    /// Attached to this lead.
    pub lead: Option<LeadId>,
    /// In this state (e.g. new: not yet handled).
    pub status: Option<CommunicationStatus>,
}

impl CommunicationFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, c: &Communication) -> bool {
        self.lead.is_none_or(|l| c.lead == Some(l)) && self.status.is_none_or(|s| c.status == s)
    }
}

/// A typed follow-up filter (AND of the set fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct FollowUpFilter {
    /// Assigned to.
    pub assignee: Option<UserId>,
    /// Done (or not).
    pub done: Option<bool>,
    /// Due in this interval.
    pub due: DateRange,
}

impl FollowUpFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, f: &FollowUp) -> bool {
        self.assignee.as_ref().is_none_or(|a| &f.assignee == a)
            && self.done.is_none_or(|d| f.done == d)
            && self.due.contains(Some(f.due))
    }
}

/// One query a store answers natively.
// Built once per query and never stored in bulk: boxing the lead filter
// would only make selects harder to write.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "of")]
pub enum Select {
    /// Leads, in a chosen order.
    Leads {
        /// Which.
        filter: LeadFilter,
        /// In which order.
        order: LeadOrder,
    },
    /// Deals, in a chosen order.
    Deals {
        /// Which.
        filter: DealFilter,
        /// In which order (default: creation).
        #[serde(default)]
        order: DealOrder,
    },
    /// Customers, by id.
    Customers {
        /// Which.
        filter: CustomerFilter,
    },
    /// The activities on a timeline, by time, then id.
    Activities {
        /// Whose.
        subject: Subject,
    },
    /// The follow-ups of a lead or deal, by due date, then id.
    FollowUps {
        /// Whose.
        subject: Subject,
    },
    /// Communications, by arrival time, then id.
    Communications {
        /// Which.
        filter: CommunicationFilter,
    },
}

impl Select {
    /// Whether the order is descending.
    pub fn descending(&self) -> bool {
        match self {
            Select::Leads { order, .. } => order.descending,
            Select::Deals { order, .. } => order.descending,
            _ => false,
        }
    }
}

impl Select {
    /// The sort key and id of a record this select returns, or `None` when
    /// the record is not one of them: the reference semantics of
    /// [`crate::store::Store::select`], with [`page_of`].
    pub fn position(&self, record: &Record) -> Option<(i64, Uuid)> {
        let matches = match (self, record) {
            (Select::Leads { filter, .. }, Record::Lead(l)) => filter.matches(l),
            (Select::Deals { filter, .. }, Record::Deal(d)) => filter.matches(d),
            (Select::Customers { filter }, Record::Customer(c)) => filter.matches(c),
            (Select::Activities { subject }, Record::Activity(a)) => a.subject == *subject,
            (Select::FollowUps { subject }, Record::FollowUp(f)) => f.subject == *subject,
            (Select::Communications { filter }, Record::Communication(c)) => filter.matches(c),
            _ => false,
        };
        if matches { self.key_of(record) } else { None }
    }

    /// The sort key and id of a record of this select's kind (whether or not
    /// the filter matches it): what a page's cursor is made of.
    pub fn key_of(&self, record: &Record) -> Option<(i64, Uuid)> {
        match (self, record) {
            (Select::Leads { order, .. }, Record::Lead(l)) => Some((order.key(l), l.id.0)),
            (Select::Deals { order, .. }, Record::Deal(d)) => Some((order.key(d), d.id.0)),
            (Select::Customers { .. }, Record::Customer(c)) => Some((0, c.id.0)),
            (Select::Activities { .. }, Record::Activity(a)) => Some(activity_key(a)),
            (Select::FollowUps { .. }, Record::FollowUp(f)) => Some(follow_up_key(f)),
            (Select::Communications { .. }, Record::Communication(c)) => Some(communication_key(c)),
            _ => None,
        }
    }

    /// The reference answer over a set of records.
    pub fn answer<'a>(&self, records: impl IntoIterator<Item = &'a Record>, page: &PageRequest) -> Page<Record> {
        let matching = records
            .into_iter()
            .filter_map(|r| self.position(r).map(|(k, id)| (k, id, r.clone())))
            .collect();
        page_of(matching, self.descending(), page)
    }
}

/// Where a page starts: just after the record with this sort key and id,
/// in the query that wrote it. Its text is opaque and versioned (`c1` and 64
/// hex digits); the engine binds each cursor it returns to its query's sort
/// and filters, and refuses one from another query as `bad_cursor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    key: i64,
    id: Uuid,
    query: u64,
}

/// The version prefix of a cursor's text.
const CURSOR_VERSION: &str = "c1";

/// FNV-1a, 64 bits: a hash that is the same in every build (unlike std's),
/// for fingerprints that outlive a process (cursors, import resumes).
pub(crate) fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// FNV-1a's starting value.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Cursor {
    /// A cursor just after `(key, id)`, bound to no query yet (what a store
    /// returns; the engine binds it).
    pub fn new(key: i64, id: Uuid) -> Self {
        Self { key, id, query: 0 }
    }

    /// The sort key of the last record of the previous page.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// Its id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The fingerprint of the query it continues (0: bound to none).
    pub(crate) fn query(&self) -> u64 {
        self.query
    }

    /// The same position, bound to the query with this fingerprint.
    pub(crate) fn bound_to(self, query: u64) -> Self {
        Self { query, ..self }
    }

    /// The same binding at another position (tests forge cursors with it).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn at(self, key: i64, id: Uuid) -> Self {
        Self { key, id, ..self }
    }

    /// Whether a record at `(key, id)` comes after the cursor in this direction.
    pub fn precedes(&self, key: i64, id: Uuid, descending: bool) -> bool {
        if descending {
            (key, id) < (self.key, self.id)
        } else {
            (key, id) > (self.key, self.id)
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key's two's-complement bits, so the text has one length.
        let key = u64::from_ne_bytes(self.key.to_ne_bytes());
        write!(
            f,
            "{CURSOR_VERSION}{key:016x}{:032x}{:016x}",
            self.id.as_u128(),
            self.query
        )
    }
}

/// A cursor text that is not one crcm wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a page cursor: {0:?}")]
pub struct BadCursor(pub String);

impl From<BadCursor> for crate::domain::error::InputError {
    fn from(e: BadCursor) -> Self {
        Self::BadCursor { text: e.0 }
    }
}

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.chars().take(80).collect());
        let hex = s.strip_prefix(CURSOR_VERSION).ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let (key, rest) = hex.split_at(16);
        let (id, query) = rest.split_at(32);
        let key = u64::from_str_radix(key, 16).map_err(|_| bad())?;
        Ok(Cursor {
            key: i64::from_ne_bytes(key.to_ne_bytes()),
            id: Uuid::from_u128(u128::from_str_radix(id, 16).map_err(|_| bad())?),
            query: u64::from_str_radix(query, 16).map_err(|_| bad())?,
        })
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from its text; another text is `bad_cursor`.
impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::domain::error::deserialize_checked(d, |text| text.parse::<Cursor>().map_err(Into::into))
    }
}

/// Which page to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct PageRequest {
    /// Start after this position (`None`: from the start).
    pub after: Option<Cursor>,
    /// At most this many records (cut to [`MAX_PAGE`]; 0 returns none, which
    /// with `total` is a plain count).
    pub limit: usize,
    /// Also count every record the filter matches (costs a pass over them).
    pub total: bool,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            after: None,
            limit: 50,
            total: false,
        }
    }
}

impl PageRequest {
    /// The first page of this size.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Every record, in pages of [`MAX_PAGE`] (see [`crate::store::StoreExt::select_all`]).
    pub fn all() -> Self {
        Self::first(MAX_PAGE)
    }

    /// The page limit a store applies.
    pub fn limit(&self) -> usize {
        self.limit.min(MAX_PAGE)
    }
}

/// One page of records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Page<T> {
    /// The records, in order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Cursor>,
    /// How many records the filter matches in all, when asked.
    pub total: Option<u64>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next: None,
            total: None,
        }
    }
}

impl<T> Page<T> {
    /// The same page with its items converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
            total: self.total,
        }
    }
}

/// The reference answer: the page of `matching` (every record the filter
/// matches, with its sort key and id, in any order) that `page` asks for.
pub fn page_of<T>(mut matching: Vec<(i64, Uuid, T)>, descending: bool, page: &PageRequest) -> Page<T> {
    let total = page.total.then_some(matching.len() as u64);
    matching.sort_by(|a, b| {
        let ord = (a.0, a.1).cmp(&(b.0, b.1));
        if descending { ord.reverse() } else { ord }
    });
    let limit = page.limit();
    let mut after: Vec<(i64, Uuid, T)> = matching
        .into_iter()
        .filter(|(k, id, _)| page.after.is_none_or(|c| c.precedes(*k, *id, descending)))
        .take(limit.saturating_add(1))
        .collect();
    let more = after.len() > limit;
    after.truncate(limit);
    let next = if more {
        after.last().map(|(key, id, _)| Cursor::new(*key, *id))
    } else {
        None
    };
    Page {
        items: after.into_iter().map(|(_, _, t)| t).collect(),
        next,
        total,
    }
}

/// The sort key and id of an activity, follow-up or communication in its list.
pub fn activity_key(a: &Activity) -> (i64, Uuid) {
    (a.occurred_at.timestamp_micros(), a.id.0)
}

/// See [`activity_key`].
pub fn follow_up_key(f: &FollowUp) -> (i64, Uuid) {
    (date_key(f.due), f.id.0)
}

/// See [`activity_key`].
pub fn communication_key(c: &Communication) -> (i64, Uuid) {
    (c.received_at.timestamp_micros(), c.id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_words_never_syntax() {
        assert_eq!(
            words("O'Brien & Sons, 50% off_now"),
            ["50", "brien", "now", "o", "obrien", "off", "offnow", "sons"]
        );
        assert_eq!(
            search_words("O'Brien & Sons, 50% off_now"),
            ["50", "now", "obrien", "off", "sons"]
        );
        assert_eq!(
            words("'; DROP TABLE crcm_leads; --"),
            ["crcm", "crcmleads", "drop", "leads", "table"]
        );
        assert_eq!(words("José ÅSTRÖM"), ["astrom", "jose"]);
        assert_eq!(words("北京 компания"), ["bei", "jing", "kompaniia"]);
        assert!(words("%_'\"").is_empty());
        assert!(search_words("%_'\"").is_empty());
        let long = "x".repeat(100);
        assert_eq!(words(&long)[0].chars().count(), MAX_WORD_CHARS);
    }

    /// The names people type without their accents, case or punctuation are
    /// found (each search word starts a word of the record).
    #[test]
    fn search_folds_accents_case_and_punctuation() {
        for (name, typed) in [
            ("Ñúñez", "nunez"),
            ("José", "jose"),
            ("Café Central", "cafe"),
            ("O'Brien", "obrien"),
            ("O’Brien", "o'brien"),
            ("OBrien", "O'Brien"),
            ("Jean-Pierre", "jeanpierre"),
            ("Jean-Pierre", "pierre"),
            ("straße", "strasse"),
            ("STRASSE", "straße"),
            ("ünïcödé", "unicode"),
            ("i\u{307}stanbul", "istanbul"),
            ("İstanbul", "istanbul"),
            ("ﬁrma", "firma"),
            ("Ｔｏｋｙｏ", "tokyo"),
            ("Дмитрий", "дми"),
        ] {
            let search = Search {
                words: search_words(typed),
                ..Search::default()
            };
            assert!(
                search.matches(&words(name), None, &[]),
                "{typed:?} finds {name:?}: {:?} in {:?}",
                search.words,
                words(name)
            );
        }
        let search = Search {
            words: search_words("nunez"),
            ..Search::default()
        };
        assert!(
            !search.matches(&words("Nuñes"), None, &[]),
            "folding is not fuzzy matching"
        );
    }

    #[test]
    fn a_search_matches_word_prefixes_or_the_phone_or_the_address() {
        let s = Search {
            words: words("jo smi"),
            ..Search::default()
        };
        let have = words("John Smith acme");
        assert!(s.matches(&have, None, &[]));
        assert!(!s.matches(&words("John Jones"), None, &[]));
        let empty = Search::default();
        assert!(
            !empty.matches(&have, Some("+1"), &["a@b.example".into()]),
            "an empty search finds nothing"
        );
        let phone = Search {
            phone: Some("+4930123".into()),
            ..Search::default()
        };
        assert!(phone.matches(&[], Some("+4930123"), &[]));
        assert!(!phone.matches(&[], Some("+4930124"), &[]));
        let email = Search {
            email: Some("ada@engines.example".into()),
            ..Search::default()
        };
        assert!(email.matches(&[], None, &["x@y.example".into(), "ada@engines.example".into()]));
        assert!(
            !email.matches(&words("ada engines example"), None, &["ada5@engines.example".into()]),
            "an address is found whole, not by its words"
        );
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = Cursor::new(-42, Uuid::from_u128(7)).bound_to(0xfeed);
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        assert_eq!(c.to_string().len(), 66);
        for bad in [
            "x",
            "1~nothex",
            "c1",
            &c.to_string()[..65],
            &format!("c2{}", &c.to_string()[2..]),
        ] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad:?}");
        }
        let max = Cursor::new(i64::MIN, Uuid::max()).bound_to(u64::MAX);
        assert_eq!(max.to_string().parse::<Cursor>(), Ok(max));
    }

    #[test]
    fn pages_follow_the_cursor_in_both_directions() {
        let rows: Vec<(i64, Uuid, u8)> = (0..7u8)
            .map(|i| (i64::from(i / 2), Uuid::from_u128(u128::from(i)), i))
            .collect();
        for descending in [false, true] {
            let mut seen = Vec::new();
            let mut req = PageRequest {
                limit: 3,
                total: true,
                after: None,
            };
            loop {
                let page = page_of(rows.clone(), descending, &req);
                assert_eq!(page.total, Some(7));
                seen.extend(page.items);
                match page.next {
                    Some(c) => req.after = Some(c),
                    None => break,
                }
            }
            let mut want: Vec<u8> = (0..7).collect();
            if descending {
                want.reverse();
            }
            assert_eq!(seen, want);
        }
    }
}
