//! The queries a user asks: lead and customer lists with search, sort and
//! pages.
//!
//! A [`LeadQuery`] speaks the manuals' language ("Opened", "My leads",
//! rotten, days in phase, a phone typed in any format). The engine resolves it
//! against the configuration and the clock into a store-level
//! [`LeadFilter`] and [`LeadOrder`], which every backend answers natively.
//!
//! ```
//! # use crcm_core::prelude::*;
//! # use crcm_core::engine::query::{LeadQuery, LeadSort};
//! # use crcm_core::user_id;
//! # async fn run(engine: &Engine) -> Result<(), crcm_core::Error> {
//! // "Opened" + "My leads", most days in phase first, 20 a page.
//! let mut query = LeadQuery {
//!     open: Some(true),
//!     sort: LeadSort::DaysInPhase,
//!     descending: true,
//!     ..LeadQuery::default()
//! };
//! let anna = Actor::new(user_id!("anna"), Role::SalesPerson);
//! query.filter.owner = Some(anna.user.clone());
//! query.page.limit = 20;
//! let first = engine.leads(&anna, &query).await?;
//! if let Some(next) = first.next {
//!     query.page.after = Some(next);
//!     let _second = engine.leads(&anna, &query).await?;
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::{Config, PhaseType};
use crate::domain::contact::Phone;
use crate::domain::error::InputError;
use crate::domain::limits;
use crate::store::query::{
    Closed, CustomerFilter, DealFilter, DealKey, DealOrder, FNV_OFFSET, LeadFilter, LeadKey, LeadOrder, Page,
    PageRequest, PhaseCutoffs, Search, fnv1a, search_words,
};

/// What a lead list is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LeadSort {
    /// Lead number (the default).
    #[default]
    Number,
    /// Creation time.
    Created,
    /// Last change.
    Updated,
    /// Expected close date (leads without one last).
    ExpectedClose,
    /// Priority, by the configured ranks (most urgent first; leads without one last).
    Priority,
    /// Expected revenue in minor units (leads without one last).
    Value,
    /// Days in the current phase (fewest first; `descending` for most first).
    DaysInPhase,
}

/// A lead list: filters (AND), search, sort and page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct LeadQuery {
    /// Value filters (status, owner, phase, tags, date ranges, missing values...).
    pub filter: LeadFilter,
    /// `true`: only open leads (not converted, disqualified or merged, and not
    /// in a closing phase), the manuals' "Opened" filter; `false`: only closed ones.
    pub open: Option<bool>,
    /// Only rotten leads: open (whatever `open` says), and longer in their
    /// phase than the phase's `rot_after_days`.
    pub rotten: bool,
    /// Only leads at least this many days in their current phase.
    pub min_days_in_phase: Option<u32>,
    /// Free text: every word must start a word of the lead's name, title,
    /// company or e-mail (case-insensitive, any script); or the text, read as
    /// a phone number in the configured region, equals the lead's phone.
    /// Quotes, `%`, `_` and the like are separators, never syntax.
    pub search: Option<String>,
    /// Sort key.
    pub sort: LeadSort,
    /// Largest first.
    pub descending: bool,
    /// Which page.
    pub page: PageRequest,
}

impl LeadQuery {
    /// Checks what the caller gave: the search text ([`check_search`]) and
    /// the minimum days in phase (at most [`limits::DAYS`]).
    pub fn check(&self) -> Result<(), InputError> {
        if let Some(text) = &self.search {
            check_search(text)?;
        }
        if let Some(days) = self.min_days_in_phase {
            limits::check_days("min_days_in_phase", days)?;
        }
        Ok(())
    }
}

/// What a cursor is bound to: a fingerprint of what a query asks (its
/// kind, sort and filters, not its page), never 0.
pub(crate) fn cursor_binding(kind: &str, query: &impl Serialize) -> u64 {
    let text = serde_json::to_vec(query).unwrap_or_default();
    fnv1a(fnv1a(FNV_OFFSET, kind.as_bytes()), &text).max(1)
}

/// Refuses a cursor another query wrote (or one crcm did not write).
pub(crate) fn check_cursor(page: &PageRequest, binding: u64) -> Result<(), InputError> {
    match page.after {
        Some(cursor) if cursor.query() != binding => Err(InputError::BadCursor {
            text: cursor.to_string(),
        }),
        _ => Ok(()),
    }
}

/// A page whose `next` cursor is bound to the query that read it.
pub(crate) fn bind<T>(mut page: Page<T>, binding: u64) -> Page<T> {
    page.next = page.next.map(|c| c.bound_to(binding));
    page
}

/// A query without its page: what its cursors are bound to.
macro_rules! binding_of {
    ($kind:literal, $query:expr) => {{
        let mut q = $query.clone();
        q.page = PageRequest::default();
        cursor_binding($kind, &q)
    }};
}

impl LeadQuery {
    /// What this query's cursors are bound to.
    pub(crate) fn binding(&self) -> u64 {
        binding_of!("leads", self)
    }
}

impl CustomerQuery {
    /// What this query's cursors are bound to.
    pub(crate) fn binding(&self) -> u64 {
        binding_of!("customers", self)
    }
}

impl DealQuery {
    /// What this query's cursors are bound to.
    pub(crate) fn binding(&self) -> u64 {
        binding_of!("deals", self)
    }
}

/// Refuses a filter naming reference data the configuration does not have
/// (an account type, a phase of its account type, a source, a priority, a
/// tag, a pipeline): a mistyped code is an error, not an empty result.
pub fn check_references(config: &Config, filter: &LeadFilter) -> Result<(), crate::rules::error::Error> {
    use crate::domain::error::ReferenceKind;
    use crate::rules::fields::{check_lead_codes, unknown};
    let mut errors = Vec::new();
    check_lead_codes(
        &mut errors,
        config,
        filter.account_type.as_ref(),
        filter.source.as_ref(),
        filter.priority.as_ref(),
        &filter.tags,
    );
    if let Some(phase) = &filter.phase {
        if config.account_type(&phase.account_type).is_none() {
            errors.push(unknown(ReferenceKind::AccountType, &phase.account_type));
        } else if errors.is_empty() && config.phase(phase).is_none() {
            return Err(crate::rules::machine::PhaseError::UnknownPhase { phase: phase.clone() }.into());
        }
    }
    InputError::collect(errors).map_err(Into::into)
}

/// Refuses a search text longer than [`limits::SEARCH`] characters or with
/// more than [`limits::SEARCH_WORDS`] words, or one holding a control
/// character other than tab and line breaks.
pub fn check_search(text: &str) -> Result<(), InputError> {
    // Tabs and line breaks pasted with a name are harmless: only letters and
    // digits make words.
    limits::check("search", text, limits::SEARCH, limits::Lines::Multi)?;
    if search_words(text).len() > limits::SEARCH_WORDS {
        return Err(InputError::TooMany {
            field: "search words".into(),
            max: limits::SEARCH_WORDS,
        });
    }
    Ok(())
}

/// Resolves a search text. A whole e-mail address is looked up as that
/// address (not as its words, which every address at a domain shares); a
/// text that reads as a phone number in the configured region is looked up
/// as that number, and also by its words unless they are all digits (the
/// groups of a number are nobody's name); any other text by its words.
pub fn resolve_search(config: &Config, text: &str) -> Search {
    // Callers check the text first ([`check_search`]); resolving never fails.
    if text.contains('@')
        && let Ok(email) = crate::domain::contact::Email::parse(text)
    {
        return Search {
            email: Some(email.as_str().to_owned()),
            ..Search::default()
        };
    }
    let phone = Phone::parse(text, &config.settings.default_phone_region)
        .ok()
        .map(|p| p.key().to_owned());
    let mut words = search_words(text);
    if phone.is_some() && words.iter().all(|w| w.chars().all(|c| c.is_ascii_digit())) {
        words.clear();
    }
    Search {
        words,
        phone,
        email: None,
    }
}

impl LeadQuery {
    /// The store-level filter and order this query means under `config` at `now`.
    pub fn resolve(&self, config: &Config, now: DateTime<Utc>) -> (LeadFilter, LeadOrder) {
        let mut f = self.filter.clone();
        let closing_phases: BTreeSet<_> = config
            .phases
            .iter()
            .filter(|p| p.phase_type == PhaseType::Closing)
            .map(|p| p.reference())
            .collect();
        let open = if self.rotten { Some(true) } else { self.open };
        if let Some(open) = open {
            f.closed = Some(Closed {
                closing_phases,
                closed: !open,
            });
        }
        if self.rotten {
            let cutoffs = config
                .phases
                .iter()
                .filter(|p| p.phase_type != PhaseType::Closing)
                .filter_map(|p| {
                    p.rot_after_days
                        .map(|d| (p.reference(), limits::days_before(now, i64::from(d) + 1)))
                })
                .collect();
            f.cutoffs = Some(PhaseCutoffs { cutoffs, past: true });
        }
        if let Some(days) = self.min_days_in_phase {
            // days_in_phase >= n  <=>  entered <= now - n days.
            let before = limits::days_before(now, i64::from(days))
                .checked_add_signed(TimeDelta::microseconds(1))
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
            f.phase_entered.before = Some(f.phase_entered.before.map_or(before, |b| b.min(before)));
        }
        if let Some(text) = &self.search {
            f.search = Some(resolve_search(config, text));
        }
        let (key, flip) = match self.sort {
            LeadSort::Number => (LeadKey::Number, false),
            LeadSort::Created => (LeadKey::Created, false),
            LeadSort::Updated => (LeadKey::Updated, false),
            LeadSort::ExpectedClose => (LeadKey::ExpectedClose, false),
            LeadSort::Priority => {
                let mut ranked: Vec<_> = config.priorities.iter().collect();
                ranked.sort_by_key(|p| p.rank);
                (
                    LeadKey::Priority(ranked.into_iter().map(|p| p.code.clone()).collect()),
                    false,
                )
            }
            LeadSort::Value => (LeadKey::Value, false),
            // More days in phase = entered earlier.
            LeadSort::DaysInPhase => (LeadKey::PhaseEntered, true),
        };
        (
            f,
            LeadOrder {
                key,
                descending: self.descending != flip,
            },
        )
    }
}

/// A customer list: filters, search and page (customers in creation order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CustomerQuery {
    /// Value filters.
    pub filter: CustomerFilter,
    /// Free text over name, e-mail and contacts' names, or a phone number.
    pub search: Option<String>,
    /// Which page.
    pub page: PageRequest,
}

impl CustomerQuery {
    /// The customers reached at this e-mail: their own or a contact
    /// person's (the customers Qualify would propose for a lead with it).
    pub fn by_email(email: &crate::domain::contact::Email) -> Self {
        let mut query = Self::default();
        query.filter.email = Some(email.as_str().to_owned());
        query
    }

    /// The customers reached at this phone: their own or a contact person's.
    pub fn by_phone(phone: &crate::domain::contact::Phone) -> Self {
        let mut query = Self::default();
        query.filter.phone = Some(phone.e164.clone());
        query
    }

    /// The store-level filter under `config`.
    pub fn resolve(&self, config: &Config) -> CustomerFilter {
        let mut f = self.filter.clone();
        if let Some(text) = &self.search {
            f.search = Some(resolve_search(config, text));
        }
        f
    }
}

/// A deal list: filters, search over titles, sort and page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DealQuery {
    /// Value filters.
    pub filter: DealFilter,
    /// Free text: every word must start a word of the deal's title.
    pub search: Option<String>,
    /// Sort key (default: creation).
    pub sort: DealKey,
    /// Largest first.
    pub descending: bool,
    /// Which page.
    pub page: PageRequest,
}

impl DealQuery {
    /// The store-level filter and order.
    pub fn resolve(&self) -> (DealFilter, DealOrder) {
        let mut f = self.filter.clone();
        if let Some(text) = &self.search {
            f.search = Some(Search {
                words: search_words(text),
                ..Search::default()
            });
        }
        (
            f,
            DealOrder {
                key: self.sort,
                descending: self.descending,
            },
        )
    }
}
