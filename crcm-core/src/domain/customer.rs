//! Customers (seed 002 "account", seed 003 "partner") and their contacts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::contact::{Email, Phone};
use crate::domain::ids::{CustomerId, UserId};

/// A person at a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Role.
    pub job_title: String,
    /// E-mail.
    pub email: Option<Email>,
    /// Phone.
    pub phone: Option<Phone>,
}

/// A customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Customer {
    /// Identifier.
    pub id: CustomerId,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Name (company, or the person for private customers).
    pub name: String,
    /// Main e-mail, used to match leads.
    pub email: Option<Email>,
    /// Main phone, used to match leads.
    pub phone: Option<Phone>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// People at the customer.
    pub contacts: Vec<Contact>,
    /// Responsible user.
    pub owner: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The normalized e-mails the customer is reached at: its own and its
    /// contact persons'.
    pub fn emails(&self) -> std::collections::BTreeSet<String> {
        self.email
            .iter()
            .chain(self.contacts.iter().filter_map(|c| c.email.as_ref()))
            .map(|e| e.as_str().to_owned())
            .collect()
    }

    /// The E.164 phones the customer is reached at: its own and its contact
    /// persons'.
    pub fn phones(&self) -> std::collections::BTreeSet<String> {
        self.phone
            .iter()
            .chain(self.contacts.iter().filter_map(|c| c.phone.as_ref()))
            .map(|p| p.key().to_owned())
            .collect()
    }
}
