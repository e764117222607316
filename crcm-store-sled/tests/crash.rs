//! Crash test: this test binary re-runs itself as a child process that runs
//! commands in a loop and reports each one once `commit` has returned. The
//! parent kills the child with SIGKILL at random moments; after every kill it
//! reopens the store and checks that `verify()` finds it consistent, that the
//! domain invariants hold, and that every command the child reported as
//! committed is there.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crcm_core::commands;
use crcm_core::domain::input::{CustomerChoice, DealDraft};
use crcm_core::engine::commands::Command;
use crcm_core::testing::{ann, configured, conformance, phase};
use crcm_core::{Code, Engine, NewLead};
use crcm_store_sled::SledStore;

const KILLS: usize = 24;
const CHILD_ENV: &str = "CRCM_CRASH_CHILD_DIR";
/// Set it to the seed a failed run printed to replay that run's kill moments.
const SEED_ENV: &str = "CRCM_CRASH_SEED";

/// A small xorshift generator: enough to spread the kill moments.
struct Rng(u64);

impl Rng {
    /// The seed from `CRCM_CRASH_SEED`, or one from the clock.
    fn seed() -> u64 {
        if let Some(seed) = std::env::var(SEED_ENV).ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            return seed;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    }
    fn seeded(seed: u64) -> Self {
        Self(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent only trusts what it has read. When the pipe is gone the parent
    // is gone too: stop, so no child outlives its test.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// The child's body. As a normal test (no environment variable) it does nothing.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Arc::new(SledStore::open(&dir).expect("open"));
        let engine = match Engine::open(store.clone()).await.expect("engine").config().await {
            Ok(_) => Engine::open(store).await.expect("engine"),
            Err(_) => configured(store).await,
        };
        report("READY");
        let b2b = Code::new("b2b").expect("code");
        for i in 0u64.. {
            let lead = engine
                .run(
                    &ann(),
                    commands::CreateLead {
                        lead: NewLead {
                            company: format!("Crash Co {i}"),
                            email: Some(format!("crash{i}.{}@example.com", std::process::id())),
                            account_type: Some(b2b.clone()),
                            ..NewLead::default()
                        },
                    },
                )
                .await
                .expect("create");
            report(&format!("C {} {}", lead.number, lead.version));
            let moved = engine
                .run(
                    &ann(),
                    commands::MoveLeadPhase {
                        lead: lead.id,
                        phase: phase("b2b", "MEETING"),
                        closing_reason: None,
                        note: None,
                    },
                )
                .await
                .expect("move");
            report(&format!("C {} {}", moved.number, moved.version));
            if i % 2 == 0 {
                let (q, _, deal) = engine
                    .run(
                        &ann(),
                        commands::QualifyLead {
                            lead: lead.id,
                            customer: CustomerChoice::Create,
                            deal: DealDraft::default(),
                        },
                    )
                    .await
                    .map(|q| (q.lead, q.customer, q.deal))
                    .expect("qualify");
                report(&format!("C {} {}", q.number, q.version));
                if i % 4 == 0 {
                    let (_, won) = engine
                        .run(
                            &ann(),
                            commands::WinDeal {
                                deal: deal.id,
                                stage: None,
                            },
                        )
                        .await
                        .map(|c| (c.deal, c.lead))
                        .expect("win");
                    if let Some(w) = won {
                        report(&format!("C {} {}", w.number, w.version));
                    }
                }
            } else {
                let out = engine
                    .execute(
                        &ann(),
                        Command::DisqualifyLead(commands::DisqualifyLead {
                            lead: lead.id,
                            reason: Code::new("no_fit").expect("code"),
                            note: None,
                        }),
                    )
                    .await
                    .expect("disqualify");
                if let crcm_core::CommandOutput::Lead { lead } = out {
                    report(&format!("C {} {}", lead.number, lead.version));
                }
            }
        }
    });
}

#[test]
fn survives_sigkill_at_random_moments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    let exe = std::env::current_exe().expect("test binary");
    let seed = Rng::seed();
    // Printed first, so a failing run's output names it (replay: CRCM_CRASH_SEED=<seed>).
    eprintln!("crash test seed: {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = Rng::seeded(seed);
    let mut committed: BTreeMap<u64, u64> = BTreeMap::new();
    let mut kills = 0;
    let mut rounds_with_commits = 0;
    let mut last_report = String::new();
    let mut reported = 0usize;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for round in 0..KILLS {
        let mut child = Process::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        let started = Instant::now();
        while !lines.lock().expect("lines").iter().any(|l| l.ends_with("READY")) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: the child never became ready"
            );
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("round {round}: the child exited early with {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(10 + rng.below(250)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "round {round}: the child must die from the kill, not finish"
        );
        kills += 1;
        reader.join().expect("reader");
        let mut new = 0;
        for line in lines.lock().expect("lines").iter() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["C", n, v] = parts.as_slice() {
                let (n, v): (u64, u64) = (n.parse().expect("number"), v.parse().expect("version"));
                let e = committed.entry(n).or_insert(0);
                *e = (*e).max(v);
                new += 1;
                reported += 1;
            }
        }
        if new > 0 {
            rounds_with_commits += 1;
        }
        // Reopen and check everything.
        let store = SledStore::open(&dir).expect("reopen after SIGKILL");
        let report = store.verify().expect("verify");
        assert!(report.is_ok(), "round {round}: verify found {:#?}", report.problems);
        last_report = report.to_string();
        let store = Arc::new(store);
        rt.block_on(async {
            let engine = Engine::open(store.clone()).await.expect("engine");
            let problems = conformance::store_invariants(&engine).await;
            assert!(problems.is_empty(), "round {round}: invariants broken: {problems:#?}");
            for (number, version) in &committed {
                let lead = engine
                    .lead_by_number(&crcm_core::testing::root(), *number)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: committed lead {number} is missing: {e}"));
                assert!(
                    lead.version >= *version,
                    "round {round}: lead {number} reported at version {version}, found {}",
                    lead.version
                );
            }
        });
        drop(store);
    }
    assert_eq!(kills, KILLS, "every round killed its child");
    assert!(
        rounds_with_commits >= KILLS / 2,
        "most children got work done before the kill ({rounds_with_commits}/{KILLS})"
    );
    let summary = format!(
        "crash test (seed {seed}): {kills} SIGKILLs survived; {reported} commands reported committed, all found, on {} leads; last verify: {last_report}",
        committed.len()
    );
    eprintln!("{summary}");
    // CI prints the reports after the test run (the harness captures output).
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crcm-reports");
    if let Err(e) =
        std::fs::create_dir_all(&reports).and_then(|()| std::fs::write(reports.join("sled-crash.txt"), &summary))
    {
        eprintln!("could not write the report: {e}");
    }
}
