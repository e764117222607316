//! Identifiers: UUID v7 newtypes for entities, and validated codes for reference data.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::error::InputError;

macro_rules! entity_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        /// Read from the UUID's text; another text is `invalid_id`.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::domain::error::deserialize_checked(deserializer, |text| text.parse())
            }
        }

        impl $name {
            /// A new, time-ordered identifier (UUID v7).
            // No `Default`: an id that is a fresh random value must be asked
            // for by name, never filled in by `..Default::default()`.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                #[cfg(feature = "testing")]
                if let Some(id) = scripted::next() {
                    return Self(id);
                }
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", $prefix, self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InputError;

            /// Reads the UUID, with or without the prefix that `Display` writes.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let text = s.trim();
                let bare = text.strip_prefix(concat!($prefix, ":")).unwrap_or(text);
                Uuid::parse_str(bare).map(Self).map_err(|_| InputError::InvalidId {
                    kind: $prefix.to_owned(),
                    value: s.chars().take(80).collect(),
                })
            }
        }
    };
}

/// Ids from a counter instead of the clock and randomness, so that a test's
/// JSON is the same on every run and every backend (the wire samples).
#[cfg(feature = "testing")]
pub(crate) mod scripted {
    use std::cell::Cell;

    use uuid::Uuid;

    thread_local! {
        static NEXT: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// The next scripted id on this thread, when a script runs.
    pub(crate) fn next() -> Option<Uuid> {
        NEXT.with(|next| {
            let n = next.get()?;
            next.set(Some(n + 1));
            // A valid UUID v7: the milliseconds count up from a fixed instant
            // (2026-03-02), so scripted ids sort in creation order.
            let mut tail = [0u8; 10];
            tail[2..].copy_from_slice(&n.to_be_bytes());
            Some(uuid::Builder::from_unix_timestamp_millis(1_772_409_600_000 + n, &tail).into_uuid())
        })
    }

    /// Starts (`Some(first)`) or stops (`None`) the script on this thread.
    pub(crate) fn set(first: Option<u64>) {
        NEXT.with(|next| next.set(first));
    }
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
entity_id!(
    /// Identifies one CSV import, so that an interrupted import can be
    /// resumed (see [`crate::engine::import`]).
    ImportId, "import"
);

/// A user of the host application. crcm does not manage users; it stores the
/// host's user identifier as given (trimmed, non-empty, at most 128 characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(into = "String")]
#[cfg_attr(feature = "schema", schemars(from = "String"))]
pub struct UserId(String);

/// Read from its text; another text is `invalid_user_id`.
impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::domain::error::deserialize_checked(deserializer, Self::new)
    }
}

impl UserId {
    /// Whether a literal is a valid user id, checked when the program
    /// compiles (see [`user_id!`](crate::user_id)): not empty, no surrounding
    /// ASCII white space, no control character, at most 128 characters.
    pub const fn is_valid_literal(s: &str) -> bool {
        let b = s.as_bytes();
        if b.is_empty() || b[0].is_ascii_whitespace() || b[b.len() - 1].is_ascii_whitespace() {
            return false;
        }
        let mut chars = 0;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            // ASCII controls, and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F).
            if c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < b.len() && b[i + 1] >= 0x80 && b[i + 1] <= 0x9f) {
                return false;
            }
            if c & 0xc0 != 0x80 {
                chars += 1;
            }
            i += 1;
        }
        chars <= crate::domain::limits::USER_ID
    }

    /// A user id from a literal [`Self::is_valid_literal`] accepted; use
    /// [`user_id!`](crate::user_id), which checks it at compile time.
    #[doc(hidden)]
    pub fn from_checked_literal(s: &'static str) -> Self {
        Self(s.to_owned())
    }

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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(into = "String")]
#[cfg_attr(feature = "schema", schemars(from = "String"))]
pub struct Code(String);

/// Read from its text; another text is `invalid_code`.
impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::domain::error::deserialize_checked(deserializer, Self::new)
    }
}

impl Code {
    /// Whether `s` is a valid code: 1 to 64 ASCII letters, digits, `_`, `-`
    /// or `.`. Usable in constants (see [`code!`](crate::code)).
    pub const fn is_valid(s: &str) -> bool {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 64 {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.') {
                return false;
            }
            i += 1;
        }
        true
    }

    /// A code from a literal [`Self::is_valid`] accepted; use
    /// [`code!`](crate::code), which checks it at compile time.
    #[doc(hidden)]
    pub fn from_checked_literal(s: &'static str) -> Self {
        Self(s.to_owned())
    }

    /// Validates and wraps a code.
    pub fn new(raw: impl AsRef<str>) -> Result<Self, InputError> {
        let s = raw.as_ref();
        if Self::is_valid(s) {
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

/// A [`Code`] from a string literal, checked when the program compiles (an
/// invalid literal is a compile error, so no `unwrap` is needed):
///
/// ```
/// let b2b = crcm_core::code!("b2b");
/// assert_eq!(b2b.as_str(), "b2b");
/// ```
///
/// ```compile_fail
/// let bad = crcm_core::code!("not a code");
/// ```
#[macro_export]
macro_rules! code {
    ($literal:literal) => {{
        const _: () = assert!(
            $crate::domain::ids::Code::is_valid($literal),
            concat!("invalid code literal: ", $literal)
        );
        $crate::domain::ids::Code::from_checked_literal($literal)
    }};
}

/// A [`UserId`] from a string literal, checked when the program compiles:
///
/// ```
/// let ann = crcm_core::user_id!("ann");
/// assert_eq!(ann.as_str(), "ann");
/// ```
///
/// ```compile_fail
/// let bad = crcm_core::user_id!("");
/// ```
#[macro_export]
macro_rules! user_id {
    ($literal:literal) => {{
        const _: () = assert!(
            $crate::domain::ids::UserId::is_valid_literal($literal),
            concat!("invalid user id literal: ", $literal)
        );
        $crate::domain::ids::UserId::from_checked_literal($literal)
    }};
}

/// Builds a [`Code`] from a literal known to be valid (used for built-in defaults).
pub(crate) fn code(s: &'static str) -> Code {
    Code(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compile_time_checks_agree_with_the_parsers() {
        for s in [
            "b2b",
            "A.b-c_1",
            "",
            "a b",
            "é",
            "x".repeat(64).as_str(),
            "x".repeat(65).as_str(),
            "tab\t",
        ] {
            assert_eq!(Code::is_valid(s), Code::new(s).is_ok(), "code {s:?}");
        }
        for s in [
            "ann",
            "Ann Smith",
            "ünïcode",
            "",
            " ann",
            "ann ",
            "a\u{7}b",
            "a\u{85}b",
            "é".repeat(128).as_str(),
            "é".repeat(129).as_str(),
        ] {
            // A literal is taken as written: no surrounding white space to trim.
            let parses_as_written = UserId::new(s).is_ok_and(|u| u.as_str() == s);
            assert_eq!(UserId::is_valid_literal(s), parses_as_written, "user id {s:?}");
        }
        assert_eq!(crate::code!("b2b"), Code::new("b2b").unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            crate::user_id!("ann"),
            UserId::new("ann").unwrap_or_else(|e| panic!("{e}"))
        );
    }

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
