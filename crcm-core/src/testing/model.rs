//! The reference model of the three state machines, and the
//! `proptest-state-machine` test that drives the real [`Engine`] with random
//! command sequences (valid and invalid) and compares it with the model after
//! every step.
//!
//! The model restates each rule in the simplest terms, independently of
//! [`crate::rules`]; when the two disagree, the test fails and shrinks to the
//! shortest sequence that shows it.
//!
//! It covers every command that changes leads, deals, customers, timelines
//! and communications (configuration changes have their own conformance
//! cases): create, edit, status, phase, closing reason, account type,
//! qualify, open another deal, disqualify, reopen, merge, reassign, record
//! team, delete, documents on leads and deals, deal stages, win, lose,
//! reopen, probability, activities, follow-ups, customers and their
//! contacts, and inbound communications (receive, attach, create a lead
//! from one, ignore).
//!
//! Invariants checked after every step, on the state read back from the store,
//! stated over the fixture's phase table rather than the rule helpers:
//! Qualified or Converted ⇒ a customer and at least one deal; Converted ⇒ a
//! won deal; Disqualified ⇒ a reason; a closing reason ⇒ a closing phase; a
//! phase ⇒ one of the lead's account type; a deal has its lead's owner and
//! team; a refused command changed nothing; history has one entry per
//! applied change; events are gap-free.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use super::{StoreFactory, ann, bob, configured, fixture_config, maria, phase, root};
use crate::domain::activity::{CommunicationKind, CommunicationStatus, Subject};
use crate::domain::config::{Config, PhaseRef, PhaseType, UnphasedAccountTypes};
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::ids::{Code, LeadId};
use crate::domain::input::{
    CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
};
use crate::domain::lead::{DocumentKind, Lead, LeadStatus};
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::commands::Command;
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::store::StoreExt;
use crate::store::tally::BoardCell;

/// Who issues a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// A sales person.
    Ann,
    /// Another sales person.
    Bob,
    /// A manager.
    Maria,
    /// An administrator.
    Root,
}

impl Who {
    /// The actor.
    pub fn actor(self) -> Actor {
        match self {
            Self::Ann => ann(),
            Self::Bob => bob(),
            Self::Maria => maria(),
            Self::Root => root(),
        }
    }

    fn is_manager(self) -> bool {
        matches!(self, Self::Maria | Self::Root)
    }
}

/// The fixture's account types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum At {
    /// `b2b`: CALL, MEETING, QUOTE, WON (won), LOST (lost).
    B2b,
    /// `b2c`: INTRO, CLOSED.
    B2c,
    /// `partner`: no phases.
    Partner,
}

/// A phase of the fixture: account type and code.
pub type MPhase = (At, &'static str);

/// An amount in US dollars (minor units), built without the rules' checks.
fn model_usd(minor: i64) -> crate::domain::money::Money {
    crate::domain::money::Money {
        minor,
        currency: crate::domain::money::Currency::new("USD").unwrap_or_else(|e| panic!("{e}")),
    }
}

const ACCOUNT_TYPES: [At; 3] = [At::B2b, At::B2c, At::Partner];

const PHASES: [(At, &str, PhaseType); 7] = [
    (At::B2b, "CALL", PhaseType::Initial),
    (At::B2b, "MEETING", PhaseType::Regular),
    (At::B2b, "QUOTE", PhaseType::Regular),
    (At::B2b, "WON", PhaseType::Closing),
    (At::B2b, "LOST", PhaseType::Closing),
    (At::B2c, "INTRO", PhaseType::Initial),
    (At::B2c, "CLOSED", PhaseType::Closing),
];

impl At {
    fn code(self) -> &'static str {
        match self {
            Self::B2b => "b2b",
            Self::B2c => "b2c",
            Self::Partner => "partner",
        }
    }
    fn initial(self) -> Option<MPhase> {
        match self {
            Self::B2b => Some((Self::B2b, "CALL")),
            Self::B2c => Some((Self::B2c, "INTRO")),
            Self::Partner => None,
        }
    }
    fn lost_phase(self) -> Option<MPhase> {
        (self == Self::B2b).then_some((Self::B2b, "LOST"))
    }
    fn won_phase(self) -> Option<MPhase> {
        (self == Self::B2b).then_some((Self::B2b, "WON"))
    }
    fn has_phases(self) -> bool {
        self != Self::Partner
    }
}

fn closing(p: Option<MPhase>) -> bool {
    p.is_some_and(|(at, c)| {
        PHASES
            .iter()
            .any(|(a, code, t)| *a == at && *code == c && *t == PhaseType::Closing)
    })
}

fn to_ref(p: MPhase) -> PhaseRef {
    phase(p.0.code(), p.1)
}

/// A deal in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MDeal {
    /// Stage code.
    pub stage: &'static str,
    /// Status.
    pub status: DealStatus,
    /// Whether a close date is set.
    pub closed_on: bool,
    /// Whether a lost reason is set.
    pub lost: bool,
    /// A probability set by hand.
    pub manual: Option<u8>,
    /// Linked documents (order ids).
    pub documents: BTreeSet<u8>,
    /// The title set by an edit, as `Deal <n>` (`None`: the one Qualify gave).
    pub title: Option<u8>,
    /// Creation order among all deals (a lead lists its deals in it).
    pub born: usize,
}

impl MDeal {
    /// A new deal: open, at the sales pipeline's first stage.
    fn new(born: usize) -> Self {
        Self {
            born,
            stage: "prospecting",
            status: DealStatus::Open,
            closed_on: false,
            lost: false,
            manual: None,
            documents: BTreeSet::new(),
            title: None,
        }
    }

    /// Won deals are certain, lost ones hopeless; an open deal's chance is
    /// the one set by hand, else its stage's.
    fn probability(&self, v: &Variant) -> u8 {
        match self.status {
            DealStatus::Won => 100,
            DealStatus::Lost => 0,
            DealStatus::Open => self.manual.unwrap_or_else(|| v.stage_probability(self.stage)),
        }
    }
}

/// A lead in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MLead {
    /// Owner.
    pub owner: Who,
    /// Account type.
    pub at: At,
    /// Lifecycle status.
    pub status: LeadStatus,
    /// Phase.
    pub phase: Option<MPhase>,
    /// Closing reason and whether it has a note.
    pub closing: Option<(&'static str, bool)>,
    /// Lost reason and whether it has a note.
    pub lost: Option<(&'static str, bool)>,
    /// Where Reopen / un-conversion returns.
    pub reopen_point: Option<(LeadStatus, Option<MPhase>)>,
    /// E-mail group: leads of one group share an address (customer matching).
    pub group: u8,
    /// Linked to a customer.
    pub has_customer: bool,
    /// The lead's deals: the one Qualify made, then those OpenDeal added.
    pub deals: Vec<MDeal>,
    /// History entries (one per applied change).
    pub changes: usize,
    /// The record team (one member at most in the model).
    pub team: Option<Who>,
    /// The description, as `note <n>`.
    pub description: Option<u8>,
    /// Linked documents (order ids).
    pub documents: BTreeSet<u8>,
    /// Activities on its timeline.
    pub activities: usize,
    /// Follow-ups on its timeline: assignee, done, and creation order among
    /// all follow-ups (a lead lists its follow-ups in it).
    pub follow_ups: Vec<(Who, bool, usize)>,
    /// Communications attached to it.
    pub communications: usize,
    /// Deleted.
    pub deleted: bool,
}

impl MLead {
    fn new(owner: Who, at: At, group: u8) -> Self {
        Self {
            owner,
            at,
            status: LeadStatus::New,
            phase: at.initial(),
            closing: None,
            lost: None,
            reopen_point: None,
            group,
            has_customer: false,
            deals: Vec::new(),
            changes: 1,
            team: None,
            description: None,
            documents: BTreeSet::new(),
            activities: 0,
            follow_ups: Vec::new(),
            communications: 0,
            deleted: false,
        }
    }

    /// Whether `who` may change the lead: its owner, its team, or a manager.
    fn may(&self, who: Who) -> bool {
        who.is_manager() || who == self.owner || self.team == Some(who)
    }

    /// Open by status and not in a closing phase: may be matched and merged into.
    fn open(&self) -> bool {
        self.open_status() && !closing(self.phase) && !self.deleted
    }

    fn open_status(&self) -> bool {
        matches!(
            self.status,
            LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified
        )
    }

    /// Enters a phase: a change clears the closing reason, as does a non-closing phase.
    fn enter(&mut self, p: Option<MPhase>) {
        if self.phase != p {
            self.phase = p;
            self.closing = None;
        }
        if !closing(self.phase) {
            self.closing = None;
        }
    }
}

/// An inbound communication in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MComm {
    /// The sender's e-mail group.
    pub group: u8,
    /// New, linked or ignored.
    pub status: CommunicationStatus,
    /// The lead it is linked to.
    pub lead: Option<usize>,
}

/// A customer created directly, in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MCustomer {
    /// Its owner (who created it).
    pub owner: Who,
    /// Its contact persons.
    pub contacts: usize,
}

/// The configuration a case runs under: the fixture, with generated changes
/// to what the rules read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Reasons (closing and lost alike) that need a note.
    pub notes: BTreeSet<&'static str>,
    /// Probabilities of the open stages `prospecting` and `proposal`.
    pub probabilities: (u8, u8),
    /// Account types without phases of their own (partner) may use every phase.
    pub partner_any_phase: bool,
}

impl Default for Variant {
    /// The fixture as it is.
    fn default() -> Self {
        Self {
            notes: BTreeSet::from(["other"]),
            probabilities: (10, 40),
            partner_any_phase: false,
        }
    }
}

impl Variant {
    /// The configuration this variant stands for.
    pub fn config(&self) -> Config {
        let mut c = fixture_config();
        for r in &mut c.closing_reasons {
            r.requires_note = self.notes.contains(r.code.as_str());
        }
        for r in &mut c.lost_reasons {
            r.requires_note = self.notes.contains(r.code.as_str());
        }
        for p in &mut c.pipelines {
            for s in &mut p.stages {
                match s.code.as_str() {
                    "prospecting" => s.probability = self.probabilities.0,
                    "proposal" => s.probability = self.probabilities.1,
                    _ => {}
                }
            }
        }
        c.settings.unphased_account_types = if self.partner_any_phase {
            UnphasedAccountTypes::AllowAllPhases
        } else {
            UnphasedAccountTypes::NoPhases
        };
        c
    }

    /// Whether a lead of `at` may be in phase `p`.
    fn allowed(&self, at: At, p: MPhase) -> bool {
        p.0 == at || (!at.has_phases() && self.partner_any_phase)
    }

    /// Whether leads of `at` have phases to choose from.
    fn has_phases(&self, at: At) -> bool {
        at.has_phases() || self.partner_any_phase
    }

    /// A known reason, with its note when it needs one.
    fn reason_ok(&self, reason: &str, known: &[&str], note: bool) -> bool {
        known[..4].contains(&reason) && (!self.notes.contains(reason) || note)
    }

    /// An open deal's probability at `stage`.
    fn stage_probability(&self, stage: &str) -> u8 {
        match stage {
            "prospecting" => self.probabilities.0,
            "proposal" => self.probabilities.1,
            _ => 100,
        }
    }
}

fn variant() -> impl Strategy<Value = Variant> {
    let reasons =
        proptest::sample::subsequence(vec!["won", "lost", "competitor", "other", "no_budget", "no_fit"], 0..=3);
    prop_oneof![
        2 => Just(Variant::default()),
        3 => (reasons, 0u8..=100, 0u8..=100, any::<bool>()).prop_map(|(notes, a, b, partner_any_phase)| Variant {
            notes: notes.into_iter().collect(),
            probabilities: (a, b),
            partner_any_phase,
        }),
    ]
}

/// What the model expects of the last step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Expect {
    /// Accepted (possibly changing nothing).
    #[default]
    Applied,
    /// Refused with an error of this [`Error::kind`].
    Refused(&'static str),
}

/// The model's state.
#[derive(Clone, Debug, Default)]
pub struct ModelState {
    /// The leads created so far.
    pub leads: Vec<MLead>,
    /// E-mail groups that have a customer.
    pub customer_groups: BTreeSet<u8>,
    /// Inbound communications.
    pub comms: Vec<MComm>,
    /// Customers created directly.
    pub customers: Vec<MCustomer>,
    /// The expected outcome of the last step.
    pub last: Expect,
    /// The configuration of this case.
    pub variant: Variant,
}

/// One random command.
#[derive(Clone, Debug)]
pub enum Step {
    /// Create a lead (with a valid e-mail or not).
    Create {
        /// Actor (and owner).
        who: Who,
        /// Account type.
        at: At,
        /// E-mail group.
        group: u8,
        /// Whether the e-mail is valid.
        valid_email: bool,
    },
    /// Set a status by hand.
    SetStatus {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Status asked for.
        status: LeadStatus,
    },
    /// Move to a phase (any fixture phase), maybe with a closing reason.
    MovePhase {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Target.
        phase: MPhase,
        /// Closing reason.
        reason: Option<&'static str>,
    },
    /// Record a closing reason.
    SetClosingReason {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Reason code (may be unknown).
        reason: &'static str,
        /// With a note.
        note: bool,
    },
    /// Change the account type.
    ChangeAccountType {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// New type.
        at: At,
        /// New phase.
        phase: Option<MPhase>,
    },
    /// Qualify.
    Qualify {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Create a customer even when one matches.
        create: bool,
    },
    /// Disqualify.
    Disqualify {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Reason code (may be unknown).
        reason: &'static str,
        /// With a note.
        note: bool,
    },
    /// Reopen.
    Reopen {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
    },
    /// Open another deal for the lead.
    OpenDeal {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
    },
    /// Move one of the lead's deals.
    MoveDeal {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
        /// Stage of the sales pipeline.
        stage: &'static str,
    },
    /// Win one of the lead's deals.
    WinDeal {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
    },
    /// Lose one of the lead's deals.
    LoseDeal {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
        /// Reason code (may be unknown).
        reason: &'static str,
        /// With a note.
        note: bool,
    },
    /// Reopen one of the lead's deals.
    ReopenDeal {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
    },
    /// Give the lead another owner (its deals follow).
    Reassign {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// The new owner.
        to: Who,
    },
    /// Merge the lead into another.
    Merge {
        /// Lead index.
        lead: usize,
        /// The lead that remains.
        into: usize,
        /// Actor.
        who: Who,
    },
    /// Replace the record team.
    SetTeam {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// The new team (empty or one member).
        team: Option<Who>,
    },
    /// Edit the description (valid) or set an overlong title (invalid).
    Update {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Valid input.
        valid: bool,
        /// Which description.
        text: u8,
    },
    /// Link a document to the lead.
    LinkDocument {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// A quotation (refused on a lead) rather than an order.
        quotation: bool,
        /// The document's id.
        id: u8,
    },
    /// Log an activity on the lead.
    LogActivity {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
    },
    /// Schedule a follow-up on the lead.
    ScheduleFollowUp {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
        /// Assignee (default: the actor).
        assignee: Option<Who>,
    },
    /// Complete one of the lead's follow-ups.
    CompleteFollowUp {
        /// Lead index.
        lead: usize,
        /// Follow-up index (modulo the lead's number of follow-ups).
        index: usize,
        /// Actor.
        who: Who,
    },
    /// Set one of the lead's deals' probability by hand (or back to the stage's).
    SetProbability {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
        /// The probability (may be out of range).
        probability: Option<u8>,
    },
    /// Edit one of the lead's deals' title (`None`: an empty one, refused).
    UpdateDeal {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
        /// The title, as `Deal <n>`.
        title: Option<u8>,
    },
    /// Link a document to one of the lead's deals.
    LinkDealDocument {
        /// Lead index.
        lead: usize,
        /// Deal index (modulo the lead's number of deals).
        deal: usize,
        /// Actor.
        who: Who,
        /// The document's id.
        id: u8,
    },
    /// Delete the lead.
    Delete {
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
    },
    /// Receive an e-mail from an e-mail group's address.
    Receive {
        /// The sender's group.
        group: u8,
        /// A valid sender address.
        valid: bool,
    },
    /// Attach a communication to a lead.
    Attach {
        /// Communication index.
        comm: usize,
        /// Lead index.
        lead: usize,
        /// Actor.
        who: Who,
    },
    /// Create a lead from a communication.
    LeadFromCommunication {
        /// Communication index.
        comm: usize,
        /// Actor (and owner).
        who: Who,
    },
    /// Mark a communication ignored.
    Ignore {
        /// Communication index.
        comm: usize,
        /// Actor.
        who: Who,
    },
    /// Create a customer, with a group's e-mail or none.
    CreateCustomer {
        /// Actor (and owner).
        who: Who,
        /// E-mail group.
        group: Option<u8>,
        /// With a name (valid) or without.
        valid: bool,
    },
    /// Add a contact person to a customer.
    AddContact {
        /// Customer index.
        customer: usize,
        /// Actor.
        who: Who,
    },
}

impl Step {
    fn target(&self) -> Option<usize> {
        match self {
            Self::Create { .. }
            | Self::Receive { .. }
            | Self::LeadFromCommunication { .. }
            | Self::Ignore { .. }
            | Self::CreateCustomer { .. }
            | Self::AddContact { .. } => None,
            Self::SetStatus { lead, .. }
            | Self::MovePhase { lead, .. }
            | Self::SetClosingReason { lead, .. }
            | Self::ChangeAccountType { lead, .. }
            | Self::Qualify { lead, .. }
            | Self::Disqualify { lead, .. }
            | Self::Reopen { lead, .. }
            | Self::OpenDeal { lead, .. }
            | Self::MoveDeal { lead, .. }
            | Self::WinDeal { lead, .. }
            | Self::LoseDeal { lead, .. }
            | Self::ReopenDeal { lead, .. }
            | Self::Reassign { lead, .. }
            | Self::Merge { lead, .. }
            | Self::SetTeam { lead, .. }
            | Self::Update { lead, .. }
            | Self::LinkDocument { lead, .. }
            | Self::LogActivity { lead, .. }
            | Self::ScheduleFollowUp { lead, .. }
            | Self::CompleteFollowUp { lead, .. }
            | Self::SetProbability { lead, .. }
            | Self::LinkDealDocument { lead, .. }
            | Self::UpdateDeal { lead, .. }
            | Self::Delete { lead, .. }
            | Self::Attach { lead, .. } => Some(*lead),
        }
    }

    fn needs_deal(&self) -> bool {
        matches!(
            self,
            Self::MoveDeal { .. }
                | Self::WinDeal { .. }
                | Self::LoseDeal { .. }
                | Self::ReopenDeal { .. }
                | Self::SetProbability { .. }
                | Self::LinkDealDocument { .. }
                | Self::UpdateDeal { .. }
        )
    }
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![4 => Just(Who::Ann), 3 => Just(Who::Bob), 2 => Just(Who::Maria), 1 => Just(Who::Root)]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![4 => Just(At::B2b), 2 => Just(At::B2c), 1 => Just(At::Partner)]
}

fn any_phase() -> impl Strategy<Value = MPhase> {
    proptest::sample::select(PHASES.iter().map(|(a, c, _)| (*a, *c)).collect::<Vec<_>>())
}

fn status() -> impl Strategy<Value = LeadStatus> {
    prop_oneof![3 => Just(LeadStatus::New), 3 => Just(LeadStatus::Contacted), 1 => proptest::sample::select(LeadStatus::ALL.to_vec())]
}

const CLOSING_REASONS: [&str; 5] = ["won", "lost", "competitor", "other", "bogus"];
const LOST_REASONS: [&str; 5] = ["no_budget", "no_fit", "competitor", "other", "bogus"];
const STAGES: [&str; 5] = ["prospecting", "proposal", "won", "invoiced", "lost"];

impl ReferenceStateMachine for PipelineModel {
    type State = ModelState;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<ModelState> {
        variant()
            .prop_map(|variant| ModelState {
                variant,
                ..ModelState::default()
            })
            .boxed()
    }

    fn transitions(state: &ModelState) -> BoxedStrategy<Step> {
        let create = (who(), at(), 0u8..3, proptest::bool::weighted(0.9))
            .prop_map(|(who, at, group, valid_email)| Step::Create {
                who,
                at,
                group,
                valid_email,
            })
            .boxed();
        let receive = (0u8..3, proptest::bool::weighted(0.9))
            .prop_map(|(group, valid)| Step::Receive { group, valid })
            .boxed();
        let customer = (
            who(),
            proptest::option::weighted(0.5, 0u8..3),
            proptest::bool::weighted(0.9),
        )
            .prop_map(|(who, group, valid)| Step::CreateCustomer { who, group, valid })
            .boxed();
        let n = state.leads.len();
        if n == 0 {
            return Union::new_weighted(vec![(6, create), (1, receive), (1, customer)]).boxed();
        }
        let lead = 0..n;
        let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
            (2, create),
            (1, receive),
            (1, customer),
            (
                1,
                (lead.clone(), lead.clone(), who())
                    .prop_map(|(lead, into, who)| Step::Merge { lead, into, who })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who(), proptest::option::of(who()))
                    .prop_map(|(lead, who, team)| Step::SetTeam { lead, who, team })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who(), proptest::bool::weighted(0.8), 0u8..3)
                    .prop_map(|(lead, who, valid, text)| Step::Update { lead, who, valid, text })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who(), proptest::bool::weighted(0.2), 0u8..3)
                    .prop_map(|(lead, who, quotation, id)| Step::LinkDocument {
                        lead,
                        who,
                        quotation,
                        id,
                    })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who())
                    .prop_map(|(lead, who)| Step::LogActivity { lead, who })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who(), proptest::option::of(who()))
                    .prop_map(|(lead, who, assignee)| Step::ScheduleFollowUp { lead, who, assignee })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who())
                    .prop_map(|(lead, who)| Step::Delete { lead, who })
                    .boxed(),
            ),
            (
                2,
                (lead.clone(), who(), status())
                    .prop_map(|(lead, who, status)| Step::SetStatus { lead, who, status })
                    .boxed(),
            ),
            (
                4,
                (
                    lead.clone(),
                    who(),
                    any_phase(),
                    proptest::option::weighted(0.25, proptest::sample::select(CLOSING_REASONS.to_vec())),
                )
                    .prop_map(|(lead, who, phase, reason)| Step::MovePhase {
                        lead,
                        who,
                        phase,
                        reason,
                    })
                    .boxed(),
            ),
            (
                1,
                (
                    lead.clone(),
                    who(),
                    proptest::sample::select(CLOSING_REASONS.to_vec()),
                    any::<bool>(),
                )
                    .prop_map(|(lead, who, reason, note)| Step::SetClosingReason {
                        lead,
                        who,
                        reason,
                        note,
                    })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who(), at(), proptest::option::weighted(0.8, any_phase()))
                    .prop_map(|(lead, who, at, phase)| Step::ChangeAccountType { lead, who, at, phase })
                    .boxed(),
            ),
            (
                4,
                (lead.clone(), who(), proptest::bool::weighted(0.3))
                    .prop_map(|(lead, who, create)| Step::Qualify { lead, who, create })
                    .boxed(),
            ),
            (
                2,
                (
                    lead.clone(),
                    who(),
                    proptest::sample::select(LOST_REASONS.to_vec()),
                    any::<bool>(),
                )
                    .prop_map(|(lead, who, reason, note)| Step::Disqualify {
                        lead,
                        who,
                        reason,
                        note,
                    })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who())
                    .prop_map(|(lead, who)| Step::Reopen { lead, who })
                    .boxed(),
            ),
            (
                1,
                (lead.clone(), who())
                    .prop_map(|(lead, who)| Step::OpenDeal { lead, who })
                    .boxed(),
            ),
            (
                1,
                (lead, who(), who())
                    .prop_map(|(lead, who, to)| Step::Reassign { lead, who, to })
                    .boxed(),
            ),
        ];
        let with_follow_up: Vec<usize> = state
            .leads
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.follow_ups.is_empty())
            .map(|(i, _)| i)
            .collect();
        if !with_follow_up.is_empty() {
            arms.push((
                1,
                (proptest::sample::select(with_follow_up), 0..3usize, who())
                    .prop_map(|(lead, index, who)| Step::CompleteFollowUp { lead, index, who })
                    .boxed(),
            ));
        }
        if !state.comms.is_empty() {
            let comm = 0..state.comms.len();
            arms.push((
                2,
                (comm.clone(), 0..n, who())
                    .prop_map(|(comm, lead, who)| Step::Attach { comm, lead, who })
                    .boxed(),
            ));
            arms.push((
                1,
                (comm.clone(), who())
                    .prop_map(|(comm, who)| Step::LeadFromCommunication { comm, who })
                    .boxed(),
            ));
            arms.push((
                1,
                (comm, who()).prop_map(|(comm, who)| Step::Ignore { comm, who }).boxed(),
            ));
        }
        if !state.customers.is_empty() {
            arms.push((
                1,
                (0..state.customers.len(), who())
                    .prop_map(|(customer, who)| Step::AddContact { customer, who })
                    .boxed(),
            ));
        }
        let with_deal: Vec<usize> = state
            .leads
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.deals.is_empty())
            .map(|(i, _)| i)
            .collect();
        if !with_deal.is_empty() {
            let pick = proptest::sample::select(with_deal);
            arms.push((
                3,
                (
                    pick.clone(),
                    0..3usize,
                    who(),
                    proptest::sample::select(STAGES.to_vec()),
                )
                    .prop_map(|(lead, deal, who, stage)| Step::MoveDeal { lead, deal, who, stage })
                    .boxed(),
            ));
            arms.push((
                3,
                (pick.clone(), 0..3usize, who())
                    .prop_map(|(lead, deal, who)| Step::WinDeal { lead, deal, who })
                    .boxed(),
            ));
            arms.push((
                2,
                (
                    pick.clone(),
                    0..3usize,
                    who(),
                    proptest::sample::select(LOST_REASONS.to_vec()),
                    any::<bool>(),
                )
                    .prop_map(|(lead, deal, who, reason, note)| Step::LoseDeal {
                        lead,
                        deal,
                        who,
                        reason,
                        note,
                    })
                    .boxed(),
            ));
            arms.push((
                2,
                (pick.clone(), 0..3usize, who())
                    .prop_map(|(lead, deal, who)| Step::ReopenDeal { lead, deal, who })
                    .boxed(),
            ));
            arms.push((
                1,
                (
                    pick.clone(),
                    0..3usize,
                    who(),
                    proptest::option::of(proptest::sample::select(vec![30u8, 55, 120])),
                )
                    .prop_map(|(lead, deal, who, probability)| Step::SetProbability {
                        lead,
                        deal,
                        who,
                        probability,
                    })
                    .boxed(),
            ));
            arms.push((
                1,
                (pick.clone(), 0..3usize, who(), proptest::option::weighted(0.8, 0u8..3))
                    .prop_map(|(lead, deal, who, title)| Step::UpdateDeal { lead, deal, who, title })
                    .boxed(),
            ));
            arms.push((
                1,
                (pick, 0..3usize, who(), 0u8..3)
                    .prop_map(|(lead, deal, who, id)| Step::LinkDealDocument { lead, deal, who, id })
                    .boxed(),
            ));
        }
        Union::new_weighted(arms).boxed()
    }

    fn preconditions(state: &ModelState, step: &Step) -> bool {
        let lead_ok = match step.target() {
            None => true,
            Some(i) => state.leads.get(i).is_some_and(|l| {
                (!step.needs_deal() || !l.deals.is_empty())
                    && (!matches!(step, Step::CompleteFollowUp { .. }) || !l.follow_ups.is_empty())
            }),
        };
        let other_ok = match step {
            Step::Merge { into, .. } => *into < state.leads.len(),
            Step::Attach { comm, .. } | Step::LeadFromCommunication { comm, .. } | Step::Ignore { comm, .. } => {
                *comm < state.comms.len()
            }
            Step::AddContact { customer, .. } => *customer < state.customers.len(),
            _ => true,
        };
        lead_ok && other_ok
    }

    fn apply(mut state: ModelState, step: &Step) -> ModelState {
        state.last = model_apply(&mut state, step);
        state
    }
}

/// The model's rules. Returns what it expects of the engine.
fn model_apply(state: &mut ModelState, step: &Step) -> Expect {
    use Expect::{Applied, Refused};
    if let Step::Create {
        who,
        at,
        group,
        valid_email,
    } = *step
    {
        if !valid_email {
            return Refused("input");
        }
        state.leads.push(MLead::new(who, at, group));
        return Applied;
    }
    if let Some(expect) = model_apply_other(state, step) {
        return expect;
    }
    let Some(i) = step.target() else { return Applied };
    let groups = state.customer_groups.clone();
    let v = state.variant.clone();
    // Deals and follow-ups are never removed: their counts number the next.
    let deals_born: usize = state.leads.iter().map(|l| l.deals.len()).sum();
    let follow_ups_born: usize = state.leads.iter().map(|l| l.follow_ups.len()).sum();
    let Some(l) = state.leads.get_mut(i) else {
        return Applied;
    };
    if l.deleted {
        return Refused("not_found");
    }
    let may = |who: Who| l.may(who);
    let merged = l.status == LeadStatus::Merged;
    let before = l.clone();
    let result = match *step {
        Step::Create { .. }
        | Step::Receive { .. }
        | Step::CreateCustomer { .. }
        | Step::AddContact { .. }
        | Step::LeadFromCommunication { .. }
        | Step::Ignore { .. }
        | Step::Attach { .. }
        | Step::Merge { .. } => Applied,
        Step::SetTeam { who, team, .. } => {
            if !(who.is_manager() || who == l.owner) {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else {
                l.team = team.filter(|t| *t != l.owner);
                Applied
            }
        }
        Step::Update { who, valid, text, .. } => {
            if !may(who) {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else if !valid {
                Refused("input")
            } else {
                l.description = Some(text);
                Applied
            }
        }
        Step::LinkDocument { who, quotation, id, .. } => {
            if !may(who) {
                Refused("permission")
            } else if merged || quotation {
                Refused("lead")
            } else {
                l.documents.insert(id);
                Applied
            }
        }
        Step::LogActivity { who, .. } => {
            if !may(who) {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else {
                l.activities += 1;
                Applied
            }
        }
        Step::ScheduleFollowUp { who, assignee, .. } => {
            if !may(who) {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else {
                l.follow_ups.push((assignee.unwrap_or(who), false, follow_ups_born));
                Applied
            }
        }
        Step::CompleteFollowUp { who, index, .. } => {
            let k = index % l.follow_ups.len().max(1);
            let (assignee, _, _) = l.follow_ups[k];
            // Its assignee completes it, or whoever may change the lead.
            if who != assignee && !may(who) {
                Refused("permission")
            } else {
                l.follow_ups[k].1 = true;
                Applied
            }
        }
        Step::SetProbability {
            who, deal, probability, ..
        } => {
            let k = deal % l.deals.len().max(1);
            if !may(who) {
                Refused("permission")
            } else if l.deals[k].status != DealStatus::Open {
                Refused("deal")
            } else if probability.is_some_and(|p| p > 100) {
                Refused("input")
            } else {
                l.deals[k].manual = probability;
                Applied
            }
        }
        Step::UpdateDeal { who, deal, title, .. } => {
            let k = deal % l.deals.len().max(1);
            if !may(who) {
                Refused("permission")
            } else if title.is_none() {
                Refused("input")
            } else {
                l.deals[k].title = title;
                Applied
            }
        }
        Step::LinkDealDocument { who, deal, id, .. } => {
            let k = deal % l.deals.len().max(1);
            if !may(who) {
                Refused("permission")
            } else {
                l.deals[k].documents.insert(id);
                Applied
            }
        }
        // An administrator deletes a lead with nothing linked to it (seed 003).
        Step::Delete { who, .. } => {
            if who != Who::Root {
                Refused("permission")
            } else if !l.documents.is_empty()
                || !l.deals.is_empty()
                || l.communications > 0
                || l.activities > 0
                || !l.follow_ups.is_empty()
            {
                Refused("lead")
            } else {
                l.deleted = true;
                Applied
            }
        }
        Step::SetStatus { who, status, .. } => {
            if !may(who) {
                Refused("permission")
            } else if !matches!(status, LeadStatus::New | LeadStatus::Contacted)
                || !matches!(l.status, LeadStatus::New | LeadStatus::Contacted)
            {
                Refused("lead")
            } else {
                l.status = status;
                Applied
            }
        }
        Step::MovePhase {
            who,
            phase: target,
            reason,
            ..
        } => {
            if !may(who) {
                Refused("permission")
            } else if !l.open_status()
                || !v.has_phases(l.at)
                || !v.allowed(l.at, target)
                || (reason.is_some() && !closing(Some(target)))
            {
                Refused("phase")
            } else if reason.is_some_and(|r| !v.reason_ok(r, &CLOSING_REASONS, false)) {
                Refused("reason")
            } else {
                l.enter(Some(target));
                if let Some(r) = reason {
                    l.closing = Some((r, false));
                }
                Applied
            }
        }
        Step::SetClosingReason { who, reason, note, .. } => {
            if !may(who) {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else if !closing(l.phase) {
                Refused("phase")
            } else if !v.reason_ok(reason, &CLOSING_REASONS, note) {
                Refused("reason")
            } else {
                l.closing = Some((reason, note));
                Applied
            }
        }
        Step::ChangeAccountType {
            who, at, phase: target, ..
        } => {
            if !may(who) {
                Refused("permission")
            } else if !l.open_status() {
                Refused("phase")
            } else {
                let ok = match (v.has_phases(at), target) {
                    (false, None) => true,
                    (true, Some(p)) => v.allowed(at, p),
                    _ => false,
                };
                if ok {
                    l.at = at;
                    l.enter(target);
                    Applied
                } else {
                    Refused("phase")
                }
            }
        }
        Step::Qualify { who, create, .. } => {
            if !may(who) {
                Refused("permission")
            } else if !matches!(l.status, LeadStatus::New | LeadStatus::Contacted)
                || closing(l.phase)
                || (!l.has_customer && !create && groups.contains(&l.group))
            {
                Refused("lead")
            } else {
                if !l.has_customer {
                    l.has_customer = true;
                    state_groups_insert(&mut state.customer_groups, l.group);
                }
                l.status = LeadStatus::Qualified;
                l.deals.push(MDeal::new(deals_born));
                Applied
            }
        }
        Step::Disqualify { who, reason, note, .. } => {
            if !may(who) {
                Refused("permission")
            } else if !l.open_status() {
                Refused("lead")
            } else if !v.reason_ok(reason, &LOST_REASONS, note) {
                Refused("reason")
            } else {
                l.reopen_point = Some((l.status, l.phase));
                l.status = LeadStatus::Disqualified;
                l.lost = Some((reason, note));
                if let Some(p) = l.at.lost_phase() {
                    l.enter(Some(p));
                }
                Applied
            }
        }
        Step::Reopen { who, .. } => {
            if !may(who) {
                Refused("permission")
            } else if l.status != LeadStatus::Disqualified {
                Refused("lead")
            } else {
                let (status, saved) = l.reopen_point.unwrap_or((LeadStatus::Contacted, None));
                l.status = if matches!(status, LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified) {
                    status
                } else {
                    LeadStatus::Contacted
                };
                let back = match saved {
                    Some(p) if v.allowed(l.at, p) => Some(p),
                    _ => l.at.initial(),
                };
                l.lost = None;
                l.reopen_point = None;
                l.enter(back);
                Applied
            }
        }
        Step::OpenDeal { who, .. } => {
            if !may(who) {
                Refused("permission")
            } else if !matches!(l.status, LeadStatus::Qualified | LeadStatus::Converted) {
                Refused("lead")
            } else {
                l.deals.push(MDeal::new(deals_born));
                Applied
            }
        }
        Step::MoveDeal { who, deal, stage, .. } => deal_step(l, &v, who, deal, DealOp::Move(stage)),
        Step::WinDeal { who, deal, .. } => deal_step(l, &v, who, deal, DealOp::Win),
        Step::LoseDeal {
            who,
            deal,
            reason,
            note,
            ..
        } => deal_step(l, &v, who, deal, DealOp::Lose(reason, note)),
        Step::ReopenDeal { who, deal, .. } => deal_step(l, &v, who, deal, DealOp::Reopen),
        // Only a manager reassigns; the deals follow the lead, so the new owner
        // works them and the previous one no longer does.
        Step::Reassign { who, to, .. } => {
            if !who.is_manager() {
                Refused("permission")
            } else if merged {
                Refused("lead")
            } else {
                l.owner = to;
                if l.team == Some(to) {
                    l.team = None;
                }
                Applied
            }
        }
    };
    if result != Applied {
        *l = before;
    } else if lead_differs(&before, l) {
        l.changes += 1;
    }
    result
}

/// The steps that are not about one lead, or about two: customers,
/// communications, merging. `None` for the others.
fn model_apply_other(state: &mut ModelState, step: &Step) -> Option<Expect> {
    use Expect::{Applied, Refused};
    Some(match *step {
        Step::CreateCustomer { valid: false, .. } | Step::Receive { valid: false, .. } => Refused("input"),
        Step::CreateCustomer { who, group, .. } => {
            state.customers.push(MCustomer {
                owner: who,
                contacts: 0,
            });
            if let Some(g) = group {
                state.customer_groups.insert(g);
            }
            Applied
        }
        // Its owner, or a manager, adds contact persons.
        Step::AddContact { customer, who } => {
            let c = &mut state.customers[customer];
            if who != c.owner && !who.is_manager() {
                Refused("permission")
            } else {
                c.contacts += 1;
                Applied
            }
        }
        // Linked to the one open lead of its sender's address, if exactly one.
        Step::Receive { group, .. } => {
            let open: Vec<usize> = (0..state.leads.len())
                .filter(|&i| state.leads[i].group == group && state.leads[i].open())
                .collect();
            let lead = match open.as_slice() {
                [one] => Some(*one),
                _ => None,
            };
            if let Some(i) = lead {
                state.leads[i].communications += 1;
            }
            state.comms.push(MComm {
                group,
                status: if lead.is_some() {
                    CommunicationStatus::Linked
                } else {
                    CommunicationStatus::New
                },
                lead,
            });
            Applied
        }
        Step::Ignore { comm, .. } => {
            let c = &mut state.comms[comm];
            if c.status == CommunicationStatus::Linked {
                Refused("communication")
            } else {
                c.status = CommunicationStatus::Ignored;
                Applied
            }
        }
        Step::Attach { comm, lead, who } => {
            let c = state.comms[comm].clone();
            let target = &state.leads[lead];
            if target.deleted {
                Refused("not_found")
            } else if !target.may(who) || c.lead.is_some_and(|s| !state.leads[s].may(who)) {
                // Taking it off a lead changes that lead's timeline too.
                Refused("permission")
            } else if target.status == LeadStatus::Merged {
                Refused("lead")
            } else if c.status == CommunicationStatus::Ignored {
                Refused("communication")
            } else {
                if let Some(s) = c.lead {
                    state.leads[s].communications -= 1;
                }
                state.leads[lead].communications += 1;
                state.comms[comm].status = CommunicationStatus::Linked;
                state.comms[comm].lead = Some(lead);
                Applied
            }
        }
        Step::LeadFromCommunication { comm, who } => {
            let c = state.comms[comm].clone();
            if c.lead.is_some_and(|s| !state.leads[s].may(who)) {
                Refused("permission")
            } else if c.status == CommunicationStatus::Ignored {
                Refused("communication")
            } else {
                if let Some(s) = c.lead {
                    state.leads[s].communications -= 1;
                }
                let mut lead = MLead::new(who, At::B2b, c.group);
                lead.communications = 1;
                state.leads.push(lead);
                state.comms[comm].status = CommunicationStatus::Linked;
                state.comms[comm].lead = Some(state.leads.len() - 1);
                Applied
            }
        }
        // A New or Contacted duplicate goes into an open lead the actor may also change.
        Step::Merge { lead, into, who } => {
            let (l, target) = (&state.leads[lead], &state.leads[into]);
            if l.deleted || target.deleted {
                Refused("not_found")
            } else if !l.may(who) || !target.may(who) {
                Refused("permission")
            } else if lead == into
                || !target.open()
                || !l.open()
                || !matches!(l.status, LeadStatus::New | LeadStatus::Contacted)
            {
                Refused("lead")
            } else {
                // The duplicate's timeline, communications and deals move to
                // the survivor, which records the merge (a change of its own).
                let l = &mut state.leads[lead];
                l.status = LeadStatus::Merged;
                l.changes += 1;
                let activities = std::mem::take(&mut l.activities);
                let mut follow_ups = std::mem::take(&mut l.follow_ups);
                let communications = std::mem::take(&mut l.communications);
                let mut deals = std::mem::take(&mut l.deals);
                let t = &mut state.leads[into];
                t.changes += 1;
                t.activities += activities;
                t.communications += communications;
                t.follow_ups.append(&mut follow_ups);
                t.follow_ups.sort_by_key(|f| f.2);
                t.deals.append(&mut deals);
                t.deals.sort_by_key(|d| d.born);
                for c in &mut state.comms {
                    if c.lead == Some(lead) {
                        c.lead = Some(into);
                    }
                }
                Applied
            }
        }
        _ => return None,
    })
}

fn state_groups_insert(groups: &mut BTreeSet<u8>, group: u8) {
    groups.insert(group);
}

/// Whether a change touched the lead record (deal-only changes do not).
fn lead_differs(a: &MLead, b: &MLead) -> bool {
    (
        a.owner,
        a.at,
        a.status,
        a.phase,
        a.closing,
        a.lost,
        a.reopen_point,
        a.has_customer,
        a.team,
        a.description,
        &a.documents,
    ) != (
        b.owner,
        b.at,
        b.status,
        b.phase,
        b.closing,
        b.lost,
        b.reopen_point,
        b.has_customer,
        b.team,
        b.description,
        &b.documents,
    )
}

enum DealOp {
    Move(&'static str),
    Win,
    Lose(&'static str, bool),
    Reopen,
}

fn deal_step(l: &mut MLead, v: &Variant, who: Who, index: usize, op: DealOp) -> Expect {
    use Expect::{Applied, Refused};
    if !l.may(who) {
        return Refused("permission");
    }
    if l.deals.is_empty() {
        return Refused("not_found");
    }
    let index = index % l.deals.len();
    let deal = l.deals[index].clone();
    // Converted needs a won deal: another won deal keeps the lead converted.
    let other_won = l
        .deals
        .iter()
        .enumerate()
        .any(|(j, d)| j != index && d.status == DealStatus::Won);
    let (stage, status) = match op {
        DealOp::Move(stage) => match (stage, deal.status) {
            ("lost", _) => return Refused("deal"),
            ("won" | "invoiced", DealStatus::Open | DealStatus::Won) => (stage, DealStatus::Won),
            ("prospecting" | "proposal", DealStatus::Open) => (stage, DealStatus::Open),
            _ => return Refused("deal"),
        },
        DealOp::Win if deal.status == DealStatus::Open => ("won", DealStatus::Won),
        DealOp::Lose(reason, note) if deal.status == DealStatus::Open => {
            if !v.reason_ok(reason, &LOST_REASONS, note) {
                return Refused("reason");
            }
            ("lost", DealStatus::Lost)
        }
        DealOp::Reopen if deal.status != DealStatus::Open => ("prospecting", DealStatus::Open),
        _ => return Refused("deal"),
    };
    let mut next = MDeal {
        stage,
        status,
        ..deal.clone()
    };
    match (deal.status, status) {
        (DealStatus::Open, DealStatus::Won) => {
            next.closed_on = true;
            if l.status != LeadStatus::Converted {
                if !matches!(l.status, LeadStatus::Qualified | LeadStatus::Disqualified) {
                    return Refused("lead");
                }
                l.reopen_point = Some((l.status, l.phase));
                l.status = LeadStatus::Converted;
                l.lost = None;
                if let Some(p) = l.at.won_phase() {
                    l.enter(Some(p));
                }
            }
        }
        (DealStatus::Open, DealStatus::Lost) => {
            next.closed_on = true;
            next.lost = true;
        }
        (_, DealStatus::Open) if deal.status != DealStatus::Open => {
            next.closed_on = false;
            next.lost = false;
            next.manual = None;
            if deal.status == DealStatus::Won && l.status == LeadStatus::Converted && !other_won {
                let saved = l.reopen_point.and_then(|(_, p)| p);
                let back = match saved {
                    Some(p) if v.allowed(l.at, p) && !closing(Some(p)) => Some(p),
                    _ => l.at.initial(),
                };
                l.status = LeadStatus::Qualified;
                l.reopen_point = None;
                l.enter(back);
            }
        }
        _ => {}
    }
    l.deals[index] = next;
    Applied
}

/// The commands the model drives: all of them (`set_config` sets each
/// case's generated configuration).
pub const MODEL_COMMANDS: [&str; 32] = [
    "set_config",
    "create_lead",
    "update_lead",
    "set_lead_status",
    "move_lead_phase",
    "set_closing_reason",
    "change_account_type",
    "qualify_lead",
    "open_deal",
    "disqualify_lead",
    "reopen_lead",
    "merge_lead",
    "reassign_lead",
    "set_lead_team",
    "delete_lead",
    "link_lead_document",
    "move_deal_stage",
    "win_deal",
    "lose_deal",
    "reopen_deal",
    "set_deal_probability",
    "update_deal",
    "link_deal_document",
    "create_customer",
    "add_contact",
    "log_activity",
    "schedule_follow_up",
    "complete_follow_up",
    "receive_communication",
    "attach_communication",
    "create_lead_from_communication",
    "ignore_communication",
];

/// The reference state machine.
#[derive(Debug)]
pub struct PipelineModel;

/// Shared per test thread: one runtime and one engine over the backend's store.
/// Every case works on its own leads (and its own e-mail addresses), so cases
/// do not see each other.
struct Harness {
    rt: tokio::runtime::Runtime,
    engine: Engine,
}

impl Harness {
    /// Whether the store keeps board cells of its own; the in-memory store
    /// counts them from its leads on every read, so checking it against a
    /// recount would compare a thing with itself.
    fn maintained_cells(&self) -> bool {
        self.engine.store().backend() != "memory"
    }
}

thread_local! {
    static HARNESS: RefCell<Option<Rc<Harness>>> = const { RefCell::new(None) };
    /// Per command: how many steps the engine applied and refused.
    static TALLY: RefCell<std::collections::BTreeMap<&'static str, (u32, u32)>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// The system under test: the engine, and the ids of this case's leads.
pub struct Sut {
    harness: Rc<Harness>,
    token: String,
    leads: Vec<LeadId>,
    comms: Vec<crate::domain::ids::CommunicationId>,
    customers: Vec<crate::domain::ids::CustomerId>,
    cursor: u64,
    /// The board cells when the case began (earlier cases' leads).
    baseline: Vec<BoardCell>,
}

impl Sut {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.harness.rt.block_on(f)
    }

    fn engine(&self) -> &Engine {
        &self.harness.engine
    }

    fn read(&self, id: LeadId) -> (Option<Lead>, Vec<Deal>, usize) {
        self.block_on(async {
            let store = self.engine().store();
            let lead = store.lead(id).await.unwrap_or_else(|e| panic!("read lead: {e}"));
            let deals = store
                .deals_of_lead(id)
                .await
                .unwrap_or_else(|e| panic!("read deals: {e}"));
            let history = store
                .history(EntityRef::lead(id))
                .await
                .unwrap_or_else(|e| panic!("read history: {e}"))
                .len();
            (lead, deals, history)
        })
    }

    fn last_seq(&self) -> u64 {
        self.block_on(async {
            let mut cursor = self.cursor;
            loop {
                let page = self
                    .engine()
                    .events_since(&crate::testing::root(), cursor, 500)
                    .await
                    .unwrap_or_else(|e| panic!("events: {e}"));
                let Some(last) = page.last() else { return cursor };
                for (k, e) in page.iter().enumerate() {
                    assert_eq!(e.seq, cursor + 1 + k as u64, "event sequence must be gap-free");
                }
                cursor = last.seq;
            }
        })
    }
}

fn c(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn command(sut: &Sut, state: &ModelState, step: &Step) -> Option<Command> {
    let lead = |i: usize| sut.leads.get(i).copied();
    Some(match step {
        Step::Create {
            who,
            at,
            group,
            valid_email,
        } => Command::CreateLead(commands::CreateLead {
            lead: NewLead {
                first_name: format!("Lead{}", sut.leads.len()),
                company: format!("Company {group}"),
                email: Some(if *valid_email {
                    format!("g{group}.{}@example.com", sut.token)
                } else {
                    format!("g{group}.{}@@example", sut.token)
                }),
                account_type: Some(c(at.code())),
                owner: Some(who.actor().user),
                ..NewLead::default()
            },
        }),
        Step::SetStatus { lead: i, status, .. } => Command::SetLeadStatus(commands::SetLeadStatus {
            lead: lead(*i)?,
            status: *status,
        }),
        Step::MovePhase {
            lead: i, phase, reason, ..
        } => Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead(*i)?,
            phase: to_ref(*phase),
            closing_reason: reason.map(c),
            note: None,
        }),
        Step::SetClosingReason {
            lead: i, reason, note, ..
        } => Command::SetClosingReason(commands::SetClosingReason {
            lead: lead(*i)?,
            reason: c(reason),
            note: note.then(|| "because".to_owned()),
        }),
        Step::ChangeAccountType { lead: i, at, phase, .. } => Command::ChangeAccountType(commands::ChangeAccountType {
            lead: lead(*i)?,
            account_type: c(at.code()),
            phase: phase.map(to_ref),
        }),
        Step::Qualify { lead: i, create, .. } => Command::QualifyLead(commands::QualifyLead {
            lead: lead(*i)?,
            customer: if *create {
                CustomerChoice::Create
            } else {
                CustomerChoice::Auto
            },
            deal: DealDraft::default(),
        }),
        Step::Disqualify {
            lead: i, reason, note, ..
        } => Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lead(*i)?,
            reason: c(reason),
            note: note.then(|| "because".to_owned()),
        }),
        Step::Reopen { lead: i, .. } => Command::ReopenLead(commands::ReopenLead { lead: lead(*i)? }),
        Step::OpenDeal { lead: i, .. } => Command::OpenDeal(commands::OpenDeal {
            lead: lead(*i)?,
            pipeline: None,
            deal: DealDraft::default(),
        }),
        Step::MoveDeal {
            lead: i, deal, stage, ..
        } => Command::MoveDealStage(commands::MoveDealStage {
            deal: deal_of(sut, state, *i, *deal)?,
            stage: c(stage),
        }),
        Step::WinDeal { lead: i, deal, .. } => Command::WinDeal(commands::WinDeal {
            deal: deal_of(sut, state, *i, *deal)?,
            stage: None,
        }),
        Step::LoseDeal {
            lead: i,
            deal,
            reason,
            note,
            ..
        } => Command::LoseDeal(commands::LoseDeal {
            deal: deal_of(sut, state, *i, *deal)?,
            reason: c(reason),
            note: note.then(|| "because".to_owned()),
        }),
        Step::ReopenDeal { lead: i, deal, .. } => Command::ReopenDeal(commands::ReopenDeal {
            deal: deal_of(sut, state, *i, *deal)?,
            stage: None,
        }),
        Step::Reassign { lead: i, to, .. } => Command::ReassignLead(commands::ReassignLead {
            lead: lead(*i)?,
            owner: to.actor().user,
        }),
        Step::Merge { lead: i, into, .. } => Command::MergeLead(commands::MergeLead {
            lead: lead(*i)?,
            into: lead(*into)?,
        }),
        Step::SetTeam { lead: i, team, .. } => Command::SetLeadTeam(commands::SetLeadTeam {
            lead: lead(*i)?,
            team: team.iter().map(|w| w.actor().user).collect(),
        }),
        Step::Update {
            lead: i, valid, text, ..
        } => Command::UpdateLead(commands::UpdateLead {
            lead: lead(*i)?,
            // Revenue moves the lead's board cell: none, some, the largest
            // amount accepted; refused edits try an over-long title or an
            // amount past the bound (which would overflow a cell's sum).
            patch: if *valid {
                LeadPatch {
                    description: Some(format!("note {text}")),
                    expected_revenue: Some(match text {
                        0 => None,
                        1 => Some(model_usd(12_345)),
                        _ => Some(model_usd(crate::domain::limits::AMOUNT)),
                    }),
                    ..LeadPatch::default()
                }
            } else if *text == 0 {
                LeadPatch {
                    title: Some("t".repeat(crate::domain::limits::LINE + 1)),
                    ..LeadPatch::default()
                }
            } else {
                LeadPatch {
                    expected_revenue: Some(Some(crate::domain::money::Money {
                        minor: i64::MAX / 2 + 1,
                        ..model_usd(0)
                    })),
                    ..LeadPatch::default()
                }
            },
        }),
        Step::LinkDocument {
            lead: i, quotation, id, ..
        } => Command::LinkLeadDocument(commands::LinkLeadDocument {
            lead: lead(*i)?,
            kind: if *quotation {
                DocumentKind::Quotation
            } else {
                DocumentKind::Order
            },
            external_id: format!("SO-{id}"),
        }),
        Step::LogActivity { lead: i, .. } => Command::LogActivity(commands::LogActivity {
            subject: Subject::Lead(lead(*i)?),
            kind: crate::domain::activity::ActivityKind::Call,
            summary: "called".into(),
            body: String::new(),
            occurred_at: None,
        }),
        Step::ScheduleFollowUp { lead: i, assignee, .. } => Command::ScheduleFollowUp(commands::ScheduleFollowUp {
            subject: Subject::Lead(lead(*i)?),
            due: chrono::NaiveDate::from_ymd_opt(2030, 1, 1)?,
            note: "call back".into(),
            assignee: assignee.map(|w| w.actor().user),
        }),
        Step::CompleteFollowUp { lead: i, index, .. } => {
            let list = sut
                .block_on(
                    sut.engine()
                        .follow_ups(&crate::testing::root(), Subject::Lead(lead(*i)?)),
                )
                .ok()?;
            Command::CompleteFollowUp(commands::CompleteFollowUp {
                follow_up: list.get(index % list.len().max(1))?.id,
            })
        }
        Step::SetProbability {
            lead: i,
            deal,
            probability,
            ..
        } => Command::SetDealProbability(commands::SetDealProbability {
            deal: deal_of(sut, state, *i, *deal)?,
            probability: *probability,
        }),
        Step::LinkDealDocument { lead: i, deal, id, .. } => Command::LinkDealDocument(commands::LinkDealDocument {
            deal: deal_of(sut, state, *i, *deal)?,
            kind: DocumentKind::Quotation,
            external_id: format!("Q-{id}"),
        }),
        Step::UpdateDeal {
            lead: i, deal, title, ..
        } => Command::UpdateDeal(commands::UpdateDeal {
            deal: deal_of(sut, state, *i, *deal)?,
            patch: DealPatch {
                title: Some(title.map_or_else(|| "  ".to_owned(), |t| format!("Deal {t}"))),
                ..DealPatch::default()
            },
        }),
        Step::Delete { lead: i, .. } => Command::DeleteLead(commands::DeleteLead {
            lead: lead(*i)?,
            if_version: None,
        }),
        Step::Receive { group, valid } => Command::ReceiveCommunication(commands::ReceiveCommunication {
            communication: InboundCommunication {
                kind: CommunicationKind::Email,
                from_email: Some(if *valid {
                    format!("g{group}.{}@example.com", sut.token)
                } else {
                    format!("g{group}.{}@@example", sut.token)
                }),
                from_phone: None,
                summary: "asks for a quote".into(),
                body: String::new(),
                received_at: None,
            },
        }),
        Step::Attach { comm, lead: i, .. } => Command::AttachCommunication(commands::AttachCommunication {
            communication: *sut.comms.get(*comm)?,
            lead: lead(*i)?,
        }),
        Step::LeadFromCommunication { comm, .. } => {
            Command::CreateLeadFromCommunication(commands::CreateLeadFromCommunication {
                communication: *sut.comms.get(*comm)?,
                lead: NewLead {
                    first_name: format!("Lead{}", sut.leads.len()),
                    account_type: Some(c("b2b")),
                    ..NewLead::default()
                },
            })
        }
        Step::Ignore { comm, .. } => Command::IgnoreCommunication(commands::IgnoreCommunication {
            communication: *sut.comms.get(*comm)?,
        }),
        Step::CreateCustomer { group, valid, .. } => Command::CreateCustomer(commands::CreateCustomer {
            customer: NewCustomer {
                name: if *valid {
                    format!("Customer {}", sut.customers.len())
                } else {
                    String::new()
                },
                email: group.map(|g| format!("g{g}.{}@example.com", sut.token)),
                ..NewCustomer::default()
            },
        }),
        Step::AddContact { customer, .. } => Command::AddContact(commands::AddContact {
            customer: *sut.customers.get(*customer)?,
            contact: NewContact {
                name: "Contact".into(),
                ..NewContact::default()
            },
        }),
    })
}

/// The lead's `k`-th deal (modulo its number of deals), in creation order.
fn deal_of(sut: &Sut, _state: &ModelState, i: usize, k: usize) -> Option<crate::domain::ids::DealId> {
    let id = *sut.leads.get(i)?;
    let deals = sut.read(id).1;
    deals.get(k % deals.len().max(1)).map(|d| d.id)
}

fn who_of(step: &Step) -> Who {
    match step {
        Step::Create { who, .. }
        | Step::SetStatus { who, .. }
        | Step::MovePhase { who, .. }
        | Step::SetClosingReason { who, .. }
        | Step::ChangeAccountType { who, .. }
        | Step::Qualify { who, .. }
        | Step::Disqualify { who, .. }
        | Step::Reopen { who, .. }
        | Step::OpenDeal { who, .. }
        | Step::MoveDeal { who, .. }
        | Step::WinDeal { who, .. }
        | Step::LoseDeal { who, .. }
        | Step::ReopenDeal { who, .. }
        | Step::Reassign { who, .. }
        | Step::Merge { who, .. }
        | Step::SetTeam { who, .. }
        | Step::Update { who, .. }
        | Step::LinkDocument { who, .. }
        | Step::LogActivity { who, .. }
        | Step::ScheduleFollowUp { who, .. }
        | Step::CompleteFollowUp { who, .. }
        | Step::SetProbability { who, .. }
        | Step::LinkDealDocument { who, .. }
        | Step::UpdateDeal { who, .. }
        | Step::Delete { who, .. }
        | Step::Attach { who, .. }
        | Step::LeadFromCommunication { who, .. }
        | Step::Ignore { who, .. }
        | Step::CreateCustomer { who, .. }
        | Step::AddContact { who, .. } => *who,
        // Inbound mail arrives through the application, in no one's name.
        Step::Receive { .. } => Who::Ann,
    }
}

impl StateMachineTest for PipelineTest {
    type SystemUnderTest = Sut;
    type Reference = PipelineModel;

    fn init_test(ref_state: &ModelState) -> Sut {
        let harness = HARNESS
            .with(|h| h.borrow().clone())
            .unwrap_or_else(|| panic!("run_state_machine sets up the harness"));
        // The case's configuration, set the way an application sets it.
        harness.rt.block_on(async {
            let (current, version) = harness.engine.config().await.unwrap_or_else(|e| panic!("{e}"));
            let wanted = ref_state.variant.config();
            if current != wanted {
                let set = commands::SetConfig {
                    config: wanted,
                    expected_version: Some(version),
                };
                let out = harness.engine.run(&maria(), set).await;
                let out = out.unwrap_or_else(|e| panic!("configuration {:?}: {e}", ref_state.variant));
                assert_eq!(out.version, version + 1);
                TALLY.with(|t| t.borrow_mut().entry("set_config").or_default().0 += 1);
            }
        });
        let cursor = harness.rt.block_on(async {
            let mut cursor = 0;
            loop {
                let page = harness
                    .engine
                    .events_since(&crate::testing::root(), cursor, 1000)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                match page.last() {
                    Some(e) => cursor = e.seq,
                    None => return cursor,
                }
            }
        });
        let baseline = harness.rt.block_on(async {
            let mut cells = Vec::new();
            if !harness.maintained_cells() {
                return cells;
            }
            for at in ACCOUNT_TYPES {
                let at = Code::new(at.code()).unwrap_or_else(|e| panic!("{e}"));
                cells.extend(
                    harness
                        .engine
                        .store()
                        .board_cells(&at)
                        .await
                        .unwrap_or_else(|e| panic!("{e}")),
                );
            }
            cells
        });
        Sut {
            harness,
            token: uuid::Uuid::now_v7().simple().to_string(),
            leads: Vec::new(),
            comms: Vec::new(),
            customers: Vec::new(),
            cursor,
            baseline,
        }
    }

    fn apply(mut sut: Sut, ref_state: &ModelState, step: Step) -> Sut {
        let target = step.target().and_then(|i| sut.leads.get(i).copied());
        let before = target.map(|id| sut.read(id));
        let seq_before = sut.last_seq();
        // `ref_state` is the state after the step; the deal id comes from the store.
        let Some(cmd) = command(&sut, ref_state, &step) else {
            panic!("step {step:?} names a lead or deal the system does not have");
        };
        let actor = who_of(&step).actor();
        let name = cmd.name();
        let result: Result<_, Error> = sut.block_on(sut.engine().execute(&actor, cmd));
        TALLY.with(|t| {
            let mut t = t.borrow_mut();
            let entry = t.entry(name).or_default();
            if result.is_ok() {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        });
        match (ref_state.last, &result) {
            (Expect::Applied, Ok(out)) => {
                use crate::engine::commands::CommandOutput as Out;
                match (&step, out) {
                    (Step::Create { .. }, Out::Lead { lead }) => sut.leads.push(lead.id),
                    (Step::Receive { .. }, Out::Communication { communication, .. }) => {
                        sut.comms.push(communication.id)
                    }
                    (Step::LeadFromCommunication { .. }, Out::Communication { lead: Some(lead), .. }) => {
                        sut.leads.push(lead.id)
                    }
                    (Step::CreateCustomer { .. }, Out::Customer { customer }) => sut.customers.push(customer.id),
                    _ => {}
                }
            }
            (Expect::Refused(kind), Err(e)) => {
                assert_eq!(
                    e.kind(),
                    kind,
                    "step {step:?} was refused for another reason than the model's: {e}"
                );
                if let (Some(id), Some(before)) = (target, before) {
                    assert_eq!(
                        sut.read(id),
                        before,
                        "refused step {step:?} changed the lead, its deals or its history"
                    );
                }
                assert_eq!(sut.last_seq(), seq_before, "refused step {step:?} appended events");
            }
            (Expect::Applied, Err(e)) => panic!("step {step:?}: the model accepts it, the engine refused: {e}"),
            (Expect::Refused(kind), Ok(out)) => {
                panic!("step {step:?}: the model refuses it ({kind}), the engine accepted: {out:?}")
            }
        }
        sut.cursor = sut.last_seq();
        sut
    }

    /// At the end of each case (after every step would cost the in-memory
    /// store, which recounts its cells from every lead, a pass over the
    /// whole store per step).
    fn teardown(sut: Sut, ref_state: ModelState) {
        if !sut.harness.maintained_cells() {
            return;
        }
        let mut live = Vec::new();
        for (id, m) in sut.leads.iter().zip(&ref_state.leads) {
            if !m.deleted
                && let (Some(lead), _, _) = sut.read(*id)
            {
                live.push(lead);
            }
        }
        // The maintained board cells equal their recomputation from the
        // leads read back (the board shows the cells, never the leads): the
        // cells of earlier cases' leads, as the case found them, plus this
        // case's leads.
        for at in ACCOUNT_TYPES {
            let at = Code::new(at.code()).unwrap_or_else(|e| panic!("{e}"));
            let cells = sut
                .block_on(sut.engine().store().board_cells(&at))
                .unwrap_or_else(|e| panic!("{e}"));
            let mut want: Vec<BoardCell> = sut.baseline.iter().filter(|c| c.account_type == at).cloned().collect();
            for cell in crate::store::tally::board_cells_of(&at, &live) {
                match want.iter_mut().find(|c| c.same_cell(&cell)) {
                    Some(c) => {
                        c.count += cell.count;
                        c.value += cell.value;
                    }
                    None => want.push(cell),
                }
            }
            want.sort();
            assert_eq!(cells, want, "board cells of {at} against the leads");
        }
    }

    fn check_invariants(sut: &Sut, ref_state: &ModelState) {
        assert_eq!(sut.leads.len(), ref_state.leads.len(), "lead count");
        for (id, m) in sut.leads.iter().zip(&ref_state.leads) {
            let (lead, deals, history) = sut.read(*id);
            if m.deleted {
                assert!(lead.is_none() && deals.is_empty(), "lead {id} was deleted");
                continue;
            }
            let lead = lead.unwrap_or_else(|| panic!("lead {id} vanished"));
            check_lead(sut, &lead, &deals, history, m, &ref_state.variant);
        }
        assert_eq!(sut.comms.len(), ref_state.comms.len(), "communication count");
        for (id, m) in sut.comms.iter().zip(&ref_state.comms) {
            let c = sut
                .block_on(sut.engine().store().communication(*id))
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("communication {id} vanished"));
            let lead = m.lead.and_then(|i| sut.leads.get(i).copied());
            assert_eq!((c.status, c.lead), (m.status, lead), "communication {id}");
            assert_eq!(
                c.status == CommunicationStatus::Linked,
                c.lead.is_some(),
                "linked ⇔ a lead"
            );
        }
        assert_eq!(sut.customers.len(), ref_state.customers.len(), "customer count");
        for (id, m) in sut.customers.iter().zip(&ref_state.customers) {
            let c = sut
                .block_on(sut.engine().customer(&crate::testing::root(), *id))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (c.owner, c.contacts.len()),
                (m.owner.actor().user, m.contacts),
                "customer {id}"
            );
        }
    }
}

/// The fixture's phase table, read independently of the rules: whether
/// `phase` is one of `account_type`'s phases, and whether it is a closing one.
fn fixture_phase(phase: &PhaseRef) -> Option<(&'static str, PhaseType)> {
    PHASES
        .iter()
        .find(|(at, code, _)| at.code() == phase.account_type.as_str() && *code == phase.code.as_str())
        .map(|(at, _, t)| (at.code(), *t))
}

/// What is compared of a deal: stage, status, closed, lost, probability, set
/// by hand, documents.
type DealView<'a> = (&'a str, DealStatus, bool, bool, u8, bool, BTreeSet<String>);

/// One lead read back from the store against the model, and the invariants.
fn check_lead(sut: &Sut, lead: &Lead, deals: &[Deal], history: usize, m: &MLead, v: &Variant) {
    let n = lead.number;
    // The real state equals the model.
    assert_eq!(lead.status, m.status, "status of lead {n}");
    assert_eq!(lead.account_type.as_str(), m.at.code(), "account type of lead {n}");
    assert_eq!(lead.phase, m.phase.map(to_ref), "phase of lead {n}");
    assert_eq!(
        lead.closing_reason
            .as_ref()
            .map(|r| (r.as_str(), lead.closing_note.is_some())),
        m.closing,
        "closing reason of lead {n}"
    );
    assert_eq!(
        lead.lost_reason
            .as_ref()
            .map(|r| (r.as_str(), lead.lost_note.is_some())),
        m.lost,
        "lost reason of lead {n}"
    );
    assert_eq!(lead.customer.is_some(), m.has_customer, "customer link of lead {n}");
    assert_eq!(
        history, m.changes,
        "history entries of lead {n} (one per applied change)"
    );
    assert_eq!(lead.version as usize, m.changes, "version of lead {n}");
    assert_eq!(lead.owner, m.owner.actor().user, "owner of lead {n}");
    let team: BTreeSet<_> = m.team.iter().map(|w| w.actor().user).collect();
    assert_eq!(lead.team, team, "record team of lead {n}");
    assert_eq!(
        lead.description,
        m.description.map_or_else(String::new, |t| format!("note {t}")),
        "description of lead {n}"
    );
    let documents: BTreeSet<String> = m.documents.iter().map(|id| format!("SO-{id}")).collect();
    assert_eq!(
        lead.documents
            .iter()
            .map(|d| d.external_id.clone())
            .collect::<BTreeSet<_>>(),
        documents,
        "documents of lead {n}"
    );
    let subject = Subject::Lead(lead.id);
    let activities = sut
        .block_on(sut.engine().activities(&crate::testing::root(), subject))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(activities.len(), m.activities, "activities of lead {n}");
    let follow_ups: Vec<(crate::domain::ids::UserId, bool)> = sut
        .block_on(sut.engine().follow_ups(&crate::testing::root(), subject))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|f| (f.assignee, f.done))
        .collect();
    let expected: Vec<_> = m
        .follow_ups
        .iter()
        .map(|(w, done, _)| (w.actor().user, *done))
        .collect();
    assert_eq!(follow_ups, expected, "follow-ups of lead {n}");
    let communications = sut
        .block_on(sut.engine().communications_of(&crate::testing::root(), lead.id))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(communications.len(), m.communications, "communications of lead {n}");

    let real_deals: Vec<DealView<'_>> = deals
        .iter()
        .map(|d| {
            (
                d.stage.as_str(),
                d.status,
                d.close_date.is_some(),
                d.lost_reason.is_some(),
                d.probability,
                d.probability_manual && d.status == DealStatus::Open,
                d.documents.iter().map(|x| x.external_id.clone()).collect(),
            )
        })
        .collect();
    let model_deals: Vec<DealView<'_>> = m
        .deals
        .iter()
        .map(|d| {
            (
                d.stage,
                d.status,
                d.closed_on,
                d.lost,
                d.probability(v),
                d.manual.is_some() && d.status == DealStatus::Open,
                d.documents.iter().map(|id| format!("Q-{id}")).collect(),
            )
        })
        .collect();
    assert_eq!(
        real_deals, model_deals,
        "deals of lead {n} (stage, status, closed, lost, probability, by hand, documents)"
    );

    for (d, md) in deals.iter().zip(&m.deals) {
        match md.title {
            Some(t) => assert_eq!(d.title, format!("Deal {t}"), "title of a deal of lead {n}"),
            None => assert!(
                !d.title.starts_with("Deal "),
                "a deal of lead {n} keeps Qualify's title"
            ),
        }
    }
    // Invariants.
    for d in deals {
        assert_eq!(
            (&d.owner, &d.team),
            (&lead.owner, &lead.team),
            "a deal of lead {n} has the lead's owner and team"
        );
        assert!(d.probability <= 100);
    }
    if matches!(lead.status, LeadStatus::Qualified | LeadStatus::Converted) {
        assert!(
            !deals.is_empty() && lead.customer.is_some(),
            "Qualified/Converted needs a customer and a deal"
        );
        let customer = lead
            .customer
            .and_then(|cid| sut.block_on(sut.engine().store().customer(cid)).ok().flatten());
        assert!(customer.is_some(), "the linked customer exists");
    }
    if lead.status == LeadStatus::Converted {
        assert!(
            deals.iter().any(|d| d.status == DealStatus::Won),
            "Converted needs a won deal"
        );
    }
    if lead.status == LeadStatus::Disqualified {
        assert!(lead.lost_reason.is_some(), "Disqualified needs a reason");
    }
    let phase = lead.phase.as_ref().map(|p| (p, fixture_phase(p)));
    if lead.closing_reason.is_some() {
        assert!(
            matches!(phase, Some((_, Some((_, PhaseType::Closing))))),
            "a closing reason needs a closing phase (lead {n})"
        );
    }
    if let Some((p, found)) = phase {
        // A type's own phases; a type without any may use all when the configuration says so.
        let own_phases = PHASES.iter().any(|(at, _, _)| at.code() == lead.account_type.as_str());
        assert!(
            found.is_some_and(|(at, _)| at == lead.account_type.as_str() || (!own_phases && v.partner_any_phase)),
            "phase {p} is one of account type {}'s (lead {n})",
            lead.account_type
        );
    }
}

/// The state-machine test.
#[derive(Debug)]
pub struct PipelineTest;

/// Runs the state-machine property test against `factory`'s backend:
/// `PROPTEST_CASES` cases (default: the factory's
/// [`state_machine_cases`](StoreFactory::state_machine_cases), 2000 for the
/// in-memory store) of 1 to 40 random steps.
pub fn run_state_machine(factory: Arc<dyn StoreFactory>) {
    if !super::available(&*factory) {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let engine = rt.block_on(async {
        let store = factory.create().await.unwrap_or_else(|e| panic!("create store: {e}"));
        configured(store).await
    });
    HARNESS.with(|h| *h.borrow_mut() = Some(Rc::new(Harness { rt, engine })));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| factory.state_machine_cases());
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(
        &PipelineModel::sequential_strategy(1..40usize),
        |(initial, steps, seen)| {
            PipelineTest::test_sequential(config.clone(), initial, steps, seen);
            Ok(())
        },
    );
    HARNESS.with(|h| *h.borrow_mut() = None);
    if let Err(e) = result {
        panic!("state-machine test failed: {e}");
    }
    let tally = TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()));
    eprintln!("state machine: {cases} cases passed; per command, applied / refused:");
    for (name, (applied, refused)) in &tally {
        eprintln!("  {name:<32} {applied:>6} / {refused}");
    }
    // Every command really changes state somewhere in a run of this size.
    // The rarest (delete, merge) are applied about 3 times in 100 cases, so
    // only runs of 1,000 cases or more (the in-memory default is 2,000) can
    // require it without failing by chance; shorter runs print the tally.
    if cases >= 1000 {
        let never: Vec<&&str> = MODEL_COMMANDS
            .iter()
            .filter(|c| tally.get(**c).is_none_or(|(applied, _)| *applied == 0))
            .collect();
        assert!(never.is_empty(), "commands never applied in {cases} cases: {never:?}");
    }
}
