//! Property: leads exported to CSV import back unchanged. Whatever the
//! names, quotes, commas, line breaks, tags and custom values, exporting,
//! importing the file into an empty store and exporting again gives the same
//! bytes, and every lead of the file is imported.
#![cfg(feature = "testing")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use chrono::NaiveDate;
use crcm_core::domain::custom::CustomValue;
use crcm_core::engine::import::{ImportMapping, ImportMode, ImportOptions};
use crcm_core::testing::{MemoryFactory, ann, fixture_engine, root};
use crcm_core::{Code, Currency, LeadQuery, Money, NewLead, UserId, commands};
use proptest::prelude::*;

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Text with the characters CSV must quote: commas, quotes, line breaks,
/// spaces at the ends, letters beyond ASCII.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-zÀ-ÿ0-9 ,\"';\r\n-]{0,24}"
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-zÀ-ÿ' -]{0,14}"
}

prop_compose! {
    fn lead_input(i: usize)(
        first_name in name(),
        last_name in name(),
        company in text(),
        description in text(),
        city in "[A-Za-z ,]{0,10}",
        with_email in any::<bool>(),
        with_phone in any::<bool>(),
        source in proptest::option::of(proptest::sample::select(vec!["web_form", "referral", "cold_call"])),
        priority in proptest::option::of(proptest::sample::select(vec!["urgent", "low", "none"])),
        tags in proptest::sample::subsequence(vec!["exhibition", "follow-up"], 0..=2),
        probability in proptest::option::of(0u8..=100),
        close in proptest::option::of(0i64..2000),
        segment in proptest::option::of(proptest::sample::select(vec!["smb", "enterprise"])),
        budget_known in proptest::option::of(any::<bool>()),
        owner in proptest::sample::select(vec!["ann", "ben", "maria"]),
        revenue in proptest::option::of((0i64..10_000_000, proptest::sample::select(vec!["USD", "EUR", "JPY", "KWD"]))),
    ) -> NewLead {
        let mut custom = BTreeMap::new();
        if let Some(s) = segment {
            custom.insert(code("segment"), CustomValue::Choice(s.to_owned()));
        }
        if let Some(b) = budget_known {
            custom.insert(code("budget_known"), CustomValue::Bool(b));
        }
        NewLead {
            first_name,
            last_name,
            company,
            description,
            city,
            // Unique per lead: a shared e-mail or phone would make the
            // second lead a duplicate on import.
            email: with_email.then(|| format!("lead{i}@example.com")),
            phone: with_phone.then(|| format!("+1 212 555 {:04}", 100 + i)),
            source: source.map(code),
            priority: priority.map(code),
            tags: tags.into_iter().map(code).collect::<BTreeSet<_>>(),
            probability,
            expected_revenue: revenue.and_then(|(minor, c)| Money::new(minor, Currency::new(c).ok()?).ok()),
            expected_close: close.and_then(|d| NaiveDate::from_ymd_opt(2026, 1, 1).map(|s| s + chrono::Duration::days(d))),
            owner: UserId::new(owner).ok(),
            custom,
            account_type: Some(code("b2b")),
            ..NewLead::default()
        }
    }
}

fn leads() -> impl Strategy<Value = Vec<NewLead>> {
    (0usize..12).prop_flat_map(|n| (0..n).map(lead_input).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn export_imports_back_unchanged(inputs in leads()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let source = fixture_engine(&MemoryFactory).await;
            let mut created = 0u64;
            for lead in inputs {
                // Inputs the lead rule refuses (no name nor company) are not leads.
                if source.run(&root(), commands::CreateLead { lead }).await.is_ok() {
                    created += 1;
                }
            }
            let mut first = Vec::new();
            let written = source.export_leads(&crcm_core::testing::root(), &LeadQuery::default(), &mut first).await.unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(written, created);

            let target = fixture_engine(&MemoryFactory).await;
            let options = ImportOptions {
                mapping: ImportMapping { required: BTreeSet::new(), ..ImportMapping::default() },
                mode: ImportMode::AllOrNothing,
                account_type: Some(code("b2b")),
                batch_size: 5,
                ..ImportOptions::default()
            };
            let report = target
                .import_leads(&root(), Cursor::new(first.clone()), &options, &mut ())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(
                (report.imported, report.rejected, report.duplicates),
                (created, 0, 0),
                "{:?}", report.rejections
            );
            let mut second = Vec::new();
            target.export_leads(&crcm_core::testing::root(), &LeadQuery::default(), &mut second).await.unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(String::from_utf8_lossy(&second), String::from_utf8_lossy(&first));
            Ok(())
        })?;
    }
}

/// The importer's own owner: a sales person importing a file of someone
/// else's leads is refused per row, with the permission's reason.
#[test]
fn another_owner_needs_a_manager() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let engine = fixture_engine(&MemoryFactory).await;
        let file = "contact_name,owner\nAda,ann\nBen's lead,ben\n";
        let options = ImportOptions {
            mapping: ImportMapping {
                required: BTreeSet::new(),
                ..ImportMapping::default()
            },
            mode: ImportMode::SkipInvalid,
            account_type: Some(code("b2b")),
            ..ImportOptions::default()
        };
        let report = engine
            .import_leads(&ann(), Cursor::new(file), &options, &mut ())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.summary(), "imported 1, rejected 1, duplicates 0");
        let line = report.rejections[0].to_string();
        assert!(line.starts_with("line 3: "), "{line}");
        assert!(line.contains("needs the manager role"), "{line}");
    });
}
