//! The input records commands carry: a new lead, a lead or deal patch, the
//! Qualify choices, a new customer or contact, an inbound communication.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::activity::CommunicationKind;
use crate::domain::custom::CustomValue;
use crate::domain::error::InputError;
use crate::domain::ids::{Code, CustomerId, UserId};
use crate::domain::money::Money;

/// Distinguishes "absent" (leave unchanged) from `null` (clear) in patches.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A probability in a request: 0 to 100, or `null`. Any other number is
/// `probability_out_of_range`, however large (a JSON client cannot tell a
/// byte from any other number).
pub(crate) fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let Some(given) = Option::<i64>::deserialize(d)? else {
        return Ok(None);
    };
    match u8::try_from(given) {
        Ok(p) if p <= 100 => Ok(Some(p)),
        _ => {
            let e = InputError::ProbabilityOutOfRange { value: given };
            let message = e.to_string();
            crate::domain::error::keep_refusal(e);
            Err(serde::de::Error::custom(message))
        }
    }
}

/// [`probability`] in a patch: absent leaves it, `null` clears it.
fn patch_probability<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u8>>, D::Error> {
    probability(d).map(Some)
}

/// The fields of a new lead. Everything but a name or company is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NewLead {
    /// Short title.
    pub title: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// E-mail as entered (validated and normalized).
    pub email: Option<String>,
    /// Phone as entered (validated, normalized to E.164).
    pub phone: Option<String>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// Zone.
    pub zone: String,
    /// Source code.
    pub source: Option<Code>,
    /// Priority code.
    pub priority: Option<Code>,
    /// Description.
    pub description: String,
    /// Owner (default: the actor; another owner needs a manager).
    pub owner: Option<UserId>,
    /// Record team.
    pub team: BTreeSet<UserId>,
    /// Tag codes.
    pub tags: BTreeSet<Code>,
    /// Expected revenue.
    pub expected_revenue: Option<Money>,
    /// Probability 0..=100.
    #[serde(deserialize_with = "probability")]
    pub probability: Option<u8>,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
    /// Account type (default: the only account type, when there is exactly one).
    pub account_type: Option<Code>,
    /// An existing customer this lead is for (seed 003 "Partner, if known");
    /// Qualify then skips the customer step.
    pub customer: Option<CustomerId>,
    /// Custom field values.
    pub custom: BTreeMap<Code, CustomValue>,
    /// Its identity in the system it comes from; no other lead may have it
    /// (refused with `external_ref_taken`).
    pub external_ref: Option<crate::domain::lead::ExternalRef>,
}

/// Changes to a lead's fields: an absent field stays, `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
#[allow(clippy::option_option)]
pub struct LeadPatch {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// E-mail (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    /// Phone (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Source (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub source: Option<Option<Code>>,
    /// Priority (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub priority: Option<Option<Code>>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags (replaces the set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeSet<Code>>,
    /// Tags to add to the lead's (after `tags`, if both are given).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub add_tags: BTreeSet<Code>,
    /// Expected revenue (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_revenue: Option<Option<Money>>,
    /// Probability (`null` clears).
    #[serde(deserialize_with = "patch_probability", skip_serializing_if = "Option::is_none")]
    pub probability: Option<Option<u8>>,
    /// Expected close (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<Option<NaiveDate>>,
    /// Custom values to set (`null` removes one).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<Code, Option<CustomValue>>,
}

/// Qualify's customer step (seed 001 "Step 1 — Customer").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
pub enum CustomerChoice {
    /// Create a customer when none matches; when some match, refuse and list
    /// them so the user can choose.
    #[default]
    Auto,
    /// Create a new customer even if some match.
    Create,
    /// Link this existing customer.
    Link {
        /// The customer.
        customer: CustomerId,
    },
}

/// Qualify's deal step (seed 001 "Step 2 — Deal").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DealDraft {
    /// Title (default: the lead's company, else its name).
    pub title: Option<String>,
    /// Value.
    pub value: Option<Money>,
    /// Expected close date.
    pub expected_close: Option<NaiveDate>,
}

/// A new customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NewCustomer {
    /// Name (required).
    pub name: String,
    /// E-mail as entered.
    pub email: Option<String>,
    /// Phone as entered.
    pub phone: Option<String>,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
}

/// A new contact person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NewContact {
    /// Name (required).
    pub name: String,
    /// Role.
    pub job_title: String,
    /// E-mail as entered.
    pub email: Option<String>,
    /// Phone as entered.
    pub phone: Option<String>,
}

/// An inbound call or e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InboundCommunication {
    /// Call or e-mail.
    pub kind: CommunicationKind,
    /// Sender's e-mail as received.
    #[serde(default)]
    pub from_email: Option<String>,
    /// Caller's number as received.
    #[serde(default)]
    pub from_phone: Option<String>,
    /// Subject or summary.
    #[serde(default)]
    pub summary: String,
    /// Body or notes.
    #[serde(default)]
    pub body: String,
    /// When it arrived (default: now).
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// Changes to a deal's fields: an absent field stays, `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
#[allow(clippy::option_option)]
pub struct DealPatch {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Value (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub value: Option<Option<Money>>,
    /// Expected close (`null` clears).
    #[serde(deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<Option<NaiveDate>>,
}
