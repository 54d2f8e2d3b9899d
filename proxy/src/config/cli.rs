//! Command-line flags: the second of the three configuration layers (file, flags/env,
//! validated [`super::Config`]). Each flag shares its definition with its `CLAWSHIM_*`
//! environment variable, so the two can never drift apart, and clap makes the flag win over
//! the environment; [`super::merge`] makes both win over the file. Values are kept as given
//! (no defaults here); enums are parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use clawshim_core::gateway::{ProgressLevel, SessionCleanup};

use crate::front_door::passthrough::ForwardedHeaders;
use crate::ops::telemetry::LogFormat;

/// clawshim: an OpenAI-compatible API (chat completions, Responses, models, embeddings) in
/// front of a Clawdbot / OpenClaw gateway.
#[derive(Debug, Parser)]
#[command(name = "clawshim", version, about)]
pub struct Cli {
    /// What to do; none means `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
    /// Validate the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// Subcommands; none means `serve`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve (the default).
    Serve,
    /// Serve with a built-in in-process echo gateway: a working endpoint with no gateway.
    Demo,
    /// Generate an API key and print it with the `[[keys]]` block to add to the config file.
    GenKey(GenKey),
    /// Check the set-up end to end (config, gateway, credentials, scopes, pairing, listeners,
    /// one real run), explain each problem with its fix, and print the client settings. Exit
    /// status 0 only when every check passes.
    Doctor,
    /// Print each key's tokens of the current UTC day and month and its budgets, from Redis
    /// (`state.redis_url`) or `state.usage_file`.
    Usage,
}

/// `clawshim gen-key` options.
#[derive(Debug, Args)]
pub struct GenKey {
    /// Name shown in logs and metrics (never the key).
    #[arg(long)]
    pub name: String,
    /// Agents the key may use, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub agents: Option<Vec<String>>,
    /// Requests per minute.
    #[arg(long)]
    pub requests_per_minute: Option<u32>,
    /// Runs in flight at once.
    #[arg(long)]
    pub max_concurrent_runs: Option<usize>,
    /// Session namespace: the key's sessions are `agent:<id>:<namespace>:...` (default: the
    /// name, lower-cased, other characters as `-`).
    #[arg(long)]
    pub session_namespace: Option<String>,
}

/// Every setting that can come from a flag or the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct Settings {
    /// TOML config file.
    #[arg(long, env = "CLAWSHIM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Plain HTTP listen address, e.g. 127.0.0.1:8790.
    #[arg(long, env = "CLAWSHIM_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Gateway WebSocket URL (default ws://127.0.0.1:18789).
    #[arg(long, env = "CLAWSHIM_GATEWAY_URL", global = true)]
    pub gateway_url: Option<String>,
    /// Gateway token (gateway.auth.token).
    #[arg(
        long,
        env = "CLAWSHIM_GATEWAY_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub gateway_token: Option<String>,
    /// Gateway password (gateway.auth.password).
    #[arg(
        long,
        env = "CLAWSHIM_GATEWAY_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub gateway_password: Option<String>,
    /// Ed25519 device identity file, created on first start (mode 0600). Needed when the
    /// gateway is on another host: approve the device there once (`openclaw devices approve`).
    #[arg(long, env = "CLAWSHIM_DEVICE_IDENTITY", global = true)]
    pub device_identity: Option<PathBuf>,
    /// Accepted client bearer tokens, comma-separated (default: the gateway token while no
    /// [[keys]] are set, none once they are).
    #[arg(
        long,
        env = "CLAWSHIM_API_TOKENS",
        global = true,
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Option<Vec<String>>,
    /// Seconds to connect to the gateway and finish its handshake.
    #[arg(long, env = "CLAWSHIM_GATEWAY_CONNECT_TIMEOUT_SECS", global = true)]
    pub gateway_connect_timeout_secs: Option<u64>,
    /// Seconds to wait for a gateway call's answer.
    #[arg(long, env = "CLAWSHIM_GATEWAY_REQUEST_TIMEOUT_SECS", global = true)]
    pub gateway_request_timeout_secs: Option<u64>,
    /// Seconds a request waits for the gateway connection (e.g. during a gateway restart)
    /// before it gets 503.
    #[arg(long, env = "CLAWSHIM_GATEWAY_WAIT_SECS", global = true)]
    pub gateway_wait_secs: Option<u64>,
    /// Delete each per-request session after its run (keeps clawdbot 2026.1.x fast): `auto`
    /// (when the gateway grants operator.admin), `true` (always ask for it) or `false`.
    #[arg(long, env = "CLAWSHIM_DELETE_EPHEMERAL_SESSIONS", global = true)]
    pub delete_ephemeral_sessions: Option<SessionCleanup>,
    /// Requests' own function tools: `auto` (run them through the gateway's
    /// /v1/chat/completions where it can: openclaw with that endpoint on) or `off` (ignore
    /// them; the agent answers).
    #[arg(long, env = "CLAWSHIM_CLIENT_TOOLS", global = true)]
    pub client_tools: Option<crate::run::client_tools::mode::ClientToolsMode>,
    /// On protocol 4, receive only our own runs' events (`session-scoped-events` and a
    /// subscription per run) instead of every run's: saves traffic when many clients share
    /// one gateway, costs the gateway transcript events per run.
    #[arg(long, env = "CLAWSHIM_SESSION_SCOPED_EVENTS", global = true)]
    pub session_scoped_events: Option<bool>,
    /// WebSocket connections kept to the gateway (1-16); runs are spread over them, so a
    /// lost one fails only its own runs.
    #[arg(long, env = "CLAWSHIM_GATEWAY_SOCKETS", global = true)]
    pub gateway_sockets: Option<usize>,
    /// Redis (or Valkey) shared by every clawshim in front of one gateway, for fleet-wide
    /// rate limits, run slots, failed-auth counts and Idempotency-Key readers:
    /// redis://[:password@]host[:port][/db] or rediss://... (default: none, per-instance).
    #[arg(
        long,
        env = "CLAWSHIM_REDIS_URL",
        global = true,
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// Longest a request waits on one Redis operation, milliseconds (then it decides locally).
    #[arg(long, env = "CLAWSHIM_STATE_TIMEOUT_MS", global = true)]
    pub state_timeout_ms: Option<u64>,
    /// Failed auth attempts per client IP before 429 (0 disables).
    #[arg(long, env = "CLAWSHIM_MAX_FAILED_AUTH", global = true)]
    pub max_failed_auth: Option<u32>,
    /// Window of the failed-auth count, seconds.
    #[arg(long, env = "CLAWSHIM_FAILED_AUTH_WINDOW_SECS", global = true)]
    pub failed_auth_window_secs: Option<u64>,
    /// Largest request body in bytes.
    #[arg(long, env = "CLAWSHIM_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<u64>,
    /// Run timeout in seconds.
    #[arg(long, env = "CLAWSHIM_RUN_TIMEOUT_SECS", global = true)]
    pub run_timeout_secs: Option<u64>,
    /// Client write timeout in seconds.
    #[arg(long, env = "CLAWSHIM_WRITE_TIMEOUT_SECS", global = true)]
    pub write_timeout_secs: Option<u64>,
    /// SSE keep-alive interval in seconds.
    #[arg(long, env = "CLAWSHIM_KEEPALIVE_SECS", global = true)]
    pub keepalive_secs: Option<u64>,
    /// Non-stream keep-alive interval in seconds (headers early, then whitespace before the
    /// JSON body); 0 turns it off.
    #[arg(long, env = "CLAWSHIM_JSON_KEEPALIVE_SECS", global = true)]
    pub json_keepalive_secs: Option<u64>,
    /// Runs in flight at once.
    #[arg(long, env = "CLAWSHIM_MAX_CONCURRENT_RUNS", global = true)]
    pub max_concurrent_runs: Option<usize>,
    /// Request bodies read and parsed at once (default: twice the CPU count).
    #[arg(long, env = "CLAWSHIM_MAX_CONCURRENT_BODIES", global = true)]
    pub max_concurrent_bodies: Option<usize>,
    /// Of those, at most this many for one API key and for one client address (default:
    /// half of them).
    #[arg(long, env = "CLAWSHIM_MAX_CONCURRENT_BODIES_PER_CLIENT", global = true)]
    pub max_concurrent_bodies_per_client: Option<usize>,
    /// Seconds a client has to send a whole request body.
    #[arg(long, env = "CLAWSHIM_BODY_TIMEOUT_SECS", global = true)]
    pub body_timeout_secs: Option<u64>,
    /// Slowest average rate of a request body, bytes per second, after a few seconds'
    /// allowance (0: none).
    #[arg(long, env = "CLAWSHIM_BODY_MIN_BYTES_PER_SEC", global = true)]
    pub body_min_bytes_per_sec: Option<u64>,
    /// With two keys or more, the share of run slots (percent) a key without its own
    /// `max_concurrent_runs` may hold.
    #[arg(long, env = "CLAWSHIM_KEY_RUN_SHARE_PERCENT", global = true)]
    pub key_run_share_percent: Option<u8>,
    /// Bytes of run requests held until the gateway accepts them, all runs together.
    #[arg(long, env = "CLAWSHIM_MAX_RUN_BYTES_IN_FLIGHT", global = true)]
    pub max_run_bytes_in_flight: Option<u64>,
    /// Longest wait of a run in clawshim's queue for a gateway slot, seconds (then 503).
    #[arg(long, env = "CLAWSHIM_QUEUE_WAIT_SECS", global = true)]
    pub queue_wait_secs: Option<u64>,
    /// Worker threads.
    #[arg(long, env = "CLAWSHIM_THREADS", global = true)]
    pub threads: Option<usize>,
    /// Grace period after SIGTERM in seconds.
    #[arg(long, env = "CLAWSHIM_GRACE_PERIOD_SECS", global = true)]
    pub grace_period_secs: Option<u64>,
    /// Proxy other paths to the gateway (true/false).
    #[arg(long, env = "CLAWSHIM_PASSTHROUGH", global = true)]
    pub passthrough: Option<bool>,
    /// Path prefixes proxied to the gateway, comma-separated, each starting with `/`
    /// (default: what the Control UI and its WebSocket need).
    #[arg(
        long,
        env = "CLAWSHIM_PASSTHROUGH_ALLOW",
        global = true,
        value_delimiter = ','
    )]
    pub passthrough_allow: Option<Vec<String>>,
    /// Open client connections at once; beyond it new ones are closed.
    #[arg(long, env = "CLAWSHIM_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Open client connections at once from one address (IPv4) or /64 (IPv6) (default: a
    /// quarter of max-connections).
    #[arg(long, env = "CLAWSHIM_MAX_CONNECTIONS_PER_ADDRESS", global = true)]
    pub max_connections_per_address: Option<usize>,
    /// Seconds a client has to send a request header: from the connection's start for its
    /// first request, from the first byte for later ones.
    #[arg(long, env = "CLAWSHIM_HEADER_TIMEOUT_SECS", global = true)]
    pub header_timeout_secs: Option<u64>,
    /// Largest request header (HTTP/1), bytes.
    #[arg(long, env = "CLAWSHIM_MAX_HEADER_BYTES", global = true)]
    pub max_header_bytes: Option<usize>,
    /// Seconds a connection may stay open with no request in flight (HTTP/1 keep-alive
    /// between requests, HTTP/2 with no stream open).
    #[arg(long, env = "CLAWSHIM_IDLE_TIMEOUT_SECS", global = true)]
    pub idle_timeout_secs: Option<u64>,
    /// HTTP/2 streams open at once per connection (1 to 100).
    #[arg(long, env = "CLAWSHIM_H2_MAX_CONCURRENT_STREAMS", global = true)]
    pub h2_max_concurrent_streams: Option<u32>,
    /// HTTP/2 streams reset by the client before they were accepted, per connection.
    #[arg(
        long,
        env = "CLAWSHIM_H2_MAX_PENDING_ACCEPT_RESET_STREAMS",
        global = true
    )]
    pub h2_max_pending_accept_reset_streams: Option<usize>,
    /// Largest HTTP/2 header list, bytes.
    #[arg(long, env = "CLAWSHIM_H2_MAX_HEADER_LIST_BYTES", global = true)]
    pub h2_max_header_list_bytes: Option<u32>,
    /// Client attribution on passthrough requests: `set` (X-Forwarded-For etc. from what
    /// clawshim saw) or `strip`.
    #[arg(long, env = "CLAWSHIM_FORWARDED_HEADERS", global = true)]
    pub forwarded_headers: Option<ForwardedHeaders>,
    /// Proxies in front of clawshim (tunnels, reverse proxies), comma-separated CIDRs such
    /// as 127.0.0.1/32: their X-Forwarded-For names the client (rightmost untrusted hop).
    #[arg(
        long,
        env = "CLAWSHIM_TRUSTED_PROXIES",
        global = true,
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// Log format.
    #[arg(long, env = "CLAWSHIM_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// The agent's work in responses (tool steps, thinking, approval waits as reasoning):
    /// off, steps or detailed (adds tool arguments and result excerpts).
    #[arg(long, env = "CLAWSHIM_PROGRESS", global = true)]
    pub progress: Option<ProgressLevel>,
    /// HTTPS, metrics and upgrade listeners.
    #[command(flatten)]
    pub listeners: ListenerSettings,
    /// OTLP trace export.
    #[command(flatten)]
    pub traces: TraceFlags,
}

/// Trace export flags, each with its standard `OTEL_*` variable.
#[derive(Debug, Default, Clone, Args)]
pub struct TraceFlags {
    /// OTLP/HTTP collector base URL, e.g. http://127.0.0.1:4318 (`/v1/traces` is appended);
    /// setting it (or --otlp-traces-endpoint) turns trace export on.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// Full OTLP/HTTP traces URL, used as written.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", global = true)]
    pub otlp_traces_endpoint: Option<String>,
    /// Headers sent with each export, `name=value,...` (values percent-encoded).
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_HEADERS",
        global = true,
        hide_env_values = true
    )]
    pub otlp_headers: Option<String>,
    /// OTLP transport: only http/protobuf.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", global = true)]
    pub otlp_protocol: Option<String>,
    /// service.name of the exported spans (default clawshim).
    #[arg(long, env = "OTEL_SERVICE_NAME", global = true)]
    pub otel_service_name: Option<String>,
    /// Sampler: always_on, always_off, traceidratio, parentbased_always_on (default),
    /// parentbased_always_off, parentbased_traceidratio.
    #[arg(long, env = "OTEL_TRACES_SAMPLER", global = true)]
    pub otel_traces_sampler: Option<String>,
    /// The sampler's ratio, 0 to 1 (default 1).
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", global = true)]
    pub otel_traces_sampler_arg: Option<String>,
}

/// Listener flags (each with its `CLAWSHIM_*` variable).
#[derive(Debug, Default, Clone, Args)]
pub struct ListenerSettings {
    /// HTTPS listen address, e.g. 0.0.0.0:8443 (needs --tls-cert and --tls-key).
    #[arg(long, env = "CLAWSHIM_TLS_LISTEN", global = true)]
    pub tls_listen: Option<String>,
    /// PEM certificate chain for the HTTPS listener, leaf first.
    #[arg(long, env = "CLAWSHIM_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the HTTPS listener.
    #[arg(long, env = "CLAWSHIM_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Prometheus metrics listen address, e.g. 127.0.0.1:9790 (default: off).
    #[arg(long, env = "CLAWSHIM_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
    /// PEM CA bundle trusted for a wss:// gateway instead of the system roots.
    #[arg(long, env = "CLAWSHIM_GATEWAY_CA_FILE", global = true)]
    pub gateway_ca_file: Option<PathBuf>,
    /// Unix socket over which a graceful upgrade hands the listening sockets over.
    #[arg(long, env = "CLAWSHIM_UPGRADE_SOCK", global = true)]
    pub upgrade_sock: Option<PathBuf>,
    /// Write the process id here once serving (for `kill -QUIT` / `kill -HUP`).
    #[arg(long, env = "CLAWSHIM_PID_FILE", global = true)]
    pub pid_file: Option<PathBuf>,
    /// Take over the listening sockets of a running clawshim (graceful upgrade; send the old
    /// process SIGQUIT within 5 seconds).
    #[arg(long, global = true)]
    pub upgrade: bool,
}
