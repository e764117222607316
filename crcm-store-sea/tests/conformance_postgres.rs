//! The whole conformance suite of crcm-core on Postgres.

mod common;

crcm_core::conformance_tests!(
    common::SqlFactory::new(common::Server::Postgres);
    #[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
);
