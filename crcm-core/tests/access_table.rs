//! The README's access table is the permission matrix the conformance suite
//! runs, and the matrix has a row for every command.
#![cfg(feature = "testing")]

use std::collections::BTreeSet;

use crcm_core::testing::permissions::{MATRIX, markdown};

const BEGIN: &str = "<!-- access-matrix:begin (generated from crcm-core/src/testing/permissions.rs) -->\n";
const END: &str = "<!-- access-matrix:end -->";

/// `CRCM_BLESS=1 cargo test -p crcm-core --features testing --test access_table`
/// rewrites the README's table from the matrix.
#[test]
fn readme_access_table_is_the_matrix() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    crcm_core::testing::generated_section(path, BEGIN, END, &markdown());
}

/// serde lists every variant of `Command` when it meets an unknown one: the
/// matrix must name each of them.
#[test]
fn every_command_has_a_row() {
    let commands = crcm_core::testing::tagged_variants::<crcm_core::Command>();
    let commands: BTreeSet<&str> = commands.iter().map(String::as_str).collect();
    let rows: BTreeSet<&str> = MATRIX.iter().map(|r| r.command).collect();
    assert_eq!(commands.len(), 32, "{commands:?}");
    assert_eq!(rows, commands, "every command has a row in the permission matrix");
}

const READ_BEGIN: &str = "<!-- read-matrix:begin (generated from crcm-core/src/testing/visibility.rs) -->\n";
const READ_END: &str = "<!-- read-matrix:end -->";

/// The README's read table is the read matrix.
#[test]
fn readme_read_table_is_the_read_matrix() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    crcm_core::testing::generated_section(path, READ_BEGIN, READ_END, &crcm_core::testing::visibility::markdown());
}

/// Every read of the request API has a row in the read matrix, except the
/// configuration (reference data everyone reads) and bulk, import and
/// revert_import, which are commands (a revert is the admin's delete of
/// each lead).
#[test]
fn every_read_has_a_row() {
    use crcm_core::engine::api::Body;
    use crcm_core::testing::visibility::READ_MATRIX;
    let commands: BTreeSet<&str> = MATRIX.iter().map(|r| r.command).collect();
    let reads: BTreeSet<&str> = Body::NAMES
        .iter()
        .copied()
        .filter(|n| !commands.contains(n) && !["get_config", "bulk", "import", "revert_import"].contains(n))
        .collect();
    let rows: BTreeSet<&str> = READ_MATRIX.iter().map(|r| r.request).collect();
    assert_eq!(rows, reads, "every read has a row in the read matrix");
}
