//! What clawshim does not serve itself may go to the gateway unchanged: the Control UI,
//! its WebSocket on `/` (pingora proxies the upgrade and then copies bytes both ways), and
//! the gateway's other HTTP endpoints. Bodies are streamed, never buffered.
//!
//! Only paths under the [`Allowlist`] go through (by default what the Control UI and its
//! WebSocket need, [`crate::config::defaults::PASSTHROUGH_ALLOW`]): the gateway also serves
//! `/tools/invoke` (runs a tool), `/hooks`, its own `/v1/...` endpoints and more, each with
//! only the gateway's own check in front.

use std::net::IpAddr;

use clawshim_core::gateway::GatewayAuth;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use subtle::ConstantTimeEq;

use crate::front_door::keys::{bearer, KeyStore, Principal};

/// Headers that attribute a request to a client. openclaw 2026.9 answers 403
/// `proxy_attribution_required` to any of them from a peer that is not in
/// `gateway.trustedProxies` (openclaw-lab README, forwarded headers), so by default they are
/// removed rather than passed on from client input.
const ATTRIBUTION_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
];

/// The path prefixes passthrough forwards (`passthrough.allow`). An entry allows itself and
/// everything below it by whole segments (`/assets` allows `/assets` and `/assets/x.js`, not
/// `/assetsx`); `/` allows the root only (the Control UI page and its WebSocket), as it would
/// otherwise allow everything. Matching is case-sensitive, like the gateway's routing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist(Vec<String>);

impl Allowlist {
    /// Check the entries (each must start with `/`); a trailing `/` is dropped.
    pub fn parse(entries: &[String]) -> Result<Allowlist, String> {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.trim();
            if !entry.starts_with('/') {
                return Err(format!(
                    "passthrough allow entry `{entry}` must start with `/`"
                ));
            }
            if entry.contains(['?', '#', '\\', '%']) || entry.contains("//") {
                return Err(format!(
                    "passthrough allow entry `{entry}` must be a plain path (no `?`, `#`, `%`, `\\`, `//`)"
                ));
            }
            if entry.split('/').any(|s| s == "." || s == "..") {
                return Err(format!(
                    "passthrough allow entry `{entry}` must not contain `.` or `..` segments"
                ));
            }
            let trimmed = entry.trim_end_matches('/');
            out.push(if trimmed.is_empty() { "/" } else { trimmed }.to_string());
        }
        Ok(Allowlist(out))
    }

    /// Whether `path` lies under an entry.
    pub fn allows(&self, path: &str) -> bool {
        self.0.iter().any(|prefix| {
            if prefix == "/" {
                return path == "/";
            }
            path.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// The entries, as validated.
    pub fn entries(&self) -> &[String] {
        &self.0
    }
}

/// The gateway as an HTTP peer (`hostport` and `tls` of its WebSocket URL).
pub fn peer(hostport: &str, tls: bool) -> Box<HttpPeer> {
    let sni = hostport
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(hostport)
        .to_string();
    Box::new(HttpPeer::new(hostport, tls, sni))
}

/// What the gateway is told about the client of a passthrough request (`forwarded_headers`:
/// `set` or `strip` in the file, the flag and the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardedHeaders {
    /// Overwrite `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Real-IP` with what clawshim saw
    /// (client input is never passed on). For a gateway that lists clawshim in
    /// `gateway.trustedProxies`; without that, openclaw 2026.9 refuses remote clients with 403
    /// `proxy_attribution_required` (fail closed) instead of taking them for local ones.
    Set,
    /// Send no attribution at all: the gateway sees every client as clawshim itself.
    Strip,
}

/// Replace client-supplied attribution headers with what clawshim saw (`client`: the address
/// from [`crate::front_door::client_ip`], which believes `X-Forwarded-For` only from trusted proxies, so a
/// remote client behind a local tunnel is attributed as remote). A client on the
/// loopback interface (`::ffff:127.0.0.1` included) is local to the gateway's host too and gets no headers: openclaw
/// refuses a loopback forwarded address from a trusted proxy (openclaw-lab README,
/// forwarded headers), and a local client needs no attribution.
pub fn attribute(
    req: &mut RequestHeader,
    mode: ForwardedHeaders,
    client: Option<IpAddr>,
    tls: bool,
) {
    strip_attribution(req);
    let client = client.map(crate::front_door::client_ip::normalize);
    let Some(ip) = client.filter(|ip| !ip.is_loopback()) else {
        return;
    };
    if mode == ForwardedHeaders::Strip {
        return;
    }
    let ip = ip.to_string();
    // Inserting fixed header names with printable values cannot fail.
    let _ = req.insert_header("x-forwarded-for", ip.as_str());
    let _ = req.insert_header("x-real-ip", ip.as_str());
    let _ = req.insert_header("x-forwarded-proto", if tls { "https" } else { "http" });
}

/// Remove `Authorization` when it carries one of clawshim's own credentials (an API key, or a
/// shared token from `auth.tokens` that is not the gateway's secret): those are for clawshim
/// and would otherwise reach the gateway and its logs. The gateway's own token (which the
/// Control UI sends on some of its requests) and anything else clawshim does not accept pass
/// on untouched.
pub fn strip_own_credential(req: &mut RequestHeader, keys: &KeyStore, gateway: &GatewayAuth) {
    let own = req.headers.get_all("authorization").iter().any(|value| {
        bearer(value.as_bytes()).is_some_and(|token| match keys.authenticate(token) {
            Some(Principal::Key(_)) => true,
            Some(Principal::Shared) => !is_gateway_secret(token, gateway),
            None => false,
        })
    });
    if own {
        req.remove_header("authorization");
    }
}

/// Whether `token` is the gateway's own token or password (constant time).
fn is_gateway_secret(token: &[u8], gateway: &GatewayAuth) -> bool {
    match gateway {
        GatewayAuth::Token(s) | GatewayAuth::Password(s) => {
            bool::from(s.expose().as_bytes().ct_eq(token))
        }
        GatewayAuth::None => false,
    }
}

/// An upstream request without `Host` (HTTP/1.0 allows leaving it out) gets the gateway's
/// `host:port`; a client's own `Host` is kept (the gateway compares it with `Origin`).
pub fn ensure_host(req: &mut RequestHeader, gateway_hostport: &str) {
    if req.headers.get("host").is_none() {
        // A `host:port` from the validated gateway URL is a valid header value.
        let _ = req.insert_header("host", gateway_hostport);
    }
}

/// Remove client-supplied attribution headers before the request goes upstream.
pub fn strip_attribution(req: &mut RequestHeader) {
    for name in ATTRIBUTION_HEADERS {
        req.remove_header(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_entries_are_checked_and_matched_by_segment() {
        let list =
            |e: &[&str]| Allowlist::parse(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        for bad in ["assets", "", "/a?b", "/a/../b", "/a//b", "/a%2Fb"] {
            assert!(list(&[bad]).is_err(), "{bad}");
        }
        let allow = list(&["/", "/assets/", "/__openclaw__/canvas"]).unwrap();
        assert_eq!(allow.entries(), ["/", "/assets", "/__openclaw__/canvas"]);
        for ok in [
            "/",
            "/assets",
            "/assets/",
            "/assets/a.js",
            "/__openclaw__/canvas/x",
        ] {
            assert!(allow.allows(ok), "{ok}");
        }
        for no in [
            "/x",
            "/assetsx",
            "/__openclaw__/canvasx",
            "/__openclaw__",
            "/tools/invoke",
        ] {
            assert!(!allow.allows(no), "{no}");
        }
    }

    #[test]
    fn the_default_allowlist_is_valid_and_keeps_the_gateway_api_out() {
        let allow = Allowlist::parse(&crate::config::defaults::passthrough_allow()).unwrap();
        for ui in [
            "/",
            "/assets/index-abc.js",
            "/avatar/main",
            "/chat",
            "/favicon.ico",
        ] {
            assert!(allow.allows(ui), "{ui}");
        }
        for api in [
            "/tools/invoke",
            "/hooks/agent",
            "/v1/responses",
            "/v1/embeddings",
            "/v1/chat/completions",
            "/api/artifacts/download/x",
            "/__openclaw__/worker-bundle/x",
        ] {
            assert!(!allow.allows(api), "{api}");
        }
    }

    #[test]
    fn only_clawshims_own_credentials_are_stripped() {
        use clawshim_core::gateway::Secret;
        use sha2::Digest;
        let key = crate::front_door::keys::KeySpec {
            name: "laptop".into(),
            sha256: sha2::Sha256::digest(b"csk-laptop").into(),
            agents: None,
            requests_per_minute: None,
            max_concurrent_runs: None,
            daily_token_budget: None,
            monthly_token_budget: None,
            session_namespace: "laptop".into(),
            progress: None,
            client_tools: None,
        };
        let keys = KeyStore::new(vec![Secret::new("own"), Secret::new("gw")], &[key]);
        let gateway = GatewayAuth::Token(Secret::new("gw"));
        for (value, kept) in [
            ("Bearer csk-laptop", false),
            ("bearer own", false),
            ("Bearer gw", true),
            ("Bearer something-else", true),
            ("Basic Z3c6Z3c=", true),
        ] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.insert_header("authorization", value).unwrap();
            strip_own_credential(&mut req, &keys, &gateway);
            assert_eq!(req.headers.get("authorization").is_some(), kept, "{value}");
        }
    }

    #[test]
    fn attribution_headers_are_removed() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("x-forwarded-for", "203.0.113.7").unwrap();
        req.insert_header("forwarded", "for=203.0.113.7").unwrap();
        req.insert_header("x-real-ip", "203.0.113.7").unwrap();
        req.insert_header("accept", "*/*").unwrap();
        strip_attribution(&mut req);
        assert!(req.headers.get("x-forwarded-for").is_none());
        assert!(req.headers.get("forwarded").is_none());
        assert!(req.headers.get("x-real-ip").is_none());
        assert!(req.headers.get("accept").is_some());
    }

    #[test]
    fn remote_clients_are_attributed_with_what_clawshim_saw() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("x-forwarded-for", "10.9.9.9, 1.2.3.4")
            .unwrap();
        req.insert_header("forwarded", "for=1.2.3.4").unwrap();
        let client: IpAddr = "192.168.1.20".parse().unwrap();
        attribute(&mut req, ForwardedHeaders::Set, Some(client), true);
        assert_eq!(req.headers["x-forwarded-for"], "192.168.1.20");
        assert_eq!(req.headers["x-real-ip"], "192.168.1.20");
        assert_eq!(req.headers["x-forwarded-proto"], "https");
        assert!(req.headers.get("forwarded").is_none());
    }

    #[test]
    fn local_clients_and_strip_mode_send_no_attribution() {
        for (mode, ip) in [
            (ForwardedHeaders::Set, "127.0.0.1"),
            (ForwardedHeaders::Set, "::1"),
            (ForwardedHeaders::Set, "::ffff:127.0.0.1"),
            (ForwardedHeaders::Strip, "192.168.1.20"),
        ] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.insert_header("x-forwarded-for", "203.0.113.7").unwrap();
            attribute(&mut req, mode, Some(ip.parse().unwrap()), false);
            assert!(
                req.headers.get("x-forwarded-for").is_none(),
                "{mode:?} {ip}"
            );
            assert!(req.headers.get("x-real-ip").is_none());
        }
    }
}
