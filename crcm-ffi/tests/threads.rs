//! One engine handle used from 8 threads at once: every call is answered,
//! every command applied once, and lead numbers stay unique.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::ptr;
use std::sync::Barrier;

use crcm_ffi::engine::{crcm_engine, crcm_engine_close, crcm_engine_open};
use crcm_ffi::status::{CRCM_OK, crcm_status};
use serde_json::{Value, json};

mod common;

/// The handle as a number, so threads can share it (C would pass the
/// pointer; crcm never reads through it).
#[derive(Clone, Copy)]
struct Handle(usize);

impl Handle {
    fn ptr(self) -> *const crcm_engine {
        self.0 as *const crcm_engine
    }
}

fn request(engine: Handle, body: &Value) -> (crcm_status, Value) {
    match common::send(engine.ptr(), body.to_string().as_bytes()) {
        Ok(answer) => (CRCM_OK, serde_json::from_str(&answer).unwrap_or_default()),
        Err((status, _)) => (status, Value::Null),
    }
}

#[test]
fn one_engine_answers_eight_threads_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = CString::new(format!("sled:{}", dir.path().join("store").display())).unwrap_or_default();
    let (mut handle, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid strings and out-pointers.
    assert_eq!(
        unsafe { crcm_engine_open(spec.as_ptr(), ptr::null(), &mut handle, &mut err) },
        CRCM_OK
    );
    let engine = Handle(handle as usize);
    let maria = json!({"user": "maria", "role": "manager"});
    let config: Value = serde_json::from_str(include_str!("../../examples/story/config.json")).unwrap_or_default();
    assert_eq!(
        request(engine, &json!({"actor": maria, "type": "set_config", "config": config})).0,
        CRCM_OK
    );

    const THREADS: usize = 8;
    const EACH: usize = 25;
    let start = Barrier::new(THREADS);
    let numbers: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let start = &start;
                let maria = maria.clone();
                scope.spawn(move || {
                    start.wait();
                    let mut numbers = Vec::new();
                    for i in 0..EACH {
                        let create = json!({"actor": maria, "type": "create_lead",
                            "lead": {"account_type": "business", "first_name": format!("T{t}"), "company": format!("C{i}")}});
                        let (status, answer) = request(engine, &create);
                        assert_eq!(status, CRCM_OK, "thread {t} lead {i}");
                        numbers.extend(answer["ok"]["output"]["lead"]["number"].as_u64());
                        // A read in between, on the same handle.
                        let (status, _) = request(engine, &json!({"actor": maria, "type": "get_config"}));
                        assert_eq!(status, CRCM_OK);
                    }
                    numbers
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
    });
    let all: BTreeSet<u64> = numbers.iter().flatten().copied().collect();
    assert_eq!(
        numbers.iter().map(Vec::len).sum::<usize>(),
        THREADS * EACH,
        "every create answered"
    );
    assert_eq!(
        all,
        (1..=(THREADS * EACH) as u64).collect(),
        "numbers unique and gap-free"
    );
    // The calls really overlapped: each thread's numbers are not one block.
    let interleaved = numbers
        .iter()
        .filter(|n| n.windows(2).any(|w| w[1] != w[0] + 1))
        .count();
    assert!(interleaved > 0, "no two threads' creates interleaved");
    let (_, listed) = request(
        engine,
        &json!({"actor": maria, "type": "list_leads", "query": {"page": {"limit": 0, "total": true}}}),
    );
    assert_eq!(listed["ok"]["page"]["total"], THREADS * EACH);
    // SAFETY: the handle crcm returned.
    assert_eq!(unsafe { crcm_engine_close(handle) }, CRCM_OK);
}
