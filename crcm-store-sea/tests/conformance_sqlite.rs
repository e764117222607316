//! The whole conformance suite of crcm-core on Sqlite.

mod common;

crcm_core::conformance_tests!(common::SqlFactory::new(common::Server::Sqlite));

/// The JSON command fuzz run (see `crcm_core::testing::fuzz`), bounded for CI.
#[test]
fn json_fuzz() {
    crcm_core::testing::fuzz::run_json_fuzz(
        std::sync::Arc::new(common::SqlFactory::new(common::Server::Sqlite)),
        1500,
    );
}
