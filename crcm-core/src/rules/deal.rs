//! Deal rules: stages, win, lose, reopen, probability, edits, documents.

use crate::domain::activity::Subject;
use crate::domain::config::{Config, Outcome, StageKind};
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::event::DomainEvent;
use crate::domain::ids::Code;
use crate::domain::input::DealPatch;
use crate::domain::lead::{DocumentKind, Lead, LeadStatus, ReopenPoint};
use crate::domain::limits::{self};
use crate::rules::access::{self};
use crate::rules::error::Error;
use crate::rules::machine::DealError;
use crate::rules::machine::{self, DealAction, LeadAction};
use crate::store::uow::UnitOfWork;

use super::fields::{check_len, unknown};
use super::lead::{add_document, enter_phase, phase_events, restore_phase};
use super::reason::lost_reason;
use super::{Ctx, status_changed};

/// A deal change and its effect on the lead.
#[derive(Clone, Debug)]
pub struct DealChanged {
    /// The unit of work.
    pub uow: UnitOfWork,
    /// The deal after the change.
    pub deal: Deal,
    /// The lead after the change, when it changed.
    pub lead: Option<Lead>,
}

/// The deal's lead and whether another of the lead's deals is won.
#[derive(Clone, Copy, Debug, Default)]
pub struct DealLead<'a> {
    /// The lead the deal came from, if any.
    pub lead: Option<&'a Lead>,
    /// Another deal of that lead is won.
    pub other_won: bool,
}

pub(crate) fn stage_of<'c>(
    config: &'c Config,
    deal: &Deal,
    stage: &Code,
) -> Result<(&'c crate::domain::config::Pipeline, &'c crate::domain::config::Stage), Error> {
    let Some(pipeline) = config.pipeline(&deal.pipeline) else {
        return Err(unknown(ReferenceKind::Pipeline, &deal.pipeline).into());
    };
    let Some(s) = pipeline.stage(stage) else {
        return Err(DealError::StageNotInPipeline {
            stage: stage.clone(),
            pipeline: deal.pipeline.clone(),
        }
        .into());
    };
    Ok((pipeline, s))
}

/// Applies a status change and its lead side effects (conversion, un-conversion).
pub(crate) fn finish_deal_change(
    ctx: &Ctx<'_>,
    deal: &Deal,
    mut next: Deal,
    link: DealLead<'_>,
) -> Result<DealChanged, Error> {
    let today = ctx.now.date_naive();
    let mut uow = ctx.uow();
    match (deal.status, next.status) {
        (DealStatus::Open, DealStatus::Won) => {
            next.close_date = Some(today);
            next.probability = 100;
        }
        (DealStatus::Open, DealStatus::Lost) => {
            next.close_date = Some(today);
            next.probability = 0;
        }
        (DealStatus::Won | DealStatus::Lost, DealStatus::Open) => {
            next.close_date = None;
            next.lost_reason = None;
            next.lost_note = None;
        }
        // Won to won keeps the first close date.
        _ => {}
    }
    next.updated_at = ctx.now;
    uow.update(deal, &mut next);
    if deal.stage != next.stage {
        uow.event(DomainEvent::DealStageChanged {
            deal: deal.id,
            from: deal.stage.clone(),
            to: next.stage.clone(),
        });
    }
    let mut lead_after = None;
    match (deal.status, next.status) {
        (DealStatus::Open, DealStatus::Won) => {
            uow.event(DomainEvent::DealWon {
                deal: deal.id,
                lead: deal.lead,
                customer: deal.customer,
                value: next.value,
                close_date: today,
            });
            if let Some(lead) = link.lead
                && lead.status != LeadStatus::Converted
            {
                // Seed 001: "Converted — set automatically when a linked deal is won".
                let to = machine::lead_transition(lead.number, lead.status, LeadAction::Convert, None)?;
                let mut l = lead.clone();
                l.reopen_point = Some(ReopenPoint {
                    status: lead.status,
                    phase: lead.phase.clone(),
                });
                l.status = to;
                l.lost_reason = None;
                l.lost_note = None;
                if let Some(won) = ctx.config.outcome_phase(&lead.account_type, Outcome::Won) {
                    enter_phase(&mut l, ctx.config, Some(won.reference()), ctx.now);
                }
                l.updated_at = ctx.now;
                ctx.update_lead(&mut uow, lead, &mut l);
                status_changed(&mut uow, lead.id, lead.status, to);
                uow.event(DomainEvent::LeadConverted {
                    lead: lead.id,
                    deal: deal.id,
                });
                phase_events(&mut uow, lead, &l);
                lead_after = Some(l);
            }
        }
        (DealStatus::Open, DealStatus::Lost) => {
            uow.event(DomainEvent::DealLost {
                deal: deal.id,
                reason: next
                    .lost_reason
                    .clone()
                    .unwrap_or_else(|| crate::domain::ids::code("unknown")),
            });
        }
        (DealStatus::Won | DealStatus::Lost, DealStatus::Open) => {
            uow.event(DomainEvent::DealReopened { deal: deal.id });
            if deal.status == DealStatus::Won
                && !link.other_won
                && let Some(lead) = link.lead
                && lead.status == LeadStatus::Converted
            {
                // Converted needs a won deal: without one the lead is Qualified again.
                let to = machine::lead_transition(lead.number, lead.status, LeadAction::Unconvert, None)?;
                let mut l = lead.clone();
                l.status = to;
                let saved = lead.reopen_point.as_ref().and_then(|p| p.phase.clone());
                let phase = restore_phase(ctx.config, lead, saved.as_ref(), true);
                enter_phase(&mut l, ctx.config, phase, ctx.now);
                l.reopen_point = None;
                l.updated_at = ctx.now;
                ctx.update_lead(&mut uow, lead, &mut l);
                status_changed(&mut uow, lead.id, lead.status, to);
                phase_events(&mut uow, lead, &l);
                lead_after = Some(l);
            }
        }
        _ => {}
    }
    Ok(DealChanged {
        uow,
        deal: next,
        lead: lead_after,
    })
}

/// Moves a deal to a stage of its pipeline. An open stage keeps it open (its
/// probability follows the stage unless set by hand); a won stage wins it; a
/// lost stage needs LoseDeal and a reason.
pub fn move_deal_stage(ctx: &Ctx<'_>, deal: &Deal, stage: &Code, link: DealLead<'_>) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let (_, target) = stage_of(ctx.config, deal, stage)?;
    let status = machine::deal_transition(deal.status, DealAction::MoveTo(target.kind), stage)?;
    let mut next = deal.clone();
    next.stage = stage.clone();
    next.status = status;
    if target.kind == StageKind::Open && !deal.probability_manual {
        next.probability = target.probability;
    }
    finish_deal_change(ctx, deal, next, link)
}

/// Wins a deal at a won stage (default: the pipeline's first); the lead becomes Converted.
pub fn win_deal(ctx: &Ctx<'_>, deal: &Deal, stage: Option<&Code>, link: DealLead<'_>) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let target = pick_stage(ctx.config, deal, stage, StageKind::Won)?;
    let status = machine::deal_transition(deal.status, DealAction::Win, &target)?;
    let mut next = deal.clone();
    next.stage = target;
    next.status = status;
    finish_deal_change(ctx, deal, next, link)
}

/// Loses a deal with a lost reason, at the pipeline's first lost stage.
pub fn lose_deal(
    ctx: &Ctx<'_>,
    deal: &Deal,
    reason: &Code,
    note_text: Option<&str>,
    link: DealLead<'_>,
) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let target = pick_stage(ctx.config, deal, None, StageKind::Lost)?;
    let status = machine::deal_transition(deal.status, DealAction::Lose, &target)?;
    let n = lost_reason(ctx.config, reason, note_text)?;
    let mut next = deal.clone();
    next.stage = target;
    next.status = status;
    next.lost_reason = Some(reason.clone());
    next.lost_note = n;
    finish_deal_change(ctx, deal, next, link)
}

/// Reopens a won or lost deal at an open stage (default: the first); close date
/// and lost reason are cleared, the probability follows the stage again.
pub fn reopen_deal(ctx: &Ctx<'_>, deal: &Deal, stage: Option<&Code>, link: DealLead<'_>) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let target = pick_stage(ctx.config, deal, stage, StageKind::Open)?;
    let status = machine::deal_transition(deal.status, DealAction::Reopen, &target)?;
    let (_, s) = stage_of(ctx.config, deal, &target)?;
    let mut next = deal.clone();
    next.probability = s.probability;
    next.probability_manual = false;
    next.stage = target;
    next.status = status;
    finish_deal_change(ctx, deal, next, link)
}

pub(crate) fn pick_stage(config: &Config, deal: &Deal, stage: Option<&Code>, kind: StageKind) -> Result<Code, Error> {
    let Some(pipeline) = config.pipeline(&deal.pipeline) else {
        return Err(unknown(ReferenceKind::Pipeline, &deal.pipeline).into());
    };
    let chosen = match stage {
        Some(code) => pipeline.stage(code).ok_or_else(|| DealError::StageNotInPipeline {
            stage: code.clone(),
            pipeline: deal.pipeline.clone(),
        })?,
        None => pipeline.first_of(kind).ok_or_else(|| DealError::NoStageOfKind {
            pipeline: deal.pipeline.clone(),
            kind,
        })?,
    };
    if chosen.kind != kind {
        return Err(DealError::WrongStageKind {
            stage: chosen.code.clone(),
            kind: chosen.kind,
            expected: kind,
        }
        .into());
    }
    Ok(chosen.code.clone())
}

/// Sets an open deal's probability by hand (0..=100); `None` makes it follow the stage again.
pub fn set_deal_probability(ctx: &Ctx<'_>, deal: &Deal, probability: Option<u8>) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    if deal.status != DealStatus::Open {
        return Err(DealError::ProbabilityFixed { status: deal.status }.into());
    }
    let mut next = deal.clone();
    match probability {
        Some(p) if p > 100 => return Err(InputError::ProbabilityOutOfRange { value: i64::from(p) }.into()),
        Some(p) => {
            next.probability = p;
            next.probability_manual = true;
        }
        None => {
            let (_, s) = stage_of(ctx.config, deal, &deal.stage)?;
            next.probability = s.probability;
            next.probability_manual = false;
        }
    }
    Ok(deal_fields_changed(ctx, deal, next))
}

/// Writes changed deal fields (an unchanged deal writes nothing).
fn deal_fields_changed(ctx: &Ctx<'_>, deal: &Deal, mut next: Deal) -> DealChanged {
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    let fields = uow.update(deal, &mut next);
    if !fields.is_empty() {
        uow.event(DomainEvent::DealUpdated { deal: deal.id, fields });
    }
    DealChanged {
        uow,
        deal: next,
        lead: None,
    }
}

/// Edits deal fields.
pub fn update_deal(ctx: &Ctx<'_>, deal: &Deal, patch: &DealPatch) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let mut errors = Vec::new();
    let mut next = deal.clone();
    if let Some(t) = &patch.title {
        let t = t.trim();
        if t.is_empty() {
            errors.push(InputError::Required {
                field: "title".to_owned(),
            });
        }
        check_len(&mut errors, "title", t, limits::LINE);
        next.title = t.to_owned();
    }
    if let Some(v) = patch.value {
        if let Some(m) = &v
            && let Err(e) = m.validate()
        {
            errors.push(e);
        }
        next.value = v;
    }
    if let Some(d) = patch.expected_close {
        limits::collect_date(&mut errors, "expected_close", d);
        next.expected_close = d;
    }
    InputError::collect(errors)?;
    Ok(deal_fields_changed(ctx, deal, next))
}

/// Links a quotation, order or invoice to a deal.
pub fn link_deal_document(
    ctx: &Ctx<'_>,
    deal: &Deal,
    kind: DocumentKind,
    external_id: &str,
) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let mut next = deal.clone();
    let mut uow = ctx.uow();
    if let Some(doc) = add_document(&mut next.documents, kind, external_id, ctx.now)? {
        next.updated_at = ctx.now;
        uow.update(deal, &mut next);
        uow.event(DomainEvent::DocumentLinked {
            subject: Subject::Deal(deal.id),
            kind,
            external_id: doc.external_id,
        });
    }
    Ok(DealChanged {
        uow,
        deal: next,
        lead: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::LeadStatus;
    use crate::rules::qualify::{CustomerFound, qualify};
    use crate::rules::test_support::{ann, bob, code, ctx, lead, phase, phased_config};

    /// A qualified lead and its deal.
    fn qualified(config: &Config) -> (Lead, Deal) {
        let ann = ann();
        let l = lead(config, 1, LeadStatus::Contacted);
        let q = qualify(&ctx(config, &ann), &l, &CustomerFound::Create, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        (q.lead, q.deal)
    }

    #[test]
    fn winning_converts_the_lead_and_reopening_unconverts_it() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let (l, deal) = qualified(&config);
        let link = DealLead {
            lead: Some(&l),
            other_won: false,
        };
        let won = win_deal(&c, &deal, None, link).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((won.deal.status, won.deal.probability), (DealStatus::Won, 100));
        assert_eq!(won.deal.close_date, Some(c.now.date_naive()));
        let converted = won.lead.clone().unwrap_or_else(|| panic!("the lead changes"));
        assert_eq!(
            (converted.status, converted.phase.clone()),
            (LeadStatus::Converted, Some(phase("WON")))
        );
        let link = DealLead {
            lead: Some(&converted),
            other_won: false,
        };
        let reopened = reopen_deal(&c, &won.deal, None, link).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reopened.deal.status, DealStatus::Open);
        assert_eq!(reopened.lead.map(|l| l.status), Some(LeadStatus::Qualified));
    }

    #[test]
    fn a_lost_stage_needs_a_reason_and_closed_deals_keep_their_probability() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let (l, deal) = qualified(&config);
        let link = || DealLead {
            lead: Some(&l),
            other_won: false,
        };
        let e = move_deal_stage(&c, &deal, &code("lost"), link()).err();
        assert!(
            matches!(e, Some(Error::Deal(DealError::LostNeedsReason { .. }))),
            "{e:?}"
        );
        let e = move_deal_stage(&c, &deal, &code("nope"), link()).err();
        assert!(
            matches!(e, Some(Error::Deal(DealError::StageNotInPipeline { .. }))),
            "{e:?}"
        );
        let e = win_deal(&c, &deal, Some(&code("proposal")), link()).err();
        assert!(
            matches!(
                e,
                Some(Error::Deal(DealError::WrongStageKind {
                    kind: StageKind::Open,
                    expected: StageKind::Won,
                    ..
                }))
            ),
            "{e:?}"
        );
        let lost = lose_deal(&c, &deal, &code("no_budget"), None, link()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lost.deal.status, lost.deal.probability), (DealStatus::Lost, 0));
        let e = set_deal_probability(&c, &lost.deal, Some(50)).err();
        assert!(
            matches!(e, Some(Error::Deal(DealError::ProbabilityFixed { .. }))),
            "{e:?}"
        );
        let e = lose_deal(&c, &lost.deal, &code("no_budget"), None, link()).err();
        assert!(
            matches!(
                e,
                Some(Error::Deal(DealError::NotAllowed {
                    action: DealAction::Lose,
                    ..
                }))
            ),
            "{e:?}"
        );
    }

    #[test]
    fn probability_follows_the_stage_until_set_by_hand() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let (l, deal) = qualified(&config);
        let link = DealLead {
            lead: Some(&l),
            other_won: false,
        };
        let moved = move_deal_stage(&c, &deal, &code("negotiation"), link).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(moved.deal.probability, 70);
        let manual = set_deal_probability(&c, &moved.deal, Some(55)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((manual.deal.probability, manual.deal.probability_manual), (55, true));
        let back = set_deal_probability(&c, &manual.deal, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.deal.probability, back.deal.probability_manual), (70, false));
        let e = set_deal_probability(&c, &deal, Some(101)).err();
        assert!(
            matches!(e, Some(Error::Input(InputError::ProbabilityOutOfRange { .. }))),
            "{e:?}"
        );
        let e = update_deal(&ctx(&config, &bob()), &deal, &DealPatch::default()).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
    }
}
