//! What the gateway grants, from clawshim's own connection's `hello-ok`: the scopes it
//! granted (`auth.scopes`, protocol 4; protocol 3 sends none and grants a shared-secret
//! client what it asks, gateway-lab README) and its frame limit (`policy.maxPayload`:
//! 512 KiB on clawdbot 2026.1.24, 25 MiB on openclaw 2026.9.6, per the recorded `connect`
//! traces).

use clawshim_core::gateway::{Hello, SessionCleanup};

use super::check::Check;
use crate::config::Config;

/// `scopes` and `frame limit`, from what the gateway said to clawshim's own connection.
pub fn check(config: &Config, hello: &Hello) -> Vec<Check> {
    vec![scopes(config, hello), frame_limit(config, hello)]
}

fn scopes(config: &Config, hello: &Hello) -> Check {
    let Some(granted_scopes) = &hello.granted_scopes else {
        return Check::pass(
            "scopes",
            "protocol 3 reports none; clawdbot grants a shared-secret client the scopes it asks \
             for, operator.admin included",
        );
    };
    let granted = if granted_scopes.is_empty() {
        "none".to_string()
    } else {
        granted_scopes.join(", ")
    };
    if !can_run_agents(granted_scopes) {
        return Check::fail(
            "scopes",
            format!(
                "granted {granted}: too few to run agents (needs operator.read and operator.write)"
            ),
            "connect from the gateway's host with the token, or set CLAWSHIM_DEVICE_IDENTITY and \
             approve the device with those scopes",
        );
    }
    if granted_scopes.iter().any(|s| s == "operator.admin") {
        return Check::pass("scopes", format!("granted {granted}"));
    }
    let lost = "without operator.admin clawshim cannot delete finished per-request sessions \
                (delete_ephemeral_sessions): they pile up, every run on clawdbot 2026.1.x gets \
                slower, and a client that leaves cannot stop its run on protocol 3";
    // `auto` keeps sessions on openclaw (SQLite store: no slowdown), so only `true` needs it.
    if config.delete_ephemeral_sessions == SessionCleanup::Always {
        Check::fail(
            "scopes",
            format!("granted {granted}, but delete_ephemeral_sessions is on: {lost}"),
            "approve the device with operator.admin (`openclaw devices approve`), or set \
             delete_ephemeral_sessions = false",
        )
    } else {
        Check::pass("scopes", format!("granted {granted}; {lost}"))
    }
}

fn frame_limit(config: &Config, hello: &Hello) -> Check {
    let Some(max) = hello.max_payload.map(|m| m as u64) else {
        return Check::skip("frame limit", "the gateway announced none");
    };
    let body = config.body.max_bytes;
    if body <= max {
        return Check::pass(
            "frame limit",
            format!(
                "the gateway takes frames up to {}; clawshim's body limit ({}) fits",
                bytes(max),
                bytes(body)
            ),
        );
    }
    // The prompt travels in one `agent` frame: leave room for the envelope.
    let suggested = max.saturating_sub(64 << 10).max(1);
    Check::fail(
        "frame limit",
        format!(
            "the gateway takes frames up to {}, but clawshim accepts bodies up to {}: a larger \
             prompt makes the gateway drop the connection, failing every run in flight",
            bytes(max),
            bytes(body)
        ),
        format!("set limits.max_body_bytes (CLAWSHIM_MAX_BODY_BYTES) to {suggested} or less"),
    )
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Whether the granted scopes allow running agents (admin implies everything).
fn can_run_agents(granted: &[String]) -> bool {
    let has = |s: &str| granted.iter().any(|g| g == s);
    has("operator.admin") || (has("operator.read") && has("operator.write"))
}
