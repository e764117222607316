//! The whole conformance suite of crcm-core on Sqlite.

mod common;

crcm_core::conformance_tests!(common::SqlFactory::new(common::Server::Sqlite));
