//! Many concurrent writers on one default (`Durability::Flush`) store never
//! stall: 8 and 16 tasks on a multi-threaded runtime, 10 runs each, under a
//! watchdog that fails the test when no commit lands for 10 seconds.
//!
//! Regression test: sled 0.34's `flush_async`, called by concurrent writers,
//! could park all of sled's IO threads for good.

use crcm_core::testing::AllLeads;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crcm_core::NewLead;
use crcm_core::commands;
use crcm_core::testing::{ann, configured};
use crcm_store_sled::SledStore;

const RUNS: usize = 10;
const LEADS_PER_WRITER: usize = 150;
const STALL: Duration = Duration::from_secs(10);

/// One run: `writers` tasks create leads; returns how many were created.
fn run(writers: usize, run: usize) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let (p, d) = (Arc::clone(&progress), Arc::clone(&done));
    let path = dir.path().join("s");
    // The runtime runs on its own thread so that a hang cannot hang the test.
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let store = SledStore::open(&path).expect("open");
            let engine = configured(Arc::new(store)).await;
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let engine = engine.clone();
                    let p = Arc::clone(&p);
                    tokio::spawn(async move {
                        for i in 0..LEADS_PER_WRITER {
                            let lead = NewLead {
                                company: format!("Writer {w} lead {i}"),
                                account_type: crcm_core::Code::new("b2b").ok(),
                                ..NewLead::default()
                            };
                            engine.run(&ann(), commands::CreateLead { lead }).await.expect("create");
                            p.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("writer task");
            }
            let all = engine
                .lead_list(&crcm_core::LeadFilter::default())
                .await
                .expect("read back");
            assert_eq!(all.len(), writers * LEADS_PER_WRITER, "every created lead is stored");
        });
        d.store(1, Ordering::SeqCst);
    });
    let mut last = 0;
    let mut since = Instant::now();
    while done.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(50));
        if worker.is_finished() {
            break;
        }
        let now = progress.load(Ordering::SeqCst);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() > STALL {
            panic!("{writers} writers, run {run}: no commit for {STALL:?} after {now} commits: the store hangs");
        }
    }
    worker.join().expect("the run failed");
    progress.load(Ordering::SeqCst)
}

fn writers(n: usize) {
    let start = Instant::now();
    let mut total = 0;
    for r in 0..RUNS {
        total += run(n, r);
    }
    assert_eq!(total, (RUNS * n * LEADS_PER_WRITER) as u64);
    let summary = format!(
        "{n} writers x {RUNS} runs: {total} commits, 0 hangs, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    println!("{summary}");
    // CI prints the reports after the test run (the harness captures output).
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crcm-reports");
    let file = reports.join(format!("sled-writers-{n}.txt"));
    if let Err(e) = std::fs::create_dir_all(&reports).and_then(|()| std::fs::write(file, &summary)) {
        eprintln!("could not write the report: {e}");
    }
}

#[test]
fn eight_writers_never_hang() {
    writers(8);
}

#[test]
fn sixteen_writers_never_hang() {
    writers(16);
}
