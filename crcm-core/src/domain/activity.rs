//! The timeline: activities, follow-ups, and inbound communications (calls and e-mails).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::contact::{Email, Phone};
use crate::domain::ids::{ActivityId, CommunicationId, DealId, FollowUpId, LeadId, UserId};

/// What a timeline item belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, tag = "type", content = "id", rename_all = "snake_case")]
pub enum Subject {
    /// A lead.
    Lead(LeadId),
    /// A deal.
    Deal(DealId),
}

/// Kinds of activity (seed 001 "Activity timeline (notes, calls, emails, meetings)").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActivityKind {
    /// A note.
    Note,
    /// A call made or received.
    Call,
    /// An e-mail.
    Email,
    /// A meeting.
    Meeting,
}

/// An item on a lead's or deal's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Activity {
    /// Identifier.
    pub id: ActivityId,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// What it belongs to.
    pub subject: Subject,
    /// Kind.
    pub kind: ActivityKind,
    /// One-line summary.
    pub summary: String,
    /// Details.
    pub body: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who recorded it.
    pub author: UserId,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A scheduled next step (seed 001 "Follow-up schedule").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct FollowUp {
    /// Identifier.
    pub id: FollowUpId,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// What it belongs to.
    pub subject: Subject,
    /// Due date.
    pub due: NaiveDate,
    /// What to do.
    pub note: String,
    /// Who does it.
    pub assignee: UserId,
    /// Done.
    pub done: bool,
    /// When it was done.
    pub done_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A call or an e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommunicationKind {
    /// A phone call.
    Call,
    /// An e-mail.
    Email,
}

/// What happened to an inbound communication (seed 004's daily routine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommunicationStatus {
    /// Not handled yet.
    New,
    /// Attached to a lead (found by phone or e-mail, or by hand).
    Linked,
    /// Marked "Ignored": not related to sales.
    Ignored,
}

impl CommunicationStatus {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Linked => "linked",
            Self::Ignored => "ignored",
        }
    }
}

/// An inbound call or e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Communication {
    /// Identifier.
    pub id: CommunicationId,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Call or e-mail.
    pub kind: CommunicationKind,
    /// Caller's or sender's e-mail.
    pub from_email: Option<Email>,
    /// Caller's phone.
    pub from_phone: Option<Phone>,
    /// Subject line or call summary.
    pub summary: String,
    /// Body or notes.
    pub body: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// New, linked or ignored.
    pub status: CommunicationStatus,
    /// The lead it is linked to.
    pub lead: Option<LeadId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
