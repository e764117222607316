//! Arbitrary bytes through `crcm_request` on a real sled store, for a set
//! time: no crash, no panic status, no `internal` error, every answer a
//! wire envelope, and the store's `verify()` clean at the end.
//!
//! Inputs are raw bytes, the request API's golden samples (crcm-core's
//! `tests/golden/wire.json`) with their values, keys and bytes mutated, and
//! ids of records the store really holds, so commands reach their rules.
//!
//! `CRCM_FUZZ_SECONDS` sets the time (default 10; CI runs 60). The run's
//! counts go to `target/tmp/crcm-reports/ffi-fuzz.txt`.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::ptr;
use std::time::{Duration, Instant};

use crcm_ffi::engine::{crcm_engine, crcm_engine_close, crcm_engine_open};
use crcm_ffi::status::{CRCM_INTERNAL, CRCM_OK, CRCM_PANIC, crcm_status};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

mod common;

const SAMPLES: &str = include_str!("../../crcm-core/tests/golden/wire.json");

/// Sends bytes: the status, and the answer or the error's message.
fn send(engine: *const crcm_engine, bytes: &[u8]) -> (crcm_status, String) {
    common::send(engine, bytes).map_or_else(|refusal| refusal, |answer| (CRCM_OK, answer))
}

/// Every string value that is a record id, collected from an answer.
fn ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() == 36 && s.as_bytes().get(8) == Some(&b'-') => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| ids(v, out)),
        Value::Object(map) => map.values().for_each(|v| ids(v, out)),
        _ => {}
    }
}

/// Maps each id of a golden answer to the id at the same place in the real
/// answer.
fn pair_ids(golden: &Value, real: &Value, map: &mut BTreeMap<String, String>) {
    match (golden, real) {
        (Value::String(g), Value::String(r))
            if g.len() == 36 && r.len() == 36 && g != r && g.as_bytes().get(8) == Some(&b'-') =>
        {
            map.entry(g.clone()).or_insert_with(|| r.clone());
        }
        (Value::Array(g), Value::Array(r)) => g.iter().zip(r).for_each(|(g, r)| pair_ids(g, r, map)),
        (Value::Object(g), Value::Object(r)) => {
            for (key, g) in g {
                if let Some(r) = r.get(key) {
                    pair_ids(g, r, map);
                }
            }
        }
        _ => {}
    }
}

/// A value of any JSON type, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(u64::MAX)),
        "\\PC{0,24}".prop_map(Value::from),
        prop_oneof![
            Just(""),
            Just("b2b"),
            Just("CALL"),
            Just("MEETING"),
            Just("won"),
            Just("sales"),
            Just("ann"),
            Just("2026-13-45"),
            Just("USD")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One change to a request's JSON.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value at the n-th position (walking the tree) by another.
    Replace(usize, Value),
    /// Remove the n-th key.
    Remove(usize),
    /// Use the n-th known id at the n-th id position.
    Id(usize, usize),
    /// Add a key to the top.
    Add(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any_json()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Id(a, b)),
        ("[a-z_]{1,12}", any_json()).prop_map(|(k, v)| Mutation::Add(k, v)),
    ]
}

/// Counts the positions of a value tree (every value, depth first).
fn positions(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(positions).sum(),
        Value::Object(map) => map.values().map(positions).sum(),
        _ => 0,
    }
}

/// The value at depth-first position `n`.
fn at(value: &mut Value, n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(value);
    }
    let mut left = n - 1;
    let children: Vec<&mut Value> = match value {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(map) => map.values_mut().collect(),
        _ => return None,
    };
    for child in children {
        let size = positions(child);
        if left < size {
            return at(child, left);
        }
        left -= size;
    }
    None
}

fn apply(mut request: Value, mutations: &[Mutation], known: &[String]) -> Value {
    for m in mutations {
        let size = positions(&request);
        match m {
            Mutation::Replace(n, v) => {
                if let Some(slot) = at(&mut request, n % size) {
                    *slot = v.clone();
                }
            }
            Mutation::Remove(n) => {
                if let Some(Value::Object(map)) = at(&mut request, n % size) {
                    let key = map.keys().next().cloned();
                    if let Some(key) = key {
                        map.remove(&key);
                    }
                }
            }
            Mutation::Id(n, pick) => {
                let mut found = Vec::new();
                ids(&request, &mut found);
                if !found.is_empty() && !known.is_empty() {
                    let old = &found[n % found.len()];
                    let new = &known[pick % known.len()];
                    let text = request.to_string().replace(old.as_str(), new);
                    request = serde_json::from_str(&text).unwrap_or(request);
                }
            }
            Mutation::Add(key, v) => {
                if let Value::Object(map) = &mut request {
                    map.insert(key.clone(), v.clone());
                }
            }
        }
    }
    request
}

/// The input of one execution.
#[derive(Clone, Debug)]
enum Input {
    Bytes(Vec<u8>),
    Sample {
        index: usize,
        mutations: Vec<Mutation>,
        byte_flip: Option<(usize, u8)>,
        cut: Option<usize>,
    },
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Input::Bytes),
        4 => (
            any::<usize>(),
            prop::collection::vec(mutation(), 0..4),
            prop::option::weighted(0.15, (any::<usize>(), any::<u8>())),
            prop::option::weighted(0.1, any::<usize>()),
        )
            .prop_map(|(index, mutations, byte_flip, cut)| Input::Sample { index, mutations, byte_flip, cut }),
    ]
}

#[test]
fn arbitrary_requests_never_crash_and_keep_the_store_consistent() {
    let seconds: u64 = std::env::var("CRCM_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let exchanges: Vec<Value> = serde_json::from_str(SAMPLES).unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<Value> = exchanges.iter().map(|exchange| exchange["request"].clone()).collect();
    assert!(samples.len() >= 60, "the golden samples");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = dir.path().join("store");
    let spec = CString::new(format!("sled:{}", store.display())).unwrap_or_default();
    let (mut engine, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    assert_eq!(
        unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), &mut engine, &mut err) },
        CRCM_OK
    );

    // Seed: replay the samples in order, each golden id replaced by the id
    // the store gave that record, so the store holds records of every kind
    // and their ids feed the mutations.
    // The samples were taken after a first configuration (they name
    // version 1 as the one they replace): store one.
    let first_config = exchanges
        .iter()
        .find(|e| e["request"]["type"] == "set_config")
        .map(|e| {
            let mut request = e["request"].clone();
            request.as_object_mut().map(|m| m.remove("expected_version"));
            request
        })
        .unwrap_or_default();
    assert_eq!(send(engine, first_config.to_string().as_bytes()).0, CRCM_OK);
    let mut replaced: BTreeMap<String, String> = BTreeMap::new();
    let mut replayed = 0;
    for exchange in &exchanges {
        let mut text = exchange["request"].to_string();
        for (golden, real) in &replaced {
            text = text.replace(golden.as_str(), real);
        }
        let (status, answer) = send(engine, text.as_bytes());
        if status == CRCM_OK {
            replayed += 1;
            let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
            pair_ids(&exchange["answer"], &answer, &mut replaced);
        }
    }
    let mut known: Vec<String> = replaced.values().cloned().collect();
    known.sort();
    known.dedup();
    assert!(
        replayed >= 50 && known.len() >= 10,
        "the replay seeded {replayed} requests, {} ids",
        known.len()
    );

    let mut runner = TestRunner::deterministic();
    let strategy = input();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut executions, mut accepted, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let mut statuses: BTreeMap<crcm_status, u64> = BTreeMap::new();
    while Instant::now() < deadline {
        let input = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"))
            .current();
        let bytes = match &input {
            Input::Bytes(bytes) => bytes.clone(),
            Input::Sample {
                index,
                mutations,
                byte_flip,
                cut,
            } => {
                let request = apply(samples[index % samples.len()].clone(), mutations, &known);
                let mut bytes = request.to_string().into_bytes();
                if let Some((at, byte)) = byte_flip
                    && !bytes.is_empty()
                {
                    let at = at % bytes.len();
                    bytes[at] = *byte;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut % (bytes.len() + 1));
                }
                bytes
            }
        };
        let started = Instant::now();
        let (status, answer) = send(engine, &bytes);
        slowest = slowest.max(started.elapsed());
        executions += 1;
        *statuses.entry(status).or_default() += 1;
        assert!(
            status != CRCM_PANIC && status != CRCM_INTERNAL,
            "status {status} ({answer}) for {}",
            String::from_utf8_lossy(&bytes)
        );
        if status == CRCM_OK {
            accepted += 1;
            let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
            assert_eq!(answer["wire"], 1);
            assert!(answer["ok"].is_object());
            ids(&answer, &mut known);
            if known.len() > 4_000 {
                known.drain(..2_000);
            }
        }
    }
    // SAFETY: the handle crcm returned.
    assert_eq!(unsafe { crcm_engine_close(engine) }, CRCM_OK);

    let sled = crcm::SledStore::open(&store).unwrap_or_else(|e| panic!("{e}"));
    let verified = sled.verify().unwrap_or_else(|e| panic!("{e}"));
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    let summary = format!(
        "{executions} executions in {seconds} s ({accepted} accepted, {} distinct statuses, slowest call {} ms); verify: {} records, {} events, 0 problems",
        statuses.len(),
        slowest.as_millis(),
        verified.records,
        verified.events
    );
    println!("{summary}\nstatuses: {statuses:?}");
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crcm-reports");
    std::fs::create_dir_all(&reports).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(reports.join("ffi-fuzz.txt"), summary).unwrap_or_else(|e| panic!("{e}"));
    assert!(executions > 100, "the run did too little: {executions}");
    assert!(
        accepted > 0,
        "nothing was accepted: the mutations never reached the rules"
    );
}
