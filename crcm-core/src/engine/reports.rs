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

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{Code, UserId};
use crate::domain::lead::Lead;
use crate::domain::money::Money;
use crate::store::query::{LeadField, TimeRange};

/// A report's interval, `[from, before)`; an unset end is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interval {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub before: Option<DateTime<Utc>>,
}

impl Interval {
    /// `days` days from `from`.
    pub fn days(from: DateTime<Utc>, days: i64) -> Self {
        Self {
            from: Some(from),
            before: Some(from + Duration::days(days)),
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
    pub value: Vec<Money>,
    /// Their probability-weighted value, per currency.
    pub weighted: Vec<Money>,
}
