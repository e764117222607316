//! Reverting an import (EspoCRM's "Revert Import"): every lead an import
//! created and nobody touched since is deleted; the others stay, each with
//! its reason.
//!
//! Each imported lead records its import and the version the import left
//! it at ([`Lead::import`](crate::domain::lead::Lead::import)). A lead still
//! at that version is untouched: it is deleted by the delete rule
//! ([`DeleteLead`] with `if_version`), with its history entry and
//! `LeadDeleted` event, each lead in its own unit of work. A lead edited,
//! moved or updated by a later import since is kept (`lead_changed`); so is
//! one with activities, follow-ups, communications or deals
//! (`lead_has_links`, as for any delete). Deleting is an admin's action, so a
//! revert is too. Run again, a revert finds only the leads it kept.

use serde::{Deserialize, Serialize};

use super::MAX_LISTED;
use crate::domain::ids::{ImportId, LeadId};
use crate::engine::Engine;
use crate::engine::commands::DeleteLead;
use crate::engine::query::{LeadQuery, LeadSort};
use crate::rules::access::{self, Action, Actor, Role};
use crate::rules::error::{Error, ErrorReport};
use crate::rules::machine::LeadError;
use crate::store::LeadFilter;

/// What reverting an import did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportRevert {
    /// The import.
    pub id: ImportId,
    /// Leads the import created that were deleted.
    pub removed: u64,
    /// Leads it created that stay: changed since, or linked to other records.
    pub kept: u64,
    /// The first [`MAX_LISTED`] of the leads kept, in lead-number order,
    /// each with why.
    pub kept_leads: Vec<KeptLead>,
}

/// A lead a revert left in place, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeptLead {
    /// The lead.
    pub lead: LeadId,
    /// Its number.
    pub number: u64,
    /// Why it stays: `lead_changed`, `lead_has_links`, ... as a request's
    /// error is answered.
    pub error: ErrorReport,
}

impl ImportRevert {
    /// One line for people: `import ID: removed 9240 leads, kept 2`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "import {}: removed {} leads, kept {}",
            self.id.0, self.removed, self.kept
        );
        if self.kept > 0 {
            line.push_str(" (changed since the import, or linked to other records)");
        }
        line
    }
}

impl Engine {
    /// Reverts an import (see the [module docs](crate::engine::import::revert)):
    /// deletes every lead the import created that is still as the import
    /// left it, and reports the others with their reasons. Admins only.
    /// The leads are those the import created when the revert starts, in
    /// lead-number order; an import id no lead has reverts nothing.
    pub async fn revert_import(&self, actor: &Actor, id: ImportId) -> Result<ImportRevert, Error> {
        access::require_role(actor, Role::Admin, Action::DeleteLead)?;
        let mut query = LeadQuery {
            filter: LeadFilter {
                import: Some(id),
                ..LeadFilter::default()
            },
            sort: LeadSort::Number,
            ..LeadQuery::default()
        };
        query.page.limit = crate::store::query::MAX_PAGE;
        // (lead, number, version now, version the import left)
        let mut leads: Vec<(LeadId, u64, u64, u64)> = Vec::new();
        loop {
            let page = self.leads(actor, &query).await?;
            leads.extend(page.items.iter().filter_map(|l| {
                let origin = l.import.filter(|o| o.id == id)?;
                Some((l.id, l.number, l.version, origin.version))
            }));
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => break,
            }
        }
        let mut report = ImportRevert {
            id,
            removed: 0,
            kept: 0,
            kept_leads: Vec::new(),
        };
        for (lead, number, version, imported) in leads {
            let outcome = if version == imported {
                self.run(
                    actor,
                    DeleteLead {
                        lead,
                        if_version: Some(imported),
                    },
                )
                .await
                .map(|_| ())
            } else {
                Err(LeadError::Changed {
                    number,
                    expected: imported,
                    found: version,
                }
                .into())
            };
            match outcome {
                Ok(()) => report.removed += 1,
                // The store failing is not a reason to keep a lead: stop, and
                // let the caller run the revert again (a conflict that
                // outlasted the retries is a lead another writer is changing:
                // kept).
                Err(Error::Store(e)) if !e.is_conflict() => return Err(Error::Store(e)),
                Err(e) => {
                    report.kept += 1;
                    if report.kept_leads.len() < MAX_LISTED {
                        report.kept_leads.push(KeptLead {
                            lead,
                            number,
                            error: e.report(),
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}
