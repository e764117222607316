//! The [`Engine`]: the facade an application embeds. Each command (a type in
//! [`commands`]) loads what its rule needs from the [`Store`] and runs the rule
//! (in [`crate::rules`]); the engine then commits entity writes, history and events as one
//! unit of work. A command that loses an optimistic-concurrency race is re-run
//! against fresh state, a bounded number of times.
//!
//! This module holds the engine, the command loop and the record reads; each
//! capability's reads live with its types: [`board`] (board, deal board),
//! [`bulk`], [`intake`] (duplicates, customer candidates, inbound matches),
//! [`reports`], [`import`], [`export`], and [`api`] (requests and the JSON
//! entry point).

pub mod api;
pub mod board;
pub mod bulk;
pub mod commands;
pub mod export;
pub mod import;
pub mod intake;
pub mod query;
pub mod reports;
#[cfg(feature = "schema")]
pub mod schema;
pub mod scope;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::{Config, ConfigError};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::entity::{EntityKind, EntityRef};
use crate::domain::error::InputError;
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{ActivityId, CustomerId, DealId, FollowUpId, LeadId};
use crate::domain::lead::Lead;
use crate::engine::commands::{Command, CommandOutput, TypedCommand, for_each_command};
use crate::engine::scope::Scope;
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::store::error::StoreError;
use crate::store::query::Visible;
use crate::store::{CommitReceipt, CommunicationFilter, FORMAT_VERSION, Page, PageRequest, Store, StoreExt};
use query::{CustomerQuery, DealQuery, LeadQuery, LeadSort};

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
    //
    // Every read is the actor's: a lead or deal outside what their role sees
    // (`Settings::visibility`) is left out of lists, boards, reports and
    // exports, and a get answers `not_found`, exactly as for a record that
    // does not exist, so a refusal does not confirm the record. Customers
    // (shared master data) and inbound communications (a shared inbox) are
    // seen by everyone, as the access rules treat them.

    /// What the actor sees under the stored configuration (`None`: every
    /// lead and deal). Before any configuration is stored, the default
    /// [`VisibilityRules`](crate::domain::config::VisibilityRules) apply.
    pub(crate) async fn seen_by(&self, actor: &Actor) -> Result<Option<Visible>, Error> {
        Ok(match self.store.config().await? {
            Some((config, _)) => access::visible(actor, &config),
            None => access::visible_by_default(actor),
        })
    }

    /// A lead by id.
    pub async fn lead(&self, actor: &Actor, id: LeadId) -> Result<Lead, Error> {
        let seen = self.seen_by(actor).await?;
        self.store
            .lead(id)
            .await?
            .filter(|l| access::sees_lead(seen.as_ref(), l))
            .ok_or(Error::NotFound(EntityRef::lead(id)))
    }

    /// A lead by its number.
    pub async fn lead_by_number(&self, actor: &Actor, number: u64) -> Result<Lead, Error> {
        let seen = self.seen_by(actor).await?;
        self.store
            .lead_by_number(number)
            .await?
            .filter(|l| access::sees_lead(seen.as_ref(), l))
            .ok_or(Error::LeadNumberNotFound(number))
    }

    /// A deal by id.
    pub async fn deal(&self, actor: &Actor, id: DealId) -> Result<Deal, Error> {
        let seen = self.seen_by(actor).await?;
        self.store
            .deal(id)
            .await?
            .filter(|d| access::sees_deal(seen.as_ref(), d))
            .ok_or(Error::NotFound(EntityRef::deal(id)))
    }

    /// A customer by id (customers are seen by everyone).
    pub async fn customer(&self, _actor: &Actor, id: CustomerId) -> Result<Customer, Error> {
        self.store
            .customer(id)
            .await?
            .ok_or(Error::NotFound(EntityRef::customer(id)))
    }

    /// A page of customers (creation order), filtered and searched.
    pub async fn customers(&self, _actor: &Actor, query: &CustomerQuery) -> Result<Page<Customer>, Error> {
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
    pub async fn deals_of_lead(&self, actor: &Actor, lead: LeadId) -> Result<Vec<Deal>, Error> {
        self.lead(actor, lead).await?;
        Ok(self.store.deals_of_lead(lead).await?)
    }

    /// A page of leads: filtered, searched and sorted (see [`LeadQuery`]).
    /// Pass the page's `next` as the query's `page.after` for the next page.
    pub async fn leads(&self, actor: &Actor, query: &LeadQuery) -> Result<Page<Lead>, Error> {
        query.check()?;
        let binding = query.binding();
        query::check_cursor(&query.page, binding)?;
        let (config, _) = self.config().await?;
        query::check_references(&config, &query.filter)?;
        let (mut filter, order) = query.resolve(&config, self.now());
        filter.visible = access::visible(actor, &config);
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

    /// A page of deals: filtered, searched (title words) and sorted (see
    /// [`DealQuery`]).
    pub async fn deals(&self, actor: &Actor, query: &DealQuery) -> Result<Page<Deal>, Error> {
        if let Some(text) = &query.search {
            query::check_search(text)?;
        }
        let binding = query.binding();
        query::check_cursor(&query.page, binding)?;
        let (mut filter, order) = query.resolve();
        filter.visible = self.seen_by(actor).await?;
        let page = self.store.deals(&filter, order, &query.page).await?;
        Ok(query::bind(page, binding))
    }

    /// A page of inbound communications (arrival order), e.g. the unhandled
    /// ones (`status: New`). The inbox is shared: everyone sees it.
    pub async fn communications(
        &self,
        _actor: &Actor,
        filter: &CommunicationFilter,
        page: &PageRequest,
    ) -> Result<Page<Communication>, Error> {
        let binding = query::cursor_binding("communications", filter);
        query::check_cursor(page, binding)?;
        Ok(query::bind(self.store.communications(filter, page).await?, binding))
    }

    /// Refuses, as not found, a lead or deal the actor does not see.
    async fn check_subject(&self, seen: Option<&Visible>, subject: Subject) -> Result<(), Error> {
        let found = match subject {
            Subject::Lead(id) => self.store.lead(id).await?.is_some_and(|l| access::sees_lead(seen, &l)),
            Subject::Deal(id) => self.store.deal(id).await?.is_some_and(|d| access::sees_deal(seen, &d)),
        };
        if found {
            Ok(())
        } else {
            Err(Error::NotFound(match subject {
                Subject::Lead(id) => EntityRef::lead(id),
                Subject::Deal(id) => EntityRef::deal(id),
            }))
        }
    }

    /// An entity's history, oldest first. A lead's or deal's, and an
    /// activity's or follow-up's on one, only when the actor sees that lead
    /// or deal; an actor who sees everything also reads the history of a
    /// deleted one.
    pub async fn history(&self, actor: &Actor, entity: EntityRef) -> Result<Vec<HistoryEntry>, Error> {
        if let Some(seen) = self.seen_by(actor).await? {
            let subject = match entity.kind {
                EntityKind::Lead => Some(Subject::Lead(LeadId(entity.id))),
                EntityKind::Deal => Some(Subject::Deal(DealId(entity.id))),
                EntityKind::Activity => self.store.activity(ActivityId(entity.id)).await?.map(|a| a.subject),
                EntityKind::FollowUp => self.store.follow_up(FollowUpId(entity.id)).await?.map(|f| f.subject),
                EntityKind::Customer | EntityKind::Communication => None,
            };
            let visible = match subject {
                Some(subject) => self.check_subject(Some(&seen), subject).await.is_ok(),
                // A deleted activity or follow-up: its subject is unknown.
                None => matches!(entity.kind, EntityKind::Customer | EntityKind::Communication),
            };
            if !visible {
                return Err(Error::NotFound(entity));
            }
        }
        Ok(self.store.history(entity).await?)
    }

    /// A lead's history with that of every lead merged into it (and into
    /// those, in turn), oldest first: the survivor of a merge carries the
    /// duplicate's past. Entries of one time keep each lead's version order.
    pub async fn lead_history(&self, actor: &Actor, lead: LeadId) -> Result<Vec<HistoryEntry>, Error> {
        let mut out: Vec<HistoryEntry> = Vec::new();
        let mut todo: Vec<LeadId> = self.lead(actor, lead).await?.merged_from.into_iter().collect();
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
    /// The feed holds every lead's and deal's events, so only an actor whose
    /// role sees all leads reads it (an integration user, a manager by
    /// default); anyone else gets a permission error.
    pub async fn events_since(&self, actor: &Actor, cursor: u64, limit: usize) -> Result<Vec<EventEnvelope>, Error> {
        if self.seen_by(actor).await?.is_some() {
            let visibility = match self.store.config().await? {
                Some((config, _)) => access::visibility(actor, &config),
                None => crate::domain::config::Visibility::OwnAndRecordTeam,
            };
            return Err(access::needs_full_visibility(actor, visibility).into());
        }
        Ok(self.store.events_since(cursor, limit).await?)
    }

    /// A lead's or deal's activities.
    pub async fn activities(&self, actor: &Actor, subject: Subject) -> Result<Vec<Activity>, Error> {
        self.check_subject(self.seen_by(actor).await?.as_ref(), subject).await?;
        Ok(self.store.activities(subject).await?)
    }

    /// A lead's or deal's follow-ups.
    pub async fn follow_ups(&self, actor: &Actor, subject: Subject) -> Result<Vec<FollowUp>, Error> {
        self.check_subject(self.seen_by(actor).await?.as_ref(), subject).await?;
        Ok(self.store.follow_ups(subject).await?)
    }

    /// Communications attached to a lead.
    pub async fn communications_of(&self, actor: &Actor, lead: LeadId) -> Result<Vec<Communication>, Error> {
        self.lead(actor, lead).await?;
        Ok(self.store.communications_of(lead).await?)
    }
}
