//! The reference model of the three state machines, and the
//! `proptest-state-machine` test that drives the real [`Engine`] with random
//! command sequences (valid and invalid) and compares it with the model after
//! every step.
//!
//! The model restates each rule in the simplest terms, independently of
//! [`crate::rules`]; when the two disagree, the test fails and shrinks to the
//! shortest sequence that shows it.
//!
//! Invariants checked after every step, on the state read back from the store:
//! Qualified or Converted ⇒ a customer and at least one deal; Converted ⇒ a
//! won deal; Disqualified ⇒ a reason; a closing reason ⇒ a closing phase; a
//! phase ⇒ one allowed for the account type; a refused command changed
//! nothing; history has one entry per applied change; events are gap-free.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use super::{StoreFactory, ann, bob, configured, maria, phase};
use crate::domain::config::{Config, PhaseRef, PhaseType};
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::ids::{Code, LeadId};
use crate::domain::input::{CustomerChoice, DealDraft, NewLead};
use crate::domain::lead::{Lead, LeadStatus};
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::commands::Command;
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::store::StoreExt;

/// Who issues a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// A sales person.
    Ann,
    /// Another sales person.
    Bob,
    /// A manager.
    Maria,
}

impl Who {
    /// The actor.
    pub fn actor(self) -> Actor {
        match self {
            Self::Ann => ann(),
            Self::Bob => bob(),
            Self::Maria => maria(),
        }
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
}

impl MDeal {
    /// A new deal: open, at the sales pipeline's first stage.
    fn new() -> Self {
        Self {
            stage: "prospecting",
            status: DealStatus::Open,
            closed_on: false,
            lost: false,
        }
    }

    fn probability(&self) -> u8 {
        match self.stage {
            "prospecting" => 10,
            "proposal" => 40,
            "lost" => 0,
            _ => 100,
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
}

impl MLead {
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
    /// The expected outcome of the last step.
    pub last: Expect,
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
}

impl Step {
    fn target(&self) -> Option<usize> {
        match self {
            Self::Create { .. } => None,
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
            | Self::Reassign { lead, .. } => Some(*lead),
        }
    }

    fn needs_deal(&self) -> bool {
        matches!(
            self,
            Self::MoveDeal { .. } | Self::WinDeal { .. } | Self::LoseDeal { .. } | Self::ReopenDeal { .. }
        )
    }
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![4 => Just(Who::Ann), 3 => Just(Who::Bob), 2 => Just(Who::Maria)]
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

fn reason_ok(reason: &str, known: &[&str], note: bool) -> bool {
    known[..4].contains(&reason) && (reason != "other" || note)
}

impl ReferenceStateMachine for PipelineModel {
    type State = ModelState;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<ModelState> {
        Just(ModelState::default()).boxed()
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
        let n = state.leads.len();
        if n == 0 {
            return create;
        }
        let lead = 0..n;
        let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
            (2, create),
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
                (pick, 0..3usize, who())
                    .prop_map(|(lead, deal, who)| Step::ReopenDeal { lead, deal, who })
                    .boxed(),
            ));
        }
        Union::new_weighted(arms).boxed()
    }

    fn preconditions(state: &ModelState, step: &Step) -> bool {
        match step.target() {
            None => true,
            Some(i) => state
                .leads
                .get(i)
                .is_some_and(|l| !step.needs_deal() || !l.deals.is_empty()),
        }
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
        state.leads.push(MLead {
            owner: who,
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
        });
        return Applied;
    }
    let Some(i) = step.target() else { return Applied };
    let groups = state.customer_groups.clone();
    let Some(l) = state.leads.get_mut(i) else {
        return Applied;
    };
    let may = |who: Who| who == Who::Maria || who == l.owner;
    let before = l.clone();
    let result = match *step {
        Step::Create { .. } => Applied,
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
                || !l.at.has_phases()
                || target.0 != l.at
                || (reason.is_some() && !closing(Some(target)))
            {
                Refused("phase")
            } else if reason.is_some_and(|r| !reason_ok(r, &CLOSING_REASONS, false)) {
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
            } else if !closing(l.phase) {
                Refused("phase")
            } else if !reason_ok(reason, &CLOSING_REASONS, note) {
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
                let ok = match (at.has_phases(), target) {
                    (false, None) => true,
                    (true, Some(p)) => p.0 == at,
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
                l.deals.push(MDeal::new());
                Applied
            }
        }
        Step::Disqualify { who, reason, note, .. } => {
            if !may(who) {
                Refused("permission")
            } else if !l.open_status() {
                Refused("lead")
            } else if !reason_ok(reason, &LOST_REASONS, note) {
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
                    Some(p) if p.0 == l.at => Some(p),
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
                l.deals.push(MDeal::new());
                Applied
            }
        }
        Step::MoveDeal { who, deal, stage, .. } => deal_step(l, who, deal, DealOp::Move(stage)),
        Step::WinDeal { who, deal, .. } => deal_step(l, who, deal, DealOp::Win),
        Step::LoseDeal {
            who,
            deal,
            reason,
            note,
            ..
        } => deal_step(l, who, deal, DealOp::Lose(reason, note)),
        Step::ReopenDeal { who, deal, .. } => deal_step(l, who, deal, DealOp::Reopen),
        // Only a manager reassigns; the deals follow the lead, so the new owner
        // works them and the previous one no longer does.
        Step::Reassign { who, to, .. } => {
            if who != Who::Maria {
                Refused("permission")
            } else {
                l.owner = to;
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
    ) != (
        b.owner,
        b.at,
        b.status,
        b.phase,
        b.closing,
        b.lost,
        b.reopen_point,
        b.has_customer,
    )
}

enum DealOp {
    Move(&'static str),
    Win,
    Lose(&'static str, bool),
    Reopen,
}

fn deal_step(l: &mut MLead, who: Who, index: usize, op: DealOp) -> Expect {
    use Expect::{Applied, Refused};
    if who != Who::Maria && who != l.owner {
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
            if !reason_ok(reason, &LOST_REASONS, note) {
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
            if deal.status == DealStatus::Won && l.status == LeadStatus::Converted && !other_won {
                let saved = l.reopen_point.and_then(|(_, p)| p);
                let back = match saved {
                    Some(p) if p.0 == l.at && !closing(Some(p)) => Some(p),
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

/// The reference state machine.
#[derive(Debug)]
pub struct PipelineModel;

/// Shared per test thread: one runtime and one engine over the backend's store.
/// Every case works on its own leads (and its own e-mail addresses), so cases
/// do not see each other.
struct Harness {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    config: Config,
}

thread_local! {
    static HARNESS: RefCell<Option<Rc<Harness>>> = const { RefCell::new(None) };
}

/// The system under test: the engine, and the ids of this case's leads.
pub struct Sut {
    harness: Rc<Harness>,
    token: String,
    leads: Vec<LeadId>,
    cursor: u64,
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
                    .events_since(cursor, 500)
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
        | Step::Reassign { who, .. } => *who,
    }
}

impl StateMachineTest for PipelineTest {
    type SystemUnderTest = Sut;
    type Reference = PipelineModel;

    fn init_test(_ref_state: &ModelState) -> Sut {
        let harness = HARNESS
            .with(|h| h.borrow().clone())
            .unwrap_or_else(|| panic!("run_state_machine sets up the harness"));
        let cursor = harness.rt.block_on(async {
            let mut cursor = 0;
            loop {
                let page = harness
                    .engine
                    .events_since(cursor, 1000)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                match page.last() {
                    Some(e) => cursor = e.seq,
                    None => return cursor,
                }
            }
        });
        Sut {
            harness,
            token: uuid::Uuid::now_v7().simple().to_string(),
            leads: Vec::new(),
            cursor,
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
        let result: Result<_, Error> = sut.block_on(sut.engine().execute(&actor, cmd));
        match (ref_state.last, &result) {
            (Expect::Applied, Ok(out)) => {
                if let (Step::Create { .. }, crate::engine::commands::CommandOutput::Lead { lead }) = (&step, out) {
                    sut.leads.push(lead.id);
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

    fn check_invariants(sut: &Sut, ref_state: &ModelState) {
        assert_eq!(sut.leads.len(), ref_state.leads.len(), "lead count");
        let config = &sut.harness.config;
        for (id, m) in sut.leads.iter().zip(&ref_state.leads) {
            let (lead, deals, history) = sut.read(*id);
            let lead = lead.unwrap_or_else(|| panic!("lead {id} vanished"));
            // The real state equals the model.
            assert_eq!(lead.status, m.status, "status of lead {}", lead.number);
            assert_eq!(
                lead.account_type.as_str(),
                m.at.code(),
                "account type of lead {}",
                lead.number
            );
            assert_eq!(lead.phase, m.phase.map(to_ref), "phase of lead {}", lead.number);
            assert_eq!(
                lead.closing_reason
                    .as_ref()
                    .map(|r| (r.as_str(), lead.closing_note.is_some())),
                m.closing,
                "closing reason of lead {}",
                lead.number
            );
            assert_eq!(
                lead.lost_reason
                    .as_ref()
                    .map(|r| (r.as_str(), lead.lost_note.is_some())),
                m.lost,
                "lost reason of lead {}",
                lead.number
            );
            assert_eq!(
                lead.customer.is_some(),
                m.has_customer,
                "customer link of lead {}",
                lead.number
            );
            assert_eq!(
                history, m.changes,
                "history entries of lead {} (one per applied change)",
                lead.number
            );
            assert_eq!(lead.version as usize, m.changes, "version of lead {}", lead.number);
            let real_deals: Vec<MDeal> = deals
                .iter()
                .map(|d| MDeal {
                    stage: STAGES.iter().copied().find(|s| *s == d.stage.as_str()).unwrap_or("?"),
                    status: d.status,
                    closed_on: d.close_date.is_some(),
                    lost: d.lost_reason.is_some(),
                })
                .collect();
            assert_eq!(real_deals, m.deals, "deals of lead {}", lead.number);
            assert_eq!(lead.owner, m.owner.actor().user, "owner of lead {}", lead.number);
            for d in &deals {
                assert_eq!(
                    (&d.owner, &d.team),
                    (&lead.owner, &lead.team),
                    "a deal of lead {} has the lead's owner and team",
                    lead.number
                );
            }
            // Invariants.
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
            if lead.closing_reason.is_some() {
                assert!(lead.in_closing_phase(config), "a closing reason needs a closing phase");
            }
            if let Some(p) = &lead.phase {
                assert!(
                    config
                        .allowed_phases(&lead.account_type)
                        .iter()
                        .any(|x| &x.reference() == p),
                    "phase {p} is allowed for {}",
                    lead.account_type
                );
            }
            for (d, md) in deals.iter().zip(&m.deals) {
                assert!(d.probability <= 100);
                assert_eq!(d.probability, md.probability(), "probability follows the stage");
            }
        }
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
    let config = rt
        .block_on(engine.config())
        .map(|(c, _)| c)
        .unwrap_or_else(|e| panic!("config: {e}"));
    HARNESS.with(|h| *h.borrow_mut() = Some(Rc::new(Harness { rt, engine, config })));
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
    eprintln!("state machine: {cases} cases passed");
}
