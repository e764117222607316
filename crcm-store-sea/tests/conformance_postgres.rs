//! The whole conformance suite of crcm-core on Postgres.

mod common;

crcm_core::conformance_tests!(common::SqlFactory::new(common::Server::Postgres));
