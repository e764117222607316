//! A phase move through the C ABI (`crcm_request`: JSON in, JSON out) next
//! to the same move through the Rust API (`Engine::run` with a typed
//! command), side by side in one run on sled.
//!
//! `cargo bench -p crcm-ffi --bench ffi` prints the median cost of a move
//! each way and their ratio, for sled's default durability (a flush per
//! commit) and for a periodic flush (where the JSON's share is largest), and
//! fails when the ratio on the default store exceeds the target, 1.3.
//! `CRCM_BENCH_ROUNDS` sets the rounds (default 30 of 50 moves each way).

use std::ffi::CString;
use std::ptr;
use std::time::{Duration, Instant};

use crcm::blocking::BlockingEngine;
use crcm::commands::MoveLeadPhase;
use crcm::open::StoreOptions;
use crcm::{Actor, Code, LeadId, PhaseRef, Role, UserId};
use crcm_ffi::engine::{crcm_engine, crcm_engine_close, crcm_engine_open};
use crcm_ffi::status::CRCM_OK;
use serde_json::{Value, json};

#[path = "../crcm-ffi/tests/common/mod.rs"]
mod common;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const MOVES_PER_ROUND: usize = 50;
const TARGET: f64 = 1.3;
const PHASES: [&str; 2] = ["QUOTE", "CALL"];

fn config() -> Result<Value> {
    Ok(serde_json::from_str(include_str!("../examples/story/config.json"))?)
}

/// One engine behind the C ABI, with a lead to move.
struct ThroughC {
    engine: *mut crcm_engine,
    lead: String,
}

fn c_request(engine: *const crcm_engine, text: &str) -> Result<String> {
    common::send(engine, text.as_bytes()).map_err(|(status, message)| format!("status {status}: {message}").into())
}

impl ThroughC {
    fn open(dir: &std::path::Path, options: &str) -> Result<Self> {
        let spec = CString::new(format!("sled:{}", dir.join("c").display()))?;
        let options = CString::new(options)?;
        let (mut engine, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: valid strings and out-pointers.
        let status = unsafe { crcm_engine_open(spec.as_ptr(), options.as_ptr(), &mut engine, &mut err) };
        if status != CRCM_OK {
            return Err(format!("open: status {status}").into());
        }
        let manager = json!({"user": "maria", "role": "manager"});
        c_request(
            engine,
            &json!({"actor": manager, "type": "set_config", "config": config()?}).to_string(),
        )?;
        let created = c_request(
            engine,
            &json!({"actor": manager, "type": "create_lead", "lead": {"account_type": "business", "first_name": "Ada", "company": "Acme"}})
                .to_string(),
        )?;
        let created: Value = serde_json::from_str(&created)?;
        let lead = created["ok"]["output"]["lead"]["id"]
            .as_str()
            .ok_or("no lead id")?
            .to_owned();
        Ok(Self { engine, lead })
    }

    fn move_to(&self, phase: &str) -> Result<()> {
        let request = format!(
            r#"{{"actor": {{"user": "maria", "role": "manager"}}, "type": "move_lead_phase", "lead": "{}", "phase": {{"account_type": "business", "code": "{phase}"}}}}"#,
            self.lead
        );
        let answer = c_request(self.engine, &request)?;
        // A host reads the answer: parse it, as a C host's JSON library would.
        let answer: Value = serde_json::from_str(&answer)?;
        if answer["ok"]["output"]["lead"]["phase"]["code"] != phase {
            return Err("the move did not land".into());
        }
        Ok(())
    }
}

impl Drop for ThroughC {
    fn drop(&mut self) {
        // SAFETY: the handle crcm returned.
        unsafe { crcm_engine_close(self.engine) };
    }
}

/// The same, through the Rust API.
struct ThroughRust {
    engine: BlockingEngine,
    actor: Actor,
    lead: LeadId,
}

impl ThroughRust {
    fn open(dir: &std::path::Path, options: &str) -> Result<Self> {
        let options: StoreOptions = serde_json::from_str(options)?;
        let engine = BlockingEngine::open(&format!("sled:{}", dir.join("rust").display()), &options)?;
        let actor = Actor::new(UserId::new("maria")?, Role::Manager);
        engine.block_on(engine.engine().run(
            &actor,
            crcm::commands::SetConfig {
                config: serde_json::from_value(config()?)?,
                expected_version: None,
            },
        ))?;
        let lead = engine.block_on(engine.engine().run(
            &actor,
            crcm::commands::CreateLead {
                lead: crcm::NewLead {
                    account_type: Some(Code::new("business")?),
                    first_name: "Ada".into(),
                    company: "Acme".into(),
                    ..crcm::NewLead::default()
                },
            },
        ))?;
        Ok(Self {
            engine,
            actor,
            lead: lead.id,
        })
    }

    fn move_to(&self, phase: &str) -> Result<()> {
        let phase = PhaseRef {
            account_type: Code::new("business")?,
            code: Code::new(phase)?,
        };
        let moved = self.engine.block_on(self.engine.engine().run(
            &self.actor,
            MoveLeadPhase {
                lead: self.lead,
                phase: phase.clone(),
                closing_reason: None,
                note: None,
            },
        ))?;
        if moved.phase.as_ref() != Some(&phase) {
            return Err("the move did not land".into());
        }
        Ok(())
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Interleaved rounds: the same number of moves each way per round, so
/// both see the same machine; the median round cost per move.
fn compare(name: &str, options: &str, rounds: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let c = ThroughC::open(dir.path(), options)?;
    let rust = ThroughRust::open(dir.path(), options)?;
    let (mut c_rounds, mut rust_rounds) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let start = Instant::now();
        for i in 0..MOVES_PER_ROUND {
            rust.move_to(PHASES[i % 2])?;
        }
        let rust_time = start.elapsed();
        let start = Instant::now();
        for i in 0..MOVES_PER_ROUND {
            c.move_to(PHASES[i % 2])?;
        }
        let c_time = start.elapsed();
        // Round 0 warms caches and is not counted.
        if round > 0 {
            rust_rounds.push(rust_time / MOVES_PER_ROUND as u32);
            c_rounds.push(c_time / MOVES_PER_ROUND as u32);
        }
    }
    let (rust, c) = (median(rust_rounds), median(c_rounds));
    let ratio = c.as_secs_f64() / rust.as_secs_f64();
    println!(
        "{name:<28} Rust API {:>9.1} µs/move   C ABI {:>9.1} µs/move   ratio {ratio:.3}",
        rust.as_secs_f64() * 1e6,
        c.as_secs_f64() * 1e6
    );
    Ok(ratio)
}

fn main() -> Result<()> {
    // `cargo test --benches` runs benches once as tests; keep that short.
    let quick = std::env::args().any(|a| a == "--test");
    let rounds = std::env::var("CRCM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 2 } else { 30 });
    println!("phase move, {rounds} rounds of {MOVES_PER_ROUND} moves each way, interleaved; medians");
    let durable = compare("sled, flush per commit", "{}", rounds)?;
    compare("sled, flush every 1000 ms", r#"{"sled_flush_every_ms": 1000}"#, rounds)?;
    if !quick && durable > TARGET {
        return Err(format!("the C ABI costs {durable:.3}x the Rust API; the target is at most {TARGET}x").into());
    }
    Ok(())
}
