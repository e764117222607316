//! The query property: for random data and random queries, a backend returns
//! the same records, in the same order, page after page (cursors and totals
//! included), as the reference semantics of [`crate::store::query`].
//!
//! The data and the queries come from one seed, printed with every failure;
//! `CRCM_QUERY_SEED=<seed>` replays it, `CRCM_QUERY_CASES=<n>` sets the number
//! of queries (default 150).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::conformance::{b2b, code, usd};
use super::{StoreFactory, ann, bob, fixture_config, maria, phase};
use crate::domain::config::{Config, Outcome, PhaseRef, PhaseType};
use crate::domain::custom::CustomValue;
use crate::domain::entity::EntityRef;
use crate::domain::event::DomainEvent;
use crate::domain::ids::LeadId;
use crate::domain::input::{CustomerChoice, DealDraft, NewCustomer};
use crate::domain::lead::{Lead, LeadStatus};
use crate::engine::board::BoardQuery;
use crate::engine::bulk::{BulkAction, BulkOutcome, BulkTarget};
use crate::engine::intake::DuplicateKey;
use crate::engine::query::{LeadQuery, LeadSort};
use crate::engine::reports::Interval;
use crate::engine::{Engine, commands};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::store::query::{
    CommunicationFilter, CustomerFilter, DateRange, DealFilter, DealKey, DealOrder, LeadField, PageRequest, Select,
    TimeRange,
};
use crate::store::record::Record;
use crate::store::steps::PhaseStep;
use crate::store::tally::{DealGroup, DealTally, LeadGroup, LeadTally, Tally, board_cells_of};
use crate::store::tally::{PhaseReachTally, PhaseTimeTally};
use crate::store::{Store, StoreExt};

/// A small deterministic generator (splitmix64): the same seed gives the
/// same data and queries on every backend.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    fn maybe<T: Clone>(&mut self, percent: u64, items: &[T]) -> Option<T> {
        self.chance(percent).then(|| self.pick(items).clone())
    }
}

const FIRST: [&str; 14] = [
    "Ann",
    "Ñúñez",
    "Café",
    "straße",
    "i\u{307}stanbul",
    "José",
    "Zoë",
    "Åsa",
    "北京",
    "Дмитрий",
    "O'Brien",
    "50%",
    "a_b",
    "Jo",
];
const COMPANY: [&str; 7] = [
    "Acme",
    "Acme Labs",
    "Beta & Co",
    "'; DROP TABLE crcm_leads; --",
    "ÜberTech",
    "株式会社 Sakura",
    "",
];
const PHONES: [&str; 5] = [
    "+1 212 555 0101",
    "(212) 555-0102",
    "212.555.0103",
    "+44 20 7946 0958",
    "+1 212 555 0101",
];
const EMAILS: [&str; 4] = [
    "ann@acme.example",
    "JOSE@beta.example",
    "zoe@uber.example",
    "ann@acme.example",
];
const ZONES: [&str; 3] = ["north", "south", "Zürich"];
const SEARCHES: [&str; 23] = [
    "acme",
    "nunez",
    "cafe",
    "obrien",
    "strasse",
    "istanbul",
    "ÜBER",
    "ac",
    "jo",
    "JOSÉ",
    "zoë åsa",
    "北京",
    "дми",
    "o'brien",
    "50%",
    "a_b",
    "'; DROP TABLE crcm_leads; --",
    "%",
    "212-555-0101",
    "+44 20 7946 0958",
    "ann@acme.example",
    "Jose@Beta.Example",
    "ann@acme.exam",
];

fn seed() -> u64 {
    std::env::var("CRCM_QUERY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        })
}

fn cases() -> usize {
    std::env::var("CRCM_QUERY_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150)
}

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default() + Duration::days(n)
}

/// Builds the random world: leads of two owners with tricky names, shared
/// contacts, phase moves, disqualifications, qualifications (customers and
/// deals), all at random times.
async fn world(engine: &Engine, rng: &mut Rng, clock: &AtomicI64, leads: usize) -> usize {
    let mut applied = 0;
    let mut ids = Vec::new();
    let sources = ["web_form", "referral", "cold_call"];
    let priorities = ["urgent", "high", "low"];
    for _ in 0..leads {
        clock.fetch_add(
            i64::try_from(rng.below(3)).unwrap_or(0) * 86_400_000_000,
            Ordering::SeqCst,
        );
        let mut input = b2b(rng.word(&FIRST), rng.word(&COMPANY));
        input.last_name = format!("N{}", rng.below(5));
        input.email = rng.maybe(60, &EMAILS).map(str::to_owned);
        input.phone = rng.maybe(60, &PHONES).map(str::to_owned);
        input.zone = (*rng.pick(&ZONES)).to_owned();
        input.source = rng.maybe(80, &sources).map(code);
        input.priority = rng.maybe(70, &priorities).map(code);
        input.description = if rng.chance(50) {
            "Call back".into()
        } else {
            String::new()
        };
        input.expected_close = rng.chance(60).then(|| day(i64::try_from(rng.below(120)).unwrap_or(0)));
        input.expected_revenue = rng
            .chance(60)
            .then(|| usd(i64::try_from(rng.below(5) * 100_000).unwrap_or(0)));
        if rng.chance(30) {
            input.tags.insert(code("exhibition"));
        }
        if rng.chance(30) {
            input.tags.insert(code("follow-up"));
        }
        if rng.chance(30) {
            input.custom.insert(code("segment"), CustomValue::Choice("smb".into()));
        }
        if rng.chance(25) {
            input.account_type = Some(code("b2c"));
        }
        let actor = if rng.chance(50) { ann() } else { bob() };
        match engine.run(&actor, commands::CreateLead { lead: input }).await {
            Ok(lead) => {
                applied += 1;
                ids.push(lead.id);
            }
            Err(e) => panic!("a random lead must be accepted: {e}"),
        }
    }
    for _ in 0..leads {
        clock.fetch_add(
            i64::try_from(rng.below(4)).unwrap_or(0) * 86_400_000_000,
            Ordering::SeqCst,
        );
        let lead = *rng.pick(&ids);
        let done = match rng.below(5) {
            0 | 1 => engine
                .run(
                    &maria(),
                    commands::MoveLeadPhase {
                        lead,
                        phase: phase("b2b", if rng.chance(50) { "MEETING" } else { "QUOTE" }),
                        closing_reason: None,
                        note: None,
                    },
                )
                .await
                .is_ok(),
            2 => engine
                .run(
                    &maria(),
                    commands::DisqualifyLead {
                        lead,
                        reason: code(if rng.chance(50) { "no_fit" } else { "no_budget" }),
                        note: None,
                    },
                )
                .await
                .is_ok(),
            3 => engine
                .run(
                    &maria(),
                    commands::QualifyLead {
                        lead,
                        customer: CustomerChoice::Create,
                        deal: DealDraft::default(),
                    },
                )
                .await
                .is_ok(),
            _ => engine
                .run(
                    &maria(),
                    commands::ReassignLead {
                        lead,
                        owner: if rng.chance(50) { ann().user } else { bob().user },
                    },
                )
                .await
                .is_ok(),
        };
        applied += usize::from(done);
    }
    // Inbound calls and e-mails: some link to their one open lead, some stay new.
    for _ in 0..4 {
        let (email, phone) = if rng.chance(50) {
            (rng.maybe(100, &EMAILS).map(str::to_owned), None)
        } else {
            (None, rng.maybe(100, &PHONES).map(str::to_owned))
        };
        let communication = crate::domain::input::InboundCommunication {
            kind: crate::domain::activity::CommunicationKind::Call,
            from_email: email,
            from_phone: phone,
            summary: "Inbound".into(),
            body: String::new(),
            received_at: None,
        };
        clock.fetch_add(3_600_000_000, Ordering::SeqCst);
        if engine
            .run(&maria(), commands::ReceiveCommunication { communication })
            .await
            .is_ok()
        {
            applied += 1;
        }
    }
    for name in ["Acme Holding", "Zoë's Shop"] {
        let customer = NewCustomer {
            name: name.into(),
            ..NewCustomer::default()
        };
        if engine
            .run(&maria(), commands::CreateCustomer { customer })
            .await
            .is_ok()
        {
            applied += 1;
        }
    }
    applied
}

/// `n` different words.
fn words_text(n: usize) -> String {
    (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")
}

/// A random engine-level lead query.
fn lead_query(rng: &mut Rng, owners: &[Actor], customers: &[crate::domain::ids::CustomerId]) -> LeadQuery {
    let mut q = LeadQuery::default();
    let f = &mut q.filter;
    if rng.chance(20) {
        let n = 1 + rng.below(2);
        f.statuses = Some((0..n).map(|_| *rng.pick(&LeadStatus::ALL)).collect());
    }
    if rng.chance(25) {
        f.owner = Some(rng.pick(owners).user.clone());
    }
    if rng.chance(15) {
        f.account_type = Some(code(if rng.chance(70) { "b2b" } else { "b2c" }));
    }
    if rng.chance(15) {
        let phases: [PhaseRef; 4] = [
            phase("b2b", "CALL"),
            phase("b2b", "MEETING"),
            phase("b2b", "QUOTE"),
            phase("b2c", "INTRO"),
        ];
        f.phase = Some(rng.pick(&phases).clone());
    }
    if rng.chance(15) {
        f.source = Some(code(rng.word(&["web_form", "referral", "cold_call"])));
    }
    if rng.chance(15) {
        f.priority = Some(code(rng.word(&["urgent", "high", "low"])));
    }
    if rng.chance(15) {
        f.tags.insert(code(rng.word(&["exhibition", "follow-up"])));
    }
    if rng.chance(10) {
        f.zone = Some((*rng.pick(&ZONES)).to_owned());
    }
    if rng.chance(10) {
        f.email = Some(rng.pick(&EMAILS).to_lowercase());
    }
    if rng.chance(8) {
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let (company, first) = (norm(rng.word(&COMPANY)), norm(rng.word(&FIRST)));
        f.company_contact = Some(format!("{company}|{first} n{}", rng.below(5)));
    }
    if rng.chance(8) {
        f.phone = Some(
            if rng.chance(50) {
                "+12125550101"
            } else {
                "+442079460958"
            }
            .to_owned(),
        );
    }
    if rng.chance(8) {
        f.lost_reason = Some(code(rng.word(&["no_fit", "no_budget"])));
    }
    if rng.chance(8) && !customers.is_empty() {
        f.customer = Some(*rng.pick(customers));
    }
    if rng.chance(8) {
        f.has_custom = Some(code("segment"));
    }
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let at = |rng: &mut Rng| Some(t0 + Duration::days(i64::try_from(rng.below(150)).unwrap_or(0)));
    let range = |rng: &mut Rng| TimeRange {
        from: if rng.chance(60) { at(rng) } else { None },
        before: if rng.chance(60) { at(rng) } else { None },
    };
    if rng.chance(10) {
        f.created = range(rng);
    }
    if rng.chance(10) {
        f.updated = range(rng);
    }
    if rng.chance(10) {
        f.phase_entered = range(rng);
    }
    if rng.chance(10) {
        f.expected_close = DateRange {
            from: rng.chance(60).then(|| day(i64::try_from(rng.below(120)).unwrap_or(0))),
            before: rng.chance(60).then(|| day(i64::try_from(rng.below(120)).unwrap_or(0))),
        };
    }
    if rng.chance(12) {
        f.missing.insert(*rng.pick(&LeadField::ALL));
    }
    if rng.chance(25) {
        q.open = Some(rng.chance(70));
    }
    q.rotten = rng.chance(8);
    if rng.chance(10) {
        q.min_days_in_phase = Some(u32::try_from(rng.below(60)).unwrap_or(0));
    }
    if rng.chance(25) {
        q.search = Some((*rng.pick(&SEARCHES)).to_owned());
    }
    q.sort = *rng.pick(&[
        LeadSort::Number,
        LeadSort::Created,
        LeadSort::Updated,
        LeadSort::ExpectedClose,
        LeadSort::Priority,
        LeadSort::Value,
        LeadSort::DaysInPhase,
    ]);
    q.descending = rng.chance(40);
    q.page = PageRequest {
        after: None,
        limit: 1 + rng.below(7),
        total: rng.chance(50),
    };
    q
}

/// Pages through a select on the store and on the reference; they must agree
/// page by page. Returns how many records the select matched.
async fn agree(store: &dyn Store, select: &Select, first: PageRequest, all: &[Record], what: &str) -> usize {
    let mut page = first;
    let mut seen = 0;
    for round in 0..1000 {
        let got = store
            .select(select, &page)
            .await
            .unwrap_or_else(|e| panic!("{what}: the store refused a select: {e}"));
        let want = select.answer(all, &page);
        let ids = |p: &crate::store::Page<Record>| p.items.iter().map(|r| r.entity().to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&want), "{what}: page {round} differs (request {page:?})");
        assert_eq!(got.items, want.items, "{what}: page {round} records differ");
        assert_eq!(got.next, want.next, "{what}: page {round} cursor differs");
        assert_eq!(got.total, want.total, "{what}: page {round} total differs");
        seen += got.items.len();
        match got.next {
            Some(next) => page.after = Some(next),
            None => return seen,
        }
    }
    panic!("{what}: more than 1000 pages");
}

/// Every record of the store, read back by id (the reference's input).
async fn everything(store: &dyn Store, _engine: &Engine) -> Vec<Record> {
    // Ids come from the event outbox and records from `get`: the reference's
    // input never passes through the `select` under test.
    let mut refs = Vec::new();
    let mut after = 0;
    loop {
        let events = store.events_since(after, 1000).await.unwrap_or_else(|e| panic!("{e}"));
        let Some(last) = events.last() else { break };
        after = last.seq;
        for e in &events {
            refs.push(match &e.event {
                DomainEvent::LeadCreated { lead, .. } => EntityRef::lead(*lead),
                DomainEvent::CustomerCreated { customer } => EntityRef::customer(*customer),
                DomainEvent::DealCreated { deal, .. } => EntityRef::deal(*deal),
                DomainEvent::CommunicationReceived { communication, .. } => EntityRef::communication(*communication),
                _ => continue,
            });
        }
    }
    let mut out = Vec::new();
    for r in refs {
        if let Some(record) = store.get(r).await.unwrap_or_else(|e| panic!("{e}")) {
            out.push(record);
        }
    }
    out
}

/// A fresh store with the fixture configuration and an engine on a clock the
/// test moves (microseconds since the epoch).
async fn clocked(factory: &dyn StoreFactory) -> (Arc<dyn Store>, Engine, Arc<AtomicI64>, Config) {
    let store = factory
        .create()
        .await
        .unwrap_or_else(|e| panic!("the factory could not create a store: {e}"));
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().unwrap_or_default();
    let clock = Arc::new(AtomicI64::new(t0.timestamp_micros()));
    let ticks = clock.clone();
    let engine = Engine::open(store.clone())
        .await
        .unwrap_or_else(|e| panic!("open: {e}"))
        .with_clock(Arc::new(move || {
            DateTime::from_timestamp_micros(ticks.load(Ordering::SeqCst)).unwrap_or_default()
        }));
    let config = fixture_config();
    engine
        .run(
            &maria(),
            commands::SetConfig {
                config: config.clone(),
                expected_version: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (store, engine, clock, config)
}

/// One lead surely in MEETING (which rots after 14 days), before a test lets
/// time pass.
async fn one_in_meeting(engine: &Engine) {
    let stuck = engine
        .run(
            &ann(),
            commands::CreateLead {
                lead: b2b("Stu", "Stuck Ltd"),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .run(
            &maria(),
            commands::MoveLeadPhase {
                lead: stuck.id,
                phase: phase("b2b", "MEETING"),
                closing_reason: None,
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The leads among records.
fn leads_in(all: &[Record]) -> Vec<&Lead> {
    all.iter()
        .filter_map(|r| match r {
            Record::Lead(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// Random queries over random data: every backend answers exactly as the
/// reference does, cursors and totals included.
pub async fn queries_match_the_reference(factory: Arc<dyn StoreFactory>) {
    let seed = seed();
    println!("query property: seed {seed} (replay with CRCM_QUERY_SEED={seed})");
    let mut rng = Rng(seed);
    let (store, engine, clock, config) = clocked(&*factory).await;
    let applied = world(&engine, &mut rng, &clock, 40).await;
    let all = everything(&*store, &engine).await;
    let customers: Vec<_> = all
        .iter()
        .filter_map(|r| match r {
            Record::Customer(c) => Some(c.id),
            _ => None,
        })
        .collect();
    let owners = [ann(), bob()];
    let mut nonempty = 0;
    let n = cases();
    for case in 0..n {
        let q = lead_query(&mut rng, &owners, &customers);
        let (filter, order) = q.resolve(&config, engine.now());
        let select = Select::Leads { filter, order };
        let what = format!("seed {seed}, query {case}: {q:?}");
        if agree(&*store, &select, q.page, &all, &what).await > 0 {
            nonempty += 1;
        }
    }
    // Deals, customers and communications: a few filters each, paged.
    let deal_filters = [
        DealFilter::default(),
        DealFilter {
            search: Some(crate::store::query::Search {
                words: crate::store::query::search_words("acm"),
                ..crate::store::query::Search::default()
            }),
            ..DealFilter::default()
        },
        DealFilter {
            expected_close: DateRange {
                from: Some(day(10)),
                before: Some(day(90)),
            },
            ..DealFilter::default()
        },
        DealFilter {
            owner: Some(maria().user),
            ..DealFilter::default()
        },
        DealFilter {
            pipeline: Some(code("sales")),
            stage: Some(code("prospecting")),
            ..DealFilter::default()
        },
    ];
    let deal_orders = [
        DealOrder::default(),
        DealOrder {
            key: DealKey::Value,
            descending: true,
        },
        DealOrder {
            key: DealKey::ExpectedClose,
            descending: false,
        },
        DealOrder {
            key: DealKey::Value,
            descending: false,
        },
    ];
    for (i, filter) in deal_filters.into_iter().enumerate() {
        let select = Select::Deals {
            filter,
            order: deal_orders[i % deal_orders.len()],
        };
        agree(
            &*store,
            &select,
            PageRequest {
                after: None,
                limit: 1 + i,
                total: true,
            },
            &all,
            &format!("seed {seed}, deals {i}"),
        )
        .await;
    }
    let customer_filters = [
        CustomerFilter::default(),
        CustomerFilter {
            search: Some(crate::engine::query::resolve_search(&config, "acme")),
            ..CustomerFilter::default()
        },
        CustomerFilter {
            search: Some(crate::engine::query::resolve_search(&config, "zoë")),
            ..CustomerFilter::default()
        },
        CustomerFilter {
            owner: Some(maria().user),
            ..CustomerFilter::default()
        },
    ];
    for (i, filter) in customer_filters.into_iter().enumerate() {
        let select = Select::Customers { filter };
        agree(
            &*store,
            &select,
            PageRequest {
                after: None,
                limit: 2,
                total: true,
            },
            &all,
            &format!("seed {seed}, customers {i}"),
        )
        .await;
    }
    // Board cells and grouped counts.
    let leads = leads_in(&all);
    let deals: Vec<&crate::domain::deal::Deal> = all
        .iter()
        .filter_map(|r| match r {
            Record::Deal(d) => Some(d),
            _ => None,
        })
        .collect();
    for at in ["b2b", "b2c", "partner"] {
        let got = store.board_cells(&code(at)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            board_cells_of(&code(at), leads.iter().copied()),
            "seed {seed}: board cells of {at}"
        );
    }
    let groups = [
        LeadGroup::AccountType,
        LeadGroup::Phase,
        LeadGroup::Status,
        LeadGroup::Owner,
        LeadGroup::Source,
        LeadGroup::Priority,
        LeadGroup::ClosingReason,
        LeadGroup::LostReason,
        LeadGroup::Currency,
        LeadGroup::Zone,
        LeadGroup::Email,
        LeadGroup::Phone,
        LeadGroup::CompanyContact,
    ];
    let mut tallied = 0;
    for case in 0..n / 3 {
        let q = lead_query(&mut rng, &owners, &customers);
        let (filter, _) = q.resolve(&config, engine.now());
        let by: Vec<LeadGroup> = (0..rng.below(3)).map(|_| *rng.pick(&groups)).collect();
        let tally = LeadTally { filter, by };
        let got = store
            .tally(&Tally::Leads(tally.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            tally.answer(leads.iter().copied()),
            "seed {seed}, tally {case}: {tally:?}"
        );
        tallied += got.len();
    }
    let deal_groups = [
        DealGroup::Pipeline,
        DealGroup::Stage,
        DealGroup::Status,
        DealGroup::Owner,
        DealGroup::LostReason,
        DealGroup::Currency,
    ];
    for case in 0..10 {
        let by: Vec<DealGroup> = (0..rng.below(3)).map(|_| *rng.pick(&deal_groups)).collect();
        let tally = DealTally {
            filter: DealFilter {
                pipeline: rng.chance(50).then(|| code("sales")),
                ..DealFilter::default()
            },
            by,
        };
        let got = store
            .tally(&Tally::Deals(tally.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            tally.answer(deals.iter().copied()),
            "seed {seed}, deal tally {case}: {tally:?}"
        );
    }
    assert!(tallied > 0, "seed {seed}: no tally found a group");
    // Phase steps: the funnel and time-in-phase counts over random
    // intervals, against the steps replayed from each lead's history.
    let mut steps = Vec::new();
    for l in &leads {
        let history = store
            .history(EntityRef::lead(l.id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        steps.extend(PhaseStep::replay(l.id, &history));
    }
    let times: Vec<DateTime<Utc>> = leads.iter().flat_map(|l| [l.created_at, l.phase_entered_at]).collect();
    let mut stepped = 0;
    for case in 0..20 {
        let mut range = TimeRange {
            from: rng.chance(70).then(|| *rng.pick(&times)),
            before: rng.chance(70).then(|| *rng.pick(&times)),
        };
        if let (Some(f), Some(b)) = (range.from, range.before)
            && b < f
        {
            (range.from, range.before) = (Some(b), Some(f));
        }
        let account_type = code(if rng.chance(70) { "b2b" } else { "b2c" });
        let reach = PhaseReachTally {
            account_type: account_type.clone(),
            created: range,
            visible: None,
        };
        let got = store
            .tally(&Tally::PhaseReach(reach.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, reach.answer(steps.iter()), "seed {seed}, reach {case}: {reach:?}");
        let time = PhaseTimeTally {
            account_type,
            left: range,
            visible: None,
        };
        let got_time = store
            .tally(&Tally::PhaseTime(time.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got_time,
            time.answer(steps.iter()),
            "seed {seed}, time {case}: {time:?}"
        );
        stepped += got.len() + got_time.len();
    }
    assert!(stepped > 0, "seed {seed}: no step tally found a group");
    for (i, status) in [None, Some(crate::domain::activity::CommunicationStatus::New)]
        .into_iter()
        .enumerate()
    {
        let select = Select::Communications {
            filter: CommunicationFilter {
                status,
                ..CommunicationFilter::default()
            },
        };
        let page = PageRequest {
            after: None,
            limit: 3,
            total: true,
        };
        let found = agree(
            &*store,
            &select,
            page,
            &all,
            &format!("seed {seed}, communications {i}"),
        )
        .await;
        assert!(i > 0 || found == 4, "seed {seed}: the four communications are listed");
    }
    // Search text is bounded: too long, too many words, or a control
    // character is refused with a typed error, for leads and customers alike.
    let refused = |text: String| LeadQuery {
        search: Some(text),
        ..LeadQuery::default()
    };
    for (text, code) in [
        ("x".repeat(crate::domain::limits::SEARCH + 1), "too_long"),
        (words_text(crate::domain::limits::SEARCH_WORDS + 1), "too_many"),
        ("Ada\u{1b}".to_owned(), "control_character"),
    ] {
        let e = engine
            .leads(&crate::testing::root(), &refused(text.clone()))
            .await
            .err();
        assert_eq!(e.as_ref().map(|e| e.code().name), Some(code), "{e:?}");
        let e = engine
            .customers(
                &crate::testing::root(),
                &crate::engine::query::CustomerQuery {
                    search: Some(text),
                    ..Default::default()
                },
            )
            .await
            .err();
        assert_eq!(e.as_ref().map(|e| e.code().name), Some(code), "{e:?}");
    }
    let longest = words_text(crate::domain::limits::SEARCH_WORDS);
    assert!(
        engine.leads(&crate::testing::root(), &refused(longest)).await.is_ok(),
        "the limit itself is allowed"
    );
    println!(
        "query property on {}: {applied} commands applied, {} records, {n} lead queries ({nonempty} non-empty) agree with the reference",
        store.backend(),
        all.len()
    );
    assert!(
        nonempty * 4 >= n,
        "seed {seed}: only {nonempty} of {n} queries matched anything: the generator no longer exercises the backend"
    );
}

/// The board (seed 004's kanban), through the engine: every column's count,
/// revenue per currency, rotten count and first cards equal what the leads
/// say, for the whole board, one owner's board and a filtered board; moving a
/// card moves it between columns; closed leads are off the board. The deal
/// board sums value and probability-weighted value per stage.
pub async fn board_matches_the_leads(factory: Arc<dyn StoreFactory>) {
    let seed = seed();
    let mut rng = Rng(seed);
    let (store, engine, clock, config) = clocked(&*factory).await;
    world(&engine, &mut rng, &clock, 30).await;
    // Some leads in EUR, so revenue is summed per currency.
    let eur = crate::domain::money::Currency::new("EUR").unwrap_or_else(|e| panic!("{e}"));
    let mut input = b2b("Eva", "Euro GmbH");
    input.expected_revenue = crate::domain::money::Money::new(250_000, eur).ok();
    engine
        .run(&ann(), commands::CreateLead { lead: input })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // One lead surely in MEETING (rots after 14 days) before time passes.
    one_in_meeting(&engine).await;
    // Let time pass so that MEETING has rotten leads.
    clock.fetch_add(20 * 86_400_000_000, Ordering::SeqCst);
    let now = engine.now();
    let all = everything(&*store, &engine).await;
    let leads = leads_in(&all);
    let views = [
        BoardQuery::new(code("b2b")),
        BoardQuery {
            owner: Some(bob().user),
            cards: 2,
            ..BoardQuery::new(code("b2b"))
        },
        BoardQuery {
            filter: crate::store::LeadFilter {
                source: Some(code("referral")),
                ..Default::default()
            },
            ..BoardQuery::new(code("b2b"))
        },
        BoardQuery::new(code("b2c")),
    ];
    let mut rotten_seen = 0;
    for view in &views {
        let board = engine
            .board(&crate::testing::root(), view)
            .await
            .unwrap_or_else(|e| panic!("board: {e}"));
        let phases: Vec<PhaseRef> = config
            .phases_of(&view.account_type)
            .into_iter()
            .filter(|p| p.phase_type != PhaseType::Closing)
            .map(|p| p.reference())
            .collect();
        assert_eq!(
            board.columns.iter().map(|c| c.phase.clone()).collect::<Vec<_>>(),
            phases,
            "seed {seed}: the columns are the non-closing phases in order"
        );
        for column in &board.columns {
            let mut here: Vec<&Lead> = leads
                .iter()
                .copied()
                .filter(|l| {
                    l.account_type == view.account_type
                        && l.phase.as_ref() == Some(&column.phase)
                        && !l.is_closed(&config)
                        && view.owner.as_ref().is_none_or(|o| &l.owner == o)
                        && view.filter.matches(l)
                })
                .collect();
            here.sort_by_key(|l| l.number);
            let what = format!("seed {seed}, {view:?}, column {}", column.phase);
            assert_eq!(column.count, here.len() as u64, "{what}: count");
            let mut sums: std::collections::BTreeMap<String, i128> = std::collections::BTreeMap::new();
            for l in &here {
                if let Some(m) = l.expected_revenue {
                    *sums.entry(m.currency.to_string()).or_default() += i128::from(m.minor);
                }
            }
            let revenue: std::collections::BTreeMap<String, i128> = column
                .revenue
                .iter()
                .map(|m| (m.currency.to_string(), m.minor))
                .collect();
            assert_eq!(revenue, sums, "{what}: revenue per currency");
            let rotten = here.iter().filter(|l| l.is_rotten(&config, now)).count() as u64;
            assert_eq!(column.rotten, rotten, "{what}: rotten");
            rotten_seen += rotten;
            let cards: Vec<u64> = column.cards.iter().map(|c| c.number).collect();
            let want: Vec<u64> = here.iter().take(view.cards).map(|l| l.number).collect();
            assert_eq!(cards, want, "{what}: cards");
            assert_eq!(column.more.is_some(), here.len() > view.cards, "{what}: more");
            for (card, lead) in column.cards.iter().zip(&here) {
                assert_eq!(card.days_in_phase, lead.days_in_phase(now), "{what}: days in phase");
                assert_eq!(card.rotten, lead.is_rotten(&config, now), "{what}: rotten card");
            }
        }
    }
    assert!(rotten_seen > 0, "seed {seed}: the world has rotten leads to count");
    // Moving a card is a phase change.
    let board = engine
        .board(&crate::testing::root(), &BoardQuery::new(code("b2b")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(card) = board.columns.first().and_then(|c| c.cards.first()).cloned() else {
        panic!("seed {seed}: the first column has a card")
    };
    let before: Vec<u64> = board.columns.iter().map(|c| c.count).collect();
    engine
        .run(
            &maria(),
            commands::MoveLeadPhase {
                lead: card.lead,
                phase: phase("b2b", "QUOTE"),
                closing_reason: None,
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = engine
        .board(&crate::testing::root(), &BoardQuery::new(code("b2b")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let counts: Vec<u64> = after.columns.iter().map(|c| c.count).collect();
    let quote = after
        .columns
        .iter()
        .position(|c| c.phase == phase("b2b", "QUOTE"))
        .unwrap_or(usize::MAX);
    assert_eq!(counts[0] + 1, before[0], "seed {seed}: the card left its column");
    assert_eq!(
        counts.get(quote).copied(),
        before.get(quote).map(|n| n + 1),
        "seed {seed}: and joined QUOTE"
    );
    // The deal board.
    let deal_board = engine
        .deal_board(&crate::testing::root(), &code("sales"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deals: Vec<crate::domain::deal::Deal> = {
        let mut out = Vec::new();
        for l in &leads {
            out.extend(
                engine
                    .deals_of_lead(&crate::testing::root(), l.id)
                    .await
                    .unwrap_or_default(),
            );
        }
        out
    };
    let stages: Vec<_> = deal_board.columns.iter().map(|c| c.stage.to_string()).collect();
    assert_eq!(stages, ["prospecting", "proposal", "won", "invoiced", "lost"]);
    for column in &deal_board.columns {
        let here: Vec<_> = deals
            .iter()
            .filter(|d| d.pipeline == code("sales") && d.stage == column.stage)
            .collect();
        assert_eq!(
            column.count,
            here.len() as u64,
            "seed {seed}: deals in {}",
            column.stage
        );
        let value: i128 = here.iter().filter_map(|d| d.value).map(|m| i128::from(m.minor)).sum();
        let weighted: i128 = here
            .iter()
            .filter_map(|d| d.value.map(|m| i128::from(m.minor) * i128::from(d.probability)))
            .sum();
        assert_eq!(
            column.value.iter().map(|m| m.minor).sum::<i128>(),
            value,
            "seed {seed}: value of {}",
            column.stage
        );
        assert_eq!(
            column.weighted.iter().map(|m| m.minor).sum::<i128>(),
            (weighted + 50) / 100,
            "seed {seed}: weighted value of {}",
            column.stage
        );
    }
    assert!(
        deal_board.columns.iter().any(|c| c.count > 0),
        "seed {seed}: the world has deals"
    );
    let unknown = engine.deal_board(&crate::testing::root(), &code("nope"), None).await;
    assert!(
        matches!(unknown, Err(Error::Input(_))),
        "an unknown pipeline is refused: {unknown:?}"
    );
}

/// Bulk actions: every lead is its own unit of work with its own line in the
/// report; refusals do not stop the others and change nothing; a bulk action
/// over a query acts on the set as it was when it started, even when the
/// action moves leads out of the query.
pub async fn bulk_actions_apply_per_lead(factory: Arc<dyn StoreFactory>) {
    let (store, engine, _clock, _config) = clocked(&*factory).await;
    let mut anns = Vec::new();
    for i in 0..7 {
        let lead = engine
            .run(
                &ann(),
                commands::CreateLead {
                    lead: b2b(&format!("Bulk{i}"), "Bulk Co"),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        anns.push(lead);
    }
    let bobs = engine
        .run(
            &bob(),
            commands::CreateLead {
                lead: b2b("Bob's", "Other Co"),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // One of ann's leads is already lost: marking it lost again is refused.
    engine
        .run(
            &maria(),
            commands::DisqualifyLead {
                lead: anns[2].id,
                reason: code("no_fit"),
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before_closed = store.lead(anns[2].id).await.unwrap_or_else(|e| panic!("{e}"));
    // ann marks her leads and bob's lost: bob's is not hers to change.
    let mut targets: Vec<LeadId> = anns.iter().map(|l| l.id).collect();
    targets.push(bobs.id);
    let report = engine
        .bulk(
            &ann(),
            &BulkTarget::Leads { ids: targets.clone() },
            &BulkAction::MarkLost {
                reason: code("no_budget"),
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.items.len(), 8, "a line per lead");
    assert_eq!((report.applied, report.refused), (6, 2));
    assert_eq!(
        report.items.iter().map(|i| i.lead).collect::<Vec<_>>(),
        targets,
        "in target order"
    );
    for item in &report.items {
        let lead = store.lead(item.lead).await.unwrap_or_else(|e| panic!("{e}"));
        match &item.outcome {
            BulkOutcome::Applied { version } => {
                let lead = lead.unwrap_or_else(|| panic!("applied lead exists"));
                assert_eq!(lead.status, LeadStatus::Disqualified);
                assert_eq!(lead.lost_reason, Some(code("no_budget")));
                assert_eq!(lead.version, *version);
            }
            BulkOutcome::Refused { error } => {
                if item.lead == bobs.id {
                    assert_eq!(error.name, "permission_denied", "{error:?}");
                    assert_eq!(lead.map(|l| l.status), Some(LeadStatus::New), "bob's lead is unchanged");
                } else {
                    assert_eq!(item.lead, anns[2].id);
                    assert_eq!(error.kind, "lead", "{error:?}");
                    assert_eq!(lead, before_closed, "the closed lead is unchanged");
                }
            }
        }
    }
    // Reassign "My leads" over a query, 2 a page: every lead reassigned moves
    // out of the query, yet each is acted on exactly once.
    let mut mine = Vec::new();
    for i in 0..5 {
        let lead = engine
            .run(
                &ann(),
                commands::CreateLead {
                    lead: b2b(&format!("Mine{i}"), "Mine Co"),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        mine.push(lead.id);
    }
    let mut query = LeadQuery {
        open: Some(true),
        page: PageRequest::first(2),
        ..LeadQuery::default()
    };
    query.filter.owner = Some(ann().user);
    let report = engine
        .bulk(
            &maria(),
            &BulkTarget::Query { query: query.clone() },
            &BulkAction::Reassign { owner: bob().user },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.items.iter().map(|i| i.lead).collect::<Vec<_>>(), mine);
    assert_eq!((report.applied, report.refused), (5, 0));
    let left = engine
        .leads(&crate::testing::root(), &query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(left.items.is_empty(), "ann has no open leads left");
    // Tag and move many; an unknown tag is refused per lead.
    let report = engine
        .bulk(
            &maria(),
            &BulkTarget::Leads { ids: mine.clone() },
            &BulkAction::Tag {
                tags: [code("exhibition")].into(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.applied, 5);
    for id in &mine {
        let lead = store.lead(*id).await.ok().flatten();
        assert_eq!(lead.map(|l| l.tags), Some([code("exhibition")].into()));
    }
    let report = engine
        .bulk(
            &maria(),
            &BulkTarget::Leads {
                ids: mine[..2].to_vec(),
            },
            &BulkAction::Tag {
                tags: [code("no-such-tag")].into(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.applied, report.refused), (0, 2));
    let report = engine
        .bulk(
            &maria(),
            &BulkTarget::Leads { ids: mine.clone() },
            &BulkAction::MoveToPhase {
                phase: phase("b2b", "QUOTE"),
                closing_reason: None,
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.applied, 5);
    let too_many = engine
        .bulk(
            &maria(),
            &BulkTarget::Leads {
                ids: vec![mine[0]; crate::engine::bulk::MAX_BULK + 1],
            },
            &BulkAction::Reassign { owner: ann().user },
        )
        .await;
    assert!(matches!(too_many, Err(Error::Input(_))), "{too_many:?}");
}

/// Search as people type it: without accents, case or punctuation. Every
/// name is found by its folded spelling, through the engine, on the backend's
/// own search words; and nothing else is.
pub async fn search_folds_accents_case_and_punctuation(factory: Arc<dyn StoreFactory>) {
    let (_store, engine, _clock, _config) = clocked(&*factory).await;
    let names = [
        ("Ñúñez", "Acme", "nunez"),
        ("José", "Beta", "jose"),
        ("Ann", "Café Central", "cafe"),
        ("O'Brien", "Gamma", "obrien"),
        ("Jean-Pierre", "Delta", "jeanpierre"),
        ("Anna", "straße AG", "strasse"),
        ("ünïcödé", "Epsilon", "unicode"),
        ("i\u{307}stanbul", "Zeta", "istanbul"),
        ("Дмитрий", "Eta", "дмит"),
    ];
    let mut numbers = Vec::new();
    for (first, company, _) in names {
        numbers.push(make_named(first, company, &engine).await.number);
    }
    for (i, (first, company, typed)) in names.iter().enumerate() {
        let page = engine
            .leads(
                &crate::testing::root(),
                &LeadQuery {
                    search: Some((*typed).to_owned()),
                    ..LeadQuery::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{typed}: {e}"));
        let found: Vec<u64> = page.items.iter().map(|l| l.number).collect();
        assert_eq!(
            found,
            [numbers[i]],
            "{typed:?} finds {first} of {company} and nothing else"
        );
    }
}

/// A b2b lead with only a contact name and a company.
async fn make_named(first: &str, company: &str, engine: &Engine) -> Lead {
    engine
        .run(
            &ann(),
            commands::CreateLead {
                lead: b2b(first, company),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Duplicate groups over the whole store (by e-mail, phone, and company and
/// contact name) and per lead, and the ranked candidates of an inbound
/// communication: open leads first, then closed ones, then customers reached
/// at the number (their own or a contact person's).
pub async fn duplicates_and_intake_are_ranked(factory: Arc<dyn StoreFactory>) {
    let (_store, engine, _clock, _config) = clocked(&*factory).await;
    let make = async |first: &str, email: Option<&str>, phone: Option<&str>| {
        let mut input = b2b(first, "Dup Co");
        input.email = email.map(str::to_owned);
        input.phone = phone.map(str::to_owned);
        engine
            .run(&ann(), commands::CreateLead { lead: input })
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let a = make("A", Some("Same@Dup.example"), Some("+1 212 555 0111")).await;
    let b = make("B", Some("same@dup.example"), None).await;
    let c = make("C", Some("same@dup.example"), Some("(212) 555-0111")).await;
    let d = make("D", Some("other@dup.example"), Some("+1 212 555 0199")).await;
    let _e = make("E", Some("solo@dup.example"), None).await;
    // A closed lead with the same e-mail is no duplicate.
    engine
        .run(
            &maria(),
            commands::DisqualifyLead {
                lead: c.id,
                reason: code("no_fit"),
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let f = make("F", Some("other@dup.example"), None).await;
    let groups = engine
        .duplicate_groups(&crate::testing::root(), DuplicateKey::Email)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen: Vec<(String, u64, Vec<u64>)> = groups
        .iter()
        .map(|g| (g.value.clone(), g.count, g.leads.iter().map(|l| l.number).collect()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("other@dup.example".to_owned(), 2, vec![d.number, f.number]),
            ("same@dup.example".to_owned(), 2, vec![a.number, b.number]),
        ]
    );
    let phones = engine
        .duplicate_groups(&crate::testing::root(), DuplicateKey::Phone)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(phones.is_empty(), "the shared phone's other lead is closed: {phones:?}");
    // The same company and contact, written differently, without e-mail or phone.
    let g = make_named("Grace", "Hopper Inc", &engine).await;
    let h = make_named(" grace ", "HOPPER   inc", &engine).await;
    let _i = make_named("Grace", "Hopper Ltd", &engine).await;
    let named = engine
        .duplicate_groups(&crate::testing::root(), DuplicateKey::CompanyContact)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen: Vec<(String, u64, Vec<u64>)> = named
        .iter()
        .map(|g| (g.value.clone(), g.count, g.leads.iter().map(|l| l.number).collect()))
        .collect();
    assert_eq!(
        seen,
        vec![("hopper inc|grace tester".to_owned(), 2, vec![g.number, h.number])]
    );
    let of_g = |keys: &'static [DuplicateKey]| {
        let engine = &engine;
        async move {
            engine
                .duplicates_by(&crate::testing::root(), g.id, keys)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|l| l.number)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(of_g(&DuplicateKey::ALL).await, vec![h.number], "per lead, every key");
    assert_eq!(
        of_g(&[DuplicateKey::Email]).await,
        Vec::<u64>::new(),
        "per lead, by e-mail only"
    );
    assert_eq!(
        engine
            .duplicates(&crate::testing::root(), a.id)
            .await
            .map(|d| d.iter().map(|l| l.number).collect::<Vec<_>>())
            .ok(),
        Some(vec![b.number]),
        "per lead: the open lead with the same e-mail"
    );
    // A call from the shared number: the open lead first, then the closed one.
    let customer = engine
        .run(
            &maria(),
            commands::CreateCustomer {
                customer: NewCustomer {
                    name: "Dup Holding".into(),
                    phone: Some("212-555-0111".into()),
                    ..NewCustomer::default()
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A customer whose contact person has that number is found too.
    let holding = engine
        .run(
            &maria(),
            commands::CreateCustomer {
                customer: NewCustomer {
                    name: "Dup Group".into(),
                    ..NewCustomer::default()
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .run(
            &maria(),
            commands::AddContact {
                customer: holding.id,
                contact: crate::domain::input::NewContact {
                    name: "Switchboard".into(),
                    phone: Some("+1 (212) 555-0111".into()),
                    ..crate::domain::input::NewContact::default()
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let call = engine
        .run(
            &maria(),
            commands::ReceiveCommunication {
                communication: crate::domain::input::InboundCommunication {
                    kind: crate::domain::activity::CommunicationKind::Call,
                    from_email: None,
                    from_phone: Some("+12125550111".into()),
                    summary: "Call".into(),
                    body: String::new(),
                    received_at: None,
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ranked = engine
        .communication_matches(&crate::testing::root(), call.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ranked.open_leads.iter().map(|l| l.id).collect::<Vec<_>>(), vec![a.id]);
    assert_eq!(ranked.closed_leads.iter().map(|l| l.id).collect::<Vec<_>>(), vec![c.id]);
    let mut want = vec![customer.id, holding.id];
    want.sort();
    assert_eq!(
        ranked.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        want,
        "the customer with that phone and the one whose contact has it"
    );
    // Unhandled communications are listable and pageable.
    let mail = engine
        .run(
            &maria(),
            commands::ReceiveCommunication {
                communication: crate::domain::input::InboundCommunication {
                    kind: crate::domain::activity::CommunicationKind::Email,
                    from_email: Some("nobody@else.example".into()),
                    from_phone: None,
                    summary: "Hello".into(),
                    body: String::new(),
                    received_at: None,
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let unhandled = engine
        .communications(
            &crate::testing::root(),
            &CommunicationFilter {
                status: Some(crate::domain::activity::CommunicationStatus::New),
                ..CommunicationFilter::default()
            },
            &PageRequest {
                limit: 10,
                total: true,
                after: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unhandled.total, Some(1), "the call was linked to its one open lead");
    assert_eq!(unhandled.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![mail.id]);
}

/// Every report equals the same figures computed from the leads and deals
/// read back one by one.
pub async fn reports_match_the_leads(factory: Arc<dyn StoreFactory>) {
    let seed = seed();
    let mut rng = Rng(seed);
    let (store, engine, clock, config) = clocked(&*factory).await;
    world(&engine, &mut rng, &clock, 30).await;
    one_in_meeting(&engine).await;
    // The reports' interval leaves out the first leads (created before it)
    // and ends a day after two open b2b leads of it are closed by phase, won
    // and lost (so the interval always holds closings of both outcomes).
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let from = t0 + Duration::days(10);
    let closable: Vec<LeadId> = leads_in(&everything(&*store, &engine).await)
        .into_iter()
        .filter(|l| l.account_type.as_str() == "b2b" && !l.is_closed(&config) && l.created_at >= from)
        .map(|l| l.id)
        .take(2)
        .collect();
    for (lead, (to, reason)) in closable.iter().zip([("WON", "won"), ("LOST", "lost")]) {
        engine
            .run(
                &maria(),
                commands::MoveLeadPhase {
                    lead: *lead,
                    phase: phase("b2b", to),
                    closing_reason: Some(code(reason)),
                    note: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: closing a lead in {to}: {e}"));
    }
    let interval = Interval::days(from, (engine.now() - from).num_days() + 1);
    // Follow-ups, some past due when the report runs, one of them done.
    let targets = leads_in(&everything(&*store, &engine).await)
        .into_iter()
        .map(|l| l.id)
        .collect::<Vec<_>>();
    let start = engine.now().date_naive();
    for (i, lead) in targets.iter().take(8).enumerate() {
        let scheduled = engine
            .run(
                &maria(),
                commands::ScheduleFollowUp {
                    subject: crate::domain::activity::Subject::Lead(*lead),
                    due: start + Duration::days(i64::try_from(i).unwrap_or(0) * 7),
                    note: "Call back".into(),
                    assignee: Some(if i % 2 == 0 { ann().user } else { bob().user }),
                },
            )
            .await;
        if let (0, Ok(f)) = (i, scheduled) {
            let _ = engine
                .run(&maria(), commands::CompleteFollowUp { follow_up: f.id })
                .await;
        }
    }
    clock.fetch_add(30 * 86_400_000_000, Ordering::SeqCst);
    let now = engine.now();
    let all = everything(&*store, &engine).await;
    let leads = leads_in(&all);
    let open: Vec<&Lead> = leads.iter().copied().filter(|l| !l.is_closed(&config)).collect();
    let inside = |t: DateTime<Utc>| interval.range().contains(t);
    // Sources.
    let got = engine
        .report_sources(&crate::testing::root(), &interval)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut want: std::collections::BTreeMap<Option<String>, [u64; 6]> = std::collections::BTreeMap::new();
    for l in leads.iter().filter(|l| inside(l.created_at)) {
        let outcome = l.phase.as_ref().and_then(|p| config.phase(p)).and_then(|p| p.outcome);
        let row = want.entry(l.source.as_ref().map(ToString::to_string)).or_default();
        row[0] += 1;
        row[1] += u64::from(matches!(l.status, LeadStatus::Qualified | LeadStatus::Converted));
        row[2] += u64::from(l.status == LeadStatus::Converted);
        row[3] += u64::from(l.status == LeadStatus::Disqualified);
        row[4] += u64::from(outcome == Some(Outcome::Won));
        row[5] += u64::from(outcome == Some(Outcome::Lost));
    }
    assert!(
        want.values().any(|r| r[4] > 0) && want.values().any(|r| r[5] > 0),
        "seed {seed}: leads are in a won and in a lost closing phase"
    );
    let got_map: std::collections::BTreeMap<Option<String>, [u64; 6]> = got
        .iter()
        .map(|r| {
            (
                r.source.as_ref().map(ToString::to_string),
                [r.created, r.qualified, r.converted, r.lost, r.closed_won, r.closed_lost],
            )
        })
        .collect();
    assert_eq!(got_map, want, "seed {seed}: sources");
    assert!(!want.is_empty(), "seed {seed}: leads were created in the interval");
    // Trend: per week, the leads created and closed in it.
    let got = engine
        .report_trend(
            &crate::testing::root(),
            &interval,
            crate::engine::reports::TrendPeriod::Week,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(got.len() > 1, "seed {seed}: several weeks");
    for (i, row) in got.iter().enumerate() {
        let end = got.get(i + 1).map(|n| n.from);
        let within = |t: DateTime<Utc>| inside(t) && t >= row.from && end.is_none_or(|e| t < e);
        let created = leads.iter().filter(|l| within(l.created_at)).count() as u64;
        let closed = leads.iter().filter(|l| l.closed_at.is_some_and(within)).count() as u64;
        assert_eq!(
            (row.created, row.closed),
            (created, closed),
            "seed {seed}: trend week {}",
            row.from
        );
    }
    let total: u64 = got.iter().map(|r| r.created).sum();
    assert_eq!(
        total,
        leads.iter().filter(|l| inside(l.created_at)).count() as u64,
        "seed {seed}: trend"
    );
    // Reasons.
    let got = engine
        .report_reasons(&crate::testing::root(), &interval)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut want: Vec<(String, String, u64)> = Vec::new();
    let mut add = |kind: &str, code: &Option<crate::domain::ids::Code>| {
        if let Some(c) = code {
            match want.iter_mut().find(|w| w.0 == kind && w.1 == c.as_str()) {
                Some(w) => w.2 += 1,
                None => want.push((kind.to_owned(), c.to_string(), 1)),
            }
        }
    };
    // Closed in the interval: the time each lead's history shows it close.
    let mut closed_seen = 0;
    for l in &leads {
        let history = store
            .history(EntityRef::lead(l.id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut closed_since = None;
        let mut state: Option<Lead> = None;
        for h in &history {
            let mut next = serde_json::to_value(state.as_ref().unwrap_or(l)).unwrap_or_default();
            for c in &h.changes {
                let after = c.apply(&next[c.field.as_str()]);
                next[c.field.as_str()] = after;
            }
            let next: Lead = serde_json::from_value(next).unwrap_or_else(|e| panic!("{e}"));
            let was = state.as_ref().is_some_and(|s| s.is_closed(&config));
            match (was, next.is_closed(&config)) {
                (false, true) => closed_since = Some(h.at),
                (_, false) => closed_since = None,
                _ => {}
            }
            state = Some(next);
        }
        assert_eq!(
            l.closed_at, closed_since,
            "seed {seed}: closing time of lead {}",
            l.number
        );
        if !closed_since.is_some_and(inside) {
            continue;
        }
        closed_seen += 1;
        if l.status == LeadStatus::Disqualified {
            add("lost", &l.lost_reason);
        }
        add("closing", &l.closing_reason);
    }
    assert!(closed_seen > 0, "seed {seed}: leads closed in the interval");
    let mut got: Vec<(String, String, u64)> = got
        .into_iter()
        .map(|r| (r.kind, r.reason.to_string(), r.count))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "seed {seed}: reasons");
    // Workload.
    let mut got: Vec<(String, u64, u64, u64)> = engine
        .report_workload(&crate::testing::root())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|r| (r.owner.to_string(), r.open_leads, r.rotten, r.overdue_follow_ups))
        .collect();
    got.sort();
    let mut want: Vec<(String, u64, u64, u64)> = Vec::new();
    fn row<'a>(want: &'a mut Vec<(String, u64, u64, u64)>, who: &str) -> &'a mut (String, u64, u64, u64) {
        let i = match want.iter().position(|w| w.0 == who) {
            Some(i) => i,
            None => {
                want.push((who.to_owned(), 0, 0, 0));
                want.len() - 1
            }
        };
        &mut want[i]
    }
    for l in &open {
        let w = row(&mut want, l.owner.as_str());
        w.1 += 1;
        w.2 += u64::from(l.is_rotten(&config, now));
    }
    let mut overdue_seen = 0;
    for l in &leads {
        for f in engine
            .follow_ups(&crate::testing::root(), crate::domain::activity::Subject::Lead(l.id))
            .await
            .unwrap_or_default()
        {
            if !f.done && f.due < now.date_naive() {
                row(&mut want, f.assignee.as_str()).3 += 1;
                overdue_seen += 1;
            }
        }
    }
    want.sort();
    assert_eq!(got, want, "seed {seed}: workload");
    assert!(want.iter().any(|w| w.2 > 0), "seed {seed}: someone has rotten leads");
    assert!(overdue_seen > 0, "seed {seed}: some follow-up is overdue");
    // Stuck.
    let stuck = engine
        .report_stuck(&crate::testing::root(), 20, &PageRequest::first(1000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut want: Vec<&Lead> = open.iter().copied().filter(|l| l.days_in_phase(now) >= 20).collect();
    want.sort_by_key(|l| (l.phase_entered_at, l.id));
    assert_eq!(
        stuck.items.iter().map(|l| l.number).collect::<Vec<_>>(),
        want.iter().map(|l| l.number).collect::<Vec<_>>(),
        "seed {seed}: stuck leads, most days first"
    );
    assert!(!want.is_empty(), "seed {seed}: some lead is stuck");
    // Data quality.
    let quality = engine
        .report_data_quality(&crate::testing::root())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(quality.open, open.len() as u64, "seed {seed}: open leads");
    for m in &quality.missing {
        let want = open.iter().filter(|l| m.field.is_missing(l)).count() as u64;
        assert_eq!(m.count, want, "seed {seed}: missing {}", m.field.as_str());
    }
    let want: Vec<u64> = open
        .iter()
        .filter(|l| l.expected_close.is_none() && l.description.trim().is_empty())
        .map(|l| l.number)
        .take(20)
        .collect();
    assert_eq!(
        quality.first_to_clarify.iter().map(|l| l.number).collect::<Vec<_>>(),
        want,
        "seed {seed}: first to clarify"
    );
    // Forecast.
    let forecast = engine
        .report_forecast(&crate::testing::root(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deals: Vec<&crate::domain::deal::Deal> = all
        .iter()
        .filter_map(|r| match r {
            Record::Deal(d) if d.status == crate::domain::deal::DealStatus::Open => Some(d),
            _ => None,
        })
        .collect();
    for row in &forecast {
        let here: Vec<_> = deals
            .iter()
            .filter(|d| d.pipeline == row.pipeline && d.stage == row.stage)
            .collect();
        assert_eq!(row.deals, here.len() as u64, "seed {seed}: deals at {}", row.stage);
        let value: i128 = here.iter().filter_map(|d| d.value).map(|m| i128::from(m.minor)).sum();
        assert_eq!(row.value.iter().map(|m| m.minor).sum::<i128>(), value);
    }
    assert_eq!(
        forecast.iter().map(|r| r.deals).sum::<u64>(),
        deals.len() as u64,
        "seed {seed}: every open deal is in the forecast"
    );
    // An account type the configuration does not define is a typed error.
    let e = engine
        .report_funnel(&crate::testing::root(), &code("nope"), &interval)
        .await
        .err();
    assert_eq!(e.as_ref().map(|e| e.code().name), Some("unknown_reference"), "{e:?}");
    let e = engine
        .report_time_in_phase(&crate::testing::root(), &code("nope"), &interval)
        .await
        .err();
    assert_eq!(e.as_ref().map(|e| e.code().name), Some("unknown_reference"), "{e:?}");
    // Funnel and time in phase, against the phases each lead's history
    // shows it in (read here entry by entry, not through phase steps).
    for account_type in [code("b2b"), code("b2c")] {
        let mut reached: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        let mut stays: std::collections::BTreeMap<String, Vec<i64>> = std::collections::BTreeMap::new();
        for l in &leads {
            let history = store
                .history(EntityRef::lead(l.id))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
            let mut at: Option<(Option<PhaseRef>, DateTime<Utc>)> = None;
            for h in &history {
                let (mut phase, mut entered) = at.clone().unwrap_or((None, h.at));
                if let Some(c) = h.change("phase") {
                    phase = c.new_as::<PhaseRef>().unwrap_or_else(|e| panic!("{e}"));
                }
                if let Some(c) = h.change("phase_entered_at") {
                    entered = c.new_as().unwrap_or_else(|e| panic!("{e}")).unwrap_or(entered);
                }
                if let Some((Some(old), old_entered)) = &at
                    && (Some(old), *old_entered) != (phase.as_ref(), entered)
                    && old.account_type == account_type
                    && inside(h.at)
                {
                    let hours = (h.at.timestamp() - old_entered.timestamp()).max(0);
                    stays.entry(old.code.to_string()).or_default().push(hours);
                }
                if let Some(p) = &phase
                    && p.account_type == account_type
                {
                    seen.insert(p.code.to_string());
                }
                at = Some((phase, entered));
            }
            if inside(l.created_at) {
                for p in seen {
                    *reached.entry(p).or_default() += 1;
                }
            }
        }
        let funnel = engine
            .report_funnel(&crate::testing::root(), &account_type, &interval)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got: std::collections::BTreeMap<String, u64> = funnel
            .phases
            .iter()
            .filter(|r| r.reached > 0)
            .map(|r| (r.phase.to_string(), r.reached))
            .collect();
        assert_eq!(got, reached, "seed {seed}: funnel of {account_type}");
        let phases = config.phases_of(&account_type);
        assert_eq!(
            funnel.phases.len(),
            phases.len(),
            "seed {seed}: one funnel row per phase"
        );
        let times = engine
            .report_time_in_phase(&crate::testing::root(), &account_type, &interval)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, u64, i64, f64)> = times
            .iter()
            .map(|r| {
                (
                    r.phase.to_string(),
                    r.stays,
                    (r.average_hours * 3600.0).round() as i64,
                    r.median_hours,
                )
            })
            .collect();
        let want: Vec<(String, u64, i64, f64)> = phases
            .iter()
            .filter_map(|p| {
                let mut s = stays.get(p.code.as_str())?.clone();
                s.sort_unstable();
                let n = s.len();
                let hours: Vec<i64> = s.iter().map(|x| x / 3600).collect();
                let median = if n % 2 == 1 {
                    hours[n / 2] as f64
                } else {
                    (hours[n / 2 - 1] + hours[n / 2]) as f64 / 2.0
                };
                let total: i64 = s.iter().sum();
                Some((
                    p.code.to_string(),
                    n as u64,
                    (total as f64 / n as f64).round() as i64,
                    median,
                ))
            })
            .collect();
        assert_eq!(got, want, "seed {seed}: time in phase of {account_type}");
        if account_type == code("b2b") {
            assert!(
                got.iter().any(|g| g.1 > 1),
                "seed {seed}: b2b leads left a phase in the interval: {got:?}"
            );
            assert!(
                funnel.phases.iter().filter(|r| r.reached > 0).count() > 1,
                "seed {seed}: the b2b funnel has several phases: {funnel:?}"
            );
        }
    }
}

/// Merging a duplicate moves its activities, follow-ups, communications and
/// tags to the survivor, closes it as merged, and both histories say so; the
/// survivor's history carries the duplicate's past. A refused merge moves
/// nothing.
pub async fn merge_moves_everything_to_the_survivor(factory: Arc<dyn StoreFactory>) {
    let engine = super::fixture_engine(&*factory).await;
    let store = engine.store();
    let mut input = b2b("Ada", "Acme");
    input.email = Some("ada@acme.example.com".into());
    input.tags.insert(code("exhibition"));
    let survivor = super::conformance::create(&engine, &ann(), input).await;
    let mut input = b2b("Ada", "Acme");
    input.email = Some("ADA@acme.example.com".into());
    input.tags.insert(code("follow-up"));
    let duplicate = super::conformance::create(&engine, &ann(), input).await;
    let on = |lead: LeadId| crate::domain::activity::Subject::Lead(lead);
    let run = |c: commands::Command| {
        let engine = &engine;
        async move { engine.execute(&ann(), c).await.unwrap_or_else(|e| panic!("{e}")) }
    };
    for (subject, summary) in [(survivor.id, "first call"), (duplicate.id, "second call")] {
        run(commands::Command::LogActivity(commands::LogActivity {
            subject: on(subject),
            kind: crate::domain::activity::ActivityKind::Call,
            summary: summary.into(),
            body: String::new(),
            occurred_at: None,
        }))
        .await;
    }
    run(commands::Command::ScheduleFollowUp(commands::ScheduleFollowUp {
        subject: on(duplicate.id),
        due: day(40),
        note: "Send the catalogue".into(),
        assignee: None,
    }))
    .await;
    let received = engine
        .run(
            &ann(),
            commands::ReceiveCommunication {
                communication: crate::domain::input::InboundCommunication {
                    kind: crate::domain::activity::CommunicationKind::Email,
                    from_email: Some("ada@acme.example.com".into()),
                    from_phone: None,
                    summary: "Catalogue?".into(),
                    body: String::new(),
                    received_at: None,
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .run(
            &ann(),
            commands::AttachCommunication {
                communication: received.id,
                lead: duplicate.id,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Refused (Bob may change neither lead): nothing moves.
    let before = super::conformance::snapshot(&engine, duplicate.id).await;
    let e = engine
        .run(
            &bob(),
            commands::MergeLead {
                lead: duplicate.id,
                into: survivor.id,
            },
        )
        .await
        .err();
    assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
    super::conformance::assert_unchanged(&engine, &before, duplicate.id, "a refused merge").await;
    assert_eq!(
        engine
            .activities(&crate::testing::root(), on(duplicate.id))
            .await
            .map(|a| a.len())
            .ok(),
        Some(1),
        "a refused merge moves nothing"
    );

    let merged = engine
        .run(
            &ann(),
            commands::MergeLead {
                lead: duplicate.id,
                into: survivor.id,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (merged.status, merged.merged_into),
        (LeadStatus::Merged, Some(survivor.id))
    );
    let kept = store
        .lead(survivor.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the survivor is stored"));
    assert_eq!(
        kept.merged_from,
        [duplicate.id].into(),
        "the survivor records the merge"
    );
    assert_eq!(
        kept.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        vec!["exhibition", "follow-up"],
        "tags of both"
    );
    let summaries: Vec<String> = engine
        .activities(&crate::testing::root(), on(survivor.id))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|a| a.summary)
        .collect();
    assert_eq!(summaries.len(), 2, "both activities: {summaries:?}");
    assert!(summaries.contains(&"second call".to_owned()), "{summaries:?}");
    assert_eq!(
        engine
            .follow_ups(&crate::testing::root(), on(survivor.id))
            .await
            .map(|f| f.len())
            .ok(),
        Some(1),
        "the follow-up moved"
    );
    let comms = engine
        .communications_of(&crate::testing::root(), survivor.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(comms.iter().map(|c| c.id).collect::<Vec<_>>(), vec![received.id]);
    for (lead, what) in [(duplicate.id, "duplicate")] {
        assert_eq!(
            engine
                .activities(&crate::testing::root(), on(lead))
                .await
                .map(|a| a.len())
                .ok(),
            Some(0),
            "{what}"
        );
        assert_eq!(
            engine
                .follow_ups(&crate::testing::root(), on(lead))
                .await
                .map(|a| a.len())
                .ok(),
            Some(0),
            "{what}"
        );
        assert_eq!(
            engine
                .communications_of(&crate::testing::root(), lead)
                .await
                .map(|a| a.len())
                .ok(),
            Some(0),
            "{what}"
        );
    }
    // Both histories say so.
    let last = |h: Vec<crate::domain::history::HistoryEntry>| h.last().cloned();
    let dup_entry = last(store.history(EntityRef::lead(duplicate.id)).await.unwrap_or_default())
        .unwrap_or_else(|| panic!("the duplicate has history"));
    assert_eq!(dup_entry.action, "merge_lead");
    assert!(dup_entry.change("merged_into").is_some(), "{dup_entry:?}");
    let kept_entry = last(store.history(EntityRef::lead(survivor.id)).await.unwrap_or_default())
        .unwrap_or_else(|| panic!("the survivor has history"));
    assert_eq!(kept_entry.action, "merge_lead");
    assert!(kept_entry.change("merged_from").is_some(), "{kept_entry:?}");
    assert!(kept_entry.change("tags").is_some(), "{kept_entry:?}");
    // The survivor's history carries the duplicate's past.
    let history = engine
        .lead_history(&crate::testing::root(), survivor.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let own = store
        .history(EntityRef::lead(survivor.id))
        .await
        .unwrap_or_default()
        .len();
    let theirs = store
        .history(EntityRef::lead(duplicate.id))
        .await
        .unwrap_or_default()
        .len();
    assert_eq!(history.len(), own + theirs, "both leads' entries");
    assert!(
        history
            .iter()
            .any(|h| h.entity == EntityRef::lead(duplicate.id) && h.action == "create_lead"),
        "the duplicate's creation is in the survivor's history"
    );
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");
}
