//! Counts and sums a store answers without loading leads: the maintained
//! board cells and grouped tallies (`GROUP BY`).
//!
//! As for selects, the semantics are plain Rust here ([`board_cells_of`],
//! [`LeadTally::answer`], [`DealTally::answer`]); the in-memory store answers
//! with them and the conformance suite checks every backend against them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::domain::activity::FollowUp;
use crate::domain::config::PhaseRef;
use crate::domain::deal::Deal;
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::lead::{Lead, LeadStatus};
use crate::store::query::{DealFilter, FollowUpFilter, LeadFilter, LeadRow, TimeRange, Visible};
use crate::store::steps::PhaseStep;

/// The leads of one account type in one phase with one status, owner and
/// currency of expected revenue: the unit a backend keeps counted in the
/// same transaction as the leads, so the board never loads leads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BoardCell {
    /// Account type of the leads.
    pub account_type: Code,
    /// Their phase (`None`: leads without a phase).
    pub phase: Option<PhaseRef>,
    /// Their status.
    pub status: LeadStatus,
    /// Their owner.
    pub owner: UserId,
    /// Currency of their expected revenue (`None`: no expected revenue).
    pub currency: Option<String>,
    /// How many leads.
    pub count: u64,
    /// Sum of their expected revenue, in the currency's minor units.
    pub value: i128,
}

impl BoardCell {
    /// The cell a lead counts in (with a count of 1 and its value).
    pub fn of(lead: &Lead) -> Self {
        Self {
            account_type: lead.account_type.clone(),
            phase: lead.phase.clone(),
            status: lead.status,
            owner: lead.owner.clone(),
            currency: lead.expected_revenue.map(|m| m.currency.to_string()),
            count: 1,
            value: lead.expected_revenue.map_or(0, |m| i128::from(m.minor)),
        }
    }

    /// Whether two cells count the same leads.
    pub fn same_cell(&self, other: &BoardCell) -> bool {
        self.account_type == other.account_type
            && self.phase == other.phase
            && self.status == other.status
            && self.owner == other.owner
            && self.currency == other.currency
    }
}

/// The reference answer of [`crate::store::Store::board_cells`]: the
/// non-empty cells of the leads of `account_type`, in key order.
pub fn board_cells_of<'a>(account_type: &Code, leads: impl IntoIterator<Item = &'a Lead>) -> Vec<BoardCell> {
    let mut cells: Vec<BoardCell> = Vec::new();
    for lead in leads.into_iter().filter(|l| &l.account_type == account_type) {
        let cell = BoardCell::of(lead);
        match cells.iter_mut().find(|c| c.same_cell(&cell)) {
            Some(c) => {
                c.count += 1;
                c.value += cell.value;
            }
            None => cells.push(cell),
        }
    }
    cells.sort();
    cells
}

/// What leads are grouped by in a [`LeadTally`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeadGroup {
    /// Account type.
    AccountType,
    /// Phase (`account type/code`).
    Phase,
    /// Status.
    Status,
    /// Owner.
    Owner,
    /// Source.
    Source,
    /// Priority.
    Priority,
    /// Closing reason.
    ClosingReason,
    /// Lost reason.
    LostReason,
    /// Currency of the expected revenue.
    Currency,
    /// Zone.
    Zone,
    /// Normalized e-mail.
    Email,
    /// E.164 phone.
    Phone,
    /// Company and contact name ([`company_contact_key`](crate::store::query::company_contact_key)).
    CompanyContact,
}

impl LeadGroup {
    /// A lead's value for this grouping, as text (`None` when it has none).
    pub fn value_of(self, lead: &LeadRow) -> Option<String> {
        match self {
            Self::AccountType => Some(lead.account_type.to_string()),
            Self::Phase => lead.phase.as_ref().map(ToString::to_string),
            Self::Status => Some(lead.status.as_str().to_owned()),
            Self::Owner => Some(lead.owner.to_string()),
            Self::Source => lead.source.as_ref().map(ToString::to_string),
            Self::Priority => lead.priority.as_ref().map(ToString::to_string),
            Self::ClosingReason => lead.closing_reason.as_ref().map(ToString::to_string),
            Self::LostReason => lead.lost_reason.as_ref().map(ToString::to_string),
            Self::Currency => lead.currency.clone(),
            Self::Zone => Some(lead.zone.clone()),
            Self::Email => lead.email.clone(),
            Self::Phone => lead.phone.clone(),
            Self::CompanyContact => lead.company_contact.clone(),
        }
    }
}

/// Counts (and sums the expected revenue of) the leads a filter matches,
/// grouped: a SQL `GROUP BY`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct LeadTally {
    /// Which leads.
    pub filter: LeadFilter,
    /// Grouped by these, in this order (empty: one row for all).
    pub by: Vec<LeadGroup>,
}

/// One group of a tally.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TallyRow {
    /// The group's values, one per grouping (`None`: the leads without one).
    pub key: Vec<Option<String>>,
    /// How many records.
    pub count: u64,
    /// Sum of their value (expected revenue or deal value) in minor units;
    /// group by currency for a meaningful sum.
    pub value: i128,
    /// Sum of value × probability (percent), deals only: the weighted
    /// forecast in hundredths of a minor unit.
    pub weighted: i128,
}

// Sums are 128-bit: with amounts within `limits::AMOUNT` no store can
// overflow them, however many records a group holds.
fn group_rows(rows: impl IntoIterator<Item = (Vec<Option<String>>, i64, i64)>) -> Vec<TallyRow> {
    let mut groups: BTreeMap<Vec<Option<String>>, TallyRow> = BTreeMap::new();
    for (key, value, weighted) in rows {
        let row = groups.entry(key.clone()).or_insert(TallyRow {
            key,
            count: 0,
            value: 0,
            weighted: 0,
        });
        row.count += 1;
        row.value += i128::from(value);
        row.weighted += i128::from(weighted);
    }
    groups.into_values().collect()
}

impl LeadTally {
    /// The reference answer: non-empty groups in key order (`None` first).
    pub fn answer<'a>(&self, leads: impl IntoIterator<Item = &'a Lead>) -> Vec<TallyRow> {
        let rows: Vec<LeadRow> = leads
            .into_iter()
            .filter(|l| self.filter.matches(l))
            .map(LeadRow::of)
            .collect();
        self.answer_rows(rows.iter())
    }

    /// [`LeadTally::answer`] over rows the filter already matched.
    pub fn answer_rows<'a>(&self, rows: impl IntoIterator<Item = &'a LeadRow>) -> Vec<TallyRow> {
        group_rows(
            rows.into_iter()
                .map(|l| (self.by.iter().map(|g| g.value_of(l)).collect(), l.value.unwrap_or(0), 0)),
        )
    }
}

/// What deals are grouped by in a [`DealTally`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealGroup {
    /// Pipeline.
    Pipeline,
    /// Stage (code within the pipeline).
    Stage,
    /// Status.
    Status,
    /// Owner.
    Owner,
    /// Lost reason.
    LostReason,
    /// Currency of the value.
    Currency,
}

impl DealGroup {
    /// A deal's value for this grouping, as text.
    pub fn value_of(self, deal: &Deal) -> Option<String> {
        match self {
            Self::Pipeline => Some(deal.pipeline.to_string()),
            Self::Stage => Some(deal.stage.to_string()),
            Self::Status => Some(deal.status.as_str().to_owned()),
            Self::Owner => Some(deal.owner.to_string()),
            Self::LostReason => deal.lost_reason.as_ref().map(ToString::to_string),
            Self::Currency => deal.value.map(|m| m.currency.to_string()),
        }
    }
}

/// Counts deals and sums their value and probability-weighted value, grouped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct DealTally {
    /// Which deals.
    pub filter: DealFilter,
    /// Grouped by these, in this order.
    pub by: Vec<DealGroup>,
}

impl DealTally {
    /// The reference answer: non-empty groups in key order (`None` first).
    pub fn answer<'a>(&self, deals: impl IntoIterator<Item = &'a Deal>) -> Vec<TallyRow> {
        group_rows(deals.into_iter().filter(|d| self.filter.matches(d)).map(|d| {
            let value = d.value.map_or(0, |m| m.minor);
            (
                self.by.iter().map(|g| g.value_of(d)).collect(),
                value,
                value.saturating_mul(i64::from(d.probability)),
            )
        }))
    }
}

/// Counts follow-ups per assignee.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct FollowUpTally {
    /// Which follow-ups.
    pub filter: FollowUpFilter,
}

impl FollowUpTally {
    /// The reference answer: one row per assignee (`key`: the assignee), in
    /// key order.
    pub fn answer<'a>(&self, follow_ups: impl IntoIterator<Item = &'a FollowUp>) -> Vec<TallyRow> {
        group_rows(
            follow_ups
                .into_iter()
                .filter(|f| self.filter.matches(f))
                .map(|f| (vec![Some(f.assignee.to_string())], 0, 0)),
        )
    }
}

/// The funnel's count: of the leads of one account type created in an
/// interval, how many ever entered each phase. A lead counts once per phase
/// however often it entered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PhaseReachTally {
    /// The account type.
    pub account_type: Code,
    /// Leads created in this interval.
    pub created: TimeRange,
    /// Only the steps of leads this sees (a deleted lead's are then left out).
    #[serde(default)]
    pub visible: Option<Visible>,
}

impl PhaseReachTally {
    /// Whether a step counts.
    pub fn matches(&self, step: &PhaseStep) -> bool {
        step.phase.account_type == self.account_type && self.created.contains(step.lead_created)
    }

    /// The reference answer: one row per phase reached (`key`: the phase
    /// code; `count`: distinct leads), in key order.
    pub fn answer<'a>(&self, steps: impl IntoIterator<Item = &'a PhaseStep>) -> Vec<TallyRow> {
        let mut leads: BTreeMap<&Code, BTreeSet<LeadId>> = BTreeMap::new();
        for s in steps.into_iter().filter(|s| self.matches(s)) {
            leads.entry(&s.phase.code).or_default().insert(s.lead);
        }
        leads
            .into_iter()
            .map(|(phase, leads)| TallyRow {
                key: vec![Some(phase.to_string())],
                count: leads.len() as u64,
                value: 0,
                weighted: 0,
            })
            .collect()
    }
}

/// Time in phase: the stays in the phases of one account type that ended in
/// an interval, grouped by phase and whole hours, with the summed seconds.
/// The average is exact; the median is read from the hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PhaseTimeTally {
    /// The account type.
    pub account_type: Code,
    /// Stays that ended in this interval.
    pub left: TimeRange,
    /// Only the stays of leads this sees (a deleted lead's are then left out).
    #[serde(default)]
    pub visible: Option<Visible>,
}

impl PhaseTimeTally {
    /// Whether a step counts.
    pub fn matches(&self, step: &PhaseStep) -> bool {
        step.phase.account_type == self.account_type && step.left_at.is_some_and(|l| self.left.contains(l))
    }

    /// The reference answer: one row per phase and whole hours (`key`: the
    /// phase code and the hours as decimal text; `count`: stays; `value`:
    /// their seconds), in key order.
    pub fn answer<'a>(&self, steps: impl IntoIterator<Item = &'a PhaseStep>) -> Vec<TallyRow> {
        group_rows(steps.into_iter().filter(|s| self.matches(s)).map(|s| {
            (
                vec![Some(s.phase.code.to_string()), Some(s.hours().unwrap_or(0).to_string())],
                s.seconds().unwrap_or(0),
                0,
            )
        }))
    }
}

/// Whether a phase step counts under a tally's `visible`: its lead, looked up
/// by `lead` (owner and record team), is seen. Every backend filters steps
/// this way; SQL as a subquery on the leads.
pub fn step_seen(
    visible: Option<&Visible>,
    step: &PhaseStep,
    lead: impl FnOnce(LeadId) -> Option<(UserId, BTreeSet<UserId>)>,
) -> bool {
    match visible {
        None => true,
        Some(v) => lead(step.lead).is_some_and(|(owner, team)| v.sees(&owner, &team)),
    }
}

/// One grouped count a store answers natively.
// Built once per report and never stored in bulk (see `Select`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "of")]
pub enum Tally {
    /// Leads.
    Leads(LeadTally),
    /// Deals.
    Deals(DealTally),
    /// Follow-ups, per assignee.
    FollowUps(FollowUpTally),
    /// Leads that reached each phase (the funnel), from phase steps.
    PhaseReach(PhaseReachTally),
    /// Stays in phases by whole hours (time in phase), from phase steps.
    PhaseTime(PhaseTimeTally),
}
