//! Every default of a setting, in one place: what clawshim uses when neither a flag, an
//! environment variable nor the file sets a value. README's configuration table lists the
//! same values.

use std::path::PathBuf;
use std::time::Duration;

use clawshim_core::gateway::{ProgressLevel, SessionCleanup};

use crate::front_door::passthrough::ForwardedHeaders;
use crate::ops::telemetry::LogFormat;

/// Refuse remote image URLs.
pub const IMAGES_ALLOW_URLS: bool = false;
/// Largest fetched image: 10 MiB.
pub const IMAGES_MAX_URL_BYTES: u64 = 10 << 20;
/// One image fetch, seconds.
pub const IMAGES_FETCH_TIMEOUT_SECS: u64 = 10;
/// Longest a request waits on one shared-state (Redis) operation, milliseconds: a LAN round
/// trip is well under 1 ms, so a Redis that needs longer is overloaded or away, and the
/// request decides locally instead.
pub const STATE_TIMEOUT_MS: u64 = 25;
/// Start of every Redis key clawshim writes.
pub const STATE_KEY_PREFIX: &str = "clawshim:";
/// A run slot lease not renewed expires after this many seconds (an instance that dies
/// frees its slots within it).
pub const STATE_LEASE_TTL_SECS: u64 = 10;
/// OTLP transport (the only one built in).
pub const OTLP_PROTOCOL: &str = "http/protobuf";
/// `service.name` of exported spans.
pub const OTEL_SERVICE_NAME: &str = "clawshim";
/// Follow a client's sampling decision, else record every trace.
pub const OTEL_TRACES_SAMPLER: &str = "parentbased_always_on";
/// Plain HTTP listener.
pub const LISTEN: &str = "127.0.0.1:8790";
/// Gateway WebSocket: the gateway's default port on this host.
pub const GATEWAY_URL: &str = "ws://127.0.0.1:18789";
/// Connecting to the gateway plus its handshake, seconds.
pub const GATEWAY_CONNECT_TIMEOUT_SECS: u64 = 10;
/// A gateway call's answer, seconds.
pub const GATEWAY_REQUEST_TIMEOUT_SECS: u64 = 30;
/// How long a request that finds the gateway connection down waits for it before 503,
/// seconds: none, a 503 with `Retry-After` at once (clients retry it with backoff).
pub const GATEWAY_WAIT_SECS: u64 = 0;
/// Most WebSocket connections to the gateway (each one is an operator client there).
pub const MAX_GATEWAY_SOCKETS: usize = 16;
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
/// Open client connections at once (both listeners together); beyond it new connections are
/// closed at once.
pub const MAX_CONNECTIONS: usize = 2048;
/// Open connections from one client address (an IPv4 address or an IPv6 /64): a quarter of
/// `max_connections`, so one host leaves three quarters to the others.
pub fn max_connections_per_address(max_connections: usize) -> usize {
    (max_connections / 4).max(1)
}
/// Time a client has to send a request's whole header, seconds: from the connection's start
/// (after TLS) for its first request, from the header's first byte for later ones.
pub const HEADER_TIMEOUT_SECS: u64 = 10;
/// Largest request header (HTTP/1, leading blank lines included): 64 KiB, like
/// `h2_max_header_list_bytes`. pingora alone buffers up to 1 MiB per connection.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// How long a connection may wait with no request in flight, seconds: between requests on a
/// kept-alive HTTP/1.1 connection, or with no stream open on HTTP/2. Upgraded WebSocket
/// connections are in a request (the gateway ticks them every 30 s).
pub const IDLE_TIMEOUT_SECS: u64 = 60;
/// HTTP/2 streams a client may have open at once on one connection.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// HTTP/2 streams a client opened and reset before they were accepted, per connection
/// (the "rapid reset" bound; h2's own default).
pub const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Largest HTTP/2 header list (decoded), bytes.
pub const H2_MAX_HEADER_LIST_BYTES: u32 = 64 << 10;
/// SSE keep-alive interval, seconds.
pub const KEEPALIVE_SECS: u64 = 15;
/// Non-stream keep-alive interval, seconds: under the 60 s idle timeout of common proxies and
/// load balancers (nginx `proxy_read_timeout`, AWS ALB); answers faster than this are
/// unchanged. The OpenAI Python SDK (httpx), the Node SDK and aiohttp (Open WebUI) all read
/// JSON after leading whitespace (RELIABILITY.md).
pub const JSON_KEEPALIVE_SECS: u64 = 20;
/// Runs in flight at once.
pub const MAX_CONCURRENT_RUNS: usize = 4096;
/// With two keys or more, a key without its own `max_concurrent_runs` may hold this share (in
/// percent) of the runs clawshim sends the gateway at once, so one key cannot take them all.
pub const KEY_RUN_SHARE_PERCENT: u8 = 50;
/// Bytes of run requests (message, extra system prompt, attachments) held in memory until the
/// gateway accepted them, across all runs.
pub const MAX_RUN_BYTES_IN_FLIGHT: u64 = 256 << 20;
/// Request bodies read and parsed at once: twice the CPU count. Parsing is CPU work, so more
/// would not finish sooner, and each body in memory costs up to `max_body_bytes`.
pub fn max_concurrent_bodies() -> usize {
    2 * std::thread::available_parallelism().map_or(1, usize::from)
}
/// How long a request waits for a body slot before it gets 503 (not configurable).
pub const BODY_SLOT_WAIT: Duration = Duration::from_secs(10);
/// Body slots one API key, and one client address, may hold at once: half of them, so one
/// client leaves the other half to the rest.
pub fn max_concurrent_bodies_per_client(max_concurrent_bodies: usize) -> usize {
    (max_concurrent_bodies / 2).max(1)
}
/// Longest wait of a run in the admission queue, seconds: long enough for a burst to drain
/// on a busy gateway, short enough that a client hears `Retry-After` before its own timeout.
pub const QUEUE_WAIT_SECS: u64 = 60;
/// Highest `limits.queue_wait_secs`: an hour.
pub const MAX_QUEUE_WAIT_SECS: u64 = 3600;
/// Time a client has to send a whole request body, seconds (20 MiB in 60 s is 2.8 Mbit/s).
pub const BODY_TIMEOUT_SECS: u64 = 60;
/// Slowest average rate of a request body, bytes per second, once its allowance
/// ([`BODY_RATE_ALLOWANCE`]) is spent.
pub const BODY_MIN_BYTES_PER_SEC: u64 = 1024;
/// How far behind the minimum rate a body may fall before it is cut (not configurable): a
/// body has this long before its first byte must arrive, and the rate is an average.
pub const BODY_RATE_ALLOWANCE: Duration = Duration::from_secs(5);
/// Grace period after SIGTERM, seconds.
pub const GRACE_PERIOD_SECS: u64 = 10;
/// Proxy other paths to the gateway.
pub const PASSTHROUGH: bool = true;
/// Path prefixes passthrough forwards: what the Control UI and its WebSocket need on
/// clawdbot 2026.1 and openclaw 2026.9 with the UI at the root (`gateway.controlUi.basePath`
/// unset). From the gateways' HTTP request handlers (clawdbot `dist/gateway/server-http.js`
/// `handleRequest`, `control-ui.js`; openclaw `dist/server-start-*.mjs` request stages,
/// `control-ui-resource-routes-*.mjs`), the files of their `dist/control-ui/`, and the
/// client-side routes of the UI (a reload of `/chat` is answered by the gateway with the UI
/// page). Left out on purpose: `/tools/invoke`, `/hooks`, `/v1/*`, `/api/*`, plugin routes,
/// `/__openclaw__/worker*` (node transfers) and the rest of the gateway's HTTP API.
pub const PASSTHROUGH_ALLOW: &[&str] = &[
    // The UI page and the gateway WebSocket (both gateways upgrade on `/`).
    "/",
    // Static files of the UI (both); `/avatar/{agent}` (both).
    "/assets",
    "/avatar",
    "/favicon.ico",
    "/favicon.svg",
    "/favicon-32.png",
    "/apple-touch-icon.png",
    "/manifest.webmanifest",
    "/asset-manifest.json",
    "/sw.js",
    "/social-card.png",
    "/fonts",
    "/themes",
    "/app-art",
    "/community-art",
    "/provider-icons",
    "/cloud-provider-icons",
    "/file-icons",
    // Images, media and the canvas the UI shows (openclaw; clawdbot's canvas host).
    "/__openclaw__/assistant-media",
    "/__openclaw__/plugin-icon",
    "/__openclaw__/plugin-activity-icon",
    "/__openclaw__/plugin-theme-art",
    "/__openclaw__/catalog-icon",
    "/__openclaw__/channel-avatar",
    "/__openclaw__/link-favicon",
    "/__openclaw__/workspace-icon",
    "/__openclaw__/canvas",
    "/__openclaw__/a2ui",
    "/__clawdbot__/canvas",
    "/__clawdbot__/a2ui",
    // Client-side routes of the UI (clawdbot 2026.1 tabs, then openclaw 2026.9 pages).
    "/overview",
    "/chat",
    "/channels",
    "/instances",
    "/sessions",
    "/cron",
    "/skills",
    "/nodes",
    "/config",
    "/debug",
    "/logs",
    "/activity",
    "/agents",
    "/apps",
    "/automations",
    "/custodian",
    "/dashboard",
    "/dashboards",
    "/meetings",
    "/memory-import",
    "/new",
    "/portals",
    "/settings",
    "/systems",
    "/tasks",
    "/terminal",
    "/usage",
    "/workboard",
    "/worktrees",
];
/// Client attribution on passthrough requests.
pub const FORWARDED_HEADERS: ForwardedHeaders = ForwardedHeaders::Set;
/// Log line format.
pub const LOG_FORMAT: LogFormat = LogFormat::Text;
/// The agent's work in responses: tool steps, thinking and approval waits, no tool
/// arguments or results.
pub const PROGRESS: ProgressLevel = ProgressLevel::Steps;

/// HTTP worker threads: one per CPU (2 when the count is unknown).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// [`PASSTHROUGH_ALLOW`] as owned strings.
pub fn passthrough_allow() -> Vec<String> {
    PASSTHROUGH_ALLOW.iter().map(|s| s.to_string()).collect()
}

/// Graceful-upgrade socket, in a directory private to this user (old and new process must
/// use the same): `/run/clawshim/upgrade.sock` as root, else under `$XDG_RUNTIME_DIR/clawshim/`,
/// else `<temp dir>/clawshim-<uid>/` ([`crate::front_door::upgrade_socket`]).
pub fn upgrade_sock() -> PathBuf {
    crate::front_door::upgrade_socket::default_path()
}
