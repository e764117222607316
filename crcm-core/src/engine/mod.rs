//! The [`Engine`]: the facade an application embeds. Each command (a type in
//! [`commands`]) loads what its rule needs from the [`Store`] and runs the rule
//! (in [`crate::rules`]); the engine then commits entity writes, history and events as one
//! unit of work. A command that loses an optimistic-concurrency race is re-run
//! against fresh state, a bounded number of times.

pub mod api;
pub mod board;
pub mod bulk;
pub mod commands;
pub mod export;
pub mod import;
pub mod intake;
pub mod query;
pub mod reports;
pub mod scope;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, ConfigError, Outcome, PhaseRef, PhaseType};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::deal::DealStatus;
use crate::domain::entity::EntityRef;
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, LeadId, UserId};
use crate::domain::lead::Lead;
use crate::domain::lead::LeadStatus;
use crate::engine::commands::{Command, CommandOutput, TypedCommand, for_each_command};
use crate::engine::scope::{Scope, customers_sharing_contact, leads_sharing_contact};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::matching::open_matches;
use crate::store::error::StoreError;
use crate::store::query::{DateRange, FollowUpFilter, LeadField, company_contact_key};
use crate::store::tally::{DealGroup, DealTally, FollowUpTally, LeadGroup, LeadTally, Tally};
use crate::store::tally::{PhaseReachTally, PhaseTimeTally};
use crate::store::{
    CommitReceipt, CommunicationFilter, DealFilter, FORMAT_VERSION, LeadFilter, LeadOrder, Page, PageRequest, Store,
    StoreExt,
};
use board::{Board, BoardColumn, BoardQuery, DealBoard, DealColumn};
use bulk::{BulkAction, BulkItem, BulkOutcome, BulkReport, BulkTarget};
use intake::{CommunicationMatches, DuplicateGroup, DuplicateKey};
use query::{CustomerQuery, DealQuery, LeadQuery, LeadSort};
use reports::{
    DataQuality, ForecastRow, Funnel, FunnelRow, Interval, MissingCount, PhaseTimeRow, ReasonRow, SourceRow,
    WorkloadRow,
};

/// Where the engine reads the time (replaceable for tests and simulations).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How many times a command is tried when it keeps losing concurrency races.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 16;

/// A command's output and what its commit reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Executed<T = CommandOutput> {
    /// The command's result.
    pub output: T,
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

impl<T> Executed<T> {
    /// The same report with the output mapped (e.g. into [`CommandOutput`]).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Executed<U> {
        Executed {
            output: f(self.output),
            receipt: self.receipt,
            attempts: self.attempts,
        }
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

/// The same refusal, by value (kind and details), not by message text.
fn same_refusal(a: &Error, b: &Error) -> bool {
    match (a, b) {
        (Error::Lead(a), Error::Lead(b)) => a == b,
        (Error::Phase(a), Error::Phase(b)) => a == b,
        (Error::Deal(a), Error::Deal(b)) => a == b,
        (Error::Permission(a), Error::Permission(b)) => a == b,
        (Error::NotFound(a), Error::NotFound(b)) => a == b,
        _ => false,
    }
}

/// Generates [`Engine::execute_detailed`]'s dispatch from the command list.
macro_rules! dispatch {
    ($($name:ident),* $(,)?) => {
        impl Engine {
            /// Runs a command in its JSON form and reports its commit; see
            /// [`Engine::run_detailed`].
            pub async fn execute_detailed(&self, actor: &Actor, command: Command) -> Result<Executed, Error> {
                match command {
                    $(
                        Command::$name(command) => self
                            .run_detailed(actor, command)
                            .await
                            .map(|e| e.map(Into::into)),
                    )*
                }
            }
        }
    };
}
for_each_command!(dispatch);

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

    /// The time on the engine's clock: the "now" its commands record, and
    /// the one to ask time questions with (e.g. [`Lead::is_rotten`]).
    pub fn now(&self) -> DateTime<Utc> {
        crate::domain::limits::to_micros((self.clock)())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration in force and its version.
    pub async fn config(&self) -> Result<(Config, u64), Error> {
        self.store.config().await?.ok_or_else(|| ConfigError::Missing.into())
    }

    /// Runs a typed command (see [`commands`]) and returns its output.
    pub async fn run<C: TypedCommand>(&self, actor: &Actor, command: C) -> Result<C::Output, Error> {
        self.run_detailed(actor, command).await.map(|e| e.output)
    }

    /// Runs a command in its JSON form ([`Command`]) and returns its output.
    pub async fn execute(&self, actor: &Actor, command: Command) -> Result<CommandOutput, Error> {
        self.execute_detailed(actor, command).await.map(|e| e.output)
    }

    /// Runs a typed command and reports its commit. On a concurrency
    /// conflict the command is re-run against fresh state (every rule is
    /// checked again), up to the configured number of attempts, unless the
    /// command says it must not be ([`TypedCommand::RETRY`]).
    ///
    /// A refusal that rests on stored state (a lead already qualified, links
    /// that block a delete, ...) is returned only after a second decision over
    /// fresh reads gives the same refusal, so a command that raced another
    /// writer is not refused for a state that never existed as a whole.
    pub async fn run_detailed<C: TypedCommand>(&self, actor: &Actor, command: C) -> Result<Executed<C::Output>, Error> {
        let mut attempts = 0;
        let mut refused: Option<Error> = None;
        loop {
            attempts += 1;
            let config = self.store.config().await?;
            let scope = Scope::new(&*self.store, actor, self.now(), config.as_ref());
            let decided = command.decide(&scope).await;
            let (uow, output) = match decided {
                Ok((mut uow, output)) => {
                    uow.guard(scope.into_guards());
                    (uow, output)
                }
                // A refusal may rest on reads that straddle another writer's
                // commit (the lead read before it, the customers after it). It
                // is final once a second decision over fresh reads agrees.
                Err(e) if C::RETRY && rests_on_state(&e) && attempts < self.max_attempts => {
                    if refused.as_ref().is_some_and(|r| same_refusal(r, &e)) {
                        return Err(e);
                    }
                    refused = Some(e);
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
                Err(e) if e.is_conflict() && C::RETRY && attempts < self.max_attempts => {
                    tracing::debug!(command = C::NAME, attempts, "conflict; retrying against fresh state");
                    // Back off a little more each time so racing writers spread out.
                    for _ in 0..attempts * 4 {
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    // ------------------------------------------------------------ reads

    /// A lead by id.
    pub async fn lead(&self, id: LeadId) -> Result<Lead, Error> {
        self.store.lead(id).await?.ok_or(Error::NotFound(EntityRef::lead(id)))
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
        self.store.deal(id).await?.ok_or(Error::NotFound(EntityRef::deal(id)))
    }

    /// A customer by id.
    pub async fn customer(&self, id: CustomerId) -> Result<Customer, Error> {
        self.store
            .customer(id)
            .await?
            .ok_or(Error::NotFound(EntityRef::customer(id)))
    }

    /// A page of customers (creation order), filtered and searched.
    pub async fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>, Error> {
        if let Some(text) = &query.search {
            query::check_search(text)?;
        }
        let binding = query.binding();
        query::check_cursor(&query.page, binding)?;
        let (config, _) = self.config().await?;
        let page = self.store.customers(&query.resolve(&config), &query.page).await?;
        Ok(query::bind(page, binding))
    }

    /// The deals created from a lead.
    pub async fn deals_of_lead(&self, lead: LeadId) -> Result<Vec<Deal>, Error> {
        Ok(self.store.deals_of_lead(lead).await?)
    }

    /// A page of leads: filtered, searched and sorted (see [`LeadQuery`]).
    /// Pass the page's `next` as the query's `page.after` for the next page.
    pub async fn leads(&self, query: &LeadQuery) -> Result<Page<Lead>, Error> {
        query.check()?;
        let binding = query.binding();
        query::check_cursor(&query.page, binding)?;
        let (config, _) = self.config().await?;
        let (filter, order) = query.resolve(&config, self.now());
        // A lead's number never changes: a cursor naming one lead's number
        // and another lead's id was not written by crcm (the backends would
        // answer it differently: one compares the number alone).
        if query.sort == LeadSort::Number
            && let Some(cursor) = query.page.after
            && let Some(lead) = self.store.lead(LeadId(cursor.id())).await?
            && i64::try_from(lead.number).ok() != Some(cursor.key())
        {
            return Err(Error::Input(InputError::BadCursor {
                text: cursor.to_string(),
            }));
        }
        let page = self.store.leads(&filter, &order, &query.page).await?;
        Ok(query::bind(page, binding))
    }

    /// The board of an account type (see [`board`]): its non-closing phases
    /// in order, each with its open leads' count, expected revenue per
    /// currency, rotten count and first cards.
    pub async fn board(&self, query: &BoardQuery) -> Result<Board, Error> {
        let (config, _) = self.config().await?;
        let now = self.now();
        let phases: Vec<PhaseRef> = config
            .phases_of(&query.account_type)
            .into_iter()
            .filter(|p| p.phase_type != PhaseType::Closing)
            .map(|p| p.reference())
            .collect();
        let totals = if query.filter == LeadFilter::default() {
            let cells = self.store.board_cells(&query.account_type).await?;
            board::from_cells(&cells, query.owner.as_ref())
        } else {
            let mut out: BTreeMap<PhaseRef, (u64, BTreeMap<String, i128>)> = BTreeMap::new();
            for row in self.store.tally(&board::filtered_tally(query, &config)).await? {
                let (Some(Some(phase)), currency) = (row.key.first(), row.key.get(1)) else {
                    continue;
                };
                let Some(phase) = phase.split_once('/').and_then(|(t, c)| {
                    Some(PhaseRef {
                        account_type: Code::new(t).ok()?,
                        code: Code::new(c).ok()?,
                    })
                }) else {
                    continue;
                };
                let e = out.entry(phase).or_default();
                e.0 += row.count;
                if let Some(Some(cur)) = currency {
                    *e.1.entry(cur.clone()).or_default() += row.value;
                }
            }
            out
        };
        let mut columns = Vec::with_capacity(phases.len());
        for phase in phases {
            let filter = board::column_filter(query, &config, &phase);
            let column = board::column_query(query, &phase);
            let cards = self.leads(&column).await?;
            let rotten = match board::rot_cutoff(&config, &phase, now) {
                Some(cutoffs) => {
                    let rotting = LeadFilter {
                        cutoffs: Some(cutoffs),
                        ..filter.clone()
                    };
                    self.store.count_leads(&rotting).await?
                }
                None => 0,
            };
            let (count, sums) = totals.get(&phase).cloned().unwrap_or_default();
            columns.push(BoardColumn {
                name: config.phase(&phase).map(|p| p.description.clone()).unwrap_or_default(),
                phase,
                count,
                revenue: board::revenue(&sums),
                rotten,
                cards: cards.items.iter().map(|l| board::card(l, &config, now)).collect(),
                more: cards.next,
                query: column,
            });
        }
        Ok(Board {
            account_type: query.account_type.clone(),
            columns,
            at: now,
        })
    }

    /// Applies one action to many leads, each in its own unit of work (see
    /// [`bulk`]): a report line per lead, applied or refused, in target
    /// order. A query target is read to the end first, so the action works
    /// on the set as it was when it started. More than [`bulk::MAX_BULK`]
    /// leads is refused before anything changes.
    pub async fn bulk(&self, actor: &Actor, target: &BulkTarget, action: &BulkAction) -> Result<BulkReport, Error> {
        let too_many = || {
            Error::Input(InputError::TooMany {
                field: "bulk target".into(),
                max: bulk::MAX_BULK,
            })
        };
        let mut ids: Vec<LeadId> = Vec::new();
        let mut as_of = None;
        match target {
            BulkTarget::Leads { ids: given } => {
                if given.len() > bulk::MAX_BULK {
                    return Err(too_many());
                }
                let mut seen = std::collections::BTreeSet::new();
                ids.extend(given.iter().copied().filter(|id| seen.insert(*id)));
            }
            BulkTarget::Query { query } => {
                // The set as it was when the action started: paged by lead
                // number, a key no edit moves (a page sorted by `updated`
                // would meet a lead edited meanwhile twice, or never), each
                // lead once, and none created after the start.
                let started = self.now();
                as_of = Some(started);
                let mut seen = std::collections::BTreeSet::new();
                let mut q = query.clone();
                q.sort = LeadSort::Number;
                q.descending = false;
                q.page.after = None;
                q.page.total = false;
                q.page.limit = crate::store::query::MAX_PAGE;
                loop {
                    let page = self.leads(&q).await?;
                    ids.extend(
                        page.items
                            .iter()
                            .filter(|l| l.created_at <= started && seen.insert(l.id))
                            .map(|l| l.id),
                    );
                    if ids.len() > bulk::MAX_BULK {
                        return Err(too_many());
                    }
                    match page.next {
                        Some(next) => q.page.after = Some(next),
                        None => break,
                    }
                }
            }
        }
        let mut report = BulkReport {
            as_of,
            ..BulkReport::default()
        };
        for lead in ids {
            let outcome = match self.execute(actor, action.command(lead)).await {
                Ok(CommandOutput::Lead { lead: changed }) => BulkOutcome::Applied {
                    version: changed.version,
                },
                // Every bulk command answers with the lead; read it back otherwise.
                Ok(_) => BulkOutcome::Applied {
                    version: self.store.lead(lead).await.ok().flatten().map_or(0, |l| l.version),
                },
                Err(error) => BulkOutcome::Refused { error },
            };
            match outcome {
                BulkOutcome::Applied { .. } => report.applied += 1,
                BulkOutcome::Refused { .. } => report.refused += 1,
            }
            report.items.push(BulkItem { lead, outcome });
        }
        Ok(report)
    }

    /// The deal board of a pipeline: its stages in order, each with the
    /// count, value and probability-weighted value of its deals, per
    /// currency; `owner` narrows it to one owner's deals.
    pub async fn deal_board(&self, pipeline: &Code, owner: Option<&UserId>) -> Result<DealBoard, Error> {
        let (config, _) = self.config().await?;
        let Some(p) = config.pipeline(pipeline) else {
            return Err(Error::Input(InputError::UnknownReference {
                kind: ReferenceKind::Pipeline,
                code: pipeline.to_string(),
            }));
        };
        let rows = self.store.tally(&board::deal_tally(pipeline, owner)).await?;
        let columns = p
            .stages
            .iter()
            .map(|s| {
                let mut count = 0;
                let (mut value, mut weighted) = (BTreeMap::new(), BTreeMap::new());
                for row in rows.iter().filter(|r| r.key.first() == Some(&Some(s.code.to_string()))) {
                    count += row.count;
                    if let Some(Some(cur)) = row.key.get(1) {
                        *value.entry(cur.clone()).or_insert(0) += row.value;
                        *weighted.entry(cur.clone()).or_insert(0) += board::unweight(row.weighted);
                    }
                }
                DealColumn {
                    stage: s.code.clone(),
                    name: s.name.clone(),
                    kind: s.kind,
                    probability: s.probability,
                    count,
                    value: board::revenue(&value),
                    weighted: board::revenue(&weighted),
                }
            })
            .collect();
        Ok(DealBoard {
            pipeline: pipeline.clone(),
            columns,
        })
    }

    /// A page of deals: filtered, searched (title words) and sorted (see
    /// [`DealQuery`]).
    pub async fn deals(&self, query: &DealQuery) -> Result<Page<Deal>, Error> {
        if let Some(text) = &query.search {
            query::check_search(text)?;
        }
        let binding = query.binding();
        query::check_cursor(&query.page, binding)?;
        let (filter, order) = query.resolve();
        let page = self.store.deals(&filter, order, &query.page).await?;
        Ok(query::bind(page, binding))
    }

    /// A page of inbound communications (arrival order), e.g. the unhandled
    /// ones (`status: New`).
    pub async fn communications(
        &self,
        filter: &CommunicationFilter,
        page: &PageRequest,
    ) -> Result<Page<Communication>, Error> {
        let binding = query::cursor_binding("communications", filter);
        query::check_cursor(page, binding)?;
        Ok(query::bind(self.store.communications(filter, page).await?, binding))
    }

    /// Existing customers matching a lead's normalized e-mail or phone: the
    /// candidates Qualify proposes to link.
    pub async fn customer_candidates(&self, lead: LeadId) -> Result<Vec<Customer>, Error> {
        let lead = self.lead(lead).await?;
        customers_sharing_contact(&*self.store, &lead).await
    }

    /// Open leads that duplicate a lead by any [`DuplicateKey`]: the same
    /// normalized e-mail, phone, or company and contact name; by number.
    /// Closed leads (converted, disqualified, merged, or in a closing phase)
    /// are never proposed.
    pub async fn duplicates(&self, lead: LeadId) -> Result<Vec<Lead>, Error> {
        self.duplicates_by(lead, &DuplicateKey::ALL).await
    }

    /// [`Engine::duplicates`] by the keys given (e.g. only the e-mail).
    pub async fn duplicates_by(&self, lead: LeadId, keys: &[DuplicateKey]) -> Result<Vec<Lead>, Error> {
        let (config, _) = self.config().await?;
        let lead = self.lead(lead).await?;
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
            if let Some(filter) = filter {
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
    /// indexed list per group.
    pub async fn duplicate_groups(&self, key: DuplicateKey) -> Result<Vec<DuplicateGroup>, Error> {
        let (config, _) = self.config().await?;
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
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
                .leads(&filter, &LeadOrder::default(), &PageRequest::first(intake::GROUP_LEADS))
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
    /// e-mail or phone, then closed ones, then customers.
    pub async fn communication_matches(&self, id: CommunicationId) -> Result<CommunicationMatches, Error> {
        let (config, _) = self.config().await?;
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
        .await?;
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

    /// Conversion by source (seed 002): of the leads created in the
    /// interval, per source, how many are now qualified (or converted),
    /// converted and lost, and how many sit in a won or lost closing phase.
    /// One grouped count.
    pub async fn report_sources(&self, interval: &Interval) -> Result<Vec<SourceRow>, Error> {
        let (config, _) = self.config().await?;
        let tally = Tally::Leads(LeadTally {
            filter: LeadFilter {
                created: interval.range(),
                ..LeadFilter::default()
            },
            by: vec![LeadGroup::Source, LeadGroup::Status, LeadGroup::Phase],
        });
        // The outcome of each closing phase, by the key the tally groups by.
        let outcomes: HashMap<String, Outcome> = config
            .phases
            .iter()
            .filter(|p| p.phase_type == PhaseType::Closing)
            .filter_map(|p| Some((p.reference().to_string(), p.outcome?)))
            .collect();
        let mut out: Vec<SourceRow> = Vec::new();
        for row in self.store.tally(&tally).await? {
            let source = row.key.first().cloned().flatten().and_then(|c| Code::new(c).ok());
            let status = row.key.get(1).cloned().flatten().unwrap_or_default();
            let outcome = row
                .key
                .get(2)
                .cloned()
                .flatten()
                .and_then(|p| outcomes.get(&p).copied());
            let i = match out.iter().position(|r| r.source == source) {
                Some(i) => i,
                None => {
                    out.push(SourceRow {
                        source,
                        created: 0,
                        qualified: 0,
                        converted: 0,
                        lost: 0,
                        closed_won: 0,
                        closed_lost: 0,
                    });
                    out.len() - 1
                }
            };
            let r = &mut out[i];
            r.created += row.count;
            if status == LeadStatus::Qualified.as_str() || status == LeadStatus::Converted.as_str() {
                r.qualified += row.count;
            }
            if status == LeadStatus::Converted.as_str() {
                r.converted += row.count;
            }
            if status == LeadStatus::Disqualified.as_str() {
                r.lost += row.count;
            }
            match outcome {
                Some(Outcome::Won) => r.closed_won += row.count,
                Some(Outcome::Lost) => r.closed_lost += row.count,
                None => {}
            }
        }
        Ok(out)
    }

    /// The configuration, refusing an account type it does not define.
    async fn config_with_account_type(&self, account_type: &Code) -> Result<Config, Error> {
        let (config, _) = self.config().await?;
        if config.account_type(account_type).is_none() {
            return Err(InputError::UnknownReference {
                kind: ReferenceKind::AccountType,
                code: account_type.to_string(),
            }
            .into());
        }
        Ok(config)
    }

    /// The funnel of an account type (seed 002): of its leads created in
    /// the interval, how many entered each phase, read from the phase steps
    /// every phase change records (one grouped count), with the conversion
    /// to the next phase. Phases that are no longer configured are left out.
    pub async fn report_funnel(&self, account_type: &Code, interval: &Interval) -> Result<Funnel, Error> {
        let config = self.config_with_account_type(account_type).await?;
        let rows = self
            .store
            .tally(&Tally::PhaseReach(PhaseReachTally {
                account_type: account_type.clone(),
                created: interval.range(),
            }))
            .await?;
        let reached = |code: &Code| {
            rows.iter()
                .find(|r| r.key.first().and_then(Option::as_deref) == Some(code.as_str()))
                .map_or(0, |r| r.count)
        };
        let phases = config.phases_of(account_type);
        let lost = |p: &&crate::domain::config::Phase| p.outcome == Some(crate::domain::config::Outcome::Lost);
        let mut out: Vec<FunnelRow> = Vec::with_capacity(phases.len());
        for (i, p) in phases.iter().enumerate() {
            let here = reached(&p.code);
            let next = phases[i + 1..].iter().find(|n| !lost(n));
            let to_next = match next {
                Some(n) if here > 0 && !lost(p) => Some(reached(&n.code) as f64 / here as f64),
                _ => None,
            };
            out.push(FunnelRow {
                phase: p.code.clone(),
                closing: p.phase_type == PhaseType::Closing,
                reached: here,
                to_next,
            });
        }
        Ok(Funnel {
            account_type: account_type.clone(),
            interval: *interval,
            phases: out,
        })
    }

    /// Time in phase (seed 004): per phase of the account type, the stays
    /// that ended in the interval, their average and median length. One
    /// grouped count over the phase steps, by phase and whole hours.
    pub async fn report_time_in_phase(
        &self,
        account_type: &Code,
        interval: &Interval,
    ) -> Result<Vec<PhaseTimeRow>, Error> {
        let config = self.config_with_account_type(account_type).await?;
        let rows = self
            .store
            .tally(&Tally::PhaseTime(PhaseTimeTally {
                account_type: account_type.clone(),
                left: interval.range(),
            }))
            .await?;
        let mut out = Vec::new();
        for p in config.phases_of(account_type) {
            let mut histogram: Vec<(i64, u64)> = Vec::new();
            let mut seconds: i64 = 0;
            for r in rows
                .iter()
                .filter(|r| r.key.first().and_then(Option::as_deref) == Some(p.code.as_str()))
            {
                let hours = r.key.get(1).and_then(Option::as_deref).and_then(|h| h.parse().ok());
                histogram.push((hours.unwrap_or(0), r.count));
                seconds = seconds.saturating_add(i64::try_from(r.value).unwrap_or(i64::MAX));
            }
            histogram.sort_unstable();
            let stays: u64 = histogram.iter().map(|(_, c)| c).sum();
            if stays == 0 {
                continue;
            }
            out.push(PhaseTimeRow {
                phase: p.code.clone(),
                stays,
                average_hours: seconds as f64 / 3600.0 / stays as f64,
                median_hours: reports::median_hours(&histogram),
            });
        }
        Ok(out)
    }

    /// Closed leads by reason: the lost reasons of disqualified leads and the
    /// closing reasons of leads in closing phases, counting the leads that
    /// closed in the interval ([`Lead::closed_at`]). Two grouped counts.
    pub async fn report_reasons(&self, interval: &Interval) -> Result<Vec<ReasonRow>, Error> {
        let mut out = Vec::new();
        for (kind, group, statuses) in [
            ("lost", LeadGroup::LostReason, Some([LeadStatus::Disqualified].into())),
            ("closing", LeadGroup::ClosingReason, None),
        ] {
            let tally = Tally::Leads(LeadTally {
                filter: LeadFilter {
                    closed_at: interval.range(),
                    statuses,
                    ..LeadFilter::default()
                },
                by: vec![group],
            });
            for row in self.store.tally(&tally).await? {
                if let Some(reason) = row.key.first().cloned().flatten().and_then(|c| Code::new(c).ok()) {
                    out.push(ReasonRow {
                        kind: kind.to_owned(),
                        reason,
                        count: row.count,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Workload per sales person (seed 004): open leads per owner, how many
    /// of them are rotten, and the follow-ups assigned to them that are past
    /// due and not done. Three grouped counts.
    pub async fn report_workload(&self) -> Result<Vec<WorkloadRow>, Error> {
        let (config, _) = self.config().await?;
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
            ..LeadFilter::default()
        };
        let rotten = LeadQuery {
            rotten: true,
            ..LeadQuery::default()
        }
        .resolve(&config, self.now())
        .0;
        let mut out: Vec<WorkloadRow> = Vec::new();
        for (filter, is_rotten) in [(open, false), (rotten, true)] {
            let tally = Tally::Leads(LeadTally {
                filter,
                by: vec![LeadGroup::Owner],
            });
            for row in self.store.tally(&tally).await? {
                let Some(owner) = row.key.first().cloned().flatten().and_then(|o| UserId::new(o).ok()) else {
                    continue;
                };
                let r = workload_row(&mut out, owner);
                if is_rotten {
                    r.rotten += row.count;
                } else {
                    r.open_leads += row.count;
                }
            }
        }
        let overdue = Tally::FollowUps(FollowUpTally {
            filter: FollowUpFilter {
                done: Some(false),
                due: DateRange {
                    from: None,
                    before: Some(self.now().date_naive()),
                },
                ..FollowUpFilter::default()
            },
        });
        for row in self.store.tally(&overdue).await? {
            if let Some(user) = row.key.first().cloned().flatten().and_then(|o| UserId::new(o).ok()) {
                workload_row(&mut out, user).overdue_follow_ups += row.count;
            }
        }
        out.sort_by(|a, b| a.owner.cmp(&b.owner));
        Ok(out)
    }

    /// Stuck leads (seed 004): open leads with no phase change for at least
    /// `days` days, most days first; an indexed page.
    pub async fn report_stuck(&self, days: u32, page: &PageRequest) -> Result<Page<Lead>, Error> {
        self.leads(&LeadQuery {
            open: Some(true),
            min_days_in_phase: Some(days),
            sort: LeadSort::DaysInPhase,
            descending: true,
            page: *page,
            ..LeadQuery::default()
        })
        .await
    }

    /// Data quality (seed 004's daily routine): open leads, how many lack
    /// each value, and the first 20 without an expected close date and
    /// without a description. Counts and one indexed page.
    pub async fn report_data_quality(&self) -> Result<DataQuality, Error> {
        let (config, _) = self.config().await?;
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
            ..LeadFilter::default()
        };
        let mut missing = Vec::with_capacity(LeadField::ALL.len());
        for field in LeadField::ALL {
            let filter = LeadFilter {
                missing: [field].into(),
                ..open.clone()
            };
            missing.push(MissingCount {
                field,
                count: self.store.count_leads(&filter).await?,
            });
        }
        let clarify = LeadFilter {
            missing: [LeadField::ExpectedClose, LeadField::Description].into(),
            ..open.clone()
        };
        let first = self
            .store
            .leads(&clarify, &LeadOrder::default(), &PageRequest::first(20))
            .await?;
        Ok(DataQuality {
            open: self.store.count_leads(&open).await?,
            missing,
            first_to_clarify: first.items,
        })
    }

    /// The deal pipeline's value per stage and the probability-weighted
    /// forecast, over open deals (of one pipeline, or all). One grouped count.
    pub async fn report_forecast(&self, pipeline: Option<&Code>) -> Result<Vec<ForecastRow>, Error> {
        let (config, _) = self.config().await?;
        let tally = Tally::Deals(DealTally {
            filter: DealFilter {
                pipeline: pipeline.cloned(),
                status: Some(DealStatus::Open),
                ..DealFilter::default()
            },
            by: vec![DealGroup::Pipeline, DealGroup::Stage, DealGroup::Currency],
        });
        let rows = self.store.tally(&tally).await?;
        let mut out = Vec::new();
        for p in config
            .pipelines
            .iter()
            .filter(|p| pipeline.is_none_or(|c| c == &p.code))
        {
            for s in &p.stages {
                let here: Vec<_> = rows
                    .iter()
                    .filter(|r| {
                        r.key.first() == Some(&Some(p.code.to_string()))
                            && r.key.get(1) == Some(&Some(s.code.to_string()))
                    })
                    .collect();
                if here.is_empty() {
                    continue;
                }
                let (mut value, mut weighted) = (BTreeMap::new(), BTreeMap::new());
                for r in &here {
                    if let Some(Some(cur)) = r.key.get(2) {
                        *value.entry(cur.clone()).or_insert(0) += r.value;
                        *weighted.entry(cur.clone()).or_insert(0) += board::unweight(r.weighted);
                    }
                }
                out.push(ForecastRow {
                    pipeline: p.code.clone(),
                    stage: s.code.clone(),
                    deals: here.iter().map(|r| r.count).sum(),
                    value: board::revenue(&value),
                    weighted: board::revenue(&weighted),
                });
            }
        }
        Ok(out)
    }

    /// An entity's history, oldest first.
    pub async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, Error> {
        Ok(self.store.history(entity).await?)
    }

    /// A lead's history with that of every lead merged into it (and into
    /// those, in turn), oldest first: the survivor of a merge carries the
    /// duplicate's past. Entries of one time keep each lead's version order.
    pub async fn lead_history(&self, lead: LeadId) -> Result<Vec<HistoryEntry>, Error> {
        let mut out: Vec<HistoryEntry> = Vec::new();
        let mut todo: Vec<LeadId> = self.lead(lead).await?.merged_from.into_iter().collect();
        out.extend(self.store.history(EntityRef::lead(lead)).await?);
        let mut seen = std::collections::BTreeSet::from([lead]);
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            // A merged lead deleted since keeps its history.
            if let Some(l) = self.store.lead(id).await? {
                todo.extend(l.merged_from.iter().copied());
            }
            out.extend(self.store.history(EntityRef::lead(id)).await?);
        }
        // A stable sort keeps each lead's own entries in version order.
        out.sort_by_key(|h| h.at);
        Ok(out)
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

/// The workload row of a user, added when missing.
fn workload_row(rows: &mut Vec<WorkloadRow>, owner: UserId) -> &mut WorkloadRow {
    let i = match rows.iter().position(|r| r.owner == owner) {
        Some(i) => i,
        None => {
            rows.push(WorkloadRow {
                owner,
                open_leads: 0,
                rotten: 0,
                overdue_follow_ups: 0,
            });
            rows.len() - 1
        }
    };
    &mut rows[i]
}
