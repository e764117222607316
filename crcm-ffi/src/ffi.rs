//! Reading what C passes in and writing what goes back out: every pointer
//! is checked here, once.

use std::ffi::{CStr, CString, c_char};

use crcm::engine::api::MAX_REQUEST_BYTES;
use crcm::error::RequestError;

use crate::error::Failure;

/// A NUL-terminated UTF-8 argument, at most as long as a request.
pub(crate) fn text<'a>(ptr: *const c_char, argument: &'static str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(argument));
    }
    // SAFETY: not NULL, and the header asks for a NUL-terminated string that
    // lives for the call.
    let text = unsafe { CStr::from_ptr(ptr) };
    let len = text.count_bytes();
    if len > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge {
            bytes: len,
            max: MAX_REQUEST_BYTES,
        }
        .into());
    }
    text.to_str().map_err(|e| Failure::utf8(argument, e.valid_up_to()))
}

/// An optional NUL-terminated UTF-8 argument: NULL is `None`.
pub(crate) fn optional_text<'a>(ptr: *const c_char, argument: &'static str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        text(ptr, argument).map(Some)
    }
}

/// A UTF-8 buffer of `len` bytes (no NUL needed). Longer than the request
/// API reads is `request_too_large`, refused before a byte is read.
pub(crate) fn buffer<'a>(ptr: *const c_char, len: usize, argument: &'static str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(argument));
    }
    if len > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge {
            bytes: len,
            max: MAX_REQUEST_BYTES,
        }
        .into());
    }
    // SAFETY: not NULL, `len` is at most 8 MiB (so within `isize::MAX`), and
    // the header asks for `len` readable bytes that live for the call.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|e| Failure::utf8(argument, e.valid_up_to()))
}

/// Checks that an out-pointer is not NULL before the call does its work.
pub(crate) fn out<T>(ptr: *mut T, argument: &'static str) -> Result<*mut T, Failure> {
    if ptr.is_null() {
        Err(Failure::null(argument))
    } else {
        Ok(ptr)
    }
}

/// Hands a text to C: `*text_out` gets a NUL-terminated copy the caller
/// frees with `crcm_string_free`, `*len_out` (when not NULL) its length in
/// bytes without the NUL.
pub(crate) fn give_text(text: String, text_out: *mut *mut c_char, len_out: *mut usize) -> Result<(), Failure> {
    let len = text.len();
    let owned = CString::new(text).map_err(|e| RequestError::Internal {
        message: format!("a response held a NUL byte at {}", e.nul_position()),
    })?;
    // SAFETY: both out-pointers were checked (`text_out` not NULL) by the
    // caller through `out`, and the header asks for writable ones.
    unsafe {
        text_out.write(owned.into_raw());
        if !len_out.is_null() {
            len_out.write(len);
        }
    }
    Ok(())
}
