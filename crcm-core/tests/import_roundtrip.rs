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
        assert_eq!(
            report.summary(),
            "imported 1, rejected 1, duplicates 0; 1 accepted row has no e-mail or phone to recognise it by: \
             a rerun would import it again"
        );
        let line = report.rejections[0].to_string();
        assert!(line.starts_with("line 3: "), "{line}");
        assert!(line.contains("needs the manager role"), "{line}");
    });
}

/// Files as other tools write them: a semicolon file with labels for
/// headers, UTF-16 with a byte order mark, windows-1252 named by its label.
/// Each imports with the mapping it shows; the refused rows copy out with
/// their reasons, ready to import again.
#[test]
fn files_in_other_dialects_import_by_their_labels() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let engine = fixture_engine(&MemoryFactory).await;
        let options = ImportOptions {
            mode: ImportMode::SkipInvalid,
            account_type: Some(code("b2b")),
            ..ImportOptions::default()
        };
        let semicolons = "Contact Name;Phone Number;Lead Source;E-mail;Company\n\
                          Ada Lovelace;+44 20 7946 0958;Referral;ada@example.com;Engines\n\
                          Bad Row;+44 20 7946 0959;Pigeon;ada@@example;\n";
        let report = engine
            .import_leads(&ann(), Cursor::new(semicolons), &options, &mut ())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.delimiter, ';');
        assert_eq!(
            report.mapping_shown(),
            "Contact Name -> contact_name, Phone Number -> phone, Lead Source -> source, E-mail -> email, \
             Company -> company_name"
        );
        assert_eq!((report.imported, report.rejected), (1, 1));
        // Both reasons of the bad row, and the row copied out with them.
        let reasons: BTreeMap<u64, String> = report
            .rejections
            .iter()
            .map(|r| {
                let text: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
                (r.row, text.join("; "))
            })
            .collect();
        assert_eq!(report.rejections[0].problems.len(), 2, "{reasons:?}");
        let mut out = Vec::new();
        let written =
            crcm_core::engine::import::write_rows_with_reasons(Cursor::new(semicolons), &options, &reasons, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, 1);
        let out = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Contact Name;Phone Number;Lead Source;E-mail;Company;reason");
        assert!(
            lines[1].starts_with("Bad Row;+44 20 7946 0959;Pigeon;ada@@example;;\"source: unknown source"),
            "{out}"
        );

        // UTF-16 with its byte order mark, found without being named.
        let text = "contact_name,phone,source\nJosé Núñez,+34 912 345 678,Referral\n";
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let report = engine
            .import_leads(&ann(), Cursor::new(utf16), &options, &mut ())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.imported, report.encoding.as_str()), (1, "UTF-16LE"));

        // windows-1252, named: é is one byte.
        let latin = b"contact_name,phone,source\nRen\xE9e Dupr\xE9,+33 1 23 45 67 89,Referral\n";
        let report = engine
            .import_leads(
                &ann(),
                Cursor::new(&latin[..]),
                &ImportOptions {
                    encoding: Some("windows-1252".into()),
                    ..options.clone()
                },
                &mut (),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.imported, report.encoding.as_str()), (1, "windows-1252"));
        let found = engine
            .leads(
                &root(),
                &LeadQuery {
                    search: Some("renee dupre".into()),
                    ..LeadQuery::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.items.len(), 1);
        assert_eq!(found.items[0].first_name, "Renée");

        // A label no standard knows, and a delimiter that cannot be one.
        for (encoding, delimiter, code) in [
            (Some("klingon".to_owned()), None, "import_dialect"),
            (None, Some('é'), "import_dialect"),
            (None, Some('"'), "import_dialect"),
        ] {
            let e = engine
                .import_leads(
                    &ann(),
                    Cursor::new(text),
                    &ImportOptions {
                        encoding,
                        delimiter,
                        ..options.clone()
                    },
                    &mut (),
                )
                .await
                .err();
            assert_eq!(e.map(|e| e.code().name), Some(code));
        }
    });
}
