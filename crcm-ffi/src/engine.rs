//! The engine handle: open a store, answer requests, import CSV, close.
//!
//! A handle is a token, not memory: crcm keeps its engines in a registry and
//! looks the token up on every call, so a closed handle, or a pointer that
//! never came from `crcm_engine_open`, is refused with
//! `CRCM_INVALID_HANDLE` instead of being read.

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crcm::blocking::BlockingEngine;
use crcm::engine::api::{Body, Envelope, Import, ImportSource, Request, Response, WIRE_VERSION};
use crcm::engine::import::{ImportObserver, ImportProgress, ImportStage};
use crcm::error::{RequestError, StoreError};
use crcm::open::StoreOptions;
use serde_json::{Map, Value, json};

use crate::error::{Failure, crcm_error};
use crate::ffi::{buffer, give_text, optional_text, out, text};
use crate::panic::boundary;
use crate::status::crcm_status;

/// An open engine: a store and crcm's rules over it. Opaque to C; made by
/// `crcm_engine_open`, ended by `crcm_engine_close`. Safe to use from any
/// number of threads at once.
pub struct crcm_engine {
    _private: [u8; 0],
}

/// The open engines by token.
static ENGINES: LazyLock<RwLock<HashMap<usize, Arc<BlockingEngine>>>> = LazyLock::new(Default::default);
/// How many engines this process has opened: each token is new.
static OPENED: AtomicUsize = AtomicUsize::new(0);
/// Mixed into every token, so a token is not a small number a caller could
/// guess or pass by mistake. Odd, so a token is never NULL and never an
/// aligned pointer.
static SALT: LazyLock<usize> =
    LazyLock::new(|| (std::collections::hash_map::RandomState::new().hash_one(0x6372_636d_u64) as usize) | 1);

fn token_of(n: usize) -> usize {
    *SALT ^ (n << 3)
}

/// The engine behind a handle, held for the call: a close on another thread
/// meanwhile lets this call finish.
pub(crate) fn engine_of(handle: *const crcm_engine) -> Result<Arc<BlockingEngine>, Failure> {
    if handle.is_null() {
        return Err(Failure::null("engine"));
    }
    let engines = ENGINES.read().unwrap_or_else(PoisonError::into_inner);
    engines.get(&(handle as usize)).cloned().ok_or_else(Failure::handle)
}

/// Opens the store `store_spec` names and an engine over it.
///
/// `store_spec`: `sled:DIR` (created when missing), `sqlite:FILE`,
/// `postgres://user@host/db` or `mysql://user@host/db` (MariaDB too).
/// `options_json`: NULL for the defaults, or the store options as JSON
/// (`{"sled_cache_bytes": 16777216}`, `{"schema": "crm", "max_connections": 4}`;
/// an option for another backend is refused with `CRCM_INVALID_OPTIONS`).
///
/// On success `*engine` gets the handle; close it with `crcm_engine_close`.
/// On failure `*engine` is not written and `*err` (when `err` is not NULL)
/// gets the error. Nothing the caller passes is kept after the call.
///
/// # Safety
/// `store_spec` and `options_json` are NULL or NUL-terminated strings;
/// `engine` is NULL or writable; `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_engine_open(
    store_spec: *const c_char,
    options_json: *const c_char,
    engine: *mut *mut crcm_engine,
    err: *mut *mut crcm_error,
) -> crcm_status {
    boundary!(err, {
        let spec = text(store_spec, "store_spec")?;
        let options = match optional_text(options_json, "options_json")? {
            None => StoreOptions::default(),
            Some(options) => serde_json::from_str(options).map_err(|e| {
                crcm::Error::from(StoreError::InvalidOptions {
                    message: format!("options_json: {e}"),
                })
            })?,
        };
        let engine_out = out(engine, "engine")?;
        let opened = Arc::new(BlockingEngine::open(spec, &options)?);
        let token = token_of(OPENED.fetch_add(1, Ordering::Relaxed) + 1);
        ENGINES
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, opened);
        // SAFETY: checked not NULL by `out`; writable as the contract says.
        unsafe { engine_out.write(token as *mut crcm_engine) };
        Ok(())
    })
}

/// Closes an engine: later calls with the handle get
/// `CRCM_INVALID_HANDLE`. It returns at once; calls still running on other
/// threads finish normally, and the store is closed (and flushed, and its
/// directory or connections released) when the last of them returns. Close
/// after those calls when the store must be reopened or removed next.
/// `crcm_engine_close(NULL)` does nothing and returns `CRCM_OK`; closing a
/// handle twice returns `CRCM_INVALID_HANDLE` the second time.
///
/// # Safety
/// Any value may be passed; only handles from `crcm_engine_open` are closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_engine_close(engine: *mut crcm_engine) -> crcm_status {
    boundary!(std::ptr::null_mut(), {
        if engine.is_null() {
            return Ok(());
        }
        let removed = ENGINES
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(engine as usize));
        // Dropped outside the lock: closing a store may wait for its flush.
        match removed {
            Some(engine) => {
                drop(engine);
                Ok(())
            }
            None => Err(Failure::handle()),
        }
    })
}

/// The OK envelope of a response, as text.
fn ok_text(response: Response) -> Result<String, Failure> {
    let envelope = Envelope {
        wire: WIRE_VERSION,
        ok: Some(response),
        error: None,
    };
    serde_json::to_string(&envelope).map_err(|e| {
        Failure::from(RequestError::Internal {
            message: format!("the response could not be written as JSON: {e}"),
        })
    })
}

/// Answers one request of the request API: every command and every read,
/// the actor inside (`{"actor": {"user": "ann", "role": "manager"},
/// "type": "move_lead_to_phase", ...}`; the types and their fields are in
/// `schema/crcm.schema.json`).
///
/// `request_json` is `request_len` bytes of UTF-8 (no NUL needed), at most
/// 8 MiB. On success `*response_json` gets the answer, the wire envelope
/// `{"wire": 1, "ok": {"type": ..., ...}}`, NUL-terminated (free it with
/// `crcm_string_free`), and `*response_len` (when not NULL) its length.
/// On failure nothing is written but `*err` (when not NULL), and the status
/// is the error's code: a refused command changed nothing.
///
/// Safe to call from several threads at once on one engine. The call blocks
/// until the answer is there.
///
/// # Safety
/// `engine` is any value; `request_json` is NULL or `request_len` readable
/// bytes; `response_json`, `response_len` and `err` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_request(
    engine: *const crcm_engine,
    request_json: *const c_char,
    request_len: usize,
    response_json: *mut *mut c_char,
    response_len: *mut usize,
    err: *mut *mut crcm_error,
) -> crcm_status {
    boundary!(err, {
        let engine = engine_of(engine)?;
        let text = buffer(request_json, request_len, "request_json")?;
        let response_out = out(response_json, "response_json")?;
        let request = Request::from_json(text)?;
        let response = engine.handle(&request)?;
        give_text(ok_text(response)?, response_out, response_len)
    })
}

/// Reads a JSON argument that is part of a request (the actor, the options).
fn json_argument(text: &str, argument: &'static str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| {
        Failure::from(RequestError::Malformed {
            path: argument.to_owned(),
            message: e.to_string(),
        })
    })
}

/// A request from its parts, read as strictly as a whole request's JSON.
fn request_of(actor: Value, kind: &str, fields: Value) -> Result<Request, Failure> {
    let mut map = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("actor".into(), actor);
    map.insert("type".into(), Value::String(kind.to_owned()));
    Ok(Request::from_value(Value::Object(map))?)
}

/// The events after `cursor` (0: from the start), at most `limit` of them:
/// the outbox a consumer reads in order, remembering the last event's
/// `seq` as its next cursor (an empty list: nothing new yet). The same as the request
/// `{"type": "events_since", "cursor": ..., "limit": ...}`.
///
/// `actor_json` is the actor (`{"user": "sync", "role": "admin"}`). On
/// success `*events_json` gets the envelope `{"wire": 1, "ok": {"type":
/// "events", "events": [...]}}` (free it with `crcm_string_free`) and
/// `*events_len` (when not NULL) its length.
///
/// # Safety
/// As for `crcm_request`; `actor_json` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_events_since(
    engine: *const crcm_engine,
    actor_json: *const c_char,
    cursor: u64,
    limit: u32,
    events_json: *mut *mut c_char,
    events_len: *mut usize,
    err: *mut *mut crcm_error,
) -> crcm_status {
    boundary!(err, {
        let engine = engine_of(engine)?;
        let actor = json_argument(text(actor_json, "actor_json")?, "actor")?;
        let events_out = out(events_json, "events_json")?;
        let request = request_of(actor, "events_since", json!({ "cursor": cursor, "limit": limit }))?;
        let response = engine.handle(&request)?;
        give_text(ok_text(response)?, events_out, events_len)
    })
}

/// Where an import stands, as `crcm_import_csv`'s callback sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct crcm_import_progress {
    /// `CRCM_IMPORT_CHECKING` (all-or-nothing's first pass, nothing written
    /// yet) or `CRCM_IMPORT_IMPORTING`.
    pub stage: u32,
    /// Rows read in this pass.
    pub rows: u64,
    /// Bytes of the file read so far (for a bar over the file's size).
    pub bytes: u64,
    /// Leads imported so far.
    pub imported: u64,
    /// Rows refused so far.
    pub rejected: u64,
    /// Duplicate rows so far.
    pub duplicates: u64,
}

/// `crcm_import_progress.stage`: checking every row before writing any.
pub const CRCM_IMPORT_CHECKING: u32 = 1;
/// `crcm_import_progress.stage`: writing batches.
pub const CRCM_IMPORT_IMPORTING: u32 = 2;

impl From<&ImportProgress> for crcm_import_progress {
    fn from(p: &ImportProgress) -> Self {
        Self {
            stage: match p.stage {
                ImportStage::Checking => CRCM_IMPORT_CHECKING,
                _ => CRCM_IMPORT_IMPORTING,
            },
            rows: p.rows,
            bytes: p.bytes,
            imported: p.imported,
            rejected: p.rejected,
            duplicates: p.duplicates,
        }
    }
}

/// Called after each batch of an import (and each batch-sized stretch of
/// the checking pass), on the thread that called `crcm_import_csv`. Return
/// 0 to go on; anything else stops the import there (`CRCM_IMPORT_CANCELLED`:
/// the batches committed stay, resume with the import's id).
///
/// `progress` is valid during the call only: copy what you keep. The
/// callback must return normally (no C++ exception, no `longjmp` out of it),
/// and a crcm call made from inside it is refused with
/// `CRCM_INSIDE_RUNTIME`.
pub type crcm_import_progress_cb =
    Option<unsafe extern "C" fn(progress: *const crcm_import_progress, user_data: *mut c_void) -> i32>;

/// Calls C's progress callback.
struct Callback {
    callback: crcm_import_progress_cb,
    user_data: *mut c_void,
    stop: bool,
}

// SAFETY: the import runs on the calling thread (the blocking engine runs
// the future there), so the callback and its data never change threads.
unsafe impl Send for Callback {}

impl ImportObserver for Callback {
    fn progress(&mut self, progress: &ImportProgress) {
        if let Some(callback) = self.callback {
            let progress = crcm_import_progress::from(progress);
            // SAFETY: the caller gave a function of this signature and the
            // data it expects.
            self.stop = unsafe { callback(&progress, self.user_data) } != 0;
        }
    }

    fn cancelled(&mut self) -> bool {
        self.stop
    }
}

/// Imports leads from the CSV file at `path` (the import of the request API,
/// `{"type": "import", "source": {"file": path}, "options": ...}`): rows
/// checked like single creates, committed in batches, refused rows reported.
///
/// `actor_json` is the actor; `options_json` is NULL for the defaults or the
/// import's options (`{"mode": "skip_invalid", "batch_size": 500,
/// "mapping": {...}, "id": "...", "resume": true}`). `progress_cb` (may be
/// NULL) is called with `user_data` after each batch and can stop the
/// import. On success `*report_json` gets the envelope `{"wire": 1, "ok":
/// {"type": "import", "report": {...}}}` (free it with `crcm_string_free`)
/// and `*report_len` (when not NULL) its length. On failure the batches
/// committed before it stay: run it again with the same options and
/// `"resume": true` to import the rest (give an `id` in the options to know
/// it; a stopped import's error details name it).
///
/// # Safety
/// As for `crcm_request`; `actor_json`, `path` and `options_json` are NULL
/// or NUL-terminated strings; `progress_cb` is NULL or a function of its
/// type, called with `user_data` as given.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crcm_import_csv(
    engine: *const crcm_engine,
    actor_json: *const c_char,
    path: *const c_char,
    options_json: *const c_char,
    progress_cb: crcm_import_progress_cb,
    user_data: *mut c_void,
    report_json: *mut *mut c_char,
    report_len: *mut usize,
    err: *mut *mut crcm_error,
) -> crcm_status {
    boundary!(err, {
        let engine = engine_of(engine)?;
        let actor = json_argument(text(actor_json, "actor_json")?, "actor")?;
        let path = text(path, "path")?;
        let options = match optional_text(options_json, "options_json")? {
            Some(options) => json_argument(options, "options")?,
            None => json!({}),
        };
        let report_out = out(report_json, "report_json")?;
        let request = request_of(
            actor,
            "import",
            json!({ "source": { "file": path }, "options": options }),
        )?;
        let Body::Import(Import {
            source: ImportSource::File(path),
            options,
        }) = &request.body
        else {
            return Err(RequestError::Internal {
                message: "an import request read back as another type".to_owned(),
            }
            .into());
        };
        let mut callback = Callback {
            callback: progress_cb,
            user_data,
            stop: false,
        };
        let report = engine.block_on(async {
            let file = std::fs::File::open(path).map_err(|e| {
                crcm::Error::from(crcm::error::ImportFailure::Io {
                    message: format!("{}: {e}", path.display()),
                })
            })?;
            engine
                .engine()
                .import_leads(&request.actor, std::io::BufReader::new(file), options, &mut callback)
                .await
        })?;
        give_text(ok_text(Response::Import { report })?, report_out, report_len)
    })
}
