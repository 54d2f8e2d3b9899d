//! Command-line flags. Each flag shares its definition with an environment variable, so a
//! flag and `CLAWSHIM_*` can never drift apart; flags win over the environment, both win
//! over the file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// clawshim: OpenAI-compatible chat completions in front of a Clawdbot / OpenClaw gateway.
#[derive(Debug, Parser)]
#[command(name = "clawshim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Fixed session namespace.
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
    /// Accepted client bearer tokens, comma-separated (default: the gateway token).
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
    /// Delete each per-request session after its run (keeps clawdbot 2026.1.x fast; needs
    /// the gateway to grant operator.admin).
    #[arg(long, env = "CLAWSHIM_DELETE_EPHEMERAL_SESSIONS", global = true)]
    pub delete_ephemeral_sessions: Option<bool>,
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
    /// Runs in flight at once.
    #[arg(long, env = "CLAWSHIM_MAX_CONCURRENT_RUNS", global = true)]
    pub max_concurrent_runs: Option<usize>,
    /// Worker threads.
    #[arg(long, env = "CLAWSHIM_THREADS", global = true)]
    pub threads: Option<usize>,
    /// Grace period after SIGTERM in seconds.
    #[arg(long, env = "CLAWSHIM_GRACE_PERIOD_SECS", global = true)]
    pub grace_period_secs: Option<u64>,
    /// Proxy other paths to the gateway (true/false).
    #[arg(long, env = "CLAWSHIM_PASSTHROUGH", global = true)]
    pub passthrough: Option<bool>,
    /// Client attribution on passthrough requests: `set` (X-Forwarded-For etc. from what
    /// clawshim saw) or `strip`.
    #[arg(long, env = "CLAWSHIM_FORWARDED_HEADERS", global = true)]
    pub forwarded_headers: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "CLAWSHIM_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// HTTPS, metrics and upgrade listeners.
    #[command(flatten)]
    pub listeners: super::listeners::ListenerSettings,
}
