//! The unit of work: entity writes, history entries and domain events that a
//! store commits together or not at all.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::config::Config;
use crate::domain::entity::EntityRef;
use crate::domain::event::DomainEvent;
use crate::domain::history::{FieldChange, HistoryEntry, diff};
use crate::domain::ids::UserId;
use crate::store::record::{Entity, Record};
use crate::store::steps::PhaseStep;

/// One entity write with its optimistic-concurrency precondition.
#[allow(clippy::large_enum_variant)] // see `Record`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Write {
    /// Insert (`expected: None`, the record must not exist; it is stored at
    /// the version it carries: 1, or more when the unit changed it again after
    /// inserting it, see [`UnitOfWork::absorb`]) or update (the stored version
    /// must equal `expected`; the record carries `expected + 1`).
    Put {
        /// The record as it will be stored.
        record: Record,
        /// The version the writer read.
        expected: Option<u64>,
    },
    /// Remove a record whose stored version must equal `expected`.
    Delete {
        /// The record.
        entity: EntityRef,
        /// The version the writer read.
        expected: u64,
    },
}

impl Write {
    /// The entity written.
    pub fn entity(&self) -> EntityRef {
        match self {
            Self::Put { record, .. } => record.entity(),
            Self::Delete { entity, .. } => *entity,
        }
    }
}

/// A precondition on something a command's decision read but does not write:
/// the commit fails with a conflict (and the engine re-runs the command) when
/// it no longer holds. Checked atomically with the writes' own preconditions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
pub enum Guard {
    /// The record still exists at this version.
    Record {
        /// The record.
        entity: EntityRef,
        /// The version the decision read.
        version: u64,
    },
    /// The set behind a lookup key (see [`crate::store::record::lookup`]) has not
    /// changed: its version is still this one.
    Key {
        /// The lookup key.
        key: String,
        /// The version the decision read (0: never written).
        version: u64,
    },
}

impl Guard {
    /// Checks the guard against what the store holds now: `found` is the
    /// guarded record's stored version (`None`: absent) or the lookup key's
    /// version (`None`: never touched, i.e. 0). Every backend reads `found`
    /// inside its commit and leaves the comparison to this one place.
    pub fn check(&self, found: Option<u64>) -> Result<(), crate::store::error::StoreError> {
        match self {
            Self::Record { entity, version } if found != Some(*version) => {
                Err(crate::store::error::StoreError::Conflict {
                    entity: *entity,
                    expected: Some(*version),
                    found,
                })
            }
            Self::Key { key, version } if found.unwrap_or(0) != *version => {
                Err(crate::store::error::StoreError::LookupConflict {
                    key: key.clone(),
                    expected: *version,
                    found: found.unwrap_or(0),
                })
            }
            _ => Ok(()),
        }
    }
}

/// A new configuration version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigWrite {
    /// The configuration.
    pub config: Config,
    /// Its version (`expected + 1`, or 1).
    pub version: u64,
    /// The version the writer read (`None`: no configuration yet).
    pub expected: Option<u64>,
}

/// Everything one command changes. A store commits it atomically: all writes,
/// history entries and events, or nothing.
///
/// Only the engine's rules make one (the testing kit too, behind the
/// `testing` feature), so nothing outside crcm commits around the rules; a
/// backend reads it through its accessors.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitOfWork {
    /// Who issued the command.
    pub(crate) actor: UserId,
    /// When.
    pub(crate) at: DateTime<Utc>,
    /// The command's name, recorded in history.
    pub(crate) action: String,
    /// Entity writes, each with its precondition.
    pub(crate) writes: Vec<Write>,
    /// One entry per entity written, made from the same old and new values.
    pub(crate) history: Vec<HistoryEntry>,
    /// Events, in order; the store gives them sequence numbers.
    pub(crate) events: Vec<DomainEvent>,
    /// A configuration change.
    pub(crate) config: Option<ConfigWrite>,
    /// Preconditions on what the decision read (checked, not written).
    pub(crate) guards: Vec<Guard>,
    /// Lookup keys whose version the commit bumps: those of every record
    /// written, before and after the write. Maintained by [`Self::insert`],
    /// [`Self::update`] and [`Self::delete`].
    pub(crate) touched: BTreeSet<String>,
    /// The phase steps of the leads written ([`PhaseStep::of_change`]): a
    /// store keeps them, replacing a step with the same key, in the same
    /// commit. Maintained by [`Self::insert`] and [`Self::update`].
    pub(crate) steps: Vec<PhaseStep>,
}

/// A record's stored form, which history compares: a change to the engine's
/// bookkeeping alone is written too.
fn to_json<T: Entity>(value: &T) -> Value {
    // Entities are plain data (strings, numbers, maps with string keys), which
    // serde_json always serializes.
    value.to_stored().unwrap_or(Value::Null)
}

/// The changes history shows: the bookkeeping fields stay off the wire.
fn shown(mut changes: Vec<FieldChange>) -> Vec<FieldChange> {
    changes.retain(|c| !crate::store::stored::BOOKKEEPING.contains(&c.field.as_str()));
    changes
}

impl UnitOfWork {
    /// An empty unit of work (the testing kit's, to drive a store directly).
    #[cfg(feature = "testing")]
    pub fn new(actor: &UserId, at: DateTime<Utc>, action: &str) -> Self {
        Self::empty(actor, at, action)
    }

    /// An empty unit of work.
    #[cfg(not(feature = "testing"))]
    pub(crate) fn new(actor: &UserId, at: DateTime<Utc>, action: &str) -> Self {
        Self::empty(actor, at, action)
    }

    /// Who issued the command.
    pub fn actor(&self) -> &UserId {
        &self.actor
    }

    /// When.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The command's name, recorded in history.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Entity writes, each with its precondition.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// One history entry per entity written.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// Events, in order; the store gives them sequence numbers.
    pub fn events(&self) -> &[DomainEvent] {
        &self.events
    }

    /// A configuration change.
    pub fn config(&self) -> Option<&ConfigWrite> {
        self.config.as_ref()
    }

    /// Preconditions on what the decision read (checked, not written).
    pub fn guards(&self) -> &[Guard] {
        &self.guards
    }

    /// Lookup keys whose version the commit bumps.
    pub fn touched(&self) -> &BTreeSet<String> {
        &self.touched
    }

    /// The phase steps of the leads written.
    pub fn steps(&self) -> &[PhaseStep] {
        &self.steps
    }

    fn empty(actor: &UserId, at: DateTime<Utc>, action: &str) -> Self {
        Self {
            actor: actor.clone(),
            at,
            action: action.to_owned(),
            writes: Vec::new(),
            history: Vec::new(),
            events: Vec::new(),
            config: None,
            guards: Vec::new(),
            touched: BTreeSet::new(),
            steps: Vec::new(),
        }
    }

    fn record_history(&mut self, entity: EntityRef, version: u64, changes: Vec<FieldChange>) {
        self.history.push(HistoryEntry {
            entity,
            version,
            actor: self.actor.clone(),
            at: self.at,
            action: self.action.clone(),
            changes,
        });
    }

    /// Inserts a new record at version 1; history lists every field.
    pub fn insert<T: Entity>(&mut self, record: &T) {
        let mut rec: Record = record.clone().into();
        rec.set_version(1);
        let changes = diff(&Value::Null, &to_json(record));
        self.record_history(rec.entity(), 1, shown(changes));
        self.touched.extend(rec.lookup_keys());
        if let Record::Lead(lead) = &rec {
            self.steps.extend(PhaseStep::of_change(None, lead, self.at));
        }
        self.writes.push(Write::Put {
            record: rec,
            expected: None,
        });
    }

    /// Writes `new` over `old`: `new` gets version `old.version + 1`, and the
    /// changed fields are recorded. Returns the names of the changed fields;
    /// when nothing changed, nothing is written, `new` keeps `old`'s version,
    /// and the list is empty.
    pub fn update<T: Entity>(&mut self, old: &T, new: &mut T) -> Vec<String> {
        new.set_version(old.version());
        let changes = diff(&to_json(old), &to_json(new));
        if changes.is_empty() {
            return Vec::new();
        }
        let version = old.version() + 1;
        new.set_version(version);
        let changes = shown(changes);
        let fields = changes.iter().map(|c| c.field.clone()).collect();
        let old_rec: Record = old.clone().into();
        let new_rec: Record = new.clone().into();
        self.record_history(old_rec.entity(), version, changes);
        self.touched.extend(old_rec.lookup_keys());
        self.touched.extend(new_rec.lookup_keys());
        if let (Record::Lead(o), Record::Lead(n)) = (&old_rec, &new_rec) {
            self.steps.extend(PhaseStep::of_change(Some(o), n, self.at));
        }
        self.writes.push(Write::Put {
            record: new_rec,
            expected: Some(old.version()),
        });
        fields
    }

    /// Deletes a record; history keeps its last field values as `old`.
    pub fn delete<T: Entity>(&mut self, old: &T) {
        let rec: Record = old.clone().into();
        let changes = diff(&to_json(old), &Value::Null);
        self.record_history(rec.entity(), old.version() + 1, shown(changes));
        self.touched.extend(rec.lookup_keys());
        if let Record::Lead(lead) = &rec {
            self.steps.extend(PhaseStep::of_delete(lead, self.at));
        }
        self.writes.push(Write::Delete {
            entity: rec.entity(),
            expected: old.version(),
        });
    }

    /// Appends the work of a later step of the same command (a rule applied
    /// to a record this unit already writes): its writes, history, events,
    /// steps, touched keys and guards. A write of a record this unit already
    /// writes replaces that write's record and keeps its precondition, so a
    /// record inserted and then changed is inserted once, at its last version,
    /// with a history entry for each step. Other writes are appended.
    pub fn absorb(&mut self, later: UnitOfWork) {
        for write in later.writes {
            let entity = write.entity();
            let earlier = self.writes.iter_mut().find_map(|w| match w {
                Write::Put { record, .. } if record.entity() == entity => Some(record),
                _ => None,
            });
            match (earlier, write) {
                (Some(record), Write::Put { record: newer, .. }) => *record = newer,
                (_, other) => self.writes.push(other),
            }
        }
        self.history.extend(later.history);
        self.events.extend(later.events);
        self.steps.extend(later.steps);
        self.touched.extend(later.touched);
        self.guard(later.guards);
    }

    /// Appends a domain event.
    pub fn event(&mut self, event: DomainEvent) {
        self.events.push(event);
    }

    /// The record this unit of work writes for an entity, if any.
    pub fn written(&self, entity: EntityRef) -> Option<&Record> {
        self.writes.iter().find_map(|w| match w {
            Write::Put { record, .. } if record.entity() == entity => Some(record),
            _ => None,
        })
    }

    /// Guards the commit with what the decision read: records (except those
    /// the unit writes, whose writes carry their own precondition) and lookup
    /// keys. A record or key guarded twice keeps the first version read.
    pub fn guard(&mut self, guards: impl IntoIterator<Item = Guard>) {
        for g in guards {
            let dup = self.guards.iter().any(|x| match (x, &g) {
                (Guard::Record { entity: a, .. }, Guard::Record { entity: b, .. }) => a == b,
                (Guard::Key { key: a, .. }, Guard::Key { key: b, .. }) => a == b,
                _ => false,
            });
            let written =
                matches!(&g, Guard::Record { entity, .. } if self.writes.iter().any(|w| w.entity() == *entity));
            if !dup && !written {
                self.guards.push(g);
            }
        }
    }

    /// Whether the unit of work changes anything.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.config.is_none() && self.events.is_empty()
    }
}
