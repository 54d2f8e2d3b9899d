//! The TOML config file, as written by users. Unknown keys are rejected so a typo is an
//! error at start-up rather than a silently ignored setting.

use serde::Deserialize;

/// Top level of `clawshim.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Plain HTTP listen address, e.g. `127.0.0.1:8790`.
    pub listen: Option<String>,
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub server: ServerSection,
}

/// `[gateway]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// `ws://` or `wss://` URL of the gateway.
    pub url: Option<String>,
    /// `gateway.auth.token` of the gateway.
    pub token: Option<String>,
    /// `gateway.auth.password` of the gateway.
    pub password: Option<String>,
    /// Limit for connecting + handshake, seconds.
    pub connect_timeout_secs: Option<u64>,
    /// Limit for a gateway call's answer, seconds.
    pub request_timeout_secs: Option<u64>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Bearer tokens clients may use; default: the gateway token (or password).
    pub tokens: Option<Vec<String>>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest accepted request body, bytes.
    pub max_body_bytes: Option<u64>,
    /// Run timeout passed to the gateway and enforced locally (plus a grace), seconds.
    pub run_timeout_secs: Option<u64>,
    /// Give up on a client that accepts no bytes for this long, seconds.
    pub write_timeout_secs: Option<u64>,
    /// SSE keep-alive comment interval while a run is silent, seconds.
    pub keepalive_secs: Option<u64>,
    /// Runs in flight at once; beyond it requests get 429.
    pub max_concurrent_runs: Option<usize>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Worker threads of the HTTP service.
    pub threads: Option<usize>,
    /// How long running streams may finish after SIGTERM, seconds.
    pub grace_period_secs: Option<u64>,
    /// Proxy every other path to the gateway (Control UI, its WebSocket, ...).
    pub passthrough: Option<bool>,
    /// `text` or `json` log lines.
    pub log_format: Option<String>,
}
