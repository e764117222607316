//! The three state machines as pure functions: a state and an action give the
//! next state or a typed refusal. The command rules in [`crate::rules`] build on
//! these; nothing else decides a transition.
//!
//! # How lifecycle and phase relate
//!
//! The **lifecycle status** says what happened to the lead as a sale (seeds 001,
//! 002); the **phase** says where it stands in its account type's funnel (seed
//! 000; seed 003's configurable "lead status"). They move independently, except:
//!
//! | event | status | phase |
//! |---|---|---|
//! | create | New | the account type's Initial phase (none if it has no phases) |
//! | set New / Contacted, Qualify | as named | unchanged |
//! | a linked deal is won | Converted | the closing phase with outcome `won`, if configured |
//! | Disqualify / Lost (with reason) | Disqualified | the closing phase with outcome `lost` ("the status configured as Lost", seed 003), if configured |
//! | Reopen | the status before it was closed | the phase before it was closed |
//! | the only won deal is reopened | Qualified | the phase before conversion |
//! | Merge into another lead | Merged | unchanged |
//! | move phase | unchanged (only while the status is open) | any phase of the lead's account type |
//!
//! A lead is *closed* when its status is Converted, Disqualified or Merged, or
//! when it sits in a closing phase: closed leads leave the board, are never
//! proposed as duplicates, and are not qualified or merged. A closing reason
//! exists only while the lead is in a closing phase; leaving that phase clears
//! it (history keeps it).

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

use crate::domain::config::{Config, Phase, PhaseRef, StageKind};
use crate::domain::deal::DealStatus;
use crate::domain::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId};
use crate::domain::lead::{Lead, LeadStatus};

/// Lifecycle actions: what a command asks of a lead's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeadAction {
    /// Set New by hand.
    SetNew,
    /// Set Contacted by hand.
    SetContacted,
    /// Qualify.
    Qualify,
    /// A linked deal was won.
    Convert,
    /// The last won deal was reopened.
    Unconvert,
    /// Disqualify / Lost.
    Disqualify,
    /// Reopen a disqualified lead.
    Reopen,
    /// Merge into another lead.
    Merge,
    /// Be the lead another one is merged into.
    MergeInto,
    /// Open another deal (a qualified or converted lead).
    OpenDeal,
}

impl LeadAction {
    /// The action's name as shown in refusals.
    pub fn name(self) -> &'static str {
        match self {
            Self::SetNew => "set status new",
            Self::SetContacted => "set status contacted",
            Self::Qualify => "qualify",
            Self::Convert => "convert",
            Self::Unconvert => "unconvert",
            Self::Disqualify => "disqualify",
            Self::Reopen => "reopen",
            Self::Merge => "merge",
            Self::MergeInto => "merge into",
            Self::OpenDeal => "open a deal for",
        }
    }
}

impl std::fmt::Display for LeadAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The lifecycle transition table. `reopen_to` is the status saved when the
/// lead was closed (used by Reopen).
pub fn lead_transition(
    number: u64,
    status: LeadStatus,
    action: LeadAction,
    reopen_to: Option<LeadStatus>,
) -> Result<LeadStatus, LeadError> {
    use LeadAction as A;
    use LeadStatus as S;
    let refuse = || LeadError::NotAllowed { number, status, action };
    let closed = || LeadError::Closed { number, status, action };
    match (action, status) {
        (A::SetNew, S::New | S::Contacted) => Ok(S::New),
        (A::SetContacted, S::New | S::Contacted) => Ok(S::Contacted),
        (A::SetNew | A::SetContacted, _) => Err(refuse()),
        (A::Qualify, S::New | S::Contacted) => Ok(S::Qualified),
        (A::Qualify, S::Qualified) => Err(refuse()),
        (A::Qualify, _) => Err(closed()),
        // A won deal converts a qualified lead, or one disqualified after qualification.
        (A::Convert, S::Qualified | S::Disqualified | S::Converted) => Ok(S::Converted),
        (A::Convert, _) => Err(refuse()),
        (A::Unconvert, S::Converted) => Ok(S::Qualified),
        (A::Unconvert, _) => Err(refuse()),
        (A::Disqualify, S::New | S::Contacted | S::Qualified) => Ok(S::Disqualified),
        (A::Disqualify, _) => Err(closed()),
        (A::Reopen, S::Disqualified) => Ok(match reopen_to {
            Some(prev @ (S::New | S::Contacted | S::Qualified)) => prev,
            _ => S::Contacted,
        }),
        (A::Reopen, _) => Err(refuse()),
        (A::Merge, S::New | S::Contacted) => Ok(S::Merged),
        (A::Merge, S::Qualified) => Err(refuse()),
        (A::Merge, _) => Err(closed()),
        (A::MergeInto, S::New | S::Contacted | S::Qualified) => Ok(status),
        (A::MergeInto, _) => Err(closed()),
        (A::OpenDeal, S::Qualified | S::Converted) => Ok(status),
        (A::OpenDeal, _) => Err(refuse()),
    }
}

/// Only New and Contacted are picked by hand (seed 001: "The status dropdown on
/// the lead page only offers New and Contacted"); the others name the action
/// that reaches them.
pub fn manual_status_action(status: LeadStatus) -> Result<LeadAction, LeadError> {
    let requires = |reached_by| LeadError::StatusRequiresAction { status, reached_by };
    match status {
        LeadStatus::New => Ok(LeadAction::SetNew),
        LeadStatus::Contacted => Ok(LeadAction::SetContacted),
        LeadStatus::Qualified => Err(requires(LeadAction::Qualify)),
        LeadStatus::Converted => Err(requires(LeadAction::Convert)),
        LeadStatus::Disqualified => Err(requires(LeadAction::Disqualify)),
        LeadStatus::Merged => Err(requires(LeadAction::Merge)),
    }
}

/// A lead's phase (and account type) moves only while its status is open.
pub fn phase_may_move(lead: &Lead) -> Result<(), PhaseError> {
    if lead.status.is_closed() {
        return Err(PhaseError::LeadClosed {
            number: lead.number,
            status: lead.status,
        });
    }
    Ok(())
}

/// The phase a lead may move to: one of its account type's phases (seed 000:
/// "Each lead phase belongs to one account type"), and only while its status is open.
pub fn phase_target<'c>(config: &'c Config, lead: &Lead, target: &PhaseRef) -> Result<&'c Phase, PhaseError> {
    phase_may_move(lead)?;
    allowed_phase(config, &lead.account_type, target)
}

/// Checks that a phase exists and is allowed for an account type.
pub fn allowed_phase<'c>(config: &'c Config, account_type: &Code, target: &PhaseRef) -> Result<&'c Phase, PhaseError> {
    let Some(phase) = config.phase(target) else {
        return Err(PhaseError::UnknownPhase { phase: target.clone() });
    };
    let allowed = config.allowed_phases(account_type);
    if allowed.is_empty() {
        return Err(PhaseError::NoPhases {
            account_type: account_type.clone(),
        });
    }
    if allowed.iter().any(|p| p.reference() == *target) {
        Ok(phase)
    } else {
        Err(PhaseError::NotInAccountType {
            phase: target.clone(),
            account_type: account_type.clone(),
        })
    }
}

/// Seed 000: "Only a closing phase lets you record why a deal was won or lost."
pub fn closing_reason_allowed(config: &Config, lead: &Lead) -> Result<(), PhaseError> {
    if lead.in_closing_phase(config) {
        Ok(())
    } else {
        Err(PhaseError::NotClosingPhase {
            number: lead.number,
            phase: lead.phase.clone(),
        })
    }
}

/// Deal actions. Their JSON form is one string, like every other action's:
/// `move_to_open`, `move_to_won`, `move_to_lost`, `win`, `lose`, `reopen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DealAction {
    /// Move to a stage of this kind.
    MoveTo(StageKind),
    /// Win.
    Win,
    /// Lose (with a reason).
    Lose,
    /// Reopen a won or lost deal.
    Reopen,
}

/// [`DealAction::code`] of each of [`DealAction::ALL`].
const DEAL_ACTION_CODES: &[&str] = &["move_to_open", "move_to_won", "move_to_lost", "win", "lose", "reopen"];

impl Serialize for DealAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for DealAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::ALL
            .into_iter()
            .find(|a| a.code() == text)
            .ok_or_else(|| serde::de::Error::unknown_variant(&text, DEAL_ACTION_CODES))
    }
}

impl std::fmt::Display for DealAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl DealAction {
    /// Every action, in the order of [`Self::code`]'s list.
    pub const ALL: [Self; 6] = [
        Self::MoveTo(StageKind::Open),
        Self::MoveTo(StageKind::Won),
        Self::MoveTo(StageKind::Lost),
        Self::Win,
        Self::Lose,
        Self::Reopen,
    ];

    /// The action's JSON form.
    pub fn code(self) -> &'static str {
        match self {
            Self::MoveTo(StageKind::Open) => "move_to_open",
            Self::MoveTo(StageKind::Won) => "move_to_won",
            Self::MoveTo(StageKind::Lost) => "move_to_lost",
            Self::Win => "win",
            Self::Lose => "lose",
            Self::Reopen => "reopen",
        }
    }

    /// The action's name as shown in refusals.
    pub fn name(self) -> &'static str {
        match self {
            Self::MoveTo(StageKind::Open) => "move to an open stage",
            Self::MoveTo(StageKind::Won) => "move to a won stage",
            Self::MoveTo(StageKind::Lost) => "move to a lost stage",
            Self::Win => "win",
            Self::Lose => "lose",
            Self::Reopen => "reopen",
        }
    }
}

/// The deal transition table.
pub fn deal_transition(status: DealStatus, action: DealAction, stage: &Code) -> Result<DealStatus, DealError> {
    use DealAction as A;
    use DealStatus as S;
    let refuse = || DealError::NotAllowed { status, action };
    match (action, status) {
        (A::MoveTo(StageKind::Open), S::Open) => Ok(S::Open),
        // Between two won stages the deal stays won (and keeps its first close date).
        (A::MoveTo(StageKind::Won), S::Open | S::Won) => Ok(S::Won),
        (A::MoveTo(StageKind::Lost), _) => Err(DealError::LostNeedsReason { stage: stage.clone() }),
        (A::Win, S::Open) => Ok(S::Won),
        (A::Lose, S::Open) => Ok(S::Lost),
        (A::Reopen, S::Won | S::Lost) => Ok(S::Open),
        _ => Err(refuse()),
    }
}

/// A refused lead lifecycle command (New, Contacted, Qualified, Converted, Disqualified, Merged).
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum LeadError {
    /// Seed 001: only New and Contacted are picked by hand; other statuses are reached by an action.
    #[error("status {status} cannot be set by hand; it is reached by the action {reached_by}")]
    StatusRequiresAction {
        /// The status asked for.
        status: LeadStatus,
        /// The action that reaches it.
        reached_by: LeadAction,
    },
    /// The action is not possible from the lead's current status.
    #[error("cannot {action} lead {number} while it is {status}")]
    NotAllowed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
        /// The action refused.
        action: LeadAction,
    },
    /// Qualify found existing customers matching the lead's e-mail or phone; the caller must choose.
    #[error("lead {number} matches {} existing customers; choose to link one or to create a new customer", .candidates.len())]
    CustomerChoiceRequired {
        /// The lead's number.
        number: u64,
        /// The matching customers.
        candidates: Vec<CustomerId>,
    },
    /// Seed 001: "Quotations always belong to a deal — you must qualify the lead first."
    #[error("quotations belong to deals: {}", if .deals.is_empty() { format!("qualify lead {} first", .number) } else { format!("attach it to one of the lead's {} deals", .deals.len()) })]
    QuotationRequiresDeal {
        /// The lead's number.
        number: u64,
        /// The lead's deals (empty when it is not qualified).
        deals: Vec<DealId>,
    },
    /// Seed 003: a lead with linked documents, communications or deals is not deleted.
    #[error("lead {number} cannot be deleted while it has links: {links}")]
    HasLinks {
        /// The lead's number.
        number: u64,
        /// What is linked, by id.
        links: Box<LeadLinks>,
    },
    /// A lead cannot be merged into itself.
    #[error("a lead cannot be merged into itself")]
    MergeIntoSelf,
    /// The lead's closed status forbids the action (closed leads are not qualified or merged again).
    #[error("lead {number} is closed ({status}, or in a closing phase); {action} is refused")]
    Closed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
        /// The action refused.
        action: LeadAction,
    },
    /// The lead was merged into another one: work on that one instead.
    #[error("lead {number} was merged into another lead; it no longer changes")]
    Merged {
        /// The lead's number.
        number: u64,
        /// The lead it was merged into.
        into: Option<LeadId>,
    },
    /// Another lead has this external reference already.
    #[error("lead {number} has the external reference {external_ref} already")]
    ExternalRefTaken {
        /// The reference, `system:id`.
        external_ref: String,
        /// The number of the lead that has it.
        number: u64,
    },
    /// The lead is no longer at the version the command names: it changed since.
    #[error("lead {number} changed since version {expected} (it is at version {found}); it is left as it is")]
    Changed {
        /// The lead's number.
        number: u64,
        /// The version the command names.
        expected: u64,
        /// The lead's version.
        found: u64,
    },
}

/// What is linked to a lead; a lead with any link is not deleted (seed 003).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeadLinks {
    /// Linked documents (orders, invoices), by the ERP's id.
    pub documents: Vec<String>,
    /// Deals created from it.
    pub deals: Vec<DealId>,
    /// Calls and e-mails attached to it.
    pub communications: Vec<CommunicationId>,
    /// Activities on its timeline.
    pub activities: Vec<ActivityId>,
    /// Follow-ups on its timeline.
    pub follow_ups: Vec<FollowUpId>,
}

impl LeadLinks {
    /// No link at all.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
            && self.deals.is_empty()
            && self.communications.is_empty()
            && self.activities.is_empty()
            && self.follow_ups.is_empty()
    }
}

impl std::fmt::Display for LeadLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.documents.len(), "documents"),
            (self.deals.len(), "deals"),
            (self.communications.len(), "calls/e-mails"),
            (self.activities.len(), "activities"),
            (self.follow_ups.len(), "follow-ups"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        f.write_str(&parts.join(", "))
    }
}

/// A refused lead phase command.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum PhaseError {
    /// Seed 000: "Each lead phase belongs to one account type."
    #[error("phase {phase} does not belong to account type {account_type}")]
    NotInAccountType {
        /// The phase asked for.
        phase: PhaseRef,
        /// The lead's account type.
        account_type: Code,
    },
    /// The phase code names no phase.
    #[error("unknown phase {phase}")]
    UnknownPhase {
        /// The phase asked for.
        phase: PhaseRef,
    },
    /// The account type has no phases and the settings allow none.
    #[error("account type {account_type} has no phases")]
    NoPhases {
        /// The account type.
        account_type: Code,
    },
    /// Seed 004 FAQ: changing the type needs a phase that is valid for the new type.
    #[error("changing the account type to {account_type} needs a phase of that type")]
    PhaseRequiredForAccountType {
        /// The new account type.
        account_type: Code,
    },
    /// Seed 000: "Only a closing phase lets you record why a deal was won or lost."
    #[error(
        "a closing reason can only be recorded in a closing phase; lead {number} is in {}",
        .phase.as_ref().map_or_else(|| "no phase".to_owned(), ToString::to_string)
    )]
    NotClosingPhase {
        /// The lead's number.
        number: u64,
        /// The phase it is in, or would be in (`null`: none).
        phase: Option<PhaseRef>,
    },
    /// The lead's status is closed, so its phase does not move.
    #[error("lead {number} is {status}; reopen it before moving its phase")]
    LeadClosed {
        /// The lead's number.
        number: u64,
        /// Its status.
        status: LeadStatus,
    },
}

/// A refused deal command.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum DealError {
    /// The stage is not part of the deal's pipeline.
    #[error("stage {stage} is not in pipeline {pipeline}")]
    StageNotInPipeline {
        /// The stage asked for.
        stage: Code,
        /// The deal's pipeline.
        pipeline: Code,
    },
    /// The action is not possible from the deal's status.
    #[error("cannot {action} a deal that is {status}")]
    NotAllowed {
        /// The deal's status.
        status: DealStatus,
        /// The action refused.
        action: DealAction,
    },
    /// The stage chosen is of another kind than the action needs (e.g. an
    /// open stage to win with).
    #[error("stage {stage} is {} stage; this action needs {} stage", kind.with_article(), expected.with_article())]
    WrongStageKind {
        /// The stage chosen.
        stage: Code,
        /// Its kind.
        kind: StageKind,
        /// The kind the action needs.
        expected: StageKind,
    },
    /// The deal's pipeline has no stage of the kind the action needs.
    #[error("pipeline {pipeline} has no {kind} stage")]
    NoStageOfKind {
        /// The pipeline.
        pipeline: Code,
        /// The kind needed.
        kind: StageKind,
    },
    /// A lost stage is reached through LoseDeal, which records a reason.
    #[error("stage {stage} is a lost stage: use LoseDeal with a reason")]
    LostNeedsReason {
        /// The stage asked for.
        stage: Code,
    },
    /// Won and lost deals have a fixed probability (100 and 0).
    #[error("the probability of a {status} deal is fixed")]
    ProbabilityFixed {
        /// The deal's status.
        status: DealStatus,
    },
}

/// A refused command on an inbound communication.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum CommunicationError {
    /// The communication was marked ignored (not related to sales).
    #[error("communication {} is marked ignored", .communication.0)]
    Ignored {
        /// The communication.
        communication: CommunicationId,
    },
    /// A communication linked to a lead is not ignored; detach it first.
    #[error("communication {} is linked to a lead and cannot be ignored", .communication.0)]
    Linked {
        /// The communication.
        communication: CommunicationId,
        /// The lead it is linked to.
        lead: Option<LeadId>,
    },
}

/// Which configured list a reason comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// A closing reason (recorded in a closing phase).
    Closing,
    /// A lost reason (Disqualify, Lost, losing a deal).
    Lost,
}

impl std::fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Closing => "closing reason",
            Self::Lost => "lost reason",
        })
    }
}

/// A reason (closing or lost) that is unknown or lacks its note.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum ReasonError {
    /// The code names no configured reason.
    #[error("unknown {kind} {code}")]
    Unknown {
        /// Closing or lost.
        kind: ReasonKind,
        /// The code given.
        code: Code,
    },
    /// The reason is configured to need a note, and none was given.
    #[error("the {kind} {code} needs a note")]
    NoteRequired {
        /// Closing or lost.
        kind: ReasonKind,
        /// The reason chosen.
        code: Code,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deal_actions_are_one_string_each_and_read_back() {
        assert_eq!(DealAction::ALL.map(DealAction::code).as_slice(), DEAL_ACTION_CODES);
        for action in DealAction::ALL {
            let text = serde_json::to_string(&action).unwrap_or_default();
            assert_eq!(text, format!("\"{}\"", action.code()));
            assert_eq!(serde_json::from_str::<DealAction>(&text).ok(), Some(action));
        }
        let refused = serde_json::from_str::<DealAction>("\"move_to\"")
            .err()
            .map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("move_to_open")));
    }
}
