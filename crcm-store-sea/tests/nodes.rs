//! Many nodes on one database: this test binary re-runs itself as two child
//! processes, each embedding its own `Engine` on the same PostgreSQL schema
//! (and MySQL database), and lets them race:
//!
//! - both qualify the same 100 leads: each lead ends with exactly one customer
//!   and one deal, and each node's losing attempt is a typed refusal;
//! - both move phases on three shared leads: every applied move shows up as a
//!   version and a history entry, none is lost;
//! - the event outbox numbers every event once, with no gap.

mod common;

use crcm_core::StoreExt;
use crcm_core::testing::AllLeads;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Place, Server, SqlFactory};
use crcm_core::commands;
use crcm_core::domain::entity::EntityRef;
use crcm_core::domain::event::DomainEvent;
use crcm_core::domain::input::{CustomerChoice, DealDraft};
use crcm_core::domain::lead::LeadStatus;
use crcm_core::engine::commands::Command;
use crcm_core::rules::error::Error;
use crcm_core::rules::machine::LeadError;
use crcm_core::store::LeadFilter;
use crcm_core::testing::{ann, configured, conformance, phase};
use crcm_core::{Code, Engine, LeadId, NewLead};
use crcm_store_sea::{SeaOptions, SeaStore};

const LEADS: usize = 100;
const SHARED: usize = 3;
const MOVES_PER_TASK: usize = 150;
const TASKS_PER_NODE: usize = 2;
const CHILD_URL: &str = "CRCM_NODE_CHILD_URL";
const CHILD_SCHEMA: &str = "CRCM_NODE_CHILD_SCHEMA";
const CHILD_GO: &str = "CRCM_NODE_CHILD_GO";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // No reader means no parent: stop rather than outlive the test.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// The leads of the race, split into the ones to qualify and the shared ones.
async fn race_leads(engine: &Engine) -> (Vec<LeadId>, Vec<LeadId>) {
    let all = engine
        .lead_list(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| panic!("list leads: {e}"));
    let pick = |prefix: &str| -> Vec<LeadId> {
        all.iter()
            .filter(|l| l.company.starts_with(prefix))
            .map(|l| l.id)
            .collect()
    };
    (pick("Race "), pick("Shared "))
}

/// One node: waits for the go signal, then races.
#[test]
fn node_child() {
    let Ok(url) = std::env::var(CHILD_URL) else { return };
    let schema = std::env::var(CHILD_SCHEMA).ok().filter(|s| !s.is_empty());
    let go = std::env::var(CHILD_GO).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async move {
        let options = SeaOptions {
            schema,
            ..SeaOptions::default()
        };
        let store = SeaStore::connect_with(&url, options)
            .await
            .unwrap_or_else(|e| panic!("node connect: {e}"));
        let engine = Engine::open(Arc::new(store))
            .await
            .unwrap_or_else(|e| panic!("node engine: {e}"));
        let (race, shared) = race_leads(&engine).await;
        say(&format!("READY {} {}", race.len(), shared.len()));
        let started = Instant::now();
        while !std::path::Path::new(&go).exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "no go signal");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        // Both nodes qualify the same leads in the same order.
        let (mut won, mut refused, mut retried) = (0, 0, 0);
        for lead in &race {
            let command = Command::QualifyLead(commands::QualifyLead {
                lead: *lead,
                customer: CustomerChoice::Auto,
                deal: DealDraft::default(),
            });
            match engine.execute_detailed(&ann(), command).await {
                Ok(done) => {
                    won += 1;
                    retried += usize::from(done.attempts > 1);
                }
                Err(Error::Lead(LeadError::NotAllowed {
                    status: LeadStatus::Qualified,
                    ..
                })) => refused += 1,
                Err(e) => panic!("qualify {lead}: unexpected error {e}"),
            }
        }

        // Then they move phases on the shared leads from two tasks each.
        let phases = [phase("b2b", "CALL"), phase("b2b", "MEETING"), phase("b2b", "QUOTE")];
        let pid = std::process::id() as usize;
        let tasks: Vec<_> = (0..TASKS_PER_NODE)
            .map(|t| {
                let (engine, shared, phases) = (engine.clone(), shared.clone(), phases.clone());
                tokio::spawn(async move {
                    let mut applied = vec![0usize; shared.len()];
                    let mut gave_up = 0usize;
                    for i in 0..MOVES_PER_TASK {
                        let which = (t + i) % shared.len();
                        let command = Command::MoveLeadPhase(commands::MoveLeadPhase {
                            lead: shared[which],
                            phase: phases[(pid + t * 7 + i) % phases.len()].clone(),
                            closing_reason: None,
                            note: None,
                        });
                        match engine.execute_detailed(&ann(), command).await {
                            Ok(done) if done.receipt.is_some() => applied[which] += 1,
                            Ok(_) => {}
                            Err(e) if e.is_conflict() => gave_up += 1,
                            Err(e) => panic!("move: unexpected error {e}"),
                        }
                    }
                    (applied, gave_up)
                })
            })
            .collect();
        let mut applied = vec![0usize; shared.len()];
        let mut gave_up = 0;
        for task in tasks {
            let (a, g) = task.await.unwrap_or_else(|e| panic!("task: {e}"));
            applied.iter_mut().zip(a).for_each(|(total, n)| *total += n);
            gave_up += g;
        }
        let applied: Vec<String> = applied.iter().map(ToString::to_string).collect();
        say(&format!(
            "RESULT {won} {refused} {retried} {gave_up} {}",
            applied.join(",")
        ));
    });
}

/// What one node reported.
#[derive(Debug, Default)]
struct NodeResult {
    won: usize,
    refused: usize,
    retried: usize,
    gave_up: usize,
    applied: Vec<usize>,
}

fn parse_result(line: &str) -> Option<NodeResult> {
    let rest = &line[line.find("RESULT ")? + "RESULT ".len()..];
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [won, refused, retried, gave_up, applied] = parts.as_slice() else {
        return None;
    };
    Some(NodeResult {
        won: won.parse().ok()?,
        refused: refused.parse().ok()?,
        retried: retried.parse().ok()?,
        gave_up: gave_up.parse().ok()?,
        applied: applied.split(',').map(str::parse).collect::<Result<_, _>>().ok()?,
    })
}

/// Prepares a database, runs two nodes against it, and checks the outcome.
fn race(server: Server) {
    let factory = SqlFactory::new(server);
    if !crcm_core::testing::available(&factory) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (place, engine): (Place, Engine) = rt.block_on(async {
        let place = factory.new_place().await.unwrap_or_else(|e| panic!("place: {e}"));
        let store = SeaStore::connect_with(&place.url, place.options.clone())
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let engine = configured(Arc::new(store)).await;
        let b2b = Code::new("b2b").unwrap_or_else(|e| panic!("{e}"));
        for (prefix, n) in [("Race", LEADS), ("Shared", SHARED)] {
            for i in 0..n {
                let lead = NewLead {
                    company: format!("{prefix} {i}"),
                    email: Some(format!("{}{i}@nodes.example.com", prefix.to_lowercase())),
                    account_type: Some(b2b.clone()),
                    ..NewLead::default()
                };
                engine
                    .run(&ann(), commands::CreateLead { lead })
                    .await
                    .unwrap_or_else(|e| panic!("create lead: {e}"));
            }
        }
        (place, engine)
    });
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let go = tmp.path().join("go");
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("test binary: {e}"));
    let mut children = Vec::new();
    for _ in 0..2 {
        let mut child = Process::new(&exe)
            .args(["node_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_URL, &place.url)
            .env(CHILD_SCHEMA, place.options.schema.clone().unwrap_or_default())
            .env(CHILD_GO, &go)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn node: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("piped stdout"));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        children.push((child, rx));
    }
    // Start both at once, once both are connected.
    let wait_for = |rx: &std::sync::mpsc::Receiver<String>, word: &str, secs: u64| -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(word) => return line,
                Ok(_) => {}
                Err(e) => panic!("waiting for {word} from a node: {e}"),
            }
        }
    };
    for (_, rx) in &children {
        let ready = wait_for(rx, "READY", 60);
        assert!(ready.ends_with(&format!("READY {LEADS} {SHARED}")), "{ready}");
    }
    std::fs::write(&go, b"go").unwrap_or_else(|e| panic!("go signal: {e}"));
    let started = Instant::now();
    let mut results = Vec::new();
    for (mut child, rx) in children {
        let line = wait_for(&rx, "RESULT", 600);
        results.push(parse_result(&line).unwrap_or_else(|| panic!("bad result line {line:?}")));
        let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
        assert!(status.success(), "node exited with {status}");
    }
    let elapsed = started.elapsed();

    // Qualify: every lead won by exactly one node, refused to the other.
    let won: usize = results.iter().map(|r| r.won).sum();
    let refused: usize = results.iter().map(|r| r.refused).sum();
    assert_eq!(
        (won, refused),
        (LEADS, LEADS),
        "each lead qualified once and refused once: {results:?}"
    );
    let applied: Vec<usize> = (0..SHARED)
        .map(|i| results.iter().map(|r| r.applied.get(i).copied().unwrap_or(0)).sum())
        .collect();
    let gave_up: usize = results.iter().map(|r| r.gave_up).sum();

    let summary = rt.block_on(async {
        let (race_ids, shared_ids) = race_leads(&engine).await;
        for (i, lead) in race_ids.iter().enumerate() {
            let l = engine
                .lead(&crcm_core::testing::root(), *lead)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(l.status, LeadStatus::Qualified, "lead {}", l.number);
            let deals = engine
                .deals_of_lead(&crcm_core::testing::root(), *lead)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(deals.len(), 1, "one deal for lead {}", l.number);
            let customers = engine
                .store()
                .customers_by_email(&format!("race{i}@nodes.example.com"))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(customers.len(), 1, "one customer for lead {}", l.number);
            assert_eq!(Some(customers[0].id), l.customer);
        }
        // Phase moves: version and history count = 1 + applied moves.
        let mut moved = 0;
        for (lead, n) in shared_ids.iter().zip(&applied) {
            let l = engine
                .lead(&crcm_core::testing::root(), *lead)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let history = engine
                .history(&crcm_core::testing::root(), EntityRef::lead(*lead))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                l.version as usize,
                1 + n,
                "lead {}: version = 1 + applied moves",
                l.number
            );
            let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
            assert_eq!(
                versions,
                (1..=l.version).collect::<Vec<_>>(),
                "lead {}: history",
                l.number
            );
            moved += n;
        }
        // The outbox: 1..=N, each once, and exactly the events the nodes caused.
        let events = engine
            .events_since(&crcm_core::testing::root(), 0, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as u64).collect::<Vec<_>>(),
            "gap-free, no duplicates"
        );
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &events {
            let kind = match &e.event {
                DomainEvent::LeadQualified { .. } => "qualified",
                DomainEvent::DealCreated { .. } => "deal",
                DomainEvent::PhaseChanged { lead, .. } if shared_ids.contains(lead) => "shared move",
                _ => "other",
            };
            *kinds.entry(kind).or_default() += 1;
        }
        assert_eq!(kinds.get("qualified"), Some(&LEADS), "one LeadQualified per lead");
        assert_eq!(kinds.get("deal"), Some(&LEADS), "one DealCreated per lead");
        assert_eq!(
            kinds.get("shared move").copied().unwrap_or(0),
            moved,
            "one PhaseChanged per applied move"
        );
        let problems = conformance::store_invariants(&engine).await;
        assert!(problems.is_empty(), "invariants: {problems:#?}");
        format!(
            "two nodes on {server:?}: {won} qualifies won (node 1: {}, node 2: {}; {} winners needed a retry) \
             and {refused} refused (Qualified) over {LEADS} leads, \
             {LEADS} customers and {LEADS} deals; {moved} phase moves applied on {SHARED} shared leads \
             ({applied:?}), {gave_up} gave up after retries, versions and history add up; \
             events 1..={} gap-free, no duplicates; race took {:.1} s",
            results[0].won,
            results[1].won,
            results.iter().map(|r| r.retried).sum::<usize>(),
            events.len(),
            elapsed.as_secs_f64()
        )
    });
    println!("{summary}");
    // CI prints the reports after the test run (the harness captures output).
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crcm-reports");
    let file = reports.join(format!("sea-two-nodes-{server:?}.txt").to_lowercase());
    if let Err(e) = std::fs::create_dir_all(&reports).and_then(|()| std::fs::write(file, &summary)) {
        eprintln!("could not write the report: {e}");
    }
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn two_nodes_race_on_postgres() {
    race(Server::Postgres);
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn two_nodes_race_on_mysql() {
    race(Server::Mysql);
}
