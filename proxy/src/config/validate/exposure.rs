//! Warnings about who can reach what: settings that are valid and meant for a quick start,
//! but risky once clawshim listens beyond loopback. Reported next to errors, never failing
//! validation.

use std::net::SocketAddr;

use clawshim_core::gateway::{GatewayAuth, Secret};

use crate::front_door::keys::KeySpec;

/// Whether `addr` can only be reached from this host (`127.0.0.0/8`, `::1`, and their
/// IPv4-mapped forms).
pub fn loopback_only(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// The warning for clients holding the gateway's own secret on a non-loopback listener: the
/// gateway's token (or password) is among the client credentials, either by default (no
/// `[[keys]]` and no `auth.tokens`) or listed in `auth.tokens`. It is also the gateway's
/// operator credential.
pub fn shared_gateway_secret(
    listeners: &[SocketAddr],
    auth: &GatewayAuth,
    api_tokens: &[Secret],
    keys: &[KeySpec],
    warnings: &mut Vec<String>,
) {
    let exposed: Vec<String> = listeners
        .iter()
        .filter(|a| !loopback_only(a))
        .map(ToString::to_string)
        .collect();
    let gateway_secret = match auth {
        GatewayAuth::Token(s) | GatewayAuth::Password(s) => s.expose(),
        GatewayAuth::None => return,
    };
    let clients_hold_it = api_tokens.iter().any(|t| t.expose() == gateway_secret);
    if exposed.is_empty() || !clients_hold_it {
        return;
    }
    let (what, fix) = if keys.is_empty() {
        (
            "the only client credential is the gateway's own token",
            "Give each client its own key with `clawshim gen-key --name <client>` (add the \
             printed [[keys]] block: once keys exist the gateway token is accepted from clients \
             only when listed in `[auth] tokens`), or listen on 127.0.0.1 only",
        )
    } else {
        (
            "`[auth] tokens` lists the gateway's own token next to the [[keys]]",
            "Remove it from `[auth] tokens` (clients have their own keys; \
             `clawshim gen-key --name <client>` makes more), or listen on 127.0.0.1 only",
        )
    };
    warnings.push(format!(
        "clawshim listens beyond loopback ({}) and {what}: LAN clients then hold the gateway's \
         admin token (full operator access to the gateway, its sessions and its tools). {fix}",
        exposed.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn key() -> KeySpec {
        let file: crate::config::file::FileConfig = toml::from_str(&format!(
            "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\n",
            "ab".repeat(32)
        ))
        .unwrap();
        let mut errors = Vec::new();
        let mut keys = super::super::keys::keys(&file.keys, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        keys.remove(0)
    }

    fn warned(listeners: &[&str], tokens: &[&str], keys: &[KeySpec]) -> bool {
        let mut warnings = Vec::new();
        let listeners: Vec<SocketAddr> = listeners.iter().map(|a| addr(a)).collect();
        let tokens: Vec<Secret> = tokens.iter().map(|t| Secret::new(*t)).collect();
        let auth = GatewayAuth::Token(Secret::new("gw"));
        shared_gateway_secret(&listeners, &auth, &tokens, keys, &mut warnings);
        if let Some(w) = warnings.first() {
            assert!(w.contains("clawshim gen-key"), "{w}");
            assert!(w.contains("admin token"), "{w}");
        }
        warnings.len() == 1
    }

    #[test]
    fn only_a_non_loopback_listener_with_the_gateway_token_warns() {
        assert!(!warned(&["127.0.0.1:8790"], &["gw"], &[]));
        assert!(!warned(
            &["[::1]:8790", "[::ffff:127.0.0.1]:8443"],
            &["gw"],
            &[]
        ));
        assert!(warned(&["0.0.0.0:8790"], &["gw"], &[]));
        assert!(warned(&["127.0.0.1:8790", "[::]:8443"], &["gw"], &[]));
        assert!(warned(&["192.168.1.5:8790"], &["gw"], &[]));
        // Own tokens or keys: clients do not hold the gateway's secret.
        assert!(!warned(&["0.0.0.0:8790"], &["client-token"], &[]));
        assert!(!warned(&["0.0.0.0:8790"], &[], &[key()]));
        assert!(!warned(&["0.0.0.0:8790"], &["client-token"], &[key()]));
        // Keys, but `auth.tokens` still lists the gateway's token.
        assert!(warned(&["0.0.0.0:8790"], &["gw"], &[key()]));
        assert!(warned(&["0.0.0.0:8790"], &["own", "gw"], &[]));
        assert!(!warned(&["127.0.0.1:8790"], &["gw"], &[key()]));
    }
}
