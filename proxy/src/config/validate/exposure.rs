//! Warnings about who can reach what: settings that are valid and meant for a quick start,
//! but risky once clawshim listens beyond loopback. Reported next to errors, never failing
//! validation.

use std::net::SocketAddr;

use clawshim_core::gateway::client::{GatewayAuth, Secret};

use crate::front_door::keys::KeySpec;

/// Whether `addr` can only be reached from this host (`127.0.0.0/8`, `::1`, and their
/// IPv4-mapped forms).
pub fn loopback_only(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// The warning for clients holding the gateway's own secret on a non-loopback listener:
/// with no `[[keys]]` and no `auth.tokens` of their own, clients authenticate with the
/// gateway's token (or password), which is also the gateway's operator credential.
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
    let only_the_gateway_secret = keys.is_empty()
        && !api_tokens.is_empty()
        && api_tokens.iter().all(|t| t.expose() == gateway_secret);
    if exposed.is_empty() || !only_the_gateway_secret {
        return;
    }
    warnings.push(format!(
        "clawshim listens beyond loopback ({}) and the only client credential is the gateway's \
         own token: LAN clients then hold the gateway's admin token (full operator access to \
         the gateway, its sessions and its tools). Give each client its own key with \
         `clawshim gen-key --name <client>` (add the printed [[keys]] block and set \
         `[auth] tokens = []`), or listen on 127.0.0.1 only",
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
        assert!(!warned(&["0.0.0.0:8790"], &["gw"], &[key()]));
        assert!(!warned(&["0.0.0.0:8790"], &[], &[key()]));
    }
}
