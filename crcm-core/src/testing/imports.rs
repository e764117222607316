//! Import and export cases of the storage contract: a file of tricky rows
//! in both modes, an interrupted import resumed, an export that imports back
//! unchanged, and lead numbers reserved in blocks.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::conformance::{b2b, code, create};
use super::{StoreFactory, ann, fixture_engine, maria};
use crate::domain::failure::ImportFailure;
use crate::domain::ids::{ImportId, LeadId};
use crate::engine::Engine;
use crate::engine::import::{
    ImportField, ImportMapping, ImportMode, ImportObserver, ImportOptions, ImportProgress, ImportReport, RowDuplicate,
    RowRejection,
};
use crate::engine::query::LeadQuery;
use crate::rules::error::Error;
use crate::store::{LeadFilter, StoreExt};

/// A file with a BOM, CRLF line ends, quoted commas and newlines, bad
/// e-mails and phones, international formats, missing values, unknown
/// references, a bad custom value, duplicates and bytes that are not UTF-8.
pub const TRICKY_CSV: &[u8] = b"\xEF\xBB\xBFcontact_name,phone,source,company_name,email,priority,description,Segment\r\n\
Ada Lovelace,+44 20 7946 0958,Referral,Analytical Engines,ada@example.com,High,\"Met at the fair, wants a demo\",enterprise\r\n\
Grace Hopper,(212) 555-0143,web_form,Navy,grace@example.com,,\"Two lines:\r\nthe second, with a comma\",smb\r\n\
Bad Mail,+31 20 123 4567,Referral,,ada@@example,,,\r\n\
Bad Phone,12,Trade Show / Event,,,,,\r\n\
,,,Nobody Inc,,,,\r\n\
Carrier Pigeon,+49 30 901820,Pigeon Post,,,Sky-high,,mid-market\r\n\
Ada Again,+44 20 7946 0959,referral,,ADA@Example.COM,,,\r\n\
Grace Twin,+1 212-555-0143,REFERRAL,,,,,\r\n\
Jos\xE9 Latin1,+34 912 345 678,Referral,,,,,\r\n\
Brooke Brown,+1-212-555-0188 x208,Cold Call,,brooke@example.net,low,,\r\n\
Known Already,,Referral,,known@example.com,,,\r\n";

/// The refused rows of [`TRICKY_CSV`], as the report prints them: the line
/// each starts on and, after the quoted line break of line 3, its row as a
/// spreadsheet numbers it.
pub const TRICKY_REJECTIONS: [&str; 5] = [
    "line 5 (row 4): email: invalid e-mail address \"ada@@example\": Invalid character.",
    "line 6 (row 5): phone: invalid phone number \"12\": the number is too short after the country code",
    "line 7 (row 6): contact_name: missing required value; source: missing required value",
    "line 8 (row 7): source: unknown source \"Pigeon Post\" (one of web_form, phone_inquiry, email_campaign, referral, \
     partner, trade_show, social_media, cold_call, advertisement, other); priority: unknown priority \"Sky-high\" \
     (one of urgent, high, medium, low, none); segment: \"mid-market\" is not one of smb, enterprise",
    "line 11 (row 10): contact_name: not valid UTF-8",
];

fn options(mode: ImportMode) -> ImportOptions {
    ImportOptions {
        mode,
        account_type: Some(code("b2b")),
        // Phone is required by default; the last row has none, so relax it.
        mapping: ImportMapping::default().relax(&ImportField::Phone),
        ..ImportOptions::default()
    }
}

fn listed(report: &ImportReport) -> (Vec<String>, Vec<String>) {
    (
        report.rejections.iter().map(ToString::to_string).collect(),
        report.duplicate_rows.iter().map(ToString::to_string).collect(),
    )
}

async fn lead_count(engine: &Engine) -> u64 {
    engine
        .store()
        .count_leads(&LeadFilter::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn event_count(engine: &Engine) -> usize {
    engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .len()
}

/// Counts what an observer hears.
#[derive(Default)]
struct Heard {
    rejected: Vec<u64>,
    duplicates: Vec<u64>,
    progress: Vec<ImportProgress>,
}

impl ImportObserver for Heard {
    fn progress(&mut self, p: &ImportProgress) {
        self.progress.push(*p);
    }
    fn rejected(&mut self, row: &RowRejection) {
        self.rejected.push(row.line);
    }
    fn duplicate(&mut self, row: &RowDuplicate) {
        self.duplicates.push(row.line);
    }
}

/// Seed 001's CSV import on a file of tricky rows: the exact report in both
/// modes, and the store read back. All-or-nothing imports nothing because of
/// one bad row; skip-invalid imports the valid rows, once each.
pub async fn import_reports_every_row(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut known = b2b("Known", "Before");
    known.email = Some("known@example.com".into());
    let known = create(&engine, &ann(), known).await;
    let (leads_before, events_before) = (lead_count(&engine).await, event_count(&engine).await);
    let n = known.number;

    // A dry run, in either mode: every row checked as an import would check
    // it, duplicates in the file and in the store included; nothing written.
    for mode in [ImportMode::SkipInvalid, ImportMode::AllOrNothing] {
        let mut heard = Heard::default();
        let dry = ImportOptions {
            dry_run: true,
            ..options(mode)
        };
        let report = engine
            .import_leads(&ann(), Cursor::new(TRICKY_CSV), &dry, &mut heard)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (rejections, duplicates) = listed(&report);
        assert_eq!(rejections, TRICKY_REJECTIONS);
        assert_eq!(
            duplicates,
            [
                "line 9 (row 8): duplicate of line 2 (same email ada@example.com)".to_owned(),
                "line 10 (row 9): duplicate of line 3 (same phone +12125550143)".to_owned(),
                format!("line 13 (row 12): duplicate of lead {n} (same email known@example.com)"),
            ]
        );
        assert_eq!(
            (
                report.rows,
                report.accepted,
                report.imported,
                report.rejected,
                report.duplicates
            ),
            (11, 3, 0, 5, 3)
        );
        assert!(report.dry_run);
        assert_eq!(report.summary(), "dry run: would import 3, rejected 5, duplicates 3");
        assert_eq!((heard.rejected.len(), heard.duplicates), (5, vec![9, 10, 13]));
        assert_eq!(lead_count(&engine).await, leads_before, "a dry run writes no lead");
        assert_eq!(event_count(&engine).await, events_before, "a dry run writes no event");
    }

    // All or nothing: every row checked, nothing written.
    let mut heard = Heard::default();
    let report = engine
        .import_leads(
            &ann(),
            Cursor::new(TRICKY_CSV),
            &options(ImportMode::AllOrNothing),
            &mut heard,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rejections, duplicates) = listed(&report);
    assert_eq!(rejections, TRICKY_REJECTIONS);
    assert_eq!(duplicates.len(), 3, "the check counts duplicates too: {duplicates:?}");
    assert_eq!(
        (
            report.rows,
            report.accepted,
            report.imported,
            report.rejected,
            report.duplicates
        ),
        (11, 3, 0, 5, 3)
    );
    assert_eq!(report.summary(), "imported 0, rejected 5, duplicates 3");
    assert_eq!(heard.rejected, [5, 6, 7, 8, 11]);
    assert_eq!(
        lead_count(&engine).await,
        leads_before,
        "a refused all-or-nothing import writes nothing"
    );
    assert_eq!(event_count(&engine).await, events_before);

    // Skip invalid: the valid rows imported, the others reported.
    let mut heard = Heard::default();
    let report = engine
        .import_leads(
            &ann(),
            Cursor::new(TRICKY_CSV),
            &options(ImportMode::SkipInvalid),
            &mut heard,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rejections, duplicates) = listed(&report);
    assert_eq!(rejections, TRICKY_REJECTIONS);
    assert_eq!(
        duplicates,
        [
            format!(
                "line 9 (row 8): duplicate of lead {}, from line 2 (same email ada@example.com)",
                n + 1
            ),
            format!(
                "line 10 (row 9): duplicate of lead {}, from line 3 (same phone +12125550143)",
                n + 2
            ),
            format!("line 13 (row 12): duplicate of lead {n} (same email known@example.com)"),
        ]
    );
    assert_eq!(
        (report.rows, report.imported, report.rejected, report.duplicates),
        (11, 3, 5, 3)
    );
    assert_eq!(report.summary(), "imported 3, rejected 5, duplicates 3");
    assert_eq!(report.numbers, Some((n + 1, n + 3)));
    assert_eq!(heard.duplicates, [9, 10, 13]);
    let last = heard
        .progress
        .last()
        .copied()
        .unwrap_or_else(|| panic!("no progress heard"));
    assert_eq!((last.rows, last.imported), (11, 3));
    assert_eq!(last.bytes, TRICKY_CSV.len() as u64);

    // Read back: the rows as the manual's user typed them, normalized.
    assert_eq!(lead_count(&engine).await, leads_before + 3);
    let ada = engine
        .lead_by_number(&crate::testing::root(), n + 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ada.first_name.as_str(), ada.last_name.as_str()), ("Ada", "Lovelace"));
    assert_eq!(ada.phone.as_ref().map(|p| p.key()), Some("+442079460958"));
    assert_eq!(ada.source, Some(code("referral")));
    assert_eq!(ada.priority, Some(code("high")));
    assert_eq!(ada.description, "Met at the fair, wants a demo");
    assert_eq!(ada.owner, ann().user);
    let grace = engine
        .lead_by_number(&crate::testing::root(), n + 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(grace.description, "Two lines:\r\nthe second, with a comma");
    assert_eq!(grace.source, Some(code("web_form")));
    let brooke = engine
        .lead_by_number(&crate::testing::root(), n + 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(brooke.phone.as_ref().map(|p| p.key()), Some("+12125550188"));
    assert_eq!(brooke.priority, Some(code("low")));
    // Each lead has its history entry and LeadCreated event, as for a single create.
    let history = engine
        .lead_history(&crate::testing::root(), ada.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "import_leads");
    assert_eq!(event_count(&engine).await, events_before + 3);

    // The same file again: every valid row is now a duplicate.
    let report = engine
        .import_leads(
            &ann(),
            Cursor::new(TRICKY_CSV),
            &options(ImportMode::SkipInvalid),
            &mut (),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.summary(), "imported 0, rejected 5, duplicates 6");
    assert_eq!(lead_count(&engine).await, leads_before + 3);

    // Every reason of a row at once: the import's own (no name) and the lead
    // rule's on the rest (the e-mail), and nothing said twice.
    let file = b"contact_name,phone,source,email\n,+1 212 555 0199,Referral,@@@\n";
    let report = engine
        .import_leads(
            &ann(),
            Cursor::new(&file[..]),
            &options(ImportMode::SkipInvalid),
            &mut (),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rejections, _) = listed(&report);
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert!(
        rejections[0]
            .starts_with("line 2: contact_name: missing required value; email: invalid e-mail address \"@@@\""),
        "{rejections:?}"
    );
    assert_eq!(report.rejections[0].problems.len(), 2, "{rejections:?}");

    // Rows with neither e-mail nor phone: counted, for a rerun would repeat them.
    let keyless = b"contact_name,source,email\nNo Keys,Referral,\nNo Keys Either,Referral,\nHas Mail,Referral,has.mail@example.com\n";
    let report = engine
        .import_leads(
            &ann(),
            Cursor::new(&keyless[..]),
            &options(ImportMode::SkipInvalid),
            &mut (),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.imported, report.without_duplicate_key), (3, 2));
    assert_eq!(
        report.summary(),
        "imported 3, rejected 0, duplicates 0; 2 accepted rows have no e-mail or phone to recognise them by: a rerun would import them again"
    );
}

/// A file mapping refused before any row: unknown columns, a mapped column
/// the file lacks, nothing for a required field. Nothing is written.
pub async fn import_mapping_is_checked_first(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let file = b"Name,Telephone,Channel,Shoe size\nAda,+44 20 7946 0958,Referral,38\n";
    let run = |mapping: ImportMapping| {
        let engine = engine.clone();
        async move {
            let options = ImportOptions {
                mapping,
                account_type: Some(code("b2b")),
                ..ImportOptions::default()
            };
            engine
                .import_leads(&ann(), Cursor::new(&file[..]), &options, &mut ())
                .await
        }
    };
    match run(ImportMapping::default()).await {
        Err(Error::Import(ImportFailure::UnknownColumns { columns })) => {
            assert_eq!(columns, ["Name", "Telephone", "Channel", "Shoe size"]);
        }
        other => panic!("expected unknown columns, got {other:?}"),
    }
    let mapped = ImportMapping::default()
        .map("name", ImportField::ContactName)
        .map("TELEPHONE", ImportField::Phone)
        .map("Channel", ImportField::Source);
    match run(mapped.clone()).await {
        Err(Error::Import(ImportFailure::UnknownColumns { columns })) => assert_eq!(columns, ["Shoe size"]),
        other => panic!("expected unknown columns, got {other:?}"),
    }
    match run(mapped.clone().map("Hat size", ImportField::Zone)).await {
        Err(Error::Import(ImportFailure::NoSuchColumn { column })) => assert_eq!(column, "Hat size"),
        other => panic!("expected no such column, got {other:?}"),
    }
    let no_phone = ImportMapping::default()
        .map("Name", ImportField::ContactName)
        .ignore("Telephone")
        .constant(ImportField::Source, "Partner")
        .ignore_other_columns();
    match run(no_phone.clone()).await {
        Err(Error::Import(ImportFailure::MissingColumns { fields })) => assert_eq!(fields, ["phone"]),
        other => panic!("expected missing columns, got {other:?}"),
    }
    assert_eq!(lead_count(&engine).await, 0);
    // Relaxed, with the source from a constant, it imports.
    let report = run(no_phone.relax(&ImportField::Phone))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.summary(),
        "imported 1, rejected 0, duplicates 0; 1 accepted row has no e-mail or phone to recognise it by: \
         a rerun would import it again"
    );
    let lead = engine
        .lead_by_number(&crate::testing::root(), 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((lead.first_name.as_str(), lead.phone.is_none()), ("Ada", true));
    assert_eq!(lead.source, Some(code("partner")));
}

/// A migration from another system: each row names the phase its lead is
/// in (by code, description or a translated value). The lead moves there
/// through the phases before it, as the phase rule moves it, so the funnel
/// counts it in each; a closing phase takes its closing reason.
pub async fn import_places_leads_in_their_phase(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let file = "name,stage,why\n\
                Ada,Call appointment,\n\
                Ben,meeting,\n\
                Cy,QUOTE,\n\
                Di,Closed Won,Won\n\
                Ed,Closed - lost,competitor\n\
                Fay,Somewhere,\n";
    let options = ImportOptions {
        mapping: ImportMapping::default()
            .map("name", ImportField::ContactName)
            .map("stage", ImportField::Phase)
            .map("why", ImportField::ClosingReason)
            .translate(ImportField::Phase, "Closed Won", "WON")
            .constant(ImportField::Source, "referral")
            .relax(&ImportField::Phone),
        mode: ImportMode::SkipInvalid,
        account_type: Some(code("b2b")),
        ..ImportOptions::default()
    };
    let report = engine
        .import_leads(&ann(), Cursor::new(file), &options, &mut ())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rejections, _) = listed(&report);
    assert_eq!(
        rejections,
        ["line 7: phase: unknown phase \"Somewhere\" (one of CALL, MEETING, QUOTE, WON, LOST)"]
    );
    assert_eq!(
        (
            report.imported,
            report.rejected,
            report.duplicates,
            report.without_duplicate_key
        ),
        (5, 1, 0, 5)
    );
    let phases: Vec<(String, String, Option<String>, bool)> = all_leads(&engine)
        .await
        .iter()
        .map(|l| {
            (
                l.display_name(),
                l.phase.as_ref().map(|p| p.code.to_string()).unwrap_or_default(),
                l.closing_reason.as_ref().map(ToString::to_string),
                l.closed_at.is_some(),
            )
        })
        .collect();
    let row = |n: &str, p: &str, r: Option<&str>, closed| (n.to_owned(), p.to_owned(), r.map(str::to_owned), closed);
    assert_eq!(
        phases,
        [
            row("Ada", "CALL", None, false),
            row("Ben", "MEETING", None, false),
            row("Cy", "QUOTE", None, false),
            row("Di", "WON", Some("won"), true),
            row("Ed", "LOST", Some("competitor"), true),
        ]
    );
    // Di was created, then moved three times: four history entries, in one commit.
    let di = engine
        .lead_by_number(&crate::testing::root(), 4)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let history = engine
        .lead_history(&crate::testing::root(), di.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(di.version, 4);
    let funnel = engine
        .report_funnel(
            &crate::testing::root(),
            &code("b2b"),
            &crate::engine::reports::Interval::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reached: Vec<(String, u64)> = funnel.phases.iter().map(|r| (r.phase.to_string(), r.reached)).collect();
    let expected: Vec<(String, u64)> = [("CALL", 5), ("MEETING", 4), ("QUOTE", 3), ("WON", 1), ("LOST", 1)]
        .iter()
        .map(|(p, n)| ((*p).to_owned(), *n))
        .collect();
    assert_eq!(reached, expected);
}

/// A migration keeps the leads' history dates: a lead is created when the
/// file says, passes the phases before its own then and enters its own
/// when the file says (a closed one closes then); dates in the future,
/// before the creation, a close date for an open lead or one that is not
/// the date it entered its closing phase are refused, every reason at once.
/// History, time in phase, the trend and stuck leads read the dates.
pub async fn import_keeps_history_dates(factory: Arc<dyn StoreFactory>) {
    use crate::engine::reports::{Interval, TrendPeriod};
    use chrono::{DateTime, Datelike, TimeZone, Utc};
    let engine = fixture_engine(&*factory).await;
    let file = "name,stage,created,entered,closed,why\n\
                Ada,Call appointment,2025-01-10,,,\n\
                Ben,QUOTE,2025-01-10,2025-02-01T09:30:00Z,,\n\
                Di,Closed Won,2025-01-10 08:00,,2025-03-01,Won\n\
                Ed,LOST,,2025-02-15,,competitor\n\
                Fu,MEETING,2999-01-01,,,\n\
                Gil,QUOTE,2025-02-01,2025-01-01,,\n\
                Hal,MEETING,2025-01-01,,2025-02-01,\n\
                Ivy,WON,2025-01-01,2025-02-01,2025-03-01,Won\n\
                Jo,QUOTE,yesterday,,,\n";
    let options = ImportOptions {
        mapping: ImportMapping::default()
            .map("name", ImportField::ContactName)
            .map("stage", ImportField::Phase)
            .map("why", ImportField::ClosingReason)
            .map("created", ImportField::CreatedAt)
            .map("entered", ImportField::PhaseEnteredAt)
            .map("closed", ImportField::ClosedAt)
            .translate(ImportField::Phase, "Closed Won", "WON")
            .constant(ImportField::Source, "referral")
            .relax(&ImportField::Phone),
        mode: ImportMode::SkipInvalid,
        account_type: Some(code("b2b")),
        ..ImportOptions::default()
    };
    let report = engine
        .import_leads(&ann(), Cursor::new(file), &options, &mut ())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (rejections, _) = listed(&report);
    let rejections: Vec<String> = rejections
        .into_iter()
        .map(|r| match r.find("(the import runs at ") {
            Some(at) => format!("{}(the import runs at NOW)", &r[..at]),
            None => r,
        })
        .collect();
    assert_eq!(
        rejections,
        [
            "line 6: created_at: \"2999-01-01\" is in the future (the import runs at NOW)",
            "line 7: phase_entered_at: \"2025-01-01\" is before created_at 2025-02-01T00:00:00Z",
            "line 8: closed_at: \"2025-02-01\" is given, but the lead is open: its phase MEETING is not a closing phase",
            "line 9: closed_at: \"2025-03-01\" is not phase_entered_at 2025-02-01T00:00:00Z: a lead in a closing \
             phase closed when it entered it",
            "line 10: created_at: \"yesterday\" is not a date like 2016-10-20 or a time like 2016-10-20T09:30:00Z",
        ]
    );
    assert_eq!((report.imported, report.rejected), (4, 5), "{}", report.summary());

    let day = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap_or_default();
    let leads = all_leads(&engine).await;
    let lead = |name: &str| {
        leads
            .iter()
            .find(|l| l.first_name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} was imported"))
    };
    let to_second = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let dates = |name: &str| {
        let l = lead(name);
        (
            to_second(l.created_at),
            to_second(l.phase_entered_at),
            l.closed_at.map(to_second),
        )
    };
    let at = |y, m, d, h, min| to_second(day(y, m, d, h, min));
    assert_eq!(dates("Ada"), (at(2025, 1, 10, 0, 0), at(2025, 1, 10, 0, 0), None));
    assert_eq!(dates("Ben"), (at(2025, 1, 10, 0, 0), at(2025, 2, 1, 9, 30), None));
    assert_eq!(
        dates("Di"),
        (at(2025, 1, 10, 8, 0), at(2025, 3, 1, 0, 0), Some(at(2025, 3, 1, 0, 0)))
    );
    // No created date: the earliest date the row gives.
    assert_eq!(
        dates("Ed"),
        (
            at(2025, 2, 15, 0, 0),
            at(2025, 2, 15, 0, 0),
            Some(at(2025, 2, 15, 0, 0))
        )
    );
    // History is dated as the file says: created, moved on at creation, then
    // into its own phase when it entered it.
    let history = engine
        .lead_history(&crate::testing::root(), lead("Ben").id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        history.iter().map(|h| (h.version, to_second(h.at))).collect::<Vec<_>>(),
        [
            (1, at(2025, 1, 10, 0, 0)),
            (2, at(2025, 1, 10, 0, 0)),
            (3, at(2025, 2, 1, 9, 30))
        ]
    );

    // Time in phase: Di waited in QUOTE from its creation to its close
    // (1,192 hours), Ed none; Ben is still there.
    let times = engine
        .report_time_in_phase(&crate::testing::root(), &code("b2b"), &Interval::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let quote = times
        .iter()
        .find(|r| r.phase.as_str() == "QUOTE")
        .unwrap_or_else(|| panic!("{times:?}"));
    assert_eq!(quote.stays, 2, "{times:?}");
    assert!(
        (quote.average_hours - 1192.0 / 2.0).abs() < 0.01,
        "Di's 1,192 hours and Ed's none: {times:?}"
    );
    // The trend counts them in the months the file gives.
    let trend = engine
        .report_trend(
            &crate::testing::root(),
            &Interval {
                from: Some(day(2025, 1, 1, 0, 0)),
                before: Some(day(2025, 4, 1, 0, 0)),
            },
            TrendPeriod::Month,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        trend
            .iter()
            .map(|r| (r.from.month(), r.created, r.closed))
            .collect::<Vec<_>>(),
        [(1, 3, 0), (2, 1, 1), (3, 0, 1)]
    );
    // Stuck: Ada and Ben have been in their phases since 2025.
    let stuck = engine
        .report_stuck(
            &crate::testing::root(),
            300,
            &crate::store::query::PageRequest::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = stuck.items.iter().map(|l| l.first_name.clone()).collect();
    names.sort();
    assert_eq!(names, ["Ada", "Ben"]);
}

/// Each imported lead knows its import and the version the import left it
/// at; reverting the import deletes the leads nobody touched since (with
/// history and events) and keeps the others with the reason: one edited
/// (`lead_changed`), one with an activity (`lead_has_links`). Leads of
/// another import and leads created by hand stay; a sales person may not
/// revert (nothing changes); a second revert finds only the leads it kept.
pub async fn import_reverts_what_nobody_touched(factory: Arc<dyn StoreFactory>) {
    use crate::domain::activity::{ActivityKind, Subject};
    use crate::domain::lead::ImportOrigin;
    use crate::engine::commands::{self, Command};
    let engine = fixture_engine(&*factory).await;
    let import = |file: &'static str, id: ImportId| {
        let engine = engine.clone();
        async move {
            let options = ImportOptions {
                mapping: ImportMapping::default()
                    .map("name", ImportField::ContactName)
                    .map("stage", ImportField::Phase)
                    .constant(ImportField::Source, "referral")
                    .relax(&ImportField::Phone),
                mode: ImportMode::SkipInvalid,
                account_type: Some(code("b2b")),
                id,
                ..ImportOptions::default()
            };
            engine
                .import_leads(&ann(), Cursor::new(file.as_bytes()), &options, &mut ())
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let first = ImportId::new();
    let other = ImportId::new();
    let report = import("name,stage\nAda,QUOTE\nBen,\nCy,\nDi,MEETING\n", first).await;
    assert_eq!(report.imported, 4, "{}", report.summary());
    import("name,stage\nEve,\n", other).await;
    let by_hand = create(&engine, &ann(), b2b("Fay", "Handmade")).await;
    let named = |name: &str| {
        let engine = engine.clone();
        let name = name.to_owned();
        async move {
            all_leads(&engine)
                .await
                .into_iter()
                .find(|l| l.first_name == name)
                .unwrap_or_else(|| panic!("{name} is there"))
        }
    };
    // Ada was created and moved twice (CALL, MEETING, QUOTE): version 3.
    let ada = named("Ada").await;
    assert_eq!(ada.import, Some(ImportOrigin { id: first, version: 3 }));
    assert_eq!(named("Eve").await.import.map(|o| o.id), Some(other));
    assert_eq!(by_hand.import, None);
    let filtered = engine
        .store()
        .count_leads(&LeadFilter {
            import: Some(first),
            ..LeadFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(filtered, 4, "the import filter finds the import's leads");

    // Ben is edited and Cy gets an activity after the import.
    let ben = named("Ben").await;
    let cy = named("Cy").await;
    let di = named("Di").await;
    engine
        .execute(
            &ann(),
            Command::UpdateLead(commands::UpdateLead {
                lead: ben.id,
                patch: crate::domain::input::LeadPatch {
                    company: Some("Bigger".into()),
                    ..crate::domain::input::LeadPatch::default()
                },
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .execute(
            &ann(),
            Command::LogActivity(commands::LogActivity {
                subject: Subject::Lead(cy.id),
                kind: ActivityKind::Call,
                summary: "called".into(),
                body: String::new(),
                occurred_at: None,
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (leads_before, events_before) = (lead_count(&engine).await, event_count(&engine).await);
    let refused = engine.revert_import(&ann(), first).await;
    assert_eq!(
        refused.as_ref().err().map(|e| e.code().name),
        Some("permission_denied"),
        "{refused:?}"
    );
    assert_eq!(
        (lead_count(&engine).await, event_count(&engine).await),
        (leads_before, events_before),
        "a refused revert changes nothing"
    );

    let reverted = engine
        .revert_import(&crate::testing::root(), first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((reverted.removed, reverted.kept), (2, 2), "{}", reverted.summary());
    let kept: Vec<(u64, &str)> = reverted
        .kept_leads
        .iter()
        .map(|k| (k.number, k.error.name.as_str()))
        .collect();
    assert_eq!(kept, [(ben.number, "lead_changed"), (cy.number, "lead_has_links")]);
    let mut names: Vec<String> = all_leads(&engine).await.into_iter().map(|l| l.first_name).collect();
    names.sort();
    assert_eq!(names, ["Ben", "Cy", "Eve", "Fay"]);
    assert_eq!(lead_count(&engine).await, leads_before - 2);
    let events = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deleted: Vec<LeadId> = events
        .iter()
        .filter_map(|e| match &e.event {
            crate::domain::event::DomainEvent::LeadDeleted { lead, .. } => Some(*lead),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [ada.id, di.id]);
    let history = engine
        .store()
        .history(crate::domain::entity::EntityRef::lead(ada.id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        history.last().map(|h| (h.version, h.action.as_str())),
        Some((4, "delete_lead")),
        "the delete is in Ada's history"
    );

    let again = engine
        .revert_import(&crate::testing::root(), first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.removed, again.kept), (0, 2), "{}", again.summary());
}

/// A reader that fails after a number of bytes: an import interrupted
/// mid-file.
struct FailsAfter<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for FailsAfter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}

impl<R: Seek> Seek for FailsAfter<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A generated file of `rows` valid leads without contact data, numbered by
/// their name.
pub fn numbered_csv(rows: usize) -> Vec<u8> {
    let mut out = b"contact_name,source,description\n".to_vec();
    for i in 0..rows {
        out.extend_from_slice(format!("Row {i},referral,\"row {i}, generated\"\n").as_bytes());
    }
    out
}

/// An import interrupted mid-file leaves whole batches only; resumed with
/// its id, it imports the rest, every row exactly once.
pub async fn import_resumes_after_interruption(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let file = numbered_csv(250);
    let options = ImportOptions {
        mapping: ImportMapping::default().relax(&ImportField::Phone),
        account_type: Some(code("b2b")),
        mode: ImportMode::SkipInvalid,
        batch_size: 40,
        id: ImportId::new(),
        ..ImportOptions::default()
    };
    // The import reads the file once whole (its fingerprint), then its
    // rows: the disk goes away halfway through the rows.
    let broken = FailsAfter {
        inner: Cursor::new(file.clone()),
        left: file.len() + file.len() / 2,
    };
    let mut heard = Heard::default();
    match engine.import_leads(&ann(), broken, &options, &mut heard).await {
        Err(Error::Import(ImportFailure::Io { message })) => assert_eq!(message, "the disk went away"),
        other => panic!("expected the read to fail, got {other:?}"),
    }
    let committed = lead_count(&engine).await;
    assert!(committed > 0 && committed < 250, "interrupted mid-file: {committed}");
    assert_eq!(committed % 40, 0, "whole batches only: {committed}");
    assert_eq!(heard.progress.last().map(|p| p.imported), Some(committed));

    let resumed = ImportOptions {
        resume: true,
        ..options.clone()
    };
    // A resume must be the import that was interrupted: another batch size
    // or another file is refused before a row is written.
    let events = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default()
        .len();
    let other_layout = ImportOptions {
        batch_size: 50,
        ..resumed.clone()
    };
    let mut other_file = file.clone();
    other_file.extend_from_slice(b"Row extra,referral,added\n");
    for (what, bytes, opts) in [
        ("another batch size", file.clone(), &other_layout),
        ("another file", other_file, &resumed),
    ] {
        match engine.import_leads(&ann(), Cursor::new(bytes), opts, &mut ()).await {
            Err(Error::Import(ImportFailure::ResumeMismatch { committed: n, .. })) => {
                assert_eq!(n, committed / 40, "{what}: the batches committed");
            }
            other => panic!("{what}: expected ResumeMismatch, got {other:?}"),
        }
        assert_eq!(lead_count(&engine).await, committed, "{what}: nothing imported");
        assert_eq!(
            engine
                .events_since(&crate::testing::root(), 0, usize::MAX)
                .await
                .unwrap_or_default()
                .len(),
            events,
            "{what}: nothing written"
        );
    }
    let report = engine
        .import_leads(&ann(), Cursor::new(file.clone()), &resumed, &mut ())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.skipped, committed);
    assert_eq!(report.imported, 250 - committed);
    assert_eq!(lead_count(&engine).await, 250);
    // Every row once, in file order.
    let names: Vec<String> = all_leads(&engine).await.iter().map(|l| l.display_name()).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("Row {i}")).collect();
    assert_eq!(names, expected);
    // Resuming a finished import imports nothing more.
    let again = engine
        .import_leads(&ann(), Cursor::new(file), &resumed, &mut ())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.skipped, again.imported), (250, 0));

    // A caller that stops an import after its second batch: those batches
    // stay, the refusal says how far it got, and a resume finishes it.
    struct StopAfter(u32);
    impl ImportObserver for StopAfter {
        fn progress(&mut self, _: &ImportProgress) {
            self.0 = self.0.saturating_sub(1);
        }
        fn cancelled(&mut self) -> bool {
            self.0 == 0
        }
    }
    let stopped = ImportOptions {
        id: ImportId::new(),
        ..options.clone()
    };
    let second = numbered_csv(100);
    match engine
        .import_leads(&ann(), Cursor::new(second.clone()), &stopped, &mut StopAfter(2))
        .await
    {
        Err(e @ Error::Import(ImportFailure::Cancelled { .. })) => {
            assert_eq!(e.code().name, "import_cancelled");
            assert!(
                matches!(e, Error::Import(ImportFailure::Cancelled { id, imported: 80, rows: 80 }) if id == stopped.id),
                "{e:?}"
            );
        }
        other => panic!("expected the import to stop, got {other:?}"),
    }
    assert_eq!(lead_count(&engine).await, 330, "two batches of 40 stay");
    let finished = engine
        .import_leads(
            &ann(),
            Cursor::new(second),
            &ImportOptions {
                resume: true,
                ..stopped
            },
            &mut (),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((finished.skipped, finished.imported), (80, 20));
    assert_eq!(lead_count(&engine).await, 350);
}

async fn all_leads(engine: &Engine) -> Vec<crate::domain::lead::Lead> {
    let mut query = LeadQuery::default();
    let mut out = Vec::new();
    loop {
        let page = engine
            .leads(&crate::testing::root(), &query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        out.extend(page.items);
        match page.next {
            Some(next) => query.page.after = Some(next),
            None => return out,
        }
    }
}

/// A migration run again: leads carry their id in the source system, and
/// each import action keys on it. Create-only finds the leads again (no
/// second copy, even without e-mail or phone), update-only changes their
/// fields (with history) and refuses references no lead has,
/// create-or-update does both; a dry run counts what would change; a
/// single create with a reference a lead has is refused and writes nothing;
/// the reference is a filter.
pub async fn import_reruns_by_external_reference(factory: Arc<dyn StoreFactory>) {
    use crate::engine::import::ImportAction;
    let engine = fixture_engine(&*factory).await;
    let run = |file: &'static str, action: ImportAction, dry_run: bool| {
        let engine = engine.clone();
        async move {
            let options = ImportOptions {
                mapping: ImportMapping::default()
                    .relax(&ImportField::Phone)
                    .map("Prospect Id", ImportField::ExternalId)
                    .constant(ImportField::ExternalSystem, "legacy"),
                mode: ImportMode::SkipInvalid,
                account_type: Some(code("b2b")),
                action,
                dry_run,
                ..ImportOptions::default()
            };
            engine
                .import_leads(&ann(), Cursor::new(file.as_bytes()), &options, &mut ())
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let first = "contact_name,company_name,Prospect Id,source\n\
                 Ada Lovelace,Engines,p-1,Referral\n\
                 Grace Hopper,Navy,p-2,Referral\n\
                 Alan Turing,Bletchley,p-3,Referral\n";
    let report = run(first, ImportAction::CreateOnly, false).await;
    assert_eq!(
        (report.imported, report.without_duplicate_key),
        (3, 0),
        "a reference recognises a lead: {}",
        report.summary()
    );
    let ada = all_leads(&engine)
        .await
        .into_iter()
        .find(|l| l.first_name == "Ada")
        .unwrap_or_else(|| panic!("Ada was imported"));
    assert_eq!(
        ada.external_ref.as_ref().map(|r| r.key()),
        Some("legacy:p-1".to_owned())
    );

    // The same file again, create-only: every row a duplicate of its lead.
    let report = run(first, ImportAction::CreateOnly, false).await;
    assert_eq!(report.summary(), "imported 0, rejected 0, duplicates 3");
    assert_eq!(
        report.duplicate_rows[0].to_string(),
        format!(
            "line 2: duplicate of lead {} (same external_ref legacy:p-1)",
            ada.number
        )
    );
    assert_eq!(lead_count(&engine).await, 3);

    // Update-only: Ada's company changed, Grace's row the same, p-4 unknown.
    let second = "contact_name,company_name,Prospect Id,source\n\
                  Ada Lovelace,Analytical Engines,p-1,Referral\n\
                  Grace Hopper,Navy,p-2,Referral\n\
                  Joan Clarke,Hut 8,p-4,Referral\n";
    let dry = run(second, ImportAction::UpdateOnly, true).await;
    assert_eq!(
        dry.summary(),
        "dry run: would import 0, would update 1, rejected 1, duplicates 0"
    );
    let events_before = event_count(&engine).await;
    let report = run(second, ImportAction::UpdateOnly, false).await;
    assert_eq!(report.summary(), "imported 0, updated 1, rejected 1, duplicates 0");
    assert_eq!(
        report.rejections[0].to_string(),
        "line 4: external_id: no lead has the reference legacy:p-4 to update"
    );
    assert_eq!(lead_count(&engine).await, 3);
    assert_eq!(event_count(&engine).await, events_before + 1, "one LeadUpdated");
    let updated = engine
        .lead_by_number(&crate::testing::root(), ada.number)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(updated.company, "Analytical Engines");
    assert_eq!(updated.version, ada.version + 1);
    let history = engine
        .lead_history(&crate::testing::root(), ada.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let last = history.last().unwrap_or_else(|| panic!("history"));
    assert_eq!(last.action, "import_leads");
    assert_eq!(
        last.changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.clone(), c.new.clone()))
            .collect::<Vec<_>>(),
        [("company", "Engines".into(), "Analytical Engines".into())]
    );

    // Create-or-update: Ada and Grace unchanged now, Joan created.
    let report = run(second, ImportAction::CreateOrUpdate, false).await;
    assert_eq!(report.summary(), "imported 1, rejected 0, duplicates 0");
    assert_eq!(lead_count(&engine).await, 4);
    // Update-only without a reference column value: refused, not created.
    let report = run(
        "contact_name,company_name,Prospect Id,source\nNo Ref,Nowhere,,Referral\n",
        ImportAction::UpdateOnly,
        false,
    )
    .await;
    assert_eq!(report.rejected, 1, "{}", report.summary());
    // One reference twice in a file: the second row duplicates the first.
    let report = run(
        "contact_name,company_name,Prospect Id,source\nKay One,K,p-5,Referral\nKay Two,K,p-5,Referral\n",
        ImportAction::CreateOnly,
        false,
    )
    .await;
    assert_eq!((report.imported, report.duplicates), (1, 1), "{}", report.summary());
    assert_eq!(lead_count(&engine).await, 5);

    // A single create with a reference a lead has: refused, nothing written.
    let mut again = b2b("Grace", "Elsewhere");
    again.external_ref = Some(crate::domain::lead::ExternalRef {
        system: code("legacy"),
        id: "p-2".into(),
    });
    let (leads_before, events_before) = (lead_count(&engine).await, event_count(&engine).await);
    let e = engine
        .run(&ann(), crate::engine::commands::CreateLead { lead: again })
        .await
        .err();
    assert_eq!(e.as_ref().map(|e| e.code().name), Some("external_ref_taken"), "{e:?}");
    assert_eq!(
        (lead_count(&engine).await, event_count(&engine).await),
        (leads_before, events_before)
    );
    // The reference is a filter.
    let found = engine
        .leads(
            &crate::testing::root(),
            &LeadQuery {
                filter: LeadFilter {
                    external_ref: Some("legacy:p-2".into()),
                    ..LeadFilter::default()
                },
                ..LeadQuery::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.items.iter().map(|l| l.first_name.as_str()).collect::<Vec<_>>(),
        ["Grace"]
    );
}

/// Leads exported to CSV import into another store, and export from there
/// byte for byte the same.
pub async fn export_imports_back(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut a = b2b("Mary Ann", "Acme, Inc.");
    a.last_name = "Smith".into();
    a.email = Some("Mary@Example.com".into());
    a.phone = Some("+1-212-555-0188 x208".into());
    a.source = Some(code("referral"));
    a.priority = Some(code("urgent"));
    a.description = "Said: \"call me\"\nafter lunch".into();
    a.tags = [code("exhibition"), code("follow-up")].into_iter().collect();
    a.probability = Some(40);
    a.custom.insert(
        code("segment"),
        crate::domain::custom::CustomValue::Choice("smb".into()),
    );
    a.custom
        .insert(code("budget_known"), crate::domain::custom::CustomValue::Bool(true));
    create(&engine, &ann(), a).await;
    let mut b = b2b("", "Only A Company");
    b.last_name = String::new();
    b.owner = Some(maria().user);
    create(&engine, &super::root(), b).await;
    create(&engine, &ann(), b2b("Zoë", "Ünïcode GmbH")).await;

    let mut first = Vec::new();
    let written = engine
        .export_leads(&crate::testing::root(), &LeadQuery::default(), &mut first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, 3);
    let text = String::from_utf8(first.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.starts_with(
            "first_name,last_name,phone,source,company_name,email,address,city,state,priority,description,"
        ),
        "{text}"
    );
    assert!(
        // A cell a spreadsheet would run as a formula (a leading `+`) is
        // written as text; the import reads the apostrophe off again.
        text.contains("Mary Ann,Smith,'+1-212-555-0188 x208,referral,\"Acme, Inc.\",mary@example.com"),
        "{text}"
    );

    let other = fixture_engine(&*factory).await;
    let options = ImportOptions {
        mapping: ImportMapping {
            required: BTreeSet::new(),
            ..ImportMapping::default()
        },
        account_type: Some(code("b2b")),
        ..ImportOptions::default()
    };
    let report = other
        .import_leads(&super::root(), Cursor::new(first.clone()), &options, &mut ())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            report.imported,
            report.rejected,
            report.duplicates,
            report.without_duplicate_key
        ),
        (3, 0, 0, 2)
    );
    let mut second = Vec::new();
    other
        .export_leads(&crate::testing::root(), &LeadQuery::default(), &mut second)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&second), text);
}

/// Lead numbers reserved by concurrent callers never overlap, and a block
/// is consecutive.
pub async fn lead_numbers_are_reserved_in_blocks(factory: Arc<dyn StoreFactory>) {
    let store = factory.create().await.unwrap_or_else(|e| panic!("{e}"));
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25u64 {
                let count = 1 + (t + i) % 7;
                let first = store
                    .reserve_lead_numbers(count)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                got.extend(first..first + count);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let total = all.len();
    let distinct: BTreeSet<u64> = all.into_iter().collect();
    assert_eq!(distinct.len(), total, "a number was handed out twice");
    assert_eq!(distinct.first(), Some(&1));
    assert_eq!(
        distinct.last(),
        Some(&(total as u64)),
        "no number skipped without a failure"
    );
    assert_eq!(
        store.next_lead_number().await.unwrap_or_else(|e| panic!("{e}")),
        total as u64 + 1
    );
}
