//! The conformance suite's self-test against the in-memory store: the storage
//! contract and the smoke scenarios every backend runs, and every domain scenario.
#![cfg(feature = "testing")]

crcm_core::conformance_tests!(crcm_core::testing::MemoryFactory);
crcm_core::domain_scenarios!(crcm_core::testing::MemoryFactory);

/// The JSON command fuzz run (see `crcm_core::testing::fuzz`).
#[test]
fn json_fuzz() {
    crcm_core::testing::fuzz::run_json_fuzz(std::sync::Arc::new(crcm_core::testing::MemoryFactory), 3000);
}
