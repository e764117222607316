//! An import killed mid-file: this test binary re-runs itself as a child
//! process that imports a generated CSV file into a sled store and reports
//! each committed batch. The parent kills it (SIGKILL) part-way, reopens the
//! store and checks that it holds whole batches only, at least every batch
//! the child saw committed, each lead with its history and event; then it
//! resumes the import and checks that every row is imported exactly once.

use std::io::{BufRead, BufReader, Cursor, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;

use crcm_core::domain::ids::ImportId;
use crcm_core::engine::import::{
    ImportField, ImportMapping, ImportMode, ImportObserver, ImportOptions, ImportProgress,
};
use crcm_core::testing::imports::numbered_csv;
use crcm_core::testing::{ann, configured};
use crcm_core::{Code, Engine, EntityRef, LeadFilter, LeadQuery, Store, StoreExt};
use crcm_store_sled::SledStore;

const CHILD_DIR: &str = "CRCM_IMPORT_CHILD_DIR";
const CHILD_FILE: &str = "CRCM_IMPORT_CHILD_FILE";
const CHILD_ID: &str = "CRCM_IMPORT_CHILD_ID";
const ROWS: usize = 8_000;
const BATCH: usize = 200;

fn options(id: ImportId, resume: bool) -> ImportOptions {
    ImportOptions {
        mapping: ImportMapping::default().relax(&ImportField::Phone),
        mode: ImportMode::SkipInvalid,
        account_type: Code::new("b2b").ok(),
        batch_size: BATCH,
        id,
        resume,
        ..ImportOptions::default()
    }
}

/// Prints each committed batch's total for the parent.
struct Reporter;

impl ImportObserver for Reporter {
    fn progress(&mut self, p: &ImportProgress) {
        let mut out = std::io::stdout().lock();
        // When the pipe is gone the parent is gone too: stop.
        if writeln!(out, "COMMITTED {}", p.imported)
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(3);
        }
    }
}

/// The child's body. As a normal test (no environment variable) it does nothing.
#[test]
fn import_child() {
    let (Ok(dir), Ok(file), Ok(id)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_FILE),
        std::env::var(CHILD_ID),
    ) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Arc::new(SledStore::open(&dir).expect("open"));
        let engine = configured(store).await;
        let id: ImportId = id.parse().expect("import id");
        let file = std::fs::File::open(file).expect("csv");
        engine
            .import_leads(&ann(), file, &options(id, false), &mut Reporter)
            .await
            .expect("import");
        // Not reached in the test: the parent kills the child first.
        println!("DONE");
    });
}

#[test]
fn killed_import_leaves_whole_batches_and_resumes() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    let csv_path = tmp.path().join("leads.csv");
    let csv = numbered_csv(ROWS);
    std::fs::write(&csv_path, &csv).expect("write csv");
    let id = ImportId::new();

    let exe = std::env::current_exe().expect("test binary");
    let mut child = Process::new(exe)
        .args(["--exact", "import_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, &dir)
        .env(CHILD_FILE, &csv_path)
        .env(CHILD_ID, id.0.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    // Kill once a quarter of the rows are in: well inside the file.
    let mut seen = 0u64;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(n) = line.strip_prefix("COMMITTED ") {
            seen = n.trim().parse().expect("count");
            if seen >= (ROWS / 4) as u64 {
                break;
            }
        }
        assert_ne!(line, "DONE", "the child finished before it was killed");
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(seen >= (ROWS / 4) as u64, "the child reported {seen} before it died");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Arc::new(SledStore::open(&dir).expect("reopen"));
        let verified = store.verify().expect("verify");
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
        let engine = Engine::open(store.clone()).await.expect("engine");
        let committed = store.count_leads(&LeadFilter::default()).await.expect("count");
        assert!(
            committed >= seen,
            "a batch the child saw committed is gone: {committed} < {seen}"
        );
        assert!(committed < ROWS as u64, "killed mid-file, yet {committed} leads");
        assert_eq!(committed % BATCH as u64, 0, "whole batches only: {committed}");
        let events = engine
            .events_since(&crcm_core::testing::root(), 0, usize::MAX)
            .await
            .expect("events");
        let created = events
            .iter()
            .filter(|e| matches!(e.event, crcm_core::DomainEvent::LeadCreated { .. }))
            .count() as u64;
        assert_eq!(created, committed, "one LeadCreated event per lead");
        let last = engine
            .lead_by_number(&crcm_core::testing::root(), committed)
            .await
            .expect("last lead");
        assert_eq!(last.display_name(), format!("Row {}", committed - 1));
        assert_eq!(store.history(EntityRef::lead(last.id)).await.expect("history").len(), 1);

        // Resumed: the rest, each row once, in file order.
        let report = engine
            .import_leads(&ann(), Cursor::new(csv), &options(id, true), &mut ())
            .await
            .expect("resume");
        assert_eq!(report.skipped, committed);
        assert_eq!(report.imported, ROWS as u64 - committed);
        assert_eq!(
            store.count_leads(&LeadFilter::default()).await.expect("count"),
            ROWS as u64
        );
        let mut query = LeadQuery::default();
        query.page.limit = 1000;
        let mut expected = 0usize;
        loop {
            let page = engine.leads(&crcm_core::testing::root(), &query).await.expect("leads");
            for lead in &page.items {
                assert_eq!(lead.display_name(), format!("Row {expected}"));
                expected += 1;
            }
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => break,
            }
        }
        assert_eq!(expected, ROWS);
    });
}
