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

use serde::Deserialize;
use serde::Serialize;

use crate::domain::config::PhaseRef;
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::input::LeadPatch;
use crate::engine::commands::{Command, DisqualifyLead, MoveLeadPhase, ReassignLead, UpdateLead};
use crate::engine::query::LeadQuery;
use crate::rules::error::Error;

/// The most leads one bulk action takes.
pub const MAX_BULK: usize = 10_000;

/// What to do to each lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum BulkOutcome {
    /// The command applied; the lead is now at this version.
    Applied {
        /// The lead's version after the change.
        version: u64,
    },
    /// The command was refused (or failed); the lead is unchanged.
    Refused {
        /// Why.
        error: Error,
    },
}

/// One lead's line of a bulk report.
#[derive(Debug, Serialize)]
pub struct BulkItem {
    /// The lead.
    pub lead: LeadId,
    /// Applied or refused.
    #[serde(flatten)]
    pub outcome: BulkOutcome,
}

/// The result of a bulk action: a line per lead, in target order.
#[derive(Debug, Default, Serialize)]
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
