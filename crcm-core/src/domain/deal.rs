//! Deals: the sales cycle after qualification, moving through a pipeline's stages.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{Code, CustomerId, DealId, LeadId, UserId};
use crate::domain::lead::DocumentLink;
use crate::domain::money::Money;

/// A deal's status, which follows the kind of its stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    /// Being worked.
    Open,
    /// Won: the linked lead is Converted.
    Won,
    /// Lost, with a reason.
    Lost,
}

impl DealStatus {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }
}

impl fmt::Display for DealStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A deal (seed 002 "opportunity").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Deal {
    /// Identifier.
    pub id: DealId,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Title (defaults to the lead's company on Qualify).
    pub title: String,
    /// Value.
    pub value: Option<Money>,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
    /// Pipeline code.
    pub pipeline: Code,
    /// Stage code within the pipeline.
    pub stage: Code,
    /// Open, won or lost.
    pub status: DealStatus,
    /// 0..=100: won 100, lost 0, open the stage default unless set by hand.
    pub probability: u8,
    /// The probability was set by hand and no longer follows the stage: the
    /// engine's bookkeeping, kept in the stored form and not on the wire
    /// ([`StoredForm`](crate::store::stored::StoredForm)).
    #[serde(skip)]
    pub probability_manual: bool,
    /// Reason it was lost.
    pub lost_reason: Option<Code>,
    /// Note on the lost reason.
    pub lost_note: Option<String>,
    /// The day it was won or lost; cleared by Reopen.
    pub close_date: Option<NaiveDate>,
    /// The lead it came from.
    pub lead: Option<LeadId>,
    /// The customer.
    pub customer: CustomerId,
    /// Responsible sales person: the lead's owner (reassigning the lead
    /// reassigns its deals).
    pub owner: UserId,
    /// Record team: the lead's record team (changing one changes the other).
    pub team: BTreeSet<UserId>,
    /// Linked quotations, orders and invoices (the ERP owns the documents).
    pub documents: Vec<DocumentLink>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Deal {
    /// Whether the user owns the deal or is on its team.
    pub fn is_worked_by(&self, user: &UserId) -> bool {
        &self.owner == user || self.team.contains(user)
    }
}
