//! Records as the store sees them: one enum over every entity, the
//! [`Entity`] trait, and the lookup keys of the sets a decision reads.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::store::stored::StoredForm;

use crate::domain::activity::{Activity, Communication, FollowUp};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::entity::EntityRef;
use crate::domain::lead::Lead;

/// Any stored entity.
// Records are moved between the domain and the store a few at a time; boxing
// the larger variants would only add allocations.
///
/// Its serde form is `{"kind": "lead", "record": {...}}` with the record in
/// its stored form ([`StoredForm`]): what sled keeps.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A lead.
    Lead(Lead),
    /// A customer.
    Customer(Customer),
    /// A deal.
    Deal(Deal),
    /// An activity.
    Activity(Activity),
    /// A follow-up.
    FollowUp(FollowUp),
    /// A communication.
    Communication(Communication),
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, record) = match self {
            Self::Lead(r) => ("lead", r.to_stored()),
            Self::Customer(r) => ("customer", r.to_stored()),
            Self::Deal(r) => ("deal", r.to_stored()),
            Self::Activity(r) => ("activity", r.to_stored()),
            Self::FollowUp(r) => ("follow_up", r.to_stored()),
            Self::Communication(r) => ("communication", r.to_stored()),
        };
        let record = record.map_err(serde::ser::Error::custom)?;
        json!({ "kind": kind, "record": record }).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut value = Value::deserialize(deserializer)?;
        let record = value.get_mut("record").map(Value::take).unwrap_or(Value::Null);
        let read = match value.get("kind").and_then(Value::as_str) {
            Some("lead") => StoredForm::from_stored(record).map(Self::Lead),
            Some("customer") => StoredForm::from_stored(record).map(Self::Customer),
            Some("deal") => StoredForm::from_stored(record).map(Self::Deal),
            Some("activity") => StoredForm::from_stored(record).map(Self::Activity),
            Some("follow_up") => StoredForm::from_stored(record).map(Self::FollowUp),
            Some("communication") => StoredForm::from_stored(record).map(Self::Communication),
            other => return Err(D::Error::custom(format!("unknown record kind {other:?}"))),
        };
        read.map_err(D::Error::custom)
    }
}

impl Record {
    /// The record's reference.
    pub fn entity(&self) -> EntityRef {
        match self {
            Self::Lead(r) => EntityRef::lead(r.id),
            Self::Customer(r) => EntityRef::customer(r.id),
            Self::Deal(r) => EntityRef::deal(r.id),
            Self::Activity(r) => EntityRef::activity(r.id),
            Self::FollowUp(r) => EntityRef::follow_up(r.id),
            Self::Communication(r) => EntityRef::communication(r.id),
        }
    }

    /// The record's version.
    pub fn version(&self) -> u64 {
        match self {
            Self::Lead(r) => r.version,
            Self::Customer(r) => r.version,
            Self::Deal(r) => r.version,
            Self::Activity(r) => r.version,
            Self::FollowUp(r) => r.version,
            Self::Communication(r) => r.version,
        }
    }

    pub(crate) fn set_version(&mut self, version: u64) {
        match self {
            Self::Lead(r) => r.version = version,
            Self::Customer(r) => r.version = version,
            Self::Deal(r) => r.version = version,
            Self::Activity(r) => r.version = version,
            Self::FollowUp(r) => r.version = version,
            Self::Communication(r) => r.version = version,
        }
    }
}

/// A stored entity type: serializable, versioned, and one of the [`Record`] kinds.
pub trait Entity: serde::Serialize + StoredForm + Clone + Into<Record> + sealed::Sealed {
    /// The optimistic-concurrency version.
    fn version(&self) -> u64;
    /// Sets the version (done by [`UnitOfWork`](crate::UnitOfWork) only).
    fn set_version(&mut self, version: u64);
}

macro_rules! record_from {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Record {
            fn from(value: $ty) -> Self {
                Record::$ty(value)
            }
        }

        impl sealed::Sealed for $ty {}

        impl Entity for $ty {
            fn version(&self) -> u64 {
                self.version
            }
            fn set_version(&mut self, version: u64) {
                self.version = version;
            }
        }
    )*};
}
record_from!(Lead, Customer, Deal, Activity, FollowUp, Communication);

/// Seals [`Entity`]: the records are crcm's six, no other type is one.
mod sealed {
    pub trait Sealed {}
}

/// Lookup keys: names for the sets of records that a command's decision reads
/// through a query rather than by id ("the customers with this e-mail", "the
/// deals of this lead"). Every write of a record that belongs to such a set,
/// before or after the write, bumps the set's key version
/// ([`UnitOfWork::touched`](crate::store::uow::UnitOfWork::touched)); a decision that
/// read the set guards its commit with the version it saw
/// ([`Guard::Key`](crate::store::uow::Guard::Key)). So a unit of work whose decision
/// rests on a set that changed meanwhile fails with a conflict and is re-run.
pub mod lookup {
    use crate::domain::activity::Subject;
    use crate::domain::contact::{Email, Phone};
    use crate::domain::ids::{ImportId, LeadId};

    /// Customers with this normalized e-mail.
    pub fn customer_email(email: &str) -> String {
        format!("customer.email:{email}")
    }

    /// Customers with this E.164 phone.
    pub fn customer_phone(e164: &str) -> String {
        format!("customer.phone:{e164}")
    }

    /// Leads with this normalized e-mail.
    pub fn lead_email(email: &str) -> String {
        format!("lead.email:{email}")
    }

    /// Leads with this E.164 phone.
    pub fn lead_phone(e164: &str) -> String {
        format!("lead.phone:{e164}")
    }

    /// The lead with this external reference key (`system:id`).
    pub fn lead_ref(key: &str) -> String {
        format!("lead.ref:{key}")
    }

    /// The keys of the leads sharing an e-mail or phone.
    pub fn leads_by_contact(email: Option<&Email>, phone: Option<&Phone>) -> Vec<String> {
        email
            .map(|e| lead_email(e.as_str()))
            .into_iter()
            .chain(phone.map(|p| lead_phone(p.key())))
            .collect()
    }

    /// The keys of the customers sharing an e-mail or phone.
    pub fn customers_by_contact(email: Option<&Email>, phone: Option<&Phone>) -> Vec<String> {
        email
            .map(|e| customer_email(e.as_str()))
            .into_iter()
            .chain(phone.map(|p| customer_phone(p.key())))
            .collect()
    }

    /// The batches an import committed, `batch` rows each: the key's
    /// version counts them (see [`crate::engine::import`]).
    pub fn import_batches(import: ImportId, fingerprint: u64) -> String {
        format!("import.batches:{}:{fingerprint:016x}", import.0)
    }

    /// The batches an import committed, whatever it read: a resume whose
    /// [`import_batches`] count differs from this one resumes another import.
    pub fn import_any_batches(import: ImportId) -> String {
        format!("import.any:{}", import.0)
    }

    /// The deals of a lead.
    pub fn lead_deals(lead: LeadId) -> String {
        format!("lead.deals:{}", lead.0)
    }

    /// The activities, follow-ups and communications of a lead or deal.
    pub fn timeline(subject: Subject) -> String {
        match subject {
            Subject::Lead(id) => format!("lead.timeline:{}", id.0),
            Subject::Deal(id) => format!("deal.timeline:{}", id.0),
        }
    }
}

impl Record {
    /// The lookup keys of the sets this record belongs to (see [`lookup`]).
    pub fn lookup_keys(&self) -> Vec<String> {
        match self {
            Self::Lead(l) => {
                let mut keys = lookup::leads_by_contact(l.email.as_ref(), l.phone.as_ref());
                keys.extend(l.external_ref.as_ref().map(|r| lookup::lead_ref(&r.key())));
                keys
            }
            Self::Customer(c) => c
                .emails()
                .iter()
                .map(|e| lookup::customer_email(e))
                .chain(c.phones().iter().map(|p| lookup::customer_phone(p)))
                .collect(),
            Self::Deal(d) => d.lead.map(lookup::lead_deals).into_iter().collect(),
            Self::Activity(a) => vec![lookup::timeline(a.subject)],
            Self::FollowUp(f) => vec![lookup::timeline(f.subject)],
            Self::Communication(c) => c
                .lead
                .map(|l| lookup::timeline(crate::domain::activity::Subject::Lead(l)))
                .into_iter()
                .collect(),
        }
    }
}
