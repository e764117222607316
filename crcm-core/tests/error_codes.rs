//! The error table: every code is unique and in its group's range, README
//! shows the table, and one sample of every error pins its code and its JSON
//! form (`tests/golden/errors.json`). `CRCM_BLESS=1` rewrites README's table
//! and the golden file after a deliberate change.
#![cfg(feature = "testing")]

use std::collections::BTreeSet;

use crcm_core::domain::config::{ConfigError, ConfigItem, ConfigProblem, ItemInUse};
use crcm_core::domain::error::{InputError, ReferenceKind};
use crcm_core::domain::failure::{ImportFailure, RequestError};
use crcm_core::domain::ids::ImportId;
use crcm_core::error::{
    CommunicationError, DealError, ERROR_CODES, LeadError, LeadLinks, PhaseError, ReasonError, ReasonKind, StoreError,
};
use crcm_core::rules::access::{Action, DenyReason, PermissionError};
use crcm_core::rules::machine::{DealAction, LeadAction};
use crcm_core::*;
use uuid::Uuid;

const BEGIN: &str = "<!-- error-codes:begin (generated from crcm-core/src/rules/error.rs) -->\n";
const END: &str = "<!-- error-codes:end -->";

fn bless() -> bool {
    std::env::var("CRCM_BLESS").is_ok_and(|v| v == "1")
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// One error of every code, with fixed ids so the JSON is stable.
fn samples() -> Vec<Error> {
    let field = |f: &str| f.to_owned();
    let phase = PhaseRef {
        account_type: code("b2b"),
        code: code("WON"),
    };
    vec![
        InputError::InvalidEmail {
            value: "ada@".into(),
            reason: "missing domain".into(),
        }
        .into(),
        InputError::InvalidPhone {
            value: "12".into(),
            reason: "too short".into(),
        }
        .into(),
        InputError::InvalidRegion { value: "XX".into() }.into(),
        InputError::InvalidCode { value: "a b".into() }.into(),
        InputError::InvalidUserId { value: String::new() }.into(),
        InputError::InvalidCurrency { value: "XAU".into() }.into(),
        InputError::NegativeAmount { minor: -5 }.into(),
        InputError::ProbabilityOutOfRange { value: 101 }.into(),
        InputError::Required { field: field("name") }.into(),
        InputError::OneOfRequired {
            fields: vec![field("first_name"), field("last_name"), field("company")],
        }
        .into(),
        InputError::TooLong {
            field: field("title"),
            max: 200,
        }
        .into(),
        InputError::ControlCharacter {
            field: field("title"),
            code_point: 0,
        }
        .into(),
        InputError::TooMany {
            field: field("team"),
            max: 50,
        }
        .into(),
        InputError::BadCursor { text: "12~x".into() }.into(),
        "import:not-a-uuid"
            .parse::<ImportId>()
            .err()
            .unwrap_or_else(|| panic!("parsed"))
            .into(),
        InputError::UnknownReference {
            kind: ReferenceKind::LeadSource,
            code: "fair".into(),
        }
        .into(),
        InputError::CustomField {
            field: field("segment"),
            reason: "not one of smb, enterprise".into(),
        }
        .into(),
        InputError::OutOfRange {
            field: field("expected_revenue"),
            value: "9223372036854775807".into(),
            min: "0".into(),
            max: "1000000000000000".into(),
        }
        .into(),
        InputError::Many(vec![
            InputError::Required { field: field("name") },
            InputError::NegativeAmount { minor: -1 },
        ])
        .into(),
        PermissionError {
            user: UserId::new("bob").unwrap_or_else(|e| panic!("{e}")),
            role: Role::SalesPerson,
            action: Action::ChangeLead,
            reason: DenyReason::NotWorkingLead {
                number: 7,
                owner: UserId::new("ann").unwrap_or_else(|e| panic!("{e}")),
            },
        }
        .into(),
        Error::NotFound(EntityRef::lead(LeadId(id(1)))),
        Error::LeadNumberNotFound(42),
        StoreError::Conflict {
            entity: EntityRef::lead(LeadId(id(1))),
            expected: Some(3),
            found: Some(4),
        }
        .into(),
        StoreError::ConfigConflict {
            expected: Some(1),
            found: Some(2),
        }
        .into(),
        StoreError::LookupConflict {
            key: "lead.deals:1".into(),
            expected: 1,
            found: 2,
        }
        .into(),
        StoreError::Contention {
            backend: "postgres",
            message: "deadlock detected".into(),
        }
        .into(),
        StoreError::Duplicate {
            what: "lead number".into(),
            value: "7".into(),
        }
        .into(),
        ConfigError::Stale { expected: 1, found: 2 }.into(),
        ConfigError::Invalid {
            problems: vec![ConfigProblem {
                path: "account_types".into(),
                message: "at least one account type is required".into(),
            }],
        }
        .into(),
        ConfigError::InUse {
            uses: vec![ItemInUse {
                item: ConfigItem::Tag { code: code("vip") },
                leads: 2,
                deals: 0,
                lead_examples: vec![1, 2],
                deal_examples: Vec::new(),
            }],
        }
        .into(),
        ConfigError::Missing.into(),
        LeadError::StatusRequiresAction {
            status: LeadStatus::Converted,
            reached_by: LeadAction::Convert,
        }
        .into(),
        LeadError::NotAllowed {
            number: 7,
            status: LeadStatus::Qualified,
            action: LeadAction::Qualify,
        }
        .into(),
        LeadError::CustomerChoiceRequired {
            number: 7,
            candidates: vec![CustomerId(id(2))],
        }
        .into(),
        LeadError::QuotationRequiresDeal {
            number: 7,
            deals: vec![],
        }
        .into(),
        LeadError::HasLinks {
            number: 7,
            links: Box::new(LeadLinks {
                documents: vec!["SO-1".into()],
                deals: vec![DealId(id(3))],
                communications: vec![CommunicationId(id(4))],
                activities: vec![ActivityId(id(5))],
                follow_ups: vec![FollowUpId(id(6))],
            }),
        }
        .into(),
        LeadError::MergeIntoSelf.into(),
        LeadError::Closed {
            number: 7,
            status: LeadStatus::Disqualified,
            action: LeadAction::Merge,
        }
        .into(),
        LeadError::Merged {
            number: 7,
            into: Some(LeadId(id(8))),
        }
        .into(),
        LeadError::ExternalRefTaken {
            external_ref: "espo:5f1c2a".into(),
            number: 7,
        }
        .into(),
        LeadError::Changed {
            number: 7,
            expected: 2,
            found: 3,
        }
        .into(),
        PhaseError::NotInAccountType {
            phase: PhaseRef {
                account_type: code("b2c"),
                code: code("NEW"),
            },
            account_type: code("b2b"),
        }
        .into(),
        PhaseError::UnknownPhase {
            phase: PhaseRef {
                account_type: code("b2b"),
                code: code("NOPE"),
            },
        }
        .into(),
        PhaseError::NoPhases {
            account_type: code("partner"),
        }
        .into(),
        PhaseError::PhaseRequiredForAccountType {
            account_type: code("b2c"),
        }
        .into(),
        PhaseError::NotClosingPhase {
            number: 7,
            phase: Some(phase.clone()),
        }
        .into(),
        PhaseError::LeadClosed {
            number: 7,
            status: LeadStatus::Converted,
        }
        .into(),
        DealError::StageNotInPipeline {
            stage: code("NOPE"),
            pipeline: code("sales"),
        }
        .into(),
        DealError::NotAllowed {
            status: DealStatus::Won,
            action: DealAction::Lose,
        }
        .into(),
        DealError::LostNeedsReason { stage: code("LOST") }.into(),
        DealError::ProbabilityFixed {
            status: DealStatus::Lost,
        }
        .into(),
        DealError::WrongStageKind {
            stage: code("PROPOSAL"),
            kind: StageKind::Open,
            expected: StageKind::Won,
        }
        .into(),
        DealError::NoStageOfKind {
            pipeline: code("sales"),
            kind: StageKind::Won,
        }
        .into(),
        ReasonError::Unknown {
            kind: ReasonKind::Lost,
            code: code("weather"),
        }
        .into(),
        ReasonError::NoteRequired {
            kind: ReasonKind::Closing,
            code: code("other"),
        }
        .into(),
        CommunicationError::Ignored {
            communication: CommunicationId(id(4)),
        }
        .into(),
        CommunicationError::Linked {
            communication: CommunicationId(id(4)),
            lead: Some(LeadId(id(1))),
        }
        .into(),
        StoreError::FormatTooNew { found: 2, supported: 1 }.into(),
        StoreError::NotACrcmStore("a file of another program".into()).into(),
        StoreError::Corrupt {
            what: "lead 1".into(),
            message: "expected value".into(),
        }
        .into(),
        StoreError::NotDurable {
            backend: "sled",
            first_seq: 10,
            events: 2,
            message: "disk full".into(),
        }
        .into(),
        StoreError::backend("sqlite", std::io::Error::other("disk I/O error")).into(),
        StoreError::Overflow {
            what: "board cell b2b/CALL/ann/USD".into(),
        }
        .into(),
        StoreError::InvalidOptions {
            message: "the store's directory is an empty path; name a directory such as ./crcm-data".into(),
        }
        .into(),
        RequestError::Malformed {
            path: "patch.probability".into(),
            message: "invalid value: integer `300`, expected u8".into(),
        }
        .into(),
        RequestError::TooLarge {
            bytes: 10_000_000,
            max: 8_388_608,
        }
        .into(),
        RequestError::UnsupportedWire { given: 2, supported: 1 }.into(),
        ImportFailure::Io {
            message: "No such file or directory (os error 2)".into(),
        }
        .into(),
        ImportFailure::Csv {
            message: "found record with 3 fields, but the previous record has 2 fields".into(),
        }
        .into(),
        ImportFailure::NoHeader.into(),
        ImportFailure::ResumeMismatch {
            id: ImportId(id(7)),
            committed: 3,
        }
        .into(),
        ImportFailure::RecordTooLong {
            line: 1,
            max_bytes: 1_048_576,
        }
        .into(),
        ImportFailure::HeaderNotUtf8 {
            column: "Stra\u{fffd}e".into(),
            index: 4,
        }
        .into(),
        ImportFailure::UnknownColumns {
            columns: vec!["Shoe size".into()],
        }
        .into(),
        ImportFailure::NoSuchColumn {
            column: "Hat size".into(),
        }
        .into(),
        ImportFailure::MissingColumns {
            fields: vec!["phone".into()],
        }
        .into(),
        ImportFailure::UnknownField { name: "shoe".into() }.into(),
        ImportFailure::UnknownMode { name: "some".into() }.into(),
        ImportFailure::ConflictingMapping {
            field: "contact_name".into(),
            reason: "a constant and the column Name".into(),
        }
        .into(),
        ImportFailure::BatchSize { size: 0, max: 10_000 }.into(),
        ImportFailure::ChangedDuringImport {
            line: 42,
            id: ImportId(id(8)),
            imported: 40,
        }
        .into(),
        ImportFailure::Cancelled {
            id: ImportId(id(8)),
            imported: 80,
            rows: 80,
        }
        .into(),
        ImportFailure::Dialect {
            message: "unknown encoding \"klingon\": use a label such as utf-8, windows-1252, latin1 or utf-16le".into(),
        }
        .into(),
        RequestError::InsideRuntime.into(),
        RequestError::Internal {
            message: "the response could not be written as JSON".into(),
        }
        .into(),
    ]
}

#[test]
fn codes_are_unique_and_grouped() {
    let mut numbers = BTreeSet::new();
    let mut names = BTreeSet::new();
    for c in ERROR_CODES {
        assert!(numbers.insert(c.code), "code {} twice", c.code);
        assert!(names.insert(c.name), "name {} twice", c.name);
        let group = match c.code / 1000 {
            1 => vec!["input"],
            2 => vec!["permission"],
            3 => vec!["not_found"],
            4 => vec!["conflict"],
            5 => vec!["config", "lead", "phase", "deal", "reason", "communication"],
            6 => vec!["storage"],
            7 => vec!["import"],
            8 => vec!["usage", "internal"],
            // 9xxx is the C ABI's own (its statuses beside these codes).
            _ => vec![],
        };
        assert!(
            group.contains(&c.kind),
            "{} ({}) is outside its group's range",
            c.name,
            c.kind
        );
    }
    assert!(
        ERROR_CODES.windows(2).all(|w| w[0].code < w[1].code),
        "the table is in code order"
    );
}

#[test]
fn every_code_has_a_sample_and_every_sample_its_code() {
    let samples = samples();
    let used: BTreeSet<u32> = samples.iter().map(|e| e.code().code).collect();
    let table: BTreeSet<u32> = ERROR_CODES.iter().map(|c| c.code).collect();
    assert_eq!(used, table, "one sample per code");
    assert_eq!(samples.len(), ERROR_CODES.len(), "one sample per code");
    // A conflict is what the engine re-runs; the table groups exactly those.
    for e in &samples {
        if e.is_conflict() {
            assert_eq!(e.kind(), "conflict", "{e}");
        }
    }
}

fn markdown() -> String {
    let mut out = String::from("| code | kind | name | meaning |\n|---|---|---|---|\n");
    for c in ERROR_CODES {
        out.push_str(&format!("| {} | {} | `{}` | {} |\n", c.code, c.kind, c.name, c.meaning));
    }
    out
}

#[test]
fn readme_error_table_is_the_code_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    crcm_core::testing::generated_section(path, BEGIN, END, &markdown());
}

#[test]
fn error_reports_match_the_golden_file() {
    let reports: Vec<serde_json::Value> = samples()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or_else(|err| panic!("{err}")))
        .collect();
    for (e, r) in samples().iter().zip(&reports) {
        assert_eq!(r["code"], e.code().code, "{r}");
        assert_eq!(r["message"], e.to_string(), "{r}");
        let back: crcm_core::error::ErrorReport =
            serde_json::from_value(r.clone()).unwrap_or_else(|err| panic!("{err}: {r}"));
        assert_eq!(back, e.report());
    }
    let text = serde_json::to_string_pretty(&reports).unwrap_or_else(|e| panic!("{e}")) + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/errors.json");
    if bless() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path, &text).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    let golden = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e} (run with CRCM_BLESS=1)"));
    assert!(
        golden == text,
        "error JSON changed; if deliberate, run with CRCM_BLESS=1 and review the diff of {path}"
    );
}
