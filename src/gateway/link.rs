//! One socket's task: owns the WebSocket, its pending-request map and its run map (the pool
//! of such sockets is [`super::pool`]).
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
//! have executed, and re-sending could run the agent twice. Nobody reads those runs any
//! more, so they are aborted on the next connection (v4 `chat.abort`; v3: deleting their
//! per-request session where allowed), as are the runs in flight when clawshim shuts down
//! (on the way out, after failing them with [`GatewayError::ShuttingDown`]). A run whose
//! caller stopped waiting ([`Command::Forget`], sent by the run's drop guard) leaves the maps
//! at once.

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
use super::hello::Hello;
use super::ids::{RequestId, RunId};
use super::methods::{
    AgentResPayload, ChatAbortParams, ClientInfo, ConnectParams, HelloOk, CLIENT_ID, CLIENT_MODE,
    MAX_PROTOCOL, MIN_PROTOCOL,
};
use super::oddities::{Oddities, Oddity};
use super::run::RunEvent;
use super::subscriptions::{Subscriptions, CLIENT_CAPS};
use super::GatewayError;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// What a caller asks the connection task to do.
pub(crate) enum Command {
    /// Send a prepared request frame and remember who waits for its answer.
    Send {
        req_id: RequestId,
        frame: String,
        kind: PendingKind,
    },
    /// Nobody reads this run any more (its caller gave up before `accepted`, or dropped the
    /// run): drop its entries now instead of at its final answer or the next reconnect.
    Forget { run_id: RunId },
    /// One more run in session `key`: subscribe to its events first when the socket is
    /// session-scoped (`subscriptions`); `reply` once that is done (at once on v3).
    Follow {
        key: String,
        reply: oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>,
    },
    /// One run fewer in session `key` (unsubscribes after the last).
    Unfollow { key: String },
}

/// What aborting a run needs once nobody reads it (kept while it is in flight).
#[derive(Debug, Clone)]
pub(crate) struct Orphan {
    pub(crate) run_id: RunId,
    pub(crate) session_key: String,
    pub(crate) agent_id: String,
    /// Its per-request session may be deleted (the only way to stop a run on v3).
    pub(crate) delete_session: bool,
    /// Started with a client's idempotency key: when its reader leaves, the run is kept
    /// (not aborted) for the client's retry, which joins it under the same id.
    pub(crate) keep_for_retry: bool,
}

/// Runs remembered across a reconnect to be aborted; more are dropped (and logged).
const MAX_ORPHANS: usize = 1024;

/// Who waits for a request's answer.
pub(crate) enum PendingKind {
    /// One answer, returned as the raw payload.
    Call(oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>),
    /// An `agent` run: answered twice on one id (accepted, then final).
    Run {
        run_id: RunId,
        events: mpsc::Sender<RunEvent>,
        accepted: oneshot::Sender<Result<(), GatewayError>>,
        orphan: Orphan,
    },
}

enum Pending {
    Call(oneshot::Sender<Result<Option<Box<RawValue>>, GatewayError>>),
    Run {
        run_id: RunId,
        accepted: Option<oneshot::Sender<Result<(), GatewayError>>>,
        orphan: Orphan,
    },
    /// Our own `agents.list` after connecting: fills the cache.
    AgentsRefresh,
    /// Our own clean-up request (`chat.abort`, `sessions.delete`): the answer is only logged.
    Cleanup,
}

/// One socket of the pool ([`super::pool::Connection`]): connects, serves and reconnects it.
pub(crate) struct Link {
    /// Its place in the pool (in logs).
    index: usize,
    /// Whether it completed a handshake before (a later one is a reconnect).
    handshaken: bool,
    config: GatewayConfig,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<GatewayStatus>,
    shared: Arc<Shared>,
    /// Runs in flight when the last connection was lost: aborted on the next one.
    orphans: Vec<Orphan>,
}

impl Link {
    pub(crate) fn new(
        index: usize,
        config: GatewayConfig,
        commands: mpsc::Receiver<Command>,
        status: watch::Sender<GatewayStatus>,
        shared: Arc<Shared>,
    ) -> Self {
        Link {
            index,
            handshaken: false,
            config,
            commands,
            status,
            shared,
            orphans: Vec::new(),
        }
    }

    /// A receiver of this socket's status.
    pub(crate) fn watch_status(&self) -> watch::Receiver<GatewayStatus> {
        self.status.subscribe()
    }

    /// Connect, serve, reconnect with capped backoff, until `shutdown` completes.
    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) {
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
                    let reason = match self.serve(ws, hello, shutdown.as_mut()).await {
                        Served::Lost(reason) => reason,
                        Served::ShutDown => break,
                    };
                    warn!(link = self.index, reason = %reason, "gateway connection lost; reconnecting");
                    last_failure = Some(ConnectFailure::Lost { reason });
                }
                Err(failure) => {
                    // The words and the setting that fixes it are the embedder's: the
                    // failure reaches it in the status, with the attempt count.
                    debug!(link = self.index, attempt, %failure, "gateway connect failed");
                    last_failure = Some(failure);
                    attempt = attempt.saturating_add(1);
                }
            }
            self.set_status(GatewayStatus::Connecting {
                attempt,
                last_failure: last_failure.clone(),
            });
            // Wait before the next attempt, failing queued commands at once meanwhile. A
            // gateway that is not there is retried fast (backoff.rs); one that refuses is not.
            let unreachable = matches!(
                last_failure,
                Some(ConnectFailure::Unreachable { .. } | ConnectFailure::Lost { .. })
            );
            let delay = self
                .config
                .backoff
                .delay(attempt.saturating_sub(1), unreachable);
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

    /// Serve one established connection until it is lost (returns why) or `shutdown`
    /// completes (then the runs in flight fail with [`GatewayError::ShuttingDown`] and are
    /// aborted on the way out).
    async fn serve(
        &mut self,
        ws: Ws,
        hello: HelloOk,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Served {
        let summary = Arc::new(Hello::from(&hello));
        let tick = summary.tick_interval;
        let version = summary.server_version.clone();
        info!(link = self.index, protocol = summary.protocol, server_version = %version, url = %self.config.url, "connected to gateway");
        if std::mem::replace(&mut self.handshaken, true) {
            self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        *self.shared.hello.write().unwrap_or_else(|p| p.into_inner()) = Some(summary);

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
            return Served::Lost("writer stopped".into());
        }
        // The runs the last connection left behind: nobody reads them, stop them (sent at the
        // top of the loop below, like every abandoned run).
        state.abandoned = std::mem::take(&mut self.orphans);
        if !state.abandoned.is_empty() {
            info!(
                runs = state.abandoned.len(),
                "aborting the runs in flight when the connection was lost"
            );
        }
        self.set_status(GatewayStatus::Connected {
            server_version: version,
        });

        let liveness = tokio::time::sleep(tick * 2);
        tokio::pin!(liveness);
        let mut stopping = false;
        let reason = 'serve: loop {
            for frame in state.take_cleanup(hello.protocol) {
                if out_tx.send(Message::text(frame)).await.is_err() {
                    break 'serve "writer stopped".to_string();
                }
            }
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
                    Some(Command::Forget { run_id }) => state.abandon_run(run_id.as_str()),
                    Some(Command::Follow { key, reply }) => {
                        // Without the capability the broadcast brings every event anyway.
                        let protocol = if self.config.session_scoped_events {
                            self.shared
                                .hello
                                .read()
                                .unwrap_or_else(|p| p.into_inner())
                                .as_ref()
                                .map_or(0, |h| h.protocol)
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
                _ = shutdown.as_mut() => {
                    stopping = true;
                    break "shutting down".to_string();
                }
            }
        };
        if stopping {
            // Past the grace period: tell the readers why, and stop what they leave behind.
            let orphans = state.fail_all(GatewayError::ShuttingDown);
            if !orphans.is_empty() {
                info!(
                    runs = orphans.len(),
                    "aborting the runs in flight at shutdown"
                );
            }
            state.abandoned.extend(orphans);
            for frame in state.take_cleanup(hello.protocol) {
                if out_tx.try_send(Message::text(frame)).is_err() {
                    break;
                }
            }
            let _ = out_tx.try_send(Message::Close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "".into(),
            })));
            drop(out_tx);
            let _ = tokio::time::timeout(Duration::from_millis(500), &mut writer).await;
            return Served::ShutDown;
        }
        self.set_status(GatewayStatus::Connecting {
            attempt: 0,
            last_failure: Some(ConnectFailure::Lost {
                reason: reason.clone(),
            }),
        });
        let orphans = state.fail_all(GatewayError::Disconnected {
            reason: reason.clone(),
        });
        self.keep_orphans(orphans);
        let _ = out_tx.try_send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })));
        drop(out_tx);
        // Give the writer a moment to flush the close frame; never wait long.
        let _ = tokio::time::timeout(Duration::from_millis(200), &mut writer).await;
        Served::Lost(reason)
    }

    /// Remember runs to abort on the next connection, within [`MAX_ORPHANS`].
    fn keep_orphans(&mut self, orphans: Vec<Orphan>) {
        let room = MAX_ORPHANS.saturating_sub(self.orphans.len());
        if orphans.len() > room {
            warn!(
                dropped = orphans.len() - room,
                "too many runs in flight to remember for abort; some may finish unseen"
            );
        }
        self.orphans.extend(orphans.into_iter().take(room));
    }
}

/// How [`Link::serve`] ended.
enum Served {
    Lost(String),
    ShutDown,
}

/// The requests that stop `orphan` on the gateway, as `(request id, frame)`: v4 `chat.abort`
/// (stops `agent` runs too: openclaw-lab abort_chat); v3's `chat.abort` only knows
/// `chat.send` runs, so there deleting its per-request session (when configured; an admin
/// method) is the only stop.
fn cleanup_frames(orphan: &Orphan, protocol: u32) -> Vec<(RequestId, String)> {
    let mut frames = Vec::new();
    if protocol >= 4 {
        let req_id = RequestId::new();
        let params = ChatAbortParams {
            session_key: &orphan.session_key,
            run_id: orphan.run_id.as_str(),
            agent_id: &orphan.agent_id,
        };
        let frame = ReqFrame::new(req_id.as_str(), "chat.abort", &params).to_json();
        frames.push((req_id, frame));
    }
    if orphan.delete_session {
        let req_id = RequestId::new();
        let params = serde_json::json!({"key": orphan.session_key, "deleteTranscript": false});
        let frame = ReqFrame::new(req_id.as_str(), "sessions.delete", &params).to_json();
        frames.push((req_id, frame));
    }
    frames
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
        // No socket: no subscription to end, nothing registered to forget.
        Command::Unfollow { .. } | Command::Forget { .. } => {}
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
    /// Protocol violations seen, logged rate-limited.
    oddities: Oddities,
    /// Runs nobody reads any more, to abort on the gateway ([`ConnState::take_cleanup`]).
    abandoned: Vec<Orphan>,
    /// Sessions followed by runs in flight ([`super::subscriptions`]).
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
                orphan,
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
                    orphan,
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
                self.oddities.note(Oddity::Unparsable, &e);
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
            InFrame::Unknown => {
                self.oddities.note(
                    Oddity::UnknownType,
                    &text.chars().take(80).collect::<String>(),
                );
                Flow::Continue
            }
        }
    }

    fn on_agent_event(&mut self, payload: &RawValue) {
        let ev = match serde_json::from_str::<AgentEvent>(payload.get()) {
            Ok(ev) => ev,
            Err(e) => {
                self.oddities.note(Oddity::MalformedEvent, &e);
                return;
            }
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
                // A slow HTTP client must never stall the socket: drop its run and abort it.
                // The reader sees its channel close without a final event: `Lagged`.
                warn!(run_id = %ev.run_id, "run reader too slow; dropping and aborting the run");
                self.abandon_run(&ev.run_id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.abandon_run(&ev.run_id);
            }
        }
    }

    /// Nobody reads `run_id` any more: drop its entries and queue its abort (once: a run
    /// already dropped is not aborted again). A run kept for a retry
    /// ([`Orphan::keep_for_retry`]) only loses its reader: its pending entry stays, so its
    /// final answer reaches a retry that registered the same id meanwhile.
    fn abandon_run(&mut self, run_id: &str) {
        self.runs.remove(run_id);
        let ids: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(p, Pending::Run { run_id: r, orphan, .. }
                    if r.as_str() == run_id && !orphan.keep_for_retry)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(Pending::Run { orphan, .. }) = self.pending.remove(&id) {
                self.abandoned.push(orphan);
            }
        }
    }

    /// Remove the other pending entries of `run_id` (retries that joined it); one still
    /// waiting for `accepted` is told the run started, and finds its end in the run's channel.
    fn settle_joined(&mut self, run_id: &RunId) {
        let ids: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Run { run_id: r, .. } if r == run_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(Pending::Run {
                accepted: Some(tx), ..
            }) = self.pending.remove(&id)
            {
                let _ = tx.send(Ok(()));
            }
        }
    }

    /// The clean-up frames of the abandoned runs, registered so their answers are expected.
    fn take_cleanup(&mut self, protocol: u32) -> Vec<String> {
        if self.abandoned.is_empty() {
            return Vec::new();
        }
        let mut frames = Vec::new();
        for orphan in std::mem::take(&mut self.abandoned) {
            for (req_id, frame) in cleanup_frames(&orphan, protocol) {
                self.pending.insert(req_id, Pending::Cleanup);
                frames.push(frame);
            }
        }
        frames
    }

    fn on_res(&mut self, res: ResFrame, shared: &Shared) {
        let Some(pending) = self.pending.get_mut(res.id.as_str()) else {
            // Also the late answers of runs and calls we stopped waiting for.
            self.oddities.note(Oddity::UnknownResponse, &res.id);
            return;
        };
        match pending {
            Pending::Run {
                run_id, accepted, ..
            } => {
                let payload = AgentResPayload::parse(res.payload.as_deref());
                if res.ok && payload.is_accepted() {
                    match accepted.take() {
                        Some(tx) => {
                            if tx.send(Ok(())).is_err() {
                                // The caller gave up waiting; nobody will read this run.
                                let run_id = run_id.clone();
                                self.abandon_run(run_id.as_str());
                            }
                        }
                        None => {
                            let run_id = run_id.clone();
                            self.oddities.note(Oddity::DuplicateAccepted, &run_id);
                        }
                    }
                    return;
                }
                let run_id = run_id.clone();
                let accepted = accepted.take();
                self.pending.remove(res.id.as_str());
                if res.ok || accepted.is_none() {
                    // The run's final answer. A retry that joined it (same id, kept for it)
                    // waits on an entry of its own that the gateway answers with its cached
                    // `accepted` at most: this answer is the retry's too.
                    self.settle_joined(&run_id);
                }
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
            Pending::Cleanup => {
                self.pending.remove(res.id.as_str());
                if !res.ok {
                    debug!(error = ?res.error, "clean-up request refused");
                }
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

    /// Fail every call and run in flight with `err`; returns the runs (accepted or not), which
    /// nobody reads any more and which may still go on at the gateway.
    fn fail_all(&mut self, err: GatewayError) -> Vec<Orphan> {
        let mut orphans = Vec::new();
        for (_, pending) in self.pending.drain() {
            match pending {
                Pending::Call(tx) => {
                    let _ = tx.send(Err(err.clone()));
                }
                Pending::Run {
                    accepted, orphan, ..
                } => {
                    if let Some(tx) = accepted {
                        let _ = tx.send(Err(err.clone()));
                    }
                    orphans.push(orphan);
                }
                Pending::AgentsRefresh | Pending::Cleanup => {}
            }
        }
        for (_, events) in self.runs.drain() {
            deliver_terminal(events, RunEvent::Failed(err.clone()));
        }
        orphans
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
            orphan: Orphan {
                run_id: RunId::from(run_id),
                session_key: "agent:main:openai:x".into(),
                agent_id: "main".into(),
                delete_session: false,
                keep_for_retry: false,
            },
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
