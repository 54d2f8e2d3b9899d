//! clawshim's own listeners, from the configuration: plain HTTP only on loopback (bearer
//! tokens must not cross a network in clear), LAN clients with keys of their own rather than
//! the gateway's token, and the HTTPS certificate's expiry.

use std::time::{SystemTime, UNIX_EPOCH};

use clawshim_core::gateway::GatewayAuth;

use super::check::Check;
use crate::config::Config;

/// A certificate closer to expiry than this fails the check.
const RENEW_DAYS: i64 = 14;

/// `listeners`, `client keys` and `certificate`.
pub fn check(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut lan = false;
    let mut problems = Vec::new();
    let mut found = Vec::new();
    if let Some(addr) = config.listen {
        if addr.ip().is_loopback() {
            found.push(format!("http://{addr} (this host only)"));
        } else {
            lan = true;
            problems.push(format!(
                "plain HTTP on {addr} is reachable from the network"
            ));
        }
    }
    if let Some(tls) = &config.tls {
        let scope = if tls.listen.ip().is_loopback() {
            "this host only"
        } else {
            lan = true;
            "reachable from the network"
        };
        found.push(format!("https://{} ({scope})", tls.listen));
    }
    checks.push(if problems.is_empty() {
        Check::pass("listeners", found.join(", "))
    } else {
        Check::fail(
            "listeners",
            format!(
                "{}: bearer tokens would cross it in clear",
                problems.join("; ")
            ),
            "serve the network over HTTPS ([tls] listen, cert, key) and keep `listen` on \
             127.0.0.1 (or `off`); conf/lan.toml is an example",
        )
    });
    checks.push(client_keys(config, lan));
    checks.push(certificate(config));
    checks
}

fn client_keys(config: &Config, lan: bool) -> Check {
    let gateway_secret = match &config.gateway.auth {
        GatewayAuth::Token(s) | GatewayAuth::Password(s) => Some(s),
        GatewayAuth::None => None,
    };
    let own_tokens = config
        .api_tokens
        .iter()
        .filter(|t| Some(*t) != gateway_secret)
        .count();
    let uses_gateway_secret = config.api_tokens.iter().any(|t| Some(t) == gateway_secret);
    let what = format!(
        "{} API key{}, {own_tokens} shared token{} of clawshim's own{}",
        config.keys.len(),
        if config.keys.len() == 1 { "" } else { "s" },
        if own_tokens == 1 { "" } else { "s" },
        if uses_gateway_secret {
            ", and the gateway's own secret"
        } else {
            ""
        }
    );
    if lan && uses_gateway_secret {
        Check::fail(
            "client keys",
            format!("{what}: clients on the network would hold the gateway's own secret"),
            if config.keys.is_empty() {
                "give each client its own key (`clawshim gen-key --name <client>`, then add the \
                 [[keys]] block): once keys exist the gateway token is accepted from clients only \
                 when `[auth] tokens` lists it"
            } else {
                "remove the gateway's token from `[auth] tokens`: clients have keys of their own"
            },
        )
    } else if lan && config.keys.is_empty() {
        Check::pass(
            "client keys",
            format!("{what} (per-client keys with `clawshim gen-key` can be revoked one by one)"),
        )
    } else {
        Check::pass("client keys", what)
    }
}

fn certificate(config: &Config) -> Check {
    let Some(tls) = &config.tls else {
        return Check::skip("certificate", "no HTTPS listener");
    };
    let path = tls.cert.display();
    let pem = match std::fs::read(&tls.cert) {
        Ok(p) => p,
        Err(e) => {
            return Check::fail(
                "certificate",
                format!("{path}: {e}"),
                "point tls.cert at the PEM chain",
            )
        }
    };
    let not_after = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| e.to_string())
        .and_then(|(_, pem)| {
            pem.parse_x509()
                .map(|cert| cert.validity().not_after)
                .map_err(|e| e.to_string())
        });
    let not_after = match not_after {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                "certificate",
                format!("{path}: cannot read the certificate ({e})"),
                "point tls.cert at a PEM certificate chain, leaf first",
            )
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = (not_after.timestamp() - now).div_euclid(86_400);
    let renew =
        format!("renew it, replace {path}, then `kill -HUP <clawshim pid>` (no restart needed)");
    if days < 0 {
        Check::fail(
            "certificate",
            format!("{path} expired on {not_after}"),
            renew,
        )
    } else if days < RENEW_DAYS {
        Check::fail(
            "certificate",
            format!("{path} expires in {days} days ({not_after})"),
            renew,
        )
    } else {
        Check::pass(
            "certificate",
            format!("{path} valid until {not_after} ({days} days)"),
        )
    }
}
