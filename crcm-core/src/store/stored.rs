//! The stored form of a record: its JSON form, plus the engine's bookkeeping
//! that stays off the wire (a lead's `reopen_point`, a deal's
//! `probability_manual`). Backends write and read record bodies only through
//! [`StoredForm`], so a store keeps everything and a response shows only the
//! record's data. The stored form's keys are the record's JSON keys, so the
//! bodies written before this split read back unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::activity::{Activity, Communication, FollowUp};
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::lead::{Lead, ReopenPoint};

/// The fields of the stored form that are not on the wire; history does not
/// list their changes either.
pub const BOOKKEEPING: &[&str] = &["reopen_point", "probability_manual"];

/// A record's stored form (sealed: the six entities).
pub trait StoredForm: Sized + sealed::Sealed {
    /// The stored form as a JSON value.
    fn to_stored(&self) -> serde_json::Result<Value>;
    /// Reads the stored form.
    fn from_stored(value: Value) -> serde_json::Result<Self>;

    /// The stored form as JSON text.
    fn to_stored_json(&self) -> serde_json::Result<String> {
        self.to_stored().and_then(|v| serde_json::to_string(&v))
    }

    /// Reads the stored form from JSON text.
    fn from_stored_json(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text).and_then(Self::from_stored)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Records whose stored form is their JSON form.
macro_rules! plain_stored {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl StoredForm for $ty {
            fn to_stored(&self) -> serde_json::Result<Value> {
                serde_json::to_value(self)
            }
            fn from_stored(value: Value) -> serde_json::Result<Self> {
                serde_json::from_value(value)
            }
        }
    )*};
}
plain_stored!(Customer, Activity, FollowUp, Communication);

#[derive(Serialize)]
struct LeadOut<'a> {
    #[serde(flatten)]
    lead: &'a Lead,
    reopen_point: &'a Option<ReopenPoint>,
}

#[derive(Deserialize)]
struct LeadIn {
    #[serde(flatten)]
    lead: Lead,
    #[serde(default)]
    reopen_point: Option<ReopenPoint>,
}

impl sealed::Sealed for Lead {}
impl StoredForm for Lead {
    fn to_stored(&self) -> serde_json::Result<Value> {
        serde_json::to_value(LeadOut {
            lead: self,
            reopen_point: &self.reopen_point,
        })
    }
    fn from_stored(value: Value) -> serde_json::Result<Self> {
        let read: LeadIn = serde_json::from_value(value)?;
        Ok(Lead {
            reopen_point: read.reopen_point,
            ..read.lead
        })
    }
}

#[derive(Serialize)]
struct DealOut<'a> {
    #[serde(flatten)]
    deal: &'a Deal,
    probability_manual: bool,
}

#[derive(Deserialize)]
struct DealIn {
    #[serde(flatten)]
    deal: Deal,
    #[serde(default)]
    probability_manual: bool,
}

impl sealed::Sealed for Deal {}
impl StoredForm for Deal {
    fn to_stored(&self) -> serde_json::Result<Value> {
        serde_json::to_value(DealOut {
            deal: self,
            probability_manual: self.probability_manual,
        })
    }
    fn from_stored(value: Value) -> serde_json::Result<Self> {
        let read: DealIn = serde_json::from_value(value)?;
        Ok(Deal {
            probability_manual: read.probability_manual,
            ..read.deal
        })
    }
}
