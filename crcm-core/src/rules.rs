//! Every business rule of crcm, as pure functions: loaded records and a command
//! in, a [`UnitOfWork`] (entity writes + history + events) or a typed refusal
//! out. No I/O happens here; the [`Engine`](crate::Engine) loads what a rule
//! needs, calls it, and commits the result.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::access::{self, Action, Actor, Role};
use crate::activity::{Activity, ActivityKind, Communication, CommunicationStatus, FollowUp, Subject};
use crate::command::{
    CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
};
use crate::config::{Config, ConfigItem, Outcome, PhaseRef, PhaseType, StageKind};
use crate::contact::{Email, Phone};
use crate::customer::{Contact, Customer};
use crate::deal::{Deal, DealStatus};
use crate::error::{ConfigError, DealError, Error, InputError, ItemInUse, LeadError, PhaseError, ReasonError};
use crate::event::DomainEvent;
use crate::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::lead::{DocumentKind, DocumentLink, Lead, LeadStatus, ReopenPoint};
use crate::limits::{self, Lines};
use crate::machine::{self, DealAction, LeadAction};
use crate::money::Money;
use crate::uow::{ConfigWrite, UnitOfWork};

/// What every rule needs: who acts, under which configuration, at what time.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The actor.
    pub actor: &'a Actor,
    /// The configuration in force.
    pub config: &'a Config,
    /// The time of the command.
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn uow(&self, action: &str) -> UnitOfWork {
        UnitOfWork::new(&self.actor.user, self.now, action)
    }
}

/// A text within `max` characters; texts allowed more than one line's worth
/// ([`limits::TEXT`]) may hold line breaks and tabs.
fn check_len(errors: &mut Vec<InputError>, field: &str, value: &str, max: usize) {
    let lines = if max > limits::LINE {
        Lines::Multi
    } else {
        Lines::Single
    };
    limits::collect(errors, field, value, max, lines);
}

/// A record team within [`limits::TEAM`] members.
fn check_team(team: &BTreeSet<UserId>) -> Result<(), InputError> {
    if team.len() > limits::TEAM {
        return Err(InputError::TooMany {
            field: "team".to_owned(),
            max: limits::TEAM,
        });
    }
    Ok(())
}

fn parse_email(errors: &mut Vec<InputError>, raw: Option<&str>) -> Option<Email> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    Email::parse(raw).map_err(|e| errors.push(e)).ok()
}

fn parse_phone(errors: &mut Vec<InputError>, raw: Option<&str>, region: &str) -> Option<Phone> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    Phone::parse(raw, region).map_err(|e| errors.push(e)).ok()
}

fn unknown(kind: &str, code: &Code) -> InputError {
    InputError::UnknownReference {
        kind: kind.to_owned(),
        code: code.to_string(),
    }
}

/// A closing or lost note: trimmed, `None` when empty, within [`limits::NOTE`].
fn note(note: Option<&str>) -> Result<Option<String>, InputError> {
    let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    limits::check("note", n, limits::NOTE, Lines::Multi)?;
    Ok(Some(n.to_owned()))
}

/// Checks a lost reason (Disqualify / Lost / losing a deal) and its note.
pub fn lost_reason(config: &Config, reason: &Code, note_text: Option<&str>) -> Result<Option<String>, Error> {
    let kind = "lost reason".to_owned();
    let Some(r) = config.lost_reason(reason) else {
        return Err(ReasonError::Unknown {
            kind,
            code: reason.clone(),
        }
        .into());
    };
    let n = note(note_text)?;
    if r.requires_note && n.is_none() {
        return Err(ReasonError::NoteRequired {
            kind,
            code: reason.clone(),
        }
        .into());
    }
    Ok(n)
}

/// Checks a closing reason and its note.
pub fn closing_reason(config: &Config, reason: &Code, note_text: Option<&str>) -> Result<Option<String>, Error> {
    let kind = "closing reason".to_owned();
    let Some(r) = config.closing_reason(reason) else {
        return Err(ReasonError::Unknown {
            kind,
            code: reason.clone(),
        }
        .into());
    };
    let n = note(note_text)?;
    if r.requires_note && n.is_none() {
        return Err(ReasonError::NoteRequired {
            kind,
            code: reason.clone(),
        }
        .into());
    }
    Ok(n)
}

/// Every field rule of a lead: a name or company, known references, valid
/// amounts and probability, custom fields that fit their definitions, text
/// lengths. Reports every problem at once.
pub fn validate_lead(config: &Config, lead: &Lead) -> Result<(), InputError> {
    let mut errors = Vec::new();
    if lead.first_name.trim().is_empty() && lead.last_name.trim().is_empty() && lead.company.trim().is_empty() {
        errors.push(InputError::Required {
            field: "contact name or company".to_owned(),
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
    if config.account_type(&lead.account_type).is_none() {
        errors.push(unknown("account type", &lead.account_type));
    }
    if let Some(s) = &lead.source
        && !config.sources.iter().any(|x| &x.code == s)
    {
        errors.push(unknown("lead source", s));
    }
    if let Some(p) = &lead.priority
        && !config.priorities.iter().any(|x| &x.code == p)
    {
        errors.push(unknown("priority", p));
    }
    for t in &lead.tags {
        if !config.tags.iter().any(|x| &x.code == t) {
            errors.push(unknown("tag", t));
        }
    }
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
    if let Err(e) = crate::custom::validate(config, &lead.custom) {
        match e {
            InputError::Many(list) => errors.extend(list),
            other => errors.push(other),
        }
    }
    InputError::collect(errors)
}

// ---------------------------------------------------------------- leads

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
pub fn record_new_lead(ctx: &Ctx<'_>, mut lead: Lead, number: u64, action: &str) -> (UnitOfWork, Lead) {
    lead.number = number;
    let mut uow = ctx.uow(action);
    uow.insert(&lead);
    uow.event(DomainEvent::LeadCreated {
        lead: lead.id,
        number,
        owner: lead.owner.clone(),
    });
    (uow, lead)
}

fn refuse_merged(lead: &Lead, action: &str) -> Result<(), LeadError> {
    if lead.status == LeadStatus::Merged {
        return Err(LeadError::Closed {
            number: lead.number,
            status: lead.status,
            action: action.to_owned(),
        });
    }
    Ok(())
}

/// Edits lead fields.
pub fn update_lead(ctx: &Ctx<'_>, lead: &Lead, patch: &LeadPatch) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead, "edit")?;
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
    let mut uow = ctx.uow("update_lead");
    let fields = uow.update(lead, &mut next);
    if !fields.is_empty() {
        uow.event(DomainEvent::LeadUpdated { lead: lead.id, fields });
    }
    Ok((uow, next))
}

/// Sets New or Contacted by hand; any other status names the action that reaches it.
pub fn set_status(ctx: &Ctx<'_>, lead: &Lead, status: LeadStatus) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    let action = machine::manual_status_action(status)?;
    let to = machine::lead_transition(lead.number, lead.status, action, None)?;
    let mut next = lead.clone();
    next.status = to;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("set_lead_status");
    if !uow.update(lead, &mut next).is_empty() {
        uow.event(DomainEvent::LeadStatusChanged {
            lead: lead.id,
            from: lead.status,
            to,
        });
    }
    Ok((uow, next))
}

/// Puts the lead in `phase`. A phase change restarts the time in phase and
/// clears the closing reason: a reason belongs to the closing phase it was
/// recorded in.
fn enter_phase(next: &mut Lead, config: &Config, phase: Option<PhaseRef>, now: DateTime<Utc>) {
    if next.phase != phase {
        next.phase = phase;
        next.phase_entered_at = now;
        next.closing_reason = None;
        next.closing_note = None;
    }
    if !next.in_closing_phase(config) {
        next.closing_reason = None;
        next.closing_note = None;
    }
}

fn phase_events(uow: &mut UnitOfWork, old: &Lead, new: &Lead) {
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
                phase: target.to_string(),
            }
            .into());
        }
        next.closing_note = closing_reason(ctx.config, reason, note_text)?;
        next.closing_reason = Some(reason.clone());
    }
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("move_lead_phase");
    uow.update(lead, &mut next);
    phase_events(&mut uow, lead, &next);
    if let Some(reason) = &next.closing_reason
        && next.closing_reason != lead.closing_reason
    {
        uow.event(DomainEvent::ClosingReasonSet {
            lead: lead.id,
            reason: reason.clone(),
        });
    }
    Ok((uow, next))
}

/// Records a closing reason; only in a closing phase.
pub fn set_closing_reason(
    ctx: &Ctx<'_>,
    lead: &Lead,
    reason: &Code,
    note_text: Option<&str>,
) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    refuse_merged(lead, "record a closing reason")?;
    machine::closing_reason_allowed(ctx.config, lead)?;
    let mut next = lead.clone();
    next.closing_note = closing_reason(ctx.config, reason, note_text)?;
    next.closing_reason = Some(reason.clone());
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("set_closing_reason");
    if !uow.update(lead, &mut next).is_empty() {
        uow.event(DomainEvent::ClosingReasonSet {
            lead: lead.id,
            reason: reason.clone(),
        });
    }
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
    if lead.status.is_closed() {
        return Err(PhaseError::LeadClosed {
            number: lead.number,
            status: lead.status,
        }
        .into());
    }
    if ctx.config.account_type(account_type).is_none() {
        return Err(unknown("account type", account_type).into());
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
    let mut uow = ctx.uow("change_account_type");
    uow.update(lead, &mut next);
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

/// What Qualify produced.
#[derive(Clone, Debug)]
pub struct Qualified {
    /// The unit of work.
    pub uow: UnitOfWork,
    /// The lead, now Qualified.
    pub lead: Lead,
    /// The linked or new customer.
    pub customer: Customer,
    /// The new deal.
    pub deal: Deal,
}

/// Qualify (seed 001): in one step, link an existing customer or create one,
/// and create a deal at the first stage of the default pipeline.
///
/// `existing` is the customer already linked to the lead, or the one chosen
/// with [`CustomerChoice::Link`]; `candidates` are the customers matching the
/// lead's normalized e-mail or phone.
pub fn qualify(
    ctx: &Ctx<'_>,
    lead: &Lead,
    choice: &CustomerChoice,
    existing: Option<&Customer>,
    candidates: &[Customer],
    draft: &DealDraft,
) -> Result<Qualified, Error> {
    access::can_change_lead(ctx.actor, lead)?;
    let to = machine::lead_transition(lead.number, lead.status, LeadAction::Qualify, None)?;
    if lead.in_closing_phase(ctx.config) {
        return Err(LeadError::Closed {
            number: lead.number,
            status: lead.status,
            action: "qualify (the lead is in a closing phase)".to_owned(),
        }
        .into());
    }
    // Checked before the customer step, so bad deal input creates nothing.
    let template = new_deal(ctx, lead, crate::ids::CustomerId(uuid::Uuid::nil()), None, draft)?;

    let mut uow = ctx.uow("qualify_lead");
    // Step 1 — customer. A lead already linked skips this step.
    let (customer, created) = match (lead.customer, choice, existing) {
        (Some(_), _, Some(c)) | (None, CustomerChoice::Link { .. }, Some(c)) => (c.clone(), false),
        (Some(id), _, None) => return Err(Error::NotFound(crate::record::EntityRef::customer(id))),
        (None, CustomerChoice::Link { customer }, None) => {
            return Err(Error::NotFound(crate::record::EntityRef::customer(*customer)));
        }
        (None, CustomerChoice::Auto, _) if !candidates.is_empty() => {
            return Err(LeadError::CustomerChoiceRequired {
                number: lead.number,
                candidates: candidates.iter().map(|c| c.id).collect(),
            }
            .into());
        }
        (None, CustomerChoice::Auto | CustomerChoice::Create, _) => (customer_from_lead(ctx, lead), true),
    };
    if created {
        uow.insert(&customer);
        uow.event(DomainEvent::CustomerCreated { customer: customer.id });
    }
    // Step 2 — deal at the first stage of the default pipeline.
    let deal = Deal {
        customer: customer.id,
        ..template
    };
    uow.insert(&deal);
    uow.event(DomainEvent::DealCreated {
        deal: deal.id,
        lead: Some(lead.id),
        customer: customer.id,
        pipeline: deal.pipeline.clone(),
        stage: deal.stage.clone(),
    });
    let mut next = lead.clone();
    next.status = to;
    next.customer = Some(customer.id);
    next.updated_at = ctx.now;
    uow.update(lead, &mut next);
    uow.event(DomainEvent::LeadStatusChanged {
        lead: lead.id,
        from: lead.status,
        to,
    });
    uow.event(DomainEvent::LeadQualified {
        lead: lead.id,
        customer: customer.id,
        customer_created: created,
        deal: deal.id,
    });
    Ok(Qualified {
        uow,
        lead: next,
        customer,
        deal,
    })
}

/// A new deal for a lead: at the first stage of `pipeline` (default: the
/// default pipeline), owned and worked by the lead's owner and team. Refuses
/// an unknown pipeline and invalid draft fields.
fn new_deal(
    ctx: &Ctx<'_>,
    lead: &Lead,
    customer: crate::ids::CustomerId,
    pipeline: Option<&Code>,
    draft: &DealDraft,
) -> Result<Deal, Error> {
    let pipeline = match pipeline {
        Some(code) => ctx
            .config
            .pipeline(code)
            .ok_or_else(|| Error::from(unknown("pipeline", code)))?,
        None => ctx.config.default_pipeline().ok_or(ConfigError::Missing)?,
    };
    let Some(stage) = pipeline.stages.first() else {
        return Err(ConfigError::Missing.into());
    };
    let mut errors = Vec::new();
    let title = draft
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if lead.company.is_empty() {
                lead.display_name()
            } else {
                lead.company.clone()
            }
        });
    check_len(&mut errors, "deal title", &title, limits::LINE);
    if let Some(v) = &draft.value
        && let Err(e) = v.validate()
    {
        errors.push(e);
    }
    InputError::collect(errors)?;
    Ok(Deal {
        id: DealId::new(),
        version: 1,
        title,
        value: draft.value.or(lead.expected_revenue),
        expected_close: draft.expected_close.or(lead.expected_close),
        pipeline: pipeline.code.clone(),
        stage: stage.code.clone(),
        status: DealStatus::Open,
        probability: stage.probability,
        probability_manual: false,
        lost_reason: None,
        lost_note: None,
        close_date: None,
        lead: Some(lead.id),
        customer,
        owner: lead.owner.clone(),
        team: lead.team.clone(),
        documents: Vec::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
    })
}

/// Opens another deal for a qualified or converted lead (seed 001: "if the
/// lead already has one or more deals…"), for the lead's customer. The lead
/// itself does not change: a lost extra deal leaves a converted lead
/// converted, and winning one converts a qualified lead as any deal does.
pub fn open_deal(
    ctx: &Ctx<'_>,
    lead: &Lead,
    pipeline: Option<&Code>,
    draft: &DealDraft,
) -> Result<(UnitOfWork, Deal), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    let (LeadStatus::Qualified | LeadStatus::Converted, Some(customer)) = (lead.status, lead.customer) else {
        return Err(LeadError::NotAllowed {
            number: lead.number,
            status: lead.status,
            action: "open a deal for (qualify it first)".to_owned(),
        }
        .into());
    };
    let deal = new_deal(ctx, lead, customer, pipeline, draft)?;
    let mut uow = ctx.uow("open_deal");
    uow.insert(&deal);
    uow.event(DomainEvent::DealCreated {
        deal: deal.id,
        lead: Some(lead.id),
        customer,
        pipeline: deal.pipeline.clone(),
        stage: deal.stage.clone(),
    });
    Ok((uow, deal))
}

fn customer_from_lead(ctx: &Ctx<'_>, lead: &Lead) -> Customer {
    let person = format!("{} {}", lead.first_name, lead.last_name).trim().to_owned();
    let contacts = if person.is_empty() {
        Vec::new()
    } else {
        vec![Contact {
            name: person.clone(),
            job_title: lead.job_title.clone(),
            email: lead.email.clone(),
            phone: lead.phone.clone(),
        }]
    };
    Customer {
        id: CustomerId::new(),
        version: 1,
        name: if lead.company.is_empty() {
            lead.display_name()
        } else {
            lead.company.clone()
        },
        email: lead.email.clone(),
        phone: lead.phone.clone(),
        address: lead.address.clone(),
        city: lead.city.clone(),
        state: lead.state.clone(),
        contacts,
        owner: lead.owner.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    }
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
    let mut uow = ctx.uow("disqualify_lead");
    uow.update(lead, &mut next);
    uow.event(DomainEvent::LeadStatusChanged {
        lead: lead.id,
        from: lead.status,
        to,
    });
    uow.event(DomainEvent::LeadDisqualified {
        lead: lead.id,
        reason: reason.clone(),
    });
    phase_events(&mut uow, lead, &next);
    Ok((uow, next))
}

/// The phase a lead returns to: the saved one if it is still allowed (and, when
/// `open_only`, not a closing phase), else its account type's Initial phase.
fn restore_phase(config: &Config, lead: &Lead, saved: Option<&PhaseRef>, open_only: bool) -> Option<PhaseRef> {
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
    let mut uow = ctx.uow("reopen_lead");
    uow.update(lead, &mut next);
    uow.event(DomainEvent::LeadStatusChanged {
        lead: lead.id,
        from: lead.status,
        to,
    });
    uow.event(DomainEvent::LeadReopened {
        lead: lead.id,
        status: to,
    });
    phase_events(&mut uow, lead, &next);
    Ok((uow, next))
}

/// Merges a duplicate (New or Contacted) into an open lead.
pub fn merge(ctx: &Ctx<'_>, lead: &Lead, into: &Lead) -> Result<(UnitOfWork, Lead), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    access::can_change_lead(ctx.actor, into)?;
    if lead.id == into.id {
        return Err(LeadError::MergeIntoSelf.into());
    }
    if into.is_closed(ctx.config) {
        return Err(LeadError::Closed {
            number: into.number,
            status: into.status,
            action: "merge into".to_owned(),
        }
        .into());
    }
    let to = machine::lead_transition(lead.number, lead.status, LeadAction::Merge, None)?;
    let mut next = lead.clone();
    next.status = to;
    next.merged_into = Some(into.id);
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("merge_lead");
    uow.update(lead, &mut next);
    uow.event(DomainEvent::LeadStatusChanged {
        lead: lead.id,
        from: lead.status,
        to,
    });
    uow.event(DomainEvent::LeadMerged {
        lead: lead.id,
        into: into.id,
    });
    Ok((uow, next))
}

/// Gives a lead another owner (manager). The lead's `deals` follow it: they
/// get the new owner and the lead's record team, so the previous owner no
/// longer works them (unless on the team) and the new owner does.
pub fn reassign(ctx: &Ctx<'_>, lead: &Lead, deals: &[Deal], owner: &UserId) -> Result<(UnitOfWork, Lead), Error> {
    access::require_role(ctx.actor, Role::Manager, Action::Reassign)?;
    refuse_merged(lead, "reassign")?;
    let mut next = lead.clone();
    next.owner = owner.clone();
    next.team.remove(owner);
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("reassign_lead");
    if !uow.update(lead, &mut next).is_empty() {
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
    refuse_merged(lead, "change the team of")?;
    let mut next = lead.clone();
    next.team = team.iter().filter(|u| **u != lead.owner).cloned().collect();
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("set_lead_team");
    if !uow.update(lead, &mut next).is_empty() {
        uow.event(DomainEvent::TeamChanged {
            lead: lead.id,
            team: next.team.iter().cloned().collect(),
        });
    }
    deals_follow_lead(ctx, &mut uow, &next, deals);
    Ok((uow, next))
}

/// Deal access follows the lead: a lead's deals have its owner and record team.
fn deals_follow_lead(ctx: &Ctx<'_>, uow: &mut UnitOfWork, lead: &Lead, deals: &[Deal]) {
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

/// What is linked to a lead (a lead with links is not deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadLinks {
    /// Deals created from it.
    pub deals: usize,
    /// Calls and e-mails attached to it.
    pub communications: usize,
    /// Activities and follow-ups on its timeline.
    pub timeline: usize,
}

/// Deletes a lead (admin). Seed 003: refused while orders, invoices, calls,
/// e-mails (or deals and timeline items) are linked; close it instead.
pub fn delete_lead(ctx: &Ctx<'_>, lead: &Lead, links: &LeadLinks) -> Result<UnitOfWork, Error> {
    access::require_role(ctx.actor, Role::Admin, Action::DeleteLead)?;
    let mut found = Vec::new();
    let docs = lead.documents.len();
    for (n, what) in [
        (docs, "documents"),
        (links.deals, "deals"),
        (links.communications, "calls/e-mails"),
        (links.timeline, "activities/follow-ups"),
    ] {
        if n > 0 {
            found.push(format!("{n} {what}"));
        }
    }
    if !found.is_empty() {
        return Err(LeadError::HasLinks {
            number: lead.number,
            links: found,
        }
        .into());
    }
    let mut uow = ctx.uow("delete_lead");
    uow.delete(lead);
    uow.event(DomainEvent::LeadDeleted {
        lead: lead.id,
        number: lead.number,
    });
    Ok(uow)
}

fn document(errors: &mut Vec<InputError>, kind: DocumentKind, external_id: &str, now: DateTime<Utc>) -> DocumentLink {
    let id = external_id.trim();
    if id.is_empty() {
        errors.push(InputError::Required {
            field: "external_id".to_owned(),
        });
    }
    check_len(errors, "external_id", id, limits::LINE);
    DocumentLink {
        kind,
        external_id: id.to_owned(),
        linked_at: now,
    }
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
    refuse_merged(lead, "link documents to")?;
    if kind == DocumentKind::Quotation {
        return Err(LeadError::QuotationRequiresDeal {
            number: lead.number,
            deals: deals.iter().map(|d| d.id).collect(),
        }
        .into());
    }
    let mut errors = Vec::new();
    let doc = document(&mut errors, kind, external_id, ctx.now);
    InputError::collect(errors)?;
    let mut next = lead.clone();
    let mut uow = ctx.uow("link_lead_document");
    if !lead
        .documents
        .iter()
        .any(|d| d.kind == kind && d.external_id == doc.external_id)
    {
        next.documents.push(doc.clone());
        next.updated_at = ctx.now;
        uow.update(lead, &mut next);
        uow.event(DomainEvent::DocumentLinked {
            subject: Subject::Lead(lead.id),
            kind,
            external_id: doc.external_id,
        });
    }
    Ok((uow, next))
}

// ---------------------------------------------------------------- deals

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

fn stage_of<'c>(
    config: &'c Config,
    deal: &Deal,
    stage: &Code,
) -> Result<(&'c crate::config::Pipeline, &'c crate::config::Stage), Error> {
    let Some(pipeline) = config.pipeline(&deal.pipeline) else {
        return Err(unknown("pipeline", &deal.pipeline).into());
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
fn finish_deal_change(
    ctx: &Ctx<'_>,
    action: &str,
    deal: &Deal,
    mut next: Deal,
    link: DealLead<'_>,
) -> Result<DealChanged, Error> {
    let today = ctx.now.date_naive();
    let mut uow = ctx.uow(action);
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
                uow.update(lead, &mut l);
                uow.event(DomainEvent::LeadStatusChanged {
                    lead: lead.id,
                    from: lead.status,
                    to,
                });
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
                reason: next.lost_reason.clone().unwrap_or_else(|| crate::ids::code("unknown")),
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
                uow.update(lead, &mut l);
                uow.event(DomainEvent::LeadStatusChanged {
                    lead: lead.id,
                    from: lead.status,
                    to,
                });
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
    finish_deal_change(ctx, "move_deal_stage", deal, next, link)
}

/// Wins a deal at a won stage (default: the pipeline's first); the lead becomes Converted.
pub fn win_deal(ctx: &Ctx<'_>, deal: &Deal, stage: Option<&Code>, link: DealLead<'_>) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let target = pick_stage(ctx.config, deal, stage, StageKind::Won)?;
    let status = machine::deal_transition(deal.status, DealAction::Win, &target)?;
    let mut next = deal.clone();
    next.stage = target;
    next.status = status;
    finish_deal_change(ctx, "win_deal", deal, next, link)
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
    finish_deal_change(ctx, "lose_deal", deal, next, link)
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
    finish_deal_change(ctx, "reopen_deal", deal, next, link)
}

fn pick_stage(config: &Config, deal: &Deal, stage: Option<&Code>, kind: StageKind) -> Result<Code, Error> {
    let Some(pipeline) = config.pipeline(&deal.pipeline) else {
        return Err(unknown("pipeline", &deal.pipeline).into());
    };
    let chosen = match stage {
        Some(code) => pipeline.stage(code).ok_or_else(|| DealError::StageNotInPipeline {
            stage: code.clone(),
            pipeline: deal.pipeline.clone(),
        })?,
        None => pipeline
            .first_of(kind)
            .ok_or_else(|| unknown("stage kind", &deal.pipeline))?,
    };
    if chosen.kind != kind {
        return Err(DealError::NotAllowed {
            status: deal.status,
            action: format!("use stage {} ({:?}) for this action", chosen.code, chosen.kind),
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
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("set_deal_probability");
    let fields = uow.update(deal, &mut next);
    if !fields.is_empty() {
        uow.event(DomainEvent::DealUpdated { deal: deal.id, fields });
    }
    Ok(DealChanged {
        uow,
        deal: next,
        lead: None,
    })
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
        next.expected_close = d;
    }
    InputError::collect(errors)?;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("update_deal");
    let fields = uow.update(deal, &mut next);
    if !fields.is_empty() {
        uow.event(DomainEvent::DealUpdated { deal: deal.id, fields });
    }
    Ok(DealChanged {
        uow,
        deal: next,
        lead: None,
    })
}

/// Links a quotation, order or invoice to a deal.
pub fn link_deal_document(
    ctx: &Ctx<'_>,
    deal: &Deal,
    kind: DocumentKind,
    external_id: &str,
) -> Result<DealChanged, Error> {
    access::can_change_deal(ctx.actor, deal)?;
    let mut errors = Vec::new();
    let doc = document(&mut errors, kind, external_id, ctx.now);
    InputError::collect(errors)?;
    let mut next = deal.clone();
    let mut uow = ctx.uow("link_deal_document");
    if !deal
        .documents
        .iter()
        .any(|d| d.kind == kind && d.external_id == doc.external_id)
    {
        next.documents.push(doc.clone());
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

// ---------------------------------------------------------------- customers

fn contact_fields(
    errors: &mut Vec<InputError>,
    config: &Config,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> (String, Option<Email>, Option<Phone>) {
    let name = name.trim().to_owned();
    if name.is_empty() {
        errors.push(InputError::Required {
            field: "name".to_owned(),
        });
    }
    check_len(errors, "name", &name, limits::LINE);
    let email = parse_email(errors, email);
    let phone = parse_phone(errors, phone, &config.settings.default_phone_region);
    (name, email, phone)
}

/// Creates a customer (any role; the actor owns it).
pub fn create_customer(ctx: &Ctx<'_>, input: &NewCustomer) -> Result<(UnitOfWork, Customer), Error> {
    let mut errors = Vec::new();
    let (name, email, phone) = contact_fields(
        &mut errors,
        ctx.config,
        &input.name,
        input.email.as_deref(),
        input.phone.as_deref(),
    );
    for (field, value) in [
        ("address", &input.address),
        ("city", &input.city),
        ("state", &input.state),
    ] {
        check_len(&mut errors, field, value, limits::LINE);
    }
    InputError::collect(errors)?;
    let customer = Customer {
        id: CustomerId::new(),
        version: 1,
        name,
        email,
        phone,
        address: input.address.trim().to_owned(),
        city: input.city.trim().to_owned(),
        state: input.state.trim().to_owned(),
        contacts: Vec::new(),
        owner: ctx.actor.user.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut uow = ctx.uow("create_customer");
    uow.insert(&customer);
    uow.event(DomainEvent::CustomerCreated { customer: customer.id });
    Ok((uow, customer))
}

/// Adds a contact person (the customer's owner or a manager).
pub fn add_contact(ctx: &Ctx<'_>, customer: &Customer, input: &NewContact) -> Result<(UnitOfWork, Customer), Error> {
    if customer.owner != ctx.actor.user {
        access::require_role(ctx.actor, Role::Manager, Action::ChangeCustomer)?;
    }
    let mut errors = Vec::new();
    let (name, email, phone) = contact_fields(
        &mut errors,
        ctx.config,
        &input.name,
        input.email.as_deref(),
        input.phone.as_deref(),
    );
    check_len(&mut errors, "job_title", &input.job_title, limits::LINE);
    InputError::collect(errors)?;
    let mut next = customer.clone();
    next.contacts.push(Contact {
        name,
        job_title: input.job_title.trim().to_owned(),
        email,
        phone,
    });
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("add_contact");
    uow.update(customer, &mut next);
    uow.event(DomainEvent::CustomerUpdated { customer: customer.id });
    Ok((uow, next))
}

// ---------------------------------------------------------------- timeline

/// The lead or deal a timeline item belongs to, loaded.
#[derive(Clone, Copy, Debug)]
pub enum SubjectRecord<'a> {
    /// A lead.
    Lead(&'a Lead),
    /// A deal.
    Deal(&'a Deal),
}

impl SubjectRecord<'_> {
    fn check(&self, actor: &Actor) -> Result<Subject, Error> {
        match self {
            Self::Lead(l) => {
                access::can_change_lead(actor, l)?;
                refuse_merged(l, "add to the timeline of")?;
                Ok(Subject::Lead(l.id))
            }
            Self::Deal(d) => {
                access::can_change_deal(actor, d)?;
                Ok(Subject::Deal(d.id))
            }
        }
    }
}

/// Logs a note, call, e-mail or meeting.
pub fn log_activity(
    ctx: &Ctx<'_>,
    subject: SubjectRecord<'_>,
    kind: ActivityKind,
    summary: &str,
    body: &str,
    occurred_at: Option<DateTime<Utc>>,
) -> Result<(UnitOfWork, Activity), Error> {
    let subject = subject.check(ctx.actor)?;
    let mut errors = Vec::new();
    let summary = summary.trim();
    if summary.is_empty() {
        errors.push(InputError::Required {
            field: "summary".to_owned(),
        });
    }
    check_len(&mut errors, "summary", summary, limits::LINE);
    check_len(&mut errors, "body", body, limits::TEXT);
    InputError::collect(errors)?;
    let activity = Activity {
        id: ActivityId::new(),
        version: 1,
        subject,
        kind,
        summary: summary.to_owned(),
        body: body.trim().to_owned(),
        occurred_at: occurred_at.unwrap_or(ctx.now),
        author: ctx.actor.user.clone(),
        created_at: ctx.now,
    };
    let mut uow = ctx.uow("log_activity");
    uow.insert(&activity);
    uow.event(DomainEvent::ActivityLogged {
        activity: activity.id,
        subject,
        kind,
    });
    Ok((uow, activity))
}

/// Schedules a follow-up.
pub fn schedule_follow_up(
    ctx: &Ctx<'_>,
    subject: SubjectRecord<'_>,
    due: chrono::NaiveDate,
    note_text: &str,
    assignee: Option<&UserId>,
) -> Result<(UnitOfWork, FollowUp), Error> {
    let subject = subject.check(ctx.actor)?;
    let mut errors = Vec::new();
    let text = note_text.trim();
    if text.is_empty() {
        errors.push(InputError::Required {
            field: "note".to_owned(),
        });
    }
    check_len(&mut errors, "note", text, limits::TEXT);
    InputError::collect(errors)?;
    let follow_up = FollowUp {
        id: FollowUpId::new(),
        version: 1,
        subject,
        due,
        note: text.to_owned(),
        assignee: assignee.cloned().unwrap_or_else(|| ctx.actor.user.clone()),
        done: false,
        done_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut uow = ctx.uow("schedule_follow_up");
    uow.insert(&follow_up);
    uow.event(DomainEvent::FollowUpScheduled {
        follow_up: follow_up.id,
        subject,
        due,
    });
    Ok((uow, follow_up))
}

/// Marks a follow-up done (its assignee, or whoever may change its subject).
pub fn complete_follow_up(
    ctx: &Ctx<'_>,
    follow_up: &FollowUp,
    subject: SubjectRecord<'_>,
) -> Result<(UnitOfWork, FollowUp), Error> {
    if follow_up.assignee != ctx.actor.user {
        subject.check(ctx.actor)?;
    }
    let mut next = follow_up.clone();
    let mut uow = ctx.uow("complete_follow_up");
    if !follow_up.done {
        next.done = true;
        next.done_at = Some(ctx.now);
        next.updated_at = ctx.now;
        uow.update(follow_up, &mut next);
        uow.event(DomainEvent::FollowUpCompleted {
            follow_up: follow_up.id,
        });
    }
    Ok((uow, next))
}

// ---------------------------------------------------------------- communications

/// Records an inbound call or e-mail. `matches` are the leads whose phone or
/// e-mail equals the sender's; it is linked when exactly one open lead matches.
pub fn receive_communication(
    ctx: &Ctx<'_>,
    input: &InboundCommunication,
    matches: &[Lead],
) -> Result<(UnitOfWork, Communication), Error> {
    let (email, phone) = communication_contacts(ctx.config, input)?;
    let open: Vec<&Lead> = matches.iter().filter(|l| !l.is_closed(ctx.config)).collect();
    let lead = match open.as_slice() {
        [one] => Some(one.id),
        _ => None,
    };
    let communication = Communication {
        id: CommunicationId::new(),
        version: 1,
        kind: input.kind,
        from_email: email,
        from_phone: phone,
        summary: input.summary.trim().to_owned(),
        body: input.body.trim().to_owned(),
        received_at: input.received_at.unwrap_or(ctx.now),
        status: if lead.is_some() {
            CommunicationStatus::Linked
        } else {
            CommunicationStatus::New
        },
        lead,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut uow = ctx.uow("receive_communication");
    uow.insert(&communication);
    uow.event(DomainEvent::CommunicationReceived {
        communication: communication.id,
        kind: input.kind,
        lead,
    });
    Ok((uow, communication))
}

/// Parses a communication's sender: e-mail and/or phone, at least one.
pub fn communication_contacts(
    config: &Config,
    input: &InboundCommunication,
) -> Result<(Option<Email>, Option<Phone>), InputError> {
    let mut errors = Vec::new();
    let email = parse_email(&mut errors, input.from_email.as_deref());
    let phone = parse_phone(
        &mut errors,
        input.from_phone.as_deref(),
        &config.settings.default_phone_region,
    );
    check_len(&mut errors, "summary", &input.summary, limits::LINE);
    check_len(&mut errors, "body", &input.body, limits::TEXT);
    if errors.is_empty() && email.is_none() && phone.is_none() {
        errors.push(InputError::Required {
            field: "from_email or from_phone".to_owned(),
        });
    }
    InputError::collect(errors)?;
    Ok((email, phone))
}

fn communication_open(c: &Communication) -> Result<(), Error> {
    if c.status == CommunicationStatus::Ignored {
        return Err(InputError::CustomField {
            field: "communication".to_owned(),
            reason: "it is marked ignored".to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Taking a communication off the lead it is linked to (`source`) changes that
/// lead's timeline: the actor must be allowed to change it. A new (unlinked)
/// communication is in everyone's inbox (seed 004's "Calls" and "Email" tabs).
fn can_take_communication(actor: &Actor, source: Option<&Lead>) -> Result<(), Error> {
    if let Some(source) = source {
        access::can_change_lead(actor, source)?;
    }
    Ok(())
}

/// Attaches a communication to a lead. `source` is the lead it is linked to now, if any.
pub fn attach_communication(
    ctx: &Ctx<'_>,
    communication: &Communication,
    source: Option<&Lead>,
    lead: &Lead,
) -> Result<(UnitOfWork, Communication), Error> {
    access::can_change_lead(ctx.actor, lead)?;
    can_take_communication(ctx.actor, source)?;
    refuse_merged(lead, "attach communications to")?;
    communication_open(communication)?;
    let mut next = communication.clone();
    next.lead = Some(lead.id);
    next.status = CommunicationStatus::Linked;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("attach_communication");
    if !uow.update(communication, &mut next).is_empty() {
        uow.event(DomainEvent::CommunicationLinked {
            communication: communication.id,
            lead: lead.id,
        });
    }
    Ok((uow, next))
}

/// Prepares a lead from a communication: e-mail and phone default to the
/// sender's. `source` is the lead the communication is linked to now, if any.
pub fn new_lead_from_communication(
    ctx: &Ctx<'_>,
    communication: &Communication,
    source: Option<&Lead>,
    input: &NewLead,
) -> Result<Lead, Error> {
    can_take_communication(ctx.actor, source)?;
    communication_open(communication)?;
    let mut input = input.clone();
    if input.email.is_none() {
        input.email = communication.from_email.as_ref().map(ToString::to_string);
    }
    if input.phone.is_none() {
        input.phone = communication.from_phone.as_ref().map(|p| p.raw.clone());
    }
    new_lead(ctx, &input)
}

/// Records a lead made from a communication, and attaches the communication to it.
pub fn record_lead_from_communication(
    ctx: &Ctx<'_>,
    communication: &Communication,
    lead: Lead,
    number: u64,
) -> (UnitOfWork, Communication, Lead) {
    let (mut uow, lead) = record_new_lead(ctx, lead, number, "create_lead_from_communication");
    let mut next = communication.clone();
    next.lead = Some(lead.id);
    next.status = CommunicationStatus::Linked;
    next.updated_at = ctx.now;
    uow.update(communication, &mut next);
    uow.event(DomainEvent::CommunicationLinked {
        communication: communication.id,
        lead: lead.id,
    });
    (uow, next, lead)
}

/// Marks a new communication "Ignored" (seed 004: not related to sales).
pub fn ignore_communication(
    ctx: &Ctx<'_>,
    communication: &Communication,
) -> Result<(UnitOfWork, Communication), Error> {
    if communication.status == CommunicationStatus::Linked {
        return Err(InputError::CustomField {
            field: "communication".to_owned(),
            reason: "it is linked to a lead".to_owned(),
        }
        .into());
    }
    let mut next = communication.clone();
    next.status = CommunicationStatus::Ignored;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow("ignore_communication");
    if !uow.update(communication, &mut next).is_empty() {
        uow.event(DomainEvent::CommunicationIgnored {
            communication: communication.id,
        });
    }
    Ok((uow, next))
}

// ---------------------------------------------------------------- configuration

/// Replaces the configuration (manager): it must be valid as a whole, based on
/// the current version, and must not remove items data still uses (`in_use`,
/// computed by the engine from [`Config::removed_items`]).
pub fn set_config(
    actor: &Actor,
    now: DateTime<Utc>,
    current: Option<(&Config, u64)>,
    next: &Config,
    expected_version: Option<u64>,
    in_use: Vec<ItemInUse>,
) -> Result<UnitOfWork, Error> {
    access::require_role(actor, Role::Manager, Action::Configure)?;
    let found = current.map(|(_, v)| v);
    if found != expected_version {
        return Err(ConfigError::Stale {
            expected: expected_version.unwrap_or(0),
            found: found.unwrap_or(0),
        }
        .into());
    }
    let problems = next.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid { problems }.into());
    }
    if !in_use.is_empty() {
        return Err(ConfigError::InUse { uses: in_use }.into());
    }
    let version = found.map_or(1, |v| v + 1);
    let mut uow = UnitOfWork::new(&actor.user, now, "set_config");
    uow.config = Some(ConfigWrite {
        config: next.clone(),
        version,
        expected: found,
    });
    uow.event(DomainEvent::ConfigChanged { version });
    Ok(uow)
}

/// Describes one removed item that is still in use.
pub fn in_use(item: &ConfigItem, what: &str, count: usize, examples: Vec<String>) -> ItemInUse {
    ItemInUse {
        item: item.to_string(),
        count,
        what: what.to_owned(),
        examples,
    }
}

/// The value and currency of money given in the default currency.
pub fn money(config: &Config, minor: i64) -> Result<Money, InputError> {
    Money::new(minor, config.settings.default_currency)
}
