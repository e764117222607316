//! The pure hot paths of crcm-core, one Criterion benchmark per function, so
//! a regression shows where it is: the lead rule (validation of a new lead),
//! the phase machine (a move, a close with its reason), phone and e-mail
//! normalization, search folding, and the request API's JSON (reading a
//! request, writing one). No store is involved: these are the CPU costs
//! every command and read pays before it reaches storage.
//!
//! `cargo bench -p crcm-core --bench hotpaths` (add `-- --quick` for a short
//! run, or a name filter such as `-- normalize`).

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use crcm_core::domain::config::{Config, PhaseRef};
use crcm_core::domain::contact::{Email, Phone};
use crcm_core::domain::ids::{Code, UserId};
use crcm_core::domain::input::NewLead;
use crcm_core::domain::lead::Lead;
use crcm_core::engine::api::Request;
use crcm_core::rules::access::{Actor, Role};
use crcm_core::rules::{self, Ctx};
use crcm_core::store::query::{fold, words};
use criterion::{Criterion, criterion_group, criterion_main};

/// The example configuration README loads (account types, phases, sources...).
fn config() -> Config {
    serde_json::from_str(include_str!("../examples/crcm-config.json"))
        .unwrap_or_else(|e| panic!("examples/crcm-config.json: {e}"))
}

fn code(text: &str) -> Code {
    Code::new(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A new lead with every field the rule checks filled in.
fn new_lead() -> NewLead {
    NewLead {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company: "Analytical Engines".into(),
        job_title: "Chief Programmer".into(),
        email: Some(" Ada.Lovelace@Example.COM ".into()),
        phone: Some("(212) 555-0143".into()),
        city: "London".into(),
        source: Some(code("referral")),
        priority: Some(code("high")),
        account_type: Some(code("b2b")),
        description: "Met at the fair; wants a demo of the difference engine.".into(),
        ..NewLead::default()
    }
}

fn benches(c: &mut Criterion) {
    let config = config();
    let actor = Actor::new(UserId::new("ann").unwrap_or_else(|e| panic!("{e}")), Role::SalesPerson);
    let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).single().unwrap_or_default();
    let ctx = Ctx {
        actor: &actor,
        config: &config,
        now,
        action: "bench",
    };
    let input = new_lead();
    let lead: Lead = rules::new_lead(&ctx, &input).unwrap_or_else(|e| panic!("new_lead: {e}"));
    let engaging = PhaseRef {
        account_type: code("b2b"),
        code: code("ENGAGING"),
    };
    let won = PhaseRef {
        account_type: code("b2b"),
        code: code("WON"),
    };
    let (_, engaged) = rules::move_phase(&ctx, &lead, &engaging, None, None).unwrap_or_else(|e| panic!("move: {e}"));
    let reason = code("won");

    c.bench_function("rules/new_lead", |b| {
        b.iter(|| rules::new_lead(black_box(&ctx), black_box(&input)))
    });
    c.bench_function("rules/move_phase", |b| {
        b.iter(|| rules::move_phase(black_box(&ctx), black_box(&lead), black_box(&engaging), None, None))
    });
    c.bench_function("rules/close_with_reason", |b| {
        b.iter(|| {
            rules::move_phase(
                black_box(&ctx),
                black_box(&engaged),
                black_box(&won),
                Some(&reason),
                None,
            )
        })
    });

    c.bench_function("normalize/phone_national", |b| {
        b.iter(|| Phone::parse(black_box("(212) 555-0143"), black_box("US")))
    });
    c.bench_function("normalize/phone_international", |b| {
        b.iter(|| Phone::parse(black_box("+44 20 7946 0958"), black_box("US")))
    });
    c.bench_function("normalize/email", |b| {
        b.iter(|| Email::parse(black_box(" Ada.Lovelace@Example.COM ")))
    });
    c.bench_function("search/fold", |b| b.iter(|| fold(black_box("Ñúñez O'Brien, Straße 5"))));
    c.bench_function("search/record_words", |b| {
        b.iter(|| {
            words(black_box(
                "Ada Lovelace · Analytical Engines · ada.lovelace@example.com",
            ))
        })
    });

    let text = serde_json::json!({
        "type": "create_lead",
        "actor": {"user": "ann", "role": "sales_person"},
        "lead": {
            "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines",
            "email": "ada@example.com", "phone": "+1 212 555 0143", "source": "referral",
            "account_type": "b2b", "tags": []
        }
    })
    .to_string();
    let request = Request::from_json(&text).unwrap_or_else(|e| panic!("request: {e}"));
    c.bench_function("wire/read_request", |b| b.iter(|| Request::from_json(black_box(&text))));
    c.bench_function("wire/write_request", |b| {
        b.iter(|| serde_json::to_string(black_box(&request)))
    });
    // Every command reads the configuration in force.
    let stored = include_str!("../examples/crcm-config.json");
    c.bench_function("wire/read_config", |b| {
        b.iter(|| serde_json::from_str::<Config>(black_box(stored)))
    });
}

criterion_group!(hotpaths, benches);
criterion_main!(hotpaths);
