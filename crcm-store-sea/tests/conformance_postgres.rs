//! The whole conformance suite of crcm-core on Postgres.

mod common;

crcm_core::conformance_tests!(
    common::SqlFactory::new(common::Server::Postgres);
    #[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
);

/// The JSON command fuzz run (see `crcm_core::testing::fuzz`), run by hand:
/// `cargo test -p crcm-store-sea --all-features --test conformance_postgres json_fuzz -- --ignored --nocapture`.
#[test]
#[ignore = "by hand (CI runs the fuzz on sled and SQLite)"]
fn json_fuzz() {
    crcm_core::testing::fuzz::run_json_fuzz(
        std::sync::Arc::new(common::SqlFactory::new(common::Server::Postgres)),
        1500,
    );
}
