//! [`Scope`]: what one decision of a command sees. It loads records from the
//! store and remembers what it read (record versions, lookup-key versions),
//! so the commit is guarded against anything that changed meanwhile.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Communication, FollowUp, Subject};
use crate::domain::config::{Config, ConfigError, ConfigItem, ItemInUse};
use crate::domain::contact::{Email, Phone};
use crate::domain::customer::Customer;
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::ids::{CommunicationId, CustomerId, DealId, FollowUpId, LeadId};
use crate::domain::input::NewLead;
use crate::domain::lead::{ExternalRef, Lead};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::machine::{LeadError, LeadLinks};
use crate::rules::{Ctx, DealLead, LeadBelongings, SubjectRecord};
use crate::store::error::StoreError;
use crate::store::record::{Entity, Record, lookup};
use crate::store::uow::Guard;
use crate::store::{DealFilter, DealOrder, LeadFilter, LeadOrder, PageRequest, Store, StoreExt};

/// What a command's decision sees: the actor, the time, the configuration
/// in force, and a store to load from. Built by the [`Engine`](crate::Engine)
/// for each attempt; every load is remembered and guards the commit.
pub struct Scope<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) actor: &'a Actor,
    pub(crate) now: DateTime<Utc>,
    /// The stored configuration and its version, if any.
    pub(crate) config: Option<&'a (Config, u64)>,
    guards: Mutex<Vec<Guard>>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("actor", &self.actor)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        store: &'a dyn Store,
        actor: &'a Actor,
        now: DateTime<Utc>,
        config: Option<&'a (Config, u64)>,
    ) -> Self {
        Self {
            store,
            actor,
            now,
            config,
            guards: Mutex::new(Vec::new()),
        }
    }

    /// The rule context of command `action`; refuses when no configuration is stored.
    pub(crate) fn ctx(&self, action: &'static str) -> Result<Ctx<'_>, Error> {
        let (config, _) = self.config.ok_or(ConfigError::Missing)?;
        Ok(Ctx {
            actor: self.actor,
            config,
            now: self.now,
            action,
        })
    }

    /// Everything read, to guard the commit with.
    pub(crate) fn into_guards(self) -> Vec<Guard> {
        self.guards
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, guards: impl IntoIterator<Item = Guard>) {
        self.guards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(guards);
    }

    fn remember(&self, record: impl Into<Record>) {
        let record = record.into();
        self.push([Guard::Record {
            entity: record.entity(),
            version: record.version(),
        }]);
    }

    /// A record the decision needs: remembered when found, `NotFound` otherwise.
    fn found<T: Entity>(&self, record: Option<T>, entity: EntityRef) -> Result<T, Error> {
        let record = record.ok_or(Error::NotFound(entity))?;
        self.remember(record.clone());
        Ok(record)
    }

    /// A record that may be missing; remembered when found.
    fn maybe<T: Entity>(&self, record: Option<T>) -> Option<T> {
        if let Some(r) = &record {
            self.remember(r.clone());
        }
        record
    }

    /// Reads the versions of lookup keys. Called before the query the keys
    /// cover: a write between the two then fails the guard (a needless re-run,
    /// never a missed change).
    async fn keys(&self, keys: Vec<String>) -> Result<(), StoreError> {
        let versions = self.store.lookup_versions(&keys).await?;
        self.push(
            keys.into_iter()
                .zip(versions)
                .map(|(key, version)| Guard::Key { key, version }),
        );
        Ok(())
    }

    /// The lead with this external reference, if one has it; the reference's
    /// lookup key guards the answer.
    pub(crate) async fn lead_with_ref(&self, reference: &ExternalRef) -> Result<Option<Lead>, Error> {
        let key = reference.key();
        self.keys(vec![lookup::lead_ref(&key)]).await?;
        let found = lead_with_ref_key(self.store, &key).await?;
        Ok(self.maybe(found))
    }

    /// Refuses a new lead whose external reference another lead has.
    pub(crate) async fn ref_is_free(&self, lead: &NewLead) -> Result<(), Error> {
        let Some(reference) = &lead.external_ref else {
            return Ok(());
        };
        match self.lead_with_ref(reference).await? {
            None => Ok(()),
            Some(taken) => Err(LeadError::ExternalRefTaken {
                external_ref: reference.key(),
                number: taken.number,
            }
            .into()),
        }
    }

    pub(crate) async fn lead(&self, id: LeadId) -> Result<Lead, Error> {
        self.found(self.store.lead(id).await?, EntityRef::lead(id))
    }

    pub(crate) async fn deal(&self, id: DealId) -> Result<Deal, Error> {
        self.found(self.store.deal(id).await?, EntityRef::deal(id))
    }

    pub(crate) async fn customer(&self, id: CustomerId) -> Result<Customer, Error> {
        self.found(self.store.customer(id).await?, EntityRef::customer(id))
    }

    /// A customer that may be missing (the rule decides what that means).
    pub(crate) async fn maybe_customer(&self, id: CustomerId) -> Result<Option<Customer>, Error> {
        Ok(self.maybe(self.store.customer(id).await?))
    }

    pub(crate) async fn communication(&self, id: CommunicationId) -> Result<Communication, Error> {
        self.found(self.store.communication(id).await?, EntityRef::communication(id))
    }

    pub(crate) async fn follow_up(&self, id: FollowUpId) -> Result<FollowUp, Error> {
        self.found(self.store.follow_up(id).await?, EntityRef::follow_up(id))
    }

    /// The lead or deal a timeline item belongs to.
    pub(crate) async fn subject(&self, subject: Subject) -> Result<SubjectRecord, Error> {
        Ok(match subject {
            Subject::Lead(id) => SubjectRecord::Lead(self.lead(id).await?),
            Subject::Deal(id) => SubjectRecord::Deal(self.deal(id).await?),
        })
    }

    /// A lead's deals, guarded against a deal added or changed meanwhile.
    pub(crate) async fn lead_deals(&self, lead: &Lead) -> Result<Vec<Deal>, Error> {
        self.keys(vec![lookup::lead_deals(lead.id)]).await?;
        Ok(self.store.deals_of_lead(lead.id).await?)
    }

    /// The lead a communication is linked to now, if any.
    pub(crate) async fn communication_source(&self, c: &Communication) -> Result<Option<Lead>, Error> {
        match c.lead {
            Some(id) => Ok(Some(self.lead(id).await?)),
            None => Ok(None),
        }
    }

    /// The deal's lead, and whether another deal of that lead is won.
    pub(crate) async fn deal_lead(&self, deal: &Deal) -> Result<(Option<Lead>, bool), Error> {
        let Some(lead_id) = deal.lead else {
            return Ok((None, false));
        };
        self.keys(vec![lookup::lead_deals(lead_id)]).await?;
        let lead = self.maybe(self.store.lead(lead_id).await?);
        let other_won = self
            .store
            .deals_of_lead(lead_id)
            .await?
            .iter()
            .any(|d| d.id != deal.id && d.status == DealStatus::Won);
        Ok((lead, other_won))
    }

    /// Runs `rule` with the deal's lead link loaded.
    pub(crate) async fn with_deal_lead<T>(
        &self,
        deal: &Deal,
        rule: impl FnOnce(DealLead<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (lead, other_won) = self.deal_lead(deal).await?;
        rule(DealLead {
            lead: lead.as_ref(),
            other_won,
        })
    }

    /// What is linked to a lead in the store (for delete; the rule adds the
    /// lead's own documents), guarded.
    pub(crate) async fn lead_links(&self, lead: &Lead) -> Result<LeadLinks, Error> {
        let subject = Subject::Lead(lead.id);
        self.keys(vec![lookup::lead_deals(lead.id), lookup::timeline(subject)])
            .await?;
        Ok(LeadLinks {
            documents: Vec::new(),
            deals: self.store.deals_of_lead(lead.id).await?.iter().map(|d| d.id).collect(),
            communications: self
                .store
                .communications_of(lead.id)
                .await?
                .iter()
                .map(|c| c.id)
                .collect(),
            activities: self.store.activities(subject).await?.iter().map(|a| a.id).collect(),
            follow_ups: self.store.follow_ups(subject).await?.iter().map(|f| f.id).collect(),
        })
    }

    /// What moves with a lead when it is merged, guarded against a deal or
    /// timeline item added or changed meanwhile.
    pub(crate) async fn lead_belongings(&self, lead: &Lead) -> Result<LeadBelongings, Error> {
        let subject = Subject::Lead(lead.id);
        self.keys(vec![lookup::lead_deals(lead.id), lookup::timeline(subject)])
            .await?;
        Ok(LeadBelongings {
            deals: self.store.deals_of_lead(lead.id).await?,
            activities: self.store.activities(subject).await?,
            follow_ups: self.store.follow_ups(subject).await?,
            communications: self.store.communications_of(lead.id).await?,
        })
    }

    /// The leads whose normalized e-mail or phone equals one of these, by
    /// number, each once; guarded against a lead gaining or losing one.
    pub(crate) async fn leads_sharing_contact(
        &self,
        email: Option<&Email>,
        phone: Option<&Phone>,
    ) -> Result<Vec<Lead>, Error> {
        self.keys(lookup::leads_by_contact(email, phone)).await?;
        leads_sharing_contact(self.store, email, phone).await
    }

    /// The customers whose normalized e-mail or phone equals the lead's: the
    /// candidates Qualify proposes to link; guarded.
    pub(crate) async fn customers_sharing_contact(&self, lead: &Lead) -> Result<Vec<Customer>, Error> {
        self.keys(lookup::customers_by_contact(lead.email.as_ref(), lead.phone.as_ref()))
            .await?;
        customers_sharing_contact(self.store, lead).await
    }

    /// What still uses a configuration item that a change removes.
    pub(crate) async fn config_usage(&self, item: &ConfigItem) -> Result<Option<ItemInUse>, Error> {
        let mut lf = LeadFilter::default();
        let mut df = DealFilter::default();
        let (mut leads, mut deals) = (true, false);
        match item {
            ConfigItem::AccountType { code } => lf.account_type = Some(code.clone()),
            ConfigItem::Phase { phase } => lf.phase = Some(phase.clone()),
            ConfigItem::ClosingReason { code } => lf.closing_reason = Some(code.clone()),
            ConfigItem::LostReason { code } => {
                lf.lost_reason = Some(code.clone());
                df.lost_reason = Some(code.clone());
                deals = true;
            }
            ConfigItem::Source { code } => lf.source = Some(code.clone()),
            ConfigItem::Priority { code } => lf.priority = Some(code.clone()),
            ConfigItem::Tag { code } => {
                lf.tags.insert(code.clone());
            }
            ConfigItem::CustomField { name } => lf.has_custom = Some(name.clone()),
            ConfigItem::Stage { pipeline, stage } => {
                df.pipeline = Some(pipeline.clone());
                df.stage = Some(stage.clone());
                (leads, deals) = (false, true);
            }
            ConfigItem::Pipeline { code } => {
                df.pipeline = Some(code.clone());
                (leads, deals) = (false, true);
            }
        }
        let mut used = ItemInUse {
            item: item.clone(),
            leads: 0,
            deals: 0,
            lead_examples: Vec::new(),
            deal_examples: Vec::new(),
        };
        if leads {
            let page = PageRequest {
                limit: 3,
                total: true,
                after: None,
            };
            let found = self.store.leads(&lf, &LeadOrder::default(), &page).await?;
            used.leads = found.total.unwrap_or(0);
            used.lead_examples = found.items.iter().map(|l| l.number).collect();
        }
        if deals {
            let page = PageRequest {
                limit: 3,
                total: true,
                after: None,
            };
            let found = self.store.deals(&df, DealOrder::default(), &page).await?;
            used.deals = found.total.unwrap_or(0);
            used.deal_examples = found.items.iter().map(|d| d.id).collect();
        }
        Ok((used.leads + used.deals > 0).then_some(used))
    }
}

/// The lead with this external reference key (`system:id`), if any.
pub(crate) async fn lead_with_ref_key(store: &dyn Store, key: &str) -> Result<Option<Lead>, Error> {
    let filter = LeadFilter {
        external_ref: Some(key.to_owned()),
        ..LeadFilter::default()
    };
    Ok(leads_matching(store, &filter).await?.into_iter().next())
}

/// Every lead a filter matches (for sets small by nature: one contact's leads).
pub(crate) async fn leads_matching(store: &dyn Store, filter: &LeadFilter) -> Result<Vec<Lead>, Error> {
    let mut out = Vec::new();
    let mut page = PageRequest::all();
    loop {
        let got = store.leads(filter, &LeadOrder::default(), &page).await?;
        out.extend(got.items);
        match got.next {
            Some(next) => page.after = Some(next),
            None => return Ok(out),
        }
    }
}

/// The leads with this normalized e-mail or phone, by number, each once.
pub(crate) async fn leads_sharing_contact(
    store: &dyn Store,
    email: Option<&Email>,
    phone: Option<&Phone>,
) -> Result<Vec<Lead>, Error> {
    let mut found = Vec::new();
    if let Some(e) = email {
        let filter = LeadFilter {
            email: Some(e.as_str().to_owned()),
            ..LeadFilter::default()
        };
        found.extend(leads_matching(store, &filter).await?);
    }
    if let Some(p) = phone {
        let filter = LeadFilter {
            phone: Some(p.key().to_owned()),
            ..LeadFilter::default()
        };
        found.extend(leads_matching(store, &filter).await?);
    }
    found.sort_by_key(|l| l.number);
    found.dedup_by_key(|l| l.id);
    Ok(found)
}

/// The customers with the lead's normalized e-mail or phone, by id, each once.
pub(crate) async fn customers_sharing_contact(store: &dyn Store, lead: &Lead) -> Result<Vec<Customer>, Error> {
    let mut found = Vec::new();
    if let Some(e) = &lead.email {
        found.extend(store.customers_by_email(e.as_str()).await?);
    }
    if let Some(p) = &lead.phone {
        found.extend(store.customers_by_phone(p.key()).await?);
    }
    found.sort_by_key(|c| c.id);
    found.dedup_by_key(|c| c.id);
    Ok(found)
}
