//! `SeaStore::verify` finds a board cell or a phase step that drifted from
//! the records, and nothing in a consistent store.

mod common;

use common::{Server, SqlFactory, run};
use crcm_core::testing::{StoreFactory, ann, conformance, fixture_engine};
use crcm_store_sea::SeaStore;
use sea_orm::ConnectionTrait;

#[test]
fn verify_finds_drifted_cells_and_steps() {
    run(async {
        let factory = SqlFactory::new(Server::Sqlite);
        let engine = fixture_engine(&factory).await;
        let mut input = conformance::b2b("Ada", "Acme");
        let usd = crcm_core::Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
        input.expected_revenue = crcm_core::Money::new(12_345, usd).ok();
        engine
            .run(&ann(), crcm_core::commands::CreateLead { lead: input })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(factory.verify().await.ok(), Some(Vec::new()), "a consistent store");
        // Tamper with the first store's maintained figures.
        let problems = {
            let place = factory.places().into_iter().next().unwrap_or_else(|| panic!("a store"));
            let store = SeaStore::connect_with(&place.url, place.options)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for sql in [
                "UPDATE crcm_board SET value = value + 1",
                "DELETE FROM crcm_phase_steps",
            ] {
                store
                    .connection()
                    .execute_unprepared(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            store.verify().await.unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("board cell b2b/b2b/CALL/new/ann/USD"),
            "{problems:?}"
        );
        assert!(problems[1].contains("is missing"), "{problems:?}");
    });
}
