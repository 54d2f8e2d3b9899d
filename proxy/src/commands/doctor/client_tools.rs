//! `client tools`: whether a request's own function tools can reach the agent's model
//! (docs/client-tools.md). Three things must hold on the gateway, and clawshim checks what it
//! can see of each:
//!
//! 1. openclaw (protocol 4): clawdbot 2026.1.24 has no client tools at all;
//! 2. its `/v1/chat/completions` is on (`gateway.http.endpoints.chatCompletions.enabled`):
//!    probed with a request the endpoint refuses before any run (no messages), so an
//!    enabled endpoint answers 400 and an absent one 404;
//! 3. `tools.toolSearch` does not hide client tools (`false`, or `mode: "directory"`): read
//!    from the gateway's config file when it is on this host.
//!
//! With `client_tools = "off"` nothing is needed. A gateway that cannot run client tools is
//! not a failure (requests with tools still get an answer, with the `x-clawshim-tools`
//! header saying they were ignored) but is reported as skipped with the way to turn them on;
//! an endpoint that is on while tool search hides the tools is a failure: tools would reach
//! the gateway and never the model.

use std::time::Duration;

use clawshim_core::gateway::GatewayAuth;
use clawshim_core::gateway::Hello;

use super::check::Check;
use crate::config::discover::{self, Environment};
use crate::config::Config;
use crate::run::client_tools::ClientToolsMode;

/// `client tools` for `config`, with what the gateway said at the handshake (`None`: not
/// connected) and the local gateway config found through `env`.
pub async fn check(config: &Config, hello: Option<&Hello>, env: &dyn Environment) -> Check {
    let protocol = hello.map(|h| h.protocol);
    let probed = match (config.client_tools, protocol) {
        (ClientToolsMode::Auto, Some(p)) if p >= 4 => {
            let (hostport, tls) = &config.gateway_http;
            let scheme = if *tls { "https" } else { "http" };
            let credential = match &config.gateway.auth {
                GatewayAuth::Token(s) | GatewayAuth::Password(s) => Some(s.expose().to_owned()),
                GatewayAuth::None => None,
            };
            Some(probe(&format!("{scheme}://{hostport}"), credential.as_deref()).await)
        }
        _ => None,
    };
    let tool_search_hides = match discover::discover(env) {
        Ok(Some(local)) if discover::same_gateway(&config.gateway.url, &local) => {
            Some(local.tool_search_hides_client_tools)
        }
        _ => None,
    };
    assess(
        config.client_tools,
        protocol,
        probed.as_ref(),
        tool_search_hides,
    )
}

const NAME: &str = "client tools";

/// What the probe of the gateway's chat endpoint found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It answered like openclaw's endpoint (a 400 for the empty request).
    On,
    /// 404, 405, or a page that is not the endpoint's.
    Off,
    /// The gateway refused clawshim's credential there (401/403).
    Refused(u16),
    /// Not reachable, or something else answered.
    Unclear(String),
}

/// The finding for `mode`, the gateway's protocol, the probe, and `tool_search_hides`
/// (`Some` when the gateway's config was read on this host).
pub fn assess(
    mode: ClientToolsMode,
    protocol: Option<u32>,
    probe: Option<&Probe>,
    tool_search_hides: Option<bool>,
) -> Check {
    if mode == ClientToolsMode::Off {
        return Check::skip(NAME, "client_tools = \"off\": requests' tools are ignored");
    }
    match protocol {
        None => return Check::skip(NAME, "not checked: no connection to the gateway"),
        Some(p) if p < 4 => {
            return Check::skip(
                NAME,
                "the gateway is clawdbot 2026.1.24 (protocol 3), which has no client tools: \
                 requests' tools are ignored (header x-clawshim-tools: ignored)",
            )
        }
        Some(_) => {}
    }
    match probe {
        Some(Probe::On) => {}
        Some(Probe::Off) => return Check::skip(
            NAME,
            "the gateway's /v1/chat/completions is off, so requests' tools are ignored; to run \
                 them, set gateway.http.endpoints.chatCompletions.enabled to true and \
                 tools.toolSearch to false in the gateway's config (this also serves \
                 /v1/chat/completions, /v1/models and /v1/embeddings on the gateway's port to \
                 anyone holding the gateway token: keep it on loopback and the token secret)",
        ),
        Some(Probe::Refused(status)) => {
            return Check::fail(
                NAME,
                format!(
                    "the gateway's /v1/chat/completions refused clawshim's credential ({status})"
                ),
                "use the gateway's token or password as clawshim's gateway credential",
            )
        }
        Some(Probe::Unclear(what)) => {
            return Check::skip(
                NAME,
                format!("the gateway's chat endpoint could not be probed: {what}"),
            )
        }
        None => return Check::skip(NAME, "the gateway's chat endpoint was not probed"),
    }
    match tool_search_hides {
        Some(true) => Check::fail(
            NAME,
            "the gateway's /v1/chat/completions is on, but tools.toolSearch hides client tools \
             behind openclaw's tool search: the model never sees them and answers in text",
            "set tools.toolSearch to false in the gateway's config and restart the gateway",
        ),
        Some(false) => Check::pass(
            NAME,
            "run through the gateway's /v1/chat/completions (tools.toolSearch is off)",
        ),
        None => Check::pass(
            NAME,
            "run through the gateway's /v1/chat/completions; its config is not on this host: \
             make sure tools.toolSearch is false there, or the model never sees the tools",
        ),
    }
}

/// Probes `<base>/v1/chat/completions` with `credential` (see the module doc).
pub async fn probe(base: &str, credential: Option<&str>) -> Probe {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Probe::Unclear(e.to_string()),
    };
    let mut request = client
        .post(format!(
            "{}/v1/chat/completions",
            base.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(r#"{"model":"openclaw","messages":[]}"#);
    if let Some(c) = credential {
        request = request.bearer_auth(c);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Probe::Unclear(e.without_url().to_string()),
    };
    let status = response.status().as_u16();
    let json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    classify(status, json)
}

/// The probe's answer: its status and whether it was JSON.
fn classify(status: u16, json: bool) -> Probe {
    match status {
        400 if json => Probe::On,
        404 | 405 => Probe::Off,
        200 if !json => Probe::Off,
        401 | 403 => Probe::Refused(status),
        other => Probe::Unclear(format!("it answered {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::Outcome;
    use super::*;

    #[test]
    fn off_and_gateways_without_client_tools_are_skips() {
        let on = Probe::On;
        assert_eq!(
            assess(ClientToolsMode::Off, Some(4), Some(&on), Some(false)).outcome,
            Outcome::Skip
        );
        let v3 = assess(ClientToolsMode::Auto, Some(3), None, None);
        assert_eq!(v3.outcome, Outcome::Skip);
        assert!(v3.detail.contains("clawdbot 2026.1.24"));
        let off = assess(
            ClientToolsMode::Auto,
            Some(4),
            Some(&Probe::Off),
            Some(true),
        );
        assert_eq!(off.outcome, Outcome::Skip);
        assert!(off
            .detail
            .contains("gateway.http.endpoints.chatCompletions.enabled"));
        assert!(off.detail.contains("tools.toolSearch to false"));
        assert!(off.detail.contains("anyone holding the gateway token"));
    }

    #[test]
    fn an_endpoint_on_needs_tool_search_off() {
        let on = Probe::On;
        let hidden = assess(ClientToolsMode::Auto, Some(4), Some(&on), Some(true));
        assert_eq!(hidden.outcome, Outcome::Fail);
        assert!(hidden.fix.unwrap().contains("tools.toolSearch to false"));
        assert_eq!(
            assess(ClientToolsMode::Auto, Some(4), Some(&on), Some(false)).outcome,
            Outcome::Pass
        );
        let remote = assess(ClientToolsMode::Auto, Some(4), Some(&on), None);
        assert_eq!(remote.outcome, Outcome::Pass);
        assert!(remote
            .detail
            .contains("make sure tools.toolSearch is false"));
        let refused = assess(
            ClientToolsMode::Auto,
            Some(4),
            Some(&Probe::Refused(401)),
            Some(false),
        );
        assert_eq!(refused.outcome, Outcome::Fail);
    }

    #[test]
    fn probe_answers() {
        assert_eq!(classify(400, true), Probe::On);
        assert_eq!(classify(404, false), Probe::Off);
        assert_eq!(classify(405, false), Probe::Off);
        assert_eq!(classify(200, false), Probe::Off);
        assert_eq!(classify(401, true), Probe::Refused(401));
        assert!(matches!(classify(500, true), Probe::Unclear(_)));
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_unclear() {
        assert!(matches!(
            probe("http://127.0.0.1:9", None).await,
            Probe::Unclear(_)
        ));
    }
}
