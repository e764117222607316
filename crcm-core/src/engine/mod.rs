//! The [`Engine`]: the facade an application embeds. Each command loads what
//! its rule needs from the [`Store`], checks permission and runs the rule (both
//! in [`crate::rules`]), then commits entity writes, history and events as one
//! unit of work. A command that loses an optimistic-concurrency race is re-run
//! against fresh state, a bounded number of times.

pub mod command;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, ConfigItem};
use crate::domain::config::{ConfigError, ItemInUse};
use crate::domain::customer::Customer;
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{CustomerId, DealId, LeadId};
use crate::domain::input::{CustomerChoice, DealDraft, LeadPatch, NewLead};
use crate::domain::lead::Lead;
use crate::engine::command::{Command, CommandOutput};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::{self, Ctx, DealLead, LeadLinks, SubjectRecord};
use crate::store::error::StoreError;
use crate::store::record::{Entity, Record, lookup};
use crate::store::uow::{Guard, UnitOfWork};
use crate::store::{CommitReceipt, DealFilter, FORMAT_VERSION, LeadFilter, Store, StoreExt};

/// Where the engine reads the time (replaceable for tests and simulations).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How many times a command is tried when it keeps losing concurrency races.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 16;

/// A command's output and what its commit reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Executed {
    /// The command's result.
    pub output: CommandOutput,
    /// The commit receipt; `None` when the command changed nothing.
    pub receipt: Option<CommitReceipt>,
    /// How many attempts it took (more than 1 after concurrency conflicts).
    pub attempts: u32,
}

/// The crcm engine over one store.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Clock,
    max_attempts: u32,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store.backend())
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Refusals that depend on what the store holds (as opposed to malformed
/// input or storage failures), and so are confirmed by a second decision.
fn rests_on_state(e: &Error) -> bool {
    matches!(
        e,
        Error::Lead(_) | Error::Phase(_) | Error::Deal(_) | Error::Permission(_) | Error::NotFound(_)
    )
}

/// What a command's decision read, to guard its commit with: the versions of
/// the records it loaded and of the lookup keys of the sets it queried.
#[derive(Debug, Default)]
struct Reads {
    guards: std::sync::Mutex<Vec<Guard>>,
}

impl Reads {
    fn push(&self, guards: impl IntoIterator<Item = Guard>) {
        self.guards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(guards);
    }

    /// A record the decision needs: guarded when found, `NotFound` otherwise.
    fn found<T: Entity>(&self, record: Option<T>, entity: EntityRef) -> Result<T, Error> {
        let record = record.ok_or_else(|| not_found(entity))?;
        self.record(record.clone());
        Ok(record)
    }

    fn record(&self, record: impl Into<Record>) {
        let record = record.into();
        self.push([Guard::Record {
            entity: record.entity(),
            version: record.version(),
        }]);
    }

    /// Reads the versions of lookup keys. Call it before the query the keys
    /// cover: a write between the two then fails the guard (a needless re-run,
    /// never a missed change).
    async fn keys(&self, store: &dyn Store, keys: Vec<String>) -> Result<(), StoreError> {
        let versions = store.lookup_versions(&keys).await?;
        self.push(
            keys.into_iter()
                .zip(versions)
                .map(|(key, version)| Guard::Key { key, version }),
        );
        Ok(())
    }

    fn take(self) -> Vec<Guard> {
        self.guards
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn not_found(entity: EntityRef) -> Error {
    Error::NotFound(entity)
}

impl Engine {
    /// An engine over `store`. Refuses a store written by a newer crcm.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self, Error> {
        let found = store.format_version().await?;
        if found > FORMAT_VERSION {
            return Err(StoreError::FormatTooNew {
                found,
                supported: FORMAT_VERSION,
            }
            .into());
        }
        Ok(Self {
            store,
            clock: Arc::new(Utc::now),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        })
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets how many attempts a command gets under contention (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration in force and its version.
    pub async fn config(&self) -> Result<(Config, u64), Error> {
        self.store.config().await?.ok_or_else(|| ConfigError::Missing.into())
    }

    /// Runs a command and returns its output.
    pub async fn execute(&self, actor: &Actor, command: Command) -> Result<CommandOutput, Error> {
        self.execute_detailed(actor, command).await.map(|e| e.output)
    }

    /// Runs a command and reports its commit. On a concurrency conflict the
    /// command is re-run against fresh state (every rule is checked again),
    /// up to the configured number of attempts; a configuration change is not
    /// re-run, because it was prepared against a version the caller saw.
    ///
    /// A refusal that rests on stored state (a lead already qualified, links
    /// that block a delete, ...) is returned only after a second decision over
    /// fresh reads gives the same refusal, so a command that raced another
    /// writer is not refused for a state that never existed as a whole.
    pub async fn execute_detailed(&self, actor: &Actor, command: Command) -> Result<Executed, Error> {
        let retry_safe = !matches!(command, Command::SetConfig { .. });
        let mut attempts = 0;
        let mut refused: Option<String> = None;
        loop {
            attempts += 1;
            let now = (self.clock)();
            let reads = Reads::default();
            let (uow, output) = match self.decide(actor, &command, now, &reads).await {
                Ok((mut uow, output)) => {
                    uow.guard(reads.take());
                    (uow, output)
                }
                // A refusal may rest on reads that straddle another writer's
                // commit (the lead read before it, the customers after it). It
                // is final once a second decision over fresh reads agrees.
                Err(e) if retry_safe && rests_on_state(&e) && attempts < self.max_attempts => {
                    let text = e.to_string();
                    if refused.as_ref() == Some(&text) {
                        return Err(e);
                    }
                    refused = Some(text);
                    continue;
                }
                Err(e) => return Err(e),
            };
            refused = None;
            if uow.is_empty() {
                return Ok(Executed {
                    output,
                    receipt: None,
                    attempts,
                });
            }
            match self.store.commit(uow).await {
                Ok(receipt) => {
                    return Ok(Executed {
                        output,
                        receipt: Some(receipt),
                        attempts,
                    });
                }
                Err(e) if e.is_conflict() && retry_safe && attempts < self.max_attempts => {
                    tracing::debug!(
                        command = command.name(),
                        attempts,
                        "conflict; retrying against fresh state"
                    );
                    // Back off a little more each time so racing writers spread out.
                    for _ in 0..attempts * 4 {
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn load_lead(&self, id: LeadId, reads: &Reads) -> Result<Lead, Error> {
        reads.found(self.store.lead(id).await?, EntityRef::lead(id))
    }

    async fn load_deal(&self, id: DealId, reads: &Reads) -> Result<Deal, Error> {
        reads.found(self.store.deal(id).await?, EntityRef::deal(id))
    }

    async fn load_customer(&self, id: CustomerId, reads: &Reads) -> Result<Customer, Error> {
        reads.found(self.store.customer(id).await?, EntityRef::customer(id))
    }

    async fn load_communication(
        &self,
        id: crate::domain::ids::CommunicationId,
        reads: &Reads,
    ) -> Result<Communication, Error> {
        reads.found(self.store.communication(id).await?, EntityRef::communication(id))
    }

    /// A lead's deals, guarded against a deal added or changed meanwhile.
    async fn lead_deals(&self, lead: &Lead, reads: &Reads) -> Result<Vec<Deal>, Error> {
        reads.keys(&*self.store, vec![lookup::lead_deals(lead.id)]).await?;
        Ok(self.store.deals_of_lead(lead.id).await?)
    }

    /// The lead a communication is linked to now, if any.
    async fn communication_source(&self, c: &Communication, reads: &Reads) -> Result<Option<Lead>, Error> {
        match c.lead {
            Some(id) => Ok(Some(self.load_lead(id, reads).await?)),
            None => Ok(None),
        }
    }

    /// The deal's lead, and whether another deal of that lead is won.
    async fn deal_link(&self, deal: &Deal, reads: &Reads) -> Result<(Option<Lead>, bool), Error> {
        let Some(lead_id) = deal.lead else {
            return Ok((None, false));
        };
        reads.keys(&*self.store, vec![lookup::lead_deals(lead_id)]).await?;
        let lead = self.store.lead(lead_id).await?;
        if let Some(l) = &lead {
            reads.record(l.clone());
        }
        let other_won = self
            .store
            .deals_of_lead(lead_id)
            .await?
            .iter()
            .any(|d| d.id != deal.id && d.status == DealStatus::Won);
        Ok((lead, other_won))
    }

    async fn subject(&self, subject: Subject, reads: &Reads) -> Result<SubjectOwned, Error> {
        Ok(match subject {
            Subject::Lead(id) => SubjectOwned::Lead(self.load_lead(id, reads).await?),
            Subject::Deal(id) => SubjectOwned::Deal(self.load_deal(id, reads).await?),
        })
    }

    /// Loads what the command's rule needs and runs the rule.
    async fn decide(
        &self,
        actor: &Actor,
        command: &Command,
        now: DateTime<Utc>,
        reads: &Reads,
    ) -> Result<(UnitOfWork, CommandOutput), Error> {
        if let Command::SetConfig {
            config,
            expected_version,
        } = command
        {
            return self.decide_config(actor, config, *expected_version, now).await;
        }
        let (config, _) = self.config().await?;
        let ctx = Ctx {
            actor,
            config: &config,
            now,
        };
        let lead_out = |(uow, lead): (UnitOfWork, Lead)| (uow, CommandOutput::Lead { lead: Box::new(lead) });
        let deal_out = |c: rules::DealChanged| {
            (
                c.uow,
                CommandOutput::Deal {
                    deal: Box::new(c.deal),
                    lead: c.lead.map(Box::new),
                },
            )
        };
        Ok(match command {
            Command::SetConfig { .. } => return Err(Error::Internal("set_config is handled above".to_owned())),
            Command::CreateLead { lead } => {
                if let Some(c) = lead.customer {
                    self.load_customer(c, reads).await?;
                }
                let prepared = rules::new_lead(&ctx, lead)?;
                let number = self.store.next_lead_number().await?;
                lead_out(rules::record_new_lead(&ctx, prepared, number, "create_lead"))
            }
            Command::UpdateLead { lead, patch } => {
                lead_out(rules::update_lead(&ctx, &self.load_lead(*lead, reads).await?, patch)?)
            }
            Command::SetLeadStatus { lead, status } => {
                lead_out(rules::set_status(&ctx, &self.load_lead(*lead, reads).await?, *status)?)
            }
            Command::MoveLeadPhase {
                lead,
                phase,
                closing_reason,
                note,
            } => lead_out(rules::move_phase(
                &ctx,
                &self.load_lead(*lead, reads).await?,
                phase,
                closing_reason.as_ref(),
                note.as_deref(),
            )?),
            Command::SetClosingReason { lead, reason, note } => lead_out(rules::set_closing_reason(
                &ctx,
                &self.load_lead(*lead, reads).await?,
                reason,
                note.as_deref(),
            )?),
            Command::ChangeAccountType {
                lead,
                account_type,
                phase,
            } => lead_out(rules::change_account_type(
                &ctx,
                &self.load_lead(*lead, reads).await?,
                account_type,
                phase.as_ref(),
            )?),
            Command::QualifyLead { lead, customer, deal } => {
                let lead = self.load_lead(*lead, reads).await?;
                let existing = match (lead.customer, customer) {
                    (Some(id), _) | (None, &CustomerChoice::Link { customer: id }) => {
                        let found = self.store.customer(id).await?;
                        if let Some(c) = &found {
                            reads.record(c.clone());
                        }
                        found
                    }
                    _ => None,
                };
                // Only Auto decides on the matching customers.
                let candidates = if lead.customer.is_none() && matches!(customer, CustomerChoice::Auto) {
                    self.customer_candidates_of(&lead, reads).await?
                } else {
                    Vec::new()
                };
                let q = rules::qualify(&ctx, &lead, customer, existing.as_ref(), &candidates, deal)?;
                (
                    q.uow,
                    CommandOutput::Qualified {
                        lead: Box::new(q.lead),
                        customer: Box::new(q.customer),
                        deal: Box::new(q.deal),
                    },
                )
            }
            Command::OpenDeal { lead, pipeline, deal } => {
                let lead = self.load_lead(*lead, reads).await?;
                let (uow, deal) = rules::open_deal(&ctx, &lead, pipeline.as_ref(), deal)?;
                (
                    uow,
                    CommandOutput::Deal {
                        deal: Box::new(deal),
                        lead: None,
                    },
                )
            }
            Command::DisqualifyLead { lead, reason, note } => lead_out(rules::disqualify(
                &ctx,
                &self.load_lead(*lead, reads).await?,
                reason,
                note.as_deref(),
            )?),
            Command::ReopenLead { lead } => lead_out(rules::reopen(&ctx, &self.load_lead(*lead, reads).await?)?),
            Command::MergeLead { lead, into } => lead_out(rules::merge(
                &ctx,
                &self.load_lead(*lead, reads).await?,
                &self.load_lead(*into, reads).await?,
            )?),
            Command::ReassignLead { lead, owner } => {
                let lead = self.load_lead(*lead, reads).await?;
                let deals = self.lead_deals(&lead, reads).await?;
                lead_out(rules::reassign(&ctx, &lead, &deals, owner)?)
            }
            Command::SetLeadTeam { lead, team } => {
                let lead = self.load_lead(*lead, reads).await?;
                let deals = self.lead_deals(&lead, reads).await?;
                lead_out(rules::set_team(&ctx, &lead, &deals, team)?)
            }
            Command::DeleteLead { lead } => {
                let lead = self.load_lead(*lead, reads).await?;
                let subject = Subject::Lead(lead.id);
                let keys = vec![lookup::lead_deals(lead.id), lookup::timeline(subject)];
                reads.keys(&*self.store, keys).await?;
                let links = LeadLinks {
                    deals: self.store.deals_of_lead(lead.id).await?.len(),
                    communications: self.store.communications_of(lead.id).await?.len(),
                    timeline: self.store.activities(subject).await?.len() + self.store.follow_ups(subject).await?.len(),
                };
                let uow = rules::delete_lead(&ctx, &lead, &links)?;
                (uow, CommandOutput::Deleted { number: lead.number })
            }
            Command::LinkLeadDocument {
                lead,
                kind,
                external_id,
            } => {
                let lead = self.load_lead(*lead, reads).await?;
                let deals = self.lead_deals(&lead, reads).await?;
                lead_out(rules::link_lead_document(&ctx, &lead, &deals, *kind, external_id)?)
            }
            Command::MoveDealStage { deal, stage } => {
                let deal = self.load_deal(*deal, reads).await?;
                let (lead, other_won) = self.deal_link(&deal, reads).await?;
                let link = DealLead {
                    lead: lead.as_ref(),
                    other_won,
                };
                deal_out(rules::move_deal_stage(&ctx, &deal, stage, link)?)
            }
            Command::WinDeal { deal, stage } => {
                let deal = self.load_deal(*deal, reads).await?;
                let (lead, other_won) = self.deal_link(&deal, reads).await?;
                let link = DealLead {
                    lead: lead.as_ref(),
                    other_won,
                };
                deal_out(rules::win_deal(&ctx, &deal, stage.as_ref(), link)?)
            }
            Command::LoseDeal { deal, reason, note } => {
                let deal = self.load_deal(*deal, reads).await?;
                let (lead, other_won) = self.deal_link(&deal, reads).await?;
                let link = DealLead {
                    lead: lead.as_ref(),
                    other_won,
                };
                deal_out(rules::lose_deal(&ctx, &deal, reason, note.as_deref(), link)?)
            }
            Command::ReopenDeal { deal, stage } => {
                let deal = self.load_deal(*deal, reads).await?;
                let (lead, other_won) = self.deal_link(&deal, reads).await?;
                let link = DealLead {
                    lead: lead.as_ref(),
                    other_won,
                };
                deal_out(rules::reopen_deal(&ctx, &deal, stage.as_ref(), link)?)
            }
            Command::SetDealProbability { deal, probability } => deal_out(rules::set_deal_probability(
                &ctx,
                &self.load_deal(*deal, reads).await?,
                *probability,
            )?),
            Command::UpdateDeal { deal, patch } => {
                deal_out(rules::update_deal(&ctx, &self.load_deal(*deal, reads).await?, patch)?)
            }
            Command::LinkDealDocument {
                deal,
                kind,
                external_id,
            } => deal_out(rules::link_deal_document(
                &ctx,
                &self.load_deal(*deal, reads).await?,
                *kind,
                external_id,
            )?),
            Command::CreateCustomer { customer } => {
                let (uow, c) = rules::create_customer(&ctx, customer)?;
                (uow, CommandOutput::Customer { customer: Box::new(c) })
            }
            Command::AddContact { customer, contact } => {
                let (uow, c) = rules::add_contact(&ctx, &self.load_customer(*customer, reads).await?, contact)?;
                (uow, CommandOutput::Customer { customer: Box::new(c) })
            }
            Command::LogActivity {
                subject,
                kind,
                summary,
                body,
                occurred_at,
            } => {
                let s = self.subject(*subject, reads).await?;
                let (uow, a) = rules::log_activity(&ctx, s.as_record(), *kind, summary, body, *occurred_at)?;
                (uow, CommandOutput::Activity { activity: Box::new(a) })
            }
            Command::ScheduleFollowUp {
                subject,
                due,
                note,
                assignee,
            } => {
                let s = self.subject(*subject, reads).await?;
                let (uow, f) = rules::schedule_follow_up(&ctx, s.as_record(), *due, note, assignee.as_ref())?;
                (uow, CommandOutput::FollowUp { follow_up: Box::new(f) })
            }
            Command::CompleteFollowUp { follow_up } => {
                let f = self
                    .store
                    .follow_up(*follow_up)
                    .await?
                    .ok_or_else(|| not_found(EntityRef::follow_up(*follow_up)))?;
                let s = self.subject(f.subject, reads).await?;
                let (uow, f) = rules::complete_follow_up(&ctx, &f, s.as_record())?;
                (uow, CommandOutput::FollowUp { follow_up: Box::new(f) })
            }
            Command::ReceiveCommunication { communication } => {
                let (email, phone) = rules::communication_contacts(&config, communication)?;
                let keys = lookup::leads_by_contact(email.as_ref(), phone.as_ref());
                reads.keys(&*self.store, keys).await?;
                let mut matches = Vec::new();
                if let Some(e) = &email {
                    matches.extend(
                        self.leads_where(LeadFilter {
                            email: Some(e.to_string()),
                            ..LeadFilter::default()
                        })
                        .await?,
                    );
                }
                if let Some(p) = &phone {
                    matches.extend(
                        self.leads_where(LeadFilter {
                            phone: Some(p.e164.clone()),
                            ..LeadFilter::default()
                        })
                        .await?,
                    );
                }
                matches.sort_by_key(|l| l.number);
                matches.dedup_by_key(|l| l.id);
                let (uow, c) = rules::receive_communication(&ctx, communication, &matches)?;
                (
                    uow,
                    CommandOutput::Communication {
                        communication: Box::new(c),
                        lead: None,
                    },
                )
            }
            Command::AttachCommunication { communication, lead } => {
                let c = self.load_communication(*communication, reads).await?;
                let source = self.communication_source(&c, reads).await?;
                let lead = self.load_lead(*lead, reads).await?;
                let (uow, c) = rules::attach_communication(&ctx, &c, source.as_ref(), &lead)?;
                (
                    uow,
                    CommandOutput::Communication {
                        communication: Box::new(c),
                        lead: None,
                    },
                )
            }
            Command::CreateLeadFromCommunication { communication, lead } => {
                let c = self.load_communication(*communication, reads).await?;
                let source = self.communication_source(&c, reads).await?;
                let prepared = rules::new_lead_from_communication(&ctx, &c, source.as_ref(), lead)?;
                let number = self.store.next_lead_number().await?;
                let (uow, c, l) = rules::record_lead_from_communication(&ctx, &c, prepared, number);
                (
                    uow,
                    CommandOutput::Communication {
                        communication: Box::new(c),
                        lead: Some(Box::new(l)),
                    },
                )
            }
            Command::IgnoreCommunication { communication } => {
                let c = self.load_communication(*communication, reads).await?;
                let (uow, c) = rules::ignore_communication(&ctx, &c)?;
                (
                    uow,
                    CommandOutput::Communication {
                        communication: Box::new(c),
                        lead: None,
                    },
                )
            }
        })
    }

    async fn leads_where(&self, filter: LeadFilter) -> Result<Vec<Lead>, Error> {
        Ok(self.store.query_leads(&filter).await?)
    }

    async fn decide_config(
        &self,
        actor: &Actor,
        next: &Config,
        expected_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(UnitOfWork, CommandOutput), Error> {
        let current = self.store.config().await?;
        let mut in_use = Vec::new();
        if let Some((old, _)) = &current {
            for item in old.removed_items(next) {
                if let Some(use_) = self.usage(&item).await? {
                    in_use.push(use_);
                }
            }
        }
        let uow = rules::set_config(
            actor,
            now,
            current.as_ref().map(|(c, v)| (c, *v)),
            next,
            expected_version,
            in_use,
        )?;
        let version = uow.config.as_ref().map_or(0, |c| c.version);
        Ok((uow, CommandOutput::Config { version }))
    }

    /// What still uses a configuration item that a change removes.
    async fn usage(&self, item: &ConfigItem) -> Result<Option<ItemInUse>, Error> {
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
            ConfigItem::Tag { code } => lf.tag = Some(code.clone()),
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
        let mut count = 0;
        let mut examples = Vec::new();
        let mut what = Vec::new();
        if leads {
            let found = self.store.query_leads(&lf).await?;
            if !found.is_empty() {
                what.push("leads");
            }
            count += found.len();
            examples.extend(found.iter().take(3).map(|l| format!("lead {}", l.number)));
        }
        if deals {
            let found = self.store.query_deals(&df).await?;
            if !found.is_empty() {
                what.push("deals");
            }
            count += found.len();
            examples.extend(found.iter().take(3).map(|d| format!("deal {:?}", d.title)));
        }
        Ok((count > 0).then(|| rules::in_use(item, &what.join(" and "), count, examples)))
    }

    async fn customer_candidates_of(&self, lead: &Lead, reads: &Reads) -> Result<Vec<Customer>, Error> {
        let keys = lookup::customers_by_contact(lead.email.as_ref(), lead.phone.as_ref());
        reads.keys(&*self.store, keys).await?;
        let mut found = Vec::new();
        if let Some(e) = &lead.email {
            found.extend(self.store.customers_by_email(e.as_str()).await?);
        }
        if let Some(p) = &lead.phone {
            found.extend(self.store.customers_by_phone(p.key()).await?);
        }
        found.sort_by_key(|c| c.id);
        found.dedup_by_key(|c| c.id);
        Ok(found)
    }

    // ------------------------------------------------------------ typed commands

    /// Stores a configuration (manager). Returns the new version.
    pub async fn set_config(&self, actor: &Actor, config: Config, expected_version: Option<u64>) -> Result<u64, Error> {
        match self
            .execute(
                actor,
                Command::SetConfig {
                    config: Box::new(config),
                    expected_version,
                },
            )
            .await?
        {
            CommandOutput::Config { version } => Ok(version),
            other => Err(unexpected(&other)),
        }
    }

    /// Creates a lead.
    pub async fn create_lead(&self, actor: &Actor, lead: NewLead) -> Result<Lead, Error> {
        expect_lead(
            self.execute(actor, Command::CreateLead { lead: Box::new(lead) })
                .await?,
        )
    }

    /// Edits a lead.
    pub async fn update_lead(&self, actor: &Actor, lead: LeadId, patch: LeadPatch) -> Result<Lead, Error> {
        expect_lead(
            self.execute(
                actor,
                Command::UpdateLead {
                    lead,
                    patch: Box::new(patch),
                },
            )
            .await?,
        )
    }

    /// Sets New or Contacted.
    pub async fn set_lead_status(
        &self,
        actor: &Actor,
        lead: LeadId,
        status: crate::domain::lead::LeadStatus,
    ) -> Result<Lead, Error> {
        expect_lead(self.execute(actor, Command::SetLeadStatus { lead, status }).await?)
    }

    /// Moves a lead to a phase of its account type.
    pub async fn move_lead_phase(
        &self,
        actor: &Actor,
        lead: LeadId,
        phase: crate::domain::config::PhaseRef,
    ) -> Result<Lead, Error> {
        expect_lead(
            self.execute(
                actor,
                Command::MoveLeadPhase {
                    lead,
                    phase,
                    closing_reason: None,
                    note: None,
                },
            )
            .await?,
        )
    }

    /// Qualifies a lead; returns the lead, the customer and the new deal.
    pub async fn qualify_lead(
        &self,
        actor: &Actor,
        lead: LeadId,
        customer: CustomerChoice,
        deal: DealDraft,
    ) -> Result<(Lead, Customer, Deal), Error> {
        match self
            .execute(actor, Command::QualifyLead { lead, customer, deal })
            .await?
        {
            CommandOutput::Qualified { lead, customer, deal } => Ok((*lead, *customer, *deal)),
            other => Err(unexpected(&other)),
        }
    }

    /// Disqualifies a lead with a lost reason.
    pub async fn disqualify_lead(
        &self,
        actor: &Actor,
        lead: LeadId,
        reason: crate::domain::ids::Code,
        note: Option<String>,
    ) -> Result<Lead, Error> {
        expect_lead(
            self.execute(actor, Command::DisqualifyLead { lead, reason, note })
                .await?,
        )
    }

    /// Wins a deal; returns the deal and the converted lead.
    pub async fn win_deal(&self, actor: &Actor, deal: DealId) -> Result<(Deal, Option<Lead>), Error> {
        match self.execute(actor, Command::WinDeal { deal, stage: None }).await? {
            CommandOutput::Deal { deal, lead } => Ok((*deal, lead.map(|l| *l))),
            other => Err(unexpected(&other)),
        }
    }

    // ------------------------------------------------------------ reads

    /// A lead by id.
    pub async fn lead(&self, id: LeadId) -> Result<Lead, Error> {
        self.load_lead(id, &Reads::default()).await
    }

    /// A lead by its number.
    pub async fn lead_by_number(&self, number: u64) -> Result<Lead, Error> {
        self.store
            .lead_by_number(number)
            .await?
            .ok_or(Error::LeadNumberNotFound(number))
    }

    /// A deal by id.
    pub async fn deal(&self, id: DealId) -> Result<Deal, Error> {
        self.load_deal(id, &Reads::default()).await
    }

    /// A customer by id.
    pub async fn customer(&self, id: CustomerId) -> Result<Customer, Error> {
        self.load_customer(id, &Reads::default()).await
    }

    /// The deals created from a lead.
    pub async fn deals_of_lead(&self, lead: LeadId) -> Result<Vec<Deal>, Error> {
        Ok(self.store.deals_of_lead(lead).await?)
    }

    /// Leads matching a filter, by number.
    pub async fn leads(&self, filter: &LeadFilter) -> Result<Vec<Lead>, Error> {
        Ok(self.store.query_leads(filter).await?)
    }

    /// Existing customers matching a lead's normalized e-mail or phone: the
    /// candidates Qualify proposes to link.
    pub async fn customer_candidates(&self, lead: LeadId) -> Result<Vec<Customer>, Error> {
        let reads = Reads::default();
        let lead = self.load_lead(lead, &reads).await?;
        self.customer_candidates_of(&lead, &reads).await
    }

    /// Open leads with the same normalized e-mail or phone. Closed leads
    /// (converted, disqualified, merged, or in a closing phase) are never proposed.
    pub async fn duplicates(&self, lead: LeadId) -> Result<Vec<Lead>, Error> {
        let (config, _) = self.config().await?;
        let lead = self.load_lead(lead, &Reads::default()).await?;
        let mut found = Vec::new();
        if let Some(e) = &lead.email {
            found.extend(
                self.leads_where(LeadFilter {
                    email: Some(e.to_string()),
                    ..LeadFilter::default()
                })
                .await?,
            );
        }
        if let Some(p) = &lead.phone {
            found.extend(
                self.leads_where(LeadFilter {
                    phone: Some(p.e164.clone()),
                    ..LeadFilter::default()
                })
                .await?,
            );
        }
        let mut seen = BTreeSet::new();
        found.retain(|l| l.id != lead.id && !l.is_closed(&config) && seen.insert(l.id));
        found.sort_by_key(|l| l.number);
        Ok(found)
    }

    /// An entity's history, oldest first.
    pub async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, Error> {
        Ok(self.store.history(entity).await?)
    }

    /// Events after `cursor` (0 for the first), at most `limit`. Pass the last
    /// `seq` you processed as the next cursor: nothing is missed or repeated.
    pub async fn events_since(&self, cursor: u64, limit: usize) -> Result<Vec<EventEnvelope>, Error> {
        Ok(self.store.events_since(cursor, limit).await?)
    }

    /// A lead's or deal's activities.
    pub async fn activities(&self, subject: Subject) -> Result<Vec<Activity>, Error> {
        Ok(self.store.activities(subject).await?)
    }

    /// A lead's or deal's follow-ups.
    pub async fn follow_ups(&self, subject: Subject) -> Result<Vec<FollowUp>, Error> {
        Ok(self.store.follow_ups(subject).await?)
    }

    /// Communications attached to a lead.
    pub async fn communications_of(&self, lead: LeadId) -> Result<Vec<Communication>, Error> {
        Ok(self.store.communications_of(lead).await?)
    }
}

#[allow(clippy::large_enum_variant)] // short-lived, one per command
enum SubjectOwned {
    Lead(Lead),
    Deal(Deal),
}

impl SubjectOwned {
    fn as_record(&self) -> SubjectRecord<'_> {
        match self {
            Self::Lead(l) => SubjectRecord::Lead(l),
            Self::Deal(d) => SubjectRecord::Deal(d),
        }
    }
}

fn unexpected(output: &CommandOutput) -> Error {
    Error::Internal(format!("unexpected command output {output:?}"))
}

fn expect_lead(output: CommandOutput) -> Result<Lead, Error> {
    match output {
        CommandOutput::Lead { lead } => Ok(*lead),
        other => Err(unexpected(&other)),
    }
}
