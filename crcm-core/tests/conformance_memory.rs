//! The conformance suite's self-test: every case against the in-memory store.
#![cfg(feature = "testing")]

crcm_core::conformance_tests!(crcm_core::testing::MemoryFactory);
