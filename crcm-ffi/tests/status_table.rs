//! Every row of the status table, reached through the exported functions
//! the way a C program calls them: NULL and invalid inputs included, and
//! each refusal leaves the store as it was.

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;

use crcm_ffi::engine::{
    crcm_engine, crcm_engine_close, crcm_engine_open, crcm_events_since, crcm_import_csv, crcm_import_progress,
    crcm_request,
};
use crcm_ffi::error::{
    crcm_error, crcm_error_code, crcm_error_details_json, crcm_error_free, crcm_error_json, crcm_error_message,
    crcm_error_name,
};
use crcm_ffi::status::*;
use crcm_ffi::{crcm_string_free, crcm_version};
use serde_json::{Value, json};

/// What a failed call left in its error object.
#[derive(Debug)]
struct Refusal {
    status: crcm_status,
    code: crcm_status,
    name: String,
    message: String,
    details: Value,
    envelope: Value,
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap_or_else(|e| panic!("{e}"))
}

fn read(text: *const c_char) -> String {
    // SAFETY: crcm's getters return NUL-terminated strings valid until the
    // error is freed, which happens after this read.
    unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

/// Reads and frees the error of a failed call.
fn refusal(status: crcm_status, err: *mut crcm_error) -> Refusal {
    assert!(!err.is_null(), "status {status} without an error object");
    // SAFETY: `err` is a live error crcm returned; it is freed once, last.
    unsafe {
        let refusal = Refusal {
            status,
            code: crcm_error_code(err),
            name: read(crcm_error_name(err)),
            message: read(crcm_error_message(err)),
            details: serde_json::from_str(&read(crcm_error_details_json(err))).unwrap_or(Value::Null),
            envelope: serde_json::from_str(&read(crcm_error_json(err))).unwrap_or(Value::Null),
        };
        crcm_error_free(err);
        refusal
    }
}

struct Engine {
    handle: *mut crcm_engine,
    _dir: tempfile::TempDir,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: any value may be passed to close.
        unsafe { crcm_engine_close(self.handle) };
    }
}

fn open() -> Engine {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = c(&format!("sled:{}", dir.path().join("store").display()));
    let mut handle = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), &mut handle, &mut err) };
    assert_eq!(status, CRCM_OK, "{:?}", (!err.is_null()).then(|| refusal(status, err)));
    Engine { handle, _dir: dir }
}

/// Sends a request: the answer's JSON, or the refusal.
fn request(engine: *const crcm_engine, bytes: &[u8]) -> Result<Value, Refusal> {
    let mut out = ptr::null_mut();
    let mut len = 0usize;
    let mut err = ptr::null_mut();
    // SAFETY: `bytes` is readable for its length; out-pointers are valid.
    let status = unsafe { crcm_request(engine, bytes.as_ptr().cast(), bytes.len(), &mut out, &mut len, &mut err) };
    if status != CRCM_OK {
        assert!(out.is_null(), "a failed call wrote its output");
        return Err(refusal(status, err));
    }
    assert!(err.is_null(), "a successful call wrote an error");
    let text = read(out);
    assert_eq!(text.len(), len);
    // SAFETY: `out` came from crcm and is freed once.
    unsafe { crcm_string_free(out) };
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
}

fn maria() -> Value {
    json!({"user": "maria", "role": "manager"})
}

fn story_config() -> Value {
    let text = include_str!("../../examples/story/config.json");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn configured() -> Engine {
    let engine = open();
    let set = json!({"actor": maria(), "type": "set_config", "config": story_config()});
    let answer = request(engine.handle, set.to_string().as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(answer["ok"]["output"], json!({"type": "config", "version": 1}));
    engine
}

/// The events of the store: what a refused call must leave unchanged.
fn events(engine: *const crcm_engine) -> Value {
    let read = json!({"actor": maria(), "type": "events_since", "limit": 1000});
    request(engine, read.to_string().as_bytes()).unwrap_or_else(|r| panic!("{r:?}"))["ok"]["events"].clone()
}

#[test]
fn ok_writes_the_answer_and_no_error() {
    let engine = configured();
    let create = json!({"actor": maria(), "type": "create_lead",
        "lead": {"account_type": "business", "first_name": "Ada", "company": "Acme"}});
    let answer = request(engine.handle, create.to_string().as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(answer["wire"], 1);
    assert_eq!(answer["ok"]["output"]["lead"]["number"], 1);
    assert_eq!(answer["ok"]["output"]["lead"]["phase"]["code"], "CALL");
    assert_eq!(events(engine.handle).as_array().map(Vec::len), Some(2));
}

#[test]
fn null_arguments_are_refused_with_their_name() {
    let engine = configured();
    let before = events(engine.handle);
    let body = br#"{"actor": {"user": "maria", "role": "manager"}, "type": "get_config"}"#;
    let mut out = ptr::null_mut();
    let mut handle = ptr::null_mut();
    let spec = c("sled:/tmp/never-opened");
    let (empty, file) = (c("{}"), c("x.csv"));
    let engine_handle = engine.handle;
    type Call<'a> = Box<dyn Fn(*mut *mut c_char, *mut *mut crcm_engine, *mut *mut crcm_error) -> crcm_status + 'a>;
    // SAFETY (every call): NULL where the header allows any value, valid
    // pointers elsewhere.
    let cases: Vec<(&str, Call)> = vec![
        (
            "engine",
            Box::new(|out, _, err| unsafe {
                crcm_request(ptr::null(), body.as_ptr().cast(), body.len(), out, ptr::null_mut(), err)
            }),
        ),
        (
            "request_json",
            Box::new(|out, _, err| unsafe { crcm_request(engine_handle, ptr::null(), 10, out, ptr::null_mut(), err) }),
        ),
        (
            "response_json",
            Box::new(|_, _, err| unsafe {
                crcm_request(
                    engine_handle,
                    body.as_ptr().cast(),
                    body.len(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    err,
                )
            }),
        ),
        (
            "store_spec",
            Box::new(|_, handle, err| unsafe { crcm_engine_open(ptr::null(), ptr::null(), handle, err) }),
        ),
        (
            "engine",
            Box::new(|_, _, err| unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), ptr::null_mut(), err) }),
        ),
        (
            "actor_json",
            Box::new(|out, _, err| unsafe {
                crcm_events_since(engine_handle, ptr::null(), 0, 10, out, ptr::null_mut(), err)
            }),
        ),
        (
            "events_json",
            Box::new(|_, _, err| unsafe {
                crcm_events_since(
                    engine_handle,
                    empty.as_ptr(),
                    0,
                    10,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    err,
                )
            }),
        ),
        (
            "path",
            Box::new(|out, _, err| unsafe {
                crcm_import_csv(
                    engine_handle,
                    empty.as_ptr(),
                    ptr::null(),
                    ptr::null(),
                    None,
                    ptr::null_mut(),
                    out,
                    ptr::null_mut(),
                    err,
                )
            }),
        ),
        (
            "report_json",
            Box::new(|_, _, err| unsafe {
                crcm_import_csv(
                    engine_handle,
                    empty.as_ptr(),
                    file.as_ptr(),
                    ptr::null(),
                    None,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    err,
                )
            }),
        ),
    ];
    for (argument, call) in cases {
        let mut err = ptr::null_mut();
        let status = call(&mut out, &mut handle, &mut err);
        let r = refusal(status, err);
        assert_eq!(
            (r.status, r.code, r.name.as_str()),
            (CRCM_NULL_ARGUMENT, 9001, "null_argument"),
            "{argument}"
        );
        assert_eq!(r.details, json!({"argument": argument}));
        assert_eq!(r.envelope["error"]["kind"], "abi");
        assert_eq!(r.message, format!("the argument {argument} is NULL"));
    }
    assert!(out.is_null() && handle.is_null(), "no output written");
    assert!(!std::path::Path::new("/tmp/never-opened").exists());
    // With `err` NULL too, the status alone says it.
    // SAFETY: NULL everywhere the header allows it.
    let status = unsafe {
        crcm_request(
            engine.handle,
            ptr::null(),
            0,
            &mut out,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(status, CRCM_NULL_ARGUMENT);
    assert_eq!(events(engine.handle), before, "nothing changed");
}

#[test]
fn text_that_is_not_utf8_is_refused() {
    let engine = configured();
    let before = events(engine.handle);
    let bad = b"{\"actor\": {\"user\": \"maria\", \"role\": \"manager\"}, \"type\": \"create_customer\", \"customer\": {\"name\": \"Jos\xE9\"}}";
    let r = request(engine.handle, bad).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!((r.status, r.name.as_str()), (CRCM_INVALID_UTF8, "invalid_utf8"));
    let valid = bad.iter().position(|&b| b == 0xE9);
    assert_eq!(r.details, json!({"argument": "request_json", "valid_up_to": valid}));
    let spec = CString::new(b"sled:/tmp/\xFF".to_vec()).unwrap_or_else(|e| panic!("{e}"));
    let (mut handle, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid pointers; the spec is NUL-terminated.
    let status = unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), &mut handle, &mut err) };
    let r = refusal(status, err);
    assert_eq!(
        (r.status, r.details["argument"].as_str()),
        (CRCM_INVALID_UTF8, Some("store_spec"))
    );
    assert_eq!(events(engine.handle), before, "nothing changed");
}

#[test]
fn closed_and_foreign_handles_are_refused_never_read() {
    let engine = configured();
    let body = br#"{"actor": {"user": "maria", "role": "manager"}, "type": "get_config"}"#;
    assert!(request(engine.handle, body).is_ok());
    // A pointer that never came from crcm_engine_open, and one into memory.
    let mut local = 0u64;
    for foreign in [
        0x1234usize as *const crcm_engine,
        (&raw mut local).cast::<crcm_engine>().cast_const(),
    ] {
        let r = request(foreign, body)
            .err()
            .unwrap_or_else(|| panic!("accepted a foreign handle"));
        assert_eq!((r.status, r.name.as_str()), (CRCM_INVALID_HANDLE, "invalid_handle"));
    }
    // SAFETY: any value may be passed to close.
    unsafe {
        assert_eq!(crcm_engine_close(engine.handle), CRCM_OK);
        assert_eq!(crcm_engine_close(engine.handle), CRCM_INVALID_HANDLE, "closed twice");
        assert_eq!(crcm_engine_close(ptr::null_mut()), CRCM_OK, "close(NULL) does nothing");
    }
    let r = request(engine.handle, body)
        .err()
        .unwrap_or_else(|| panic!("a closed handle answered"));
    assert_eq!(r.status, CRCM_INVALID_HANDLE);
    // The store was closed: it opens again, with what was written.
    let spec = c(&format!("sled:{}", engine._dir.path().join("store").display()));
    let (mut again, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), &mut again, &mut err) };
    assert_eq!(status, CRCM_OK);
    assert_ne!(again, engine.handle, "a new handle, never the closed one's");
    assert_eq!(events(again).as_array().map(Vec::len), Some(1));
    // SAFETY: a handle crcm returned.
    unsafe { crcm_engine_close(again) };
}

#[test]
fn core_refusals_return_their_code_and_change_nothing() {
    let engine = configured();
    let create = json!({"actor": maria(), "type": "create_lead",
        "lead": {"account_type": "business", "first_name": "Ada", "company": "Acme"}});
    request(engine.handle, create.to_string().as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
    let before = events(engine.handle);
    let oversized = vec![b' '; crcm::engine::api::MAX_REQUEST_BYTES + 1];
    let cases: Vec<(Vec<u8>, crcm_status, &str)> = vec![
        (b"not json".to_vec(), CRCM_MALFORMED_REQUEST, "malformed_request"),
        (br#"{"actor": {"user": "maria", "role": "manager"}, "type": "fly"}"#.to_vec(), CRCM_MALFORMED_REQUEST, "malformed_request"),
        (br#"{"wire": 2, "actor": {"user": "maria", "role": "manager"}, "type": "get_config"}"#.to_vec(), CRCM_UNSUPPORTED_WIRE_VERSION, "unsupported_wire_version"),
        (oversized, CRCM_REQUEST_TOO_LARGE, "request_too_large"),
        (json!({"actor": maria(), "type": "create_lead", "lead": {"account_type": "business", "first_name": "Bo", "email": "bo@@x"}}).to_string().into_bytes(), CRCM_INVALID_EMAIL, "invalid_email"),
        (json!({"actor": {"user": "ben", "role": "sales_person"}, "type": "delete_lead", "lead": before[1]["event"]["lead"]}).to_string().into_bytes(), CRCM_PERMISSION_DENIED, "permission_denied"),
        (json!({"actor": maria(), "type": "get_lead_by_number", "number": 99}).to_string().into_bytes(), CRCM_LEAD_NUMBER_NOT_FOUND, "lead_number_not_found"),
        (json!({"actor": maria(), "type": "move_lead_phase", "lead": before[1]["event"]["lead"], "phase": {"account_type": "business", "code": "NOPE"}}).to_string().into_bytes(), CRCM_UNKNOWN_PHASE, "unknown_phase"),
    ];
    for (bytes, status, name) in cases {
        let r = request(engine.handle, &bytes)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(
            (r.status, r.code, r.name.as_str()),
            (status, status, name),
            "{}",
            r.message
        );
        assert_eq!(r.envelope["wire"], 1);
        assert_eq!(r.envelope["error"]["code"], status);
        assert_eq!(r.envelope["error"]["details"], r.details);
    }
    assert_eq!(events(engine.handle), before, "refusals changed nothing");
    // A text argument over the limit is refused before it is read.
    let mut huge = vec![b'x'; crcm::engine::api::MAX_REQUEST_BYTES + 1];
    huge.push(0);
    let huge = CString::from_vec_with_nul(huge).unwrap_or_default();
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_events_since(engine.handle, huge.as_ptr(), 0, 1, &mut out, ptr::null_mut(), &mut err) };
    let r = refusal(status, err);
    assert_eq!(
        (r.status, r.name.as_str()),
        (CRCM_REQUEST_TOO_LARGE, "request_too_large")
    );
    // Store options are checked: an unknown field or one for another backend.
    for options in [r#"{"sled_cache": 1}"#, r#"{"schema": "crm"}"#, "not json"] {
        let spec = c("sled:/tmp/crcm-never-opened");
        let (mut handle, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: valid strings and out-pointers.
        let status = unsafe { crcm_engine_open(spec.as_ptr(), c(options).as_ptr(), &mut handle, &mut err) };
        let r = refusal(status, err);
        assert_eq!(
            (r.status, r.name.as_str()),
            (CRCM_INVALID_OPTIONS, "invalid_options"),
            "{options}"
        );
        assert!(handle.is_null());
    }
    let (mut handle, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_engine_open(c("redis://h").as_ptr(), ptr::null(), &mut handle, &mut err) };
    assert_eq!(refusal(status, err).status, CRCM_INVALID_OPTIONS);
}

#[test]
fn error_getters_and_free_functions_take_null() {
    // SAFETY: NULL is allowed everywhere here.
    unsafe {
        assert_eq!(crcm_error_code(ptr::null()), CRCM_NULL_ARGUMENT);
        assert_eq!(read(crcm_error_name(ptr::null())), "");
        assert_eq!(read(crcm_error_message(ptr::null())), "");
        assert_eq!(read(crcm_error_details_json(ptr::null())), "");
        assert_eq!(read(crcm_error_json(ptr::null())), "");
        crcm_error_free(ptr::null_mut());
        crcm_string_free(ptr::null_mut());
    }
    assert_eq!(read(crcm_version()), env!("CARGO_PKG_VERSION"));
}

/// Counts progress calls and stops after `stop_after` of them.
struct Stopper {
    calls: u32,
    stop_after: u32,
    last: crcm_import_progress,
}

unsafe extern "C" fn on_progress(progress: *const crcm_import_progress, user_data: *mut c_void) -> i32 {
    // SAFETY: crcm passes a valid progress and the user data given below.
    let (progress, stopper) = unsafe { (&*progress, &mut *user_data.cast::<Stopper>()) };
    stopper.calls += 1;
    stopper.last = *progress;
    i32::from(stopper.calls >= stopper.stop_after)
}

fn import(
    engine: *const crcm_engine,
    path: &str,
    options: &str,
    stopper: Option<&mut Stopper>,
) -> Result<Value, Refusal> {
    let actor = c(&maria().to_string());
    let (path, options) = (c(path), c(options));
    let (callback, data) = match stopper {
        Some(s) => (
            Some(on_progress as unsafe extern "C" fn(*const crcm_import_progress, *mut c_void) -> i32),
            std::ptr::from_mut(s).cast::<c_void>(),
        ),
        None => (None, ptr::null_mut()),
    };
    let (mut out, mut len, mut err) = (ptr::null_mut(), 0usize, ptr::null_mut());
    // SAFETY: valid strings, callback and out-pointers.
    let status = unsafe {
        crcm_import_csv(
            engine,
            actor.as_ptr(),
            path.as_ptr(),
            options.as_ptr(),
            callback,
            data,
            &mut out,
            &mut len,
            &mut err,
        )
    };
    if status != CRCM_OK {
        return Err(refusal(status, err));
    }
    let text = read(out);
    // SAFETY: `out` came from crcm and is freed once.
    unsafe { crcm_string_free(out) };
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn an_import_reports_progress_and_its_callback_can_stop_it() {
    let engine = configured();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("leads.csv");
    let mut csv = String::from("contact_name,phone,source\n");
    for i in 0..25 {
        csv.push_str(&format!("Person {i},+1 212 555 {:04},web_form\n", 1000 + i));
    }
    std::fs::write(&file, csv).unwrap_or_else(|e| panic!("{e}"));
    let path = file.display().to_string();
    let options = r#"{"mode": "skip_invalid", "batch_size": 10, "id": "01a23b60-0000-7000-8000-000000000001"}"#;

    let mut stopper = Stopper {
        calls: 0,
        stop_after: 2,
        last: crcm_import_progress::default(),
    };
    let r = import(engine.handle, &path, options, Some(&mut stopper))
        .err()
        .unwrap_or_else(|| panic!("not stopped"));
    assert_eq!((r.status, r.name.as_str()), (CRCM_IMPORT_CANCELLED, "import_cancelled"));
    // Stopped after the second batch.
    assert_eq!(stopper.calls, 2);
    assert_eq!(stopper.last.imported, 20);
    assert_eq!(r.details["imported"], 20);
    assert_eq!(r.details["id"], "01a23b60-0000-7000-8000-000000000001");
    assert_eq!(
        events(engine.handle).as_array().map(Vec::len),
        Some(21),
        "two batches committed"
    );

    let resume =
        r#"{"mode": "skip_invalid", "batch_size": 10, "id": "01a23b60-0000-7000-8000-000000000001", "resume": true}"#;
    let mut counter = Stopper {
        calls: 0,
        stop_after: u32::MAX,
        last: crcm_import_progress::default(),
    };
    let answer = import(engine.handle, &path, resume, Some(&mut counter)).unwrap_or_else(|r| panic!("{r:?}"));
    let report = &answer["ok"]["report"];
    assert_eq!(
        (report["skipped"].as_u64(), report["imported"].as_u64()),
        (Some(20), Some(5))
    );
    assert_eq!(counter.last.imported, 5);
    assert_eq!(counter.last.stage, crcm_ffi::engine::CRCM_IMPORT_IMPORTING);

    let missing = dir.path().join("missing.csv").display().to_string();
    let r = import(engine.handle, &missing, "{}", None)
        .err()
        .unwrap_or_else(|| panic!("imported nothing?"));
    assert_eq!((r.status, r.name.as_str()), (CRCM_IMPORT_IO, "import_io"));
    let r = import(engine.handle, &path, r#"{"mode": "sideways"}"#, None)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(
        (r.status, r.details["path"].as_str()),
        (CRCM_MALFORMED_REQUEST, Some("options.mode")),
        "{}",
        r.message
    );
}

#[test]
fn events_since_reads_the_outbox_by_cursor() {
    let engine = configured();
    let actor = c(&maria().to_string());
    let (mut out, mut len, mut err) = (ptr::null_mut(), 0usize, ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_events_since(engine.handle, actor.as_ptr(), 0, 10, &mut out, &mut len, &mut err) };
    assert_eq!(status, CRCM_OK);
    let answer: Value = serde_json::from_str(&read(out)).unwrap_or_default();
    // SAFETY: `out` came from crcm.
    unsafe { crcm_string_free(out) };
    assert_eq!(answer["ok"]["events"][0]["event"]["type"], "config_changed");
    // SAFETY: as above; a bad actor.
    let status = unsafe {
        crcm_events_since(
            engine.handle,
            c(r#"{"user": ""}"#).as_ptr(),
            0,
            10,
            &mut out,
            &mut len,
            &mut err,
        )
    };
    let r = refusal(status, err);
    assert_eq!(
        (r.status, r.name.as_str()),
        (CRCM_INVALID_USER_ID, "invalid_user_id"),
        "{}",
        r.message
    );
}
