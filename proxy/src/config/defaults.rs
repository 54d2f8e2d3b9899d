//! Every default of a setting, in one place: what clawshim uses when neither a flag, an
//! environment variable nor the file sets a value. README's configuration table lists the
//! same values.

use std::path::PathBuf;
use std::time::Duration;

use clawshim_core::gateway::SessionCleanup;

use crate::passthrough::ForwardedHeaders;
use crate::telemetry::LogFormat;

/// Plain HTTP listener.
pub const LISTEN: &str = "127.0.0.1:8790";
/// Gateway WebSocket: the gateway's default port on this host.
pub const GATEWAY_URL: &str = "ws://127.0.0.1:18789";
/// Connecting to the gateway plus its handshake, seconds.
pub const GATEWAY_CONNECT_TIMEOUT_SECS: u64 = 10;
/// A gateway call's answer, seconds.
pub const GATEWAY_REQUEST_TIMEOUT_SECS: u64 = 30;
/// How long a request waits for the gateway connection before 503, seconds.
pub const GATEWAY_WAIT_SECS: u64 = 5;
/// Delete per-request sessions when the gateway grants the scope to.
pub const DELETE_EPHEMERAL_SESSIONS: SessionCleanup = SessionCleanup::Auto;
/// Receive every run's events (the broadcast): on openclaw 2026.9.6 a session subscription
/// makes the gateway project transcript events for each run (`server-session-events-*.mjs`).
pub const SESSION_SCOPED_EVENTS: bool = false;
/// Failed auth attempts per client IP before 429.
pub const MAX_FAILED_AUTH: u32 = 10;
/// Window of the failed-auth count, seconds.
pub const FAILED_AUTH_WINDOW_SECS: u64 = 60;
/// Largest request body: 20 MiB.
pub const MAX_BODY_BYTES: u64 = 20 << 20;
/// Run timeout passed to the gateway, seconds.
pub const RUN_TIMEOUT_SECS: u64 = 600;
/// Extra time the gateway gets to report its own run timeout before clawshim gives up (not
/// configurable).
pub const RUN_GRACE: Duration = Duration::from_secs(30);
/// Per-write limit towards a client, seconds.
pub const WRITE_TIMEOUT_SECS: u64 = 30;
/// SSE keep-alive interval, seconds.
pub const KEEPALIVE_SECS: u64 = 15;
/// Runs in flight at once.
pub const MAX_CONCURRENT_RUNS: usize = 4096;
/// Grace period after SIGTERM, seconds.
pub const GRACE_PERIOD_SECS: u64 = 10;
/// Proxy other paths to the gateway.
pub const PASSTHROUGH: bool = true;
/// Client attribution on passthrough requests.
pub const FORWARDED_HEADERS: ForwardedHeaders = ForwardedHeaders::Set;
/// Log line format.
pub const LOG_FORMAT: LogFormat = LogFormat::Text;
/// Graceful-upgrade socket; old and new process must use the same.
pub const UPGRADE_SOCK: &str = "/tmp/clawshim_upgrade.sock";

/// HTTP worker threads: one per CPU (2 when the count is unknown).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// [`UPGRADE_SOCK`] as a path.
pub fn upgrade_sock() -> PathBuf {
    PathBuf::from(UPGRADE_SOCK)
}
