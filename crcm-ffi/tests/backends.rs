//! The C ABI opens every backend its specs name: a store written through it
//! on SQLite, PostgreSQL and MySQL/MariaDB reads back after a reopen. The
//! server tests are ignored, with the variable that is missing, when
//! `CRCM_TEST_POSTGRES_URL` or `CRCM_TEST_MYSQL_URL` is not set, and fail
//! without their server under `CI=true` (the build script is crcm-store-sea's).

use std::ffi::CString;
use std::ptr;

use crcm_ffi::engine::{crcm_engine, crcm_engine_close, crcm_engine_open};
use crcm_ffi::status::CRCM_OK;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

mod common;

fn open(spec: &str, options: Option<&str>) -> *mut crcm_engine {
    let spec = CString::new(spec).unwrap_or_default();
    let options = options.map(|o| CString::new(o).unwrap_or_default());
    let (mut engine, mut err) = (ptr::null_mut(), ptr::null_mut());
    let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
    // SAFETY: valid strings and out-pointers.
    let status = unsafe { crcm_engine_open(spec.as_ptr(), options_ptr, &mut engine, &mut err) };
    if status != CRCM_OK {
        // SAFETY: the error the call wrote.
        let message = unsafe { std::ffi::CStr::from_ptr(crcm_ffi::error::crcm_error_message(err)) };
        panic!("open {spec:?}: {status} {message:?}");
    }
    engine
}

fn ask(engine: *const crcm_engine, request: &Value) -> Value {
    let answer = common::send(engine, request.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    serde_json::from_str(&answer).unwrap_or_default()
}

/// Configures, creates a lead, closes, reopens and reads it back.
fn write_and_read_back(spec: &str, options: Option<&str>) {
    let maria = json!({"user": "maria", "role": "manager"});
    let config: Value = serde_json::from_str(include_str!("../../examples/story/config.json")).unwrap_or_default();
    let engine = open(spec, options);
    ask(engine, &json!({"actor": maria, "type": "set_config", "config": config}));
    let created = ask(
        engine,
        &json!({"actor": maria, "type": "create_lead",
        "lead": {"account_type": "business", "first_name": "Ada", "company": "Acme", "email": "ada@acme.example"}}),
    );
    let lead = created["ok"]["output"]["lead"].clone();
    assert_eq!(lead["number"], 1);
    // SAFETY: the handle crcm returned.
    assert_eq!(unsafe { crcm_engine_close(engine) }, CRCM_OK);

    let engine = open(spec, options);
    let read = ask(
        engine,
        &json!({"actor": maria, "type": "get_lead_by_number", "number": 1}),
    );
    assert_eq!(read["ok"]["lead"], lead, "the lead reads back as written");
    let events = ask(engine, &json!({"actor": maria, "type": "events_since"}));
    assert_eq!(events["ok"]["events"].as_array().map(Vec::len), Some(2));
    // SAFETY: the handle crcm returned.
    assert_eq!(unsafe { crcm_engine_close(engine) }, CRCM_OK);
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", crcm::uuid::Uuid::now_v7().simple())
}

/// Runs SQL on a server (outside any engine call: those refuse to run
/// inside a runtime).
fn admin(url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let db = Database::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = db.close().await;
    });
}

/// Drops a schema or database when the test ends, passed or not.
struct Cleanup {
    url: String,
    sql: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        admin(&self.url, &self.sql);
    }
}

fn server(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"))
}

#[test]
fn sled_and_sqlite_through_the_c_abi() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_and_read_back(
        &format!("sled:{}", dir.path().join("store").display()),
        Some(r#"{"sled_cache_bytes": 8388608}"#),
    );
    write_and_read_back(&format!("sqlite:{}", dir.path().join("crm.db").display()), None);
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn postgres_through_the_c_abi() {
    let url = server("CRCM_TEST_POSTGRES_URL");
    let schema = unique("crcm_ffi");
    let _cleanup = Cleanup {
        url: url.clone(),
        sql: format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
    };
    write_and_read_back(&url, Some(&json!({"schema": schema, "max_connections": 2}).to_string()));
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn mysql_through_the_c_abi() {
    let url = server("CRCM_TEST_MYSQL_URL");
    let database = unique("crcm_ffi");
    admin(&url, &format!("CREATE DATABASE `{database}`"));
    let _cleanup = Cleanup {
        url: url.clone(),
        sql: format!("DROP DATABASE IF EXISTS `{database}`"),
    };
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    write_and_read_back(&format!("{base}/{database}"), None);
}
