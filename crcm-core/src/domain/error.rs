//! [`InputError`]: refused input, raised wherever a value is parsed or
//! checked (ids, contact data, money, custom fields, text limits).

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

/// The kinds of reference data a code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// An account type.
    AccountType,
    /// A lead source.
    LeadSource,
    /// A priority.
    Priority,
    /// A tag.
    Tag,
    /// A pipeline.
    Pipeline,
}

impl std::fmt::Display for ReferenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AccountType => "account type",
            Self::LeadSource => "lead source",
            Self::Priority => "priority",
            Self::Tag => "tag",
            Self::Pipeline => "pipeline",
        })
    }
}

/// Refused input: a field whose value is malformed or missing.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum InputError {
    /// An e-mail address that is not valid.
    #[error("invalid e-mail address {value:?}: {reason}")]
    InvalidEmail {
        /// The text given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A phone number that cannot be parsed or is not valid for its region.
    #[error("invalid phone number {value:?}: {reason}")]
    InvalidPhone {
        /// The text given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A region code (ISO 3166 alpha-2) the phone library does not know.
    #[error("unknown phone region {value:?}; use an ISO 3166 code such as US or NL")]
    InvalidRegion {
        /// The text given.
        value: String,
    },
    /// A reference-data code with characters outside `A-Z a-z 0-9 _ - .` or of the wrong length.
    #[error("invalid code {value:?}: use 1 to 64 letters, digits, '_', '-' or '.'")]
    InvalidCode {
        /// The text given.
        value: String,
    },
    /// A user identifier that is empty or longer than 128 characters.
    #[error("invalid user id {value:?}")]
    InvalidUserId {
        /// The text given.
        value: String,
    },
    /// A currency code that is not an ISO 4217 currency with a minor unit
    /// (unknown codes, and codes such as XAU or XXX that are not money one
    /// pays with, are refused).
    #[error("invalid currency {value:?}: use an ISO 4217 currency code such as EUR, JPY or KWD")]
    InvalidCurrency {
        /// The text given.
        value: String,
    },
    /// A negative amount of money.
    #[error("amount must not be negative (got {minor} minor units)")]
    NegativeAmount {
        /// The amount given.
        minor: i64,
    },
    /// A probability outside 0..=100.
    #[error("probability must be between 0 and 100 (got {value})")]
    ProbabilityOutOfRange {
        /// The value given.
        value: i64,
    },
    /// A required field left empty.
    #[error("{field} is required")]
    Required {
        /// The field's name.
        field: String,
    },
    /// Fields of which at least one must be filled, all left empty (a lead
    /// needs a contact name or a company).
    #[error("one of {} is required", .fields.join(", "))]
    OneOfRequired {
        /// The fields' names.
        fields: Vec<String>,
    },
    /// A text longer than its field allows.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// The field's name.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A text holds a control character (NUL, escape, ...; line breaks and
    /// tabs are allowed in multi-line texts only).
    #[error("{field} holds the control character U+{code_point:04X}")]
    ControlCharacter {
        /// The field's name.
        field: String,
        /// The character's code point.
        code_point: u32,
    },
    /// A list holds more items than allowed.
    #[error("{field} holds more than {max} items")]
    TooMany {
        /// The field's name.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A page cursor that is not one crcm wrote (e.g. cut or edited text).
    #[error("not a page cursor: {text:?}")]
    BadCursor {
        /// The text given (at most its first 80 characters).
        text: String,
    },
    /// An identifier that is not a UUID (with or without its kind's prefix,
    /// e.g. `lead:0193…`).
    #[error("invalid {kind} id {value:?}: expected a UUID such as 0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b")]
    InvalidId {
        /// The kind of record (`lead`, `import`, ...).
        kind: String,
        /// The text given (at most its first 80 characters).
        value: String,
    },
    /// A code that names no configured item of that kind.
    #[error("unknown {kind} {code:?}")]
    UnknownReference {
        /// What kind of reference data.
        kind: ReferenceKind,
        /// The code given.
        code: String,
    },
    /// A custom field value that does not fit its definition.
    #[error("custom field {field:?}: {reason}")]
    CustomField {
        /// The field's name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A number or date outside the range crcm accepts (see
    /// [`limits`](crate::domain::limits)).
    #[error("{field} {value} is out of range: allowed {min} to {max}")]
    OutOfRange {
        /// The field's name.
        field: String,
        /// The value given, as text.
        value: String,
        /// The smallest value allowed, as text.
        min: String,
        /// The largest value allowed, as text.
        max: String,
    },
    /// Several input errors at once.
    #[error("{} invalid fields: {}", .0.len(), join(.0))]
    Many(Vec<InputError>),
    /// An error in a value of a request, with where it stands in the
    /// request's JSON (`lead.email`, `query.filter.owner`); its code is the
    /// inner error's.
    #[error("{path}: {error}")]
    At {
        /// Where in the request.
        path: String,
        /// What is wrong there.
        error: Box<InputError>,
    },
}

thread_local! {
    /// The typed refusal of the last value read from text on this thread
    /// (see [`deserialize_checked`]): serde keeps only a message, the request
    /// reader wants the code.
    static REFUSAL: std::cell::RefCell<Option<InputError>> = const { std::cell::RefCell::new(None) };
}

/// Reads a value from its JSON text through `check`; a refusal becomes a
/// serde error, and its typed form is kept for [`take_refusal`].
pub(crate) fn deserialize_checked<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(String) -> Result<T, InputError>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    check(text).map_err(|e| {
        let message = e.to_string();
        REFUSAL.with(|r| *r.borrow_mut() = Some(e));
        <D::Error as serde::de::Error>::custom(message)
    })
}

/// Keeps `e` as the typed form of a serde error about to be raised.
pub(crate) fn keep_refusal(e: InputError) {
    REFUSAL.with(|r| *r.borrow_mut() = Some(e));
}

/// The typed refusal kept by the last failed `deserialize_checked` on this
/// thread, if any (and forgets it).
pub(crate) fn take_refusal() -> Option<InputError> {
    REFUSAL.with(|r| r.borrow_mut().take())
}

fn join(errors: &[InputError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl InputError {
    /// Folds a list of errors into one (`Ok` when the list is empty).
    pub fn collect(mut errors: Vec<InputError>) -> Result<(), InputError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(InputError::Many(errors)),
        }
    }
}
