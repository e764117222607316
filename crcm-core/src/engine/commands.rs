//! Every command crcm accepts, one type each. Run one with
//! [`Engine::run`](crate::Engine::run); its output is the command's own type:
//!
//! ```no_run
//! # async fn demo(engine: &crcm_core::Engine, actor: &crcm_core::Actor, id: crcm_core::LeadId) -> crcm_core::Result<()> {
//! use crcm_core::commands::QualifyLead;
//! use crcm_core::{CustomerChoice, DealDraft};
//!
//! let command = QualifyLead { lead: id, customer: CustomerChoice::Auto, deal: DealDraft::default() };
//! let qualified = engine.run(actor, command).await?;
//! println!("deal {} for customer {}", qualified.deal.title, qualified.customer.name);
//! # Ok(())
//! # }
//! ```
//!
//! Each type's [`TypedCommand::decide`] loads what its rule needs and calls
//! the rule (in [`crate::rules`]), so a command's loading and its rule sit
//! side by side. The JSON form (for the C ABI and other clients) is
//! [`Command`], one variant per type: `{"type": "<name>", ...fields}`.
//!
//! | command | name (history, JSON `type`) | output | what it does |
//! |---|---|---|---|
//! | [`SetConfig`] | `set_config` | [`ConfigVersion`] | Replace the configuration (manager), guarded by the version it was based on. |
//! | [`CreateLead`] | `create_lead` | [`Lead`] | Create a lead. |
//! | [`UpdateLead`] | `update_lead` | [`Lead`] | Edit lead fields. |
//! | [`SetLeadStatus`] | `set_lead_status` | [`Lead`] | Set New or Contacted by hand. |
//! | [`MoveLeadPhase`] | `move_lead_phase` | [`Lead`] | Move a lead to another phase of its account type. |
//! | [`SetClosingReason`] | `set_closing_reason` | [`Lead`] | Record a closing reason (closing phases only). |
//! | [`ChangeAccountType`] | `change_account_type` | [`Lead`] | Change the account type, with a phase valid for the new type. |
//! | [`QualifyLead`] | `qualify_lead` | [`Qualified`] | Qualify: link or create a customer and create a deal, in one step. |
//! | [`OpenDeal`] | `open_deal` | [`ChangedDeal`] | Open another deal for a qualified or converted lead (seed 001: a lead |
//! | [`DisqualifyLead`] | `disqualify_lead` | [`Lead`] | Disqualify / Lost with a reason. |
//! | [`ReopenLead`] | `reopen_lead` | [`Lead`] | Reopen a disqualified lead. |
//! | [`MergeLead`] | `merge_lead` | [`Lead`] | Merge a duplicate into another lead. |
//! | [`ReassignLead`] | `reassign_lead` | [`Lead`] | Give a lead another owner (manager). |
//! | [`SetLeadTeam`] | `set_lead_team` | [`Lead`] | Replace a lead's record team (owner or manager). |
//! | [`DeleteLead`] | `delete_lead` | [`Deleted`] | Delete a lead (admin; refused while links exist). |
//! | [`LinkLeadDocument`] | `link_lead_document` | [`Lead`] | Link an order or invoice to a lead (quotations are refused: they belong to deals). |
//! | [`MoveDealStage`] | `move_deal_stage` | [`ChangedDeal`] | Move a deal within its pipeline. |
//! | [`WinDeal`] | `win_deal` | [`ChangedDeal`] | Win a deal (the lead becomes Converted). |
//! | [`LoseDeal`] | `lose_deal` | [`ChangedDeal`] | Lose a deal with a reason. |
//! | [`ReopenDeal`] | `reopen_deal` | [`ChangedDeal`] | Reopen a won or lost deal. |
//! | [`SetDealProbability`] | `set_deal_probability` | [`ChangedDeal`] | Set an open deal's probability by hand (`None`: follow the stage again). |
//! | [`UpdateDeal`] | `update_deal` | [`ChangedDeal`] | Edit deal fields. |
//! | [`LinkDealDocument`] | `link_deal_document` | [`ChangedDeal`] | Link a quotation, order or invoice to a deal. |
//! | [`CreateCustomer`] | `create_customer` | [`Customer`] | Create a customer. |
//! | [`AddContact`] | `add_contact` | [`Customer`] | Add a contact person to a customer. |
//! | [`LogActivity`] | `log_activity` | [`Activity`] | Log a note, call, e-mail or meeting on a lead's or deal's timeline. |
//! | [`ScheduleFollowUp`] | `schedule_follow_up` | [`FollowUp`] | Schedule a follow-up. |
//! | [`CompleteFollowUp`] | `complete_follow_up` | [`FollowUp`] | Mark a follow-up done. |
//! | [`ReceiveCommunication`] | `receive_communication` | [`Communication`] | Record an inbound call or e-mail; it is linked to the one open lead whose |
//! | [`AttachCommunication`] | `attach_communication` | [`Communication`] | Attach a communication to a lead. |
//! | [`CreateLeadFromCommunication`] | `create_lead_from_communication` | [`LeadFromCommunication`] | Create a lead from a communication and attach it. |
//! | [`IgnoreCommunication`] | `ignore_communication` | [`Communication`] | Mark a communication "Ignored" (not related to sales). |

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::activity::{Activity, ActivityKind, Communication, FollowUp, Subject};
use crate::domain::config::{Config, PhaseRef};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::domain::input::{
    CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
};
use crate::domain::lead::{DocumentKind, Lead, LeadStatus};
use crate::engine::scope::Scope;
use crate::rules::error::Error;
use crate::rules::machine::LeadError;
use crate::rules::{self, CustomerFound, CustomerStep};
use crate::store::StoreExt;
use crate::store::uow::UnitOfWork;

/// Declares [`Command`], one variant per typed command, with the
/// conversions and the dispatch that runs each variant through its type.
macro_rules! command_enum {
    ($($name:ident),* $(,)?) => {
        /// Every command crcm accepts, in its JSON form:
        /// `{"type": "qualify_lead", "lead": "…", ...}`. Each variant holds the
        /// typed command of the same name (see the list above); the
        /// `type` is that command's [`TypedCommand::NAME`].
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(tag = "type", rename_all = "snake_case")]
        #[non_exhaustive]
        // A command is built, run and dropped; boxing the larger variants would only add allocations.
        #[allow(clippy::large_enum_variant)]
        pub enum Command {
            $(
                #[doc = concat!("[`", stringify!($name), "`](crate::engine::commands::", stringify!($name), ").")]
                $name($name),
            )*
        }

        $(
            impl From<$name> for Command {
                fn from(command: $name) -> Self {
                    Command::$name(command)
                }
            }

            impl sealed::Sealed for $name {}
        )*

        impl Command {
            /// The command's snake_case name (its JSON `type`, recorded in history).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => <$name as TypedCommand>::NAME,)*
                }
            }
        }
    };
}

/// Calls `$m!` with the name of every command: the one list the
/// [`Command`] enum and the engine's dispatch are generated from.
macro_rules! for_each_command {
    ($m:ident) => {
        $m!(
            SetConfig,
            CreateLead,
            UpdateLead,
            SetLeadStatus,
            MoveLeadPhase,
            SetClosingReason,
            ChangeAccountType,
            QualifyLead,
            OpenDeal,
            DisqualifyLead,
            ReopenLead,
            MergeLead,
            ReassignLead,
            SetLeadTeam,
            DeleteLead,
            LinkLeadDocument,
            MoveDealStage,
            WinDeal,
            LoseDeal,
            ReopenDeal,
            SetDealProbability,
            UpdateDeal,
            LinkDealDocument,
            CreateCustomer,
            AddContact,
            LogActivity,
            ScheduleFollowUp,
            CompleteFollowUp,
            ReceiveCommunication,
            AttachCommunication,
            CreateLeadFromCommunication,
            IgnoreCommunication
        );
    };
}
pub(crate) use for_each_command;

/// Seals [`TypedCommand`]: the commands are crcm's, each with its rule; a
/// type outside crcm is not one.
mod sealed {
    pub trait Sealed {}
}

for_each_command!(command_enum);

/// What a command produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// A command as a type: its output, its name, and how it decides.
///
/// Implemented by every type in this module; run one with
/// [`Engine::run`](crate::Engine::run).
#[async_trait]
pub trait TypedCommand: Into<Command> + Clone + Send + Sync + sealed::Sealed + 'static {
    /// What the command returns (and its JSON form, a [`CommandOutput`]).
    type Output: Into<CommandOutput> + Send;
    /// The snake_case name: the JSON `type` and the history action.
    const NAME: &'static str;
    /// Whether the engine re-runs the command against fresh state after a
    /// concurrency conflict (every rule is checked again).
    const RETRY: bool = true;

    /// Loads what the rule needs through `s` and runs the rule: the unit of
    /// work to commit and the output, or a refusal.
    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error>;
}

/// What [`QualifyLead`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Qualified {
    /// The lead, now Qualified.
    pub lead: Lead,
    /// The linked or created customer.
    pub customer: Customer,
    /// The new deal.
    pub deal: Deal,
}

/// What [`SetConfig`] returns: the configuration's new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigVersion {
    /// The new version (pass it as the next change's `expected_version`).
    pub version: u64,
}

/// What [`DeleteLead`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The deleted lead's number.
    pub number: u64,
}

/// What a deal command (and [`OpenDeal`]) returns: the deal, and its lead
/// when the command changed it too (won: converted; reopened: back to
/// qualified).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangedDeal {
    /// The deal as it is now.
    pub deal: Deal,
    /// The lead, when the command changed it.
    pub lead: Option<Lead>,
}

// Each output type's JSON form.
impl From<ConfigVersion> for CommandOutput {
    fn from(o: ConfigVersion) -> Self {
        CommandOutput::Config { version: o.version }
    }
}

impl From<Deleted> for CommandOutput {
    fn from(o: Deleted) -> Self {
        CommandOutput::Deleted { number: o.number }
    }
}

impl From<Lead> for CommandOutput {
    fn from(lead: Lead) -> Self {
        CommandOutput::Lead { lead: Box::new(lead) }
    }
}

impl From<Qualified> for CommandOutput {
    fn from(o: Qualified) -> Self {
        CommandOutput::Qualified {
            lead: Box::new(o.lead),
            customer: Box::new(o.customer),
            deal: Box::new(o.deal),
        }
    }
}

impl From<ChangedDeal> for CommandOutput {
    fn from(o: ChangedDeal) -> Self {
        CommandOutput::Deal {
            deal: Box::new(o.deal),
            lead: o.lead.map(Box::new),
        }
    }
}

impl From<Customer> for CommandOutput {
    fn from(customer: Customer) -> Self {
        CommandOutput::Customer {
            customer: Box::new(customer),
        }
    }
}

impl From<Activity> for CommandOutput {
    fn from(activity: Activity) -> Self {
        CommandOutput::Activity {
            activity: Box::new(activity),
        }
    }
}

impl From<FollowUp> for CommandOutput {
    fn from(follow_up: FollowUp) -> Self {
        CommandOutput::FollowUp {
            follow_up: Box::new(follow_up),
        }
    }
}

impl From<Communication> for CommandOutput {
    fn from(communication: Communication) -> Self {
        CommandOutput::Communication {
            communication: Box::new(communication),
            lead: None,
        }
    }
}

/// What [`CreateLeadFromCommunication`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct LeadFromCommunication {
    /// The communication, now linked to the lead.
    pub communication: Communication,
    /// The new lead.
    pub lead: Lead,
}

impl From<LeadFromCommunication> for CommandOutput {
    fn from(o: LeadFromCommunication) -> Self {
        CommandOutput::Communication {
            communication: Box::new(o.communication),
            lead: Some(Box::new(o.lead)),
        }
    }
}

impl ChangedDeal {
    fn from_rule(c: rules::DealChanged) -> (UnitOfWork, Self) {
        (
            c.uow,
            Self {
                deal: c.deal,
                lead: c.lead,
            },
        )
    }
}

/// Replace the configuration (manager). `expected_version` guards against
/// overwriting a change made meanwhile (`None` for the first configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// The new configuration.
    pub config: Config,
    /// The version it was based on.
    pub expected_version: Option<u64>,
}

#[async_trait]
impl TypedCommand for SetConfig {
    type Output = ConfigVersion;
    const NAME: &'static str = "set_config";
    /// Not re-run after a conflict: the change was prepared against the
    /// version the caller saw, which `expected_version` names.
    const RETRY: bool = false;

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let current = s.config.map(|(c, v)| (c, *v));
        let mut in_use = Vec::new();
        if let Some((old, _)) = current {
            for item in old.removed_items(&self.config) {
                if let Some(u) = s.config_usage(&item).await? {
                    in_use.push(u);
                }
            }
        }
        let uow = rules::set_config(
            s.actor,
            s.now,
            Self::NAME,
            current,
            &self.config,
            self.expected_version,
            in_use,
        )?;
        let version = uow.config.as_ref().map_or(0, |c| c.version);
        Ok((uow, ConfigVersion { version }))
    }
}

/// Create a lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLead {
    /// Its fields.
    pub lead: NewLead,
}

#[async_trait]
impl TypedCommand for CreateLead {
    type Output = Lead;
    const NAME: &'static str = "create_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        if let Some(c) = self.lead.customer {
            s.customer(c).await?;
        }
        let prepared = rules::new_lead(&ctx, &self.lead)?;
        s.ref_is_free(&self.lead).await?;
        let number = s.store.next_lead_number().await?;
        Ok(rules::record_new_lead(&ctx, prepared, number))
    }
}

/// Edit lead fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateLead {
    /// The lead.
    pub lead: LeadId,
    /// The changes.
    pub patch: LeadPatch,
}

#[async_trait]
impl TypedCommand for UpdateLead {
    type Output = Lead;
    const NAME: &'static str = "update_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::update_lead(&ctx, &s.lead(self.lead).await?, &self.patch)
    }
}

/// Set New or Contacted by hand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetLeadStatus {
    /// The lead.
    pub lead: LeadId,
    /// New or Contacted.
    pub status: LeadStatus,
}

#[async_trait]
impl TypedCommand for SetLeadStatus {
    type Output = Lead;
    const NAME: &'static str = "set_lead_status";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::set_status(&ctx, &s.lead(self.lead).await?, self.status)
    }
}

/// Move a lead to another phase of its account type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MoveLeadPhase {
    /// The lead.
    pub lead: LeadId,
    /// The phase code (within the lead's account type, or any account type's
    /// phase when unphased types may use all; see [`PhaseRef`]).
    pub phase: PhaseRef,
    /// A closing reason, when moving into a closing phase.
    #[serde(default)]
    pub closing_reason: Option<Code>,
    /// A note on the closing reason.
    #[serde(default)]
    pub note: Option<String>,
}

#[async_trait]
impl TypedCommand for MoveLeadPhase {
    type Output = Lead;
    const NAME: &'static str = "move_lead_phase";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        rules::move_phase(
            &ctx,
            &lead,
            &self.phase,
            self.closing_reason.as_ref(),
            self.note.as_deref(),
        )
    }
}

/// Record a closing reason (closing phases only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetClosingReason {
    /// The lead.
    pub lead: LeadId,
    /// The reason.
    pub reason: Code,
    /// A note (required by some reasons).
    #[serde(default)]
    pub note: Option<String>,
}

#[async_trait]
impl TypedCommand for SetClosingReason {
    type Output = Lead;
    const NAME: &'static str = "set_closing_reason";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        rules::set_closing_reason(&ctx, &lead, &self.reason, self.note.as_deref())
    }
}

/// Change the account type, with a phase valid for the new type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeAccountType {
    /// The lead.
    pub lead: LeadId,
    /// The new account type.
    pub account_type: Code,
    /// The new phase (required when the new type has phases).
    #[serde(default)]
    pub phase: Option<PhaseRef>,
}

#[async_trait]
impl TypedCommand for ChangeAccountType {
    type Output = Lead;
    const NAME: &'static str = "change_account_type";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        rules::change_account_type(&ctx, &lead, &self.account_type, self.phase.as_ref())
    }
}

/// Qualify: link or create a customer and create a deal, in one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct QualifyLead {
    /// The lead.
    pub lead: LeadId,
    /// Link or create.
    #[serde(default)]
    pub customer: CustomerChoice,
    /// The deal's details.
    #[serde(default)]
    pub deal: DealDraft,
}

#[async_trait]
impl TypedCommand for QualifyLead {
    type Output = Qualified;
    const NAME: &'static str = "qualify_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let found = match rules::customer_step(&lead, &self.customer) {
            CustomerStep::Link(id) => CustomerFound::Link(id, s.maybe_customer(id).await?),
            CustomerStep::Match => CustomerFound::Candidates(s.customers_sharing_contact(&lead).await?),
            CustomerStep::Create => CustomerFound::Create,
        };
        let q = rules::qualify(&ctx, &lead, &found, &self.deal)?;
        let output = Qualified {
            lead: q.lead,
            customer: q.customer,
            deal: q.deal,
        };
        Ok((q.uow, output))
    }
}

/// Open another deal for a qualified or converted lead (seed 001: a lead
/// can have several deals), for the lead's customer, at the first stage of
/// the chosen pipeline or the default one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenDeal {
    /// The lead.
    pub lead: LeadId,
    /// The pipeline (`None`: the default pipeline).
    #[serde(default)]
    pub pipeline: Option<Code>,
    /// The deal's details.
    #[serde(default)]
    pub deal: DealDraft,
}

#[async_trait]
impl TypedCommand for OpenDeal {
    type Output = ChangedDeal;
    const NAME: &'static str = "open_deal";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let (uow, deal) = rules::open_deal(&ctx, &lead, self.pipeline.as_ref(), &self.deal)?;
        Ok((uow, ChangedDeal { deal, lead: None }))
    }
}

/// Disqualify / Lost with a reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DisqualifyLead {
    /// The lead.
    pub lead: LeadId,
    /// The lost reason.
    pub reason: Code,
    /// A note (required by some reasons).
    #[serde(default)]
    pub note: Option<String>,
}

#[async_trait]
impl TypedCommand for DisqualifyLead {
    type Output = Lead;
    const NAME: &'static str = "disqualify_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        rules::disqualify(&ctx, &lead, &self.reason, self.note.as_deref())
    }
}

/// Reopen a disqualified lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReopenLead {
    /// The lead.
    pub lead: LeadId,
}

#[async_trait]
impl TypedCommand for ReopenLead {
    type Output = Lead;
    const NAME: &'static str = "reopen_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::reopen(&ctx, &s.lead(self.lead).await?)
    }
}

/// Merge a duplicate into another lead: its activities, follow-ups,
/// communications, deals and tags move to the lead that remains (see
/// [`rules::merge`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MergeLead {
    /// The duplicate.
    pub lead: LeadId,
    /// The lead that remains.
    pub into: LeadId,
}

#[async_trait]
impl TypedCommand for MergeLead {
    type Output = Lead;
    const NAME: &'static str = "merge_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let (lead, into) = (s.lead(self.lead).await?, s.lead(self.into).await?);
        let belongings = s.lead_belongings(&lead).await?;
        rules::merge(&ctx, &lead, &into, &belongings)
    }
}

/// Give a lead another owner (manager).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReassignLead {
    /// The lead.
    pub lead: LeadId,
    /// The new owner.
    pub owner: UserId,
}

#[async_trait]
impl TypedCommand for ReassignLead {
    type Output = Lead;
    const NAME: &'static str = "reassign_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let deals = s.lead_deals(&lead).await?;
        rules::reassign(&ctx, &lead, &deals, &self.owner)
    }
}

/// Replace a lead's record team (owner or manager).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetLeadTeam {
    /// The lead.
    pub lead: LeadId,
    /// The team.
    pub team: BTreeSet<UserId>,
}

#[async_trait]
impl TypedCommand for SetLeadTeam {
    type Output = Lead;
    const NAME: &'static str = "set_lead_team";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let deals = s.lead_deals(&lead).await?;
        rules::set_team(&ctx, &lead, &deals, &self.team)
    }
}

/// Delete a lead (admin; refused while links exist).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteLead {
    /// The lead.
    pub lead: LeadId,
    /// Delete only while the lead is at this version (the one the caller
    /// saw); a lead changed since is refused with `lead_changed` and stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
}

#[async_trait]
impl TypedCommand for DeleteLead {
    type Output = Deleted;
    const NAME: &'static str = "delete_lead";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let links = s.lead_links(&lead).await?;
        // The rule first: who may delete, and what blocks a delete, are
        // answered before whether the caller's version is still current.
        let uow = rules::delete_lead(&ctx, &lead, &links)?;
        if let Some(expected) = self.if_version
            && expected != lead.version
        {
            return Err(LeadError::Changed {
                number: lead.number,
                expected,
                found: lead.version,
            }
            .into());
        }
        Ok((uow, Deleted { number: lead.number }))
    }
}

/// Link an order or invoice to a lead (quotations are refused: they belong to deals).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkLeadDocument {
    /// The lead.
    pub lead: LeadId,
    /// The kind.
    pub kind: DocumentKind,
    /// The ERP's id.
    pub external_id: String,
}

#[async_trait]
impl TypedCommand for LinkLeadDocument {
    type Output = Lead;
    const NAME: &'static str = "link_lead_document";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let lead = s.lead(self.lead).await?;
        let deals = s.lead_deals(&lead).await?;
        rules::link_lead_document(&ctx, &lead, &deals, self.kind, &self.external_id)
    }
}

/// Move a deal within its pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MoveDealStage {
    /// The deal.
    pub deal: DealId,
    /// The stage.
    pub stage: Code,
}

#[async_trait]
impl TypedCommand for MoveDealStage {
    type Output = ChangedDeal;
    const NAME: &'static str = "move_deal_stage";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let deal = s.deal(self.deal).await?;
        s.with_deal_lead(&deal, |link| rules::move_deal_stage(&ctx, &deal, &self.stage, link))
            .await
            .map(ChangedDeal::from_rule)
    }
}

/// Win a deal (the lead becomes Converted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WinDeal {
    /// The deal.
    pub deal: DealId,
    /// A won stage (default: the pipeline's first won stage).
    #[serde(default)]
    pub stage: Option<Code>,
}

#[async_trait]
impl TypedCommand for WinDeal {
    type Output = ChangedDeal;
    const NAME: &'static str = "win_deal";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let deal = s.deal(self.deal).await?;
        s.with_deal_lead(&deal, |link| rules::win_deal(&ctx, &deal, self.stage.as_ref(), link))
            .await
            .map(ChangedDeal::from_rule)
    }
}

/// Lose a deal with a reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LoseDeal {
    /// The deal.
    pub deal: DealId,
    /// The lost reason.
    pub reason: Code,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
}

#[async_trait]
impl TypedCommand for LoseDeal {
    type Output = ChangedDeal;
    const NAME: &'static str = "lose_deal";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let deal = s.deal(self.deal).await?;
        s.with_deal_lead(&deal, |link| {
            rules::lose_deal(&ctx, &deal, &self.reason, self.note.as_deref(), link)
        })
        .await
        .map(ChangedDeal::from_rule)
    }
}

/// Reopen a won or lost deal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReopenDeal {
    /// The deal.
    pub deal: DealId,
    /// An open stage (default: the first open stage).
    #[serde(default)]
    pub stage: Option<Code>,
}

#[async_trait]
impl TypedCommand for ReopenDeal {
    type Output = ChangedDeal;
    const NAME: &'static str = "reopen_deal";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let deal = s.deal(self.deal).await?;
        s.with_deal_lead(&deal, |link| rules::reopen_deal(&ctx, &deal, self.stage.as_ref(), link))
            .await
            .map(ChangedDeal::from_rule)
    }
}

/// Set an open deal's probability by hand (`None`: follow the stage again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetDealProbability {
    /// The deal.
    pub deal: DealId,
    /// 0..=100, or `None`.
    #[serde(default, deserialize_with = "crate::domain::input::probability")]
    pub probability: Option<u8>,
}

#[async_trait]
impl TypedCommand for SetDealProbability {
    type Output = ChangedDeal;
    const NAME: &'static str = "set_deal_probability";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::set_deal_probability(&ctx, &s.deal(self.deal).await?, self.probability).map(ChangedDeal::from_rule)
    }
}

/// Edit deal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateDeal {
    /// The deal.
    pub deal: DealId,
    /// The changes.
    pub patch: DealPatch,
}

#[async_trait]
impl TypedCommand for UpdateDeal {
    type Output = ChangedDeal;
    const NAME: &'static str = "update_deal";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::update_deal(&ctx, &s.deal(self.deal).await?, &self.patch).map(ChangedDeal::from_rule)
    }
}

/// Link a quotation, order or invoice to a deal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkDealDocument {
    /// The deal.
    pub deal: DealId,
    /// The kind.
    pub kind: DocumentKind,
    /// The ERP's id.
    pub external_id: String,
}

#[async_trait]
impl TypedCommand for LinkDealDocument {
    type Output = ChangedDeal;
    const NAME: &'static str = "link_deal_document";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let deal = s.deal(self.deal).await?;
        rules::link_deal_document(&ctx, &deal, self.kind, &self.external_id).map(ChangedDeal::from_rule)
    }
}

/// Create a customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Its fields.
    pub customer: NewCustomer,
}

#[async_trait]
impl TypedCommand for CreateCustomer {
    type Output = Customer;
    const NAME: &'static str = "create_customer";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::create_customer(&ctx, &self.customer)
    }
}

/// Add a contact person to a customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AddContact {
    /// The customer.
    pub customer: CustomerId,
    /// The contact.
    pub contact: NewContact,
}

#[async_trait]
impl TypedCommand for AddContact {
    type Output = Customer;
    const NAME: &'static str = "add_contact";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::add_contact(&ctx, &s.customer(self.customer).await?, &self.contact)
    }
}

/// Log a note, call, e-mail or meeting on a lead's or deal's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LogActivity {
    /// The lead or deal.
    pub subject: Subject,
    /// The kind.
    pub kind: ActivityKind,
    /// One-line summary.
    pub summary: String,
    /// Details.
    #[serde(default)]
    pub body: String,
    /// When it happened (default: now).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl TypedCommand for LogActivity {
    type Output = Activity;
    const NAME: &'static str = "log_activity";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let subject = s.subject(self.subject).await?;
        rules::log_activity(&ctx, &subject, self.kind, &self.summary, &self.body, self.occurred_at)
    }
}

/// Schedule a follow-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleFollowUp {
    /// The lead or deal.
    pub subject: Subject,
    /// Due date.
    pub due: NaiveDate,
    /// What to do.
    pub note: String,
    /// Who (default: the actor).
    #[serde(default)]
    pub assignee: Option<UserId>,
}

#[async_trait]
impl TypedCommand for ScheduleFollowUp {
    type Output = FollowUp;
    const NAME: &'static str = "schedule_follow_up";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let subject = s.subject(self.subject).await?;
        rules::schedule_follow_up(&ctx, &subject, self.due, &self.note, self.assignee.as_ref())
    }
}

/// Mark a follow-up done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteFollowUp {
    /// The follow-up.
    pub follow_up: FollowUpId,
}

#[async_trait]
impl TypedCommand for CompleteFollowUp {
    type Output = FollowUp;
    const NAME: &'static str = "complete_follow_up";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let follow_up = s.follow_up(self.follow_up).await?;
        let subject = s.subject(follow_up.subject).await?;
        rules::complete_follow_up(&ctx, &follow_up, &subject)
    }
}

/// Record an inbound call or e-mail; it is linked to the one open lead whose
/// phone or e-mail matches, if exactly one does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReceiveCommunication {
    /// The communication.
    pub communication: InboundCommunication,
}

#[async_trait]
impl TypedCommand for ReceiveCommunication {
    type Output = Communication;
    const NAME: &'static str = "receive_communication";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let (email, phone) = rules::communication_contacts(ctx.config, &self.communication)?;
        let matches = s.leads_sharing_contact(email.as_ref(), phone.as_ref()).await?;
        rules::receive_communication(&ctx, &self.communication, &matches)
    }
}

/// Attach a communication to a lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachCommunication {
    /// The communication.
    pub communication: CommunicationId,
    /// The lead.
    pub lead: LeadId,
}

#[async_trait]
impl TypedCommand for AttachCommunication {
    type Output = Communication;
    const NAME: &'static str = "attach_communication";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let communication = s.communication(self.communication).await?;
        let source = s.communication_source(&communication).await?;
        let lead = s.lead(self.lead).await?;
        rules::attach_communication(&ctx, &communication, source.as_ref(), &lead)
    }
}

/// Create a lead from a communication and attach it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLeadFromCommunication {
    /// The communication.
    pub communication: CommunicationId,
    /// The lead's fields (e-mail and phone default to the sender's).
    pub lead: NewLead,
}

#[async_trait]
impl TypedCommand for CreateLeadFromCommunication {
    type Output = LeadFromCommunication;
    const NAME: &'static str = "create_lead_from_communication";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        let communication = s.communication(self.communication).await?;
        let source = s.communication_source(&communication).await?;
        let prepared = rules::new_lead_from_communication(&ctx, &communication, source.as_ref(), &self.lead)?;
        s.ref_is_free(&self.lead).await?;
        let number = s.store.next_lead_number().await?;
        let (uow, communication, lead) = rules::record_lead_from_communication(&ctx, &communication, prepared, number);
        Ok((uow, LeadFromCommunication { communication, lead }))
    }
}

/// Mark a communication "Ignored" (not related to sales).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IgnoreCommunication {
    /// The communication.
    pub communication: CommunicationId,
}

#[async_trait]
impl TypedCommand for IgnoreCommunication {
    type Output = Communication;
    const NAME: &'static str = "ignore_communication";

    async fn decide(&self, s: &Scope<'_>) -> Result<(UnitOfWork, Self::Output), Error> {
        let ctx = s.ctx(Self::NAME)?;
        rules::ignore_communication(&ctx, &s.communication(self.communication).await?)
    }
}

// ------------------------------------------------- constructors
//
// Commands with optional parts get a constructor taking what they need and
// `with_*` methods for the rest, so a caller spells out only what it means.

/// `$with` sets the optional `$field` of a command.
macro_rules! with {
    ($(#[$doc:meta])* $with:ident, $field:ident: $ty:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $with(mut self, $field: impl Into<$ty>) -> Self {
            self.$field = Some($field.into());
            self
        }
    };
}

impl SetConfig {
    /// Replace the configuration, whatever version is stored.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            expected_version: None,
        }
    }

    with!(
        /// Only if the stored configuration is still at this version.
        expecting, expected_version: u64
    );
}

impl MoveLeadPhase {
    /// Move `lead` to `phase`.
    pub fn new(lead: LeadId, phase: PhaseRef) -> Self {
        Self {
            lead,
            phase,
            closing_reason: None,
            note: None,
        }
    }

    with!(
        /// With the closing reason (a closing phase).
        with_closing_reason, closing_reason: Code
    );
    with!(
        /// With a note on the reason.
        with_note, note: String
    );
}

impl SetClosingReason {
    /// Record `reason` on `lead`.
    pub fn new(lead: LeadId, reason: Code) -> Self {
        Self {
            lead,
            reason,
            note: None,
        }
    }

    with!(
        /// With a note on the reason.
        with_note, note: String
    );
}

impl ChangeAccountType {
    /// Give `lead` another account type (its initial phase, if it has one).
    pub fn new(lead: LeadId, account_type: Code) -> Self {
        Self {
            lead,
            account_type,
            phase: None,
        }
    }

    with!(
        /// In this phase of the new account type.
        with_phase, phase: PhaseRef
    );
}

impl QualifyLead {
    /// Qualify `lead`: link the one matching customer or create one
    /// ([`CustomerChoice::Auto`]), and a deal from the lead's values.
    pub fn new(lead: LeadId) -> Self {
        Self {
            lead,
            customer: CustomerChoice::Auto,
            deal: DealDraft::default(),
        }
    }

    /// With this customer choice.
    #[must_use]
    pub fn with_customer(mut self, customer: CustomerChoice) -> Self {
        self.customer = customer;
        self
    }

    /// With these deal values.
    #[must_use]
    pub fn with_deal(mut self, deal: DealDraft) -> Self {
        self.deal = deal;
        self
    }
}

impl OpenDeal {
    /// Open another deal for `lead`, in the default pipeline.
    pub fn new(lead: LeadId) -> Self {
        Self {
            lead,
            pipeline: None,
            deal: DealDraft::default(),
        }
    }

    with!(
        /// In this pipeline.
        in_pipeline, pipeline: Code
    );

    /// With these deal values.
    #[must_use]
    pub fn with_deal(mut self, deal: DealDraft) -> Self {
        self.deal = deal;
        self
    }
}

impl DisqualifyLead {
    /// Disqualify `lead` for `reason` (a lost reason).
    pub fn new(lead: LeadId, reason: Code) -> Self {
        Self {
            lead,
            reason,
            note: None,
        }
    }

    with!(
        /// With a note on the reason.
        with_note, note: String
    );
}

impl WinDeal {
    /// Win `deal`, in its pipeline's first won stage.
    pub fn new(deal: DealId) -> Self {
        Self { deal, stage: None }
    }

    with!(
        /// In this won stage.
        at_stage, stage: Code
    );
}

impl LoseDeal {
    /// Lose `deal` for `reason`.
    pub fn new(deal: DealId, reason: Code) -> Self {
        Self {
            deal,
            reason,
            note: None,
        }
    }

    with!(
        /// With a note on the reason.
        with_note, note: String
    );
}

impl ReopenDeal {
    /// Reopen `deal`, in its pipeline's first open stage.
    pub fn new(deal: DealId) -> Self {
        Self { deal, stage: None }
    }

    with!(
        /// In this open stage.
        at_stage, stage: Code
    );
}

impl LogActivity {
    /// Log an activity of `kind` on `subject`, now.
    pub fn new(subject: Subject, kind: ActivityKind, summary: impl Into<String>) -> Self {
        Self {
            subject,
            kind,
            summary: summary.into(),
            body: String::new(),
            occurred_at: None,
        }
    }

    /// With a body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    with!(
        /// That happened at this time.
        occurred_at, occurred_at: DateTime<Utc>
    );
}

impl ScheduleFollowUp {
    /// A follow-up on `subject`, due on `due`, for the actor.
    pub fn new(subject: Subject, due: NaiveDate, note: impl Into<String>) -> Self {
        Self {
            subject,
            due,
            note: note.into(),
            assignee: None,
        }
    }

    with!(
        /// For this user.
        for_user, assignee: UserId
    );
}
