//! The layers of `src/` keep their direction: every `crate::` path in a file names its own layer or one below
//! it, no two modules import each other round a circle, and the domain uses neither tokio nor the AWS SDK.
//! Read from the source text, so a new import that breaks a rule fails here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a file may use its own layer and those before it.
const LAYERS: [&str; 7] = ["domain", "config", "telemetry", "adapters", "services", "interfaces", "app"];

/// Crates the pure core must not name.
const NOT_IN_DOMAIN: [&str; 5] = ["tokio", "aws_sdk_", "aws_config", "aws_smithy", "axum"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/interfaces/cli/ops.rs` -> `interfaces::cli`; `src/config/mod.rs` -> `config`; `None` for the crate
/// roots (`lib.rs`, `main.rs`).
fn unit_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let parts: Vec<String> =
        rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).filter(|p| p != "mod").collect();
    match parts.as_slice() {
        [root] if root == "lib" || root == "main" => None,
        [one] => Some(one.clone()),
        [layer, module, ..] => Some(format!("{layer}::{module}")),
        [] => None,
    }
}

/// The units a file's text names through `crate::`.
fn uses_of(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // `gd_incidents::` in doc examples is not an import of the library itself.
        let rest = &text[at + "crate::".len()..];
        let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            [layer, module, ..] if LAYERS.contains(layer) && module.chars().all(|c| c.is_lowercase() || c == '_') => {
                found.insert(format!("{layer}::{module}"));
            }
            [layer, ..] if LAYERS.contains(layer) => {
                found.insert((*layer).to_owned());
            }
            _ => {}
        }
    }
    found
}

fn layer_of(unit: &str) -> usize {
    let layer = unit.split("::").next().unwrap_or(unit);
    LAYERS.iter().position(|l| *l == layer).unwrap_or_else(|| panic!("`{unit}` is in no layer of {LAYERS:?}"))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(unit) = unit_of(&src, &file) else { continue };
        let text = std::fs::read_to_string(&file).expect("a source file is readable");
        let to = edges.entry(unit.clone()).or_default();
        to.extend(uses_of(&text).into_iter().filter(|u| *u != unit));
    }
    edges
}

#[test]
fn every_import_points_down_the_layers() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        for to in tos {
            if layer_of(&to) > layer_of(&from) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that point up the layers {LAYERS:?}:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_import_each_other_round_a_circle() {
    let edges = graph();
    // Depth-first search with colours: reaching a grey node again closes a circle.
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        circles: &mut Vec<String>,
    ) {
        colour.insert(node, 1);
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            match colour.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, edges, colour, stack, circles),
                1 => {
                    let from = stack.iter().position(|n| *n == next).unwrap_or(0);
                    circles.push(format!("{} -> {next}", stack[from..].join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(node, 2);
    }
    let mut colour = BTreeMap::new();
    let mut circles = Vec::new();
    for node in edges.keys() {
        if !colour.contains_key(node.as_str()) {
            visit(node, &edges, &mut colour, &mut Vec::new(), &mut circles);
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_domain_is_pure() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "the domain has its modules");
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a source file is readable");
        for name in NOT_IN_DOMAIN {
            if text.lines().any(|l| !l.trim_start().starts_with("//") && l.contains(name)) {
                wrong.push(format!("{} uses {name}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "the domain does no I/O:\n{}", wrong.join("\n"));
}

#[test]
fn the_checks_see_what_they_check() {
    // The scanner itself: a path up the layers and a circle are both found in a made-up graph.
    let uses = uses_of("use crate::services::dispatch::Dispatcher;\nuse crate::config::Config;");
    assert_eq!(uses, BTreeSet::from(["services::dispatch".to_owned(), "config".to_owned()]));
    assert!(layer_of("app::daemon") > layer_of("domain::incident"));
    assert_eq!(unit_of(Path::new("/s"), Path::new("/s/interfaces/cli/ops.rs")).as_deref(), Some("interfaces::cli"));
    assert_eq!(unit_of(Path::new("/s"), Path::new("/s/services/mod.rs")).as_deref(), Some("services"));
}
