//! A fuzz run of the JSON command form: commands as a client sends them,
//! built from the golden JSON of every command with real ids, some of their
//! values replaced by extreme or malformed ones (huge and negative numbers,
//! dates far outside the calendar crcm keeps, control characters, over-long
//! texts, wrong types, other records' ids). Every few hundred commands it
//! runs every read (boards, deal boards, every report) and checks the
//! maintained board cells against a recount from the leads, and the
//! backend's own consistency check ([`StoreFactory::verify`]).
//!
//! It fails on a panic, on a backend error (`backend`, `corrupt`,
//! `overflow`) and on a maintained figure that differs from its recount; a
//! refused command is fine, and so is JSON that does not parse (a typed
//! error). `CRCM_FUZZ_COMMANDS` sets how many commands run,
//! `CRCM_FUZZ_SEED` replays a run.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{AllLeads, StoreFactory, ann, bob, fixture_engine, maria, root};
use crate::domain::activity::Subject;
use crate::domain::ids::Code;
use crate::engine::Engine;
use crate::engine::board::BoardQuery;
use crate::engine::commands::Command;
use crate::engine::query::CustomerQuery;
use crate::engine::reports::Interval;
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::store::query::CommunicationFilter;
use crate::store::tally::board_cells_of;
use crate::store::{LeadFilter, PageRequest};

/// The JSON form of every command (ids and times as placeholders).
const TEMPLATES: &str = include_str!("../../tests/golden/commands.json");

/// A small deterministic generator (xorshift64*): the run replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Values that break things: past every bound, the wrong type, control
/// characters, dates outside any calendar a backend orders alike.
fn extreme(rng: &mut Rng) -> Value {
    let long = "x".repeat(5000);
    let palette = [
        json!(i64::MAX),
        json!(i64::MIN),
        json!(i64::MAX / 2 + 1),
        json!(i64::MAX / 100 + 1),
        json!(crate::domain::limits::AMOUNT),
        json!(crate::domain::limits::AMOUNT + 1),
        json!(u32::MAX),
        json!(u64::MAX),
        json!(-1),
        json!(0),
        json!(101),
        json!(1e300),
        json!(""),
        json!(" "),
        json!("north "),
        json!("nul\u{0}inside"),
        json!("esc\u{1b}[31m"),
        json!(long),
        json!("=HYPERLINK(\"http://evil\")"),
        json!("+262142-12-31"),
        json!("-262143-01-01"),
        json!("1899-12-31"),
        json!("2999-12-31"),
        json!("9999-12-31"),
        json!("0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"),
        json!({ "minor": i64::MAX, "currency": "USD" }),
        json!({ "minor": crate::domain::limits::AMOUNT, "currency": "JPY" }),
        json!({ "account_type": "b2b", "code": "LOST" }),
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
    ];
    palette[rng.below(palette.len())].clone()
}

/// Replaces one random leaf (or the value under one random key) of `v`.
fn mutate(v: &mut Value, rng: &mut Rng) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().filter(|k| k.as_str() != "type").cloned().collect();
            if keys.is_empty() {
                return;
            }
            let key = &keys[rng.below(keys.len())];
            if let Some(child) = map.get_mut(key) {
                if rng.chance(40) || !matches!(child, Value::Object(_) | Value::Array(_)) {
                    *child = extreme(rng);
                } else {
                    mutate(child, rng);
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.below(items.len());
            mutate(&mut items[i], rng);
        }
        other => *other = extreme(rng),
    }
}

/// An id as its JSON form writes it (a plain UUID; its `Display` adds the kind).
fn wire<T: serde::Serialize>(id: &T) -> String {
    serde_json::to_value(id)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The ids a command can name, refreshed from the store now and then.
#[derive(Default)]
struct Pools {
    leads: Vec<String>,
    customers: Vec<String>,
    deals: Vec<String>,
    follow_ups: Vec<String>,
    communications: Vec<String>,
}

impl Pools {
    async fn refresh(engine: &Engine) -> Result<Self, Error> {
        let leads = engine.lead_list(&LeadFilter::default()).await?;
        let mut pools = Pools {
            leads: leads.iter().map(|l| wire(&l.id)).collect(),
            ..Pools::default()
        };
        for lead in leads.iter().rev().take(30) {
            for d in engine.deals_of_lead(&crate::testing::root(), lead.id).await? {
                pools.deals.push(wire(&d.id));
            }
            for f in engine
                .follow_ups(&crate::testing::root(), Subject::Lead(lead.id))
                .await?
            {
                pools.follow_ups.push(wire(&f.id));
            }
        }
        let page = PageRequest {
            limit: 100,
            ..PageRequest::default()
        };
        for c in engine
            .customers(
                &crate::testing::root(),
                &CustomerQuery {
                    page,
                    ..CustomerQuery::default()
                },
            )
            .await?
            .items
        {
            pools.customers.push(wire(&c.id));
        }
        for c in engine
            .communications(&crate::testing::root(), &CommunicationFilter::default(), &page)
            .await?
            .items
        {
            pools.communications.push(wire(&c.id));
        }
        Ok(pools)
    }

    fn pick(&self, placeholder: &str, rng: &mut Rng) -> Option<String> {
        let pool = match placeholder {
            "<uuid 1>" | "<uuid 3>" => &self.leads,
            "<uuid 2>" | "<uuid 5>" => &self.customers,
            "<uuid 4>" => &self.deals,
            "<uuid 6>" => &self.follow_ups,
            "<uuid 7>" | "<uuid 8>" | "<uuid 9>" => &self.communications,
            _ => return None,
        };
        (!pool.is_empty()).then(|| pool[rng.below(pool.len())].clone())
    }
}

/// Puts real ids and times where the golden form has placeholders (a lead's
/// placeholder in a subject may name a lead or a deal, as the subject's type
/// says; leaving a placeholder makes the JSON refused, which is fine too).
fn fill(v: &mut Value, pools: &Pools, now: &str, rng: &mut Rng) {
    match v {
        Value::String(s) if s.starts_with("<uuid") => {
            if let Some(id) = pools.pick(s, rng) {
                *s = id;
            }
        }
        Value::String(s) if s == "<time>" => *s = now.to_owned(),
        Value::Object(map) => {
            // A subject names a lead or a deal: pick one of the kind its type says.
            if let (Some(Value::String(kind)), Some(Value::String(_))) = (map.get("type"), map.get("id")) {
                let pool = if kind == "deal" { &pools.deals } else { &pools.leads };
                if !pool.is_empty() {
                    map.insert("id".into(), Value::String(pool[rng.below(pool.len())].clone()));
                }
            }
            for child in map.values_mut() {
                fill(child, pools, now, rng);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fill(i, pools, now, rng)),
        _ => {}
    }
}

/// What a fuzz run did.
#[derive(Debug, Default)]
pub struct FuzzReport {
    /// The backend.
    pub backend: &'static str,
    /// JSON commands sent.
    pub sent: u64,
    /// Of those, how many did not parse (a typed serde error).
    pub unparsed: u64,
    /// Applied commands.
    pub applied: u64,
    /// Refused commands, per error name.
    pub refused: BTreeMap<&'static str, u64>,
    /// Rounds of every read and the recount.
    pub checks: u64,
}

fn store_failure(e: &Error) -> bool {
    matches!(e.code().name, "backend" | "corrupt" | "overflow")
}

/// Runs `commands` fuzzed JSON commands (see the module docs) and returns
/// what happened; panics on a panic, a backend error or a drifted figure.
pub async fn json_commands_fuzz(factory: Arc<dyn StoreFactory>, commands: u64, seed: u64) -> FuzzReport {
    let engine = fixture_engine(&*factory).await;
    let templates: Vec<Value> = serde_json::from_str(TEMPLATES).unwrap_or_else(|e| panic!("golden commands: {e}"));
    // Creates come first and often, so the other commands find records.
    let creates: Vec<&Value> = templates
        .iter()
        .filter(|t| {
            matches!(
                t.get("type").and_then(Value::as_str),
                Some("create_lead" | "create_customer" | "receive_communication" | "qualify_lead" | "open_deal")
            )
        })
        .collect();
    let actors: [Actor; 4] = [ann(), bob(), maria(), root()];
    let mut rng = Rng(seed | 1);
    let mut report = FuzzReport {
        backend: engine.store().backend(),
        ..FuzzReport::default()
    };
    let mut pools = Pools::refresh(&engine).await.unwrap_or_else(|e| panic!("{e}"));
    let check_every = 250;
    for i in 0..commands {
        if i.is_multiple_of(25) {
            pools = Pools::refresh(&engine).await.unwrap_or_else(|e| panic!("refresh: {e}"));
        }
        let template = if rng.chance(35) {
            creates[rng.below(creates.len())]
        } else {
            &templates[rng.below(templates.len())]
        };
        let mut json = template.clone();
        fill(&mut json, &pools, &engine.now().to_rfc3339(), &mut rng);
        // A new lead names one of the fixture's account types (there are
        // three, so none is the default), and an e-mail of its own.
        if let Some(lead) = json.get_mut("lead").and_then(Value::as_object_mut) {
            let types = ["b2b", "b2c", "partner"];
            lead.insert("account_type".into(), json!(types[rng.below(types.len())]));
            if lead.get("email").is_some_and(Value::is_string) {
                lead.insert("email".into(), json!(format!("fuzz{i}@example.com")));
            }
        }
        let mutations = match rng.below(100) {
            0..60 => 0,
            60..90 => 1,
            _ => 2,
        };
        for _ in 0..mutations {
            mutate(&mut json, &mut rng);
        }
        report.sent += 1;
        let text = json.to_string();
        match serde_json::from_str::<Command>(&text) {
            Err(_) => report.unparsed += 1,
            Ok(command) => {
                let actor = actors[rng.below(actors.len())].clone();
                let e2 = engine.clone();
                let name = command.name();
                let outcome = tokio::spawn(async move { e2.execute(&actor, command).await }).await;
                match outcome {
                    Err(join) => panic!("seed {seed}, command {i} ({name}) panicked: {join}\n{text}"),
                    Ok(Ok(_)) => report.applied += 1,
                    Ok(Err(e)) => {
                        assert!(
                            !store_failure(&e),
                            "seed {seed}, command {i} ({name}): store failure {e}\n{text}"
                        );
                        *report.refused.entry(e.code().name).or_default() += 1;
                    }
                }
            }
        }
        if (i + 1) % check_every == 0 || i + 1 == commands {
            check_reads(&engine, &*factory, seed, i + 1).await;
            report.checks += 1;
        }
    }
    report
}

/// Every read, each of which must answer; the maintained cells against a
/// recount from the leads; the backend's own check.
async fn check_reads(engine: &Engine, factory: &dyn StoreFactory, seed: u64, after: u64) {
    let at = format!("seed {seed}, after {after} commands");
    let fail = |what: &str, e: Error| -> ! { panic!("{at}: {what}: {e}") };
    let (config, _) = engine.config().await.unwrap_or_else(|e| fail("config", e));
    let all = engine
        .lead_list(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| fail("leads", e));
    let interval = Interval::default();
    for account_type in config.account_types.iter().map(|a| a.code.clone()) {
        engine
            .board(&crate::testing::root(), &BoardQuery::new(account_type.clone()))
            .await
            .unwrap_or_else(|e| fail("board", e));
        let mine = BoardQuery {
            owner: Some(ann().user),
            filter: LeadFilter {
                zone: Some("north".into()),
                ..LeadFilter::default()
            },
            ..BoardQuery::new(account_type.clone())
        };
        engine
            .board(&crate::testing::root(), &mine)
            .await
            .unwrap_or_else(|e| fail("filtered board", e));
        engine
            .report_funnel(&crate::testing::root(), &account_type, &interval)
            .await
            .unwrap_or_else(|e| fail("funnel", e));
        engine
            .report_time_in_phase(&crate::testing::root(), &account_type, &interval)
            .await
            .unwrap_or_else(|e| fail("time in phase", e));
        let cells = engine
            .store()
            .board_cells(&account_type)
            .await
            .unwrap_or_else(|e| fail("cells", e.into()));
        assert_eq!(
            cells,
            board_cells_of(&account_type, &all),
            "{at}: the board cells of {account_type} against the leads"
        );
    }
    let pipelines: Vec<Code> = config.pipelines.iter().map(|p| p.code.clone()).collect();
    for p in &pipelines {
        engine
            .deal_board(&crate::testing::root(), p, None)
            .await
            .unwrap_or_else(|e| fail("deal board", e));
    }
    engine
        .report_sources(&crate::testing::root(), &interval)
        .await
        .unwrap_or_else(|e| fail("sources", e));
    engine
        .report_reasons(&crate::testing::root(), &interval)
        .await
        .unwrap_or_else(|e| fail("reasons", e));
    engine
        .report_workload(&crate::testing::root())
        .await
        .unwrap_or_else(|e| fail("workload", e));
    engine
        .report_stuck(&crate::testing::root(), 1, &PageRequest::default())
        .await
        .unwrap_or_else(|e| fail("stuck", e));
    engine
        .report_data_quality(&crate::testing::root())
        .await
        .unwrap_or_else(|e| fail("data quality", e));
    engine
        .report_forecast(&crate::testing::root(), None)
        .await
        .unwrap_or_else(|e| fail("forecast", e));
    let problems = factory.verify().await.unwrap_or_else(|e| fail("verify", e.into()));
    assert!(problems.is_empty(), "{at}: the backend's check: {problems:?}");
}

/// The test a backend runs: `CRCM_FUZZ_COMMANDS` commands (else `default`)
/// from `CRCM_FUZZ_SEED` (else a fresh seed, printed for replay).
pub fn run_json_fuzz(factory: Arc<dyn StoreFactory>, default: u64) {
    let commands = std::env::var("CRCM_FUZZ_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let seed = std::env::var("CRCM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    super::run(factory, move |factory| async move {
        let report = json_commands_fuzz(factory, commands, seed).await;
        println!(
            "json fuzz on {} (CRCM_FUZZ_SEED={seed}): {} commands sent, {} did not parse, {} applied, {} refused {:?}, {} rounds of reads and recounts: 0 panics, 0 store failures",
            report.backend,
            report.sent,
            report.unparsed,
            report.applied,
            report.refused.values().sum::<u64>(),
            report.refused,
            report.checks
        );
        assert!(
            report.applied > 0,
            "the run applied nothing: its commands are not realistic"
        );
    });
}
