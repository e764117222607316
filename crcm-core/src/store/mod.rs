//! The storage contract a backend implements.
//!
//! [`Store`] is the minimum: read records, answer a few indexed lookups and
//! the typed [`LeadFilter`], hand out lead numbers, read history and events,
//! and commit a [`UnitOfWork`]. Conveniences live in [`StoreExt`], implemented
//! for every store, so backends cannot drift apart. Backends hold no domain
//! rules; they translate storage.
//!
//! # Guarantees every backend gives
//!
//! 1. **Atomicity.** [`Store::commit`] applies all entity writes, history
//!    entries, events and the configuration write of a unit of work, or none.
//! 2. **Optimistic concurrency.** Before applying anything, `commit` checks
//!    every [`Write`](crate::store::uow::Write)'s precondition: an insert needs the
//!    record to be absent, an update or delete needs the stored version to
//!    equal `expected`, a configuration write needs the stored configuration
//!    version to equal its `expected`. One failed check fails the whole unit
//!    with [`StoreError::Conflict`] and writes nothing.
//! 3. **Isolation.** Concurrent commits behave as if applied one after the
//!    other: two units that write the same record cannot both succeed against
//!    the same version.
//! 4. **Durability.** Once `commit` returns `Ok`, the unit survives a crash or
//!    restart of the process (unless the backend was explicitly configured to
//!    trade durability for throughput, which it documents).
//! 5. **Event sequence.** Events receive store-wide sequence numbers that are
//!    strictly increasing, gap-free, start at 1, and follow commit order:
//!    a reader of [`Store::events_since`] never sees sequence `n + 1` before `n`
//!    is visible.
//! 6. **Lead numbers.** [`Store::next_lead_number`] never returns the same
//!    number twice (numbers may be skipped when a unit of work fails).
//! 7. **Format.** A backend records [`FORMAT_VERSION`] when it creates a store and
//!    refuses to open a store with a newer format, without modifying it.
//! 8. **Guards.** `commit` also checks, in the same atomic step, every
//!    [`Guard`](crate::store::uow::Guard) of the unit: a guarded record must still
//!    exist at the guarded version (else [`StoreError::Conflict`]), a guarded
//!    lookup key must still be at the guarded version (else
//!    [`StoreError::LookupConflict`]). It then adds one to the version of
//!    every key in [`UnitOfWork::touched`]. [`Store::lookup_versions`] reads
//!    key versions (0 for a key never touched). This is how a decision that
//!    read a set through a query (no customer with this e-mail yet; no
//!    activity on this lead) fails, rather than commits, when another writer
//!    changed the set meanwhile.
//! 9. **Filters.** [`Store::query_leads`] returns exactly the leads for which
//!    [`LeadFilter::matches`] holds, ordered by lead number; the conformance
//!    suite checks this against every backend.

pub mod error;
pub mod memory;
pub mod record;
pub mod uow;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, PhaseRef};
use crate::domain::customer::Customer;
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId, UserId};
use crate::domain::lead::{Lead, LeadStatus};
use crate::store::error::StoreError;
use crate::store::record::Record;
use crate::store::uow::UnitOfWork;

/// The storage format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a successful commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitReceipt {
    /// Sequence of the first event written (when `events > 0`).
    pub first_seq: u64,
    /// How many events were written.
    pub events: u64,
}

/// A typed lead filter that backends answer natively. Every set field must
/// match (AND); an empty filter matches every lead. Results are ordered by
/// lead number and cut at `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadFilter {
    /// Status is one of these.
    pub statuses: Option<BTreeSet<LeadStatus>>,
    /// Owner equals ("My leads": owner = the actor).
    pub owner: Option<UserId>,
    /// Account type equals.
    pub account_type: Option<Code>,
    /// Phase equals.
    pub phase: Option<PhaseRef>,
    /// Source equals.
    pub source: Option<Code>,
    /// Priority equals.
    pub priority: Option<Code>,
    /// Has this tag.
    pub tag: Option<Code>,
    /// Zone equals.
    pub zone: Option<String>,
    /// Normalized e-mail equals.
    pub email: Option<String>,
    /// E.164 phone equals.
    pub phone: Option<String>,
    /// Closing reason equals.
    pub closing_reason: Option<Code>,
    /// Lost reason equals.
    pub lost_reason: Option<Code>,
    /// Linked to this customer.
    pub customer: Option<CustomerId>,
    /// Has a value for this custom field.
    pub has_custom: Option<Code>,
    /// Updated at or after.
    pub updated_from: Option<DateTime<Utc>>,
    /// Updated before.
    pub updated_before: Option<DateTime<Utc>>,
    /// At most this many results.
    pub limit: Option<usize>,
}

impl LeadFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, lead: &Lead) -> bool {
        fn eq<T: PartialEq>(want: &Option<T>, have: Option<&T>) -> bool {
            want.as_ref().is_none_or(|w| have == Some(w))
        }
        self.statuses.as_ref().is_none_or(|s| s.contains(&lead.status))
            && eq(&self.owner, Some(&lead.owner))
            && eq(&self.account_type, Some(&lead.account_type))
            && eq(&self.phase, lead.phase.as_ref())
            && eq(&self.source, lead.source.as_ref())
            && eq(&self.priority, lead.priority.as_ref())
            && self.tag.as_ref().is_none_or(|t| lead.tags.contains(t))
            && eq(&self.zone, Some(&lead.zone))
            && self
                .email
                .as_ref()
                .is_none_or(|e| lead.email.as_ref().is_some_and(|x| x.as_str() == e))
            && self
                .phone
                .as_ref()
                .is_none_or(|p| lead.phone.as_ref().is_some_and(|x| x.key() == p))
            && eq(&self.closing_reason, lead.closing_reason.as_ref())
            && eq(&self.lost_reason, lead.lost_reason.as_ref())
            && eq(&self.customer, lead.customer.as_ref())
            && self.has_custom.as_ref().is_none_or(|f| lead.custom.contains_key(f))
            && self.updated_from.is_none_or(|t| lead.updated_at >= t)
            && self.updated_before.is_none_or(|t| lead.updated_at < t)
    }
}

/// A typed deal filter (AND of the set fields), ordered by creation (id).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DealFilter {
    /// From this lead.
    pub lead: Option<LeadId>,
    /// Of this customer.
    pub customer: Option<CustomerId>,
    /// In this pipeline.
    pub pipeline: Option<Code>,
    /// At this stage (with `pipeline`).
    pub stage: Option<Code>,
    /// With this status.
    pub status: Option<DealStatus>,
    /// Lost for this reason.
    pub lost_reason: Option<Code>,
    /// Owned by.
    pub owner: Option<UserId>,
    /// At most this many results.
    pub limit: Option<usize>,
}

impl DealFilter {
    /// The semantics every backend implements.
    pub fn matches(&self, deal: &Deal) -> bool {
        self.lead.is_none_or(|l| deal.lead == Some(l))
            && self.customer.is_none_or(|c| deal.customer == c)
            && self.pipeline.as_ref().is_none_or(|p| &deal.pipeline == p)
            && self.stage.as_ref().is_none_or(|s| &deal.stage == s)
            && self.status.is_none_or(|s| deal.status == s)
            && self
                .lost_reason
                .as_ref()
                .is_none_or(|r| deal.lost_reason.as_ref() == Some(r))
            && self.owner.as_ref().is_none_or(|o| &deal.owner == o)
    }
}

/// The storage contract. Object-safe: use it as `Arc<dyn Store>`
/// ([`DynStore`]). See the module docs for the guarantees.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// A short name for errors and logs (`memory`, `sled`, `sqlite`, ...).
    fn backend(&self) -> &'static str;

    /// The format version recorded in the store.
    async fn format_version(&self) -> Result<u32, StoreError>;

    /// The configuration and its version, if one was stored.
    async fn config(&self) -> Result<Option<(Config, u64)>, StoreError>;

    /// One record by reference.
    async fn get(&self, entity: EntityRef) -> Result<Option<Record>, StoreError>;

    /// The lead with this number.
    async fn lead_by_number(&self, number: u64) -> Result<Option<Lead>, StoreError>;

    /// Leads matching a filter, ordered by number.
    async fn query_leads(&self, filter: &LeadFilter) -> Result<Vec<Lead>, StoreError>;

    /// Deals matching a filter.
    async fn query_deals(&self, filter: &DealFilter) -> Result<Vec<Deal>, StoreError>;

    /// Customers by id (creation order, ids being UUID v7), the first
    /// `limit` after `after` (`None`: from the start). Pass the last id
    /// returned as the next `after` to page through all of them.
    async fn list_customers(&self, after: Option<CustomerId>, limit: usize) -> Result<Vec<Customer>, StoreError>;

    /// Customers whose normalized e-mail equals `email`.
    async fn customers_by_email(&self, email: &str) -> Result<Vec<Customer>, StoreError>;

    /// Customers whose E.164 phone equals `e164`.
    async fn customers_by_phone(&self, e164: &str) -> Result<Vec<Customer>, StoreError>;

    /// Activities on a lead's or deal's timeline, oldest first.
    async fn activities(&self, subject: Subject) -> Result<Vec<Activity>, StoreError>;

    /// Follow-ups of a lead or deal, by due date.
    async fn follow_ups(&self, subject: Subject) -> Result<Vec<FollowUp>, StoreError>;

    /// Communications attached to a lead, oldest first.
    async fn communications_of(&self, lead: LeadId) -> Result<Vec<Communication>, StoreError>;

    /// The history of one entity, by version.
    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Events with sequence greater than `after`, ascending, at most `limit`.
    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError>;

    /// A fresh lead number.
    async fn next_lead_number(&self) -> Result<u64, StoreError>;

    /// The current versions of lookup keys (see [`crate::store::record::lookup`]),
    /// in the order asked; 0 for a key never touched.
    async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, StoreError>;

    /// Commits a unit of work atomically (see the guarantees).
    async fn commit(&self, uow: UnitOfWork) -> Result<CommitReceipt, StoreError>;
}

/// A store behind a pointer.
pub type DynStore = dyn Store;

#[async_trait]
impl<T: Store + ?Sized> Store for Arc<T> {
    fn backend(&self) -> &'static str {
        (**self).backend()
    }
    async fn format_version(&self) -> Result<u32, StoreError> {
        (**self).format_version().await
    }
    async fn config(&self) -> Result<Option<(Config, u64)>, StoreError> {
        (**self).config().await
    }
    async fn get(&self, entity: EntityRef) -> Result<Option<Record>, StoreError> {
        (**self).get(entity).await
    }
    async fn lead_by_number(&self, number: u64) -> Result<Option<Lead>, StoreError> {
        (**self).lead_by_number(number).await
    }
    async fn query_leads(&self, filter: &LeadFilter) -> Result<Vec<Lead>, StoreError> {
        (**self).query_leads(filter).await
    }
    async fn query_deals(&self, filter: &DealFilter) -> Result<Vec<Deal>, StoreError> {
        (**self).query_deals(filter).await
    }
    async fn list_customers(&self, after: Option<CustomerId>, limit: usize) -> Result<Vec<Customer>, StoreError> {
        (**self).list_customers(after, limit).await
    }
    async fn customers_by_email(&self, email: &str) -> Result<Vec<Customer>, StoreError> {
        (**self).customers_by_email(email).await
    }
    async fn customers_by_phone(&self, e164: &str) -> Result<Vec<Customer>, StoreError> {
        (**self).customers_by_phone(e164).await
    }
    async fn activities(&self, subject: Subject) -> Result<Vec<Activity>, StoreError> {
        (**self).activities(subject).await
    }
    async fn follow_ups(&self, subject: Subject) -> Result<Vec<FollowUp>, StoreError> {
        (**self).follow_ups(subject).await
    }
    async fn communications_of(&self, lead: LeadId) -> Result<Vec<Communication>, StoreError> {
        (**self).communications_of(lead).await
    }
    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        (**self).history(entity).await
    }
    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        (**self).events_since(after, limit).await
    }
    async fn next_lead_number(&self) -> Result<u64, StoreError> {
        (**self).next_lead_number().await
    }
    async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        (**self).lookup_versions(keys).await
    }
    async fn commit(&self, uow: UnitOfWork) -> Result<CommitReceipt, StoreError> {
        (**self).commit(uow).await
    }
}

/// Reads one record and checks that it is of the expected kind.
async fn typed<S: Store + ?Sized, T>(
    store: &S,
    entity: EntityRef,
    pick: fn(Record) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let Some(record) = store.get(entity).await? else {
        return Ok(None);
    };
    let found = record.entity().kind;
    pick(record).map(Some).ok_or_else(|| StoreError::Corrupt {
        what: entity.to_string(),
        message: format!("holds a {} record", found.as_str()),
    })
}

/// Typed conveniences over [`Store`], for every store.
#[async_trait]
pub trait StoreExt: Store {
    /// A lead by id.
    async fn lead(&self, id: LeadId) -> Result<Option<Lead>, StoreError> {
        typed(self, EntityRef::lead(id), |r| match r {
            Record::Lead(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// A customer by id.
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        typed(self, EntityRef::customer(id), |r| match r {
            Record::Customer(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// A deal by id.
    async fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
        typed(self, EntityRef::deal(id), |r| match r {
            Record::Deal(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// An activity by id.
    async fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError> {
        typed(self, EntityRef::activity(id), |r| match r {
            Record::Activity(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// A follow-up by id.
    async fn follow_up(&self, id: FollowUpId) -> Result<Option<FollowUp>, StoreError> {
        typed(self, EntityRef::follow_up(id), |r| match r {
            Record::FollowUp(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// A communication by id.
    async fn communication(&self, id: CommunicationId) -> Result<Option<Communication>, StoreError> {
        typed(self, EntityRef::communication(id), |r| match r {
            Record::Communication(x) => Some(x),
            _ => None,
        })
        .await
    }

    /// The deals created from a lead.
    async fn deals_of_lead(&self, lead: LeadId) -> Result<Vec<Deal>, StoreError> {
        self.query_deals(&DealFilter {
            lead: Some(lead),
            ..DealFilter::default()
        })
        .await
    }
}

impl<T: Store + ?Sized> StoreExt for T {}
