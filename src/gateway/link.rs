//! One socket's task: owns the WebSocket and its frame router (the pool of such sockets is
//! [`super::pool`]). It connects ([`super::handshake`]), serves, and reconnects with capped,
//! jittered backoff.
//!
//! One task reads frames and commands in a `biased` select (socket first, so a burst of
//! events never waits behind new requests; then commands; then the liveness timer). A second
//! task writes frames, so a slow gateway read never blocks routing. Which waiter or run a
//! frame belongs to is the [`FrameRouter`]'s business.
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

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use super::config::GatewayConfig;
use super::error::{ConnectFailure, GatewayError, NotConnected};
use super::frame::ReqFrame;
use super::handshake::{self, Ws};
use super::hello::Hello;
use super::ids::{RequestId, RunId};
use super::methods::HelloOk;
use super::router::{FrameEffect, FrameRouter, Orphan, PendingKind, Reply};
use super::state::{GatewayStatus, PoolState};

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
    Follow { key: String, reply: Reply },
    /// One run fewer in session `key` (unsubscribes after the last).
    Unfollow { key: String },
}

/// Runs remembered across a reconnect to be aborted; more are dropped (and logged).
const MAX_ORPHANS: usize = 1024;

/// One socket of the pool ([`super::pool::Connection`]): connects, serves and reconnects it.
pub(crate) struct Link {
    /// Its place in the pool (in logs).
    index: usize,
    /// Whether it completed a handshake before (a later one is a reconnect).
    handshaken: bool,
    config: GatewayConfig,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<GatewayStatus>,
    pool: Arc<PoolState>,
    /// Runs in flight when the last connection was lost: aborted on the next one.
    orphans: Vec<Orphan>,
}

impl Link {
    pub(crate) fn new(
        index: usize,
        config: GatewayConfig,
        commands: mpsc::Receiver<Command>,
        status: watch::Sender<GatewayStatus>,
        pool: Arc<PoolState>,
    ) -> Self {
        Link {
            index,
            handshaken: false,
            config,
            commands,
            status,
            pool,
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
                r = tokio::time::timeout(
                    self.config.connect_timeout,
                    handshake::connect(&self.config, &self.pool),
                ) => {
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
            self.pool.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.pool.set_hello(summary);

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

        let mut router = FrameRouter::default();
        // Fill the agent cache before declaring ourselves ready.
        let req_id = RequestId::new();
        let frame = ReqFrame::new(req_id.as_str(), "agents.list", &serde_json::json!({})).to_json();
        router.expect_agents_list(req_id);
        if out_tx.send(Message::text(frame)).await.is_err() {
            return Served::Lost("writer stopped".into());
        }
        // The runs the last connection left behind: nobody reads them, stop them (sent at the
        // top of the loop below, like every abandoned run).
        let orphans = std::mem::take(&mut self.orphans);
        if !orphans.is_empty() {
            info!(
                runs = orphans.len(),
                "aborting the runs in flight when the connection was lost"
            );
        }
        router.abandon(orphans);
        self.set_status(GatewayStatus::Connected {
            server_version: version,
        });

        let liveness = tokio::time::sleep(tick * 2);
        tokio::pin!(liveness);
        let mut stopping = false;
        let reason = 'serve: loop {
            for frame in router.take_cleanup(hello.protocol) {
                if out_tx.send(Message::text(frame)).await.is_err() {
                    break 'serve "writer stopped".to_string();
                }
            }
            tokio::select! {
                biased;
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        self.pool.traffic.count(text.len());
                        match router.route(text.as_str(), &self.pool) {
                            FrameEffect::Nothing => {}
                            FrameEffect::Tick => liveness.as_mut().reset(Instant::now() + tick * 2),
                            FrameEffect::Lost(reason) => break reason,
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
                        if !router.register(req_id, kind) {
                            continue;
                        }
                        if out_tx.send(Message::text(frame)).await.is_err() {
                            break "writer stopped".to_string();
                        }
                    }
                    Some(Command::Forget { run_id }) => router.abandon_run(run_id.as_str()),
                    Some(Command::Follow { key, reply }) => {
                        // Without the capability the broadcast brings every event anyway.
                        let protocol = if self.config.session_scoped_events {
                            self.pool.protocol()
                        } else {
                            0
                        };
                        if let Some(frame) = router.follow(&key, protocol, reply) {
                            if out_tx.send(Message::text(frame)).await.is_err() {
                                break "writer stopped".to_string();
                            }
                        }
                    }
                    Some(Command::Unfollow { key }) => {
                        if let Some(frame) = router.unfollow(&key) {
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
            let orphans = router.fail_all(GatewayError::ShuttingDown);
            if !orphans.is_empty() {
                info!(
                    runs = orphans.len(),
                    "aborting the runs in flight at shutdown"
                );
            }
            router.abandon(orphans);
            for frame in router.take_cleanup(hello.protocol) {
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
        let orphans = router.fail_all(GatewayError::Disconnected {
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
