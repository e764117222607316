//! The whole conformance suite of crcm-core on Mysql.

mod common;

crcm_core::conformance_tests!(
    common::SqlFactory::new(common::Server::Mysql);
    #[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
);
