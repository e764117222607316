//! The query side of duplicates and inbound calls and e-mails (seeds 003,
//! 004): duplicate groups over the whole store, and the ranked candidates for
//! an inbound communication. The commands that act on them (merge, attach,
//! create a lead from, ignore) are in [`crate::commands`].

use serde::{Deserialize, Serialize};

use crate::domain::customer::Customer;
use crate::domain::entity::EntityRef;
use crate::domain::ids::{CommunicationId, LeadId};
use crate::domain::lead::Lead;
use crate::engine::Engine;
use crate::engine::scope::{customers_sharing_contact, leads_sharing_contact};
use crate::engine::{board, scope};
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::rules::matching::open_matches;
use crate::store::query::company_contact_key;
use crate::store::tally::{LeadGroup, LeadTally, Tally};
use crate::store::{LeadFilter, LeadOrder, PageRequest, StoreExt};

/// What makes two leads duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DuplicateKey {
    /// The same normalized e-mail.
    Email,
    /// The same phone (E.164).
    Phone,
    /// The same company and contact name, compared without case and extra
    /// white space ([`company_contact_key`]).
    CompanyContact,
}

impl DuplicateKey {
    /// Every key, the default of [`Engine::duplicates`](crate::Engine::duplicates).
    pub const ALL: [DuplicateKey; 3] = [Self::Email, Self::Phone, Self::CompanyContact];
}

/// Open leads that share one e-mail, phone, or company and contact name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DuplicateGroup {
    /// What they share.
    pub key: DuplicateKey,
    /// The shared value.
    pub value: String,
    /// How many open leads share it.
    pub count: u64,
    /// The first of them, by number (at most [`GROUP_LEADS`]).
    pub leads: Vec<Lead>,
}

/// Leads listed per duplicate group.
pub const GROUP_LEADS: usize = 20;

/// Who an inbound communication may be from, best first: open leads with the
/// sender's e-mail or phone (the ones to attach to), then closed ones, then
/// customers with that e-mail or phone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommunicationMatches {
    /// Open leads, by number.
    pub open_leads: Vec<Lead>,
    /// Closed leads (converted, disqualified, merged, or in a closing phase), by number.
    pub closed_leads: Vec<Lead>,
    /// Customers, by id.
    pub customers: Vec<Customer>,
}

impl Engine {
    /// Existing customers matching a lead's normalized e-mail or phone: the
    /// candidates Qualify proposes to link.
    pub async fn customer_candidates(&self, actor: &Actor, lead: LeadId) -> Result<Vec<Customer>, Error> {
        let lead = self.lead(actor, lead).await?;
        customers_sharing_contact(&*self.store, &lead).await
    }

    /// Open leads that duplicate a lead by any [`DuplicateKey`]: the same
    /// normalized e-mail, phone, or company and contact name; by number.
    /// Closed leads (converted, disqualified, merged, or in a closing phase)
    /// are never proposed, nor leads the actor does not see.
    pub async fn duplicates(&self, actor: &Actor, lead: LeadId) -> Result<Vec<Lead>, Error> {
        self.duplicates_by(actor, lead, &DuplicateKey::ALL).await
    }

    /// [`Engine::duplicates`] by the keys given (e.g. only the e-mail).
    pub async fn duplicates_by(&self, actor: &Actor, lead: LeadId, keys: &[DuplicateKey]) -> Result<Vec<Lead>, Error> {
        let (config, _) = self.config().await?;
        let lead = self.lead(actor, lead).await?;
        let visible = access::visible(actor, &config);
        let mut found = Vec::new();
        for key in keys {
            let filter = match key {
                DuplicateKey::Email => lead.email.as_ref().map(|e| LeadFilter {
                    email: Some(e.as_str().to_owned()),
                    ..LeadFilter::default()
                }),
                DuplicateKey::Phone => lead.phone.as_ref().map(|p| LeadFilter {
                    phone: Some(p.key().to_owned()),
                    ..LeadFilter::default()
                }),
                DuplicateKey::CompanyContact => company_contact_key(&lead).map(|k| LeadFilter {
                    company_contact: Some(k),
                    ..LeadFilter::default()
                }),
            };
            if let Some(mut filter) = filter {
                filter.visible = visible.clone();
                found.extend(scope::leads_matching(&*self.store, &filter).await?);
            }
        }
        found.sort_by_key(|l| l.number);
        found.dedup_by_key(|l| l.id);
        Ok(open_matches(&config, found, Some(lead.id)))
    }

    /// Every group of open leads that share an e-mail (a phone, or a company
    /// and contact name), largest
    /// first, then by value: one grouped count over the whole store, then one
    /// indexed list per group. Only the leads the actor sees are grouped.
    pub async fn duplicate_groups(&self, actor: &Actor, key: DuplicateKey) -> Result<Vec<DuplicateGroup>, Error> {
        let (config, _) = self.config().await?;
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
            visible: access::visible(actor, &config),
            ..LeadFilter::default()
        };
        let by = match key {
            DuplicateKey::Email => LeadGroup::Email,
            DuplicateKey::Phone => LeadGroup::Phone,
            DuplicateKey::CompanyContact => LeadGroup::CompanyContact,
        };
        let tally = Tally::Leads(LeadTally {
            filter: open.clone(),
            by: vec![by],
        });
        let mut rows: Vec<(u64, String)> = self
            .store
            .tally(&tally)
            .await?
            .into_iter()
            .filter(|r| r.count > 1)
            .filter_map(|r| r.key.into_iter().next().flatten().map(|v| (r.count, v)))
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut out = Vec::with_capacity(rows.len());
        for (count, value) in rows {
            let mut filter = open.clone();
            match key {
                DuplicateKey::Email => filter.email = Some(value.clone()),
                DuplicateKey::Phone => filter.phone = Some(value.clone()),
                DuplicateKey::CompanyContact => filter.company_contact = Some(value.clone()),
            }
            let page = self
                .store
                .leads(&filter, &LeadOrder::default(), &PageRequest::first(GROUP_LEADS))
                .await?;
            out.push(DuplicateGroup {
                key,
                value,
                count,
                leads: page.items,
            });
        }
        Ok(out)
    }

    /// Who an inbound communication may be from, ranked: open leads with its
    /// e-mail or phone, then closed ones, then customers. The inbox is
    /// shared; the leads proposed are those the actor sees.
    pub async fn communication_matches(
        &self,
        actor: &Actor,
        id: CommunicationId,
    ) -> Result<CommunicationMatches, Error> {
        let (config, _) = self.config().await?;
        let visible = access::visible(actor, &config);
        let communication = self
            .store
            .communication(id)
            .await?
            .ok_or(Error::NotFound(EntityRef::communication(id)))?;
        let leads = leads_sharing_contact(
            &*self.store,
            communication.from_email.as_ref(),
            communication.from_phone.as_ref(),
        )
        .await?
        .into_iter()
        .filter(|l| access::sees_lead(visible.as_ref(), l))
        .collect::<Vec<_>>();
        let (closed_leads, open_leads): (Vec<Lead>, Vec<Lead>) = leads.into_iter().partition(|l| l.is_closed(&config));
        let mut customers = Vec::new();
        if let Some(e) = &communication.from_email {
            customers.extend(self.store.customers_by_email(e.as_str()).await?);
        }
        if let Some(p) = &communication.from_phone {
            customers.extend(self.store.customers_by_phone(p.key()).await?);
        }
        customers.sort_by_key(|c| c.id);
        customers.dedup_by_key(|c| c.id);
        Ok(CommunicationMatches {
            open_leads,
            closed_leads,
            customers,
        })
    }
}
