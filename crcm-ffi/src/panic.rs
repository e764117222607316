//! The panic boundary: every exported function's body runs inside one of
//! these macros, so a panic (a bug in crcm) never unwinds into C. A test
//! (`tests/header.rs`) fails when an exported function lacks it.

use std::any::Any;

/// Runs an exported function's body, a block returning
/// `Result<(), Failure>`, inside `catch_unwind`. A failure, or a caught
/// panic, is written to the `err` out-pointer (when it is not NULL) and its
/// status returned; success returns `CRCM_OK`. The error object is built
/// inside the boundary too, and a panic's payload is never dropped outside
/// it (its `Drop` could panic again), so nothing can unwind into C.
macro_rules! boundary {
    ($err:expr, $body:block) => {{
        let err: *mut *mut $crate::error::crcm_error = $err;
        let ran = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> $crate::status::crcm_status {
            let body = || -> ::std::result::Result<(), $crate::error::Failure> { $body };
            match body() {
                Ok(()) => $crate::status::CRCM_OK,
                Err(failure) => $crate::error::report(failure, err),
            }
        }));
        ran.unwrap_or_else(|payload| $crate::panic::caught(payload, err))
    }};
}

/// Runs a body that returns a plain value (a getter, a free function)
/// inside `catch_unwind`; a caught panic returns `$default`.
macro_rules! boundary_or {
    ($default:expr, $body:block) => {{
        ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)).unwrap_or_else(|payload| {
            ::std::mem::forget(payload);
            $default
        })
    }};
}

/// Reports a caught panic as `CRCM_PANIC`, itself inside a boundary; the
/// payload is forgotten, not dropped.
pub(crate) fn caught(
    payload: Box<dyn Any + Send>,
    err: *mut *mut crate::error::crcm_error,
) -> crate::status::crcm_status {
    let reported = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::error::report(crate::error::Failure::panic(&*payload), err)
    }));
    std::mem::forget(payload);
    match reported {
        Ok(status) => status,
        Err(again) => {
            std::mem::forget(again);
            crate::status::CRCM_PANIC
        }
    }
}

pub(crate) use {boundary, boundary_or};

/// The text of a caught panic's payload.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::ptr;

    use crate::error::{crcm_error, crcm_error_code, crcm_error_free, crcm_error_message, crcm_error_name};
    use crate::status::{CRCM_PANIC, crcm_status};

    /// An exported-style function whose body panics (a bug inside crcm).
    extern "C" fn panicking(err: *mut *mut crcm_error) -> crcm_status {
        boundary!(err, {
            let nothing: Option<u8> = None;
            if nothing.is_none() {
                panic!("an invariant broke");
            }
            Ok(())
        })
    }

    extern "C" fn panicking_getter() -> u32 {
        boundary_or!(7, { panic!("a getter broke") })
    }

    #[test]
    fn a_panic_is_the_panic_status_and_never_unwinds() {
        let mut err = ptr::null_mut();
        assert_eq!(panicking(&mut err), CRCM_PANIC);
        // SAFETY: `err` is the error the call wrote; freed once.
        unsafe {
            assert_eq!(crcm_error_code(err), 9004);
            assert_eq!(CStr::from_ptr(crcm_error_name(err)).to_str().ok(), Some("panic"));
            assert_eq!(
                CStr::from_ptr(crcm_error_message(err)).to_str().ok(),
                Some("crcm failed inside (a bug, please report it): an invariant broke")
            );
            crcm_error_free(err);
        }
        assert_eq!(panicking(ptr::null_mut()), CRCM_PANIC, "without an error object too");
        assert_eq!(panicking_getter(), 7, "a getter returns its default");
    }
}
