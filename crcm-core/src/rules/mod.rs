//! Every business rule of crcm, as pure functions: loaded records and a command
//! in, a [`UnitOfWork`] (entity writes + history + events) or a typed refusal
//! out. No I/O happens here; the [`Engine`](crate::Engine) loads what a rule
//! needs, calls it, and commits the result.

use chrono::{DateTime, Utc};

use crate::domain::config::Config;
use crate::domain::event::DomainEvent;
use crate::domain::ids::LeadId;
use crate::domain::lead::{Lead, LeadStatus};
use crate::rules::access::Actor;
use crate::store::uow::UnitOfWork;

/// What every rule needs: who acts, under which configuration, at what time.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The actor.
    pub actor: &'a Actor,
    /// The configuration in force.
    pub config: &'a Config,
    /// The time of the command.
    pub now: DateTime<Utc>,
    /// The command's name, recorded in history (e.g. `qualify_lead`).
    pub action: &'static str,
}

impl Ctx<'_> {
    /// An empty unit of work of this command.
    fn uow(&self) -> UnitOfWork {
        UnitOfWork::new(&self.actor.user, self.now, self.action)
    }

    /// Writes a changed lead (see [`UnitOfWork::update`]), stamping when it
    /// closed: now when the change closes it (converted, disqualified,
    /// merged, or into a closing phase), kept while it stays closed, cleared
    /// when it opens again. Every rule writes leads through here.
    fn update_lead(&self, uow: &mut UnitOfWork, old: &Lead, next: &mut Lead) -> Vec<String> {
        next.closed_at = match (old.is_closed(self.config), next.is_closed(self.config)) {
            (_, false) => None,
            (false, true) => Some(self.now),
            (true, true) => old.closed_at,
        };
        uow.update(old, next)
    }
}

/// Records a lead's status change as an event (history comes from the write).
fn status_changed(uow: &mut UnitOfWork, lead: LeadId, from: LeadStatus, to: LeadStatus) {
    uow.event(DomainEvent::LeadStatusChanged { lead, from, to });
}

pub mod access;
pub mod communication;
pub mod config;
pub mod customer;
pub mod deal;
pub mod error;
pub(crate) mod fields;
pub mod lead;
pub mod machine;
pub mod matching;
pub mod qualify;
pub mod reason;
#[cfg(test)]
mod test_support;
pub mod timeline;

pub use communication::*;
pub use config::*;
pub use customer::*;
pub use deal::*;
pub use lead::*;
pub use qualify::*;
pub use reason::*;
pub use timeline::*;
