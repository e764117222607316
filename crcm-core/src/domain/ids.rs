//! Identifiers: UUID v7 newtypes for entities, and validated codes for reference data.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::error::InputError;

macro_rules! entity_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered identifier (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", $prefix, self.0)
            }
        }
    };
}

entity_id!(
    /// Identifies a [`Lead`](crate::Lead).
    LeadId, "lead"
);
entity_id!(
    /// Identifies a [`Customer`](crate::Customer).
    CustomerId, "customer"
);
entity_id!(
    /// Identifies a [`Deal`](crate::Deal).
    DealId, "deal"
);
entity_id!(
    /// Identifies an [`Activity`](crate::Activity).
    ActivityId, "activity"
);
entity_id!(
    /// Identifies a [`FollowUp`](crate::FollowUp).
    FollowUpId, "follow-up"
);
entity_id!(
    /// Identifies an inbound [`Communication`](crate::Communication).
    CommunicationId, "communication"
);

/// A user of the host application. crcm does not manage users; it stores the
/// host's user identifier as given (trimmed, non-empty, at most 128 characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Validates and wraps a user identifier.
    pub fn new(raw: impl AsRef<str>) -> Result<Self, InputError> {
        let trimmed = raw.as_ref().trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > crate::domain::limits::USER_ID
            || trimmed.chars().any(char::is_control)
        {
            return Err(InputError::InvalidUserId {
                value: raw.as_ref().to_owned(),
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The code of a reference-data item (account type, phase, reason, source,
/// priority, tag, pipeline, stage): 1 to 64 characters of letters, digits,
/// `_`, `-` or `.`, case preserved. Codes are what the store and the C ABI use;
/// labels are for people.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    /// Validates and wraps a code.
    pub fn new(raw: impl AsRef<str>) -> Result<Self, InputError> {
        let s = raw.as_ref();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InputError::InvalidCode { value: s.to_owned() })
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for Code {
    type Error = InputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Code> for String {
    fn from(value: Code) -> Self {
        value.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds a [`Code`] from a literal known to be valid (used for built-in defaults).
pub(crate) fn code(s: &'static str) -> Code {
    Code(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_the_documented_alphabet_only() {
        assert_eq!(
            Code::new("Send_Quote-2.a").map(String::from),
            Ok("Send_Quote-2.a".to_owned())
        );
        assert!(matches!(Code::new(""), Err(InputError::InvalidCode { .. })));
        assert!(matches!(Code::new("has space"), Err(InputError::InvalidCode { .. })));
        assert!(matches!(Code::new("x".repeat(65)), Err(InputError::InvalidCode { .. })));
    }

    #[test]
    fn user_ids_are_trimmed_and_bounded() {
        assert_eq!(
            UserId::new("  ann ").map(|u| u.as_str().to_owned()),
            Ok("ann".to_owned())
        );
        assert!(UserId::new("   ").is_err());
        assert!(UserId::new("u".repeat(129)).is_err());
    }

    #[test]
    fn entity_ids_are_time_ordered() {
        let a = LeadId::new();
        let b = LeadId::new();
        assert!(a < b, "UUID v7 ids sort by creation time");
        assert!(a.to_string().starts_with("lead:"));
    }
}
