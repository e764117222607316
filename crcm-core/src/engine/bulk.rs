//! Bulk actions: mark many leads lost, reassign, move to a phase, tag.
//!
//! Each lead is its own command, so its own unit of work: one refusal (a
//! closed lead, a lead the actor may not change, a conflict that outlasted
//! the retries) does not stop the others, and every lead gets its own line in
//! the [`BulkReport`], applied or refused with the typed error. A bulk action
//! over a query acts on the leads the query matched when the action started:
//! the ids are collected first, in lead-number order (a key no edit moves,
//! whatever the query's own sort), each lead once and none created after the
//! start, so leads the action or another writer changes meanwhile (a
//! reassignment that moves them out of "My leads", an edit that moves them in
//! an `updated` order) are neither skipped nor acted on twice. A lead another
//! writer changes so that it no longer matches before the collection reaches
//! it is not acted on.
//!
//! ```
//! # use crcm_core::prelude::*;
//! # use crcm_core::engine::bulk::{BulkAction, BulkTarget};
//! # use crcm_core::{code, user_id};
//! # async fn run(engine: &Engine, manager: &Actor) -> Result<(), crcm_core::Error> {
//! let mut stale = LeadQuery { min_days_in_phase: Some(90), open: Some(true), ..LeadQuery::default() };
//! stale.filter.owner = Some(user_id!("ben"));
//! let action = BulkAction::MarkLost { reason: code!("no_budget"), note: None };
//! let report = engine.bulk(manager, &BulkTarget::Query { query: stale }, &action).await?;
//! println!("{} marked lost, {} refused", report.applied, report.refused);
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::config::PhaseRef;
use crate::domain::error::InputError;
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::input::LeadPatch;
use crate::engine::Engine;
use crate::engine::commands::{Command, CommandOutput, DisqualifyLead, MoveLeadPhase, ReassignLead, UpdateLead};
use crate::engine::query::{LeadQuery, LeadSort};
use crate::rules::access::Actor;
use crate::rules::error::{Error, ErrorReport};
use crate::store::StoreExt;

/// The most leads one bulk action takes.
pub const MAX_BULK: usize = 10_000;

/// What to do to each lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum BulkAction {
    /// Disqualify ("mark lost") with one reason and note.
    MarkLost {
        /// The lost reason.
        reason: Code,
        /// The note (required by some reasons).
        #[serde(default)]
        note: Option<String>,
    },
    /// Give the leads another owner (manager).
    Reassign {
        /// The new owner.
        owner: UserId,
    },
    /// Move the leads to a phase.
    MoveToPhase {
        /// The phase.
        phase: PhaseRef,
        /// The closing reason, when the phase is a closing one.
        #[serde(default)]
        closing_reason: Option<Code>,
        /// The closing note.
        #[serde(default)]
        note: Option<String>,
    },
    /// Add tags.
    Tag {
        /// The tags to add.
        tags: BTreeSet<Code>,
    },
}

impl BulkAction {
    /// The command for one lead.
    pub fn command(&self, lead: LeadId) -> Command {
        match self {
            Self::MarkLost { reason, note } => Command::DisqualifyLead(DisqualifyLead {
                lead,
                reason: reason.clone(),
                note: note.clone(),
            }),
            Self::Reassign { owner } => Command::ReassignLead(ReassignLead {
                lead,
                owner: owner.clone(),
            }),
            Self::MoveToPhase {
                phase,
                closing_reason,
                note,
            } => Command::MoveLeadPhase(MoveLeadPhase {
                lead,
                phase: phase.clone(),
                closing_reason: closing_reason.clone(),
                note: note.clone(),
            }),
            Self::Tag { tags } => Command::UpdateLead(UpdateLead {
                lead,
                patch: LeadPatch {
                    add_tags: tags.clone(),
                    ..LeadPatch::default()
                },
            }),
        }
    }
}

/// Which leads.
// One per bulk action, never stored in bulk (see `Select`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum BulkTarget {
    /// These leads, in this order.
    Leads {
        /// Their ids.
        ids: Vec<LeadId>,
    },
    /// Every lead the query matches when the action starts (all its pages,
    /// collected first, in lead-number order).
    Query {
        /// The query.
        query: LeadQuery,
    },
}

/// What happened to one lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum BulkOutcome {
    /// The command applied; the lead is now at this version.
    Applied {
        /// The lead's version after the change.
        version: u64,
    },
    /// The command was refused (or failed); the lead is unchanged.
    Refused {
        /// Why: the error as data, as a request's error is answered.
        error: ErrorReport,
    },
}

/// One lead's line of a bulk report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkItem {
    /// The lead.
    pub lead: LeadId,
    /// Applied or refused.
    #[serde(flatten)]
    pub outcome: BulkOutcome,
}

/// The result of a bulk action: a line per lead, in target order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkReport {
    /// Per lead.
    pub items: Vec<BulkItem>,
    /// How many applied.
    pub applied: usize,
    /// How many were refused.
    pub refused: usize,
    /// For a query: the time its set was taken at (leads created later are
    /// not in it).
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

impl Engine {
    /// Applies one action to many leads, each in its own unit of work (see
    /// [`crate::engine::bulk`]): a report line per lead, applied or refused, in target
    /// order. A query target is read to the end first, so the action works
    /// on the set as it was when it started. More than [`MAX_BULK`]
    /// leads is refused before anything changes.
    pub async fn bulk(&self, actor: &Actor, target: &BulkTarget, action: &BulkAction) -> Result<BulkReport, Error> {
        let too_many = || {
            Error::Input(InputError::TooMany {
                field: "bulk target".into(),
                max: MAX_BULK,
            })
        };
        let mut ids: Vec<LeadId> = Vec::new();
        let mut as_of = None;
        match target {
            BulkTarget::Leads { ids: given } => {
                if given.len() > MAX_BULK {
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
                    let page = self.leads(actor, &q).await?;
                    ids.extend(
                        page.items
                            .iter()
                            .filter(|l| l.created_at <= started && seen.insert(l.id))
                            .map(|l| l.id),
                    );
                    if ids.len() > MAX_BULK {
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
                Err(error) => BulkOutcome::Refused { error: error.report() },
            };
            match outcome {
                BulkOutcome::Applied { .. } => report.applied += 1,
                BulkOutcome::Refused { .. } => report.refused += 1,
            }
            report.items.push(BulkItem { lead, outcome });
        }
        Ok(report)
    }
}
