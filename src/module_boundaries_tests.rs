//! The layering of ARCHITECTURE.md's code map, enforced: no top-level module may reach a module
//! that reaches it back, directly or around a longer loop. A module X reaches Y when a file of X
//! (`src/X.rs` or anything under `src/X/`, tests included) names `crate::Y`, in a `use` line, a
//! `use crate::{Y::…}` group or an inline path. Comment lines are skipped: a doc mention is not a
//! dependency, and rewording prose to please a checker would only make it worse.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Modules the check skips (none: the benchmarks, behind the `sandbox` feature, are checked too).
const NOT_CHECKED: &[&str] = &[];

/// ARCHITECTURE.md's layering, lowest first: a module may name only modules of earlier layers.
const LAYERS: &[&[&str]] = &[
    &["domain", "telemetry", "pg"],
    &["queue"],
    &["providers"],
    &["config"],
    &["db"],
    &["notify"],
    &["escrow"],
    &["settings"],
    &["reconcile"],
    &["ops"],
    &["worker"],
    &["clients"],
    &["http"],
    &["startup"],
    &["bench"],
    &["cli"],
];

/// `from -> to -> files of from naming crate::to`.
type Reaches = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// This crate's `src/`, or another checkout's when `MALIPO_BOUNDARIES_SRC` names one (to show
/// what the check finds there without rebuilding).
fn src_dir() -> PathBuf {
    std::env::var_os("MALIPO_BOUNDARIES_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        PathBuf::from,
    )
}

/// The `pub mod x;` lines of `src/lib.rs`.
fn top_level_modules(src: &Path) -> Vec<String> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs is readable");
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

fn rust_files(path: &Path, found: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)
            .expect("a source directory is readable")
            .map(|entry| entry.expect("a directory entry is readable").path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, found);
        }
    } else if path.is_file() && path.extension().is_some_and(|ext| ext == "rs") {
        found.push(path.to_owned());
    }
}

fn files_of(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    rust_files(&src.join(format!("{module}.rs")), &mut found);
    rust_files(&src.join(module), &mut found);
    found
}

fn leading_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first path segment of each item of a `{…}` group; `text` starts just after the `{`.
fn group_heads(text: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 0_usize;
    let mut expecting_head = true;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting_head = true,
            c if depth == 0 && expecting_head && (c.is_alphanumeric() || c == '_') => {
                let head = leading_ident(rest);
                heads.push(head);
                expecting_head = false;
                rest = &rest[head.len()..];
                continue;
            }
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    heads
}

/// Every module named right after `crate::` in `source`, comment lines left out.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let after = &code[at + "crate::".len()..];
        match after.strip_prefix('{') {
            Some(group) => named.extend(group_heads(group).into_iter().map(str::to_owned)),
            None => {
                named.insert(leading_ident(after).to_owned());
            }
        }
    }
    named
}

fn reaches(src: &Path) -> Reaches {
    let modules = top_level_modules(src);
    let checked: Vec<&String> = modules
        .iter()
        .filter(|m| !NOT_CHECKED.contains(&m.as_str()))
        .collect();
    let mut reaches = Reaches::new();
    for &from in &checked {
        let edges = reaches.entry(from.clone()).or_default();
        for file in files_of(src, from) {
            let source = fs::read_to_string(&file).expect("a source file is readable");
            let shown = file
                .strip_prefix(src)
                .unwrap_or(&file)
                .display()
                .to_string();
            for to in crate_paths(&source) {
                if &to != from && checked.iter().any(|m| **m == to) {
                    edges.entry(to).or_default().insert(shown.clone());
                }
            }
        }
    }
    reaches
}

fn two_way_pairs(reaches: &Reaches) -> Vec<String> {
    let mut pairs = Vec::new();
    for (a, edges) in reaches {
        for (b, files) in edges {
            if a < b
                && let Some(back) = reaches.get(b).and_then(|e| e.get(a))
            {
                pairs.push(format!(
                    "{a}<->{b}: {a}->{b} in {files:?}; {b}->{a} in {back:?}"
                ));
            }
        }
    }
    pairs
}

/// Strongly connected components with more than one module (Tarjan).
fn loops(reaches: &Reaches) -> Vec<Vec<String>> {
    struct Walk<'a> {
        reaches: &'a Reaches,
        next_index: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, module: &'a str) {
            self.index.insert(module, self.next_index);
            self.low.insert(module, self.next_index);
            self.next_index += 1;
            self.stack.push(module);
            self.on_stack.insert(module);
            let reaches = self.reaches;
            for next in reaches.get(module).into_iter().flat_map(|e| e.keys()) {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.to_owned());
                    if member == module {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        reaches,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in reaches.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}

#[test]
fn no_two_top_level_modules_import_each_other() {
    let pairs = two_way_pairs(&reaches(&src_dir()));
    assert!(
        pairs.is_empty(),
        "top-level modules importing each other (see ARCHITECTURE.md, code map, layering):\n{}",
        pairs.join("\n")
    );
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn every_module_names_only_lower_layers() {
    let mut wrong = Vec::new();
    for (from, edges) in reaches(&src_dir()) {
        let Some(from_layer) = layer_of(&from) else {
            wrong.push(format!("{from} has no layer in LAYERS"));
            continue;
        };
        for (to, files) in edges {
            if layer_of(&to).is_none_or(|to_layer| to_layer >= from_layer) {
                wrong.push(format!("{from}->{to} in {files:?}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules naming their own layer or a higher one (ARCHITECTURE.md, code map, layering):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_loop() {
    let reaches = reaches(&src_dir());
    let loops: Vec<String> = loops(&reaches)
        .into_iter()
        .map(|members| {
            let edges: Vec<String> = members
                .iter()
                .flat_map(|from| {
                    reaches[from]
                        .iter()
                        .filter(|(to, _)| members.contains(to))
                        .map(move |(to, files)| format!("  {from}->{to} in {files:?}"))
                })
                .collect();
            format!("loop {}:\n{}", members.join(", "), edges.join("\n"))
        })
        .collect();
    assert!(
        loops.is_empty(),
        "top-level modules reaching themselves through others:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_checker_sees_groups_inline_paths_and_skips_comments() {
    let source = "use crate::{\n    db::{self, x},\n    ops::Actor,\n};\n\
                  // crate::http is only mentioned\n\
                  fn f() { crate::queue::run(); }\n";
    let named: Vec<String> = crate_paths(source).into_iter().collect();
    assert_eq!(named, ["db", "ops", "queue"]);
}

#[test]
fn the_checker_finds_a_loop_and_a_pair() {
    let mut reaches = Reaches::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "c")] {
        reaches
            .entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default()
            .insert(format!("{from}.rs"));
    }
    assert_eq!(two_way_pairs(&reaches).len(), 1);
    assert_eq!(loops(&reaches), [vec!["a", "b", "c", "d"]]);
}
