//! The house rules the README's layout section promises, checked on the source tree: no
//! module of `server/src` imports one that imports it back, and no source file outside tests
//! passes 1,200 lines (data tables aside).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest non-test source file allowed.
const MAX_LINES: usize = 1_200;

/// Files that are data tables, exempt from the length limit.
const DATA_TABLES: &[&str] = &["server/src/known_settings.rs"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, skipping build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// A file that holds tests only: `tests.rs`, `test_support.rs`, or anything under `tests/`.
fn is_test_file(relative: &str) -> bool {
    relative.ends_with("/tests.rs")
        || relative.ends_with("/test_support.rs")
        || relative.split('/').any(|part| part == "tests")
}

/// The top-level module of `server/src` a file belongs to (`hba/line.rs` → `hba`).
fn top_module(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    first.trim_end_matches(".rs").to_owned()
}

/// The `crate::<module>` names a source text refers to outside comments.
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// The module graph of `server/src`: each top-level module and the modules it uses.
fn server_module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("below server/src");
        let module = top_module(relative);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = fs::read_to_string(file).expect("source file");
        let uses = graph.entry(module.clone()).or_default();
        uses.extend(crate_references(&text).into_iter().filter(|m| *m != module));
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    // An explicit stack of (module, its remaining edges), so no recursion depth to bound.
    for start in graph.keys() {
        if marks.contains_key(start.as_str()) {
            continue;
        }
        let mut path: Vec<&str> = vec![start];
        let mut pending: Vec<Vec<&str>> = vec![edges(graph, start)];
        marks.insert(start, Mark::Open);
        while let Some(next) = pending.last_mut().map(|edges| edges.pop()) {
            match next {
                Some(to) => match marks.get(to) {
                    Some(Mark::Open) => {
                        let from = path.iter().position(|m| *m == to).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|m| (*m).to_owned()).collect();
                        cycle.push(to.to_owned());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(to, Mark::Open);
                        path.push(to);
                        pending.push(edges(graph, to));
                    }
                },
                None => {
                    if let Some(done) = path.pop() {
                        marks.insert(done, Mark::Done);
                    }
                    pending.pop();
                }
            }
        }
    }
    None
}

fn edges<'g>(graph: &'g BTreeMap<String, BTreeSet<String>>, module: &str) -> Vec<&'g str> {
    graph
        .get(module)
        .map(|uses| {
            uses.iter()
                .filter(|m| graph.contains_key(m.as_str()))
                .map(String::as_str)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_modules_import_no_cycle() {
    let graph = server_module_graph();
    assert!(
        graph.len() > 10,
        "read the modules of server/src: {graph:?}"
    );
    assert!(
        graph["server"].contains("negotiate"),
        "server uses negotiate"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle among server/src modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a", "d"][..]),
        ("d", &[][..]),
    ]
    .into_iter()
    .map(|(m, uses)| {
        let uses = uses.iter().map(|u| (*u).to_owned()).collect();
        (m.to_owned(), uses)
    })
    .collect();
    assert_eq!(
        find_cycle(&graph).expect("a cycle"),
        ["a", "b", "c", "a"].map(String::from)
    );
    let mut acyclic = graph.clone();
    acyclic.insert("c".into(), ["d".to_owned()].into());
    assert_eq!(find_cycle(&acyclic), None);
    assert_eq!(
        crate_references("use crate::wire::{A, B};\n// crate::log\nlet x = crate::tls::f();"),
        ["tls", "wire"].map(String::from).into()
    );
}

#[test]
fn no_source_file_outside_tests_is_over_the_limit() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["server", "conformance", "loadgen", "pki", "benches", "fuzz"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "read the workspace's sources");
    let mut long = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("below the workspace")
            .to_string_lossy()
            .into_owned();
        if is_test_file(&relative) || DATA_TABLES.contains(&relative.as_str()) {
            continue;
        }
        let lines = fs::read_to_string(file)
            .expect("source file")
            .lines()
            .count();
        if lines > MAX_LINES {
            long.push(format!("{relative}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern (README, Layout): {long:?}"
    );
}
