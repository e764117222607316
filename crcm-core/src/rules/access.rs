//! Who may do what. Every command carries an [`Actor`]; a refused command
//! returns a [`PermissionError`] and changes nothing.
//!
//! | role | may |
//! |---|---|
//! | sales person | create leads they own; change leads they own or whose record team they are on, and those leads' deals; log activities on them; create customers and change their own |
//! | manager | all of the above on every lead, deal and customer; reassign owners; change record teams; configure the pipeline |
//! | admin | everything, including deleting leads |
//!
//! A lead's deals follow it: reassigning the lead or changing its record team
//! does the same to its deals. Customers are shared master data: anyone may
//! link one to a lead they work. New calls and e-mails are a shared inbox;
//! taking one off the lead it is linked to needs the right to change that lead.
//! The full matrix, command by command, is in the testing kit's
//! `permissions` module and the README.

use std::fmt;

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::domain::activity::FollowUp;
use crate::domain::config::{Config, SalesTeam, Visibility};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::ids::UserId;
use crate::domain::lead::Lead;
use crate::store::query::Visible;
use thiserror::Error as ThisError;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works their own leads (seed 004 "Sales person").
    SalesPerson,
    /// Also reassigns and configures the pipeline (seed 004 "Manager").
    Manager,
    /// Does everything.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SalesPerson => "sales person",
            Self::Manager => "manager",
            Self::Admin => "admin",
        })
    }
}

/// Who issues a command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The host application's user id.
    pub user: UserId,
    /// Their role.
    pub role: Role,
}

impl Actor {
    /// An actor.
    pub fn new(user: UserId, role: Role) -> Self {
        Self { user, role }
    }
}

/// What an actor asked to do (named in permission errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create a lead owned by someone else.
    AssignOwner,
    /// Change a lead (fields, status, phase, qualify, disqualify, documents, timeline).
    ChangeLead,
    /// Change a deal.
    ChangeDeal,
    /// Change a customer.
    ChangeCustomer,
    /// Reassign a lead to another owner.
    Reassign,
    /// Change a lead's record team.
    ChangeTeam,
    /// Delete a lead.
    DeleteLead,
    /// Change the configuration.
    Configure,
    /// Read the event feed (every lead's and deal's events).
    ReadEvents,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AssignOwner => "create a lead for another owner",
            Self::ChangeLead => "change this lead",
            Self::ChangeDeal => "change this deal",
            Self::ChangeCustomer => "change this customer",
            Self::Reassign => "reassign leads",
            Self::ChangeTeam => "change the record team",
            Self::DeleteLead => "delete leads",
            Self::Configure => "configure the pipeline",
            Self::ReadEvents => "read the event feed",
        })
    }
}

fn deny(actor: &Actor, action: Action, reason: DenyReason) -> PermissionError {
    PermissionError {
        user: actor.user.clone(),
        role: actor.role,
        action,
        reason,
    }
}

/// Why a command was not allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The command needs at least this role.
    NeedsRole {
        /// The role needed.
        role: Role,
    },
    /// The user neither owns the lead nor is on its record team.
    NotWorkingLead {
        /// The lead's number.
        number: u64,
        /// Its owner.
        owner: UserId,
    },
    /// The user neither owns the deal nor is on its team.
    NotWorkingDeal {
        /// The deal's owner.
        owner: UserId,
    },
    /// Only the owner (or a manager) may do this.
    NotOwner {
        /// The owner.
        owner: UserId,
    },
    /// The actor's role does not see every lead ([`Visibility::All`]).
    SeesSomeLeads {
        /// What the role sees.
        visibility: Visibility,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NeedsRole { role } => write!(f, "needs the {role} role"),
            Self::NotWorkingLead { number, owner } => {
                write!(
                    f,
                    "lead {number} is owned by {owner} and the user is not on its record team"
                )
            }
            Self::NotWorkingDeal { owner } => write!(f, "the deal is owned by {owner} and the user is not on its team"),
            Self::NotOwner { owner } => write!(f, "only the owner ({owner}) or a manager may do this"),
            Self::SeesSomeLeads { visibility } => {
                write!(f, "the role sees {visibility}, not every lead")
            }
        }
    }
}

/// Requires at least `role`.
pub fn require_role(actor: &Actor, role: Role, action: Action) -> Result<(), PermissionError> {
    if actor.role >= role {
        Ok(())
    } else {
        Err(deny(actor, action, DenyReason::NeedsRole { role }))
    }
}

/// A sales person changes leads they own or whose record team they are on.
pub fn can_change_lead(actor: &Actor, lead: &Lead) -> Result<(), PermissionError> {
    if actor.role >= Role::Manager || lead.is_worked_by(&actor.user) {
        Ok(())
    } else {
        Err(deny(
            actor,
            Action::ChangeLead,
            DenyReason::NotWorkingLead {
                number: lead.number,
                owner: lead.owner.clone(),
            },
        ))
    }
}

/// A sales person changes deals they own or whose team they are on. A deal's
/// owner and team are its lead's (reassigning or re-teaming the lead updates
/// them), so this is "whoever works the deal's lead".
pub fn can_change_deal(actor: &Actor, deal: &Deal) -> Result<(), PermissionError> {
    if actor.role >= Role::Manager || deal.is_worked_by(&actor.user) {
        Ok(())
    } else {
        Err(deny(
            actor,
            Action::ChangeDeal,
            DenyReason::NotWorkingDeal {
                owner: deal.owner.clone(),
            },
        ))
    }
}

/// The owner of a lead, or a manager, changes its record team.
pub fn can_change_team(actor: &Actor, lead: &Lead) -> Result<(), PermissionError> {
    if actor.role >= Role::Manager || lead.owner == actor.user {
        Ok(())
    } else {
        Err(deny(
            actor,
            Action::ChangeTeam,
            DenyReason::NotOwner {
                owner: lead.owner.clone(),
            },
        ))
    }
}

/// A customer's owner, or a manager, changes it (adds contact persons).
pub fn can_change_customer(actor: &Actor, customer: &Customer) -> Result<(), PermissionError> {
    if customer.owner == actor.user {
        Ok(())
    } else {
        require_role(actor, Role::Manager, Action::ChangeCustomer)
    }
}

/// A follow-up is completed by its assignee, or by whoever may change the
/// lead or deal it belongs to (`subject`).
pub fn can_complete_follow_up(
    actor: &Actor,
    follow_up: &FollowUp,
    subject: impl FnOnce() -> Result<(), PermissionError>,
) -> Result<(), PermissionError> {
    if follow_up.assignee == actor.user {
        Ok(())
    } else {
        subject()
    }
}

/// A sales person creates leads for themselves; assigning another owner needs a manager.
pub fn can_assign_owner(actor: &Actor, owner: &UserId) -> Result<(), PermissionError> {
    if owner == &actor.user {
        Ok(())
    } else {
        require_role(actor, Role::Manager, Action::AssignOwner)
    }
}

/// The [`Visibility`] of the actor's role under `config`.
pub fn visibility(actor: &Actor, config: &Config) -> Visibility {
    let rules = &config.settings.visibility;
    match actor.role {
        Role::SalesPerson => rules.sales_person,
        Role::Manager => rules.manager,
        Role::Admin => rules.admin,
    }
}

/// Which leads and deals the actor sees, as a store condition (`None`: all).
pub fn visible(actor: &Actor, config: &Config) -> Option<Visible> {
    visible_under(actor, visibility(actor, config), &config.sales_teams)
}

/// [`visible`] before any configuration is stored: the default
/// [`VisibilityRules`](crate::domain::config::VisibilityRules), no sales teams.
pub fn visible_by_default(actor: &Actor) -> Option<Visible> {
    let rules = crate::domain::config::VisibilityRules::default();
    let level = match actor.role {
        Role::SalesPerson => rules.sales_person,
        Role::Manager => rules.manager,
        Role::Admin => rules.admin,
    };
    visible_under(actor, level, &[])
}

fn visible_under(actor: &Actor, level: Visibility, teams: &[SalesTeam]) -> Option<Visible> {
    let me = &actor.user;
    let owners_and_member = |owners: BTreeSet<UserId>, member: bool| Visible {
        owners,
        member: member.then(|| me.clone()),
    };
    match level {
        Visibility::All => None,
        Visibility::Own => Some(owners_and_member(BTreeSet::from([me.clone()]), false)),
        Visibility::OwnAndRecordTeam => Some(owners_and_member(BTreeSet::from([me.clone()]), true)),
        Visibility::Team => {
            let mut owners = BTreeSet::from([me.clone()]);
            for team in teams.iter().filter(|t| t.members.contains(me)) {
                owners.extend(team.members.iter().cloned());
            }
            Some(owners_and_member(owners, true))
        }
    }
}

/// The refusal of a read that needs a role seeing every lead.
pub(crate) fn needs_full_visibility(actor: &Actor, visibility: Visibility) -> PermissionError {
    deny(actor, Action::ReadEvents, DenyReason::SeesSomeLeads { visibility })
}

/// Whether the actor sees a lead (see [`visible`]).
pub fn sees_lead(seen: Option<&Visible>, lead: &Lead) -> bool {
    seen.is_none_or(|v| v.sees(&lead.owner, &lead.team))
}

/// Whether the actor sees a deal: its owner and team are its lead's.
pub fn sees_deal(seen: Option<&Visible>, deal: &Deal) -> bool {
    seen.is_none_or(|v| v.sees(&deal.owner, &deal.team))
}

/// A command the actor's role or relation to the record does not allow.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[error("{user} ({role}) may not {action}: {reason}")]
pub struct PermissionError {
    /// Who asked.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// What they asked to do.
    pub action: Action,
    /// Why it is refused.
    pub reason: DenyReason,
}
