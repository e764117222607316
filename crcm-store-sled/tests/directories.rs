//! Opening directories: new, existing, not a crcm store, newer format.

use crcm_core::store::error::StoreError;
use crcm_core::store::{FORMAT_VERSION, Store};
use crcm_store_sled::SledStore;

fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_directory_that_is_not_a_crcm_store_is_refused_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("notes.txt"), b"someone else's data").expect("write");
    let before = listing(tmp.path());
    match SledStore::open(tmp.path()) {
        Err(StoreError::NotACrcmStore(msg)) => assert!(msg.contains("left untouched"), "{msg}"),
        other => panic!("expected NotACrcmStore, got {other:?}"),
    }
    assert_eq!(listing(tmp.path()), before, "nothing was created or changed");
    let file = tmp.path().join("notes.txt");
    assert!(
        matches!(SledStore::open(&file), Err(StoreError::NotACrcmStore(_))),
        "a file is not a store"
    );
}

#[test]
fn a_newer_format_is_refused_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    drop(SledStore::open(&dir).expect("create"));
    let newer = format!(r#"{{"crcm_store":true,"format":{}}}"#, FORMAT_VERSION + 1);
    std::fs::write(dir.join("crcm-store.json"), &newer).expect("write marker");
    let before = listing(&dir);
    match SledStore::open(&dir) {
        Err(StoreError::FormatTooNew { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION))
        }
        other => panic!("expected FormatTooNew, got {other:?}"),
    }
    assert_eq!(listing(&dir), before);
}

#[test]
fn an_empty_or_missing_directory_becomes_a_store_and_reopens() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    let store = SledStore::open(tmp.path()).expect("an empty directory is fine");
    assert_eq!(rt.block_on(store.format_version()).expect("format"), FORMAT_VERSION);
    let report = store.verify().expect("verify");
    assert!(report.is_ok() && report.records == 0, "{report}");
    drop(store);
    let again = SledStore::open(tmp.path()).expect("reopen");
    assert_eq!(rt.block_on(again.format_version()).expect("format"), FORMAT_VERSION);
    let marker = std::fs::read_to_string(tmp.path().join("crcm-store.json")).expect("marker");
    assert_eq!(marker, format!(r#"{{"crcm_store":true,"format":{FORMAT_VERSION}}}"#));
}

#[test]
fn an_empty_path_and_a_cache_too_small_are_refused_before_anything_is_written() {
    // The current directory is not ours: an empty path must not become it.
    let cwd = std::env::current_dir().expect("cwd");
    let before = listing(&cwd);
    match SledStore::open("") {
        Err(StoreError::InvalidOptions { message }) => assert!(message.contains("empty path"), "{message}"),
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
    assert_eq!(listing(&cwd), before, "the current directory is untouched");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    for cache_capacity in [0, 1, crcm_store_sled::SledOptions::MIN_CACHE - 1] {
        let options = crcm_store_sled::SledOptions {
            cache_capacity,
            ..Default::default()
        };
        match SledStore::open_with(&dir, options) {
            Err(StoreError::InvalidOptions { message }) => assert!(message.contains("page cache"), "{message}"),
            other => panic!("a cache of {cache_capacity} bytes: expected InvalidOptions, got {other:?}"),
        }
        assert!(!dir.exists(), "nothing was created");
    }
    let options = crcm_store_sled::SledOptions {
        cache_capacity: crcm_store_sled::SledOptions::MIN_CACHE,
        ..Default::default()
    };
    assert!(
        SledStore::open_with(&dir, options).is_ok(),
        "the smallest cache accepted works"
    );
}
