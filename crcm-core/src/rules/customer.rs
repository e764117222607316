//! Customer rules: create a customer, add a contact person.

use crate::domain::config::Config;
use crate::domain::contact::{Email, Phone};
use crate::domain::customer::{Contact, Customer};
use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;
use crate::domain::ids::CustomerId;
use crate::domain::input::{NewContact, NewCustomer};
use crate::domain::limits::{self};
use crate::rules::access::{self};
use crate::rules::error::Error;
use crate::store::uow::UnitOfWork;

use super::Ctx;
use super::fields::{check_len, parse_email, parse_phone};

pub(crate) fn contact_fields(
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
    let mut uow = ctx.uow();
    uow.insert(&customer);
    uow.event(DomainEvent::CustomerCreated { customer: customer.id });
    Ok((uow, customer))
}

/// Adds a contact person (the customer's owner or a manager).
pub fn add_contact(ctx: &Ctx<'_>, customer: &Customer, input: &NewContact) -> Result<(UnitOfWork, Customer), Error> {
    access::can_change_customer(ctx.actor, customer)?;
    let mut errors = Vec::new();
    let (name, email, phone) = contact_fields(
        &mut errors,
        ctx.config,
        &input.name,
        input.email.as_deref(),
        input.phone.as_deref(),
    );
    check_len(&mut errors, "job_title", &input.job_title, limits::LINE);
    if let Err(e) = limits::check_count("contacts", customer.contacts.len() + 1, limits::CONTACTS) {
        errors.push(e);
    }
    InputError::collect(errors)?;
    let mut next = customer.clone();
    next.contacts.push(Contact {
        name,
        job_title: input.job_title.trim().to_owned(),
        email,
        phone,
    });
    next.updated_at = ctx.now;
    let mut uow = ctx.uow();
    uow.update(customer, &mut next);
    uow.event(DomainEvent::CustomerUpdated { customer: customer.id });
    Ok((uow, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{ann, bob, config, ctx, maria};

    fn acme() -> NewCustomer {
        NewCustomer {
            name: " Acme ".into(),
            email: Some("Sales@Acme.example".into()),
            phone: Some("(415) 555-0100".into()),
            ..NewCustomer::default()
        }
    }

    #[test]
    fn a_customer_has_a_name_and_normalized_contact_data() {
        let config = config();
        let ann = ann();
        let (uow, c) = create_customer(&ctx(&config, &ann), &acme()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.name, "Acme");
        assert_eq!(c.phone.as_ref().map(|p| p.e164.as_str()), Some("+14155550100"));
        assert_eq!(c.owner, ann.user);
        assert_eq!(uow.events, vec![DomainEvent::CustomerCreated { customer: c.id }]);
        let e = create_customer(&ctx(&config, &ann), &NewCustomer::default()).err();
        assert!(matches!(e, Some(Error::Input(InputError::Required { .. }))), "{e:?}");
        let bad = NewCustomer {
            email: Some("not an address".into()),
            ..acme()
        };
        let e = create_customer(&ctx(&config, &ann), &bad).err();
        assert!(
            matches!(e, Some(Error::Input(InputError::InvalidEmail { .. }))),
            "{e:?}"
        );
    }

    #[test]
    fn contacts_are_added_by_the_owner_or_a_manager() {
        let config = config();
        let ann = ann();
        let (_, c) = create_customer(&ctx(&config, &ann), &acme()).unwrap_or_else(|e| panic!("{e}"));
        let person = NewContact {
            name: "Ada".into(),
            ..NewContact::default()
        };
        let e = add_contact(&ctx(&config, &bob()), &c, &person).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
        let (_, by_owner) = add_contact(&ctx(&config, &ann), &c, &person).unwrap_or_else(|e| panic!("{e}"));
        let (_, by_manager) =
            add_contact(&ctx(&config, &maria()), &by_owner, &person).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_manager.contacts.len(), 2);
    }
}
