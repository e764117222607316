//! An in-memory store for unit tests and the conformance suite's self-test.
//! It keeps nothing on disk: never use it as an application's store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::domain::config::{Config, PhaseRef};
use crate::domain::entity::EntityRef;
use crate::domain::event::EventEnvelope;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::lead::Lead;
use crate::store::error::StoreError;
use crate::store::record::Record;
use crate::store::steps::PhaseStep;
use crate::store::tally::{BoardCell, Tally, TallyRow, board_cells_of, step_seen};
use crate::store::uow::{Guard, UnitOfWork, Write};
use crate::store::{CommitReceipt, FORMAT_VERSION, Page, PageRequest, Select, Store};

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<EntityRef, Record>,
    config: Option<(Config, u64)>,
    history: BTreeMap<EntityRef, Vec<HistoryEntry>>,
    events: Vec<EventEnvelope>,
    lead_numbers: u64,
    lookups: BTreeMap<String, u64>,
    steps: BTreeMap<(LeadId, PhaseRef, DateTime<Utc>), PhaseStep>,
}

impl Inner {
    /// A stored lead's owner and record team.
    fn owner_and_team(&self, id: LeadId) -> Option<(UserId, BTreeSet<UserId>)> {
        match self.records.get(&EntityRef::lead(id)) {
            Some(Record::Lead(l)) => Some((l.owner.clone(), l.team.clone())),
            _ => None,
        }
    }
}

/// The in-memory store. All state sits behind one mutex, so commits are
/// trivially atomic and isolated.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit:
        // commits check everything before they change anything.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Yields like a real store's I/O would, so concurrent commands interleave
/// between their reads and their commit, as they do on every backend.
async fn io() {
    tokio::task::yield_now().await;
}

fn lead(r: &Record) -> Option<&Lead> {
    match r {
        Record::Lead(l) => Some(l),
        _ => None,
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn format_version(&self) -> Result<u32, StoreError> {
        Ok(FORMAT_VERSION)
    }

    async fn config(&self) -> Result<Option<(Config, u64)>, StoreError> {
        Ok(self.lock().config.clone())
    }

    async fn get(&self, entity: EntityRef) -> Result<Option<Record>, StoreError> {
        io().await;
        Ok(self.lock().records.get(&entity).cloned())
    }

    async fn select(&self, select: &Select, page: &PageRequest) -> Result<Page<Record>, StoreError> {
        io().await;
        Ok(select.answer(self.lock().records.values(), page))
    }

    async fn board_cells(&self, account_type: &Code) -> Result<Vec<BoardCell>, StoreError> {
        io().await;
        Ok(board_cells_of(
            account_type,
            self.lock().records.values().filter_map(lead),
        ))
    }

    async fn tally(&self, tally: &Tally) -> Result<Vec<TallyRow>, StoreError> {
        io().await;
        let inner = self.lock();
        Ok(match tally {
            Tally::Leads(t) => t.answer(inner.records.values().filter_map(lead)),
            Tally::Deals(t) => t.answer(inner.records.values().filter_map(|r| match r {
                Record::Deal(d) => Some(d),
                _ => None,
            })),
            Tally::FollowUps(t) => t.answer(inner.records.values().filter_map(|r| match r {
                Record::FollowUp(f) => Some(f),
                _ => None,
            })),
            Tally::PhaseReach(t) => t.answer(
                inner
                    .steps
                    .values()
                    .filter(|s| step_seen(t.visible.as_ref(), s, |id| inner.owner_and_team(id))),
            ),
            Tally::PhaseTime(t) => t.answer(
                inner
                    .steps
                    .values()
                    .filter(|s| step_seen(t.visible.as_ref(), s, |id| inner.owner_and_team(id))),
            ),
        })
    }

    async fn history(&self, entity: EntityRef) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self.lock().history.get(&entity).cloned().unwrap_or_default())
    }

    async fn events_since(&self, after: u64, limit: usize) -> Result<Vec<EventEnvelope>, StoreError> {
        let inner = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(inner.events.len());
        Ok(inner.events[start..].iter().take(limit).cloned().collect())
    }

    async fn reserve_lead_numbers(&self, count: u64) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let first = inner.lead_numbers + 1;
        inner.lead_numbers += count.max(1);
        Ok(first)
    }

    async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        io().await;
        let inner = self.lock();
        Ok(keys
            .iter()
            .map(|k| inner.lookups.get(k).copied().unwrap_or(0))
            .collect())
    }

    async fn commit(&self, uow: UnitOfWork) -> Result<CommitReceipt, StoreError> {
        let mut inner = self.lock();
        for g in &uow.guards {
            let found = match g {
                Guard::Record { entity, .. } => inner.records.get(entity).map(Record::version),
                Guard::Key { key, .. } => inner.lookups.get(key).copied(),
            };
            g.check(found)?;
        }
        // Check every precondition before changing anything.
        for w in &uow.writes {
            let entity = w.entity();
            let found = inner.records.get(&entity).map(Record::version);
            let expected = match w {
                Write::Put { expected, .. } => *expected,
                Write::Delete { expected, .. } => Some(*expected),
            };
            if found != expected {
                return Err(StoreError::Conflict {
                    entity,
                    expected,
                    found,
                });
            }
            if let Write::Put {
                record: Record::Lead(l),
                expected: None,
            } = w
                && inner.records.values().filter_map(lead).any(|x| x.number == l.number)
            {
                return Err(StoreError::Duplicate {
                    what: "lead number".to_owned(),
                    value: l.number.to_string(),
                });
            }
        }
        if let Some(c) = &uow.config {
            let found = inner.config.as_ref().map(|(_, v)| *v);
            if found != c.expected {
                return Err(StoreError::ConfigConflict {
                    expected: c.expected,
                    found,
                });
            }
        }
        for w in uow.writes {
            match w {
                Write::Put { record, .. } => {
                    inner.records.insert(record.entity(), record);
                }
                Write::Delete { entity, .. } => {
                    inner.records.remove(&entity);
                }
            }
        }
        if let Some(c) = uow.config {
            inner.config = Some((c.config, c.version));
        }
        for key in uow.touched {
            *inner.lookups.entry(key).or_insert(0) += 1;
        }
        for step in uow.steps {
            inner
                .steps
                .insert((step.lead, step.phase.clone(), step.entered_at), step);
        }
        for h in uow.history {
            inner.history.entry(h.entity).or_default().push(h);
        }
        let first_seq = inner.events.len() as u64 + 1;
        let count = uow.events.len() as u64;
        for (i, event) in uow.events.into_iter().enumerate() {
            inner.events.push(EventEnvelope {
                seq: first_seq + i as u64,
                at: uow.at,
                actor: uow.actor.clone(),
                event,
            });
        }
        Ok(CommitReceipt {
            first_seq,
            events: count,
        })
    }
}
