//! Reports (seeds 002, 004), typed and serde-serializable, each answered by
//! the backend where the data is: grouped counts ([`crate::store::Store::tally`],
//! a SQL `GROUP BY`), counts and indexed pages. No report loads every lead.
//!
//! ```
//! # use crcm_core::prelude::*;
//! # use crcm_core::engine::reports::Interval;
//! # async fn run(engine: &Engine) -> Result<(), crcm_core::Error> {
//! let q1 = Interval::days(engine.now() - chrono::Duration::days(90), 90);
//! for row in engine.report_sources(&q1).await? {
//!     println!("{:?}: {} created, {} qualified, {} converted", row.source, row.created, row.qualified, row.converted);
//! }
//! let quality = engine.report_data_quality().await?;
//! println!("{} open leads, {} without an expected close date", quality.open, quality.missing[0].count);
//! # Ok(()) }
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{Code, UserId};
use crate::domain::lead::Lead;
use crate::domain::money::MoneySum;
use crate::store::query::{LeadField, TimeRange};

/// A report's interval, `[from, before)`; an unset end is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Interval {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub before: Option<DateTime<Utc>>,
}

impl Interval {
    /// `days` days from `from`. An end past the last time chrono represents
    /// leaves the interval open; a negative `days` gives an empty interval.
    pub fn days(from: DateTime<Utc>, days: i64) -> Self {
        let before = match chrono::TimeDelta::try_days(days).and_then(|d| from.checked_add_signed(d)) {
            Some(end) => Some(end.max(from)),
            None if days > 0 => None,
            None => Some(from),
        };
        Self {
            from: Some(from),
            before,
        }
    }

    /// The same interval as a filter's time range.
    pub fn range(&self) -> TimeRange {
        TimeRange {
            from: self.from,
            before: self.before,
        }
    }
}

/// Conversion by source: of the leads created in the interval, how many
/// per source are now qualified (or converted), converted, and lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRow {
    /// The source (`None`: leads without one).
    pub source: Option<Code>,
    /// Leads created.
    pub created: u64,
    /// Of them, qualified or converted now.
    pub qualified: u64,
    /// Of them, converted now.
    pub converted: u64,
    /// Of them, disqualified now.
    pub lost: u64,
    /// Of them, in a closing phase whose outcome is won (closed by the
    /// phase rule, e.g. imported history), whatever their status.
    pub closed_won: u64,
    /// Of them, in a closing phase whose outcome is lost.
    pub closed_lost: u64,
}

/// Why leads were closed: one reason and how many leads carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonRow {
    /// `lost` (disqualified leads' lost reason) or `closing` (the closing
    /// reason of leads in a closing phase).
    pub kind: String,
    /// The reason's code.
    pub reason: Code,
    /// How many leads.
    pub count: u64,
}

/// One sales person's open work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRow {
    /// The owner.
    pub owner: UserId,
    /// Open leads they own.
    pub open_leads: u64,
    /// Of them, rotten.
    pub rotten: u64,
    /// Follow-ups assigned to them, past due and not done.
    pub overdue_follow_ups: u64,
}

/// How many open leads lack one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingCount {
    /// The value.
    pub field: LeadField,
    /// Open leads without it.
    pub count: u64,
}

/// Seed 004's data quality: open leads that lack values, and the first ones
/// to clarify (no expected close date and no description).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Open leads.
    pub open: u64,
    /// Per value ([`LeadField::ALL`] order), open leads without it.
    pub missing: Vec<MissingCount>,
    /// The first open leads with neither an expected close date nor a
    /// description ("the first candidates for clarification"), by number.
    pub first_to_clarify: Vec<Lead>,
}

/// The deal pipeline's value and forecast at one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastRow {
    /// Pipeline.
    pub pipeline: Code,
    /// Stage.
    pub stage: Code,
    /// Open deals at the stage.
    pub deals: u64,
    /// Their value, per currency.
    pub value: Vec<MoneySum>,
    /// Their probability-weighted value, per currency.
    pub weighted: Vec<MoneySum>,
}

/// One phase of the funnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunnelRow {
    /// The phase's code.
    pub phase: Code,
    /// Whether it is a closing phase.
    pub closing: bool,
    /// Leads of the cohort that ever entered it (each counted once).
    pub reached: u64,
    /// `reached` of the next phase on the way to a successful close, as a
    /// share of this one's (0.0 to 1.0 when leads move through the phases
    /// in order; above 1.0 when leads skip this phase). `None` for the last
    /// phase of that way, for phases configured as lost, and when no lead
    /// reached this one.
    pub to_next: Option<f64>,
}

/// The funnel of one account type (seed 002): of the leads created in an
/// interval, how many reached each phase, from their phase history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    /// The account type.
    pub account_type: Code,
    /// The cohort: leads created in this interval.
    pub interval: Interval,
    /// Its phases in funnel order (the configuration's `order`).
    pub phases: Vec<FunnelRow>,
}

/// How long leads stayed in one phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimeRow {
    /// The phase's code.
    pub phase: Code,
    /// Stays in it that ended in the interval.
    pub stays: u64,
    /// Their average length in hours (exact to the second).
    pub average_hours: f64,
    /// Their median length in hours, counting each stay in whole hours
    /// (rounded down); the mean of the two middle stays when `stays` is even.
    pub median_hours: f64,
}

/// The median of a histogram of whole hours given in ascending order.
pub(crate) fn median_hours(histogram: &[(i64, u64)]) -> f64 {
    let n: u64 = histogram.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return 0.0;
    }
    // The value at 0-based position `i` of the sorted stays.
    let at = |i: u64| {
        let mut seen = 0;
        for (hours, count) in histogram {
            seen += count;
            if i < seen {
                return *hours;
            }
        }
        0
    };
    if n % 2 == 1 {
        at(n / 2) as f64
    } else {
        (at(n / 2 - 1) as f64 + at(n / 2) as f64) / 2.0
    }
}
