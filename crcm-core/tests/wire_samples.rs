//! The wire samples (`tests/golden/wire.json`): one literal exchange per
//! request type and one refusal, with the ids and times a run wrote. Every
//! backend's conformance run sends the same requests and must get exactly
//! these answers; here each sample is read back from its text.
#![cfg(feature = "testing")]

use std::collections::BTreeSet;

use crcm_core::engine::api::{Envelope, Request, Response};
use serde_json::Value;

fn samples() -> Vec<Value> {
    let text = include_str!("golden/wire.json");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("wire.json: {e}"))
}

/// Each request sample reads with `from_str` into a [`Request`], which
/// writes a text that reads back as the same request; each answer reads into
/// an [`Envelope`] and writes back as the same JSON.
#[test]
fn every_sample_reads_back_from_its_text() {
    let samples = samples();
    assert!(samples.len() >= 60, "{} samples", samples.len());
    for (i, sample) in samples.iter().enumerate() {
        let text = serde_json::to_string(&sample["request"]).unwrap_or_default();
        let request: Request = serde_json::from_str(&text).unwrap_or_else(|e| panic!("request {i}: {e}\n{text}"));
        assert_eq!(Request::from_json(&text).as_ref().ok(), Some(&request), "request {i}");
        // A request writes every field, defaults included; that text reads
        // back as the same request.
        let written = serde_json::to_string(&request).unwrap_or_default();
        let again: Request = serde_json::from_str(&written).unwrap_or_else(|e| panic!("request {i} written: {e}"));
        assert_eq!(again, request, "request {i} reads back from its written form");

        let text = serde_json::to_string(&sample["answer"]).unwrap_or_default();
        let envelope: Envelope = serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer {i}: {e}\n{text}"));
        let written = serde_json::to_value(&envelope).unwrap_or_default();
        assert_eq!(written, sample["answer"], "answer {i} writes back as its sample");
    }
}

/// The samples hold every response type and a refusal.
#[test]
fn the_samples_cover_every_response_type() {
    let all = crcm_core::testing::tagged_variants::<Response>();
    let all: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    let samples = samples();
    let seen: BTreeSet<&str> = samples
        .iter()
        .filter_map(|s| s["answer"]["ok"]["type"].as_str())
        .collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "response types without a sample: {missing:?}");
    let refusals = samples.iter().filter(|s| s["answer"].get("error").is_some()).count();
    assert_eq!(refusals, 1, "one refusal sample");
}
