//! The [`Engine`]: the facade an application embeds. Each command (a type in
//! [`commands`]) loads what its rule needs from the [`Store`] and runs the rule
//! (in [`crate::rules`]); the engine then commits entity writes, history and events as one
//! unit of work. A command that loses an optimistic-concurrency race is re-run
//! against fresh state, a bounded number of times.

pub mod board;
pub mod commands;
pub mod query;
pub mod scope;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, ConfigError, PhaseRef, PhaseType};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::entity::EntityRef;
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{Code, CustomerId, DealId, LeadId, UserId};
use crate::domain::lead::Lead;
use crate::engine::commands::{Command, CommandOutput, TypedCommand, for_each_command};
use crate::engine::scope::{Scope, customers_sharing_contact, leads_sharing_contact};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::matching::open_matches;
use crate::store::error::StoreError;
use crate::store::{
    CommitReceipt, CommunicationFilter, DealFilter, FORMAT_VERSION, LeadFilter, Page, PageRequest, Store, StoreExt,
};
use board::{Board, BoardColumn, BoardQuery, DealBoard, DealColumn};
use query::{CustomerQuery, LeadQuery};

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
        (self.clock)()
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
        let (config, _) = self.config().await?;
        Ok(self.store.customers(&query.resolve(&config), &query.page).await?)
    }

    /// The deals created from a lead.
    pub async fn deals_of_lead(&self, lead: LeadId) -> Result<Vec<Deal>, Error> {
        Ok(self.store.deals_of_lead(lead).await?)
    }

    /// A page of leads: filtered, searched and sorted (see [`LeadQuery`]).
    /// Pass the page's `next` as the query's `page.after` for the next page.
    pub async fn leads(&self, query: &LeadQuery) -> Result<Page<Lead>, Error> {
        let (config, _) = self.config().await?;
        let (filter, order) = query.resolve(&config, self.now());
        Ok(self.store.leads(&filter, &order, &query.page).await?)
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
            let mut out: BTreeMap<PhaseRef, (u64, BTreeMap<String, i64>)> = BTreeMap::new();
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
            let (order, page) = board::card_page(query);
            let cards = self.store.leads(&filter, &order, &page).await?;
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
            });
        }
        Ok(Board {
            account_type: query.account_type.clone(),
            columns,
            at: now,
        })
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

    /// A page of deals (creation order).
    pub async fn deals(&self, filter: &DealFilter, page: &PageRequest) -> Result<Page<Deal>, Error> {
        Ok(self.store.deals(filter, page).await?)
    }

    /// A page of inbound communications (arrival order), e.g. the unhandled
    /// ones (`status: New`).
    pub async fn communications(
        &self,
        filter: &CommunicationFilter,
        page: &PageRequest,
    ) -> Result<Page<Communication>, Error> {
        Ok(self.store.communications(filter, page).await?)
    }

    /// Existing customers matching a lead's normalized e-mail or phone: the
    /// candidates Qualify proposes to link.
    pub async fn customer_candidates(&self, lead: LeadId) -> Result<Vec<Customer>, Error> {
        let lead = self.lead(lead).await?;
        customers_sharing_contact(&*self.store, &lead).await
    }

    /// Open leads with the same normalized e-mail or phone. Closed leads
    /// (converted, disqualified, merged, or in a closing phase) are never proposed.
    pub async fn duplicates(&self, lead: LeadId) -> Result<Vec<Lead>, Error> {
        let (config, _) = self.config().await?;
        let lead = self.lead(lead).await?;
        let found = leads_sharing_contact(&*self.store, lead.email.as_ref(), lead.phone.as_ref()).await?;
        Ok(open_matches(&config, found, Some(lead.id)))
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
