//! A JSON Schema (draft 2020-12) of the wire format: every request, response
//! envelope, event and error, as [`wire_schema`] generates it from the types
//! themselves. The committed copy is `schema/crcm.schema.json`; a test keeps it
//! equal to what this crcm generates, and validates the wire samples against
//! it.
//!
//! Types whose JSON form is written by hand (a request, a cursor, an import
//! field, an error) describe themselves here; every other type derives its
//! schema from the same serde attributes that write it.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use std::collections::BTreeMap;

use crate::domain::config::ConfigError;
use crate::domain::entity::EntityRef;
use crate::domain::error::InputError;
use crate::domain::event::EventEnvelope;
use crate::domain::failure::{ImportFailure, RequestError};
use crate::engine::api::{Body, Envelope, Request, WIRE_VERSION};
use crate::engine::import::options::ImportField;
use crate::rules::access::Actor;
use crate::rules::access::PermissionError;
use crate::rules::error::ERROR_CODES;
use crate::rules::error::{Error, ErrorReport};
use crate::rules::machine::DealAction;
use crate::rules::machine::{CommunicationError, DealError, LeadError, PhaseError, ReasonError};
use crate::store::query::Cursor;

/// The schema document: `$defs` of every type on the wire, and at the top
/// one of the four things a client reads or writes: a [`Request`], an
/// [`Envelope`] (what [`crate::Engine::handle_json`] answers), an
/// [`EventEnvelope`] (the outbox) and an [`ErrorReport`].
pub fn wire_schema() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let entries = [
        generator.subschema_for::<Request>(),
        generator.subschema_for::<Envelope>(),
        generator.subschema_for::<EventEnvelope>(),
        generator.subschema_for::<ErrorReport>(),
    ];
    let defs = generator.take_definitions(true);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("crcm wire format {WIRE_VERSION}"),
        "description": "A crcm request, the envelope that answers it, an outbox event or an error. \
                        Each is also under $defs by its name: Request, Envelope, EventEnvelope, ErrorReport.",
        "anyOf": entries.into_iter().map(Schema::to_value).collect::<Vec<_>>(),
        "$defs": defs,
    })
}

/// The schema of one definition of [`wire_schema`] (`Request`, `Envelope`,
/// ...), as a document a validator compiles on its own.
pub fn definition_schema(name: &str) -> Value {
    let mut document = wire_schema();
    if let Some(map) = document.as_object_mut() {
        map.remove("anyOf");
        map.insert("$ref".into(), json!(format!("#/$defs/{name}")));
    }
    document
}

impl JsonSchema for Request {
    fn schema_name() -> Cow<'static, str> {
        "Request".into()
    }

    /// One object per request type: the body's fields beside `type` (the
    /// request's name), `actor` and the optional `wire` version.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let actor = generator.subschema_for::<Actor>().to_value();
        let variants: Vec<Value> = Body::schemas(generator)
            .into_iter()
            .map(|(name, body)| {
                let mut body = body.to_value();
                if let Some(object) = body.as_object_mut() {
                    object.insert("type".into(), json!("object"));
                    let properties = object.entry("properties").or_insert_with(|| json!({}));
                    if let Some(properties) = properties.as_object_mut() {
                        properties.insert("type".into(), json!({"const": name}));
                        properties.insert("actor".into(), actor.clone());
                        properties.insert(
                            "wire".into(),
                            json!({"const": WIRE_VERSION, "description": "The wire version the client speaks; absent means this one."}),
                        );
                    }
                    let required = object.entry("required").or_insert_with(|| json!([]));
                    if let Some(required) = required.as_array_mut() {
                        required.push(json!("type"));
                        required.push(json!("actor"));
                    }
                    object.insert("additionalProperties".into(), json!(false));
                }
                body
            })
            .collect();
        json_schema!({
            "description": "A request: `type` names it, `actor` is who asks, the other fields are its body.",
            "oneOf": variants,
        })
    }
}

impl JsonSchema for Cursor {
    fn schema_name() -> Cow<'static, str> {
        "Cursor".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An opaque page cursor, valid only for the query that wrote it.",
            "type": "string",
            "pattern": "^c1[0-9a-f]{64}$",
        })
    }
}

impl JsonSchema for ImportField {
    fn schema_name() -> Cow<'static, str> {
        "ImportField".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let standard: Vec<&str> = ImportField::STANDARD.iter().map(ImportField::name).collect();
        json_schema!({
            "description": "A lead field an import column fills: a standard field's name, or a custom field's code (`custom:CODE` or the bare code).",
            "type": "string",
            "examples": standard,
        })
    }
}

impl JsonSchema for Error {
    fn schema_name() -> Cow<'static, str> {
        "ErrorReport".into()
    }

    fn inline_schema() -> bool {
        true
    }

    /// An error is written as its [`ErrorReport`].
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<ErrorReport>()
    }
}

impl JsonSchema for DealAction {
    fn schema_name() -> Cow<'static, str> {
        "DealAction".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A deal action.",
            "type": "string",
            "enum": DealAction::ALL.map(DealAction::code),
        })
    }
}

impl JsonSchema for ErrorReport {
    fn schema_name() -> Cow<'static, str> {
        "ErrorReport".into()
    }

    /// One object per error code: its `code`, `kind` and `name` as constants
    /// and the shape of its `details`.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let details = details_by_name(generator);
        let variants: Vec<Value> = ERROR_CODES
            .iter()
            .map(|c| {
                let details = details.get(c.name).cloned().unwrap_or_else(|| json!({}));
                json!({
                    "type": "object",
                    "description": c.meaning,
                    "properties": {
                        "code": {"const": c.code},
                        "kind": {"const": c.kind},
                        "name": {"const": c.name},
                        "message": {"type": "string", "description": "For people; its wording may change."},
                        "details": details,
                    },
                    "required": ["code", "kind", "name", "message", "details"],
                    "additionalProperties": false,
                })
            })
            .collect();
        json_schema!({
            "description": "An error: a stable code and name from the error table, a message for people, and the details of its code.",
            "oneOf": variants,
        })
    }
}

/// The schema of each error code's `details`, by the code's name.
pub(crate) fn details_by_name(generator: &mut SchemaGenerator) -> BTreeMap<&'static str, Value> {
    let names: Vec<&'static str> = ERROR_CODES.iter().map(|c| c.name).collect();
    let mut out = BTreeMap::new();
    // Each refusal enum's variants, matched to their code by name: the
    // variant's name, or it after the enum's group (`deal_not_allowed`).
    let enums = [
        ("", InputError::json_schema(generator)),
        ("config", ConfigError::json_schema(generator)),
        ("lead", LeadError::json_schema(generator)),
        ("phase", PhaseError::json_schema(generator)),
        ("deal", DealError::json_schema(generator)),
        ("reason", ReasonError::json_schema(generator)),
        ("communication", CommunicationError::json_schema(generator)),
        ("request", RequestError::json_schema(generator)),
        ("import", ImportFailure::json_schema(generator)),
    ];
    for (group, schema) in enums {
        for (variant, details) in variants(&schema.to_value()) {
            let Some(name) = code_of(&names, group, &variant) else {
                continue;
            };
            let mut details = if group.is_empty() { with_path(details) } else { details };
            // Details carry exactly their variant's fields.
            if details.get("properties").is_some() {
                details["additionalProperties"] = json!(false);
            }
            // Two variants answering with one code would hide one's shape.
            if out.insert(name, details).is_some() {
                out.insert(name, json!({}));
            }
        }
    }
    out.insert(
        "invalid_fields",
        json!({"type": "array", "items": {"$ref": "#/$defs/ErrorReport"}}),
    );
    out.insert(
        "permission_denied",
        generator.subschema_for::<PermissionError>().to_value(),
    );
    out.insert("not_found", generator.subschema_for::<EntityRef>().to_value());
    out.insert("lead_number_not_found", object(&[("number", INTEGER)]));
    // Storage errors carry fixed fields (`StoreError::details`).
    let entity = generator.subschema_for::<EntityRef>().to_value();
    let mut conflict = object(&[("expected", INTEGER), ("found", INTEGER)]);
    conflict["properties"]["entity"] = entity;
    push_required(&mut conflict, "entity");
    out.insert("version_conflict", conflict);
    out.insert("config_conflict", object(&[("expected", INTEGER), ("found", INTEGER)]));
    out.insert(
        "lookup_conflict",
        object(&[("key", STRING), ("expected", INTEGER), ("found", INTEGER)]),
    );
    out.insert("contention", object(&[("backend", STRING), ("message", STRING)]));
    out.insert("duplicate", object(&[("what", STRING), ("value", STRING)]));
    out.insert("format_too_new", object(&[("found", INTEGER), ("supported", INTEGER)]));
    out.insert("not_a_crcm_store", object(&[("what", STRING)]));
    out.insert("corrupt", object(&[("what", STRING), ("message", STRING)]));
    out.insert(
        "not_durable",
        object(&[
            ("backend", STRING),
            ("first_seq", INTEGER),
            ("events", INTEGER),
            ("message", STRING),
        ]),
    );
    out.insert("backend", object(&[("backend", STRING), ("message", STRING)]));
    out.insert("overflow", object(&[("what", STRING)]));
    out.insert("invalid_options", object(&[("message", STRING)]));
    out
}

const INTEGER: &str = "integer";
const STRING: &str = "string";

/// An object schema with these required fields of these JSON types.
fn object(fields: &[(&str, &str)]) -> Value {
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), json!({"type": kind})))
        .collect();
    let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn push_required(schema: &mut Value, field: &str) {
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!(field));
    }
}

/// An input error's details: also the JSON `path` of the value, when the
/// error was met reading a request.
fn with_path(mut details: Value) -> Value {
    if let Some(properties) = details.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert(
            "path".into(),
            json!({"type": "string", "description": "Where in the request the value stands."}),
        );
    }
    details
}

/// The variants of an externally tagged enum's schema: a struct variant is
/// `{"Variant": {fields}}`, a unit variant the string `"Variant"` (no details:
/// `null`).
fn variants(schema: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for branch in schema["oneOf"].as_array().into_iter().flatten() {
        if let Some(properties) = branch["properties"].as_object() {
            for (variant, fields) in properties {
                out.push((variant.clone(), fields.clone()));
            }
        }
        let units = branch["enum"]
            .as_array()
            .cloned()
            .or_else(|| branch.get("const").map(|c| vec![c.clone()]))
            .unwrap_or_default();
        for unit in units.iter().filter_map(Value::as_str) {
            out.push((unit.to_owned(), json!({"type": "null"})));
        }
    }
    out
}

/// The code a variant answers with: its name in snake_case after its group
/// or alone, or one of the few names that say it otherwise.
fn code_of(names: &[&'static str], group: &str, variant: &str) -> Option<&'static str> {
    let snake = snake_case(variant);
    let renamed = match (group, variant) {
        ("reason", "Unknown") => Some("unknown_reason"),
        ("request", "Malformed") => Some("malformed_request"),
        ("request", "UnsupportedWire") => Some("unsupported_wire_version"),
        ("import", "ChangedDuringImport") => Some("import_changed"),
        _ => None,
    };
    // The group's own name first: `phase_lead_closed` before `lead_closed`.
    let candidates = [
        renamed.map(str::to_owned),
        Some(format!("{group}_{snake}")),
        Some(snake),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(|c| names.iter().copied().find(|n| *n == c))
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
