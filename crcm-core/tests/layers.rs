//! crcm-core's folders are its layers: `domain` < `store` < `rules` <
//! `engine` < `testing`. This test reads every source file, collects the
//! modules it refers to (`crate::layer::module` and `super::module` paths
//! outside comments), and checks that
//!
//! - a file refers only to its own layer and the layers below it, and
//! - the file-level reference graph has no cycle (so there is always a
//!   module a reader can learn first).
//!
//! A `mod.rs` declaring and re-exporting its children (`mod x;`,
//! `pub use x::*;`) is the module tree, not an import, and is not counted.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use support::{module_of, rust_files};

const LAYERS: [&str; 5] = ["domain", "store", "rules", "engine", "testing"];

/// The code of a file without comments (line and doc comments).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .filter(|line| !line.trim().is_empty())
}

/// Paths following `crate::` or `super::` in a line, as identifier lists.
fn paths_after<'a>(line: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        let tail = &rest[i + prefix.len()..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let mut path = Vec::new();
        for seg in tail.split("::") {
            let end = seg
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(seg.len());
            if end == 0 {
                break;
            }
            // `crate::name!`: an exported macro, which lives at the root.
            if seg[end..].starts_with('!') {
                path.clear();
                break;
            }
            path.push(&seg[..end]);
            if end != seg.len() {
                break;
            }
        }
        if !path.is_empty() {
            found.push(path);
        }
    }
    found
}

/// Resolves a path to the deepest known module it names.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| modules.contains(candidate))
}

#[test]
fn crcm_core_modules_form_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();

    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        for line in code_lines(&text) {
            let trimmed = line.trim_start();
            // The module tree: a parent declaring or re-exporting its children.
            if is_mod_rs
                && (trimmed.starts_with("mod ")
                    || trimmed.starts_with("pub mod ")
                    || (trimmed.starts_with("pub use ") && !trimmed.starts_with("pub use crate::")))
            {
                continue;
            }
            let mut targets = Vec::new();
            for path in paths_after(line, "crate::") {
                let path: Vec<String> = path.into_iter().map(str::to_owned).collect();
                match resolve(&modules, &path) {
                    Some(m) => targets.push(m),
                    // `crate::Name`: a root re-export, which would hide the layer.
                    None if is_mod_rs && me.is_empty() => {}
                    None => violations.push(format!(
                        "{}: `crate::{}` goes through the crate root; name the layer",
                        file.display(),
                        path.join("::")
                    )),
                }
            }
            for path in paths_after(line, "super::") {
                // `super::` inside a file's `mod tests` refers to the file itself.
                if path.first() == Some(&"*") || path.is_empty() {
                    continue;
                }
                let mut full: Vec<String> = me.clone();
                if !is_mod_rs {
                    full.pop();
                }
                full.extend(path.into_iter().map(str::to_owned));
                if let Some(m) = resolve(&modules, &full) {
                    targets.push(m);
                }
            }
            for target in targets {
                if target != me && !me.is_empty() {
                    edges.entry(me.clone()).or_default().insert(target);
                }
            }
        }
    }

    let layer = |m: &[String]| LAYERS.iter().position(|l| m.first().is_some_and(|f| f == l));
    let mut checked = 0;
    for (from, tos) in &edges {
        for to in tos {
            checked += 1;
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if b > a => violations.push(format!(
                    "{} (layer {}) imports {} (layer {}, above it)",
                    from.join("::"),
                    LAYERS[a],
                    to.join("::"),
                    LAYERS[b]
                )),
                (None, _) | (_, None) => violations.push(format!(
                    "{} -> {}: every module belongs to a layer folder",
                    from.join("::"),
                    to.join("::")
                )),
                _ => {}
            }
        }
    }

    // Cycle search: depth-first, reporting the first circle found.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut circle: Vec<String> = stack[start..].iter().map(|m| m.join("::")).collect();
                circle.push(node.join("::"));
                return Some(circle);
            }
            _ => {}
        }
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if let Some(circle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            violations.push(format!("import circle: {}", circle.join(" -> ")));
            break;
        }
    }

    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));
    // The check saw the real graph (a parser that found nothing would pass vacuously).
    assert!(modules.len() > 30, "only {} modules found", modules.len());
    assert!(checked > 100, "only {checked} references checked");
    println!(
        "{} modules, {} module references, layers {:?}, no circle",
        modules.len(),
        checked,
        LAYERS
    );
}
