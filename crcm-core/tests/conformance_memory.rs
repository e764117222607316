//! The conformance suite's self-test against the in-memory store: the storage
//! contract and the smoke scenarios every backend runs, and every domain scenario.
#![cfg(feature = "testing")]

crcm_core::conformance_tests!(crcm_core::testing::MemoryFactory);
crcm_core::domain_scenarios!(crcm_core::testing::MemoryFactory);
