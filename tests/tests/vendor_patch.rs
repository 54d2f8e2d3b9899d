//! The vendored pingora-proxy is the registry's 0.9.1 plus `vendor/pingora-proxy.patch`, and
//! nothing else: every vendored file, with the patch taken back out, must hash to the
//! published crate's file (`vendor/pingora-proxy-0.9.1.sha256`). And the lock file must keep
//! every pingora crate at 0.9.1, so that moving pingora forces a look at the patch
//! (cloudflare/pingora#946). Works offline: the manifest is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use clawshim_tests::sha256_hex;

/// The pingora version the patch was made against.
const PINGORA: &str = "0.9.1";

/// Files of the published crate left out of the vendored copy (the trimmed manifest names no
/// examples or benches; cargo's own metadata files are not needed for a path dependency).
const OMITTED: &[&str] = &[".cargo_vcs_info.json", "Cargo.lock", "Cargo.toml.orig"];
const OMITTED_DIRS: &[&str] = &["examples/", "benches/"];

/// Files the vendored copy adds.
const ADDED: &[&str] = &["CLAWSHIM-PATCH.md"];

fn vendor() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vendor")
}

/// `path -> sha256` of the published crate.
fn pristine_manifest() -> BTreeMap<String, String> {
    let text = fs::read_to_string(vendor().join(format!("pingora-proxy-{PINGORA}.sha256")))
        .expect("manifest of the published crate");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (hash, path) = l.split_once("  ").expect("`<sha256>  <path>` line");
            (path.to_string(), hash.to_string())
        })
        .collect()
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("readable vendor dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

/// One `@@ -old,len +new,len @@` hunk: the new-side start line and its body lines.
struct Hunk {
    new_start: usize,
    lines: Vec<String>,
}

/// The hunks of a `diff -ruN a b` patch, per file (paths without the `b/` prefix).
fn parse_patch(text: &str) -> BTreeMap<String, Vec<Hunk>> {
    let mut out: BTreeMap<String, Vec<Hunk>> = BTreeMap::new();
    let mut file: Option<String> = None;
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("+++ b/") {
            file = Some(path.to_string());
        } else if line.starts_with("--- ") || line.starts_with("diff ") {
            continue;
        } else if let Some(range) = line.strip_prefix("@@ ") {
            let new = range
                .split(' ')
                .find_map(|r| r.strip_prefix('+'))
                .expect("new range");
            let new_start = new.split(',').next().unwrap().parse().expect("line number");
            let f = file.clone().expect("hunk after a file header");
            out.entry(f).or_default().push(Hunk {
                new_start,
                lines: Vec::new(),
            });
        } else {
            assert!(
                !line.starts_with('\\'),
                "the patch must not touch a file's final newline"
            );
            let f = file.as_ref().expect("hunk line after a file header");
            let hunk = out
                .get_mut(f)
                .and_then(|h| h.last_mut())
                .expect("in a hunk");
            hunk.lines.push(line.to_string());
        }
    }
    out
}

/// Takes the patch back out of `patched`: each hunk's context and `+` lines must be found at
/// its stated place, and are replaced by its context and `-` lines.
fn unpatch(path: &str, patched: &str, hunks: &[Hunk]) -> String {
    let lines: Vec<&str> = patched.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut next = 0; // index into `lines` of the first line not yet copied
    for hunk in hunks {
        let start = hunk.new_start - 1;
        assert!(start >= next, "{path}: hunks out of order");
        out.extend(lines[next..start].iter().copied());
        let mut at = start;
        for l in &hunk.lines {
            let (tag, body) = l.split_at(1);
            if tag == " " || tag == "+" {
                let have = lines.get(at).map(|s| s.trim_end_matches('\n'));
                assert_eq!(
                    have,
                    Some(body),
                    "{path}: vendored line {} differs from the patch",
                    at + 1
                );
                at += 1;
            }
            if tag == " " || tag == "-" {
                out.push_str(body);
                out.push('\n');
            }
        }
        next = at;
    }
    out.extend(lines[next..].iter().copied());
    out
}

#[test]
fn vendored_pingora_proxy_is_the_registry_release_plus_the_patch() {
    let manifest = pristine_manifest();
    let patch = fs::read_to_string(vendor().join("pingora-proxy.patch")).expect("patch file");
    let hunks = parse_patch(&patch);
    assert!(!hunks.is_empty(), "the patch changes nothing");

    let dir = vendor().join("pingora-proxy");
    let vendored = files(&dir);
    let expected: BTreeSet<String> = manifest
        .keys()
        .filter(|p| !OMITTED.contains(&p.as_str()))
        .filter(|p| !OMITTED_DIRS.iter().any(|d| p.starts_with(d)))
        .cloned()
        .chain(ADDED.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(vendored, expected, "vendored files vs the published crate");

    for path in hunks.keys() {
        assert!(
            vendored.contains(path),
            "the patch names {path}, not vendored"
        );
    }
    for path in vendored.iter().filter(|p| !ADDED.contains(&p.as_str())) {
        let text = fs::read_to_string(dir.join(path)).expect("vendored file is text");
        let original = match hunks.get(path) {
            Some(h) => unpatch(path, &text, h),
            None => text,
        };
        assert_eq!(
            sha256_hex(&original),
            manifest[path],
            "{path} differs from pingora-proxy {PINGORA} plus vendor/pingora-proxy.patch"
        );
    }
}

#[test]
fn unpatch_restores_the_original_lines() {
    let hunks = parse_patch("+++ b/f\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n");
    assert_eq!(
        unpatch("f", "a\nb\nC\nd\ne\n", &hunks["f"]),
        "a\nb\nc\nd\ne\n"
    );
}

#[test]
#[should_panic(expected = "differs from the patch")]
fn unpatch_refuses_a_tree_the_patch_does_not_fit() {
    let hunks = parse_patch("+++ b/f\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n");
    unpatch("f", "a\nb\nX\nd\n", &hunks["f"]);
}

#[test]
fn lock_file_keeps_pingora_at_the_patched_release() {
    let lock = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"))
        .expect("Cargo.lock");
    let mut name = "";
    let mut pingora = 0;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            if name.starts_with("pingora") {
                pingora += 1;
                assert_eq!(
                    v.trim_matches('"'),
                    PINGORA,
                    "{name} moved off {PINGORA}: check whether the release fixes \
                     cloudflare/pingora#946 (then drop vendor/pingora-proxy), else redo the \
                     patch on it (vendor/pingora-proxy/CLAWSHIM-PATCH.md)"
                );
            }
        }
    }
    assert!(pingora > 0, "no pingora crate in Cargo.lock");
}
