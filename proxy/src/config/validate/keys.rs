//! Checks of the `[[keys]]` entries: unique non-empty names, a SHA-256 of 64 hex digits,
//! non-empty agent lists and limits of at least 1.

use std::collections::HashSet;

use super::super::file::KeyEntry;
use crate::keys::KeySpec;

/// Every `[[keys]]` entry, checked; problems go to `errors`.
pub fn keys(entries: &[KeyEntry], errors: &mut Vec<String>) -> Vec<KeySpec> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, k) in entries.iter().enumerate() {
        let at = format!("keys[{i}] ({})", k.name);
        if k.name.trim().is_empty() {
            errors.push(format!("keys[{i}]: name must not be empty"));
        } else if !names.insert(k.name.clone()) {
            errors.push(format!("{at}: duplicate name"));
        }
        let Some(sha256) = crate::keys::parse_sha256_hex(&k.sha256) else {
            errors.push(format!(
                "{at}: sha256 must be 64 hex digits (use `clawshim gen-key`)"
            ));
            continue;
        };
        if k.agents.as_ref().is_some_and(|a| a.is_empty()) {
            errors.push(format!(
                "{at}: agents must not be empty (omit it to allow all)"
            ));
        }
        if k.requests_per_minute == Some(0) || k.max_concurrent_runs == Some(0) {
            errors.push(format!(
                "{at}: limits must be at least 1 (omit them for no limit)"
            ));
        }
        out.push(KeySpec {
            name: k.name.clone(),
            sha256,
            agents: k.agents.as_ref().map(|a| {
                a.iter()
                    .map(|id| clawshim_core::routing::normalize_agent_id(id))
                    .collect()
            }),
            requests_per_minute: k.requests_per_minute,
            max_concurrent_runs: k.max_concurrent_runs,
            session_namespace: k
                .session_namespace
                .as_ref()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<KeyEntry> {
        toml::from_str::<crate::config::file::FileConfig>(text)
            .unwrap()
            .keys
    }

    #[test]
    fn every_bad_entry_is_reported() {
        let mut errors = Vec::new();
        let hash = "ab".repeat(32);
        let specs = keys(
            &entries(&format!(
                "[[keys]]\nname = \"a\"\nsha256 = \"{hash}\"\nagents = []\n\
                 [[keys]]\nname = \"a\"\nsha256 = \"xyz\"\n\
                 [[keys]]\nname = \"b\"\nsha256 = \"{hash}\"\nrequests_per_minute = 0\n"
            )),
            &mut errors,
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(specs.len(), 2);
    }

    #[test]
    fn agents_and_namespaces_are_normalised() {
        let mut errors = Vec::new();
        let specs = keys(
            &entries(&format!(
                "[[keys]]\nname = \"a\"\nsha256 = \"{}\"\nagents = [\"Main\"]\nsession_namespace = \" N8N \"\n",
                "ab".repeat(32)
            )),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(specs[0].agents, Some(vec!["main".to_string()]));
        assert_eq!(specs[0].session_namespace.as_deref(), Some("n8n"));
    }
}
