//! Commands: the inputs of every action, as one serde-serializable [`Command`]
//! enum (the same JSON the C ABI accepts), and their results.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::activity::{Activity, ActivityKind, Communication, CommunicationKind, FollowUp, Subject};
use crate::config::Config;
use crate::custom::CustomValue;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::ids::{Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::lead::{DocumentKind, Lead};
use crate::money::Money;

/// Distinguishes "absent" (leave unchanged) from `null` (clear) in patches.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The fields of a new lead. Everything but a name or company is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewLead {
    /// Short title.
    pub title: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// E-mail as entered (validated and normalized).
    pub email: Option<String>,
    /// Phone as entered (validated, normalized to E.164).
    pub phone: Option<String>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// Zone.
    pub zone: String,
    /// Source code.
    pub source: Option<Code>,
    /// Priority code.
    pub priority: Option<Code>,
    /// Description.
    pub description: String,
    /// Owner (default: the actor; another owner needs a manager).
    pub owner: Option<UserId>,
    /// Record team.
    pub team: BTreeSet<UserId>,
    /// Tag codes.
    pub tags: BTreeSet<Code>,
    /// Expected revenue.
    pub expected_revenue: Option<Money>,
    /// Probability 0..=100.
    pub probability: Option<u8>,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
    /// Account type (default: the only account type, when there is exactly one).
    pub account_type: Option<Code>,
    /// An existing customer this lead is for (seed 003 "Partner, if known");
    /// Qualify then skips the customer step.
    pub customer: Option<CustomerId>,
    /// Custom field values.
    pub custom: BTreeMap<Code, CustomValue>,
}

/// Changes to a lead's fields: an absent field stays, `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[allow(clippy::option_option)]
pub struct LeadPatch {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// E-mail (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    /// Phone (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Source (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub source: Option<Option<Code>>,
    /// Priority (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub priority: Option<Option<Code>>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags (replaces the set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeSet<Code>>,
    /// Expected revenue (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_revenue: Option<Option<Money>>,
    /// Probability (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub probability: Option<Option<u8>>,
    /// Expected close (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<Option<NaiveDate>>,
    /// Custom values to set (`null` removes one).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<Code, Option<CustomValue>>,
}

/// Qualify's customer step (seed 001 "Step 1 — Customer").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum CustomerChoice {
    /// Create a customer when none matches; when some match, refuse and list
    /// them so the user can choose.
    #[default]
    Auto,
    /// Create a new customer even if some match.
    Create,
    /// Link this existing customer.
    Link {
        /// The customer.
        customer: CustomerId,
    },
}

/// Qualify's deal step (seed 001 "Step 2 — Deal").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DealDraft {
    /// Title (default: the lead's company, else its name).
    pub title: Option<String>,
    /// Value.
    pub value: Option<Money>,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
}

/// A new customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCustomer {
    /// Name (required).
    pub name: String,
    /// E-mail as entered.
    pub email: Option<String>,
    /// Phone as entered.
    pub phone: Option<String>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
}

/// A new contact person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewContact {
    /// Name (required).
    pub name: String,
    /// Role.
    pub job_title: String,
    /// E-mail as entered.
    pub email: Option<String>,
    /// Phone as entered.
    pub phone: Option<String>,
}

/// An inbound call or e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundCommunication {
    /// Call or e-mail.
    pub kind: CommunicationKind,
    /// Sender's e-mail as received.
    #[serde(default)]
    pub from_email: Option<String>,
    /// Caller's number as received.
    #[serde(default)]
    pub from_phone: Option<String>,
    /// Subject or summary.
    #[serde(default)]
    pub summary: String,
    /// Body or notes.
    #[serde(default)]
    pub body: String,
    /// When it arrived (default: now).
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// Changes to a deal's fields: an absent field stays, `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[allow(clippy::option_option)]
pub struct DealPatch {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Value (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub value: Option<Option<Money>>,
    /// Expected close (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<Option<NaiveDate>>,
}

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
        status: crate::lead::LeadStatus,
    },
    /// Move a lead to another phase of its account type.
    MoveLeadPhase {
        /// The lead.
        lead: LeadId,
        /// The phase code (within the lead's account type, or any account type's
        /// phase when unphased types may use all; see [`crate::config::PhaseRef`]).
        phase: crate::config::PhaseRef,
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
        phase: Option<crate::config::PhaseRef>,
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
