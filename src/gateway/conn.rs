//! The connection task: owns the WebSocket, the pending-request map and the run map.
//!
//! One task reads frames and commands in a `biased` select (socket first, so a burst of
//! events never waits behind new requests; then commands; then the liveness timer). A second
//! task writes frames, so a slow gateway read never blocks routing. Broadcast `agent` events
//! are routed by `runId` to the run that owns them; everything else is dropped after one
//! small parse (events reach every operator socket: gateway-lab broadcast_observer).
//!
//! When the connection is lost (close frame, transport error, no `tick` for two tick
//! intervals, a `shutdown` event) every call and run in flight fails at once with
//! [`GatewayError::Disconnected`]. Runs are never re-issued on reconnect: a run may already
//! have executed, and re-sending could run the agent twice.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, warn};

use super::cleanup::AUTO_KEEPS_V4;
use super::client::{GatewayConfig, GatewayStatus, Shared};
use super::device::ConnectCredentials;
use super::error::{ConnectFailure, NotConnected};
use super::frame::{
    AgentEvent, AssistantData, Challenge, ErrorShape, InFrame, ReqFrame, ResFrame, Shutdown,
};
use super::ids::{RequestId, RunId};
use super::methods::{
    AgentResPayload, ClientInfo, ConnectParams, HelloOk, CLIENT_ID, CLIENT_MODE, MAX_PROTOCOL,
    MIN_PROTOCOL,
};
use super::run::RunEvent;
use super::subscriptions::{Subscriptions, CLIENT_CAPS};
use super::GatewayError;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Tick interval assumed when `hello-ok.policy` has none (both versions send 30 s).
const DEFAULT_TICK: Duration = Duration::from_secs(30);

/// What a caller asks the connection task to do.
pub(crate) enum Command {
    /// Send a prepared request frame and remember who waits for its answer.
    Send {
        req_id: RequestId,
        frame: String,
        kind: PendingKind,
    },
    /// One more run in session `key`: subscribe to its events first when the socket is
    /// session-scoped (`subscriptions`); `reply` once that is done (at once on v3).
    Follow {
        key: String,
        reply: oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>,
    },
    /// One run fewer in session `key` (unsubscribes after the last).
    Unfollow { key: String },
}

/// Who waits for a request's answer.
pub(crate) enum PendingKind {
    /// One answer, returned as the raw payload.
    Call(oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>),
    /// An `agent` run: answered twice on one id (accepted, then final).
    Run {
        run_id: RunId,
        events: mpsc::Sender<RunEvent>,
        accepted: oneshot::Sender<Result<(), GatewayError>>,
    },
}

enum Pending {
    Call(oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>),
    Run {
        run_id: RunId,
        accepted: Option<oneshot::Sender<Result<(), GatewayError>>>,
    },
    /// Our own `agents.list` after connecting: fills the cache.
    AgentsRefresh,
}

/// The background task behind a [`super::GatewayClient`].
pub struct Connection {
    config: GatewayConfig,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<GatewayStatus>,
    shared: Arc<Shared>,
}

impl Connection {
    pub(crate) fn new(
        config: GatewayConfig,
        commands: mpsc::Receiver<Command>,
        status: watch::Sender<GatewayStatus>,
        shared: Arc<Shared>,
    ) -> Self {
        Connection {
            config,
            commands,
            status,
            shared,
        }
    }

    /// Connect, serve, reconnect with capped backoff, until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut attempt: u32 = 0;
        let mut last_failure: Option<ConnectFailure> = None;
        loop {
            self.set_status(GatewayStatus::Connecting {
                attempt,
                last_failure: last_failure.clone(),
            });
            let connected = tokio::select! {
                _ = &mut shutdown => break,
                r = tokio::time::timeout(self.config.connect_timeout, self.handshake()) => {
                    r.unwrap_or_else(|_| Err(ConnectFailure::HandshakeTimeout {
                        url: self.config.url.clone(),
                    }))
                }
            };
            match connected {
                Ok((ws, hello)) => {
                    attempt = 0;
                    let reason = tokio::select! {
                        reason = self.serve(ws, hello) => reason,
                        _ = &mut shutdown => break,
                    };
                    warn!(reason = %reason, "gateway connection lost; reconnecting");
                    last_failure = Some(ConnectFailure::Lost { reason });
                }
                Err(failure) => {
                    // The words and the setting that fixes it are the embedder's: the
                    // failure reaches it in the status, with the attempt count.
                    debug!(attempt, %failure, "gateway connect failed");
                    last_failure = Some(failure);
                    attempt = attempt.saturating_add(1);
                }
            }
            self.set_status(GatewayStatus::Connecting {
                attempt,
                last_failure: last_failure.clone(),
            });
            // Wait before the next attempt, failing queued commands at once meanwhile.
            let delay = self.config.backoff.delay(attempt.saturating_sub(1));
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut shutdown => { self.set_status(GatewayStatus::Stopped); return; }
                    _ = &mut wake => break,
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => reject(cmd, &last_failure),
                        None => { self.set_status(GatewayStatus::Stopped); return; }
                    },
                }
            }
        }
        self.set_status(GatewayStatus::Stopped);
        while let Ok(cmd) = self.commands.try_recv() {
            reject_shutting_down(cmd);
        }
    }

    /// Publish `status` when it differs from the current one, so each change (each failed
    /// attempt among them) is seen once.
    fn set_status(&self, status: GatewayStatus) {
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            if changed {
                *current = status;
            }
            changed
        });
    }

    /// TCP + WebSocket upgrade (no `Origin`, no `X-Forwarded-*`: openclaw refuses forwarded
    /// headers from untrusted peers), then `connect.challenge` -> `connect` -> `hello-ok`.
    async fn handshake(&self) -> Result<(Ws, HelloOk), ConnectFailure> {
        let url = self.config.url.as_str();
        let unreachable = |detail: String| ConnectFailure::Unreachable {
            url: url.to_owned(),
            detail,
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_frame_bytes))
            .max_frame_size(Some(self.config.max_frame_bytes));
        // No connector: tokio-tungstenite verifies `wss://` against the system roots.
        let connector = self.config.tls_roots.as_ref().map(|roots| {
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(roots.clone())
                    .with_no_client_auth()
            });
            tls.map(|c| tokio_tungstenite::Connector::Rustls(Arc::new(c)))
        });
        let connector = connector
            .transpose()
            .map_err(|e| unreachable(format!("TLS set-up: {e}")))?;
        let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            self.config.url.as_str(),
            Some(ws_config),
            true,
            connector,
        )
        .await
        .map_err(|e| unreachable(e.to_string()))?;

        // The challenge arrives first (gateway-lab README, Handshake).
        let challenge: Challenge = loop {
            match next_frame(&mut ws, url).await? {
                InFrame::Event(ev) if ev.event == "connect.challenge" => {
                    break ev
                        .payload_as()
                        .ok_or_else(|| ConnectFailure::ProtocolMismatch {
                            detail: "connect.challenge without nonce".into(),
                        })?;
                }
                _ => continue,
            }
        };

        let client = ClientInfo {
            id: CLIENT_ID,
            version: &self.config.client_version,
            platform: std::env::consts::OS,
            mode: CLIENT_MODE,
            display_name: Some("clawshim"),
        };
        // Admin when session cleanup may use it (cleanup.rs).
        let scopes = self
            .config
            .session_cleanup
            .scopes(self.config.device.is_some());
        // Shared secret, stored device token and the signed device proof (device.rs).
        let creds = ConnectCredentials::new(
            &self.config.auth,
            self.config.device.as_deref(),
            &challenge,
            &client,
            "operator",
            scopes,
        );
        let params = ConnectParams {
            min_protocol: MIN_PROTOCOL,
            max_protocol: MAX_PROTOCOL,
            client,
            role: "operator",
            scopes,
            caps: if self.config.session_scoped_events {
                &CLIENT_CAPS
            } else {
                &[]
            },
            auth: creds.auth(),
            device: creds.proof.clone(),
        };
        let req_id = RequestId::new();
        let frame = ReqFrame::new(req_id.as_str(), "connect", &params).to_json();
        ws.send(Message::text(frame))
            .await
            .map_err(|e| unreachable(e.to_string()))?;

        loop {
            match next_frame(&mut ws, url).await? {
                InFrame::Res(res) if res.id == req_id.as_str() => {
                    if !res.ok {
                        let error = res.error.unwrap_or(ErrorShape {
                            code: "UNKNOWN".into(),
                            message: "connect refused".into(),
                            details: None,
                        });
                        return Err(creds.rejected(&error).unwrap_or_else(|| {
                            ConnectFailure::Refused {
                                detail_code: error.details.as_ref().and_then(|d| d.code.clone()),
                                code: error.code,
                                message: error.message,
                            }
                        }));
                    }
                    let hello: HelloOk = res
                        .payload
                        .as_deref()
                        .and_then(|p| serde_json::from_str(p.get()).ok())
                        .ok_or_else(|| ConnectFailure::ProtocolMismatch {
                            detail: "hello-ok without protocol".into(),
                        })?;
                    if !(MIN_PROTOCOL..=MAX_PROTOCOL).contains(&hello.protocol) {
                        return Err(ConnectFailure::ProtocolMismatch {
                            detail: format!(
                                "negotiated protocol {} outside {MIN_PROTOCOL}..={MAX_PROTOCOL}",
                                hello.protocol
                            ),
                        });
                    }
                    // v4 clears the scopes of token-only clients it does not trust
                    // (openclaw-lab README, token-only row); v3 sends no `auth`.
                    if let Some(auth) = &hello.auth {
                        if !auth.can_run_agents() {
                            return Err(ConnectFailure::MissingScopes {
                                granted: auth.scopes.clone(),
                            });
                        }
                    }
                    creds.accepted(&hello);
                    self.decide_cleanup(&hello, scopes);
                    return Ok((ws, hello));
                }
                _ => continue,
            }
        }
    }

    /// Record whether this connection may delete per-request sessions; say once why not.
    fn decide_cleanup(&self, hello: &HelloOk, requested: &[&str]) {
        let cleanup = self.config.session_cleanup;
        let decision = cleanup.decide(hello, requested);
        self.shared
            .deletes_sessions
            .store(decision.is_ok(), Ordering::Relaxed);
        if let Err(why) = decision {
            let first = !self
                .shared
                .cleanup_refusal_logged
                .swap(true, Ordering::Relaxed);
            if cleanup.enabled() && why != AUTO_KEEPS_V4 && first {
                warn!(reason = why, "per-request sessions are kept on the gateway; on clawdbot 2026.1.x every later run gets slower as its session store grows");
            }
        }
    }

    /// Serve one established connection until it is lost; returns why.
    async fn serve(&mut self, ws: Ws, hello: HelloOk) -> String {
        let version = hello
            .server
            .as_ref()
            .and_then(|s| s.version.clone())
            .unwrap_or_else(|| "unknown".into());
        let tick = hello
            .policy
            .as_ref()
            .and_then(|p| p.tick_interval_ms)
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TICK);
        info!(protocol = hello.protocol, server_version = %version, url = %self.config.url, "connected to gateway");
        self.shared
            .protocol
            .store(hello.protocol, Ordering::Relaxed);

        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::channel::<Message>(1024);
        let writer = tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                let closing = matches!(msg, Message::Close(_));
                if let Err(e) = sink.send(msg).await {
                    return format!("write failed: {e}");
                }
                if closing {
                    break;
                }
            }
            let _ = sink.close().await;
            "writer stopped".to_string()
        });
        let mut writer = std::pin::pin!(writer);

        let mut state = ConnState::default();
        // Fill the agent cache before declaring ourselves ready.
        let req_id = RequestId::new();
        let frame = ReqFrame::new(req_id.as_str(), "agents.list", &serde_json::json!({})).to_json();
        state.pending.insert(req_id, Pending::AgentsRefresh);
        if out_tx.send(Message::text(frame)).await.is_err() {
            return "writer stopped".into();
        }
        self.set_status(GatewayStatus::Connected {
            server_version: version,
        });

        let liveness = tokio::time::sleep(tick * 2);
        tokio::pin!(liveness);
        let reason = loop {
            tokio::select! {
                biased;
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        self.shared.traffic.count(text.len());
                        match state.handle_frame(text.as_str(), &self.shared) {
                            Flow::Continue => {}
                            Flow::Tick => liveness.as_mut().reset(Instant::now() + tick * 2),
                            Flow::Lost(reason) => break reason,
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break match frame {
                            Some(f) => format!("closed by gateway: {} {}", u16::from(f.code), f.reason),
                            None => "closed by gateway".to_string(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("read failed: {e}"),
                    None => break "connection closed".to_string(),
                },
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Send { req_id, frame, kind }) => {
                        if !state.register(req_id, kind) {
                            continue;
                        }
                        if out_tx.send(Message::text(frame)).await.is_err() {
                            break "writer stopped".to_string();
                        }
                    }
                    Some(Command::Follow { key, reply }) => {
                        // Without the capability the broadcast brings every event anyway.
                        let protocol = if self.config.session_scoped_events {
                            self.shared.protocol.load(Ordering::Relaxed)
                        } else {
                            0
                        };
                        match state.subscriptions.acquire(&key, protocol) {
                            Some((req_id, frame)) => {
                                state.register(req_id, PendingKind::Call(reply));
                                if out_tx.send(Message::text(frame)).await.is_err() {
                                    break "writer stopped".to_string();
                                }
                            }
                            None => {
                                let _ = reply.send(Ok(None));
                            }
                        }
                    }
                    Some(Command::Unfollow { key }) => {
                        if let Some((req_id, frame)) = state.subscriptions.release(&key) {
                            // Nobody waits for the answer.
                            state.register(req_id, PendingKind::Call(oneshot::channel().0));
                            if out_tx.send(Message::text(frame)).await.is_err() {
                                break "writer stopped".to_string();
                            }
                        }
                    }
                    None => break "client dropped".to_string(),
                },
                _ = &mut liveness => break format!("no tick from the gateway for {:?}", tick * 2),
                r = &mut writer => break r.unwrap_or_else(|e| format!("writer panicked: {e}")),
            }
        };
        self.set_status(GatewayStatus::Connecting {
            attempt: 0,
            last_failure: Some(ConnectFailure::Lost {
                reason: reason.clone(),
            }),
        });
        state.fail_all(&reason);
        let _ = out_tx.try_send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })));
        drop(out_tx);
        // Give the writer a moment to flush the close frame; never wait long.
        let _ = tokio::time::timeout(Duration::from_millis(200), &mut writer).await;
        reason
    }
}

fn reject(cmd: Command, last_failure: &Option<ConnectFailure>) {
    let reason = match last_failure {
        Some(failure) => NotConnected::Failed(failure.clone()),
        None => NotConnected::Connecting,
    };
    fail_command(cmd, GatewayError::NotConnected { reason });
}

fn reject_shutting_down(cmd: Command) {
    fail_command(
        cmd,
        GatewayError::NotConnected {
            reason: NotConnected::ShuttingDown,
        },
    );
}

fn fail_command(cmd: Command, err: GatewayError) {
    match cmd {
        Command::Send {
            kind: PendingKind::Call(tx),
            ..
        }
        | Command::Follow { reply: tx, .. } => {
            let _ = tx.send(Err(err));
        }
        Command::Send {
            kind: PendingKind::Run { accepted, .. },
            ..
        } => {
            let _ = accepted.send(Err(err));
        }
        // No socket, no subscription to end.
        Command::Unfollow { .. } => {}
    }
}

async fn next_frame(ws: &mut Ws, url: &str) -> Result<InFrame, ConnectFailure> {
    let unreachable = |detail: String| ConnectFailure::Unreachable {
        url: url.to_owned(),
        detail,
    };
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return InFrame::parse(text.as_str()).map_err(|e| {
                    ConnectFailure::ProtocolMismatch {
                        detail: format!("bad frame: {e}"),
                    }
                });
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("closed {} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "closed".into());
                return Err(unreachable(why));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(unreachable(e.to_string())),
            None => return Err(unreachable("connection closed".into())),
        }
    }
}

enum Flow {
    Continue,
    Tick,
    Lost(String),
}

/// Requests awaiting an answer and runs awaiting events, for one connection.
#[derive(Default)]
struct ConnState {
    pending: HashMap<RequestId, Pending>,
    runs: HashMap<RunId, mpsc::Sender<RunEvent>>,
    subscriptions: Subscriptions,
}

impl ConnState {
    /// Remember who waits for `req_id`; false when the request must not be sent (a run id
    /// already in flight: its events could not be told apart).
    fn register(&mut self, req_id: RequestId, kind: PendingKind) -> bool {
        let pending = match kind {
            PendingKind::Call(tx) => Pending::Call(tx),
            PendingKind::Run {
                run_id,
                events,
                accepted,
            } => {
                if self.runs.contains_key(&run_id) {
                    let _ = accepted.send(Err(GatewayError::DuplicateRun(run_id)));
                    return false;
                }
                // Registered before the request goes out, so no event can miss its run.
                self.runs.insert(run_id.clone(), events);
                Pending::Run {
                    run_id,
                    accepted: Some(accepted),
                }
            }
        };
        self.pending.insert(req_id, pending);
        true
    }

    fn handle_frame(&mut self, text: &str, shared: &Shared) -> Flow {
        let frame = match InFrame::parse(text) {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "ignoring unparsable gateway frame");
                return Flow::Continue;
            }
        };
        match frame {
            InFrame::Res(res) => {
                self.on_res(res, shared);
                Flow::Continue
            }
            InFrame::Event(ev) => match ev.event.as_str() {
                "agent" => {
                    if let Some(payload) = ev.payload.as_deref() {
                        self.on_agent_event(payload);
                    }
                    Flow::Continue
                }
                "tick" => Flow::Tick,
                "shutdown" => {
                    let reason = ev
                        .payload_as::<Shutdown>()
                        .and_then(|s| s.reason)
                        .unwrap_or_else(|| "shutdown".into());
                    Flow::Lost(format!("gateway shutting down: {reason}"))
                }
                _ => Flow::Continue,
            },
            InFrame::Unknown => Flow::Continue,
        }
    }

    fn on_agent_event(&mut self, payload: &RawValue) {
        let Ok(ev) = serde_json::from_str::<AgentEvent>(payload.get()) else {
            return;
        };
        if ev.stream != "assistant" {
            return;
        }
        let Some(tx) = self.runs.get(ev.run_id.as_ref()) else {
            return; // somebody else's run
        };
        let Some(data) = ev
            .data
            .and_then(|d| serde_json::from_str::<AssistantData>(d.get()).ok())
        else {
            return;
        };
        let Some(delta) = data.delta.filter(|d| !d.is_empty()) else {
            return;
        };
        match tx.try_send(RunEvent::Delta(delta)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // A slow HTTP client must never stall the socket: drop its run. The reader
                // sees its channel close without a final event and reports `Lagged`.
                warn!(run_id = %ev.run_id, "run reader too slow; dropping run");
                self.forget_run(&ev.run_id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.forget_run(&ev.run_id);
            }
        }
    }

    fn forget_run(&mut self, run_id: &str) {
        self.runs.remove(run_id);
        self.pending
            .retain(|_, p| !matches!(p, Pending::Run { run_id: r, .. } if r.as_str() == run_id));
    }

    fn on_res(&mut self, res: ResFrame, shared: &Shared) {
        let Some(pending) = self.pending.get_mut(res.id.as_str()) else {
            return;
        };
        match pending {
            Pending::Run { run_id, accepted } => {
                let payload = AgentResPayload::parse(res.payload.as_deref());
                if res.ok && payload.is_accepted() {
                    if let Some(tx) = accepted.take() {
                        if tx.send(Ok(())).is_err() {
                            // The caller gave up waiting; nobody will read this run.
                            let run_id = run_id.clone();
                            self.forget_run(run_id.as_str());
                        }
                    }
                    return;
                }
                let run_id = run_id.clone();
                let accepted = accepted.take();
                self.pending.remove(res.id.as_str());
                let Some(events) = self.runs.remove(&run_id) else {
                    return;
                };
                match (res.ok, accepted) {
                    (false, Some(tx)) => {
                        // Refused before it started (e.g. unknown agent): no run exists.
                        let _ = tx.send(Err(rejected(res.error)));
                    }
                    (ok, accepted) => {
                        // A final answer; with `accepted` still pending it is an idempotent
                        // replay of a finished run (gateway-lab idempotent_replay).
                        if let Some(tx) = accepted {
                            let _ = tx.send(Ok(()));
                        }
                        let event = if ok {
                            RunEvent::Finished(payload.into_outcome())
                        } else {
                            let e = res.error.unwrap_or(ErrorShape {
                                code: "UNAVAILABLE".into(),
                                message: "agent run failed".into(),
                                details: None,
                            });
                            RunEvent::Failed(GatewayError::RunFailed {
                                code: e.code,
                                message: e.message,
                            })
                        };
                        deliver_terminal(events, event);
                    }
                }
            }
            Pending::Call(_) => {
                let Some(Pending::Call(tx)) = self.pending.remove(res.id.as_str()) else {
                    return;
                };
                let result = if res.ok {
                    Ok(res.payload)
                } else {
                    Err(rejected(res.error))
                };
                let _ = tx.send(result);
            }
            Pending::AgentsRefresh => {
                self.pending.remove(res.id.as_str());
                let stored = if res.ok {
                    shared.store_agents(res.payload.as_deref())
                } else {
                    Err(rejected(res.error))
                };
                match stored {
                    Ok(dir) => {
                        debug!(agents = dir.agents.len(), default = %dir.default_id, "agent list loaded")
                    }
                    Err(_) => warn!("agents.list failed; agent names are resolved on demand"),
                }
            }
        }
    }

    fn fail_all(&mut self, reason: &str) {
        let err = || GatewayError::Disconnected {
            reason: reason.to_string(),
        };
        for (_, pending) in self.pending.drain() {
            match pending {
                Pending::Call(tx) => {
                    let _ = tx.send(Err(err()));
                }
                Pending::Run {
                    accepted: Some(tx), ..
                } => {
                    let _ = tx.send(Err(err()));
                }
                Pending::Run { .. } | Pending::AgentsRefresh => {}
            }
        }
        for (_, events) in self.runs.drain() {
            deliver_terminal(events, RunEvent::Failed(err()));
        }
    }
}

fn rejected(error: Option<ErrorShape>) -> GatewayError {
    let e = error.unwrap_or(ErrorShape {
        code: "UNKNOWN".into(),
        message: "request refused".into(),
        details: None,
    });
    GatewayError::Rejected {
        code: e.code,
        message: e.message,
    }
}

/// A terminal event must arrive even when the run's buffer is full, without blocking the
/// reader: hand it to a task that waits for room.
fn deliver_terminal(events: mpsc::Sender<RunEvent>, event: RunEvent) {
    match events.try_send(event) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(event)) => {
            tokio::spawn(async move {
                let _ = events.send(event).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_command(run_id: &str) -> (PendingKind, oneshot::Receiver<Result<(), GatewayError>>) {
        let (events, _) = mpsc::channel(1);
        let (accepted, rx) = oneshot::channel();
        let kind = PendingKind::Run {
            run_id: RunId::from(run_id),
            events,
            accepted,
        };
        (kind, rx)
    }

    #[test]
    fn registering_a_run_id_twice_is_an_error() {
        let mut state = ConnState::default();
        let (first, mut first_rx) = run_command("r1");
        assert!(state.register(RequestId::new(), first));
        let (second, mut second_rx) = run_command("r1");
        assert!(!state.register(RequestId::new(), second));
        assert_eq!(
            second_rx.try_recv(),
            Ok(Err(GatewayError::DuplicateRun(RunId::from("r1"))))
        );
        // The first run keeps its registration and still waits for `accepted`.
        assert!(first_rx.try_recv().is_err());
        assert_eq!(state.runs.len(), 1);
        assert_eq!(state.pending.len(), 1);
    }
}
