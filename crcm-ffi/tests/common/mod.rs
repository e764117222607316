//! Calling the C ABI from Rust the way a C host does, for the tests and the
//! bench: one request, its answer or its refusal, every output freed.

use std::ffi::{CStr, c_char};
use std::ptr;

use crcm_ffi::engine::{crcm_engine, crcm_request};
use crcm_ffi::error::{crcm_error_code, crcm_error_free, crcm_error_message};
use crcm_ffi::status::{CRCM_OK, crcm_status};

/// A text crcm handed out or lent, copied.
fn copy(text: *const c_char) -> String {
    // SAFETY: crcm's texts are NUL-terminated and live until freed, which
    // the callers here do only after copying.
    unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

/// Sends `bytes` through `crcm_request`: the answer's JSON text, or the
/// status and the error's message.
pub fn send(engine: *const crcm_engine, bytes: &[u8]) -> Result<String, (crcm_status, String)> {
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `bytes` is readable for its length; the out-pointers are
    // valid; any handle value is allowed.
    let status = unsafe {
        crcm_request(
            engine,
            bytes.as_ptr().cast(),
            bytes.len(),
            &mut out,
            ptr::null_mut(),
            &mut err,
        )
    };
    if status == CRCM_OK {
        let answer = copy(out);
        // SAFETY: crcm's answer, freed once.
        unsafe { crcm_ffi::crcm_string_free(out) };
        return Ok(answer);
    }
    // SAFETY: the error the call wrote, read then freed once.
    let (code, message) = unsafe { (crcm_error_code(err), copy(crcm_error_message(err))) };
    // SAFETY: as above.
    unsafe { crcm_error_free(err) };
    assert_eq!(code, status, "the error object's code is the status");
    Err((status, message))
}
