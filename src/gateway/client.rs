//! The cheap, cloneable handle every HTTP request uses to talk to the gateway.
//!
//! The handle only sends commands over bounded channels to the socket tasks of the pool
//! ([`super::pool::Connection`]) and waits on oneshots; it never touches a socket, so it can
//! be used from any runtime (pingora runs each service on its own). Each run goes to the
//! connected socket with the fewest runs and stays on it (its events, abort and clean-up);
//! other calls go to any connected socket.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

use super::agents::{AgentDirectory, AgentNotFound, Resolution};
use super::backoff::Backoff;
use super::conn::{Command, Link, Orphan, PendingKind};
use super::error::{ConnectFailure, NotConnected};
use super::frame::ReqFrame;
use super::hello::Hello;
use super::ids::{RequestId, RunId};
use super::methods::{AgentParams, ChatAbortParams};
use super::pool::Connection;
use super::run::{Run, RunGuard, RunRequest};
use super::GatewayError;
use crate::media::AttachmentLimits;
use crate::routing::{AgentSelector, SessionKey};
use crate::thinking::ThinkingLevel;

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
    pub device: Option<Arc<super::device::DeviceIdentity>>,
    /// Whether per-request sessions are deleted after their run, and so whether
    /// `operator.admin` is asked for ([`GatewayClient::delete_session`] needs it).
    pub session_cleanup: super::SessionCleanup,
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
            session_cleanup: super::SessionCleanup::default(),
            session_scoped_events: false,
            sockets: DEFAULT_SOCKETS,
            tls_roots: None,
            device: None,
        }
    }
}

/// The connection's state, as `/readyz` reports it. Each change is published once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayStatus {
    /// Not connected; `last_failure` says why when a connect failed or the socket was lost.
    Connecting {
        /// Failed attempts since the last success (the failure was attempt `attempt - 1`).
        attempt: u32,
        last_failure: Option<ConnectFailure>,
    },
    /// Handshake done (what the gateway said is [`GatewayClient::hello`]).
    Connected { server_version: String },
    /// The connection task has stopped (shutdown).
    Stopped,
}

impl GatewayStatus {
    /// Whether requests can be served.
    pub fn is_connected(&self) -> bool {
        matches!(self, GatewayStatus::Connected { .. })
    }
}

pub(crate) struct Shared {
    agents: RwLock<Option<AgentDirectory>>,
    /// The last `hello-ok`; kept while reconnecting, so an abort waits for the connection
    /// instead of assuming protocol 3.
    pub(crate) hello: RwLock<Option<Arc<Hello>>>,
    /// Whether this connection may delete sessions (decided at each handshake).
    pub(crate) deletes_sessions: std::sync::atomic::AtomicBool,
    /// Set once the reason it may not has been logged.
    pub(crate) cleanup_refusal_logged: std::sync::atomic::AtomicBool,
    /// Frames and bytes received from the gateway.
    pub(crate) traffic: super::subscriptions::Traffic,
    /// Handshakes of a socket after its first one.
    pub(crate) reconnects: AtomicU64,
}

impl Shared {
    /// Parse an `agents.list` answer and make it the cached directory: the one place the
    /// cache is written (after connecting, and on demand).
    pub(crate) fn store_agents(
        &self,
        payload: Option<&RawValue>,
    ) -> Result<AgentDirectory, GatewayError> {
        let dir = AgentDirectory::parse(payload)?;
        *self.agents.write().unwrap_or_else(|p| p.into_inner()) = Some(dir.clone());
        Ok(dir)
    }
}

/// The handle's side of one socket of the pool.
struct LinkHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<GatewayStatus>,
    /// Runs started on this socket whose [`RunGuard`] is alive: the load that picks a socket.
    runs: Arc<AtomicUsize>,
}

impl LinkHandle {
    fn is_up(&self) -> bool {
        self.status.borrow().is_connected()
    }
}

/// One run counted on its socket while it lives (held by the run's [`RunGuard`]).
pub(crate) struct LinkLoad(pub(crate) Arc<AtomicUsize>);

impl Drop for LinkLoad {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Handle to the gateway connection pool. Clone freely.
#[derive(Clone)]
pub struct GatewayClient {
    links: Arc<[LinkHandle]>,
    /// The socket every command of this handle goes to (a run's), else any connected one.
    pinned: Option<usize>,
    /// The pool's combined status ([`super::pool::combine`]).
    status: watch::Receiver<GatewayStatus>,
    shared: Arc<Shared>,
    request_timeout: Duration,
    run_buffer: usize,
    wait_for_connection: Duration,
    connect_timeout: Duration,
}

impl GatewayClient {
    /// A handle plus the pool of socket tasks that serves it; run the pool with
    /// [`Connection::run`] on a runtime of your choice.
    pub fn new(config: GatewayConfig) -> (GatewayClient, Connection) {
        let connecting = GatewayStatus::Connecting {
            attempt: 0,
            last_failure: None,
        };
        let (status_tx, status) = watch::channel(connecting.clone());
        let shared = Arc::new(Shared {
            agents: RwLock::new(None),
            hello: RwLock::new(None),
            deletes_sessions: std::sync::atomic::AtomicBool::new(false),
            cleanup_refusal_logged: std::sync::atomic::AtomicBool::new(false),
            traffic: Default::default(),
            reconnects: AtomicU64::new(0),
        });
        let mut handles = Vec::new();
        let mut tasks = Vec::new();
        for index in 0..config.sockets.max(1) {
            let (commands, commands_rx) = mpsc::channel(config.max_queued.max(1));
            let (link_status_tx, link_status) = watch::channel(connecting.clone());
            handles.push(LinkHandle {
                commands,
                status: link_status,
                runs: Arc::default(),
            });
            tasks.push(Link::new(
                index,
                config.clone(),
                commands_rx,
                link_status_tx,
                shared.clone(),
            ));
        }
        let client = GatewayClient {
            links: handles.into(),
            pinned: None,
            status,
            shared: shared.clone(),
            request_timeout: config.request_timeout,
            run_buffer: config.run_buffer.max(1),
            wait_for_connection: config.wait_for_connection,
            connect_timeout: config.connect_timeout,
        };
        (client, Connection::new(tasks, status_tx))
    }

    /// Sockets of the pool that are connected now, and the pool's size.
    pub fn sockets_connected(&self) -> (usize, usize) {
        let up = self.links.iter().filter(|l| l.is_up()).count();
        (up, self.links.len())
    }

    /// Handshakes of a socket after its first one, over the pool, since start.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// The connected socket with the fewest runs (the first on a tie).
    fn least_loaded(&self) -> Option<usize> {
        self.links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_up())
            .min_by_key(|(i, l)| (l.runs.load(Ordering::Relaxed), *i))
            .map(|(i, _)| i)
    }

    /// The socket commands of this handle go to when no choice is possible (a pinned
    /// handle's, else the first).
    fn pinned_or_first_link(&self) -> &LinkHandle {
        &self.links[self.pinned.unwrap_or(0)]
    }

    /// A handle pinned to the socket a run goes to ([`Self::ready_link`]), counting one run on
    /// it until the returned load is dropped. A run started with a client's idempotency key
    /// prefers the socket its id hashes to, so a retry finds the first run in that socket's map
    /// (joined, or 409 while it is read).
    async fn for_run(
        &self,
        retry_key: Option<&RunId>,
    ) -> Result<(GatewayClient, LinkLoad), GatewayError> {
        let home = retry_key.map(|id| {
            let mut h = DefaultHasher::new();
            id.as_str().hash(&mut h);
            (h.finish() % self.links.len() as u64) as usize
        });
        let index = self.ready_link(home).await?;
        let runs = self.links[index].runs.clone();
        runs.fetch_add(1, Ordering::Relaxed);
        let pinned = GatewayClient {
            pinned: Some(index),
            ..self.clone()
        };
        Ok((pinned, LinkLoad(runs)))
    }

    /// The current connection state.
    pub fn status(&self) -> GatewayStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch_status(&self) -> watch::Receiver<GatewayStatus> {
        self.status.clone()
    }

    /// What the gateway said in its last `hello-ok` (protocol, granted scopes, limits);
    /// `None` before the first handshake. The only record of the negotiated protocol.
    pub fn hello(&self) -> Option<Arc<Hello>> {
        self.shared
            .hello
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The negotiated protocol (3 or 4), `None` before the first handshake.
    pub fn protocol(&self) -> Option<u32> {
        self.hello().map(|h| h.protocol)
    }

    /// The largest request frame the gateway announced it reads (`policy.maxPayload`),
    /// `None` before the first handshake or when it announced none.
    pub fn max_frame_bytes(&self) -> Option<usize> {
        self.hello().and_then(|h| h.max_payload)
    }

    /// Whether the gateway takes a run's backend `provider`/`model`: openclaw 2026.9.6 (v4)
    /// does; clawdbot 2026.1.24 (v3) refuses the keys (`additionalProperties: false`). Before
    /// the first handshake the answer is yes, and a v3 gateway then refuses the run itself.
    pub fn supports_model_override(&self) -> bool {
        self.protocol().is_none_or(|p| p >= 4)
    }

    /// Whether the time to `accepted` measures the gateway's session-store contention.
    /// clawdbot 2026.1.24 (v3) writes the session store under its file lock before answering
    /// `accepted` (PERF-NOTES; `gateway/server-methods/agent.js`), so a slow accept means a
    /// contended store; openclaw 2026.9.6 (v4) answers `accepted` before any store work
    /// (openclaw-lab trace simple: 12 ms after the request), so there a slow accept is only
    /// the event loop's load, which holding runs back here does not relieve.
    pub fn accept_waits_for_session_store(&self) -> bool {
        self.protocol().is_some_and(|p| p < 4)
    }

    /// The attachment limits of the gateway's last `hello-ok` (none before the first
    /// handshake).
    pub fn attachment_limits(&self) -> AttachmentLimits {
        self.hello()
            .map(|h| h.attachment_limits())
            .unwrap_or_default()
    }

    /// Whether the current connection may delete per-request sessions (it was granted
    /// `operator.admin` and cleanup is not off; see [`super::cleanup`]).
    pub fn deletes_sessions(&self) -> bool {
        self.shared
            .deletes_sessions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Text frames and their bytes received from the gateway since start, over every
    /// connection: what the event broadcast costs this instance (see
    /// [`super::subscriptions`]).
    pub fn received(&self) -> (u64, u64) {
        self.shared.traffic.totals()
    }

    fn not_connected(&self) -> GatewayError {
        let reason = match self.status() {
            GatewayStatus::Connecting {
                last_failure: Some(failure),
                ..
            } => NotConnected::Failed(failure),
            GatewayStatus::Connecting { .. } => NotConnected::Connecting,
            GatewayStatus::Stopped => NotConnected::ShuttingDown,
            GatewayStatus::Connected { .. } => NotConnected::Reconnecting,
        };
        GatewayError::NotConnected { reason }
    }

    /// Hand a request frame to the connection task. Every outgoing request passes here, so
    /// this is the one check against the announced frame limit: a frame over it is refused
    /// before it is sent, and the other calls on the socket are untouched.
    async fn submit(&self, cmd: Command) -> Result<(), GatewayError> {
        let link = self.ready_link(None).await?;
        if let (Command::Send { frame, .. }, Some(limit)) = (&cmd, self.max_frame_bytes()) {
            // `ws` compares the message's byte length with `maxPayload` (receiver.js:
            // `totalPayloadLength > maxPayload` closes with 1009), so equal still fits.
            if frame.len() > limit {
                return Err(GatewayError::FrameTooLarge {
                    size: frame.len(),
                    limit,
                });
            }
        }
        self.links[link]
            .commands
            .send(cmd)
            .await
            .map_err(|_| GatewayError::NotConnected {
                reason: NotConnected::ShuttingDown,
            })
    }

    /// The socket a command goes to: a pinned handle's own (a run's: another socket would
    /// not know the run), failing while it is down; else, once the pool is connected,
    /// `preferred` when it is up, or the connected socket with the fewest runs.
    async fn ready_link(&self, preferred: Option<usize>) -> Result<usize, GatewayError> {
        if let Some(index) = self.pinned {
            if self.links[index].is_up() {
                return Ok(index);
            }
            return Err(GatewayError::NotConnected {
                reason: NotConnected::Reconnecting,
            });
        }
        self.wait_until_connected().await?;
        match preferred {
            Some(index) if self.links[index].is_up() => Ok(index),
            _ => self.least_loaded().ok_or_else(|| self.not_connected()),
        }
    }

    /// Return once some socket is connected, or fail: at once when the pool is known to be
    /// down (unless configured to wait), after the first attempt at start-up.
    async fn wait_until_connected(&self) -> Result<(), GatewayError> {
        let current = self.status.borrow().clone();
        if !current.is_connected() {
            // Known down: fail fast unless configured to wait. Not tried yet (start-up): wait
            // for the first attempt. Nothing was sent, so waiting cannot run anything twice.
            let first_attempt = matches!(
                current,
                GatewayStatus::Connecting {
                    last_failure: None,
                    ..
                }
            );
            let wait = if first_attempt {
                self.connect_timeout.max(self.wait_for_connection)
            } else {
                self.wait_for_connection
            };
            if wait.is_zero() {
                return Err(self.not_connected());
            }
            let mut status = self.status.clone();
            let settled = |s: &GatewayStatus| match s {
                GatewayStatus::Connecting { last_failure, .. } => {
                    last_failure.is_some() && first_attempt && self.wait_for_connection.is_zero()
                }
                _ => true,
            };
            let up = tokio::time::timeout(wait, status.wait_for(settled)).await;
            if !matches!(up, Ok(Ok(ref s)) if s.is_connected()) {
                return Err(self.not_connected());
            }
        }
        Ok(())
    }

    /// Call `method` and return its raw `payload`.
    pub async fn call<P: Serialize>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<Option<Box<RawValue>>, GatewayError> {
        let req_id = RequestId::new();
        let frame = ReqFrame::new(req_id.as_str(), method, params).to_json();
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Send {
            req_id,
            frame,
            kind: PendingKind::Call(reply),
        })
        .await?;
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(GatewayError::Disconnected {
                reason: "connection task ended".to_string(),
            }),
            Err(_) => Err(GatewayError::Timeout),
        }
    }

    /// Start an agent run and wait until the gateway accepted it; read its events with
    /// [`Run::next`]. The run id (sent as `idempotencyKey`) is `req.idempotent_id`, else a
    /// fresh UUID.
    pub async fn start_run(&self, req: &RunRequest) -> Result<Run, GatewayError> {
        let id = req.idempotent_id.clone().unwrap_or_default();
        self.start_run_with_id(req, id).await
    }

    /// [`Self::start_run`] with a caller-chosen run id. Dropping the future while it waits
    /// for `accepted` aborts the run like dropping the [`Run`] would.
    pub async fn start_run_with_id(
        &self,
        req: &RunRequest,
        run_id: RunId,
    ) -> Result<Run, GatewayError> {
        // Every frame of the run goes to one socket: its events come back on it.
        let (gateway, load) = self.for_run(req.idempotent_id.as_ref()).await?;
        gateway.start_pinned_run(req, run_id, load).await
    }

    async fn start_pinned_run(
        &self,
        req: &RunRequest,
        run_id: RunId,
        load: LinkLoad,
    ) -> Result<Run, GatewayError> {
        let mut guard = RunGuard::new(self.clone(), req, &run_id, load);
        // Follow the session's events before the run can emit any (session-scoped sockets
        // on v4; a no-op on v3). Once submitted, the guard ends the following.
        let (reply, followed) = oneshot::channel();
        let follow = Command::Follow {
            key: req.session_key.as_str().to_string(),
            reply,
        };
        if let Err(e) = self.submit(follow).await {
            guard.ended = true;
            return Err(e);
        }
        guard.following = true;
        let followed = match tokio::time::timeout(self.request_timeout, followed).await {
            Ok(Ok(result)) => result.map(|_| ()),
            Ok(Err(_)) => Err(GatewayError::Disconnected {
                reason: "connection task ended".to_string(),
            }),
            Err(_) => Err(GatewayError::Timeout),
        };
        if let Err(e) = followed {
            guard.ended = true;
            return Err(e);
        }
        let req_id = RequestId::new();
        let params = AgentParams {
            message: &req.message,
            idempotency_key: run_id.as_str(),
            agent_id: &req.agent_id,
            session_key: req.session_key.as_str(),
            extra_system_prompt: req.extra_system_prompt.as_deref(),
            timeout: req.timeout.map(|t| t.as_secs().max(1)),
            deliver: false,
            attachments: &req.attachments,
            thinking: req.thinking.map(ThinkingLevel::as_str),
            provider: req.model.as_ref().and_then(|m| m.provider.as_deref()),
            model: req.model.as_ref().map(|m| m.model.as_str()),
        };
        let frame = ReqFrame::new(req_id.as_str(), "agent", &params).to_json();
        let (events_tx, events) = mpsc::channel(self.run_buffer);
        let (accepted_tx, accepted) = oneshot::channel();
        let sent = self
            .submit(Command::Send {
                req_id,
                frame,
                kind: PendingKind::Run {
                    run_id: run_id.clone(),
                    events: events_tx,
                    accepted: accepted_tx,
                    orphan: Orphan {
                        run_id: run_id.clone(),
                        session_key: req.session_key.as_str().to_owned(),
                        agent_id: req.agent_id.clone(),
                        delete_session: guard.deletes_session(),
                        keep_for_retry: req.idempotent_id.is_some(),
                    },
                },
            })
            .await;
        let result = match sent {
            Err(e) => Err(e),
            Ok(()) => match tokio::time::timeout(self.request_timeout, accepted).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(e),
                Ok(Err(_)) => Err(GatewayError::Disconnected {
                    reason: "connection task ended".to_string(),
                }),
                Err(_) => Err(GatewayError::Timeout),
            },
        };
        match result {
            Ok(()) => Ok(Run::new(run_id, events, guard)),
            // No `accepted` in time: the run may start anyway, and nobody would read it. The
            // guard aborts it and drops its entries now, not at a late reply.
            Err(GatewayError::Timeout) => Err(GatewayError::Timeout),
            Err(e) => {
                // Refused or never sent: nothing to abort. Lost with the connection: the
                // connection aborts it on the next one.
                guard.ended = true;
                Err(e)
            }
        }
    }

    /// Tell the connection that nobody reads `run_id` any more (best effort: with the
    /// command queue full the entries wait for the run's final answer or a reconnect).
    pub(crate) fn forget_run(&self, run_id: &RunId) {
        let _ = self
            .pinned_or_first_link()
            .commands
            .try_send(Command::Forget {
                run_id: run_id.clone(),
            });
    }

    /// Abort a run on the gateway where the protocol allows it. v4 has `chat.abort`, which
    /// also stops `agent` runs (openclaw-lab abort_chat); v3's `chat.abort` only knows runs
    /// started by `chat.send`, so there the run finishes on the gateway and only our side is
    /// freed. Returns whether an abort was sent.
    pub async fn abort_run(
        &self,
        run_id: &RunId,
        session_key: &SessionKey,
        agent_id: &str,
    ) -> Result<bool, GatewayError> {
        if self.protocol().unwrap_or(0) < 4 {
            return Ok(false);
        }
        let params = ChatAbortParams {
            session_key: session_key.as_str(),
            run_id: run_id.as_str(),
            agent_id,
        };
        self.call("chat.abort", &params).await.map(|_| true)
    }

    /// One run fewer in session `key` (see [`super::subscriptions`]); never waits.
    pub(crate) fn unfollow_session(&self, key: &SessionKey) {
        let cmd = Command::Unfollow {
            key: key.as_str().to_string(),
        };
        let commands = &self.pinned_or_first_link().commands;
        if let Err(mpsc::error::TrySendError::Full(cmd)) = commands.try_send(cmd) {
            let commands = commands.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = commands.send(cmd).await;
                });
            }
        }
    }

    /// Delete a finished session the caller will never reuse, keeping its transcript
    /// (`sessions.delete {key, deleteTranscript:false}`, an admin method). On clawdbot
    /// 2026.1.x every run re-parses the whole per-agent session store, so one entry per
    /// stateless request makes every later run slower (gateway-lab PERF-NOTES); deleting a
    /// session also stops a run still going in it, the only way to stop an `agent` run on v3.
    pub async fn delete_session(&self, key: &SessionKey) -> Result<(), GatewayError> {
        let params = serde_json::json!({"key": key.as_str(), "deleteTranscript": false});
        self.call("sessions.delete", &params).await.map(|_| ())
    }

    /// The gateway's agents, from the cache filled at connect time (fetched when empty).
    pub async fn agents(&self) -> Result<AgentDirectory, GatewayError> {
        if let Some(dir) = self.cached_agents() {
            return Ok(dir);
        }
        self.refresh_agents().await
    }

    /// The cached agent directory, if any.
    pub fn cached_agents(&self) -> Option<AgentDirectory> {
        self.shared
            .agents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetch `agents.list` again and update the cache.
    pub async fn refresh_agents(&self) -> Result<AgentDirectory, GatewayError> {
        let payload = self.call("agents.list", &serde_json::json!({})).await?;
        self.shared.store_agents(payload.as_deref())
    }

    /// The agent a request runs on ([`AgentDirectory::resolve`] on the cached list). An
    /// allowed agent the list does not name makes one fresh `agents.list` call, in case the
    /// gateway's config changed.
    pub async fn resolve_agent(
        &self,
        selector: &AgentSelector,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<Result<String, AgentNotFound>, GatewayError> {
        let resolved = match self.agents().await?.resolve(selector, &allowed) {
            Resolution::Unlisted(_) => self.refresh_agents().await?.resolve(selector, &allowed),
            resolved => resolved,
        };
        Ok(match resolved {
            Resolution::Agent(id) => Ok(id),
            Resolution::Unlisted(id) => Err(AgentNotFound { id }),
            Resolution::NotFound(e) => Err(e),
        })
    }
}
