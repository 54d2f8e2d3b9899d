//! `[state]`: the Redis URL (parsed, never echoed: it carries the password), the operation
//! timeout, the key prefix, the lease time, and the usage file; budgets need somewhere to
//! keep their usage.

use std::path::PathBuf;
use std::time::Duration;

use clawshim_core::gateway::Secret;

use crate::front_door::keys::KeySpec;
use crate::shared_state::{names, SharedStateSettings};

/// Check the `[state]` settings; problems go to `errors`.
pub fn shared_state(
    redis_url: Option<String>,
    timeout_ms: u64,
    key_prefix: String,
    lease_ttl_secs: u64,
    usage_file: Option<PathBuf>,
    errors: &mut Vec<String>,
) -> SharedStateSettings {
    // Empty means unset, so `CLAWSHIM_REDIS_URL=` turns off a URL from the file.
    let redis_url = redis_url.filter(|u| !u.is_empty()).map(Secret::new);
    if let Some(url) = &redis_url {
        if let Err(e) = check_url(url.expose()) {
            errors.push(format!("state.redis_url: {e}"));
        }
    }
    if !(1..=1000).contains(&timeout_ms) {
        errors.push("state.timeout_ms: 1 to 1000 milliseconds".into());
    }
    if let Err(e) = names::check_prefix(&key_prefix) {
        errors.push(e);
    }
    if !(2..=3600).contains(&lease_ttl_secs) {
        errors.push("state.lease_ttl_secs: 2 to 3600 seconds".into());
    }
    SharedStateSettings {
        redis_url,
        timeout: Duration::from_millis(timeout_ms.clamp(1, 1000)),
        key_prefix,
        lease_ttl: Duration::from_secs(lease_ttl_secs.clamp(2, 3600)),
        usage_file: usage_file.filter(|p| !p.as_os_str().is_empty()),
    }
}

/// A key with a token budget needs its usage kept across restarts: in Redis or in
/// `state.usage_file`. Without either, the budget would start again at every restart.
pub fn budgets_kept(state: &SharedStateSettings, keys: &[KeySpec], errors: &mut Vec<String>) {
    if state.redis_url.is_some() || state.usage_file.is_some() {
        return;
    }
    for key in keys {
        if key.daily_token_budget.is_some() || key.monthly_token_budget.is_some() {
            errors.push(format!(
                "keys ({}): a token budget needs state.redis_url or state.usage_file, where \
                 usage is kept across restarts",
                key.name
            ));
        }
    }
}

/// `redis://` or `rediss://` that redis-rs can use; the message never quotes the URL.
fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("must start with redis:// or rediss:// (TLS)".into());
    }
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| format!("not a usable Redis URL ({:?})", e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Vec<String> {
        let mut errors = Vec::new();
        shared_state(
            Some(url.into()),
            25,
            "clawshim:".into(),
            10,
            None,
            &mut errors,
        );
        errors
    }

    #[test]
    fn urls_with_passwords_are_checked_and_never_echoed() {
        assert!(check("redis://:hunter2@127.0.0.1:6379/0").is_empty());
        assert!(check("rediss://user:hunter2@redis.lan:6380").is_empty());
        for bad in ["http://:hunter2@x", "redis://:hunter2@[::1", "hunter2"] {
            let errors = check(bad);
            assert_eq!(errors.len(), 1, "{bad}");
            assert!(!errors[0].contains("hunter2"), "{}", errors[0]);
        }
        let mut errors = Vec::new();
        let s = shared_state(
            Some("redis://:hunter2@h".into()),
            25,
            "p:".into(),
            10,
            None,
            &mut errors,
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn bounds() {
        let mut errors = Vec::new();
        let s = shared_state(Some(String::new()), 0, "a b".into(), 1, None, &mut errors);
        assert_eq!(s.redis_url, None, "empty is unset");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn a_budget_needs_redis_or_a_usage_file() {
        let file: crate::config::file::FileConfig = toml::from_str(&format!(
            "[[keys]]\nname = \"ci\"\nsha256 = \"{}\"\ndaily_token_budget = 1000\n",
            "ab".repeat(32)
        ))
        .unwrap();
        let mut errors = Vec::new();
        let keys = super::super::keys::keys(&file.keys, &mut errors);
        let settings = |url: Option<&str>, file: Option<&str>| {
            let mut errors = Vec::new();
            let s = shared_state(
                url.map(str::to_owned),
                25,
                "p:".into(),
                10,
                file.map(PathBuf::from),
                &mut errors,
            );
            assert!(errors.is_empty(), "{errors:?}");
            s
        };
        budgets_kept(&settings(None, None), &keys, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("ci") && errors[0].contains("state.usage_file"));
        errors.clear();
        budgets_kept(&settings(Some("redis://h"), None), &keys, &mut errors);
        budgets_kept(
            &settings(None, Some("/var/lib/clawshim/usage.redb")),
            &keys,
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
    }
}
