//! Imports in clawshim-proxy and clawshim-core go one way: no module imports another that
//! imports it back, directly or through others.
//!
//! The graph is read from the source: a module is a file reached through `mod` declarations
//! from `lib.rs`; an edge is a `use` or a path in code (`crate::`, `super::`, `self::`, a
//! child module) resolved to the deepest module it names. Comments, string literals and
//! `#[cfg(test)]` items are left out: they are not dependencies of the product.
//!
//! To measure another checkout: `CLAWSHIM_IMPORT_GRAPH_SRC=/path/to/proxy/src cargo test -p
//! clawshim-tests --test import_cycles -- --nocapture` (`CLAWSHIM_IMPORT_GRAPH_CORE_SRC` for
//! core's `src`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path below the crate root (`["config", "validate"]`; empty for the root).
type ModPath = Vec<String>;

/// The module graph of one crate: every module, and the modules each one imports.
struct Graph {
    edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

impl Graph {
    /// Read the crate whose root file is `root` (`lib.rs`), following `mod` declarations.
    fn load(root: &Path) -> Graph {
        let mut sources = BTreeMap::new();
        let mut children: BTreeMap<ModPath, BTreeSet<String>> = BTreeMap::new();
        let mut todo = vec![(Vec::new(), root.to_path_buf())];
        while let Some((module, file)) = todo.pop() {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            let code = without_test_items(&strip_comments_and_strings(&text));
            let tokens = tokenize(&code);
            // Children of `a.rs` live in `a/`, of `lib.rs` and `a/mod.rs` next to them.
            let dir = match file.file_name().and_then(|n| n.to_str()) {
                Some("lib.rs" | "main.rs" | "mod.rs") => file.parent().unwrap().to_path_buf(),
                _ => file.with_extension(""),
            };
            for name in mod_declarations(&tokens) {
                let flat = dir.join(format!("{name}.rs"));
                let nested = dir.join(&name).join("mod.rs");
                let child_file = if flat.exists() { flat } else { nested };
                let mut child = module.clone();
                child.push(name.clone());
                children.entry(module.clone()).or_default().insert(name);
                todo.push((child, child_file));
            }
            sources.insert(module, tokens);
        }
        let mut edges = BTreeMap::new();
        for (module, tokens) in &sources {
            let mut targets = BTreeSet::new();
            for path in referenced_paths(tokens) {
                if let Some(target) = resolve(module, &path, &children, &sources) {
                    if &target != module {
                        targets.insert(target);
                    }
                }
            }
            edges.insert(module.clone(), targets);
        }
        Graph { edges }
    }

    /// The import circles: strongly connected components of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<ModPath>> {
        struct Walk<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a ModPath, usize>,
            low: BTreeMap<&'a ModPath, usize>,
            stack: Vec<&'a ModPath>,
            on_stack: BTreeSet<&'a ModPath>,
            found: Vec<Vec<ModPath>>,
        }
        impl<'a> Walk<'a> {
            fn visit(&mut self, v: &'a ModPath) {
                let i = self.index.len();
                self.index.insert(v, i);
                self.low.insert(v, i);
                self.stack.push(v);
                self.on_stack.insert(v);
                let graph = self.graph;
                for w in graph.edges.get(v).into_iter().flatten() {
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = self.stack.pop().unwrap();
                        self.on_stack.remove(w);
                        component.push(w.clone());
                        if w == v {
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
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for v in self.edges.keys() {
            if !walk.index.contains_key(v) {
                walk.visit(v);
            }
        }
        walk.found.sort();
        walk.found
    }
}

/// Source text with comments removed and string and character literals emptied (their
/// quotes kept), so neither can look like a path.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), else a lifetime.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Code without the items marked `#[cfg(test)]` (test modules, test-only imports).
fn without_test_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        // The item ends at its first `;` outside braces, or where its first brace closes.
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Identifiers and the punctuation paths are made of; everything else is `?`.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            tokens.push(if "{},;*".contains(c) {
                c.to_string()
            } else {
                "?".into()
            });
            i += 1;
        }
    }
    tokens
}

/// The `mod name;` declarations (modules in their own file).
fn mod_declarations(tokens: &[String]) -> Vec<String> {
    tokens
        .windows(3)
        .filter(|w| w[0] == "mod" && w[2] == ";")
        .map(|w| w[1].clone())
        .collect()
}

/// Every path a module names: each leaf of its `use` trees, and each `a::b...` path in code.
fn referenced_paths(tokens: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" {
            let mut pos = i + 1;
            use_tree(tokens, &mut pos, &[], &mut paths);
            i = pos;
        } else if is_ident(&tokens[i]) && tokens.get(i + 1).is_some_and(|t| t == "::") {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::")
                && tokens.get(j + 1).is_some_and(|t| is_ident(t))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            paths.push(path);
            i = j;
        } else {
            i += 1;
        }
    }
    paths
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// One `use` tree from `pos`: `a::b::{c, d::e as f, self, *}`; leaves go to `out`.
fn use_tree(tokens: &[String], pos: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while let Some(token) = tokens.get(*pos) {
        match token.as_str() {
            "::" => *pos += 1,
            "{" => {
                *pos += 1;
                while tokens.get(*pos).is_some_and(|t| t != "}") {
                    use_tree(tokens, pos, &path, out);
                    if tokens.get(*pos).is_some_and(|t| t == ",") {
                        *pos += 1;
                    }
                }
                *pos += 1;
                return;
            }
            "*" => {
                *pos += 1;
                out.push(path);
                return;
            }
            "self" if !path.is_empty() => {
                *pos += 1;
                out.push(path);
                return;
            }
            "as" => {
                *pos += 2;
                out.push(path);
                return;
            }
            "," | "}" | ";" => {
                if token == ";" {
                    *pos += 1;
                }
                out.push(path);
                return;
            }
            t if is_ident(t) => {
                path.push(t.to_string());
                *pos += 1;
            }
            _ => {
                *pos += 1;
                out.push(path);
                return;
            }
        }
    }
}

/// The deepest module `path`, named inside `module`, refers to; `None` for other crates.
fn resolve(
    module: &ModPath,
    path: &[String],
    children: &BTreeMap<ModPath, BTreeSet<String>>,
    modules: &BTreeMap<ModPath, Vec<String>>,
) -> Option<ModPath> {
    let (mut base, mut rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (module.clone(), &path[1..]),
        Some("super") => {
            let mut base = module.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        Some(first) if children.get(module).is_some_and(|c| c.contains(first)) => {
            (module.clone(), path)
        }
        _ => return None,
    };
    while let Some(next) = rest.first() {
        let mut deeper = base.clone();
        deeper.push(next.clone());
        if !modules.contains_key(&deeper) {
            break;
        }
        base = deeper;
        rest = &rest[1..];
    }
    Some(base)
}

fn show(cycles: &[Vec<ModPath>]) -> String {
    cycles
        .iter()
        .map(|c| {
            let names: Vec<String> = c
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "crate".to_string()
                    } else {
                        m.join("::")
                    }
                })
                .collect();
            format!("  {} modules: {}", c.len(), names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn proxy_src() -> PathBuf {
    match std::env::var_os("CLAWSHIM_IMPORT_GRAPH_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../proxy/src"),
    }
}

fn core_src() -> PathBuf {
    match std::env::var_os("CLAWSHIM_IMPORT_GRAPH_CORE_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../src"),
    }
}

/// The crate whose sources are in `src` has no import circle (it prints its counts).
fn assert_one_way(src: PathBuf) {
    let graph = Graph::load(&src.join("lib.rs"));
    let cycles = graph.cycles();
    println!(
        "{}: {} modules, {} import circles",
        src.display(),
        graph.edges.len(),
        cycles.len()
    );
    assert!(
        cycles.is_empty(),
        "import circles in {}:\n{}",
        src.display(),
        show(&cycles)
    );
}

#[test]
fn core_modules_import_one_way() {
    assert_one_way(core_src());
}

#[test]
fn proxy_modules_import_one_way() {
    assert_one_way(proxy_src());
}

#[test]
fn the_checker_finds_a_circle_through_use_paths_and_super() {
    let dir = std::env::temp_dir().join(format!(
        "clawshim-import-graph-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    write("a/mod.rs", "pub mod inner;\n");
    // `a::inner` reaches `b` through a path in code; `b` imports it back in a `use` tree.
    write(
        "a/inner.rs",
        "// use crate::c; (a comment)\npub fn f() { crate::b::g(\"crate::c\") }\n",
    );
    write(
        "b.rs",
        "use crate::{a::inner::{self as i}, c};\npub fn g(_: &str) {}\n",
    );
    write(
        "c.rs",
        "#[cfg(test)]\nmod tests { use crate::b; }\npub fn h() { let _ = 'x'; }\n",
    );
    let graph = Graph::load(&dir.join("lib.rs"));
    let names = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        graph.cycles(),
        vec![vec![names(&["a", "inner"]), names(&["b"])]]
    );
    assert!(graph.edges[&names(&["c"])].is_empty(), "{:?}", graph.edges);
    let _ = std::fs::remove_dir_all(dir);
}
