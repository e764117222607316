//! The storage contract a backend implements.
//!
//! [`Store`] is a small required core, built the way `object_store` is: read a
//! record ([`Store::get`]), answer a [`Select`] one keyset page at a time
//! ([`Store::select`]), read history and events, hand out lead numbers, and
//! commit a [`UnitOfWork`]. Every typed lookup (a lead by number, the deals of
//! a lead, customers by e-mail, a timeline) is a provided method of
//! [`StoreExt`] on top of that core, implemented once for every store, so a
//! new lookup is never a breaking change to a backend and backends cannot
//! drift apart. Backends hold no domain rules; they translate storage.
//!
//! # Guarantees every backend gives
//!
//! 1. **Atomicity.** [`Store::commit`] applies all entity writes, history
//!    entries, phase steps ([`steps::PhaseStep`], each replacing the step
//!    with its key), events and the configuration write of a unit of work,
//!    or none.
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
//! 6. **Lead numbers.** [`Store::reserve_lead_numbers`] hands out a block of
//!    consecutive numbers that no other call ever returns (numbers may be
//!    skipped when a unit of work fails).
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
//! 9. **Selects.** [`Store::select`] returns exactly the page
//!    [`query::page_of`] computes from the records the select's filter
//!    matches (e.g. [`LeadFilter::matches`]), in the select's order, with the
//!    cursor and total it computes; the conformance suite checks this against
//!    every backend with random data and random queries.

pub mod error;
pub mod memory;
pub mod query;
pub mod record;
pub mod steps;
pub mod stored;
pub mod tally;
pub mod uow;

pub use query::{
    CommunicationFilter, Cursor, CustomerFilter, DealFilter, DealKey, DealOrder, LeadFilter, LeadKey, LeadOrder, Page,
    PageRequest, Select,
};

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::Config;
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::entity::EntityRef;
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{ActivityId, Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId};
use crate::domain::lead::Lead;
use crate::store::error::StoreError;
use crate::store::record::Record;
use crate::store::tally::{BoardCell, Tally, TallyRow};
use crate::store::uow::UnitOfWork;

/// The storage format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a successful commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommitReceipt {
    /// Sequence of the first event written (when `events > 0`).
    pub first_seq: u64,
    /// How many events were written.
    pub events: u64,
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

    /// One page of the records a [`Select`] names, in its order, from the
    /// page's cursor on (see [`query`] for the semantics, which the
    /// conformance suite checks). Answered natively: a backend reads index
    /// entries or rows in the select's order and decodes only the records it
    /// returns (and, for `total`, counts without decoding).
    async fn select(&self, select: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError>;

    /// The non-empty board cells of an account type's leads, in key order
    /// (see [`tally::board_cells_of`]). Backends keep them counted in the
    /// same transaction as the leads, so this reads cells, never leads.
    async fn board_cells(&self, account_type: &Code) -> Result<Vec<BoardCell>, StoreError>;

    /// A grouped count (SQL `GROUP BY`; see [`tally::LeadTally::answer`],
    /// [`tally::DealTally::answer`] and, over phase steps,
    /// [`tally::PhaseReachTally::answer`] and [`tally::PhaseTimeTally::answer`]):
    /// non-empty groups in key order.
    async fn tally(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError>;

    /// The history of one entity, by version.
    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Events with sequence greater than `after`, ascending, at most `limit`.
    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError>;

    /// `count` fresh, consecutive lead numbers (at least 1 is reserved when
    /// `count` is 0): the first of them. No other call returns any of them,
    /// so an import reserves a whole batch in one round trip.
    async fn reserve_lead_numbers(&self, count: u64) -> Result<u64, StoreError>;

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
    async fn select(&self, select: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError> {
        (**self).select(select, page).await
    }
    async fn board_cells(&self, account_type: &Code) -> Result<Vec<BoardCell>, StoreError> {
        (**self).board_cells(account_type).await
    }
    async fn tally(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError> {
        (**self).tally(tally).await
    }
    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        (**self).history(entity).await
    }
    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        (**self).events_since(after, limit).await
    }
    async fn reserve_lead_numbers(&self, count: u64) -> Result<u64, StoreError> {
        (**self).reserve_lead_numbers(count).await
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
    /// One fresh lead number.
    async fn next_lead_number(&self) -> Result<u64, StoreError> {
        self.reserve_lead_numbers(1).await
    }

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

    /// Every record a select names, page after page (for lists that are
    /// small by nature: one lead's deals, one timeline).
    async fn select_all(&self, select: &Select) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        let mut page = PageRequest::all();
        loop {
            let got = self.select(select, &page).await?;
            out.extend(got.items);
            match got.next {
                Some(next) => page.after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// One page of leads.
    async fn leads(
        &self,
        filter: &LeadFilter,
        order: &LeadOrder,
        page: &PageRequest,
    ) -> Result<Page<Lead>, StoreError> {
        let select = Select::Leads {
            filter: filter.clone(),
            order: order.clone(),
        };
        let got = self.select(&select, page).await?;
        typed_page(got, |r| match r {
            Record::Lead(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// How many leads match a filter.
    async fn count_leads(&self, filter: &LeadFilter) -> Result<u64, StoreError> {
        let page = PageRequest {
            limit: 0,
            total: true,
            after: None,
        };
        Ok(self
            .leads(filter, &LeadOrder::default(), &page)
            .await?
            .total
            .unwrap_or(0))
    }

    /// The lead with this number.
    async fn lead_by_number(&self, number: u64) -> Result<Option<Lead>, StoreError> {
        let filter = LeadFilter {
            number: Some(number),
            ..LeadFilter::default()
        };
        let page = self
            .leads(&filter, &LeadOrder::default(), &PageRequest::first(1))
            .await?;
        Ok(page.items.into_iter().next())
    }

    /// One page of deals in an order.
    async fn deals(&self, filter: &DealFilter, order: DealOrder, page: &PageRequest) -> Result<Page<Deal>, StoreError> {
        let select = Select::Deals {
            filter: filter.clone(),
            order,
        };
        let got = self.select(&select, page).await?;
        typed_page(got, |r| match r {
            Record::Deal(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// The deals created from a lead, by id.
    async fn deals_of_lead(&self, lead: LeadId) -> Result<Vec<Deal>, StoreError> {
        let filter = DealFilter {
            lead: Some(lead),
            ..DealFilter::default()
        };
        let all = self
            .select_all(&Select::Deals {
                filter,
                order: DealOrder::default(),
            })
            .await?;
        records_as(all, |r| match r {
            Record::Deal(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// One page of customers, by id.
    async fn customers(&self, filter: &CustomerFilter, page: &PageRequest) -> Result<Page<Customer>, StoreError> {
        let got = self.select(&Select::Customers { filter: filter.clone() }, page).await?;
        typed_page(got, |r| match r {
            Record::Customer(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// Customers by id, the first `limit` after `after`.
    async fn list_customers(&self, after: Option<CustomerId>, limit: usize) -> Result<Vec<Customer>, StoreError> {
        let page = PageRequest {
            after: after.map(|id| Cursor::new(0, id.0)),
            limit,
            total: false,
        };
        Ok(self.customers(&CustomerFilter::default(), &page).await?.items)
    }

    /// Customers whose normalized e-mail equals `email`, by id.
    async fn customers_by_email(&self, email: &str) -> Result<Vec<Customer>, StoreError> {
        let filter = CustomerFilter {
            email: Some(email.to_owned()),
            ..CustomerFilter::default()
        };
        let all = self.select_all(&Select::Customers { filter }).await?;
        records_as(all, |r| match r {
            Record::Customer(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// Customers whose E.164 phone equals `e164`, by id.
    async fn customers_by_phone(&self, e164: &str) -> Result<Vec<Customer>, StoreError> {
        let filter = CustomerFilter {
            phone: Some(e164.to_owned()),
            ..CustomerFilter::default()
        };
        let all = self.select_all(&Select::Customers { filter }).await?;
        records_as(all, |r| match r {
            Record::Customer(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// Activities on a lead's or deal's timeline, oldest first.
    async fn activities(&self, subject: Subject) -> Result<Vec<Activity>, StoreError> {
        let all = self.select_all(&Select::Activities { subject }).await?;
        records_as(all, |r| match r {
            Record::Activity(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// Follow-ups of a lead or deal, by due date.
    async fn follow_ups(&self, subject: Subject) -> Result<Vec<FollowUp>, StoreError> {
        let all = self.select_all(&Select::FollowUps { subject }).await?;
        records_as(all, |r| match r {
            Record::FollowUp(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// One page of communications, by arrival.
    async fn communications(
        &self,
        filter: &CommunicationFilter,
        page: &PageRequest,
    ) -> Result<Page<Communication>, StoreError> {
        let got = self
            .select(&Select::Communications { filter: filter.clone() }, page)
            .await?;
        typed_page(got, |r| match r {
            Record::Communication(x) => Ok(x),
            other => Err(other.entity()),
        })
    }

    /// Communications attached to a lead, oldest first.
    async fn communications_of(&self, lead: LeadId) -> Result<Vec<Communication>, StoreError> {
        let filter = CommunicationFilter {
            lead: Some(lead),
            ..CommunicationFilter::default()
        };
        let all = self.select_all(&Select::Communications { filter }).await?;
        records_as(all, |r| match r {
            Record::Communication(x) => Ok(x),
            other => Err(other.entity()),
        })
    }
}

/// Converts a page of records to their type (see [`records_as`]).
fn typed_page<T>(page: Page<Record>, pick: fn(Record) -> Result<T, EntityRef>) -> Result<Page<T>, StoreError> {
    let Page { items, next, total } = page;
    Ok(Page {
        items: records_as(items, pick)?,
        next,
        total,
    })
}

/// Converts the records of a select to their type; a record of another kind
/// means the backend answered wrongly, reported as corrupt.
fn records_as<T>(records: Vec<Record>, pick: fn(Record) -> Result<T, EntityRef>) -> Result<Vec<T>, StoreError> {
    records
        .into_iter()
        .map(|r| {
            pick(r).map_err(|other| StoreError::Corrupt {
                what: other.to_string(),
                message: "a select returned a record of another kind".into(),
            })
        })
        .collect()
}

impl<T: Store + ?Sized> StoreExt for T {}
