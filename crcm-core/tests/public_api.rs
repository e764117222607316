//! The public API of crcm-core, as a committed listing
//! (`crcm-core/public-api.txt`): every public module, item, field, enum
//! variant, trait item and method, with its signature. The test fails when
//! the surface changes and the listing was not updated with it, so a change
//! to what users and the C ABI build on is always a reviewed diff.
//! `CRCM_BLESS=1 cargo test -p crcm-core --all-features --test public_api`
//! rewrites the listing.
//!
//! The listing is read from the sources: items declared `pub` in modules
//! reachable through `pub mod` from the crate root (items in private
//! modules, `pub(crate)` items and `#[cfg(test)]` modules are not public),
//! each with the attributes that shape it: derives (a removed `Clone` or
//! `Deserialize` breaks users), `#[non_exhaustive]` and its serde form.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{module_of, rust_files};

/// The signature starting at `lines[i]`: joined until it opens a body or ends.
fn signature(lines: &[&str], i: usize) -> String {
    let mut sig = String::new();
    for line in &lines[i..=signature_end(lines, i)] {
        let t = line.trim();
        let glue = sig.is_empty() || sig.ends_with(['(', '<', '{']) || t.starts_with([')', '>', '}']);
        if !glue {
            sig.push(' ');
        }
        sig.push_str(t);
    }
    sig.trim_end_matches('{').trim_end().trim_end_matches(',').to_owned()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Where the signature starting at `lines[i]` ends.
fn signature_end(lines: &[&str], i: usize) -> usize {
    // A `use` list spans lines up to its `;`.
    let first = lines[i].trim_start();
    let is_use = first.starts_with("pub use ");
    // Fields and variants end with `,`; a function's parameters do too.
    let item_list = !is_use && !first.contains("fn ");
    (i..lines.len())
        .find(|&j| {
            let t = lines[j].trim_end();
            t.ends_with(';') || (!is_use && (t.ends_with('{') || t.ends_with('}'))) || (item_list && t.ends_with(','))
        })
        .unwrap_or(i)
}

/// The public lines of one file.
fn listing(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut skip_until: Option<usize> = None; // the indentation of the `}` that ends a skipped body
    let mut block: Option<(usize, String, bool)> = None; // (indent, name, list every line)
    let mut previous = "";
    // The attributes that shape an item's API (derives, serde forms,
    // non_exhaustive), listed with the item they stand on.
    let mut attributes: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        let ind = indent(line);
        i += 1;
        if let Some(close) = skip_until {
            if matches!(t, "}" | "}," | "};") && ind == close {
                skip_until = None;
            }
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        let prev = std::mem::replace(&mut previous, t);
        if let Some((bind, _, _)) = &block
            && (t == "}" || t == "};")
            && ind == *bind
        {
            block = None;
            continue;
        }
        let public = t.starts_with("pub ") && !t.starts_with("pub(");
        let opens = |at: usize| lines[signature_end(&lines, at)].trim_end().ends_with('{');
        if t.starts_with("#[") || t.starts_with("#![") {
            let shapes = ["#[derive(", "#[non_exhaustive]", "#[serde(", "#[repr("];
            if shapes.iter().any(|a| t.starts_with(a)) {
                attributes.push(t);
            }
            continue;
        }
        let with_attributes = |signature: String, attributes: &mut Vec<&str>| {
            let mut listed = attributes.join(" ");
            attributes.clear();
            if !listed.is_empty() {
                listed.push(' ');
            }
            listed + &signature
        };
        if let Some((bind, name, all)) = &block {
            if ind == bind + 4 {
                let is_variant = name.starts_with("enum ") && t.starts_with(|c: char| c.is_ascii_uppercase());
                let is_trait_item = name.starts_with("trait ")
                    && ["fn ", "async fn ", "type ", "const "].iter().any(|k| t.starts_with(k));
                if *all || public || is_variant || is_trait_item {
                    let listed = with_attributes(signature(&lines, i - 1), &mut attributes);
                    out.push(format!("{name}: {listed}"));
                }
                // A method or variant body: nothing in it is API.
                if !*all && opens(i - 1) {
                    skip_until = Some(ind);
                    i = signature_end(&lines, i - 1) + 1;
                }
            }
            attributes.clear();
            continue;
        }
        if prev == "#[cfg(test)]" && t.starts_with("mod ") && t.ends_with('{') {
            skip_until = Some(ind);
            continue;
        }
        if t.starts_with("impl") && opens(i - 1) {
            attributes.clear();
            let header = signature(&lines, i - 1);
            if header.contains(" for ") {
                out.push(header.clone());
            }
            block = Some((ind, header, false));
            i = signature_end(&lines, i - 1) + 1;
            continue;
        }
        if prev == "#[macro_export]" && t.starts_with("macro_rules!") {
            out.push(t.trim_end_matches('{').trim().to_owned());
            skip_until = Some(ind);
            continue;
        }
        // A macro invocation at the top (e.g. the error table): its lines are the items it makes.
        if ind == 0 && t.contains("! {") && !t.starts_with("macro_rules!") {
            block = Some((ind, t.trim_end_matches('{').trim().to_owned(), true));
            continue;
        }
        if ind == 0 && t.starts_with("for_each_command!(") {
            out.push(t.to_owned());
            continue;
        }
        if public {
            out.push(with_attributes(signature(&lines, i - 1), &mut attributes));
            let kind = ["pub enum ", "pub struct ", "pub trait "]
                .iter()
                .find(|k| t.starts_with(**k));
            if t.starts_with("pub mod ") {
                // An inline public module: its items follow, listed with the file's.
            } else if let Some(kind) = kind
                && opens(i - 1)
            {
                let kind = kind.trim_start_matches("pub ").trim_end();
                let name: String = t[4 + kind.len() + 1..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                block = Some((ind, format!("{kind} {name}"), false));
                i = signature_end(&lines, i - 1) + 1;
            } else if opens(i - 1) {
                skip_until = Some(ind);
                i = signature_end(&lines, i - 1) + 1;
            }
            continue;
        }
        attributes.clear();
        // A private item's body.
        if opens(i - 1) && !t.starts_with("mod ") && !t.starts_with('#') {
            skip_until = Some(ind);
            i = signature_end(&lines, i - 1) + 1;
        }
    }
    out
}

/// Which modules are reachable from the crate root through `pub mod`.
fn public_modules(src: &Path, files: &[PathBuf]) -> BTreeMap<Vec<String>, bool> {
    let mut declared: BTreeMap<Vec<String>, bool> = BTreeMap::new();
    for file in files {
        let me = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        let mut previous = "";
        for line in text.lines() {
            let t = line.trim();
            let child = |rest: &str| rest.trim_end_matches(';').to_owned();
            if indent(line) == 0 && t.ends_with(';') {
                let public = if let Some(rest) = t.strip_prefix("pub mod ") {
                    Some((child(rest), previous != "#[cfg(test)]"))
                } else {
                    t.strip_prefix("mod ").map(|rest| (child(rest), false))
                };
                if let Some((name, public)) = public {
                    let mut path = me.clone();
                    path.push(name);
                    declared.insert(path, public);
                }
            }
            previous = t;
        }
    }
    let mut reachable = BTreeMap::new();
    for file in files {
        let me = module_of(src, file);
        let ok = (1..=me.len()).all(|n| declared.get(&me[..n]).copied().unwrap_or(false));
        reachable.insert(me, ok);
    }
    reachable
}

#[test]
fn the_public_api_listing_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let reachable = public_modules(&src, &files);
    let mut text =
        String::from("# crcm-core public API (generated by tests/public_api.rs; CRCM_BLESS=1 rewrites it)\n");
    let mut items = 0;
    for file in &files {
        let me = module_of(&src, file);
        if !reachable.get(&me).copied().unwrap_or(false) {
            continue;
        }
        let body = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        let path = if me.is_empty() {
            "crcm_core".to_owned()
        } else {
            format!("crcm_core::{}", me.join("::"))
        };
        let list = listing(&body);
        if list.is_empty() {
            continue;
        }
        text.push_str(&format!("\n[{path}]\n"));
        for line in list {
            items += 1;
            text.push_str(&line);
            text.push('\n');
        }
    }
    assert!(items > 300, "only {items} public items found: the reader is broken");
    let path = root.join("public-api.txt");
    if std::env::var("CRCM_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        let old: Vec<&str> = committed.lines().collect();
        let new: Vec<&str> = text.lines().collect();
        let removed: Vec<&&str> = old.iter().filter(|l| !new.contains(l)).take(20).collect();
        let added: Vec<&&str> = new.iter().filter(|l| !old.contains(l)).take(20).collect();
        panic!(
            "the public API changed; review it and run with CRCM_BLESS=1 to update public-api.txt\n\
             removed: {removed:#?}\nadded: {added:#?}"
        );
    }
}
