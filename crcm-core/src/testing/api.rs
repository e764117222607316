//! The request API on a backend: every request type, sent as JSON text
//! through [`Engine::handle_json`], answers what the typed call answers; a
//! malformed request gets its code and changes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::domain::entity::EntityRef;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, FollowUpId, LeadId};
use crate::engine::Engine;
use crate::engine::api::{Body, Response};
use crate::engine::board::BoardQuery;
use crate::engine::intake::DuplicateKey;
use crate::engine::query::{CustomerQuery, DealQuery, LeadQuery};
use crate::engine::reports::Interval;
use crate::rules::access::Actor;
use crate::store::{CommunicationFilter, PageRequest};
use crate::testing::{StoreFactory, ann, bob, fixture_engine, maria, root};

/// A client of the JSON entry point that remembers the request types it sent
/// and the first exchange of each (the wire samples).
struct Client {
    engine: Engine,
    sent: BTreeSet<String>,
    exchanges: Vec<Value>,
    /// Whether a refused request's exchange is among them.
    refusal: bool,
}

/// The wire samples: the first request of each type the case sends, and its
/// answer, as JSON text (`CRCM_BLESS=1` on the in-memory store rewrites it).
const WIRE_SAMPLES: &str = include_str!("../../tests/golden/wire.json");
const WIRE_SAMPLES_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/wire.json");

impl Client {
    /// Sends `body` (a JSON object with its `type`) as `actor`, as text, and
    /// returns the whole envelope.
    async fn envelope(&mut self, actor: &Actor, mut body: Value) -> Value {
        let name = body["type"].as_str().unwrap_or_default().to_owned();
        body["actor"] = serde_json::to_value(actor).unwrap_or_default();
        body["wire"] = json!(crate::engine::api::WIRE_VERSION);
        let text = serde_json::to_string(&body).unwrap_or_default();
        let answer = self.engine.handle_json(&text).await;
        let envelope: Value =
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer}"));
        assert_eq!(envelope["wire"], 1, "{envelope}");
        let first_refusal = envelope.get("error").is_some() && !self.refusal;
        if self.sent.insert(name) || first_refusal {
            self.refusal |= first_refusal;
            self.exchanges.push(json!({"request": body, "answer": envelope}));
        }
        envelope
    }

    /// Sends `body` and returns the response (`ok`), failing on an error.
    async fn ok(&mut self, actor: &Actor, body: Value) -> Value {
        let shown = body.to_string();
        let envelope = self.envelope(actor, body).await;
        assert!(envelope.get("error").is_none(), "{shown} was refused: {envelope}");
        envelope["ok"].clone()
    }

    /// Sends a command and returns its output.
    async fn run(&mut self, actor: &Actor, body: Value) -> Value {
        let ok = self.ok(actor, body).await;
        assert_eq!(ok["type"], "executed", "{ok}");
        ok["output"].clone()
    }

    /// Sends a read and checks it answers what the typed call answered.
    async fn read(&mut self, actor: &Actor, body: Value, typed: Response) {
        let shown = body.to_string();
        let ok = self.ok(actor, body).await;
        let expected = serde_json::to_value(&typed).unwrap_or_default();
        assert_eq!(ok, expected, "{shown}: the JSON answer differs from the typed call's");
    }
}

fn id<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{value} is not an id: {e}"))
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// The fixed time of the case (boards and reports read the clock), with
/// nanoseconds that crcm's microsecond precision drops.
fn at() -> DateTime<Utc> {
    Utc.timestamp_opt(1_772_443_800, 123_456_789)
        .single()
        .unwrap_or_else(|| panic!("a fixed time"))
}

macro_rules! typed {
    ($call:expr) => {
        $call.await.unwrap_or_else(|e| panic!("{}: {e}", stringify!($call)))
    };
}

/// Every request type, sent as JSON text, answers as its typed call; the
/// case fails when a type is added to [`Body`] and not sent here.
pub async fn every_request_type_answers_over_json(factory: Arc<dyn StoreFactory>) {
    let _ids = crate::testing::ScriptedIds::start(1);
    let engine = fixture_engine(&*factory).await.with_clock(Arc::new(at));
    let e = engine.clone();
    let mut c = Client {
        engine,
        sent: BTreeSet::new(),
        exchanges: Vec::new(),
        refusal: false,
    };
    let (ann, bob, maria, root) = (ann(), bob(), maria(), root());

    // The configuration: read it, and store it again unchanged.
    let (config, version) = typed!(e.config());
    c.read(
        &ann,
        json!({"type": "get_config"}),
        Response::Config {
            config: Box::new(config.clone()),
            version,
        },
    )
    .await;
    let out = c
        .run(
            &maria,
            json!({"type": "set_config", "config": config, "expected_version": version}),
        )
        .await;
    assert_eq!(out, json!({"type": "config", "version": version + 1}));

    // Leads.
    let ada = c
        .run(
            &ann,
            json!({"type": "create_lead", "lead": {
                "first_name": "Ada", "last_name": "Lovelace", "company": "Acme",
                "email": "ada@acme.example", "phone": "+1 212 555 0100", "account_type": "b2b",
                "expected_revenue": {"minor": 500000, "currency": "USD"}, "tags": ["exhibition"]
            }}),
        )
        .await;
    let ada_id: LeadId = id(&ada["lead"]["id"]);
    assert_eq!(
        ada["lead"]["created_at"], "2026-03-02T09:30:00.123456Z",
        "times have microseconds, whatever the clock gives"
    );
    let twin = c
        .run(
            &ann,
            json!({"type": "create_lead", "lead": {
                "first_name": "Ada", "last_name": "L.", "company": "Acme Corp",
                "email": "ADA@acme.example", "account_type": "b2b"
            }}),
        )
        .await;
    let twin_id: LeadId = id(&twin["lead"]["id"]);
    let ben = c
        .run(
            &bob,
            json!({"type": "create_lead", "lead": {"first_name": "Ben", "company": "Beta", "account_type": "b2b"}}),
        )
        .await;
    let ben_id: LeadId = id(&ben["lead"]["id"]);
    let cy = c
        .run(
            &bob,
            json!({"type": "create_lead", "lead": {"first_name": "Cy", "company": "Gamma", "account_type": "b2b"}}),
        )
        .await;
    let cy_id: LeadId = id(&cy["lead"]["id"]);

    let out = c
        .run(
            &ann,
            json!({"type": "update_lead", "lead": ada_id, "patch": {"job_title": "CTO", "add_tags": ["follow-up"]}}),
        )
        .await;
    assert_eq!(out["lead"]["job_title"], "CTO");
    let out = c
        .run(
            &ann,
            json!({"type": "set_lead_status", "lead": ada_id, "status": "contacted"}),
        )
        .await;
    assert_eq!(out["lead"]["status"], "contacted");
    let out = c
        .run(
            &ann,
            json!({"type": "move_lead_phase", "lead": ada_id, "phase": {"account_type": "b2b", "code": "MEETING"}}),
        )
        .await;
    assert_eq!(out["lead"]["phase"]["code"], "MEETING");
    c.run(
        &ann,
        json!({"type": "link_lead_document", "lead": ada_id, "kind": "order", "external_id": "SO-1"}),
    )
    .await;
    c.run(&ann, json!({"type": "set_lead_team", "lead": ada_id, "team": ["bob"]}))
        .await;
    c.run(
        &bob,
        json!({"type": "change_account_type", "lead": cy_id, "account_type": "b2c",
               "phase": {"account_type": "b2c", "code": "INTRO"}}),
    )
    .await;
    let out = c
        .run(
            &bob,
            json!({"type": "move_lead_phase", "lead": cy_id, "phase": {"account_type": "b2c", "code": "CLOSED"}}),
        )
        .await;
    assert_eq!(out["lead"]["phase"]["code"], "CLOSED");
    c.run(
        &bob,
        json!({"type": "set_closing_reason", "lead": cy_id, "reason": "other", "note": "moved abroad"}),
    )
    .await;
    c.run(&maria, json!({"type": "reassign_lead", "lead": ben_id, "owner": "ann"}))
        .await;
    c.run(
        &ann,
        json!({"type": "disqualify_lead", "lead": ben_id, "reason": "no_fit"}),
    )
    .await;
    let out = c.run(&ann, json!({"type": "reopen_lead", "lead": ben_id})).await;
    assert_eq!(out["lead"]["status"], "new");

    // Reads of leads, before the twin is merged away.
    let twin_lead = typed!(e.lead(&crate::testing::root(), twin_id));
    c.read(
        &ann,
        json!({"type": "duplicates", "lead": twin_id}),
        Response::Leads {
            leads: typed!(e.duplicates(&ann, twin_id)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "duplicates", "lead": twin_id, "keys": ["email"]}),
        Response::Leads {
            leads: typed!(e.duplicates_by(&ann, twin_id, &[DuplicateKey::Email])),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "duplicate_groups", "key": "email"}),
        Response::DuplicateGroups {
            groups: typed!(e.duplicate_groups(&ann, DuplicateKey::Email)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "get_lead", "id": twin_id}),
        Response::Lead {
            lead: Box::new(twin_lead.clone()),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "get_lead_by_number", "number": twin_lead.number}),
        Response::Lead {
            lead: Box::new(twin_lead),
        },
    )
    .await;
    let out = c
        .run(&ann, json!({"type": "merge_lead", "lead": twin_id, "into": ada_id}))
        .await;
    assert_eq!(
        (out["lead"]["status"].clone(), out["lead"]["merged_into"].clone()),
        (json!("merged"), json!(ada_id))
    );

    // Qualify, deals.
    let out = c
        .run(
            &ann,
            json!({"type": "qualify_lead", "lead": ada_id, "customer": {"type": "create"},
                   "deal": {"title": "Acme rollout"}}),
        )
        .await;
    assert_eq!(out["type"], "qualified", "{out}");
    let customer_id: CustomerId = id(&out["customer"]["id"]);
    let deal_id: DealId = id(&out["deal"]["id"]);
    let out = c
        .run(
            &ann,
            json!({"type": "open_deal", "lead": ada_id, "pipeline": "renewals", "deal": {"title": "Acme renewal"}}),
        )
        .await;
    let renewal_id: DealId = id(&out["deal"]["id"]);
    c.run(
        &ann,
        json!({"type": "move_deal_stage", "deal": deal_id, "stage": "proposal"}),
    )
    .await;
    c.run(
        &ann,
        json!({"type": "set_deal_probability", "deal": deal_id, "probability": 60}),
    )
    .await;
    c.run(
        &ann,
        json!({"type": "update_deal", "deal": deal_id, "patch": {"value": {"minor": 750000, "currency": "USD"}}}),
    )
    .await;
    c.run(
        &ann,
        json!({"type": "link_deal_document", "deal": deal_id, "kind": "quotation", "external_id": "Q-7"}),
    )
    .await;
    c.run(
        &ann,
        json!({"type": "lose_deal", "deal": renewal_id, "reason": "no_budget"}),
    )
    .await;
    c.run(&ann, json!({"type": "reopen_deal", "deal": renewal_id})).await;
    let out = c.run(&ann, json!({"type": "win_deal", "deal": deal_id})).await;
    assert_eq!(out["lead"]["status"], "converted", "{out}");

    // Customers.
    let out = c
        .run(
            &bob,
            json!({"type": "create_customer", "customer": {"name": "Globex", "phone": "+1 212 555 0147"}}),
        )
        .await;
    let globex_id: CustomerId = id(&out["customer"]["id"]);
    c.run(
        &bob,
        json!({"type": "add_contact", "customer": globex_id, "contact": {"name": "Hank Scorpio", "job_title": "CEO"}}),
    )
    .await;

    // Timeline.
    let out = c
        .run(
            &ann,
            json!({"type": "log_activity", "subject": {"type": "lead", "id": ada_id}, "kind": "call",
                   "summary": "Kick-off call"}),
        )
        .await;
    assert_eq!(out["type"], "activity");
    let out = c
        .run(
            &ann,
            json!({"type": "schedule_follow_up", "subject": {"type": "deal", "id": deal_id},
                   "due": "2026-03-09", "note": "Send the invoice"}),
        )
        .await;
    let follow_up: FollowUpId = id(&out["follow_up"]["id"]);
    c.run(&ann, json!({"type": "complete_follow_up", "follow_up": follow_up}))
        .await;

    // Inbound communications.
    let mut received = Vec::new();
    for from in ["+1 212 555 0100", "+1 415 555 0199", "+1 646 555 0123"] {
        let out = c
            .run(
                &bob,
                json!({"type": "receive_communication", "communication": {"kind": "call", "from_phone": from,
                       "summary": "Called about pricing"}}),
            )
            .await;
        received.push(id::<CommunicationId>(&out["communication"]["id"]));
    }
    let [known, stranger, spam] = received[..] else {
        panic!("three communications")
    };
    c.read(
        &bob,
        json!({"type": "communication_matches", "communication": stranger}),
        Response::CommunicationMatches {
            matches: typed!(e.communication_matches(&bob, stranger)),
        },
    )
    .await;
    c.run(
        &ann,
        json!({"type": "attach_communication", "communication": known, "lead": ben_id}),
    )
    .await;
    let out = c
        .run(
            &bob,
            json!({"type": "create_lead_from_communication", "communication": stranger,
                   "lead": {"first_name": "Dee", "company": "Delta", "account_type": "b2b"}}),
        )
        .await;
    let dee_id: LeadId = id(&out["lead"]["id"]);
    c.run(&bob, json!({"type": "ignore_communication", "communication": spam}))
        .await;

    // Bulk, import, export, delete.
    let out = c
        .ok(
            &maria,
            json!({"type": "bulk", "target": {"type": "leads", "ids": [ben_id, dee_id]},
                   "action": {"type": "tag", "tags": ["exhibition"]}}),
        )
        .await;
    assert_eq!(
        (out["type"].clone(), out["report"]["applied"].clone()),
        (json!("bulk"), json!(2))
    );
    let out = c
        .ok(
            &ann,
            json!({"type": "import", "source": {"text": "contact_name,phone,source,account_type\nEve Example,+1 212 555 0111,web_form,b2b\nFay Example,+1 212 555 0112,web_form,b2b\n"},
                   "options": {"mode": "skip_invalid", "mapping": {"required": ["contact_name"]},
                               "id": "0194a1b2-0000-7000-8000-000000000001"}}),
        )
        .await;
    assert_eq!(out["report"]["imported"], 2, "{out}");
    let export_query = LeadQuery {
        search: Some("example".into()),
        ..LeadQuery::default()
    };
    let mut csv = Vec::new();
    let written = typed!(e.export_leads(&ann, &export_query, &mut csv));
    c.read(
        &ann,
        json!({"type": "export", "query": export_query}),
        Response::Export {
            written,
            csv: Some(String::from_utf8(csv).unwrap_or_default()),
        },
    )
    .await;
    let out = c
        .ok(
            &ann,
            json!({"type": "import", "source": {"text": "contact_name,source,account_type\nHal Example,web_form,b2b\n"},
                   "options": {"mode": "skip_invalid", "mapping": {"required": ["contact_name"]},
                               "id": "0194a1b2-0000-7000-8000-000000000002"}}),
        )
        .await;
    assert_eq!(out["report"]["imported"], 1, "{out}");
    let out = c
        .ok(
            &root,
            json!({"type": "revert_import", "id": "0194a1b2-0000-7000-8000-000000000002"}),
        )
        .await;
    assert_eq!(
        (
            out["type"].clone(),
            out["report"]["removed"].clone(),
            out["report"]["kept"].clone()
        ),
        (json!("revert_import"), json!(1), json!(0)),
        "{out}"
    );
    let doomed = c
        .run(
            &root,
            json!({"type": "create_lead", "lead": {"first_name": "Gil", "company": "Gone", "account_type": "b2b"}}),
        )
        .await;
    let out = c
        .run(&root, json!({"type": "delete_lead", "lead": doomed["lead"]["id"]}))
        .await;
    assert_eq!(out["number"], doomed["lead"]["number"]);

    // Every other read, against its typed call.
    let page = PageRequest::default();
    let deal = typed!(e.deal(&ann, deal_id));
    c.read(
        &ann,
        json!({"type": "get_deal", "id": deal_id}),
        Response::Deal { deal: Box::new(deal) },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "get_customer", "id": customer_id}),
        Response::Customer {
            customer: Box::new(typed!(e.customer(&ann, customer_id))),
        },
    )
    .await;
    let mut leads = LeadQuery {
        open: Some(true),
        search: Some("ada".into()),
        sort: crate::engine::query::LeadSort::Updated,
        descending: true,
        ..LeadQuery::default()
    };
    leads.filter.account_type = Some(code("b2b"));
    c.read(
        &ann,
        json!({"type": "list_leads", "query": leads}),
        Response::LeadPage {
            page: typed!(e.leads(&ann, &leads)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "list_leads"}),
        Response::LeadPage {
            page: typed!(e.leads(&ann, &LeadQuery::default())),
        },
    )
    .await;
    let customers = CustomerQuery {
        search: Some("globex".into()),
        ..CustomerQuery::default()
    };
    c.read(
        &ann,
        json!({"type": "list_customers", "query": customers}),
        Response::CustomerPage {
            page: typed!(e.customers(&ann, &customers)),
        },
    )
    .await;
    let deals = DealQuery {
        search: Some("acme".into()),
        ..DealQuery::default()
    };
    c.read(
        &ann,
        json!({"type": "list_deals", "query": deals}),
        Response::DealPage {
            page: typed!(e.deals(&ann, &deals)),
        },
    )
    .await;
    let filter = CommunicationFilter::default();
    c.read(
        &ann,
        json!({"type": "list_communications"}),
        Response::CommunicationPage {
            page: typed!(e.communications(&ann, &filter, &page)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "deals_of_lead", "lead": ada_id}),
        Response::Deals {
            deals: typed!(e.deals_of_lead(&ann, ada_id)),
        },
    )
    .await;
    let board = BoardQuery::new(code("b2b"));
    c.read(
        &ann,
        json!({"type": "board", "query": board}),
        Response::Board {
            board: typed!(e.board(&ann, &board)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "deal_board", "pipeline": "sales", "owner": "ann"}),
        Response::DealBoard {
            board: typed!(e.deal_board(&ann, &code("sales"), Some(&ann.user))),
        },
    )
    .await;
    let interval = Interval::days(at() - chrono::TimeDelta::days(30), 60);
    c.read(
        &maria,
        json!({"type": "report_sources", "interval": interval}),
        Response::Sources {
            rows: typed!(e.report_sources(&maria, &interval)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_funnel", "account_type": "b2b", "interval": interval}),
        Response::Funnel {
            funnel: typed!(e.report_funnel(&maria, &code("b2b"), &interval)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_time_in_phase", "account_type": "b2b"}),
        Response::TimeInPhase {
            rows: typed!(e.report_time_in_phase(&maria, &code("b2b"), &Interval::default())),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_reasons", "interval": interval}),
        Response::Reasons {
            rows: typed!(e.report_reasons(&maria, &interval)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_trend", "period": "week"}),
        Response::Trend {
            rows: typed!(e.report_trend(&maria, &Interval::default(), crate::engine::reports::TrendPeriod::Week)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_workload"}),
        Response::Workload {
            rows: typed!(e.report_workload(&maria)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_stuck", "days": 0}),
        Response::LeadPage {
            page: typed!(e.report_stuck(&maria, 0, &page)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_data_quality"}),
        Response::DataQuality {
            report: typed!(e.report_data_quality(&maria)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "report_forecast", "pipeline": "sales"}),
        Response::Forecast {
            rows: typed!(e.report_forecast(&maria, Some(&code("sales")))),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "history", "entity": {"type": "deal", "id": deal_id}}),
        Response::History {
            entries: typed!(e.history(&ann, EntityRef::deal(deal_id))),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "lead_history", "lead": ada_id}),
        Response::History {
            entries: typed!(e.lead_history(&ann, ada_id)),
        },
    )
    .await;
    let subject = crate::domain::activity::Subject::Lead(ada_id);
    c.read(
        &ann,
        json!({"type": "activities", "subject": {"type": "lead", "id": ada_id}}),
        Response::Activities {
            activities: typed!(e.activities(&ann, subject)),
        },
    )
    .await;
    let subject = crate::domain::activity::Subject::Deal(deal_id);
    c.read(
        &ann,
        json!({"type": "follow_ups", "subject": {"type": "deal", "id": deal_id}}),
        Response::FollowUps {
            follow_ups: typed!(e.follow_ups(&ann, subject)),
        },
    )
    .await;
    c.read(
        &ann,
        json!({"type": "communications_of_lead", "lead": ben_id}),
        Response::Communications {
            communications: typed!(e.communications_of(&ann, ben_id)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "customer_candidates", "lead": dee_id}),
        Response::Customers {
            customers: typed!(e.customer_candidates(&maria, dee_id)),
        },
    )
    .await;
    c.read(
        &maria,
        json!({"type": "events_since", "cursor": 3, "limit": 20}),
        Response::Events {
            events: typed!(e.events_since(&maria, 3, 20)),
        },
    )
    .await;

    // A lead out of a stranger's sight is not found, as if it did not exist.
    let stranger = Actor::new(crate::user_id!("zed"), crate::rules::access::Role::SalesPerson);
    let refused = c.envelope(&stranger, json!({"type": "get_lead", "id": ada_id})).await;
    assert_eq!(refused["error"]["name"], "not_found", "{refused}");

    let sent: BTreeSet<&str> = c.sent.iter().map(String::as_str).collect();
    let all: BTreeSet<&str> = Body::NAMES.iter().copied().collect();
    let missing: Vec<_> = all.difference(&sent).collect();
    assert!(missing.is_empty(), "request types never sent: {missing:?}");
    same_as_the_samples(&c.exchanges, e.store().backend());
    eprintln!(
        "every request type over JSON on {}: {} types sent, each answered as its typed call",
        e.store().backend(),
        sent.len()
    );
}

/// A malformed request gets its code, and the store is as it was.
pub async fn malformed_requests_get_their_code(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead =
        crate::testing::conformance::create(&engine, &ann(), crate::testing::conformance::b2b("Ada", "Acme")).await;
    let actor = r#""actor": {"user": "ann", "role": "sales_person"}"#;
    let id = lead.id.0;
    let bea =
        crate::testing::conformance::create(&engine, &ann(), crate::testing::conformance::b2b("Bea", "Beta")).await;
    // Lead 1's number with lead 2's id: not a cursor crcm wrote.
    // The cursor of the first page of leads by number, one a page.
    let first = LeadQuery {
        page: PageRequest::first(1),
        ..LeadQuery::default()
    };
    let cursor = engine
        .leads(&crate::testing::root(), &first)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .next;
    let cursor = cursor.unwrap_or_else(|| panic!("two leads, one a page: a next page"));
    // The same binding at lead 1's number with lead 2's id: not a cursor crcm wrote.
    let forged_cursor = cursor.at(i64::try_from(lead.number).unwrap_or_default(), bea.id.0);
    let before = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default();
    let huge = format!(
        r#"{{{actor}, "type": "create_lead", "lead": {{"description": "{}"}}}}"#,
        "x".repeat(10_000_000)
    );
    // The fixture configuration with a misspelt setting.
    let mut config_typo = serde_json::to_value(crate::testing::fixture_config()).unwrap_or_default();
    config_typo["settings"]["visibilty"] = json!("all");
    let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
        (
            "unknown type",
            format!(r#"{{{actor}, "type": "launch_rocket"}}"#),
            "malformed_request",
            Some("type"),
        ),
        (
            "unknown field",
            format!(r#"{{{actor}, "type": "get_lead", "id": "{id}", "ownr": "ann"}}"#),
            "malformed_request",
            Some("ownr"),
        ),
        (
            "a typo in a filter",
            format!(r#"{{{actor}, "type": "list_leads", "query": {{"filter": {{"ownr": "ann"}}}}}}"#),
            "malformed_request",
            Some("query.filter.ownr"),
        ),
        (
            "a typo in a patch",
            format!(r#"{{{actor}, "type": "update_lead", "lead": "{id}", "patch": {{"titel": "CEO"}}}}"#),
            "malformed_request",
            Some("patch.titel"),
        ),
        (
            "a typo in a configuration",
            format!(r#"{{{actor}, "type": "set_config", "config": {config_typo}}}"#),
            "malformed_request",
            Some("config.settings.visibilty"),
        ),
        (
            "bad user",
            r#"{"actor": {"user": "", "role": "admin"}, "type": "get_config"}"#.to_owned(),
            "invalid_user_id",
            Some("actor.user"),
        ),
        (
            "bad currency",
            format!(
                r#"{{{actor}, "type": "update_lead", "lead": "{id}", "patch": {{"expected_revenue": {{"minor": 5, "currency": "XAU"}}}}}}"#
            ),
            "invalid_currency",
            Some("patch.expected_revenue.currency"),
        ),
        (
            "wrong type",
            format!(r#"{{{actor}, "type": "get_lead_by_number", "number": "seven"}}"#),
            "malformed_request",
            Some("number"),
        ),
        (
            "bad code",
            format!(r#"{{{actor}, "type": "report_funnel", "account_type": "b 2 b"}}"#),
            "invalid_code",
            Some("account_type"),
        ),
        (
            "bad id",
            format!(r#"{{{actor}, "type": "get_lead", "id": "not-a-uuid"}}"#),
            "invalid_id",
            Some("id"),
        ),
        (
            "bad phone",
            format!(r#"{{{actor}, "type": "update_lead", "lead": "{id}", "patch": {{"phone": "call me"}}}}"#),
            "invalid_phone",
            None,
        ),
        (
            "probability 300",
            format!(r#"{{{actor}, "type": "update_lead", "lead": "{id}", "patch": {{"probability": 300}}}}"#),
            "probability_out_of_range",
            Some("patch.probability"),
        ),
        (
            "bad cursor",
            format!(r#"{{{actor}, "type": "list_leads", "query": {{"page": {{"after": "seven"}}}}}}"#),
            "bad_cursor",
            Some("query.page.after"),
        ),
        (
            "cursor from another query (another sort)",
            format!(
                r#"{{{actor}, "type": "list_leads", "query": {{"sort": "created", "page": {{"after": "{cursor}"}}}}}}"#
            ),
            "bad_cursor",
            None,
        ),
        (
            "cursor from another query (another filter)",
            format!(r#"{{{actor}, "type": "list_leads", "query": {{"open": true, "page": {{"after": "{cursor}"}}}}}}"#),
            "bad_cursor",
            None,
        ),
        (
            "lead cursor for customers",
            format!(r#"{{{actor}, "type": "list_customers", "query": {{"page": {{"after": "{cursor}"}}}}}}"#),
            "bad_cursor",
            None,
        ),
        (
            "cursor in the old readable form",
            format!(
                r#"{{{actor}, "type": "list_leads", "query": {{"page": {{"after": "1~{}"}}}}}}"#,
                bea.id.0.simple()
            ),
            "bad_cursor",
            Some("query.page.after"),
        ),
        (
            "forged cursor",
            format!(
                r#"{{{actor}, "type": "list_leads", "query": {{"sort": "number", "page": {{"after": "{forged_cursor}"}}}}}}"#
            ),
            "bad_cursor",
            None,
        ),
        (
            "truncated JSON",
            format!(r#"{{{actor}, "type": "get_lead", "id": "#),
            "malformed_request",
            Some("."),
        ),
        ("10 MB of JSON", huge, "request_too_large", None),
        (
            "NUL bytes",
            format!("{{{actor}, \"type\": \"get_config\"}}\0\0"),
            "malformed_request",
            Some("."),
        ),
        ("not an object", "[1, 2, 3]".to_owned(), "malformed_request", Some(".")),
        (
            "no actor",
            r#"{"type": "get_config"}"#.to_owned(),
            "malformed_request",
            Some("actor"),
        ),
        (
            "another wire version",
            format!(r#"{{"wire": 2, {actor}, "type": "get_config"}}"#),
            "unsupported_wire_version",
            None,
        ),
    ];
    let own = format!(r#"{{{actor}, "type": "list_leads", "query": {{"page": {{"limit": 1, "after": "{cursor}"}}}}}}"#);
    let answer: Value = serde_json::from_str(&engine.handle_json(&own).await).unwrap_or_default();
    assert_eq!(
        answer["ok"]["page"]["items"][0]["number"], bea.number,
        "the cursor continues its own query: {answer}"
    );
    for (what, text, name, path) in cases {
        let answer = engine.handle_json(&text).await;
        let envelope: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
        let error = &envelope["error"];
        assert_eq!(error["name"], name, "{what}: {answer}");
        if let Some(path) = path {
            assert_eq!(error["details"]["path"], path, "{what}: {answer}");
        }
        let code = error["code"].as_u64().unwrap_or_default();
        assert!((1000..9000).contains(&code), "{what}: code {code}");
    }
    // Bytes that are not UTF-8.
    let answer = engine
        .handle_json_bytes(b"{\"type\": \"get_config\", \"x\": \"\xff\xfe\"}")
        .await;
    assert!(answer.contains("\"malformed_request\""), "{answer}");
    let after = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(after, before, "a malformed request changed the store");
    for lead in [lead, bea] {
        let unchanged = engine
            .lead(&crate::testing::root(), lead.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unchanged, lead);
    }
}

/// The exchanges equal the wire samples, request and answer, byte for byte
/// once pretty-printed: every backend answers the same JSON.
fn same_as_the_samples(exchanges: &[Value], backend: &str) {
    let text = serde_json::to_string_pretty(exchanges).unwrap_or_default() + "\n";
    if std::env::var_os("CRCM_BLESS").is_some() && backend == "memory" {
        std::fs::write(WIRE_SAMPLES_PATH, &text).unwrap_or_else(|e| panic!("{WIRE_SAMPLES_PATH}: {e}"));
        return;
    }
    let samples: Vec<Value> = serde_json::from_str(WIRE_SAMPLES).unwrap_or_default();
    for (i, (got, sample)) in exchanges.iter().zip(&samples).enumerate() {
        assert_eq!(
            got, sample,
            "exchange {i} on {backend} differs from tests/golden/wire.json (CRCM_BLESS=1 on the memory store rewrites it)"
        );
    }
    assert_eq!(
        exchanges.len(),
        samples.len(),
        "as many exchanges as samples on {backend}"
    );
}
