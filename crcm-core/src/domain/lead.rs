//! The lead: a prospect not yet qualified into a deal (seed 001), with its
//! lifecycle status and its funnel phase.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::{Config, PhaseRef, PhaseType};
use crate::domain::contact::{Email, Phone};
use crate::domain::custom::CustomValue;
use crate::domain::ids::{Code, CustomerId, LeadId, UserId};
use crate::domain::money::Money;

/// The lead lifecycle (seeds 001 and 002).
///
/// | status | how it is reached |
/// |---|---|
/// | New | default on creation; or set back by hand from Contacted |
/// | Contacted | set by hand (the only status besides New a user picks) |
/// | Qualified | only by Qualify, which links or creates a customer and creates a deal |
/// | Converted | only when a linked deal is won |
/// | Disqualified | only by Disqualify / Lost, with a reason |
/// | Merged | only by merging the lead into another (a duplicate) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Just arrived, not yet contacted.
    New,
    /// Initial outreach has been made.
    Contacted,
    /// A customer is linked and a deal exists.
    Qualified,
    /// A linked deal was won.
    Converted,
    /// Not a fit, or lost; carries a reason.
    Disqualified,
    /// A duplicate merged into another lead.
    Merged,
}

impl LeadStatus {
    /// All statuses, in lifecycle order.
    pub const ALL: [LeadStatus; 6] = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::Qualified,
        LeadStatus::Converted,
        LeadStatus::Disqualified,
        LeadStatus::Merged,
    ];

    /// Converted, Disqualified and Merged are closed: such leads are never
    /// proposed as duplicates, qualified or merged again.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Converted | Self::Disqualified | Self::Merged)
    }

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Contacted => "contacted",
            Self::Qualified => "qualified",
            Self::Converted => "converted",
            Self::Disqualified => "disqualified",
            Self::Merged => "merged",
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a reopened lead returns to: the status and phase it had when it was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReopenPoint {
    /// The status before it was closed.
    pub status: LeadStatus,
    /// The phase before it was closed.
    pub phase: Option<PhaseRef>,
}

/// The kind of an external document the ERP owns and crcm links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DocumentKind {
    /// A quotation; belongs to a deal only (seed 001).
    Quotation,
    /// A sales order.
    Order,
    /// An invoice.
    Invoice,
}

/// A link to a document held by the host ERP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DocumentLink {
    /// What kind of document.
    pub kind: DocumentKind,
    /// The ERP's identifier of the document.
    pub external_id: String,
    /// When the link was made.
    pub linked_at: DateTime<Utc>,
}

/// A lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Lead {
    /// Identifier.
    pub id: LeadId,
    /// Human-readable number: unique, increasing in creation order.
    pub number: u64,
    /// Optimistic-concurrency version: 1 on creation, +1 on every change.
    pub version: u64,
    /// Short title (seed 002 "Lead Name / Title", seed 003 "Name").
    pub title: String,
    /// Contact's first name.
    pub first_name: String,
    /// Contact's last name.
    pub last_name: String,
    /// Organization name.
    pub company: String,
    /// Contact's role.
    pub job_title: String,
    /// Validated, normalized e-mail.
    pub email: Option<Email>,
    /// Phone, raw and E.164.
    pub phone: Option<Phone>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// Geographic sales zone (seed 001 filter).
    pub zone: String,
    /// Lead source code.
    pub source: Option<Code>,
    /// Priority code.
    pub priority: Option<Code>,
    /// Free notes: what the customer wants, what was done, the next step.
    pub description: String,
    /// The sales person responsible ("My leads" means owner = me).
    pub owner: UserId,
    /// Record team: other users who work on the lead (seed 002).
    pub team: BTreeSet<UserId>,
    /// Tag codes.
    pub tags: BTreeSet<Code>,
    /// Expected revenue.
    pub expected_revenue: Option<Money>,
    /// Probability 0..=100, set by hand.
    pub probability: Option<u8>,
    /// Expected closing date.
    pub expected_close: Option<NaiveDate>,
    /// Account type (lead type).
    pub account_type: Code,
    /// Current phase; `None` when the account type has no phases.
    pub phase: Option<PhaseRef>,
    /// When the lead entered its current phase (for time in phase and rotting).
    pub phase_entered_at: DateTime<Utc>,
    /// Lifecycle status.
    pub status: LeadStatus,
    /// Closing reason, recorded only in a closing phase.
    pub closing_reason: Option<Code>,
    /// Note on the closing reason.
    pub closing_note: Option<String>,
    /// Reason of Disqualify / Lost.
    pub lost_reason: Option<Code>,
    /// Note on the lost reason.
    pub lost_note: Option<String>,
    /// Linked customer (set by Qualify).
    pub customer: Option<CustomerId>,
    /// The lead this one was merged into.
    pub merged_into: Option<LeadId>,
    /// The leads merged into this one: their activities, follow-ups,
    /// communications, deals and tags moved here, and their history belongs
    /// to this lead's ([`Engine::lead_history`](crate::Engine::lead_history)).
    #[serde(default)]
    pub merged_from: BTreeSet<LeadId>,
    /// Where Reopen returns the lead to: the engine's bookkeeping, kept in
    /// the stored form and not on the wire
    /// ([`StoredForm`](crate::store::stored::StoredForm)).
    #[serde(skip)]
    pub reopen_point: Option<ReopenPoint>,
    /// Linked orders and invoices (quotations belong to deals).
    pub documents: Vec<DocumentLink>,
    /// Custom field values.
    pub custom: BTreeMap<Code, CustomValue>,
    /// The lead's identity in the system it came from (a migration's
    /// source CRM, an ERP): unique per system, so an import run again finds
    /// the lead instead of creating it twice.
    #[serde(default)]
    pub external_ref: Option<ExternalRef>,
    /// The import that created the lead, and the version it left the lead
    /// at: a lead still at that version is untouched since, and reverting
    /// the import ([`Engine::revert_import`](crate::Engine::revert_import))
    /// removes it. Set by the import only.
    #[serde(default)]
    pub import: Option<ImportOrigin>,
    /// When the lead closed (converted, disqualified, merged, or moved into
    /// a closing phase); `None` while it is open. Set by the rules, so the
    /// reasons report counts leads by when they closed.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Where an imported lead came from: the import's id and the lead's version
/// when the import was done with it (`{"id": "0194...", "version": 3}`: created,
/// then moved twice into its phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportOrigin {
    /// The import ([`ImportOptions::id`](crate::engine::import::ImportOptions::id)).
    pub id: crate::domain::ids::ImportId,
    /// The lead's version when the import left it.
    pub version: u64,
}

/// A lead's identity in another system: the system's code and the lead's
/// id there (`{"system": "espo", "id": "5f1c2a"}`). No two leads share one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExternalRef {
    /// The system, as a code (`espo`, `xeducation`).
    pub system: Code,
    /// The id there: 1 to [`limits::EXTERNAL_ID`](crate::domain::limits::EXTERNAL_ID)
    /// characters, one line, compared exactly.
    pub id: String,
}

impl ExternalRef {
    /// `system:id`: the form filters and lookups compare (a code holds no `:`).
    pub fn key(&self) -> String {
        format!("{}:{}", self.system, self.id)
    }
}

impl fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.id)
    }
}

impl Lead {
    /// A name for people: the title, else the contact's name, else the company.
    pub fn display_name(&self) -> String {
        if !self.title.trim().is_empty() {
            return self.title.clone();
        }
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let name = name.trim();
        if name.is_empty() {
            self.company.clone()
        } else {
            name.to_owned()
        }
    }

    /// Whether the actor's user is the owner or on the record team.
    pub fn is_worked_by(&self, user: &UserId) -> bool {
        &self.owner == user || self.team.contains(user)
    }

    /// Closed by status (converted, disqualified, merged) or by being in a closing phase.
    pub fn is_closed(&self, config: &Config) -> bool {
        self.status.is_closed() || self.in_closing_phase(config)
    }

    /// Whether the current phase is a closing phase.
    pub fn in_closing_phase(&self, config: &Config) -> bool {
        self.phase
            .as_ref()
            .and_then(|p| config.phase(p))
            .is_some_and(|p| p.phase_type == PhaseType::Closing)
    }

    /// Whole days spent in the current phase at `now`.
    pub fn days_in_phase(&self, now: DateTime<Utc>) -> i64 {
        (now - self.phase_entered_at).num_days().max(0)
    }

    /// Rotten: open, and longer in its phase than the phase's `rot_after_days`.
    /// Computed from the clock each time, never stored.
    pub fn is_rotten(&self, config: &Config, now: DateTime<Utc>) -> bool {
        if self.is_closed(config) {
            return false;
        }
        let limit = self
            .phase
            .as_ref()
            .and_then(|p| config.phase(p))
            .and_then(|p| p.rot_after_days);
        limit.is_some_and(|days| self.days_in_phase(now) > i64::from(days))
    }
}
