//! The query side of duplicates and inbound calls and e-mails (seeds 003,
//! 004): duplicate groups over the whole store, and the ranked candidates for
//! an inbound communication. The commands that act on them (merge, attach,
//! create a lead from, ignore) are in [`crate::commands`].

use serde::{Deserialize, Serialize};

use crate::domain::customer::Customer;
use crate::domain::lead::Lead;

/// What makes two leads duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DuplicateKey {
    /// The same normalized e-mail.
    Email,
    /// The same phone (E.164).
    Phone,
    /// The same company and contact name, compared without case and extra
    /// white space ([`company_contact_key`](crate::store::query::company_contact_key)).
    CompanyContact,
}

impl DuplicateKey {
    /// Every key, the default of [`Engine::duplicates`](crate::Engine::duplicates).
    pub const ALL: [DuplicateKey; 3] = [Self::Email, Self::Phone, Self::CompanyContact];
}

/// Open leads that share one e-mail, phone, or company and contact name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    /// What they share.
    pub key: DuplicateKey,
    /// The shared value.
    pub value: String,
    /// How many open leads share it.
    pub count: u64,
    /// The first of them, by number (at most [`GROUP_LEADS`]).
    pub leads: Vec<Lead>,
}

/// Leads listed per duplicate group.
pub const GROUP_LEADS: usize = 20;

/// Who an inbound communication may be from, best first: open leads with the
/// sender's e-mail or phone (the ones to attach to), then closed ones, then
/// customers with that e-mail or phone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommunicationMatches {
    /// Open leads, by number.
    pub open_leads: Vec<Lead>,
    /// Closed leads (converted, disqualified, merged, or in a closing phase), by number.
    pub closed_leads: Vec<Lead>,
    /// Customers, by id.
    pub customers: Vec<Customer>,
}
