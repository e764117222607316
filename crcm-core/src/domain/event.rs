//! Domain events: what an ERP reacts to. Every applied command appends its
//! events in the same unit of work; the store numbers them with a store-wide,
//! gap-free, strictly increasing sequence.
//!
//! The JSON form is stable: `{"type": "deal_won", ...fields}`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::activity::{ActivityKind, CommunicationKind, Subject};
use crate::domain::config::PhaseRef;
use crate::domain::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::domain::lead::{DocumentKind, LeadStatus};
use crate::domain::money::Money;

/// Something that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DomainEvent {
    /// A lead was created.
    LeadCreated {
        /// The lead.
        lead: LeadId,
        /// Its number.
        number: u64,
        /// Its owner.
        owner: UserId,
    },
    /// Lead fields were edited.
    LeadUpdated {
        /// The lead.
        lead: LeadId,
        /// The names of the changed fields.
        fields: Vec<String>,
    },
    /// The lifecycle status changed.
    LeadStatusChanged {
        /// The lead.
        lead: LeadId,
        /// Before.
        from: LeadStatus,
        /// After.
        to: LeadStatus,
    },
    /// The lead moved to another phase.
    PhaseChanged {
        /// The lead.
        lead: LeadId,
        /// Before.
        from: Option<PhaseRef>,
        /// After.
        to: Option<PhaseRef>,
    },
    /// A closing reason was recorded.
    ClosingReasonSet {
        /// The lead.
        lead: LeadId,
        /// The reason.
        reason: Code,
    },
    /// The account type changed.
    AccountTypeChanged {
        /// The lead.
        lead: LeadId,
        /// Before.
        from: Code,
        /// After.
        to: Code,
    },
    /// Qualify linked or created a customer and created a deal.
    LeadQualified {
        /// The lead.
        lead: LeadId,
        /// The customer.
        customer: CustomerId,
        /// Whether the customer was created by this qualify.
        customer_created: bool,
        /// The new deal.
        deal: DealId,
    },
    /// A linked deal was won.
    LeadConverted {
        /// The lead.
        lead: LeadId,
        /// The won deal.
        deal: DealId,
    },
    /// Disqualify / Lost.
    LeadDisqualified {
        /// The lead.
        lead: LeadId,
        /// The reason.
        reason: Code,
    },
    /// A closed lead was reopened.
    LeadReopened {
        /// The lead.
        lead: LeadId,
        /// The status it returned to.
        status: LeadStatus,
    },
    /// A duplicate was merged into another lead.
    LeadMerged {
        /// The duplicate.
        lead: LeadId,
        /// The lead that remains.
        into: LeadId,
    },
    /// The owner changed.
    LeadReassigned {
        /// The lead.
        lead: LeadId,
        /// Before.
        from: UserId,
        /// After.
        to: UserId,
    },
    /// The record team changed.
    TeamChanged {
        /// The lead.
        lead: LeadId,
        /// The team now.
        team: Vec<UserId>,
    },
    /// A lead was deleted.
    LeadDeleted {
        /// The lead.
        lead: LeadId,
        /// Its number.
        number: u64,
    },
    /// An ERP document was linked.
    DocumentLinked {
        /// The lead or deal.
        subject: Subject,
        /// Its kind.
        kind: DocumentKind,
        /// The ERP's id.
        external_id: String,
    },
    /// A customer was created.
    CustomerCreated {
        /// The customer.
        customer: CustomerId,
    },
    /// A customer was changed (e.g. a contact added).
    CustomerUpdated {
        /// The customer.
        customer: CustomerId,
    },
    /// A deal was created.
    DealCreated {
        /// The deal.
        deal: DealId,
        /// The lead it came from.
        lead: Option<LeadId>,
        /// The customer.
        customer: CustomerId,
        /// The pipeline.
        pipeline: Code,
        /// The first stage.
        stage: Code,
    },
    /// A deal moved between stages.
    DealStageChanged {
        /// The deal.
        deal: DealId,
        /// Before.
        from: Code,
        /// After.
        to: Code,
    },
    /// A deal was won: the moment an ERP creates its sales order.
    DealWon {
        /// The deal.
        deal: DealId,
        /// The lead it came from.
        lead: Option<LeadId>,
        /// The customer.
        customer: CustomerId,
        /// Its value.
        value: Option<Money>,
        /// The close date.
        close_date: NaiveDate,
    },
    /// A deal was lost.
    DealLost {
        /// The deal.
        deal: DealId,
        /// The reason.
        reason: Code,
    },
    /// A closed deal was reopened.
    DealReopened {
        /// The deal.
        deal: DealId,
    },
    /// Deal fields or its probability changed.
    DealUpdated {
        /// The deal.
        deal: DealId,
        /// The names of the changed fields.
        fields: Vec<String>,
    },
    /// An activity was logged.
    ActivityLogged {
        /// The activity.
        activity: ActivityId,
        /// What it belongs to.
        subject: Subject,
        /// Its kind.
        kind: ActivityKind,
    },
    /// A follow-up was scheduled.
    FollowUpScheduled {
        /// The follow-up.
        follow_up: FollowUpId,
        /// What it belongs to.
        subject: Subject,
        /// When it is due.
        due: NaiveDate,
    },
    /// A follow-up was done.
    FollowUpCompleted {
        /// The follow-up.
        follow_up: FollowUpId,
    },
    /// A call or e-mail arrived.
    CommunicationReceived {
        /// The communication.
        communication: CommunicationId,
        /// Call or e-mail.
        kind: CommunicationKind,
        /// The lead found by phone or e-mail, if exactly one open lead matched.
        lead: Option<LeadId>,
    },
    /// A communication was attached to a lead.
    CommunicationLinked {
        /// The communication.
        communication: CommunicationId,
        /// The lead.
        lead: LeadId,
    },
    /// A communication was marked ignored.
    CommunicationIgnored {
        /// The communication.
        communication: CommunicationId,
    },
    /// The configuration was replaced.
    ConfigChanged {
        /// The new configuration version.
        version: u64,
    },
}

impl DomainEvent {
    /// The event's snake_case name: its JSON `type` (`lead_created`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::LeadCreated { .. } => "lead_created",
            Self::LeadUpdated { .. } => "lead_updated",
            Self::LeadStatusChanged { .. } => "lead_status_changed",
            Self::PhaseChanged { .. } => "phase_changed",
            Self::ClosingReasonSet { .. } => "closing_reason_set",
            Self::AccountTypeChanged { .. } => "account_type_changed",
            Self::LeadQualified { .. } => "lead_qualified",
            Self::LeadConverted { .. } => "lead_converted",
            Self::LeadDisqualified { .. } => "lead_disqualified",
            Self::LeadReopened { .. } => "lead_reopened",
            Self::LeadMerged { .. } => "lead_merged",
            Self::LeadReassigned { .. } => "lead_reassigned",
            Self::TeamChanged { .. } => "team_changed",
            Self::LeadDeleted { .. } => "lead_deleted",
            Self::DocumentLinked { .. } => "document_linked",
            Self::CustomerCreated { .. } => "customer_created",
            Self::CustomerUpdated { .. } => "customer_updated",
            Self::DealCreated { .. } => "deal_created",
            Self::DealStageChanged { .. } => "deal_stage_changed",
            Self::DealWon { .. } => "deal_won",
            Self::DealLost { .. } => "deal_lost",
            Self::DealReopened { .. } => "deal_reopened",
            Self::DealUpdated { .. } => "deal_updated",
            Self::ActivityLogged { .. } => "activity_logged",
            Self::FollowUpScheduled { .. } => "follow_up_scheduled",
            Self::FollowUpCompleted { .. } => "follow_up_completed",
            Self::CommunicationReceived { .. } => "communication_received",
            Self::CommunicationLinked { .. } => "communication_linked",
            Self::CommunicationIgnored { .. } => "communication_ignored",
            Self::ConfigChanged { .. } => "config_changed",
        }
    }
}

/// An event as stored: its sequence number, time and actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventEnvelope {
    /// Store-wide sequence: gap-free, strictly increasing, starting at 1.
    pub seq: u64,
    /// When the unit of work was committed.
    pub at: DateTime<Utc>,
    /// Who caused it.
    pub actor: UserId,
    /// What happened.
    pub event: DomainEvent,
}
