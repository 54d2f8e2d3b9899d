//! The cheap, cloneable handle every HTTP request uses to talk to the gateway.
//!
//! The handle only sends commands over bounded channels to the socket tasks of the pool
//! ([`super::pool::Connection`]) and waits on oneshots; it never touches a socket, so it can
//! be used from any runtime (pingora runs each service on its own). Each run goes to the
//! connected socket with the fewest runs and stays on it (its events, abort and clean-up):
//! the [`Run`] holds that socket (`socket::RunSocket`). Other calls go to any
//! connected socket.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};

use super::agents::{AgentDirectory, AgentNotFound, Resolution};
use super::config::GatewayConfig;
use super::error::{GatewayError, NotConnected};
use super::hello::Hello;
use super::ids::RunId;
use super::link::{Command, Link};
use super::methods::{sessions_delete, ChatAbortParams};
use super::pool::Connection;
use super::run::{ExternalEvents, Run, RunRequest};
use super::socket::{await_answer, call_command, RunSocket, SocketHandle};
use super::state::{GatewayStatus, PoolState};
use crate::media::AttachmentLimits;
use crate::routing::{AgentSelector, SessionKey};

/// Handle to the gateway connection pool. Clone freely.
#[derive(Clone)]
pub struct GatewayClient {
    links: Arc<[SocketHandle]>,
    /// The pool's combined status ([`super::pool::combine`]).
    status: watch::Receiver<GatewayStatus>,
    pool: Arc<PoolState>,
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
        let pool = Arc::new(PoolState::default());
        let mut handles = Vec::new();
        let mut tasks = Vec::new();
        for index in 0..config.sockets.max(1) {
            let (commands, commands_rx) = mpsc::channel(config.max_queued.max(1));
            let (link_status_tx, link_status) = watch::channel(connecting.clone());
            handles.push(SocketHandle::new(commands, link_status));
            tasks.push(Link::new(
                index,
                config.clone(),
                commands_rx,
                link_status_tx,
                pool.clone(),
            ));
        }
        let client = GatewayClient {
            links: handles.into(),
            status,
            pool,
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
        self.pool.reconnects.load(Ordering::Relaxed)
    }

    /// The connected socket with the fewest runs (the first on a tie).
    fn least_loaded(&self) -> Option<usize> {
        self.links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_up())
            .min_by_key(|(i, l)| (l.runs(), *i))
            .map(|(i, _)| i)
    }

    /// The socket a run goes to ([`Self::ready_link`]). A run started with a client's
    /// idempotency key prefers the socket its id hashes to, so a retry finds the first run in
    /// that socket's map (joined, or 409 while it is read).
    async fn socket_for_run(&self, retry_key: Option<&RunId>) -> Result<RunSocket, GatewayError> {
        let home = retry_key.map(|id| {
            let mut h = DefaultHasher::new();
            id.as_str().hash(&mut h);
            (h.finish() % self.links.len() as u64) as usize
        });
        let index = self.ready_link(home).await?;
        Ok(RunSocket::new(
            self.links[index].clone(),
            self.pool.clone(),
            self.request_timeout,
        ))
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
        self.pool.hello()
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
        self.pool.deletes_sessions()
    }

    /// Text frames and their bytes received from the gateway since start, over every
    /// connection: what the event broadcast costs this instance (see
    /// [`super::subscriptions`]).
    pub fn received(&self) -> (u64, u64) {
        self.pool.traffic.totals()
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

    /// Hand a command to a connected socket ([`SocketHandle::submit`] checks the frame
    /// against the gateway's announced limit).
    async fn submit(&self, cmd: Command) -> Result<(), GatewayError> {
        let link = self.ready_link(None).await?;
        self.links[link].submit(cmd, self.max_frame_bytes()).await
    }

    /// The socket a command goes to, once the pool is connected: `preferred` when it is up,
    /// else the connected socket with the fewest runs.
    async fn ready_link(&self, preferred: Option<usize>) -> Result<usize, GatewayError> {
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
        let (cmd, rx) = call_command(method, params);
        self.submit(cmd).await?;
        await_answer(rx, self.request_timeout).await
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
        let socket = self.socket_for_run(req.idempotent_id.as_ref()).await?;
        Run::start(socket, req, run_id, self.run_buffer).await
    }

    /// A [`Run`] of events from elsewhere (the gateway's HTTP endpoint: `crate::http_source`),
    /// read like any run. Its per-request session is deleted over a connected socket once
    /// the run ended, when `req` asks for it and the connection may (see
    /// [`RunRequest::delete_ephemeral_session`]).
    pub fn adopt_run(&self, id: RunId, events: Box<dyn ExternalEvents>, req: &RunRequest) -> Run {
        let cleanup = self.least_loaded().map(|index| {
            RunSocket::new(
                self.links[index].clone(),
                self.pool.clone(),
                self.request_timeout,
            )
        });
        Run::adopt(id, events, req, cleanup)
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

    /// Delete a finished session the caller will never reuse, keeping its transcript
    /// (`sessions.delete {key, deleteTranscript:false}`, an admin method). On clawdbot
    /// 2026.1.x every run re-parses the whole per-agent session store, so one entry per
    /// stateless request makes every later run slower (gateway-lab PERF-NOTES); deleting a
    /// session also stops a run still going in it, the only way to stop an `agent` run on v3.
    pub async fn delete_session(&self, key: &SessionKey) -> Result<(), GatewayError> {
        self.call("sessions.delete", &sessions_delete(key.as_str()))
            .await
            .map(|_| ())
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
        self.pool.agents()
    }

    /// Fetch `agents.list` again and update the cache.
    pub async fn refresh_agents(&self) -> Result<AgentDirectory, GatewayError> {
        let payload = self.call("agents.list", &serde_json::json!({})).await?;
        self.pool.store_agents(payload.as_deref())
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
