//! The TOML config file, as written by users: the first of the three configuration layers
//! (file, flags/env, validated [`super::Config`]). Unknown keys are rejected so a typo is an
//! error at start-up rather than a silently ignored setting. Values are kept as written (every
//! key optional, no defaults): [`super::merge`] applies precedence and defaults, and
//! [`super::validate`] checks them.

use serde::Deserialize;

use clawshim_core::gateway::{ProgressLevel, SessionCleanup};

use crate::front_door::passthrough::ForwardedHeaders;
use crate::ops::telemetry::LogFormat;

/// Top level of `clawshim.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Plain HTTP listen address, e.g. `127.0.0.1:8790`, or `off`.
    pub listen: Option<String>,
    /// `[gateway]`.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[tls]`.
    #[serde(default)]
    pub tls: TlsSection,
    /// `[passthrough]`.
    #[serde(default)]
    pub passthrough: PassthroughSection,
    /// `[images]`.
    #[serde(default)]
    pub images: ImagesSection,
    /// `[state]`.
    #[serde(default)]
    pub state: StateSection,
    /// `[traces]`: OTLP trace export (the `OTEL_*` variables' keys).
    #[serde(default)]
    pub traces: TracesSection,
    /// clawshim's own API keys (`[[keys]]`), stored as SHA-256 hashes.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

/// One `[[keys]]` entry; `clawshim gen-key` prints one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Name for logs and metrics.
    pub name: String,
    /// SHA-256 of the key, 64 hex digits.
    pub sha256: String,
    /// Agents the key may use (default: all).
    pub agents: Option<Vec<String>>,
    /// Requests per minute (default: unlimited).
    pub requests_per_minute: Option<u32>,
    /// Runs in flight at once (default: unlimited).
    pub max_concurrent_runs: Option<usize>,
    /// Tokens per UTC day (default: unlimited).
    pub daily_token_budget: Option<u64>,
    /// Tokens per UTC month (default: unlimited).
    pub monthly_token_budget: Option<u64>,
    /// Session namespace of the key's sessions (default: derived from the name).
    pub session_namespace: Option<String>,
    /// The most of the agent's work the key's requests see (default: `[server] progress`).
    pub progress: Option<ProgressLevel>,
    /// This key's requests' own function tools: `"auto"` (default: the server's setting) or
    /// `"off"`.
    pub client_tools: Option<crate::run::client_tools::mode::ClientToolsMode>,
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
    /// How long a request waits for the connection (e.g. a gateway restart) before 503, seconds.
    pub wait_secs: Option<u64>,
    /// Delete each per-request session after its run: `"auto"`, `true` or `false`.
    pub delete_ephemeral_sessions: Option<SessionCleanup>,
    /// Requests' own function tools: `"auto"` or `"off"`.
    pub client_tools: Option<crate::run::client_tools::mode::ClientToolsMode>,
    /// Follow only our own runs' sessions on protocol 4 (`session-scoped-events`).
    pub session_scoped_events: Option<bool>,
    /// WebSocket connections kept to the gateway.
    pub sockets: Option<usize>,
    /// PEM CA bundle trusted for a `wss://` gateway instead of the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Ed25519 device identity file (created on first start, mode 0600); needed when the
    /// gateway is on another host.
    pub device_identity: Option<std::path::PathBuf>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Bearer tokens clients may use; default: the gateway token (or password) while no
    /// `[[keys]]` are set, none once they are.
    pub tokens: Option<Vec<String>>,
    /// Failed auth attempts per client IP before it gets 429 (0 disables).
    pub max_failed_attempts: Option<u32>,
    /// Window of that count, seconds.
    pub failed_window_secs: Option<u64>,
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
    /// Non-stream keep-alive: after this many seconds without the answer, the headers go out
    /// and a space every interval until the JSON body; 0 turns it off.
    pub json_keepalive_secs: Option<u64>,
    /// Runs in flight at once; beyond it requests get 429.
    pub max_concurrent_runs: Option<usize>,
    /// Open client connections at once; beyond it new ones are closed.
    pub max_connections: Option<usize>,
    /// Open client connections at once from one address (IPv4) or /64 (IPv6).
    pub max_connections_per_address: Option<usize>,
    /// Time to send a request header: from the connection's start for its first request,
    /// from the first byte for later ones, seconds.
    pub header_timeout_secs: Option<u64>,
    /// Largest request header (HTTP/1), bytes.
    pub max_header_bytes: Option<usize>,
    /// A connection with no request in flight is closed after this long, seconds.
    pub idle_timeout_secs: Option<u64>,
    /// HTTP/2 streams open at once per connection (1 to 100).
    pub h2_max_concurrent_streams: Option<u32>,
    /// HTTP/2 streams reset by the client before they were accepted, per connection.
    pub h2_max_pending_accept_reset_streams: Option<usize>,
    /// Largest HTTP/2 header list, bytes.
    pub h2_max_header_list_bytes: Option<u32>,
    /// Request bodies read and parsed at once; more wait, then get 503.
    pub max_concurrent_bodies: Option<usize>,
    /// Of those, at most this many for one API key and for one client address.
    pub max_concurrent_bodies_per_client: Option<usize>,
    /// Time to send a whole request body, seconds.
    pub body_timeout_secs: Option<u64>,
    /// Slowest average rate of a request body, bytes per second (0: none).
    pub body_min_bytes_per_sec: Option<u64>,
    /// With two keys or more, the share (percent) of the gateway's run slots a key without
    /// its own `max_concurrent_runs` may hold.
    pub key_run_share_percent: Option<u8>,
    /// Bytes of run requests held until the gateway accepts them, all runs together; beyond
    /// it requests get 503.
    pub max_run_bytes_in_flight: Option<u64>,
    /// Longest wait of a run in clawshim's queue for a gateway slot, seconds; then 503.
    pub queue_wait_secs: Option<u64>,
}

/// `[passthrough]`: what is proxied to the gateway.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassthroughSection {
    /// Path prefixes passed through (each starting with `/`); default: the Control UI's.
    pub allow: Option<Vec<String>>,
}

/// `[images]`: remote image URLs in requests (file only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesSection {
    /// Fetch `http(s)` image URLs (default: refuse them with 400).
    pub allow_urls: Option<bool>,
    /// Largest fetched image, bytes.
    pub max_url_bytes: Option<u64>,
    /// Limit for one fetch (connect, redirects and body), seconds.
    pub fetch_timeout_secs: Option<u64>,
}

/// `[state]`: state shared by several clawshims (Redis).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// `redis://` or `rediss://` URL, password included (default: none).
    pub redis_url: Option<String>,
    /// Longest a request waits on one Redis operation, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Start of every key name.
    pub key_prefix: Option<String>,
    /// Seconds a run slot lease lives without renewal.
    pub lease_ttl_secs: Option<u64>,
    /// Token usage on disk without Redis (default: none).
    pub usage_file: Option<std::path::PathBuf>,
}

/// `[traces]`: OpenTelemetry trace export over OTLP/HTTP (off while no endpoint is set).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesSection {
    /// Collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); `/v1/traces` is appended.
    pub endpoint: Option<String>,
    /// Full traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), used as written.
    pub traces_endpoint: Option<String>,
    /// `name=value,...` headers sent with each export (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Option<String>,
    /// Transport (`OTEL_EXPORTER_OTLP_PROTOCOL`): only `http/protobuf`.
    pub protocol: Option<String>,
    /// `service.name` (`OTEL_SERVICE_NAME`).
    pub service_name: Option<String>,
    /// Sampler (`OTEL_TRACES_SAMPLER`), e.g. `parentbased_traceidratio`.
    pub sampler: Option<String>,
    /// Sampler argument (`OTEL_TRACES_SAMPLER_ARG`), e.g. `0.1`.
    pub sampler_arg: Option<String>,
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
    /// Passthrough client attribution: `set` (default) or `strip`.
    pub forwarded_headers: Option<ForwardedHeaders>,
    /// Proxies (CIDRs) in front of clawshim whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// `text` or `json` log lines.
    pub log_format: Option<LogFormat>,
    /// The agent's work in responses: `off`, `steps` (default) or `detailed`.
    pub progress: Option<ProgressLevel>,
    /// Prometheus metrics listen address (default: off).
    pub metrics_listen: Option<String>,
    /// Unix socket for graceful upgrades (`--upgrade`); old and new process must agree.
    pub upgrade_sock: Option<std::path::PathBuf>,
    /// Write the process id here once serving.
    pub pid_file: Option<std::path::PathBuf>,
}

/// `[tls]`: the HTTPS listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// HTTPS listen address, e.g. `0.0.0.0:8443`.
    pub listen: Option<String>,
    /// PEM certificate chain, leaf first.
    pub cert: Option<std::path::PathBuf>,
    /// PEM private key.
    pub key: Option<std::path::PathBuf>,
}
