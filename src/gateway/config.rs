//! How clawshim reaches the gateway: [`GatewayConfig`], validated by the embedder (the
//! proxy's configuration) and read by the sockets of the pool and the handle.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::backoff::Backoff;
use super::cleanup::SessionCleanup;
use super::device::DeviceIdentity;

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How clawshim authenticates its own connection to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAuth {
    /// `gateway.auth.token` (auth mode `token`).
    Token(Secret),
    /// `gateway.auth.password` (auth mode `password`).
    Password(Secret),
    /// No shared secret (only with a paired device identity).
    None,
}

/// Sockets in the pool by default: two, so one lost socket never fails every run in flight.
/// With the event broadcast (protocol 3, or 4 without `session_scoped_events`) each socket
/// receives every run's events, so the received traffic grows with the count.
pub const DEFAULT_SOCKETS: usize = 2;

/// Settings of the gateway connection, validated by the caller.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `ws://` or `wss://` URL of the gateway.
    pub url: String,
    /// Shared-secret auth sent in `connect`.
    pub auth: GatewayAuth,
    /// `client.version` sent in `connect`.
    pub client_version: String,
    /// Limit for TCP + WebSocket upgrade + `connect` handshake.
    pub connect_timeout: Duration,
    /// Limit for a call's answer (for `agent`: the `accepted` answer).
    pub request_timeout: Duration,
    /// Events buffered per run before the run is dropped as lagging.
    pub run_buffer: usize,
    /// Commands queued towards the connection task (backpressure on callers).
    pub max_queued: usize,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Largest frame accepted from the gateway.
    pub max_frame_bytes: usize,
    /// How long a call that finds the connection known to be down (a failed attempt or a
    /// lost socket) waits for it to come back before failing with `NotConnected`. Zero (the
    /// default) fails at once: clients retry a 503 with backoff on their own, and holding
    /// requests while the upstream is gone only piles up connections. Before the first
    /// attempt has ended a call always waits for it (at most `connect_timeout`).
    pub wait_for_connection: Duration,
    /// Trust anchors for a `wss://` gateway instead of the system roots (a private CA).
    pub tls_roots: Option<Arc<rustls::RootCertStore>>,
    /// Ed25519 device identity signed into every `connect` (needed for a remote gateway).
    pub device: Option<Arc<DeviceIdentity>>,
    /// Whether per-request sessions are deleted after their run, and so whether
    /// `operator.admin` is asked for ([`super::GatewayClient::delete_session`] needs it).
    pub session_cleanup: SessionCleanup,
    /// On protocol 4, declare `session-scoped-events` and follow each run's session
    /// ([`super::subscriptions`]) instead of receiving every run's events.
    pub session_scoped_events: bool,
    /// WebSocket connections kept open to the gateway (at least 1). Runs are spread over
    /// them, so losing one (a slow-consumer close, a bad frame) fails only its own runs.
    pub sockets: usize,
}

impl GatewayConfig {
    /// Defaults for `url` with token auth.
    pub fn new(url: impl Into<String>, auth: GatewayAuth) -> Self {
        GatewayConfig {
            url: url.into(),
            auth,
            client_version: env!("CARGO_PKG_VERSION").to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            run_buffer: 512,
            max_queued: 4096,
            backoff: Backoff::default(),
            max_frame_bytes: 64 << 20,
            wait_for_connection: Duration::ZERO,
            session_cleanup: SessionCleanup::default(),
            session_scoped_events: false,
            sockets: DEFAULT_SOCKETS,
            tls_roots: None,
            device: None,
        }
    }

    /// The TLS client settings for the gateway's `wss://` socket and `https://` endpoints
    /// when [`Self::tls_roots`] names a private CA; `None` means the system roots (what
    /// tokio-tungstenite and reqwest use on their own). An error is a provider that cannot
    /// do TLS 1.2 or 1.3.
    pub fn tls_client_config(&self) -> Option<Result<rustls::ClientConfig, rustls::Error>> {
        let roots = self.tls_roots.as_ref()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(roots.clone())
                    .with_no_client_auth()
            });
        Some(config)
    }
}
