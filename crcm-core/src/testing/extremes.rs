//! Hardening on every backend. Extreme input: values past a bound are
//! refused with a typed error and change nothing; values at the bound are
//! stored, and every sum over them (board cells, grouped tallies, forecasts)
//! is exact, also where it no longer fits 64 bits; reads with extreme
//! parameters answer instead of panicking. Filters and cursors mean the same
//! on every backend, and a bulk action racing a writer acts on the set it
//! started with.

use std::sync::Arc;

use chrono::NaiveDate;

use super::conformance::{b2b, code, create, exec, qualify, refuse, usd};
use super::{AllLeads, StoreFactory, ann, bob, fixture_engine, maria};
use crate::domain::activity::Subject;
use crate::domain::input::{DealDraft, LeadPatch, NewLead};
use crate::domain::limits;
use crate::domain::money::{Money, MoneySum};
use crate::engine::Engine;
use crate::engine::board::BoardQuery;
use crate::engine::commands::{self, Command};
use crate::engine::query::{LeadQuery, LeadSort};
use crate::engine::reports::Interval;
use crate::rules::error::Error;
use crate::store::{LeadFilter, PageRequest};

/// How much of the store a refusal could have touched: every lead and the
/// event count.
async fn state(engine: &Engine) -> (Vec<crate::domain::lead::Lead>, usize) {
    let leads = engine
        .lead_list(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let events = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default()
        .len();
    (leads, events)
}

fn assert_code(e: &Error, name: &str, what: &str) {
    assert_eq!(e.code().name, name, "{what}: {e}");
}

fn past(minor: i64) -> Money {
    Money { minor, ..usd(0) }
}

/// Amounts above [`limits::AMOUNT`], dates outside
/// [`limits::DATE_MIN`]..=[`limits::DATE_MAX`] and day counts above
/// [`limits::DAYS`] are refused everywhere they enter and change nothing; at
/// the bounds they are stored, a board cell of three maximal leads and a
/// forecast of 93 maximal deals at 100 % (whose weighted sum in hundredths,
/// 9.3 × 10^18, passes `i64::MAX`) are exact, follow-ups at both date bounds
/// order as dates (one is overdue), and sorting by value keeps every lead.
pub async fn extreme_values_are_refused_or_summed_exactly(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let max = limits::AMOUNT;
    let before = state(&engine).await;
    // Amounts past the bound, as a new lead's revenue and in an edit.
    for minor in [max + 1, i64::MAX / 2 + 1, i64::MAX] {
        let mut input = b2b("Max", "Overflow");
        input.expected_revenue = Some(past(minor));
        let e = refuse(
            &engine,
            &ann(),
            Command::CreateLead(commands::CreateLead { lead: input }),
        )
        .await;
        assert_code(&e, "out_of_range", "revenue past the bound");
    }
    // Dates outside the range.
    let out_of_range = [
        NaiveDate::MIN,
        NaiveDate::MAX,
        limits::DATE_MIN.pred_opt().unwrap_or(NaiveDate::MIN),
        limits::DATE_MAX.succ_opt().unwrap_or(NaiveDate::MAX),
    ];
    for date in out_of_range {
        let mut input = b2b("Date", "Overflow");
        input.expected_close = Some(date);
        let e = refuse(
            &engine,
            &ann(),
            Command::CreateLead(commands::CreateLead { lead: input }),
        )
        .await;
        assert_code(&e, "out_of_range", "expected close out of range");
    }
    assert_eq!(state(&engine).await, before, "refused creates change nothing");

    let lead = create(&engine, &ann(), b2b("Edge", "Bound")).await;
    let before = state(&engine).await;
    for patch in [
        LeadPatch {
            expected_revenue: Some(Some(past(i64::MAX))),
            ..LeadPatch::default()
        },
        LeadPatch {
            expected_close: Some(Some(NaiveDate::MAX)),
            ..LeadPatch::default()
        },
    ] {
        let e = refuse(
            &engine,
            &ann(),
            Command::UpdateLead(commands::UpdateLead { lead: lead.id, patch }),
        )
        .await;
        assert_code(&e, "out_of_range", "edit out of range");
    }
    for due in out_of_range {
        let e = refuse(
            &engine,
            &ann(),
            Command::ScheduleFollowUp(commands::ScheduleFollowUp {
                subject: Subject::Lead(lead.id),
                due,
                note: "someday".into(),
                assignee: None,
            }),
        )
        .await;
        assert_code(&e, "out_of_range", "follow-up due out of range");
    }
    // A rot period of u32::MAX days is a configuration problem.
    let (mut config, version) = engine.config().await.unwrap_or_else(|e| panic!("{e}"));
    config.phases[0].rot_after_days = Some(u32::MAX);
    let e = refuse(
        &engine,
        &maria(),
        Command::SetConfig(commands::SetConfig {
            config,
            expected_version: Some(version),
        }),
    )
    .await;
    assert_code(&e, "config_invalid", "rot_after_days past the bound");
    assert_eq!(state(&engine).await, before, "refused edits change nothing");
    // Reads with day counts past the bound are refused, not a panic.
    let e = engine
        .leads(
            &crate::testing::root(),
            &LeadQuery {
                min_days_in_phase: Some(u32::MAX),
                ..LeadQuery::default()
            },
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("min_days_in_phase u32::MAX must be refused"));
    assert_code(&e, "out_of_range", "min_days_in_phase");
    let e = engine
        .report_stuck(&crate::testing::root(), u32::MAX, &PageRequest::default())
        .await
        .err()
        .unwrap_or_else(|| panic!("report_stuck(u32::MAX) must be refused"));
    assert_code(&e, "out_of_range", "report_stuck");
    // An interval past the calendar's end is open, not a panic.
    let open = Interval::days(engine.now(), i64::MAX);
    assert_eq!(open.before, None);
    engine
        .report_sources(&crate::testing::root(), &open)
        .await
        .unwrap_or_else(|e| panic!("a report over an open interval: {e}"));
    let stuck = engine
        .report_stuck(&crate::testing::root(), limits::DAYS, &PageRequest::default())
        .await
        .unwrap_or_else(|e| panic!("report_stuck at the bound: {e}"));
    assert!(stuck.items.is_empty(), "no lead is 100 years in its phase");

    // At the bounds: three maximal leads in one board cell.
    let mut at_max = Vec::new();
    for name in ["Ada", "Bea", "Cid"] {
        let mut input: NewLead = b2b(name, "Max");
        input.expected_revenue = Some(usd(max));
        input.expected_close = Some(limits::DATE_MAX);
        at_max.push(create(&engine, &ann(), input).await);
    }
    let board = engine
        .board(&crate::testing::root(), &BoardQuery::new(code("b2b")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = &board.columns[0];
    assert_eq!(first.count, 4, "three maximal leads and one without revenue");
    assert_eq!(
        first.revenue,
        vec![MoneySum {
            minor: 3 * i128::from(max),
            currency: usd(0).currency
        }]
    );
    // The same figures through a grouped count (a board with a filter).
    let mut filtered = BoardQuery::new(code("b2b"));
    filtered.filter.owner = Some(ann().user);
    let filtered = engine
        .board(&crate::testing::root(), &filtered)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(filtered.columns[0].revenue, first.revenue, "tally and cells agree");
    // Sorted by value either way: every lead, once.
    let all = engine
        .lead_list(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for descending in [true, false] {
        let page = engine
            .leads(
                &crate::testing::root(),
                &LeadQuery {
                    sort: LeadSort::Value,
                    descending,
                    page: PageRequest {
                        limit: 100,
                        ..PageRequest::default()
                    },
                    ..LeadQuery::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.items.len(), all.len(), "sorted by value (descending {descending})");
        let maximal = page
            .items
            .iter()
            .filter(|l| l.expected_revenue == Some(usd(max)))
            .count();
        assert_eq!(maximal, 3, "the maximal leads are listed once each");
    }

    // 93 maximal deals at 100 %: a weighted sum past 64 bits.
    let (_, _, first_deal) = qualify(&engine, &ann(), at_max[0].id).await;
    let mut deals = 0;
    for _ in 0..93 {
        let deal = engine
            .run(
                &ann(),
                commands::OpenDeal {
                    lead: at_max[0].id,
                    pipeline: None,
                    deal: DealDraft {
                        value: Some(usd(max)),
                        ..DealDraft::default()
                    },
                },
            )
            .await
            .unwrap_or_else(|e| panic!("open_deal: {e}"));
        exec(
            &engine,
            &ann(),
            Command::SetDealProbability(commands::SetDealProbability {
                deal: deal.deal.id,
                probability: Some(100),
            }),
        )
        .await;
        deals += 1;
    }
    let total = MoneySum {
        minor: i128::from(max) * (deals + 1),
        currency: usd(0).currency,
    };
    // The deal from qualifying carries the lead's revenue at its stage's
    // probability (10 %).
    let weighted = MoneySum {
        minor: i128::from(max) * deals + i128::from(max) / 10,
        currency: usd(0).currency,
    };
    assert!(
        i128::from(max) * 100 * deals > i128::from(i64::MAX),
        "the weighted sum passes 64 bits"
    );
    let deal_board = engine
        .deal_board(&crate::testing::root(), &first_deal.pipeline, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let column = deal_board
        .columns
        .iter()
        .find(|c| c.stage == first_deal.stage)
        .unwrap_or_else(|| panic!("the first stage is on the deal board"));
    assert_eq!(column.count, 94);
    assert_eq!(
        (column.value.clone(), column.weighted.clone()),
        (vec![total], vec![weighted])
    );
    let forecast = engine
        .report_forecast(&crate::testing::root(), Some(&first_deal.pipeline))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let row = forecast
        .iter()
        .find(|r| r.stage == first_deal.stage)
        .unwrap_or_else(|| panic!("the first stage is forecast"));
    assert_eq!((row.value.clone(), row.weighted.clone()), (vec![total], vec![weighted]));

    // Follow-ups at both bounds order as dates: only the earliest is overdue.
    for due in [limits::DATE_MIN, limits::DATE_MAX, engine.now().date_naive()] {
        exec(
            &engine,
            &ann(),
            Command::ScheduleFollowUp(commands::ScheduleFollowUp {
                subject: Subject::Lead(at_max[1].id),
                due,
                note: "check".into(),
                assignee: None,
            }),
        )
        .await;
    }
    let workload = engine
        .report_workload(&crate::testing::root())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ann_row = workload
        .iter()
        .find(|r| r.owner == ann().user)
        .unwrap_or_else(|| panic!("ann has a workload row"));
    assert_eq!(
        ann_row.overdue_follow_ups, 1,
        "only the follow-up due in 1900 is past due"
    );
}

/// Filters compare exactly on every backend (MariaDB's PAD SPACE
/// collations would let `"north "` equal `"north"`), and a page cursor whose
/// parts do not belong together (one lead's number with another lead's id) is
/// `bad_cursor` rather than a page that silently skips a lead.
pub async fn filters_and_cursors_mean_the_same_everywhere(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut leads = Vec::new();
    for i in 1..=8 {
        let mut input = b2b(&format!("Lead{i}"), "Pad");
        input.zone = "north".into();
        input.email = Some(format!("case.mail{i}@example.com"));
        leads.push(create(&engine, &ann(), input).await);
    }
    let count = |filter: LeadFilter| {
        let engine = &engine;
        async move { engine.lead_list(&filter).await.unwrap_or_else(|e| panic!("{e}")).len() }
    };
    for (zone, want) in [("north", 8), ("north ", 0), ("north  ", 0), (" north", 0)] {
        let filter = LeadFilter {
            zone: Some(zone.into()),
            ..LeadFilter::default()
        };
        assert_eq!(count(filter).await, want, "zone {zone:?}");
    }
    for (email, want) in [("case.mail1@example.com", 1), ("case.mail1@example.com ", 0)] {
        let filter = LeadFilter {
            email: Some(email.into()),
            ..LeadFilter::default()
        };
        assert_eq!(count(filter).await, want, "e-mail {email:?}");
    }
    // Numbers descending: a genuine cursor after lead 8 continues at 7; one
    // with lead 7's number and lead 8's id is refused.
    let query = |after| LeadQuery {
        sort: LeadSort::Number,
        descending: true,
        page: PageRequest {
            after,
            limit: 2,
            ..PageRequest::default()
        },
        ..LeadQuery::default()
    };
    let first = engine
        .leads(&crate::testing::root(), &query(None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<u64> = first.items.iter().map(|l| l.number).collect();
    assert_eq!(numbers, [8, 7]);
    let second = engine
        .leads(&crate::testing::root(), &query(first.next))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.items.iter().map(|l| l.number).collect::<Vec<_>>(), [6, 5]);
    // The query's own binding, at lead 7's number with lead 8's id.
    let forged = first.next.map(|c| c.at(7, leads[7].id.0));
    let e = engine
        .leads(&crate::testing::root(), &query(forged))
        .await
        .err()
        .unwrap_or_else(|| panic!("a forged cursor must be refused"));
    assert_code(&e, "bad_cursor", "lead 7's number with lead 8's id");
}

/// A bulk action over a query sorted by `updated`, descending, while another
/// task edits the matching leads (moving them in that order) and creates new
/// ones: every lead that matched at the start is acted on exactly once, and
/// none created after the start. The test checks that the writer really
/// changed leads while the action ran.
pub async fn bulk_over_a_query_acts_on_the_set_at_the_start(factory: Arc<dyn StoreFactory>) {
    use crate::engine::bulk::{BulkAction, BulkTarget};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let engine = fixture_engine(&*factory).await;
    let mut initial = std::collections::BTreeSet::new();
    for i in 0..120 {
        initial.insert(create(&engine, &ann(), b2b(&format!("Bulk{i}"), "Snapshot")).await.id);
    }
    let ids: Vec<_> = initial.iter().copied().collect();
    let stop = Arc::new(AtomicBool::new(false));
    let edits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (engine, stop, edits) = (engine.clone(), Arc::clone(&stop), Arc::clone(&edits));
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let lead = ids[(i * 37) % ids.len()];
                let patch = LeadPatch {
                    description: Some(format!("edit {i}")),
                    ..LeadPatch::default()
                };
                if engine.run(&maria(), commands::UpdateLead { lead, patch }).await.is_ok() {
                    edits.fetch_add(1, Ordering::SeqCst);
                }
                if i.is_multiple_of(4)
                    && let Ok(l) = engine
                        .run(
                            &ann(),
                            commands::CreateLead {
                                lead: b2b(&format!("Late{i}"), "Snapshot"),
                            },
                        )
                        .await
                {
                    created.push(l.id);
                }
                i += 1;
                tokio::task::yield_now().await;
            }
            created
        })
    };
    // Let the writer get going before the action starts.
    while edits.load(Ordering::SeqCst) < 5 {
        tokio::task::yield_now().await;
    }
    let started_edits = edits.load(Ordering::SeqCst);
    let query = LeadQuery {
        sort: LeadSort::Updated,
        descending: true,
        page: PageRequest {
            limit: 7,
            ..PageRequest::default()
        },
        ..LeadQuery::default()
    };
    let report = engine
        .bulk(
            &maria(),
            &BulkTarget::Query { query },
            &BulkAction::Reassign { owner: bob().user },
        )
        .await
        .unwrap_or_else(|e| panic!("bulk: {e}"));
    let during = edits.load(Ordering::SeqCst) - started_edits;
    stop.store(true, Ordering::SeqCst);
    let created = writer.await.unwrap_or_else(|e| panic!("writer: {e}"));
    assert!(
        during > 0,
        "the writer edited no lead while the action ran: nothing contended"
    );
    let as_of = report
        .as_of
        .unwrap_or_else(|| panic!("a query's report says when its set was taken"));
    let acted: Vec<_> = report.items.iter().map(|i| i.lead).collect();
    let unique: std::collections::BTreeSet<_> = acted.iter().copied().collect();
    assert_eq!(unique.len(), acted.len(), "a lead was acted on twice");
    // The set at the start: every lead created by then (the query matches
    // all of them, and no edit makes one stop matching).
    let all = engine
        .lead_list(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let want: std::collections::BTreeSet<_> = all.iter().filter(|l| l.created_at <= as_of).map(|l| l.id).collect();
    assert!(
        initial.is_subset(&unique),
        "every lead that matched at the start is acted on"
    );
    assert!(unique.is_subset(&want), "no lead created after the start is acted on");
    // The writer creates one lead at a time: at most the one whose create
    // was under way as the action started may be missing.
    assert!(
        want.len() - unique.len() <= 1,
        "acted on {} leads, {} matched at the start",
        unique.len(),
        want.len()
    );
    let late = all.iter().filter(|l| l.created_at > as_of).count();
    println!(
        "bulk snapshot on {}: {} leads acted on once each, {during} concurrent edits, {} leads created by the writer, {late} of them after the start (not acted on)",
        engine.store().backend(),
        acted.len(),
        created.len(),
    );
}
