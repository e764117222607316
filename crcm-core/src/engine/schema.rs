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

use crate::domain::event::EventEnvelope;
use crate::engine::api::{Body, Envelope, Request, WIRE_VERSION};
use crate::engine::import::options::ImportField;
use crate::rules::access::Actor;
use crate::rules::error::{Error, ErrorReport};
use crate::rules::machine::DealAction;
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
