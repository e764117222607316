//! The error object: what a failed call says, for a program and for a
//! person. A failed call writes a new `crcm_error` to its `err` argument
//! (when `err` is not NULL); the caller owns it and frees it with
//! `crcm_error_free`. Its texts are borrowed from it and live until then.

use crcm::Error;
use crcm::engine::api::WIRE_VERSION;
use crcm::error::RequestError;
use serde_json::{Value, json};
use std::ffi::{CString, c_char};

use crate::panic::{boundary_or, message};
use crate::status::{CRCM_INVALID_HANDLE, CRCM_INVALID_UTF8, CRCM_NULL_ARGUMENT, CRCM_PANIC, crcm_status};

/// Why a call failed, before it becomes a [`crcm_error`].
#[derive(Debug)]
pub enum Failure {
    /// One of the C ABI's own statuses (9001-9099).
    Abi {
        /// The status.
        status: crcm_status,
        /// Its snake_case name.
        name: &'static str,
        /// A message for people.
        message: String,
        /// The typed details (which argument, ...).
        details: Value,
    },
    /// The core refused or failed: its code, message and details.
    Core(Error),
}

impl Failure {
    /// `null_argument`: the pointer `argument` was NULL.
    pub fn null(argument: &'static str) -> Self {
        Self::Abi {
            status: CRCM_NULL_ARGUMENT,
            name: "null_argument",
            message: format!("the argument {argument} is NULL"),
            details: json!({ "argument": argument }),
        }
    }

    /// `invalid_utf8`: the text `argument` is not UTF-8 from byte `valid_up_to`.
    pub fn utf8(argument: &'static str, valid_up_to: usize) -> Self {
        Self::Abi {
            status: CRCM_INVALID_UTF8,
            name: "invalid_utf8",
            message: format!("the argument {argument} is not UTF-8 after its first {valid_up_to} bytes"),
            details: json!({ "argument": argument, "valid_up_to": valid_up_to }),
        }
    }

    /// `invalid_handle`: the engine handle is closed or foreign.
    pub fn handle() -> Self {
        Self::Abi {
            status: CRCM_INVALID_HANDLE,
            name: "invalid_handle",
            message: "the engine handle is closed or did not come from crcm_engine_open".to_owned(),
            details: json!({ "argument": "engine" }),
        }
    }

    /// `panic`: a panic caught at the boundary.
    pub fn panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let text = message(payload);
        Self::Abi {
            status: CRCM_PANIC,
            name: "panic",
            message: format!("crcm failed inside (a bug, please report it): {text}"),
            details: json!({ "panic": text }),
        }
    }

    /// The status this failure returns.
    pub fn status(&self) -> crcm_status {
        match self {
            Self::Abi { status, .. } => *status,
            Self::Core(error) => error.code().code,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Core(error)
    }
}

impl From<RequestError> for Failure {
    fn from(error: RequestError) -> Self {
        Self::Core(error.into())
    }
}

/// A failed call's error: its status, name, message and typed details, and
/// the whole of it as the wire envelope a JSON client reads
/// (`{"wire": 1, "error": {...}}`). Opaque to C; read it with the
/// `crcm_error_*` functions (from any thread: it does not change), free it
/// once with `crcm_error_free`.
pub struct crcm_error {
    code: crcm_status,
    name: CString,
    message: CString,
    details: CString,
    json: CString,
}

/// A text for C: JSON and crcm's messages hold no NUL, but a message
/// quoting input could; such a byte is dropped rather than cut the text.
fn c_text(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

impl crcm_error {
    fn of(failure: Failure) -> Self {
        let (code, kind, name, message, details) = match failure {
            Failure::Abi {
                status,
                name,
                message,
                details,
            } => (status, "abi".to_owned(), name.to_owned(), message, details),
            Failure::Core(error) => {
                let report = error.report();
                (report.code, report.kind, report.name, report.message, report.details)
            }
        };
        let envelope = json!({
            "wire": WIRE_VERSION,
            "error": { "code": code, "kind": kind, "name": name, "message": message, "details": details },
        });
        Self {
            code,
            name: c_text(name),
            message: c_text(message),
            details: c_text(details.to_string()),
            json: c_text(envelope.to_string()),
        }
    }
}

/// Writes `failure` to `err` (when not NULL) and returns its status.
pub(crate) fn report(failure: Failure, err: *mut *mut crcm_error) -> crcm_status {
    let status = failure.status();
    if !err.is_null() {
        let boxed = Box::into_raw(Box::new(crcm_error::of(failure)));
        // SAFETY: the caller passes `err` as a valid `crcm_error **` (the
        // header says so); NULL was checked above.
        unsafe { err.write(boxed) };
    }
    status
}

/// The error's status: the number of the table in `crcm.h`
/// (`CRCM_NULL_ARGUMENT` when `err` is NULL).
///
/// # Safety
/// `err` is NULL or an error crcm returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_code(err: *const crcm_error) -> crcm_status {
    boundary_or!(CRCM_PANIC, {
        // SAFETY: NULL or a live error, as the contract above says.
        match unsafe { err.as_ref() } {
            Some(err) => err.code,
            None => CRCM_NULL_ARGUMENT,
        }
    })
}

/// Reads one of an error's texts, or "" for a NULL error.
fn text_of(err: *const crcm_error, pick: fn(&crcm_error) -> &CString) -> *const c_char {
    // SAFETY: NULL or a live error, as every public getter's contract says.
    match unsafe { err.as_ref() } {
        Some(err) => pick(err).as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The error's snake_case name (`"version_conflict"`, `"null_argument"`):
/// what a program tests when it would rather not compare numbers.
///
/// Borrowed from `err`: valid until `crcm_error_free(err)`. `""` when `err`
/// is NULL.
///
/// # Safety
/// `err` is NULL or an error crcm returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_name(err: *const crcm_error) -> *const c_char {
    boundary_or!(c"".as_ptr(), { text_of(err, |e| &e.name) })
}

/// The error's message for people, UTF-8. Borrowed from `err`: valid until
/// `crcm_error_free(err)`. `""` when `err` is NULL.
///
/// # Safety
/// `err` is NULL or an error crcm returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_message(err: *const crcm_error) -> *const c_char {
    boundary_or!(c"".as_ptr(), { text_of(err, |e| &e.message) })
}

/// The error's typed details as JSON text (`{"field": "email", ...}`, or
/// `null`): what a UI reads to point at the field. Each code's form is in
/// the wire schema (`schema/crcm.schema.json`). Borrowed from `err`: valid
/// until `crcm_error_free(err)`. `""` when `err` is NULL.
///
/// # Safety
/// `err` is NULL or an error crcm returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_details_json(err: *const crcm_error) -> *const c_char {
    boundary_or!(c"".as_ptr(), { text_of(err, |e| &e.details) })
}

/// The whole error as the wire envelope a JSON client reads:
/// `{"wire": 1, "error": {"code", "kind", "name", "message", "details"}}`
/// (the C ABI's own statuses have kind `"abi"`). Borrowed from `err`: valid
/// until `crcm_error_free(err)`. `""` when `err` is NULL.
///
/// # Safety
/// `err` is NULL or an error crcm returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_json(err: *const crcm_error) -> *const c_char {
    boundary_or!(c"".as_ptr(), { text_of(err, |e| &e.json) })
}

/// Frees an error and the texts borrowed from it. `crcm_error_free(NULL)`
/// does nothing.
///
/// # Safety
/// `err` is NULL or an error crcm returned, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_error_free(err: *mut crcm_error) {
    boundary_or!((), {
        if !err.is_null() {
            // SAFETY: `err` came from `Box::into_raw` in `report` and is
            // freed once, as the contract above says.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}
