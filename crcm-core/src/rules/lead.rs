//! Lead rules: create, edit, status, phase, account type, disqualify,
//! reopen, merge, reassign, team, delete, documents.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, Outcome, PhaseRef, PhaseType};
use crate::domain::deal::Deal;
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::event::DomainEvent;
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::input::{LeadPatch, NewLead};
use crate::domain::lead::{DocumentKind, DocumentLink, Lead, LeadStatus, ReopenPoint};
use crate::domain::limits::{self};
use crate::rules::access::{self, Action, Role};
use crate::rules::error::Error;
use crate::rules::machine::{self, LeadAction};
use crate::rules::machine::{LeadError, LeadLinks, PhaseError};
use crate::store::uow::UnitOfWork;

use super::fields::{check_lead_codes, check_len, check_team, parse_email, parse_phone, unknown};
use super::reason::{closing_reason, lost_reason};
use super::{Ctx, status_changed};

/// Every field rule of a lead: a name or company, known references, valid
/// amounts and probability, custom fields that fit their definitions, text
/// lengths. Reports every problem at once.
pub fn validate_lead(config: &Config, lead: &Lead) -> Result<(), InputError> {
    let mut errors = Vec::new();
    if lead.first_name.trim().is_empty() && lead.last_name.trim().is_empty() && lead.company.trim().is_empty() {
        errors.push(InputError::OneOfRequired {
            fields: ["first_name", "last_name", "company"].map(str::to_owned).to_vec(),
        });
    }
    for (field, value) in [
        ("title", &lead.title),
        ("first_name", &lead.first_name),
        ("last_name", &lead.last_name),
        ("company", &lead.company),
        ("job_title", &lead.job_title),
        ("address", &lead.address),
        ("city", &lead.city),
        ("state", &lead.state),
        ("zone", &lead.zone),
    ] {
        check_len(&mut errors, field, value, limits::LINE);
    }
    check_len(&mut errors, "description", &lead.description, limits::TEXT);
    if let Some(r) = &lead.external_ref {
        if r.id.trim().is_empty() {
            errors.push(InputError::Required {
                field: "external_ref.id".to_owned(),
            });
        }
        check_len(&mut errors, "external_ref.id", &r.id, limits::EXTERNAL_ID);
    }
    check_lead_codes(
        &mut errors,
        config,
        Some(&lead.account_type),
        lead.source.as_ref(),
        lead.priority.as_ref(),
        &lead.tags,
    );
    if let Some(p) = lead.probability
        && p > 100
    {
        errors.push(InputError::ProbabilityOutOfRange { value: i64::from(p) });
    }
    if let Some(m) = &lead.expected_revenue
        && let Err(e) = m.validate()
    {
        errors.push(e);
    }
    limits::collect_date(&mut errors, "expected_close", lead.expected_close);
    if let Err(e) = crate::domain::custom::validate(config, &lead.custom) {
        match e {
            InputError::Many(list) => errors.extend(list),
            other => errors.push(other),
        }
    }
    InputError::collect(errors)
}

/// Builds and validates a new lead, in the Initial phase of its account type.
/// Its number is 0 until [`record_new_lead`] gives it one, so a refused lead
/// never consumes a number.
pub fn new_lead(ctx: &Ctx<'_>, input: &NewLead) -> Result<Lead, Error> {
    let owner = input.owner.clone().unwrap_or_else(|| ctx.actor.user.clone());
    access::can_assign_owner(ctx.actor, &owner)?;
    let account_type = match &input.account_type {
        Some(a) => a.clone(),
        None => match ctx.config.account_types.as_slice() {
            [only] => only.code.clone(),
            _ => {
                return Err(InputError::Required {
                    field: "account_type".to_owned(),
                }
                .into());
            }
        },
    };
    let mut errors = Vec::new();
    let region = ctx.config.settings.default_phone_region.as_str();
    let email = parse_email(&mut errors, input.email.as_deref());
    let phone = parse_phone(&mut errors, input.phone.as_deref(), region);
    let phase = ctx.config.initial_phase(&account_type).map(|p| p.reference());
    check_team(&input.team)?;
    let mut team = input.team.clone();
    team.remove(&owner);
    let lead = Lead {
        id: LeadId::new(),
        number: 0,
        version: 1,
        title: input.title.trim().to_owned(),
        first_name: input.first_name.trim().to_owned(),
        last_name: input.last_name.trim().to_owned(),
        company: input.company.trim().to_owned(),
        job_title: input.job_title.trim().to_owned(),
        email,
        phone,
        address: input.address.trim().to_owned(),
        city: input.city.trim().to_owned(),
        state: input.state.trim().to_owned(),
        zone: input.zone.trim().to_owned(),
        source: input.source.clone(),
        priority: input.priority.clone(),
        description: input.description.trim().to_owned(),
        owner: owner.clone(),
        team,
        tags: input.tags.clone(),
        expected_revenue: input.expected_revenue,
        probability: input.probability,
        expected_close: input.expected_close,
        account_type,
        phase,
        phase_entered_at: ctx.now,
        status: LeadStatus::New,
        closing_reason: None,
        closing_note: None,
        lost_reason: None,
        lost_note: None,
        customer: input.customer,
        merged_into: None,
        merged_from: BTreeSet::new(),
        external_ref: input.external_ref.as_ref().map(|r| crate::domain::lead::ExternalRef {
            system: r.system.clone(),
            id: r.id.trim().to_owned(),
        }),
        import: None,
        closed_at: None,
        reopen_point: None,
        documents: Vec::new(),
        custom: input.custom.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    if let Err(e) = validate_lead(ctx.config, &lead) {
        match e {
            InputError::Many(list) => errors.extend(list),
            other => errors.push(other),
        }
    }
    InputError::collect(errors)?;
    Ok(lead)
}

/// Records a validated new lead under its number.
pub fn record_new_lead(ctx: &Ctx<'_>, lead: Lead, number: u64) -> (UnitOfWork, Lead) {
    let mut uow = ctx.uow();
    let lead = add_new_lead(&mut uow, lead, number);
    (uow, lead)
}

/// Adds a validated new lead, under its number, to a unit of work that may
/// hold others (an import batch): the insert, its history and its
/// `LeadCreated` event, as for a single create.
pub fn add_new_lead(uow: &mut UnitOfWork, mut lead: Lead, number: u64) -> Lead {
    lead.number = number;
    uow.insert(&lead);
    uow.event(DomainEvent::LeadCreated {
        lead: lead.id,
        number,
        owner: lead.owner.clone(),
    });
    lead
}

/// A merged lead no longer changes: work on the lead it was merged into.
pub(crate) fn refuse_merged(lead: &Lead) -> Result<(), LeadError> {
    if lead.status == LeadStatus::Merged {
        return Err(LeadError::Merged {
            number: lead.number,
            into: lead.merged_into,
        });
    }
    Ok(())
}

/// Edits lead fields.
pub fn update_lead(ctx: &Ctx<'_>, lead: &Lead, patch: &LeadPatch) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    let mut errors = Vec::new();
    let region = ctx.config.settings.default_phone_region.as_str();
    let mut next = lead.clone();
    let set_text = |target: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            *target = v.trim().to_owned();
        }
    };
    set_text(&mut next.title, &patch.title);
    set_text(&mut next.first_name, &patch.first_name);
    set_text(&mut next.last_name, &patch.last_name);
    set_text(&mut next.company, &patch.company);
    set_text(&mut next.job_title, &patch.job_title);
    set_text(&mut next.address, &patch.address);
    set_text(&mut next.city, &patch.city);
    set_text(&mut next.state, &patch.state);
    set_text(&mut next.zone, &patch.zone);
    set_text(&mut next.description, &patch.description);
    if let Some(e) = &patch.email {
        next.email = parse_email(&mut errors, e.as_deref());
    }
    if let Some(p) = &patch.phone {
        next.phone = parse_phone(&mut errors, p.as_deref(), region);
    }
    if let Some(s) = &patch.source {
        next.source.clone_from(s);
    }
    if let Some(p) = &patch.priority {
        next.priority.clone_from(p);
    }
    if let Some(t) = &patch.tags {
        next.tags.clone_from(t);
    }
    next.tags.extend(patch.add_tags.iter().cloned());
    if let Some(m) = patch.expected_revenue {
        next.expected_revenue = m;
    }
    if let Some(p) = patch.probability {
        next.probability = p;
    }
    if let Some(d) = patch.expected_close {
        next.expected_close = d;
    }
    for (name, value) in &patch.custom {
        match value {
            Some(v) => {
                next.custom.insert(name.clone(), v.clone());
            }
            None => {
                next.custom.remove(name);
            }
        }
    }
    if let Err(e) = validate_lead(ctx.config, &next) {
        match e {
            InputError::Many(list) => errors.extend(list),
            other => errors.push(other),
        }
    }
    InputError::collect(errors)?;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    let fields = ctx.update_lead(&mut uow, lead, &mut next);
    if !fields.is_empty() {
        uow.event(DomainEvent::LeadUpdated { lead: lead.id, fields });
    }
    Ok((uow, next))
}

/// Sets New or Contacted by hand; any other status names the action that reaches it.
pub fn set_status(ctx: &Ctx<'_>, lead: &Lead, status: LeadStatus) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    let action = machine::manual_status_action(status)?;
    let to = machine::lead_transition(lead.number, lead.status, action, None)?;
    let mut next = lead.clone();
    next.status = to;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    if !ctx.update_lead(&mut uow, lead, &mut next).is_empty() {
        status_changed(&mut uow, lead.id, lead.status, to);
    }
    Ok((uow, next))
}

/// Puts the lead in `phase`. A phase change restarts the time in phase and
/// clears the closing reason: a reason belongs to the closing phase it was
/// recorded in.
///
/// Each entry is strictly later than the one before (by a microsecond when
/// the clock has not moved on or went back): a stay is known by its lead,
/// phase and entry time, so two stays of one lead never share an instant.
pub(crate) fn enter_phase(next: &mut Lead, config: &Config, phase: Option<PhaseRef>, now: DateTime<Utc>) {
    if next.phase != phase {
        next.phase = phase;
        let after_last = next
            .phase_entered_at
            .checked_add_signed(chrono::TimeDelta::microseconds(1))
            .unwrap_or(now);
        next.phase_entered_at = now.max(after_last);
        next.closing_reason = None;
        next.closing_note = None;
    }
    if !next.in_closing_phase(config) {
        next.closing_reason = None;
        next.closing_note = None;
    }
}

pub(crate) fn phase_events(uow: &mut UnitOfWork, old: &Lead, new: &Lead) {
    if old.phase != new.phase {
        uow.event(DomainEvent::PhaseChanged {
            lead: old.id,
            from: old.phase.clone(),
            to: new.phase.clone(),
        });
    }
}

/// Moves a lead to a phase of its account type, optionally recording a closing reason.
pub fn move_phase(
    ctx: &Ctx<'_>,
    lead: &Lead,
    target: &PhaseRef,
    reason: Option<&Code>,
    note_text: Option<&str>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    let phase = machine::phase_target(ctx.config, lead, target)?;
    let mut next = lead.clone();
    enter_phase(&mut next, ctx.config, Some(target.clone()), ctx.now);
    if let Some(reason) = reason {
        if phase.phase_type != PhaseType::Closing {
            return Err(PhaseError::NotClosingPhase {
                number: lead.number,
                phase: Some(target.clone()),
            }
            .into());
        }
        record_closing_reason(ctx, &mut next, reason, note_text)?;
    }
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    phase_events(&mut uow, lead, &next);
    closing_reason_event(&mut uow, lead, &next);
    Ok((uow, next))
}

/// Checks a closing reason and its note and records them on `next`.
fn record_closing_reason(ctx: &Ctx<'_>, next: &mut Lead, reason: &Code, note_text: Option<&str>) -> Result<(), Error> {
    next.closing_note = closing_reason(ctx.config, reason, note_text)?;
    next.closing_reason = Some(reason.clone());
    Ok(())
}

/// The event of a closing reason recorded or changed (with its note).
fn closing_reason_event(uow: &mut UnitOfWork, old: &Lead, new: &Lead) {
    if let Some(reason) = &new.closing_reason
        && (new.closing_reason != old.closing_reason || new.closing_note != old.closing_note)
    {
        uow.event(DomainEvent::ClosingReasonSet {
            lead: old.id,
            reason: reason.clone(),
        });
    }
}

/// Records a closing reason; only in a closing phase.
pub fn set_closing_reason(
    ctx: &Ctx<'_>,
    lead: &Lead,
    reason: &Code,
    note_text: Option<&str>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    machine::closing_reason_allowed(ctx.config, lead)?;
    let mut next = lead.clone();
    record_closing_reason(ctx, &mut next, reason, note_text)?;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    closing_reason_event(&mut uow, lead, &next);
    Ok((uow, next))
}

/// Changes the account type; the new phase must be valid for the new type
/// (seed 004 FAQ: "After changing the type, select a status that is allowed for that type").
pub fn change_account_type(
    ctx: &Ctx<'_>,
    lead: &Lead,
    account_type: &Code,
    phase: Option<&PhaseRef>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    machine::phase_may_move(lead)?;
    if ctx.config.account_type(account_type).is_none() {
        return Err(unknown(ReferenceKind::AccountType, account_type).into());
    }
    let allowed = ctx.config.allowed_phases(account_type);
    let new_phase = match phase {
        Some(p) => Some(machine::allowed_phase(ctx.config, account_type, p)?.reference()),
        None if allowed.is_empty() => None,
        None => {
            return Err(PhaseError::PhaseRequiredForAccountType {
                account_type: account_type.clone(),
            }
            .into());
        }
    };
    let mut next = lead.clone();
    next.account_type = account_type.clone();
    enter_phase(&mut next, ctx.config, new_phase, ctx.now);
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    if lead.account_type != next.account_type {
        uow.event(DomainEvent::AccountTypeChanged {
            lead: lead.id,
            from: lead.account_type.clone(),
            to: next.account_type.clone(),
        });
    }
    phase_events(&mut uow, lead, &next);
    Ok((uow, next))
}

/// Disqualify / Lost (seeds 001, 003): a required lost reason; the lead moves
/// to its account type's closing phase with outcome `lost`, if configured.
pub fn disqualify(
    ctx: &Ctx<'_>,
    lead: &Lead,
    reason: &Code,
    note_text: Option<&str>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    let to = machine::lead_transition(lead.number, lead.status, LeadAction::Disqualify, None)?;
    let n = lost_reason(ctx.config, reason, note_text)?;
    let mut next = lead.clone();
    next.reopen_point = Some(ReopenPoint {
        status: lead.status,
        phase: lead.phase.clone(),
    });
    next.status = to;
    next.lost_reason = Some(reason.clone());
    next.lost_note = n;
    if let Some(lost) = ctx.config.outcome_phase(&lead.account_type, Outcome::Lost) {
        enter_phase(&mut next, ctx.config, Some(lost.reference()), ctx.now);
    }
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    status_changed(&mut uow, lead.id, lead.status, to);
    uow.event(DomainEvent::LeadDisqualified {
        lead: lead.id,
        reason: reason.clone(),
    });
    phase_events(&mut uow, lead, &next);
    Ok((uow, next))
}

/// The phase a lead returns to: the saved one if it is still allowed (and, when
/// `open_only`, not a closing phase), else its account type's Initial phase.
pub(crate) fn restore_phase(
    config: &Config,
    lead: &Lead,
    saved: Option<&PhaseRef>,
    open_only: bool,
) -> Option<PhaseRef> {
    match saved {
        Some(p)
            if machine::allowed_phase(config, &lead.account_type, p)
                .is_ok_and(|ph| !open_only || ph.phase_type != PhaseType::Closing) =>
        {
            Some(p.clone())
        }
        _ => config.initial_phase(&lead.account_type).map(|p| p.reference()),
    }
}

/// Reopens a disqualified lead: status and phase return to what they were; the
/// lost reason is cleared (history keeps it).
pub fn reopen(ctx: &Ctx<'_>, lead: &Lead) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    let saved = lead.reopen_point.clone();
    let to = machine::lead_transition(
        lead.number,
        lead.status,
        LeadAction::Reopen,
        saved.as_ref().map(|p| p.status),
    )?;
    let mut next = lead.clone();
    next.status = to;
    next.lost_reason = None;
    next.lost_note = None;
    next.reopen_point = None;
    let phase = restore_phase(ctx.config, lead, saved.as_ref().and_then(|p| p.phase.as_ref()), false);
    enter_phase(&mut next, ctx.config, phase, ctx.now);
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    status_changed(&mut uow, lead.id, lead.status, to);
    uow.event(DomainEvent::LeadReopened {
        lead: lead.id,
        status: to,
    });
    phase_events(&mut uow, lead, &next);
    Ok((uow, next))
}

/// What hangs off a lead and moves with it when it is merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeadBelongings {
    /// Its deals.
    pub deals: Vec<Deal>,
    /// Activities on its timeline.
    pub activities: Vec<Activity>,
    /// Follow-ups on its timeline.
    pub follow_ups: Vec<FollowUp>,
    /// Communications attached to it.
    pub communications: Vec<Communication>,
}

/// Merges a duplicate (New or Contacted) into an open lead (seed 003): the
/// duplicate's activities, follow-ups, communications and deals move to the
/// survivor (the deals take its owner and team), the survivor gains its tags
/// and records it in `merged_from`, and the duplicate closes as merged. Both
/// leads' history entries of the merge say so (`merged_into` on one,
/// `merged_from` on the other).
pub fn merge(
    ctx: &Ctx<'_>,
    lead: &Lead,
    into: &Lead,
    belongings: &LeadBelongings,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    access::can_change_lead(ctx.actor, into)?;
    if lead.id == into.id {
        return Err(LeadError::MergeIntoSelf.into());
    }
    refuse_merged(into)?;
    refuse_merged(lead)?;
    machine::lead_transition(into.number, into.status, LeadAction::MergeInto, None)?;
    // Closed leads are neither merged nor merged into, whether closed by
    // status or by a closing phase.
    for (l, action) in [(into, LeadAction::MergeInto), (lead, LeadAction::Merge)] {
        if l.in_closing_phase(ctx.config) {
            return Err(LeadError::Closed {
                number: l.number,
                status: l.status,
                action,
            }
            .into());
        }
    }
    let to = machine::lead_transition(lead.number, lead.status, LeadAction::Merge, None)?;
    let mut next = lead.clone();
    next.status = to;
    next.merged_into = Some(into.id);
    next.updated_at = ctx.now;
    // The survivor records each lead merged into it; a bounded list keeps
    // the record (and its history) small.
    limits::check_count("merged_from", into.merged_from.len() + 1, limits::MERGED)?;
    let mut survivor = into.clone();
    survivor.merged_from.insert(lead.id);
    survivor.tags.extend(lead.tags.iter().cloned());
    survivor.updated_at = ctx.now;
    let mut uow = ctx.uow();
    ctx.update_lead(&mut uow, lead, &mut next);
    ctx.update_lead(&mut uow, into, &mut survivor);
    status_changed(&mut uow, lead.id, lead.status, to);
    uow.event(DomainEvent::LeadMerged {
        lead: lead.id,
        into: into.id,
    });
    let here = Subject::Lead(into.id);
    for a in &belongings.activities {
        let mut moved = a.clone();
        moved.subject = here;
        uow.update(a, &mut moved);
    }
    for f in &belongings.follow_ups {
        let mut moved = f.clone();
        moved.subject = here;
        moved.updated_at = ctx.now;
        uow.update(f, &mut moved);
    }
    for c in &belongings.communications {
        let mut moved = c.clone();
        moved.lead = Some(into.id);
        moved.updated_at = ctx.now;
        uow.update(c, &mut moved);
    }
    // The moved deals are the survivor's now: its owner and team work them.
    for d in &belongings.deals {
        let mut moved = d.clone();
        moved.lead = Some(into.id);
        moved.owner = survivor.owner.clone();
        moved.team = survivor.team.clone();
        moved.updated_at = ctx.now;
        let fields = uow.update(d, &mut moved);
        uow.event(DomainEvent::DealUpdated { deal: d.id, fields });
    }
    Ok((uow, next))
}

/// Gives a lead another owner (manager). The lead's `deals` follow it: they
/// get the new owner and the lead's record team, so the previous owner no
/// longer works them (unless on the team) and the new owner does.
pub fn reassign(ctx: &Ctx<'_>, lead: &Lead, deals: &[Deal], owner: &UserId) -> Result<(UnitOfWork, Lead), Error> {
    access::require_role(ctx.actor, Role::Manager, Action::Reassign)?;
    refuse_merged(lead)?;
    let mut next = lead.clone();
    next.owner = owner.clone();
    next.team.remove(owner);
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    if !ctx.update_lead(&mut uow, lead, &mut next).is_empty() {
        uow.event(DomainEvent::LeadReassigned {
            lead: lead.id,
            from: lead.owner.clone(),
            to: owner.clone(),
        });
    }
    deals_follow_lead(ctx, &mut uow, &next, deals);
    Ok((uow, next))
}

/// Replaces a lead's record team (the owner or a manager); the lead's `deals`
/// get the same team.
pub fn set_team(
    ctx: &Ctx<'_>,
    lead: &Lead,
    deals: &[Deal],
    team: &BTreeSet<UserId>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_team(ctx.actor, lead)?;
    check_team(team)?;
    refuse_merged(lead)?;
    let mut next = lead.clone();
    next.team = team.iter().filter(|u| **u != lead.owner).cloned().collect();
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    if !ctx.update_lead(&mut uow, lead, &mut next).is_empty() {
        uow.event(DomainEvent::TeamChanged {
            lead: lead.id,
            team: next.team.iter().cloned().collect(),
        });
    }
    deals_follow_lead(ctx, &mut uow, &next, deals);
    Ok((uow, next))
}

/// Deal access follows the lead: a lead's deals have its owner and record team.
pub(crate) fn deals_follow_lead(ctx: &Ctx<'_>, uow: &mut UnitOfWork, lead: &Lead, deals: &[Deal]) {
    let stale = |d: &&Deal| d.lead == Some(lead.id) && (d.owner != lead.owner || d.team != lead.team);
    for deal in deals.iter().filter(stale) {
        let mut next = deal.clone();
        next.owner = lead.owner.clone();
        next.team = lead.team.clone();
        next.updated_at = ctx.now;
        let fields = uow.update(deal, &mut next);
        if !fields.is_empty() {
            uow.event(DomainEvent::DealUpdated { deal: deal.id, fields });
        }
    }
}

/// Deletes a lead (admin). Seed 003: refused while orders, invoices, calls,
/// e-mails (or deals and timeline items) are linked; close it instead.
pub fn delete_lead(ctx: &Ctx<'_>, lead: &Lead, links: &LeadLinks) -> Result<UnitOfWork, Error> {
    access::require_role(ctx.actor, Role::Admin, Action::DeleteLead)?;
    let mut links = links.clone();
    links.documents = lead.documents.iter().map(|d| d.external_id.clone()).collect();
    if !links.is_empty() {
        return Err(LeadError::HasLinks {
            number: lead.number,
            links: Box::new(links),
        }
        .into());
    }
    let mut uow = ctx.uow();
    uow.delete(lead);
    uow.event(DomainEvent::LeadDeleted {
        lead: lead.id,
        number: lead.number,
    });
    Ok(uow)
}

/// Adds a document link to `documents` unless the same kind and id is
/// already there; returns the new link, or `None` when nothing changed.
/// Refuses an empty or overlong id.
pub(crate) fn add_document(
    documents: &mut Vec<DocumentLink>,
    kind: DocumentKind,
    external_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DocumentLink>, InputError> {
    let id = external_id.trim();
    let mut errors = Vec::new();
    if id.is_empty() {
        errors.push(InputError::Required {
            field: "external_id".to_owned(),
        });
    }
    check_len(&mut errors, "external_id", id, limits::LINE);
    InputError::collect(errors)?;
    if documents.iter().any(|d| d.kind == kind && d.external_id == id) {
        return Ok(None);
    }
    limits::check_count("documents", documents.len() + 1, limits::DOCUMENTS)?;
    let link = DocumentLink {
        kind,
        external_id: id.to_owned(),
        linked_at: now,
    };
    documents.push(link.clone());
    Ok(Some(link))
}

/// Links an order or invoice to a lead. Quotations belong to deals (seed 001):
/// asking for one on a lead is refused with the lead's deals, or "qualify first".
pub fn link_lead_document(
    ctx: &Ctx<'_>,
    lead: &Lead,
    deals: &[Deal],
    kind: DocumentKind,
    external_id: &str,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead)?;
    if kind == DocumentKind::Quotation {
        return Err(LeadError::QuotationRequiresDeal {
            number: lead.number,
            deals: deals.iter().map(|d| d.id).collect(),
        }
        .into());
    }
    let mut next = lead.clone();
    let mut uow = ctx.uow();
    if let Some(doc) = add_document(&mut next.documents, kind, external_id, ctx.now)? {
        next.updated_at = ctx.now;
        ctx.update_lead(&mut uow, lead, &mut next);
        uow.event(DomainEvent::DocumentLinked {
            subject: Subject::Lead(lead.id),
            kind,
            external_id: doc.external_id,
        });
    }
    Ok((uow, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::Subject;
    use crate::domain::ids::DealId;
    use crate::rules::test_support::{ann, bob, code, config, ctx, lead, maria, phase, phased_config};
    use crate::store::stored::StoredForm;

    #[test]
    fn a_lead_needs_a_name_or_a_company() {
        let config = phased_config();
        let ann = ann();
        let e = new_lead(&ctx(&config, &ann), &NewLead::default()).err();
        assert!(
            matches!(&e, Some(Error::Input(InputError::OneOfRequired { fields })) if fields.len() == 3),
            "{e:?}"
        );
        let l = lead(&config, 1, LeadStatus::New);
        assert_eq!(l.phase, Some(phase("NEW")), "a new lead starts in the initial phase");
        assert_eq!(l.owner, ann.user);
    }

    #[test]
    fn only_new_and_contacted_are_set_by_hand() {
        let config = phased_config();
        let ann = ann();
        let l = lead(&config, 1, LeadStatus::New);
        let (uow, next) = set_status(&ctx(&config, &ann), &l, LeadStatus::Contacted).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.status, LeadStatus::Contacted);
        assert!(uow.events.contains(&DomainEvent::LeadStatusChanged {
            lead: l.id,
            from: LeadStatus::New,
            to: LeadStatus::Contacted
        }));
        let e = set_status(&ctx(&config, &ann), &l, LeadStatus::Converted).err();
        assert!(
            matches!(
                e,
                Some(Error::Lead(LeadError::StatusRequiresAction {
                    reached_by: LeadAction::Convert,
                    ..
                }))
            ),
            "{e:?}"
        );
    }

    #[test]
    fn another_sales_person_may_not_edit_the_lead() {
        let config = phased_config();
        let l = lead(&config, 1, LeadStatus::New);
        let e = update_lead(&ctx(&config, &bob()), &l, &LeadPatch::default()).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
        let (uow, _) =
            update_lead(&ctx(&config, &maria()), &l, &LeadPatch::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(uow.is_empty(), "an empty patch writes nothing");
    }

    #[test]
    fn disqualify_moves_to_the_lost_closing_phase_and_reopen_restores() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::Contacted);
        let (_, moved) = move_phase(&c, &l, &phase("WORK"), None, None).unwrap_or_else(|e| panic!("{e}"));
        let (_, lost) = disqualify(&c, &moved, &code("no_fit"), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (lost.status, lost.phase.clone(), lost.lost_reason.clone()),
            (LeadStatus::Disqualified, Some(phase("LOST")), Some(code("no_fit")))
        );
        let e = disqualify(&c, &moved, &code("other"), None).err();
        assert!(matches!(e, Some(Error::Reason(_))), "'other' needs a note: {e:?}");
        let (_, back) = reopen(&c, &lost).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.status, back.phase), (LeadStatus::Contacted, Some(phase("WORK"))));
    }

    #[test]
    fn a_closing_reason_needs_a_closing_phase() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::New);
        let e = set_closing_reason(&c, &l, &code("won"), None).err();
        assert!(
            matches!(e, Some(Error::Phase(PhaseError::NotClosingPhase { .. }))),
            "{e:?}"
        );
        let (_, won) = move_phase(&c, &l, &phase("WON"), Some(&code("won")), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(won.closing_reason, Some(code("won")));
        assert!(won.is_closed(&config), "a lead in a closing phase is closed");
    }

    #[test]
    fn merging_refuses_itself_and_closed_targets_and_merged_leads_stay_put() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let a = lead(&config, 1, LeadStatus::New);
        let b = lead(&config, 2, LeadStatus::New);
        assert!(matches!(
            merge(&c, &a, &a, &LeadBelongings::default()),
            Err(Error::Lead(LeadError::MergeIntoSelf))
        ));
        let converted = lead(&config, 3, LeadStatus::Converted);
        let e = merge(&c, &a, &converted, &LeadBelongings::default()).err();
        assert!(
            matches!(
                e,
                Some(Error::Lead(LeadError::Closed {
                    action: LeadAction::MergeInto,
                    ..
                }))
            ),
            "{e:?}"
        );
        let (_, merged) = merge(&c, &a, &b, &LeadBelongings::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((merged.status, merged.merged_into), (LeadStatus::Merged, Some(b.id)));
        let e = update_lead(&c, &merged, &LeadPatch::default()).err();
        assert!(
            matches!(e, Some(Error::Lead(LeadError::Merged { into, .. })) if into == Some(b.id)),
            "{e:?}"
        );
        // A merged lead is refused with one code, whatever the action.
        let other = lead(&config, 4, LeadStatus::New);
        for e in [
            merge(&c, &merged, &other, &LeadBelongings::default()).err(),
            merge(&c, &other, &merged, &LeadBelongings::default()).err(),
            set_status(&c, &merged, LeadStatus::Contacted).err(),
            disqualify(&c, &merged, &code("no_fit"), None).err(),
            reopen(&c, &merged).err(),
        ] {
            assert!(matches!(e, Some(Error::Lead(LeadError::Merged { .. }))), "{e:?}");
        }
        // A New lead in a closing phase is closed: it is not merged either.
        let (_, won) =
            move_phase(&c, &other, &phase("WON"), Some(&code("won")), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(won.status, LeadStatus::New);
        let e = merge(&c, &won, &b, &LeadBelongings::default()).err();
        assert!(
            matches!(
                e,
                Some(Error::Lead(LeadError::Closed {
                    action: LeadAction::Merge,
                    ..
                }))
            ),
            "{e:?}"
        );
    }

    #[test]
    fn lists_on_a_lead_are_bounded() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let mut l = lead(&config, 1, LeadStatus::New);
        for i in 0..limits::DOCUMENTS {
            l.documents.push(DocumentLink {
                kind: DocumentKind::Order,
                external_id: format!("SO-{i}"),
                linked_at: l.created_at,
            });
        }
        let e = link_lead_document(&c, &l, &[], DocumentKind::Order, "SO-new").err();
        assert!(
            matches!(&e, Some(Error::Input(InputError::TooMany { field, max })) if field == "documents" && *max == limits::DOCUMENTS),
            "{e:?}"
        );
        // Linking one already there is still a no-op, not a refusal.
        assert!(link_lead_document(&c, &l, &[], DocumentKind::Order, "SO-0").is_ok());
        let mut into = lead(&config, 2, LeadStatus::New);
        into.merged_from = (0..limits::MERGED).map(|_| LeadId::new()).collect();
        let e = merge(
            &c,
            &lead(&config, 3, LeadStatus::New),
            &into,
            &LeadBelongings::default(),
        )
        .err();
        assert!(
            matches!(&e, Some(Error::Input(InputError::TooMany { field, .. })) if field == "merged_from"),
            "{e:?}"
        );
    }

    #[test]
    fn delete_is_for_admins_and_names_what_blocks_it() {
        let config = phased_config();
        let root = crate::rules::test_support::actor("root", crate::rules::access::Role::Admin);
        let c = ctx(&config, &root);
        let mut l = lead(&config, 1, LeadStatus::New);
        assert!(matches!(
            delete_lead(&ctx(&config, &maria()), &l, &LeadLinks::default()),
            Err(Error::Permission(_))
        ));
        l.documents.push(DocumentLink {
            kind: DocumentKind::Order,
            external_id: "SO-1".into(),
            linked_at: l.created_at,
        });
        let deal = DealId::new();
        let links = LeadLinks {
            deals: vec![deal],
            ..LeadLinks::default()
        };
        match delete_lead(&c, &l, &links) {
            Err(Error::Lead(LeadError::HasLinks { links, .. })) => {
                assert_eq!(
                    (links.documents.clone(), links.deals.clone()),
                    (vec!["SO-1".to_owned()], vec![deal])
                );
            }
            other => panic!("{other:?}"),
        }
        l.documents.clear();
        let uow = delete_lead(&c, &l, &LeadLinks::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(uow.writes.len(), 1);
    }

    #[test]
    fn documents_link_once_and_quotations_belong_to_deals() {
        let config = phased_config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::New);
        let e = link_lead_document(&c, &l, &[], DocumentKind::Quotation, "Q-1").err();
        assert!(
            matches!(e, Some(Error::Lead(LeadError::QuotationRequiresDeal { .. }))),
            "{e:?}"
        );
        let (uow, linked) =
            link_lead_document(&c, &l, &[], DocumentKind::Invoice, " INV-7 ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(linked.documents.len(), 1);
        assert_eq!(linked.documents[0].external_id, "INV-7", "trimmed");
        assert!(uow.events.contains(&DomainEvent::DocumentLinked {
            subject: Subject::Lead(l.id),
            kind: DocumentKind::Invoice,
            external_id: "INV-7".into()
        }));
        let (again, same) =
            link_lead_document(&c, &linked, &[], DocumentKind::Invoice, "INV-7").unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_empty(), "the same document is not linked twice");
        assert_eq!(same.documents.len(), 1);
        let e = link_lead_document(&c, &l, &[], DocumentKind::Invoice, "  ").err();
        assert!(matches!(e, Some(Error::Input(InputError::Required { .. }))), "{e:?}");
    }

    #[test]
    fn bookkeeping_is_stored_but_not_on_the_wire() {
        let mut closed = lead(&config(), 7, LeadStatus::Disqualified);
        closed.reopen_point = Some(crate::domain::lead::ReopenPoint {
            status: LeadStatus::Contacted,
            phase: Some(phase("MEETING")),
        });
        let wire = serde_json::to_value(&closed).unwrap_or_default();
        assert!(wire.get("reopen_point").is_none(), "{wire}");
        let stored = closed.to_stored_json().unwrap_or_default();
        assert!(stored.contains("\"reopen_point\""), "{stored}");
        let back = Lead::from_stored_json(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, closed, "the stored form keeps everything");
        // A body written before the split reads back whole: its keys are the same.
        let old: serde_json::Value = serde_json::from_str(&stored).unwrap_or_default();
        assert_eq!(Lead::from_stored(old).ok(), Some(closed));
    }
}
