//! Commands: the inputs of every action, as one serde-serializable [`Command`]
//! enum (the same JSON the C ABI accepts), and their results.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::activity::{Activity, ActivityKind, Communication, FollowUp, Subject};
use crate::domain::config::Config;
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::domain::input::{
    CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
};
use crate::domain::lead::{DocumentKind, Lead};

/// Every command crcm accepts. The JSON form is `{"type": "qualify_lead", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Replace the configuration (manager). `expected_version` guards against
    /// overwriting a change made meanwhile (`None` for the first configuration).
    SetConfig {
        /// The new configuration.
        config: Box<Config>,
        /// The version it was based on.
        expected_version: Option<u64>,
    },
    /// Create a lead.
    CreateLead {
        /// Its fields.
        lead: Box<NewLead>,
    },
    /// Edit lead fields.
    UpdateLead {
        /// The lead.
        lead: LeadId,
        /// The changes.
        patch: Box<LeadPatch>,
    },
    /// Set New or Contacted by hand.
    SetLeadStatus {
        /// The lead.
        lead: LeadId,
        /// New or Contacted.
        status: crate::domain::lead::LeadStatus,
    },
    /// Move a lead to another phase of its account type.
    MoveLeadPhase {
        /// The lead.
        lead: LeadId,
        /// The phase code (within the lead's account type, or any account type's
        /// phase when unphased types may use all; see [`crate::domain::config::PhaseRef`]).
        phase: crate::domain::config::PhaseRef,
        /// A closing reason, when moving into a closing phase.
        #[serde(default)]
        closing_reason: Option<Code>,
        /// A note on the closing reason.
        #[serde(default)]
        note: Option<String>,
    },
    /// Record a closing reason (closing phases only).
    SetClosingReason {
        /// The lead.
        lead: LeadId,
        /// The reason.
        reason: Code,
        /// A note (required by some reasons).
        #[serde(default)]
        note: Option<String>,
    },
    /// Change the account type, with a phase valid for the new type.
    ChangeAccountType {
        /// The lead.
        lead: LeadId,
        /// The new account type.
        account_type: Code,
        /// The new phase (required when the new type has phases).
        #[serde(default)]
        phase: Option<crate::domain::config::PhaseRef>,
    },
    /// Qualify: link or create a customer and create a deal, in one step.
    QualifyLead {
        /// The lead.
        lead: LeadId,
        /// Link or create.
        #[serde(default)]
        customer: CustomerChoice,
        /// The deal's details.
        #[serde(default)]
        deal: DealDraft,
    },
    /// Open another deal for a qualified or converted lead (seed 001: a lead
    /// can have several deals), for the lead's customer, at the first stage of
    /// the chosen pipeline or the default one.
    OpenDeal {
        /// The lead.
        lead: LeadId,
        /// The pipeline (`None`: the default pipeline).
        #[serde(default)]
        pipeline: Option<Code>,
        /// The deal's details.
        #[serde(default)]
        deal: DealDraft,
    },
    /// Disqualify / Lost with a reason.
    DisqualifyLead {
        /// The lead.
        lead: LeadId,
        /// The lost reason.
        reason: Code,
        /// A note (required by some reasons).
        #[serde(default)]
        note: Option<String>,
    },
    /// Reopen a disqualified lead.
    ReopenLead {
        /// The lead.
        lead: LeadId,
    },
    /// Merge a duplicate into another lead.
    MergeLead {
        /// The duplicate.
        lead: LeadId,
        /// The lead that remains.
        into: LeadId,
    },
    /// Give a lead another owner (manager).
    ReassignLead {
        /// The lead.
        lead: LeadId,
        /// The new owner.
        owner: UserId,
    },
    /// Replace a lead's record team (owner or manager).
    SetLeadTeam {
        /// The lead.
        lead: LeadId,
        /// The team.
        team: BTreeSet<UserId>,
    },
    /// Delete a lead (admin; refused while links exist).
    DeleteLead {
        /// The lead.
        lead: LeadId,
    },
    /// Link an order or invoice to a lead (quotations are refused: they belong to deals).
    LinkLeadDocument {
        /// The lead.
        lead: LeadId,
        /// The kind.
        kind: DocumentKind,
        /// The ERP's id.
        external_id: String,
    },
    /// Move a deal within its pipeline.
    MoveDealStage {
        /// The deal.
        deal: DealId,
        /// The stage.
        stage: Code,
    },
    /// Win a deal (the lead becomes Converted).
    WinDeal {
        /// The deal.
        deal: DealId,
        /// A won stage (default: the pipeline's first won stage).
        #[serde(default)]
        stage: Option<Code>,
    },
    /// Lose a deal with a reason.
    LoseDeal {
        /// The deal.
        deal: DealId,
        /// The lost reason.
        reason: Code,
        /// A note.
        #[serde(default)]
        note: Option<String>,
    },
    /// Reopen a won or lost deal.
    ReopenDeal {
        /// The deal.
        deal: DealId,
        /// An open stage (default: the first open stage).
        #[serde(default)]
        stage: Option<Code>,
    },
    /// Set an open deal's probability by hand (`None`: follow the stage again).
    SetDealProbability {
        /// The deal.
        deal: DealId,
        /// 0..=100, or `None`.
        probability: Option<u8>,
    },
    /// Edit deal fields.
    UpdateDeal {
        /// The deal.
        deal: DealId,
        /// The changes.
        patch: DealPatch,
    },
    /// Link a quotation, order or invoice to a deal.
    LinkDealDocument {
        /// The deal.
        deal: DealId,
        /// The kind.
        kind: DocumentKind,
        /// The ERP's id.
        external_id: String,
    },
    /// Create a customer.
    CreateCustomer {
        /// Its fields.
        customer: NewCustomer,
    },
    /// Add a contact person to a customer.
    AddContact {
        /// The customer.
        customer: CustomerId,
        /// The contact.
        contact: NewContact,
    },
    /// Log a note, call, e-mail or meeting on a lead's or deal's timeline.
    LogActivity {
        /// The lead or deal.
        subject: Subject,
        /// The kind.
        kind: ActivityKind,
        /// One-line summary.
        summary: String,
        /// Details.
        #[serde(default)]
        body: String,
        /// When it happened (default: now).
        #[serde(default)]
        occurred_at: Option<DateTime<Utc>>,
    },
    /// Schedule a follow-up.
    ScheduleFollowUp {
        /// The lead or deal.
        subject: Subject,
        /// Due date.
        due: NaiveDate,
        /// What to do.
        note: String,
        /// Who (default: the actor).
        #[serde(default)]
        assignee: Option<UserId>,
    },
    /// Mark a follow-up done.
    CompleteFollowUp {
        /// The follow-up.
        follow_up: FollowUpId,
    },
    /// Record an inbound call or e-mail; it is linked to the one open lead whose
    /// phone or e-mail matches, if exactly one does.
    ReceiveCommunication {
        /// The communication.
        communication: InboundCommunication,
    },
    /// Attach a communication to a lead.
    AttachCommunication {
        /// The communication.
        communication: CommunicationId,
        /// The lead.
        lead: LeadId,
    },
    /// Create a lead from a communication and attach it.
    CreateLeadFromCommunication {
        /// The communication.
        communication: CommunicationId,
        /// The lead's fields (e-mail and phone default to the sender's).
        lead: Box<NewLead>,
    },
    /// Mark a communication "Ignored" (not related to sales).
    IgnoreCommunication {
        /// The communication.
        communication: CommunicationId,
    },
}

impl Command {
    /// The command's snake_case name (recorded in history).
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetConfig { .. } => "set_config",
            Self::CreateLead { .. } => "create_lead",
            Self::UpdateLead { .. } => "update_lead",
            Self::SetLeadStatus { .. } => "set_lead_status",
            Self::MoveLeadPhase { .. } => "move_lead_phase",
            Self::SetClosingReason { .. } => "set_closing_reason",
            Self::ChangeAccountType { .. } => "change_account_type",
            Self::QualifyLead { .. } => "qualify_lead",
            Self::OpenDeal { .. } => "open_deal",
            Self::DisqualifyLead { .. } => "disqualify_lead",
            Self::ReopenLead { .. } => "reopen_lead",
            Self::MergeLead { .. } => "merge_lead",
            Self::ReassignLead { .. } => "reassign_lead",
            Self::SetLeadTeam { .. } => "set_lead_team",
            Self::DeleteLead { .. } => "delete_lead",
            Self::LinkLeadDocument { .. } => "link_lead_document",
            Self::MoveDealStage { .. } => "move_deal_stage",
            Self::WinDeal { .. } => "win_deal",
            Self::LoseDeal { .. } => "lose_deal",
            Self::ReopenDeal { .. } => "reopen_deal",
            Self::SetDealProbability { .. } => "set_deal_probability",
            Self::UpdateDeal { .. } => "update_deal",
            Self::LinkDealDocument { .. } => "link_deal_document",
            Self::CreateCustomer { .. } => "create_customer",
            Self::AddContact { .. } => "add_contact",
            Self::LogActivity { .. } => "log_activity",
            Self::ScheduleFollowUp { .. } => "schedule_follow_up",
            Self::CompleteFollowUp { .. } => "complete_follow_up",
            Self::ReceiveCommunication { .. } => "receive_communication",
            Self::AttachCommunication { .. } => "attach_communication",
            Self::CreateLeadFromCommunication { .. } => "create_lead_from_communication",
            Self::IgnoreCommunication { .. } => "ignore_communication",
        }
    }
}

/// What a command produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandOutput {
    /// The configuration and its new version.
    Config {
        /// The new version.
        version: u64,
    },
    /// The lead as it is now.
    Lead {
        /// The lead.
        lead: Box<Lead>,
    },
    /// Qualify's result.
    Qualified {
        /// The lead.
        lead: Box<Lead>,
        /// The linked or created customer.
        customer: Box<Customer>,
        /// The new deal.
        deal: Box<Deal>,
    },
    /// A deal, and its lead when the command changed it.
    Deal {
        /// The deal.
        deal: Box<Deal>,
        /// The lead, when changed (e.g. converted).
        lead: Option<Box<Lead>>,
    },
    /// A customer.
    Customer {
        /// The customer.
        customer: Box<Customer>,
    },
    /// An activity.
    Activity {
        /// The activity.
        activity: Box<Activity>,
    },
    /// A follow-up.
    FollowUp {
        /// The follow-up.
        follow_up: Box<FollowUp>,
    },
    /// A communication, and the lead created from it.
    Communication {
        /// The communication.
        communication: Box<Communication>,
        /// The lead created, if any.
        lead: Option<Box<Lead>>,
    },
    /// The lead was deleted.
    Deleted {
        /// The deleted lead's number.
        number: u64,
    },
}
