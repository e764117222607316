//! The header and the status table are what cbindgen and crcm's error table
//! say they are, and every exported function sits inside the panic boundary.
//!
//! `CRCM_BLESS=1 cargo test -p crcm-ffi --test header` rewrites the header
//! and the status table after a reviewed change.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("CRCM_BLESS").is_some()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares `actual` with the committed file, or rewrites it when blessing.
fn check_file(path: &Path, actual: &str) {
    if bless() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = read(path);
    if committed != actual {
        let line = committed
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or(committed.lines().count().min(actual.lines().count()), |n| n);
        panic!(
            "{} is out of date from line {}: expected {:?}, generated {:?}; run CRCM_BLESS=1 cargo test -p crcm-ffi --test header",
            path.display(),
            line + 1,
            committed.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn the_header_is_what_cbindgen_generates() {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap_or_else(|e| panic!("{e}"));
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen: {e}"));
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap_or_else(|e| panic!("{e}"));
    check_file(&dir.join("include/crcm.h"), &generated);
}

#[test]
fn the_header_names_this_version_and_wire() {
    let header = read(&crate_dir().join("include/crcm.h"));
    for (name, value) in [
        ("CRCM_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR").to_owned()),
        ("CRCM_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR").to_owned()),
        ("CRCM_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH").to_owned()),
        ("CRCM_WIRE_VERSION", crcm::engine::api::WIRE_VERSION.to_string()),
    ] {
        let define = format!("#define {name} {value}\n");
        assert!(header.contains(&define), "the header lacks {define:?}");
    }
    // SAFETY: crcm_version returns a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(crcm_ffi::crcm_version()) };
    assert_eq!(version.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(crcm_ffi::crcm_wire_version(), crcm::engine::api::WIRE_VERSION);
}

/// The generated part of `src/status.rs`: one constant per row of crcm's
/// error table.
fn status_table() -> String {
    let mut out = String::new();
    for code in crcm::error::ERROR_CODES {
        let ident = code.name.to_ascii_uppercase();
        out.push_str(&format!(
            "/// {} `{}` ({}): {}\npub const CRCM_{ident}: crcm_status = {};\n",
            code.code, code.name, code.kind, code.meaning, code.code
        ));
    }
    out
}

#[test]
fn the_status_table_is_crcms_error_table() {
    let path = crate_dir().join("src/status.rs");
    let source = read(&path);
    let (head, rest) = source
        .split_once("// status-table:begin\n")
        .unwrap_or_else(|| panic!("status.rs has no status-table:begin"));
    let (_, tail) = rest
        .split_once("// status-table:end\n")
        .unwrap_or_else(|| panic!("status.rs has no status-table:end"));
    let expected = format!(
        "{head}// status-table:begin\n{}// status-table:end\n{tail}",
        status_table()
    );
    check_file(&path, &expected);
    // The ABI's own statuses keep to their range, apart from the core's.
    for (status, name) in [
        (crcm_ffi::status::CRCM_NULL_ARGUMENT, "null_argument"),
        (crcm_ffi::status::CRCM_INVALID_UTF8, "invalid_utf8"),
        (crcm_ffi::status::CRCM_INVALID_HANDLE, "invalid_handle"),
        (crcm_ffi::status::CRCM_PANIC, "panic"),
    ] {
        assert!((9001..=9099).contains(&status), "{name} = {status}");
        assert!(
            crcm::error::ERROR_CODES
                .iter()
                .all(|c| c.code != status && c.name != name)
        );
    }
}

/// Every exported function's body is the panic boundary, and nothing is
/// exported without `#[unsafe(no_mangle)]`'s neighbour `extern "C"`.
#[test]
fn every_exported_function_sits_inside_the_panic_boundary() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(crate_dir().join("src")).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let source = read(&path);
        let mut rest = source.as_str();
        while let Some(at) = rest.find("#[unsafe(no_mangle)]") {
            rest = &rest[at + "#[unsafe(no_mangle)]".len()..];
            let signature_end = rest.find('{').unwrap_or_else(|| panic!("{}: no body", path.display()));
            let signature = &rest[..signature_end];
            let name = signature
                .split("fn ")
                .nth(1)
                .and_then(|s| s.split('(').next())
                .unwrap_or_else(|| panic!("{}: no function after no_mangle", path.display()))
                .trim()
                .to_owned();
            assert!(signature.contains("extern \"C\" fn"), "{name} is not extern \"C\"");
            let body = rest[signature_end + 1..].trim_start();
            assert!(
                body.starts_with("boundary!(") || body.starts_with("boundary_or!("),
                "{name} in {} does not begin with the panic boundary",
                path.display()
            );
            checked.push(name);
        }
    }
    checked.sort();
    // Every function of the header was seen: none is exported another way.
    let header = read(&crate_dir().join("include/crcm.h"));
    let in_header: Vec<String> = header
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            if l.starts_with("//") || l.starts_with('#') {
                return None;
            }
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            (l.contains('(') && name.starts_with("crcm_") && !l.contains("typedef")).then(|| name.to_owned())
        })
        .collect();
    let mut in_header = in_header;
    in_header.sort();
    in_header.dedup();
    assert_eq!(checked, in_header, "exported functions vs the header's");
    assert!(checked.len() >= 14, "{checked:?}");
}
