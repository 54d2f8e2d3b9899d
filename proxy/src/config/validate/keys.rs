//! Checks of the `[[keys]]` entries: unique non-empty names, a SHA-256 of 64 hex digits,
//! non-empty agent lists, limits of at least 1, and one session namespace per key (given, or
//! derived from the name), valid, not reserved by the gateway and used by no other key.

use std::collections::HashSet;

use super::super::file::KeyEntry;
use crate::front_door::keys::KeySpec;

/// With two keys or more, each key without its own `max_concurrent_runs` gets `percent` of
/// `gateway_runs` (the most runs clawshim sends the gateway at once), rounded up, at least 1:
/// one key's hanging runs then leave the rest to the others. A single key, and keys with a
/// limit of their own, are left as configured.
pub fn share_run_slots(mut keys: Vec<KeySpec>, gateway_runs: usize, percent: u8) -> Vec<KeySpec> {
    if keys.len() < 2 {
        return keys;
    }
    let percent = usize::from(percent.clamp(1, 100));
    let share = (gateway_runs * percent).div_ceil(100).max(1);
    for key in &mut keys {
        key.max_concurrent_runs.get_or_insert(share);
    }
    keys
}

/// Every `[[keys]]` entry, checked; problems go to `errors`.
pub fn keys(entries: &[KeyEntry], errors: &mut Vec<String>) -> Vec<KeySpec> {
    let mut names = HashSet::new();
    let mut namespaces = HashSet::new();
    let mut out = Vec::new();
    for (i, k) in entries.iter().enumerate() {
        let at = format!("keys[{i}] ({})", k.name);
        if k.name.trim().is_empty() {
            errors.push(format!("keys[{i}]: name must not be empty"));
        } else if k.name == crate::usage::SHARED {
            // The shared tokens' name in metrics and usage: a key named so would mix with them.
            errors.push(format!(
                "{at}: the name `{}` stands for the shared tokens (metrics, token usage)",
                crate::usage::SHARED
            ));
        } else if !names.insert(k.name.clone()) {
            errors.push(format!("{at}: duplicate name"));
        }
        let Some(sha256) = crate::front_door::keys::parse_sha256_hex(&k.sha256) else {
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
        if k.requests_per_minute == Some(0)
            || k.max_concurrent_runs == Some(0)
            || k.daily_token_budget == Some(0)
            || k.monthly_token_budget == Some(0)
        {
            errors.push(format!(
                "{at}: limits must be at least 1 (omit them for no limit)"
            ));
        }
        let session_namespace = namespace(k, &at, errors);
        if !session_namespace.is_empty() && !namespaces.insert(session_namespace.clone()) {
            errors.push(format!(
                "{at}: session namespace `{session_namespace}` is already another key's \
                 (each key needs its own; set session_namespace)"
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
            daily_token_budget: k.daily_token_budget,
            monthly_token_budget: k.monthly_token_budget,
            session_namespace,
            progress: k.progress,
            client_tools: k.client_tools,
        });
    }
    out
}

/// The key's session namespace: `session_namespace` (trimmed, lower-cased) or, when absent,
/// derived from the name; a bad one is reported and returned empty.
fn namespace(k: &KeyEntry, at: &str, errors: &mut Vec<String>) -> String {
    use clawshim_core::routing::{check_namespace, namespace_from_name};
    let (ns, source) = match &k.session_namespace {
        Some(given) => (given.trim().to_ascii_lowercase(), "session_namespace"),
        None => (
            namespace_from_name(&k.name),
            "the session namespace derived from the name",
        ),
    };
    match check_namespace(&ns) {
        Ok(()) => ns,
        Err(e) => {
            errors.push(format!("{at}: {source}: {e}; set session_namespace"));
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_without_a_limit_share_the_run_slots() {
        let key = |name: &str, runs: Option<usize>| KeySpec {
            name: name.into(),
            sha256: [0; 32],
            agents: None,
            requests_per_minute: None,
            max_concurrent_runs: runs,
            daily_token_budget: None,
            monthly_token_budget: None,
            session_namespace: name.into(),
            progress: None,
            client_tools: None,
        };
        let limits = |keys: Vec<KeySpec>, runs, pct| -> Vec<Option<usize>> {
            share_run_slots(keys, runs, pct)
                .into_iter()
                .map(|k| k.max_concurrent_runs)
                .collect()
        };
        // One key: no share, it may use everything.
        assert_eq!(limits(vec![key("a", None)], 256, 50), [None]);
        // Two or more: half each by default, a key's own limit kept, rounded up, at least 1.
        assert_eq!(
            limits(vec![key("a", None), key("b", Some(300))], 256, 50),
            [Some(128), Some(300)]
        );
        assert_eq!(
            limits(vec![key("a", None), key("b", None)], 5, 50),
            [Some(3), Some(3)]
        );
        assert_eq!(
            limits(vec![key("a", None), key("b", None)], 1, 1),
            [Some(1), Some(1)]
        );
        assert_eq!(
            limits(vec![key("a", None), key("b", None)], 256, 100),
            [Some(256), Some(256)]
        );
    }

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
        assert_eq!(specs[0].session_namespace, "n8n");
    }

    #[test]
    fn every_key_gets_its_own_namespace() {
        let hash = "ab".repeat(32);
        let mut errors = Vec::new();
        let specs = keys(
            &entries(&format!(
                "[[keys]]\nname = \"Open WebUI\"\nsha256 = \"{hash}\"\n\
                 [[keys]]\nname = \"laptop\"\nsha256 = \"{hash}\"\nsession_namespace = \"lab\"\n"
            )),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(specs[0].session_namespace, "open-webui");
        assert_eq!(specs[1].session_namespace, "lab");
    }

    #[test]
    fn reserved_invalid_and_shared_namespaces_are_refused() {
        let hash = "ab".repeat(32);
        let mut errors = Vec::new();
        keys(
            &entries(&format!(
                "[[keys]]\nname = \"main\"\nsha256 = \"{hash}\"\n\
                 [[keys]]\nname = \"phone\"\nsha256 = \"{hash}\"\nsession_namespace = \"whatsapp\"\n\
                 [[keys]]\nname = \"a\"\nsha256 = \"{hash}\"\nsession_namespace = \"x:y\"\n\
                 [[keys]]\nname = \"b\"\nsha256 = \"{hash}\"\nsession_namespace = \"team\"\n\
                 [[keys]]\nname = \"Team\"\nsha256 = \"{hash}\"\n\
                 [[keys]]\nname = \"???\"\nsha256 = \"{hash}\"\n"
            )),
            &mut errors,
        );
        let text = errors.join("\n");
        assert_eq!(errors.len(), 5, "{text}");
        assert!(
            text.contains(
                "keys[0] (main): the session namespace derived from the name: `main` is reserved"
            ),
            "{text}"
        );
        assert!(
            text.contains("keys[1] (phone): session_namespace: `whatsapp` is reserved"),
            "{text}"
        );
        assert!(
            text.contains("keys[2] (a): session_namespace: `x:y` is not a valid"),
            "{text}"
        );
        assert!(
            text.contains("keys[4] (Team): session namespace `team` is already another key's"),
            "{text}"
        );
        assert!(
            text.contains(
                "keys[5] (???): the session namespace derived from the name: `` is not a valid"
            ),
            "{text}"
        );
    }
}
