//! The committed JSON Schema (`schema/crcm.schema.json`) is the one this crcm
//! generates, and every wire sample and golden error validates against it.
#![cfg(all(feature = "schema", feature = "testing"))]

use crcm_core::schema::{definition_schema, wire_schema};
use serde_json::Value;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/crcm.schema.json");

/// `CRCM_BLESS=1 cargo test -p crcm-core --all-features --test schema`
/// rewrites the committed schema.
#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&wire_schema()).unwrap_or_default() + "\n";
    if std::env::var_os("CRCM_BLESS").is_some() {
        std::fs::write(PATH, &generated).unwrap_or_else(|e| panic!("{PATH}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    assert!(
        committed == generated,
        "schema/crcm.schema.json differs from the generated schema: a wire form changed. \
         If that is intended (and the wire version says so), rewrite it with CRCM_BLESS=1."
    );
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::draft202012::new(&definition_schema(name)).unwrap_or_else(|e| panic!("the {name} schema: {e}"))
}

fn problems(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Every request and answer of the wire samples is valid under the schema.
#[test]
fn the_wire_samples_validate() {
    let samples: Vec<Value> =
        serde_json::from_str(include_str!("golden/wire.json")).unwrap_or_else(|e| panic!("wire.json: {e}"));
    let (requests, envelopes) = (validator("Request"), validator("Envelope"));
    let mut wrong = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        for p in problems(&requests, &sample["request"]) {
            wrong.push(format!("request {i} ({}): {p}", sample["request"]["type"]));
        }
        for p in problems(&envelopes, &sample["answer"]) {
            wrong.push(format!("answer {i} ({}): {p}", sample["request"]["type"]));
        }
    }
    assert!(wrong.is_empty(), "{} problems:\n{}", wrong.len(), wrong.join("\n"));
    eprintln!("{} requests and {} answers valid", samples.len(), samples.len());
}

/// The schema refuses what crcm refuses: an unknown type, an unknown field,
/// a missing actor.
#[test]
fn the_schema_refuses_malformed_requests() {
    let requests = validator("Request");
    let ok = serde_json::json!({"type": "get_lead", "actor": {"user": "ann", "role": "sales_person"},
                                "id": "019cabd8-3801-7000-8000-000000000001"});
    assert_eq!(problems(&requests, &ok), Vec::<String>::new());
    for bad in [
        serde_json::json!({"type": "get_leed", "actor": {"user": "ann", "role": "sales_person"}}),
        serde_json::json!({"type": "get_lead", "actor": {"user": "ann", "role": "sales_person"},
                           "id": "019cabd8-3801-7000-8000-000000000001", "ownr": "ann"}),
        serde_json::json!({"type": "get_lead", "id": "019cabd8-3801-7000-8000-000000000001"}),
    ] {
        assert!(!requests.is_valid(&bad), "the schema accepts {bad}");
    }
}

/// Every golden error report is valid under the schema.
#[test]
fn the_golden_errors_validate() {
    let errors: Vec<Value> =
        serde_json::from_str(include_str!("golden/errors.json")).unwrap_or_else(|e| panic!("errors.json: {e}"));
    let reports = validator("ErrorReport");
    for (i, error) in errors.iter().enumerate() {
        assert_eq!(problems(&reports, error), Vec::<String>::new(), "error {i}: {error}");
    }
}

/// Every code of the error table has its own branch in the schema, and each
/// branch says the shape of its details.
#[test]
fn every_error_code_has_the_shape_of_its_details() {
    let schema = wire_schema();
    let branches = schema["$defs"]["ErrorReport"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(branches.len(), crcm_core::rules::error::ERROR_CODES.len());
    let untyped: Vec<&Value> = branches
        .iter()
        .filter(|b| b["properties"]["details"] == serde_json::json!({}))
        .map(|b| &b["properties"]["name"]["const"])
        .collect();
    assert!(untyped.is_empty(), "codes without a details shape: {untyped:?}");
}
