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

use crate::domain::activity::FollowUp;
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::ids::UserId;
use crate::domain::lead::Lead;
use thiserror::Error as ThisError;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// A command the actor's role or relation to the record does not allow.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
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
