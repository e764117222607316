//! Phase steps: each stay of a lead in one phase, from the moment it entered
//! to the moment it left, derived from the lead's phase history.
//!
//! The funnel ("how many leads reached each phase") and time in phase ("how
//! long leads stayed") are reports over a lead's past, which the lead record
//! no longer holds. [`UnitOfWork`](crate::store::uow::UnitOfWork) derives the
//! steps of every lead it writes ([`PhaseStep::of_change`]) and a store keeps
//! them next to the leads, in the same commit, so both reports are one grouped
//! count ([`Tally::PhaseReach`](crate::store::tally::Tally::PhaseReach),
//! [`Tally::PhaseTime`](crate::store::tally::Tally::PhaseTime)).
//! [`PhaseStep::replay`] derives the same steps from history entries: the
//! reference the conformance suite checks stores against, and the way a store
//! written by an older build fills them in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::PhaseRef;
use crate::domain::history::HistoryEntry;
use crate::domain::ids::LeadId;
use crate::domain::lead::Lead;

/// One stay of a lead in a phase. A store keeps one per (lead, phase, entered
/// at): a later step with the same key (the stay, now ended) replaces it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PhaseStep {
    /// The lead.
    pub lead: LeadId,
    /// The phase (with its account type).
    pub phase: PhaseRef,
    /// When the lead was created (the funnel's cohort).
    pub lead_created: DateTime<Utc>,
    /// When it entered the phase.
    pub entered_at: DateTime<Utc>,
    /// When it left (`None`: it is still there).
    pub left_at: Option<DateTime<Utc>>,
}

/// The part of a lead the steps follow.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Position {
    phase: Option<PhaseRef>,
    entered: DateTime<Utc>,
    created: DateTime<Utc>,
}

impl Position {
    fn of(lead: &Lead) -> Self {
        Self {
            phase: lead.phase.clone(),
            entered: lead.phase_entered_at,
            created: lead.created_at,
        }
    }
}

/// The steps one change writes: the stay it ends and the stay it begins.
fn steps_between(lead: LeadId, old: Option<&Position>, new: &Position, at: DateTime<Utc>) -> Vec<PhaseStep> {
    let moved = old.is_none_or(|o| (&o.phase, o.entered) != (&new.phase, new.entered));
    if !moved {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(o) = old
        && let Some(phase) = &o.phase
    {
        out.push(PhaseStep {
            lead,
            phase: phase.clone(),
            lead_created: o.created,
            entered_at: o.entered,
            left_at: Some(at.max(o.entered)),
        });
    }
    if let Some(phase) = &new.phase {
        out.push(PhaseStep {
            lead,
            phase: phase.clone(),
            lead_created: new.created,
            entered_at: new.entered,
            left_at: None,
        });
    }
    out
}

impl PhaseStep {
    /// The store key: one step per lead, phase and entry time.
    pub fn key(&self) -> (LeadId, &PhaseRef, DateTime<Utc>) {
        (self.lead, &self.phase, self.entered_at)
    }

    /// Whole seconds in the phase, once it was left: from the second it
    /// entered to the second it left. Counted between whole seconds so that
    /// the microsecond that orders two moves made at once (an import passing
    /// the phases before a lead's own at its creation) does not shorten a
    /// stay of exactly 45 days to 44 days, 23 hours and 59 seconds.
    pub fn seconds(&self) -> Option<i64> {
        self.left_at
            .map(|l| l.timestamp().saturating_sub(self.entered_at.timestamp()).max(0))
    }

    /// Whole hours in the phase (rounded down), once it was left: the
    /// resolution of the median in
    /// [`PhaseTimeTally`](crate::store::tally::PhaseTimeTally).
    pub fn hours(&self) -> Option<i64> {
        self.seconds().map(|s| s / 3600)
    }

    /// The steps a write of a lead produces, `old` being the stored lead
    /// (`None` on creation) and `at` the time of the change: when the lead
    /// changed phase (or re-entered one), the stay it left, now ended, and the
    /// stay it began. Nothing when its phase did not change.
    pub fn of_change(old: Option<&Lead>, new: &Lead, at: DateTime<Utc>) -> Vec<PhaseStep> {
        steps_between(new.id, old.map(Position::of).as_ref(), &Position::of(new), at)
    }

    /// The step a deletion writes: it ends the lead's stay in its phase, as
    /// replaying the deletion's history entry does. A deleted lead's steps
    /// stay, with its history: the funnel and time in phase count every lead
    /// that reached a phase.
    pub fn of_delete(old: &Lead, at: DateTime<Utc>) -> Vec<PhaseStep> {
        let gone = Position {
            phase: None,
            ..Position::of(old)
        };
        steps_between(old.id, Some(&Position::of(old)), &gone, at)
    }

    /// The steps of one lead from its history entries (in version order), as
    /// a store holds them after applying [`PhaseStep::of_change`] for each.
    /// Entries that are not about the lead's phase are passed over.
    pub fn replay(lead: LeadId, history: &[HistoryEntry]) -> Vec<PhaseStep> {
        let mut steps: BTreeMap<(PhaseRef, DateTime<Utc>), PhaseStep> = BTreeMap::new();
        let mut current: Option<Position> = None;
        for entry in history {
            let mut next = current.clone().unwrap_or(Position {
                phase: None,
                entered: entry.at,
                created: entry.at,
            });
            for change in &entry.changes {
                // A field that does not read as its type keeps the value
                // before: history is written by this crate, so it always reads.
                match change.field.as_str() {
                    "phase" => {
                        if let Ok(p) = change.new_as::<PhaseRef>() {
                            next.phase = p;
                        }
                    }
                    "phase_entered_at" => {
                        if let Ok(Some(t)) = change.new_as::<DateTime<Utc>>() {
                            next.entered = t;
                        }
                    }
                    "created_at" => {
                        if let Ok(Some(t)) = change.new_as::<DateTime<Utc>>() {
                            next.created = t;
                        }
                    }
                    _ => {}
                }
            }
            for step in steps_between(lead, current.as_ref(), &next, entry.at) {
                steps.insert((step.phase.clone(), step.entered_at), step);
            }
            current = Some(next);
        }
        steps.into_values().collect()
    }
}
