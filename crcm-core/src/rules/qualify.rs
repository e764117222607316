//! Qualify (customer step + deal step) and opening further deals.

use crate::domain::config::ConfigError;
use crate::domain::customer::{Contact, Customer};
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::event::DomainEvent;
use crate::domain::ids::{Code, CustomerId, DealId};
use crate::domain::input::{CustomerChoice, DealDraft};
use crate::domain::lead::Lead;
use crate::domain::limits::{self};
use crate::rules::access::{self};
use crate::rules::error::Error;
use crate::rules::machine::LeadError;
use crate::rules::machine::{self, LeadAction};
use crate::store::uow::UnitOfWork;

use super::fields::{check_len, unknown};
use super::{Ctx, status_changed};

/// What Qualify decided: the unit of work and the records as they will be.
#[derive(Clone, Debug)]
pub struct QualifyOutcome {
    /// The unit of work.
    pub uow: UnitOfWork,
    /// The lead, now Qualified.
    pub lead: Lead,
    /// The linked or new customer.
    pub customer: Customer,
    /// The new deal.
    pub deal: Deal,
}

/// What Qualify's customer step links or creates, decided once from the
/// lead and the caller's [`CustomerChoice`]; the engine loads what it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerStep {
    /// Link this customer: the one the lead is already for (the step is
    /// skipped), or the one chosen.
    Link(CustomerId),
    /// Look for customers matching the lead's normalized e-mail or phone;
    /// create one when none does.
    Match,
    /// Create a new customer from the lead.
    Create,
}

/// Decides Qualify's customer step: a lead already for a customer keeps it,
/// whatever the choice.
pub fn customer_step(lead: &Lead, choice: &CustomerChoice) -> CustomerStep {
    match (lead.customer, *choice) {
        (Some(id), _) | (None, CustomerChoice::Link { customer: id }) => CustomerStep::Link(id),
        (None, CustomerChoice::Auto) => CustomerStep::Match,
        (None, CustomerChoice::Create) => CustomerStep::Create,
    }
}

/// The customer step as loaded by the engine.
#[allow(clippy::large_enum_variant)] // one per Qualify, never stored
#[derive(Clone, Debug, PartialEq)]
pub enum CustomerFound {
    /// [`CustomerStep::Link`]: the customer, `None` when it does not exist.
    Link(CustomerId, Option<Customer>),
    /// [`CustomerStep::Match`]: the matching customers.
    Candidates(Vec<Customer>),
    /// [`CustomerStep::Create`].
    Create,
}

/// Qualify (seed 001): in one step, link an existing customer or create one,
/// and create a deal at the first stage of the default pipeline.
pub fn qualify(ctx: &Ctx<'_>, lead: &Lead, found: &CustomerFound, draft: &DealDraft) -> Result<QualifyOutcome, Error> {
    access::can_change_lead(ctx.actor, lead)?;
    super::lead::refuse_merged(lead)?;
    let to = machine::lead_transition(lead.number, lead.status, LeadAction::Qualify, None)?;
    if lead.in_closing_phase(ctx.config) {
        return Err(LeadError::Closed {
            number: lead.number,
            status: lead.status,
            action: LeadAction::Qualify,
        }
        .into());
    }
    // Checked before the customer step, so bad deal input creates nothing.
    let template = new_deal(ctx, lead, CustomerId(uuid::Uuid::nil()), None, draft)?;

    let mut uow = ctx.uow();
    // Step 1 — customer. A lead already linked skips this step.
    let (customer, created) = match found {
        CustomerFound::Link(_, Some(c)) => (c.clone(), false),
        CustomerFound::Link(id, None) => return Err(Error::NotFound(EntityRef::customer(*id))),
        CustomerFound::Candidates(candidates) if !candidates.is_empty() => {
            return Err(LeadError::CustomerChoiceRequired {
                number: lead.number,
                candidates: candidates.iter().map(|c| c.id).collect(),
            }
            .into());
        }
        CustomerFound::Candidates(_) | CustomerFound::Create => (customer_from_lead(ctx, lead), true),
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
    ctx.update_lead(&mut uow, lead, &mut next);
    status_changed(&mut uow, lead.id, lead.status, to);
    uow.event(DomainEvent::LeadQualified {
        lead: lead.id,
        customer: customer.id,
        customer_created: created,
        deal: deal.id,
    });
    Ok(QualifyOutcome {
        uow,
        lead: next,
        customer,
        deal,
    })
}

/// A new deal for a lead: at the first stage of `pipeline` (default: the
/// default pipeline), owned and worked by the lead's owner and team. Refuses
/// an unknown pipeline and invalid draft fields.
pub(crate) fn new_deal(
    ctx: &Ctx<'_>,
    lead: &Lead,
    customer: CustomerId,
    pipeline: Option<&Code>,
    draft: &DealDraft,
) -> Result<Deal, Error> {
    let pipeline = match pipeline {
        Some(code) => ctx
            .config
            .pipeline(code)
            .ok_or_else(|| Error::from(unknown(ReferenceKind::Pipeline, code)))?,
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
    limits::collect_date(&mut errors, "expected_close", draft.expected_close);
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
    super::lead::refuse_merged(lead)?;
    machine::lead_transition(lead.number, lead.status, LeadAction::OpenDeal, None)?;
    let Some(customer) = lead.customer else {
        return Err(LeadError::NotAllowed {
            number: lead.number,
            status: lead.status,
            action: LeadAction::OpenDeal,
        }
        .into());
    };
    let deal = new_deal(ctx, lead, customer, pipeline, draft)?;
    let mut uow = ctx.uow();
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

pub(crate) fn customer_from_lead(ctx: &Ctx<'_>, lead: &Lead) -> Customer {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::LeadStatus;
    use crate::rules::test_support::{ann, bob, config, ctx, lead};

    #[test]
    fn the_customer_step_is_decided_once() {
        let config = config();
        let mut l = lead(&config, 1, LeadStatus::New);
        let chosen = CustomerId::new();
        assert_eq!(customer_step(&l, &CustomerChoice::Auto), CustomerStep::Match);
        assert_eq!(customer_step(&l, &CustomerChoice::Create), CustomerStep::Create);
        assert_eq!(
            customer_step(&l, &CustomerChoice::Link { customer: chosen }),
            CustomerStep::Link(chosen)
        );
        let own = CustomerId::new();
        l.customer = Some(own);
        for choice in [
            CustomerChoice::Auto,
            CustomerChoice::Create,
            CustomerChoice::Link { customer: chosen },
        ] {
            assert_eq!(
                customer_step(&l, &choice),
                CustomerStep::Link(own),
                "the lead's own customer wins"
            );
        }
    }

    #[test]
    fn qualify_creates_a_customer_and_a_deal_at_the_first_stage() {
        let config = config();
        let ann = ann();
        let l = lead(&config, 1, LeadStatus::Contacted);
        let q = qualify(
            &ctx(&config, &ann),
            &l,
            &CustomerFound::Candidates(Vec::new()),
            &DealDraft::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.lead.status, LeadStatus::Qualified);
        assert_eq!(q.lead.customer, Some(q.customer.id));
        assert_eq!(q.customer.name, l.company);
        assert_eq!(
            (q.deal.pipeline.as_str(), q.deal.stage.as_str(), q.deal.probability),
            ("sales", "prospecting", 10)
        );
        assert_eq!((q.deal.lead, q.deal.customer), (Some(l.id), q.customer.id));
        assert_eq!(q.uow.writes.len(), 3, "customer, deal, lead");
        assert!(q.uow.events.contains(&DomainEvent::LeadQualified {
            lead: l.id,
            customer: q.customer.id,
            customer_created: true,
            deal: q.deal.id
        }));
    }

    #[test]
    fn matching_customers_make_the_caller_choose_and_missing_ones_are_not_found() {
        let config = config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::New);
        let (_, existing) = crate::rules::create_customer(
            &c,
            &crate::domain::input::NewCustomer {
                name: "Acme".into(),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = qualify(
            &c,
            &l,
            &CustomerFound::Candidates(vec![existing.clone()]),
            &DealDraft::default(),
        )
        .err();
        assert!(
            matches!(&e, Some(Error::Lead(LeadError::CustomerChoiceRequired { candidates, .. })) if candidates == &vec![existing.id]),
            "{e:?}"
        );
        let missing = CustomerId::new();
        let e = qualify(&c, &l, &CustomerFound::Link(missing, None), &DealDraft::default()).err();
        assert!(
            matches!(e, Some(Error::NotFound(entity)) if entity == EntityRef::customer(missing)),
            "{e:?}"
        );
        let q = qualify(
            &c,
            &l,
            &CustomerFound::Link(existing.id, Some(existing.clone())),
            &DealDraft::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.customer, existing);
        assert_eq!(q.uow.writes.len(), 2, "deal and lead; the customer exists");
        let e = qualify(&ctx(&config, &bob()), &l, &CustomerFound::Create, &DealDraft::default()).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
    }

    #[test]
    fn another_deal_needs_a_qualified_or_converted_lead() {
        let config = config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::New);
        let e = open_deal(&c, &l, None, &DealDraft::default()).err();
        assert!(
            matches!(
                e,
                Some(Error::Lead(LeadError::NotAllowed {
                    action: LeadAction::OpenDeal,
                    ..
                }))
            ),
            "{e:?}"
        );
        let q = qualify(&c, &l, &CustomerFound::Create, &DealDraft::default()).unwrap_or_else(|e| panic!("{e}"));
        let (uow, deal) = open_deal(&c, &q.lead, None, &DealDraft::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(deal.customer, q.customer.id);
        assert_eq!(uow.writes.len(), 1, "the lead does not change");
        let e = open_deal(
            &c,
            &q.lead,
            Some(&Code::new("nope").unwrap_or_else(|e| panic!("{e}"))),
            &DealDraft::default(),
        )
        .err();
        assert!(
            matches!(e, Some(Error::Input(InputError::UnknownReference { .. }))),
            "{e:?}"
        );
    }
}
