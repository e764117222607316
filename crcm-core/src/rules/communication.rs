//! Inbound communication rules: receive, attach, create a lead from one, ignore.

use crate::domain::activity::{Communication, CommunicationStatus};
use crate::domain::config::Config;
use crate::domain::contact::{Email, Phone};
use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;
use crate::domain::ids::CommunicationId;
use crate::domain::input::{InboundCommunication, NewLead};
use crate::domain::lead::Lead;
use crate::domain::limits::{self};
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::store::uow::UnitOfWork;

use super::Ctx;
use super::fields::{check_len, parse_email, parse_phone};
use super::lead::{new_lead, record_new_lead, refuse_merged};
use super::matching::open_matches;
use crate::rules::machine::CommunicationError;

/// Records an inbound call or e-mail. `matches` are the leads whose phone or
/// e-mail equals the sender's; it is linked when exactly one open lead matches.
pub fn receive_communication(
    ctx: &Ctx<'_>,
    input: &InboundCommunication,
    matches: &[Lead],
) -> Result<(UnitOfWork, Communication), Error> {
    let (email, phone) = communication_contacts(ctx.config, input)?;
    let open = open_matches(ctx.config, matches.to_vec(), None);
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
        received_at: input.received_at.map_or(ctx.now, limits::to_micros),
        status: if lead.is_some() {
            CommunicationStatus::Linked
        } else {
            CommunicationStatus::New
        },
        lead,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut uow = ctx.uow();
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

pub(crate) fn communication_open(c: &Communication) -> Result<(), Error> {
    if c.status == CommunicationStatus::Ignored {
        return Err(CommunicationError::Ignored { communication: c.id }.into());
    }
    Ok(())
}

/// Taking a communication off the lead it is linked to (`source`) changes that
/// lead's timeline: the actor must be allowed to change it. A new (unlinked)
/// communication is in everyone's inbox (seed 004's "Calls" and "Email" tabs).
pub(crate) fn can_take_communication(actor: &Actor, source: Option<&Lead>) -> Result<(), Error> {
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
    refuse_merged(lead)?;
    communication_open(communication)?;
    let mut next = communication.clone();
    next.lead = Some(lead.id);
    next.status = CommunicationStatus::Linked;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
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
    let (mut uow, lead) = record_new_lead(ctx, lead, number);
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
        return Err(CommunicationError::Linked {
            communication: communication.id,
            lead: communication.lead,
        }
        .into());
    }
    let mut next = communication.clone();
    next.status = CommunicationStatus::Ignored;
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    if !uow.update(communication, &mut next).is_empty() {
        uow.event(DomainEvent::CommunicationIgnored {
            communication: communication.id,
        });
    }
    Ok((uow, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::CommunicationKind;
    use crate::domain::lead::LeadStatus;
    use crate::rules::test_support::{ann, bob, config, ctx, lead};

    fn call(from: &str) -> InboundCommunication {
        InboundCommunication {
            kind: CommunicationKind::Call,
            from_email: None,
            from_phone: Some(from.into()),
            summary: "asks for a quote".into(),
            body: String::new(),
            received_at: None,
        }
    }

    #[test]
    fn a_call_links_to_the_one_open_lead_that_matches() {
        let config = config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let open = lead(&config, 1, LeadStatus::New);
        let closed = lead(&config, 2, LeadStatus::Converted);
        let (_, linked) =
            receive_communication(&c, &call("415-555-0100"), &[open.clone(), closed]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (linked.status, linked.lead),
            (CommunicationStatus::Linked, Some(open.id))
        );
        let other = lead(&config, 3, LeadStatus::Contacted);
        let (_, unsure) =
            receive_communication(&c, &call("415-555-0100"), &[open, other]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (unsure.status, unsure.lead),
            (CommunicationStatus::New, None),
            "two matches: the user picks"
        );
        let mut nobody = call("415-555-0100");
        nobody.from_phone = None;
        let e = receive_communication(&c, &nobody, &[]).err();
        assert!(matches!(e, Some(Error::Input(InputError::Required { .. }))), "{e:?}");
    }

    #[test]
    fn ignored_and_linked_communications_refuse_what_does_not_fit() {
        let config = config();
        let ann = ann();
        let c = ctx(&config, &ann);
        let l = lead(&config, 1, LeadStatus::New);
        let (_, new) = receive_communication(&c, &call("415-555-0100"), &[]).unwrap_or_else(|e| panic!("{e}"));
        let (_, ignored) = ignore_communication(&c, &new).unwrap_or_else(|e| panic!("{e}"));
        let e = attach_communication(&c, &ignored, None, &l).err();
        assert!(
            matches!(e, Some(Error::Communication(CommunicationError::Ignored { communication })) if communication == new.id),
            "{e:?}"
        );
        let (_, attached) = attach_communication(&c, &new, None, &l).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(attached.lead, Some(l.id));
        let e = ignore_communication(&c, &attached).err();
        assert!(
            matches!(e, Some(Error::Communication(CommunicationError::Linked { lead, .. })) if lead == Some(l.id)),
            "{e:?}"
        );
        // Taking it off Ann's lead needs the right to change that lead.
        let bobs = lead(&config, 2, LeadStatus::New);
        let e = attach_communication(&ctx(&config, &bob()), &attached, Some(&l), &bobs).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
    }
}
