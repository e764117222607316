//! `Command`, its outputs and every domain event round-trip through serde_json,
//! one check per variant; and the store's format version is enforced.
#![cfg(feature = "testing")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use crcm_core::domain::activity::{ActivityKind, CommunicationKind, Subject};
use crcm_core::domain::config::PhaseRef;
use crcm_core::domain::custom;
use crcm_core::domain::input::{DealPatch, InboundCommunication, NewContact, NewCustomer};
use crcm_core::domain::lead::DocumentKind;
use crcm_core::store::Select;
use crcm_core::store::tally::{BoardCell, Tally, TallyRow};
use crcm_core::testing::{fixture_config, phase};
use crcm_core::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn code(s: &str) -> Code {
    Code::new(s).expect("valid code")
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> serde_json::Value {
    let json = serde_json::to_value(value).expect("serializes");
    let back: T = serde_json::from_value(json.clone()).expect("deserializes");
    assert_eq!(&back, value, "round trip of {json}");
    json
}

/// The wire form a client sees, with ids and times replaced by stable
/// placeholders (`<uuid 1>`, `<time>`), so the golden files pin the shape.
fn normalized(value: &serde_json::Value, ids: &mut Vec<String>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 => {
            let n = ids.iter().position(|x| x == s).unwrap_or_else(|| {
                ids.push(s.clone());
                ids.len() - 1
            });
            Value::String(format!("<uuid {}>", n + 1))
        }
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Value::String("<time>".into()),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalized(v, ids)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    // Keys that are ids (e.g. a map by lead id) are placeholders too.
                    let key = match normalized(&Value::String(k.clone()), ids) {
                        Value::String(k) => k,
                        _ => k.clone(),
                    };
                    (key, normalized(v, ids))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compares `values` with `tests/golden/<name>.json`; `CRCM_BLESS=1` rewrites it.
fn golden(name: &str, values: &[serde_json::Value]) {
    let mut ids = Vec::new();
    let list: Vec<serde_json::Value> = values.iter().map(|v| normalized(v, &mut ids)).collect();
    let text = serde_json::to_string_pretty(&list).expect("json") + "\n";
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("CRCM_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write golden file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (run with CRCM_BLESS=1)"));
    assert!(
        committed == text,
        "the JSON form of {name} changed; if deliberate, run with CRCM_BLESS=1 and review the diff of {path}"
    );
}

fn all_commands() -> Vec<Command> {
    let lead = LeadId::new();
    let deal = DealId::new();
    let money = Money::new(12_345, Currency::new("EUR").expect("EUR")).expect("money");
    let p: PhaseRef = phase("b2b", "QUOTE");
    vec![
        Command::SetConfig(commands::SetConfig {
            config: fixture_config(),
            expected_version: Some(3),
        }),
        Command::CreateLead(commands::CreateLead {
            lead: NewLead {
                first_name: "Ada".into(),
                email: Some("ada@example.com".into()),
                expected_revenue: Some(money),
                custom: BTreeMap::from([(code("segment"), custom::CustomValue::Choice("smb".into()))]),
                ..NewLead::default()
            },
        }),
        Command::UpdateLead(commands::UpdateLead {
            lead,
            patch: LeadPatch {
                email: Some(None),
                phone: Some(Some("+31 20 123 4567".into())),
                probability: Some(Some(30)),
                ..LeadPatch::default()
            },
        }),
        Command::SetLeadStatus(commands::SetLeadStatus {
            lead,
            status: LeadStatus::Contacted,
        }),
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead,
            phase: p.clone(),
            closing_reason: Some(code("won")),
            note: Some("n".into()),
        }),
        Command::SetClosingReason(commands::SetClosingReason {
            lead,
            reason: code("lost"),
            note: None,
        }),
        Command::ChangeAccountType(commands::ChangeAccountType {
            lead,
            account_type: code("b2c"),
            phase: Some(p),
        }),
        Command::OpenDeal(commands::OpenDeal {
            lead,
            pipeline: Some(code("sales")),
            deal: DealDraft {
                title: Some("Second order".into()),
                value: Some(money),
                expected_close: None,
            },
        }),
        Command::QualifyLead(commands::QualifyLead {
            lead,
            customer: CustomerChoice::Link {
                customer: CustomerId::new(),
            },
            deal: DealDraft {
                title: Some("T".into()),
                value: Some(money),
                expected_close: NaiveDate::from_ymd_opt(2027, 1, 2),
            },
        }),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead,
            reason: code("other"),
            note: Some("why".into()),
        }),
        Command::ReopenLead(commands::ReopenLead { lead }),
        Command::MergeLead(commands::MergeLead {
            lead,
            into: LeadId::new(),
        }),
        Command::ReassignLead(commands::ReassignLead {
            lead,
            owner: UserId::new("bob").expect("user"),
        }),
        Command::SetLeadTeam(commands::SetLeadTeam {
            lead,
            team: BTreeSet::from([UserId::new("cy").expect("user")]),
        }),
        Command::DeleteLead(commands::DeleteLead { lead, if_version: None }),
        Command::LinkLeadDocument(commands::LinkLeadDocument {
            lead,
            kind: DocumentKind::Invoice,
            external_id: "INV-1".into(),
        }),
        Command::MoveDealStage(commands::MoveDealStage {
            deal,
            stage: code("proposal"),
        }),
        Command::WinDeal(commands::WinDeal {
            deal,
            stage: Some(code("won")),
        }),
        Command::LoseDeal(commands::LoseDeal {
            deal,
            reason: code("no_fit"),
            note: None,
        }),
        Command::ReopenDeal(commands::ReopenDeal { deal, stage: None }),
        Command::SetDealProbability(commands::SetDealProbability {
            deal,
            probability: Some(55),
        }),
        Command::UpdateDeal(commands::UpdateDeal {
            deal,
            patch: DealPatch {
                title: Some("New".into()),
                value: Some(None),
                expected_close: None,
            },
        }),
        Command::LinkDealDocument(commands::LinkDealDocument {
            deal,
            kind: DocumentKind::Quotation,
            external_id: "Q-9".into(),
        }),
        Command::CreateCustomer(commands::CreateCustomer {
            customer: NewCustomer {
                name: "Acme".into(),
                ..NewCustomer::default()
            },
        }),
        Command::AddContact(commands::AddContact {
            customer: CustomerId::new(),
            contact: NewContact {
                name: "Ann".into(),
                ..NewContact::default()
            },
        }),
        Command::LogActivity(commands::LogActivity {
            subject: Subject::Deal(deal),
            kind: ActivityKind::Meeting,
            summary: "demo".into(),
            body: String::new(),
            occurred_at: Some(Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).single().expect("time")),
        }),
        Command::ScheduleFollowUp(commands::ScheduleFollowUp {
            subject: Subject::Lead(lead),
            due: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            note: "call".into(),
            assignee: None,
        }),
        Command::CompleteFollowUp(commands::CompleteFollowUp {
            follow_up: FollowUpId::new(),
        }),
        Command::ReceiveCommunication(commands::ReceiveCommunication {
            communication: InboundCommunication {
                kind: CommunicationKind::Call,
                from_email: None,
                from_phone: Some("+1 212 555 0147".into()),
                summary: "s".into(),
                body: "b".into(),
                received_at: None,
            },
        }),
        Command::AttachCommunication(commands::AttachCommunication {
            communication: CommunicationId::new(),
            lead,
        }),
        Command::CreateLeadFromCommunication(commands::CreateLeadFromCommunication {
            communication: CommunicationId::new(),
            lead: NewLead::default(),
        }),
        Command::IgnoreCommunication(commands::IgnoreCommunication {
            communication: CommunicationId::new(),
        }),
    ]
}

#[test]
fn every_command_round_trips_with_a_stable_tag() {
    let commands = all_commands();
    let names: BTreeSet<&str> = commands.iter().map(Command::name).collect();
    assert_eq!(names.len(), commands.len(), "one sample per variant");
    assert_eq!(commands.len(), 32, "every Command variant has a sample");
    let mut forms = Vec::new();
    for c in &commands {
        let json = round_trip(c);
        assert_eq!(
            json["type"].as_str(),
            Some(c.name()),
            "the JSON tag is the command's name"
        );
        forms.push(json);
    }
    golden("commands", &forms);
}

#[test]
fn commands_parse_from_minimal_json() {
    let lead = LeadId::new();
    let json = format!(r#"{{"type":"qualify_lead","lead":"{}"}}"#, lead.0);
    let cmd: Command = serde_json::from_str(&json).expect("defaults fill the rest");
    assert_eq!(
        cmd,
        Command::QualifyLead(commands::QualifyLead {
            lead,
            customer: CustomerChoice::Auto,
            deal: DealDraft::default()
        })
    );
    let bad = r#"{"type":"move_deal_stage","deal":"not-a-uuid","stage":"x"}"#;
    assert!(serde_json::from_str::<Command>(bad).is_err());
    let bad_code = format!(
        r#"{{"type":"set_closing_reason","lead":"{}","reason":"has space"}}"#,
        lead.0
    );
    assert!(
        serde_json::from_str::<Command>(&bad_code).is_err(),
        "codes are validated while parsing"
    );
    // A patch tells "absent" (keep) from null (clear).
    let patch: LeadPatch = serde_json::from_str(r#"{"email":null,"city":"Delft"}"#).expect("patch");
    assert_eq!(
        (patch.email, patch.phone, patch.city.as_deref()),
        (Some(None), None, Some("Delft"))
    );
}

#[test]
fn every_output_round_trips() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let engine = crcm_core::testing::fixture_engine(&crcm_core::testing::MemoryFactory).await;
        let ann = crcm_core::testing::ann();
        let lead = engine
            .run(
                &ann,
                commands::CreateLead {
                    lead: NewLead {
                        first_name: "Ada".into(),
                        company: "Acme".into(),
                        account_type: Some(code("b2b")),
                        ..NewLead::default()
                    },
                },
            )
            .await
            .expect("lead");
        let (l, c, d) = engine
            .run(
                &ann,
                commands::QualifyLead {
                    lead: lead.id,
                    customer: CustomerChoice::Auto,
                    deal: DealDraft::default(),
                },
            )
            .await
            .map(|q| (q.lead, q.customer, q.deal))
            .expect("qualify");
        let outputs = [
            CommandOutput::Config { version: 2 },
            CommandOutput::Lead {
                lead: Box::new(lead.clone()),
            },
            CommandOutput::Qualified {
                lead: Box::new(l.clone()),
                customer: Box::new(c.clone()),
                deal: Box::new(d.clone()),
            },
            CommandOutput::Deal {
                deal: Box::new(d.clone()),
                lead: Some(Box::new(l)),
            },
            CommandOutput::Customer { customer: Box::new(c) },
            CommandOutput::Deleted { number: 4 },
        ];
        let mut forms: Vec<serde_json::Value> = outputs.iter().map(round_trip).collect();
        let out = engine
            .execute(
                &ann,
                Command::LogActivity(commands::LogActivity {
                    subject: Subject::Lead(lead.id),
                    kind: ActivityKind::Note,
                    summary: "n".into(),
                    body: String::new(),
                    occurred_at: None,
                }),
            )
            .await
            .expect("activity");
        forms.push(round_trip(&out));
        let out = engine
            .execute(
                &ann,
                Command::ScheduleFollowUp(commands::ScheduleFollowUp {
                    subject: Subject::Lead(lead.id),
                    due: NaiveDate::from_ymd_opt(2027, 1, 1).expect("d"),
                    note: "x".into(),
                    assignee: None,
                }),
            )
            .await
            .expect("follow-up");
        forms.push(round_trip(&out));
        let out = engine
            .execute(
                &ann,
                Command::ReceiveCommunication(commands::ReceiveCommunication {
                    communication: InboundCommunication {
                        kind: CommunicationKind::Email,
                        from_email: Some("x@example.com".into()),
                        from_phone: None,
                        summary: String::new(),
                        body: String::new(),
                        received_at: None,
                    },
                }),
            )
            .await
            .expect("communication");
        forms.push(round_trip(&out));
        golden("outputs", &forms);
        // And every event the store recorded.
        for e in engine
            .events_since(&crcm_core::testing::root(), 0, 100)
            .await
            .expect("events")
        {
            let json = round_trip(&e);
            assert!(json["event"]["type"].is_string());
        }
        for h in engine
            .history(&crcm_core::testing::root(), EntityRef::lead(lead.id))
            .await
            .expect("history")
        {
            round_trip(&h);
        }
    });
}

#[test]
fn every_event_variant_round_trips() {
    let lead = LeadId::new();
    let deal = DealId::new();
    let customer = CustomerId::new();
    let user = UserId::new("ann").expect("user");
    let p = Some(phase("b2b", "CALL"));
    let date = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let events = vec![
        DomainEvent::LeadCreated {
            lead,
            number: 1,
            owner: user.clone(),
        },
        DomainEvent::LeadUpdated {
            lead,
            fields: vec!["city".into()],
        },
        DomainEvent::LeadStatusChanged {
            lead,
            from: LeadStatus::New,
            to: LeadStatus::Contacted,
        },
        DomainEvent::PhaseChanged {
            lead,
            from: None,
            to: p,
        },
        DomainEvent::ClosingReasonSet {
            lead,
            reason: code("won"),
        },
        DomainEvent::AccountTypeChanged {
            lead,
            from: code("a"),
            to: code("b"),
        },
        DomainEvent::LeadQualified {
            lead,
            customer,
            customer_created: true,
            deal,
        },
        DomainEvent::LeadConverted { lead, deal },
        DomainEvent::LeadDisqualified {
            lead,
            reason: code("no_fit"),
        },
        DomainEvent::LeadReopened {
            lead,
            status: LeadStatus::Contacted,
        },
        DomainEvent::LeadMerged {
            lead,
            into: LeadId::new(),
        },
        DomainEvent::LeadReassigned {
            lead,
            from: user.clone(),
            to: UserId::new("bob").expect("user"),
        },
        DomainEvent::TeamChanged {
            lead,
            team: vec![user.clone()],
        },
        DomainEvent::LeadDeleted { lead, number: 3 },
        DomainEvent::DocumentLinked {
            subject: Subject::Deal(deal),
            kind: DocumentKind::Order,
            external_id: "SO-1".into(),
        },
        DomainEvent::CustomerCreated { customer },
        DomainEvent::CustomerUpdated { customer },
        DomainEvent::DealCreated {
            deal,
            lead: Some(lead),
            customer,
            pipeline: code("sales"),
            stage: code("prospecting"),
        },
        DomainEvent::DealStageChanged {
            deal,
            from: code("a"),
            to: code("b"),
        },
        DomainEvent::DealWon {
            deal,
            lead: Some(lead),
            customer,
            value: None,
            close_date: date,
        },
        DomainEvent::DealLost {
            deal,
            reason: code("no_fit"),
        },
        DomainEvent::DealReopened { deal },
        DomainEvent::DealUpdated {
            deal,
            fields: vec!["title".into()],
        },
        DomainEvent::ActivityLogged {
            activity: ActivityId::new(),
            subject: Subject::Lead(lead),
            kind: ActivityKind::Call,
        },
        DomainEvent::FollowUpScheduled {
            follow_up: FollowUpId::new(),
            subject: Subject::Lead(lead),
            due: date,
        },
        DomainEvent::FollowUpCompleted {
            follow_up: FollowUpId::new(),
        },
        DomainEvent::CommunicationReceived {
            communication: CommunicationId::new(),
            kind: CommunicationKind::Call,
            lead: None,
        },
        DomainEvent::CommunicationLinked {
            communication: CommunicationId::new(),
            lead,
        },
        DomainEvent::CommunicationIgnored {
            communication: CommunicationId::new(),
        },
        DomainEvent::ConfigChanged { version: 2 },
    ];
    let mut tags = BTreeSet::new();
    let mut forms = Vec::new();
    for e in &events {
        let json = round_trip(e);
        assert_eq!(json["type"], e.name(), "an event's name is its JSON type");
        tags.insert(json["type"].as_str().expect("tag").to_owned());
        forms.push(json);
    }
    golden("events", &forms);
    assert_eq!(
        tags.len(),
        events.len(),
        "one sample per variant, each with its own tag"
    );
    let won = serde_json::to_string(&DomainEvent::DealReopened { deal }).expect("json");
    assert_eq!(
        won,
        format!(r#"{{"type":"deal_reopened","deal":"{}"}}"#, deal.0),
        "stable JSON form"
    );
}

/// A store written by a newer crcm is refused.
#[test]
fn newer_store_formats_are_refused() {
    #[derive(Debug, Default)]
    struct FromTheFuture(MemoryStore);
    #[async_trait::async_trait]
    impl Store for FromTheFuture {
        fn backend(&self) -> &'static str {
            "future"
        }
        async fn format_version(&self) -> Result<u32, error::StoreError> {
            Ok(store::FORMAT_VERSION + 1)
        }
        async fn config(&self) -> Result<Option<(Config, u64)>, error::StoreError> {
            self.0.config().await
        }
        async fn get(&self, e: EntityRef) -> Result<Option<Record>, error::StoreError> {
            self.0.get(e).await
        }
        async fn select(&self, q: &Select, p: &PageRequest) -> Result<Page<Record>, error::StoreError> {
            self.0.select(q, p).await
        }
        async fn board_cells(&self, a: &Code) -> Result<Vec<BoardCell>, error::StoreError> {
            self.0.board_cells(a).await
        }
        async fn tally(&self, t: &Tally) -> Result<Vec<TallyRow>, error::StoreError> {
            self.0.tally(t).await
        }
        async fn history(&self, e: EntityRef) -> Result<Vec<HistoryEntry>, error::StoreError> {
            self.0.history(e).await
        }
        async fn events_since(&self, a: u64, l: usize) -> Result<Vec<EventEnvelope>, error::StoreError> {
            self.0.events_since(a, l).await
        }
        async fn reserve_lead_numbers(&self, n: u64) -> Result<u64, error::StoreError> {
            self.0.reserve_lead_numbers(n).await
        }
        async fn lookup_versions(&self, keys: &[String]) -> Result<Vec<u64>, error::StoreError> {
            self.0.lookup_versions(keys).await
        }
        async fn commit(&self, u: UnitOfWork) -> Result<store::CommitReceipt, error::StoreError> {
            self.0.commit(u).await
        }
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let result = rt.block_on(Engine::open(Arc::new(FromTheFuture::default())));
    match result {
        Err(Error::Store(error::StoreError::FormatTooNew { found, supported })) => {
            assert_eq!((found, supported), (store::FORMAT_VERSION + 1, store::FORMAT_VERSION));
        }
        other => panic!("expected FormatTooNew, got {other:?}"),
    }
}

/// A sum past 2^53 is an exact JSON integer, and reads back exactly.
#[test]
fn large_sums_are_exact_integers_on_the_wire() {
    let usd = Currency::new("USD").expect("usd");
    let sum = MoneySum {
        minor: (1i128 << 60) + 1,
        currency: usd,
    };
    let text = serde_json::to_string(&sum).expect("json");
    assert_eq!(text, r#"{"minor":1152921504606846977,"currency":"USD"}"#);
    let back: MoneySum = serde_json::from_str(&text).expect("read back");
    assert_eq!(back, sum);
    // Inside a tagged response (buffered by serde) too.
    let row = serde_json::json!({"type": "forecast", "rows": [{"pipeline": "sales", "stage": "won", "deals": 1,
        "value": [sum], "weighted": [{"minor": -(1i64 << 62), "currency": "USD"}]}]});
    let response: crcm_core::engine::api::Response = serde_json::from_value(row).expect("a response");
    assert_eq!(
        serde_json::to_value(&response).expect("json")["rows"][0]["value"][0]["minor"],
        serde_json::json!(1152921504606846977u64)
    );
    // Beyond 64 bits: written exactly, refused on reading rather than rounded.
    let huge = MoneySum {
        minor: i128::from(u64::MAX) + 1,
        currency: usd,
    };
    let text = serde_json::to_string(&huge).expect("json");
    assert_eq!(text, r#"{"minor":18446744073709551616,"currency":"USD"}"#);
    let refused = serde_json::from_str::<MoneySum>(&text).expect_err("beyond 64 bits");
    assert!(refused.to_string().contains("never rounded"), "{refused}");
}
