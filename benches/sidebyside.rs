//! crcm next to a hand-written raw baseline on the same storage, in one
//! process, alternating, several rounds: what crcm costs over the storage it
//! sits on. Every target is a ratio measured side by side, never an absolute
//! time, because shared machines are noisy.
//!
//! ```text
//! cargo bench --bench sidebyside -- --backend sled [--quick]
//! ```
//!
//! Each workload prints its medians and one machine-readable line:
//! `ratio <name> <value> target <op> <bound> <ok|MISS>`.
//!
//! This is the harness's first step: the durable single-writer create and
//! phase move on sled. The raw side writes what crcm writes for a lead in
//! one sled transaction and one durable flush (sled's flush, then an
//! `fdatasync` of its log, as crcm makes a commit durable): a record of the same size, as many
//! index entries as crcm's sled backend keeps for it, a history entry, an
//! event under a gap-free sequence number, the board cell's count and the
//! lead's lookup-key versions. The other backends, the reads, the import and
//! the scaling ratios come next.

use std::time::{Duration, Instant};

use crcm::blocking::BlockingEngine;
use crcm::commands::{CreateLead, MoveLeadPhase, SetConfig};
use crcm::open::StoreOptions;
use crcm::store::record::Record;
use crcm::{Actor, Code, LeadId, NewLead, PhaseRef, Role, UserId};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What the command line asks.
struct Args {
    backend: String,
    quick: bool,
}

impl Args {
    /// `--backend NAME` and `--quick`; cargo's own `--bench` is ignored.
    fn parse() -> Result<Self> {
        let mut backend = "sled".to_owned();
        let mut quick = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--backend" => backend = args.next().ok_or("--backend needs a name")?,
                "--quick" => quick = true,
                _ => {}
            }
        }
        Ok(Self { backend, quick })
    }
}

/// One side of a comparison: crcm or the raw baseline.
trait Side {
    /// Creates one lead, durably.
    fn create(&mut self, i: usize) -> Result<()>;
    /// Moves one of the leads it created to the other phase, durably.
    fn move_one(&mut self, i: usize) -> Result<()>;
}

fn business() -> Result<Code> {
    Ok(Code::new("business")?)
}

fn new_lead(i: usize) -> Result<NewLead> {
    Ok(NewLead {
        account_type: Some(business()?),
        first_name: format!("Ada{i}"),
        last_name: "Lovelace".into(),
        company: "Analytical Engines".into(),
        email: Some(format!("ada{i}@example.com")),
        phone: Some(format!("+1 212 555 {:04}", i % 10_000)),
        source: Some(Code::new("referral")?),
        description: "Met at the fair; wants a demo.".into(),
        ..NewLead::default()
    })
}

/// crcm, through the Rust API, with its default durability.
struct Crcm {
    engine: BlockingEngine,
    actor: Actor,
    leads: Vec<(LeadId, bool)>,
}

impl Crcm {
    fn open(spec: &str) -> Result<Self> {
        let engine = BlockingEngine::open(spec, &StoreOptions::default())?;
        let actor = Actor::new(UserId::new("maria")?, Role::Manager);
        engine.block_on(engine.engine().run(
            &actor,
            SetConfig {
                config: serde_json::from_str(include_str!("../examples/story/config.json"))?,
                expected_version: None,
            },
        ))?;
        Ok(Self {
            engine,
            actor,
            leads: Vec::new(),
        })
    }

    /// A lead as crcm stores it: what the raw side writes the same of.
    fn sample(&mut self) -> Result<crcm::Lead> {
        let lead = self.engine.block_on(self.engine.engine().run(
            &self.actor,
            CreateLead {
                lead: new_lead(usize::MAX / 2)?,
            },
        ))?;
        Ok(lead)
    }
}

impl Side for Crcm {
    fn create(&mut self, i: usize) -> Result<()> {
        let lead = self
            .engine
            .block_on(self.engine.engine().run(&self.actor, CreateLead { lead: new_lead(i)? }))?;
        self.leads.push((lead.id, false));
        Ok(())
    }

    fn move_one(&mut self, i: usize) -> Result<()> {
        let n = self.leads.len();
        let (lead, quoted) = self.leads.get_mut(i % n).ok_or("no lead to move")?;
        let code = if *quoted { "CALL" } else { "QUOTE" };
        self.engine.block_on(self.engine.engine().run(
            &self.actor,
            MoveLeadPhase {
                lead: *lead,
                phase: PhaseRef {
                    account_type: business()?,
                    code: Code::new(code)?,
                },
                closing_reason: None,
                note: None,
            },
        ))?;
        *quoted = !*quoted;
        Ok(())
    }
}

/// The raw baseline on sled: the same trees and writes in one transaction,
/// then one flush, as a competent engineer would write them by hand.
struct RawSled {
    db: sled::Db,
    /// sled's log, `fdatasync`ed after each flush as crcm does (sled 0.34's
    /// flush alone is `sync_file_range`, which a power cut can undo).
    log: std::fs::File,
    trees: [sled::Tree; 7],
    record: Vec<u8>,
    history: Vec<u8>,
    event: Vec<u8>,
    index_entries: usize,
    lookup_keys: usize,
    leads: Vec<[u8; 16]>,
}

/// Adds one to a big-endian counter stored under `key`.
fn bump(
    tree: &sled::transaction::TransactionalTree,
    key: &[u8],
) -> sled::transaction::ConflictableTransactionResult<u64> {
    let now = tree
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    tree.insert(key, &(now + 1).to_be_bytes())?;
    Ok(now + 1)
}

impl RawSled {
    fn open(dir: &std::path::Path, sample: &crcm::Lead) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(None)
            .open()?;
        let names = ["meta", "records", "history", "events", "index", "board", "lookups"];
        let mut trees = Vec::with_capacity(names.len());
        for name in names {
            trees.push(db.open_tree(name)?);
        }
        let trees: [sled::Tree; 7] = trees.try_into().map_err(|_| "seven trees")?;
        let stored = Record::Lead(sample.clone());
        Ok(Self {
            log: std::fs::File::open(dir.join("db"))?,
            db,
            trees,
            record: serde_json::to_vec(sample)?,
            history: serde_json::to_vec(&serde_json::json!({
                "entity": {"kind": "lead", "id": sample.id}, "version": 1, "actor": "maria",
                "at": sample.created_at, "action": "create_lead", "changes": sample,
            }))?,
            event: serde_json::to_vec(&serde_json::json!({
                "type": "lead_created", "lead": sample.id, "number": sample.number, "owner": sample.owner,
            }))?,
            index_entries: crcm::sled::index::keys(&stored).len(),
            lookup_keys: stored.lookup_keys().len(),
            leads: Vec::new(),
        })
    }

    /// One lead's writes: the record, its index entries, a history entry, an
    /// event under the next sequence number, the board cell and the lookup
    /// versions; then the flush.
    fn write(&mut self, id: [u8; 16], version: u64, index_from: u8) -> Result<()> {
        use sled::Transactional;
        let [meta, records, history, events, index, board, lookups] = &self.trees;
        (meta, records, history, events, index, board, lookups)
            .transaction(|(meta, records, history, events, index, board, lookups)| {
                records.insert(&id, self.record.as_slice())?;
                for k in 0..self.index_entries {
                    let mut key = vec![index_from.wrapping_add(k as u8)];
                    key.extend_from_slice(b"value-of-the-field");
                    key.extend_from_slice(&id);
                    index.insert(key, &id)?;
                }
                let mut at = id.to_vec();
                at.extend_from_slice(&version.to_be_bytes());
                history.insert(at, self.history.as_slice())?;
                let seq = bump(meta, b"event-seq")?;
                events.insert(&seq.to_be_bytes(), self.event.as_slice())?;
                bump(board, b"business/CALL")?;
                for k in 0..self.lookup_keys {
                    bump(lookups, format!("lead.key{k}:{id:?}").as_bytes())?;
                }
                Ok(())
            })
            .map_err(|e| format!("raw sled transaction: {e:?}"))?;
        self.db.flush()?;
        self.log.sync_data()?;
        Ok(())
    }
}

impl Side for RawSled {
    fn create(&mut self, _: usize) -> Result<()> {
        let id = *crcm::uuid::Uuid::now_v7().as_bytes();
        self.write(id, 1, 0)?;
        self.leads.push(id);
        Ok(())
    }

    fn move_one(&mut self, i: usize) -> Result<()> {
        let n = self.leads.len();
        let id = *self.leads.get(i % n).ok_or("no lead to move")?;
        // A move rewrites the record, its moved index entries (the phase's),
        // a history entry, an event, two board cells and the lookups.
        self.write(id, 2 + i as u64, 100)
    }
}

/// The median of some durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Runs `op` `per_round` times on each side, alternating which goes first,
/// for `rounds` rounds; returns the median time per operation of each side.
fn side_by_side(
    crcm: &mut dyn Side,
    raw: &mut dyn Side,
    rounds: usize,
    per_round: usize,
    op: fn(&mut dyn Side, usize) -> Result<()>,
) -> Result<(Duration, Duration)> {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut i = 0;
    for round in 0..rounds {
        let time = |side: &mut dyn Side, out: &mut Vec<Duration>, start: usize| -> Result<()> {
            let t = Instant::now();
            for k in 0..per_round {
                op(side, start + k)?;
            }
            out.push(t.elapsed() / per_round as u32);
            Ok(())
        };
        if round % 2 == 0 {
            time(crcm, &mut ours, i)?;
            time(raw, &mut theirs, i)?;
        } else {
            time(raw, &mut theirs, i)?;
            time(crcm, &mut ours, i)?;
        }
        i += per_round;
    }
    Ok((median(ours), median(theirs)))
}

/// Prints a throughput comparison and its ratio line (crcm / raw, higher is better).
fn report_throughput(name: &str, crcm: Duration, raw: Duration, bound: f64) {
    let ratio = raw.as_secs_f64() / crcm.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "{name:<10} crcm {:>9.1} µs/op   raw {:>9.1} µs/op",
        crcm.as_secs_f64() * 1e6,
        raw.as_secs_f64() * 1e6
    );
    let verdict = if ratio >= bound { "ok" } else { "MISS" };
    println!("ratio {name} {ratio:.2} target >= {bound} {verdict}");
}

fn main() -> Result<()> {
    let args = Args::parse()?;
    if args.backend != "sled" {
        return Err(format!(
            "--backend {}: this step of the harness measures sled only",
            args.backend
        )
        .into());
    }
    let (rounds, per_round) = if args.quick { (5, 20) } else { (15, 50) };
    let dir = tempfile::tempdir()?;
    let mut crcm = Crcm::open(&format!("sled:{}", dir.path().join("crcm").display()))?;
    let sample = crcm.sample()?;
    let mut raw = RawSled::open(&dir.path().join("raw"), &sample)?;
    println!(
        "sled, durable, 1 writer; {rounds} rounds of {per_round} per side; the raw side writes {} bytes, \
         {} index entries, a history entry, an event, a board cell and {} lookup versions per lead",
        raw.record.len(),
        raw.index_entries,
        raw.lookup_keys
    );
    let (ours, theirs) = side_by_side(&mut crcm, &mut raw, rounds, per_round, |s, i| s.create(i))?;
    report_throughput("create", ours, theirs, 0.8);
    let (ours, theirs) = side_by_side(&mut crcm, &mut raw, rounds, per_round, |s, i| s.move_one(i))?;
    report_throughput("move", ours, theirs, 0.8);
    Ok(())
}
