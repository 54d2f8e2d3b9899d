//! One socket of the pool as callers see it: [`SocketHandle`] (the channel to its task, its
//! status, its run count) and [`RunSocket`], the one socket a run is pinned to.
//!
//! A run's frames must all go to one socket: its events come back on it, and only that
//! socket's router knows the run (abort, forget, unfollow, clean-up). So a started run holds
//! its socket as a value; the pool handle ([`super::GatewayClient`]) never stands in for one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::error::{GatewayError, NotConnected};
use super::frame::ReqFrame;
use super::ids::{RequestId, RunId};
use super::link::Command;
use super::methods::sessions_delete;
use super::router::{Answer, PendingKind};
use super::state::{GatewayStatus, PoolState};
use crate::routing::SessionKey;

/// The handle's side of one socket of the pool.
#[derive(Clone)]
pub(crate) struct SocketHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<GatewayStatus>,
    /// Runs started on this socket whose [`RunLoad`] is alive: the load that picks a socket.
    runs: Arc<AtomicUsize>,
}

impl SocketHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        status: watch::Receiver<GatewayStatus>,
    ) -> Self {
        SocketHandle {
            commands,
            status,
            runs: Arc::default(),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.status.borrow().is_connected()
    }

    /// Runs counted on this socket now.
    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::Relaxed)
    }

    /// Hand a command to the socket's task. Every outgoing request passes here, so this is
    /// the one check against the announced frame limit (`limit`): a frame over it is refused
    /// before it is sent, and the other calls on the socket are untouched.
    pub(crate) async fn submit(
        &self,
        cmd: Command,
        limit: Option<usize>,
    ) -> Result<(), GatewayError> {
        if let (Command::Send { frame, .. }, Some(limit)) = (&cmd, limit) {
            // `ws` compares the message's byte length with `maxPayload` (receiver.js:
            // `totalPayloadLength > maxPayload` closes with 1009), so equal still fits.
            if frame.len() > limit {
                return Err(GatewayError::FrameTooLarge {
                    size: frame.len(),
                    limit,
                });
            }
        }
        self.commands
            .send(cmd)
            .await
            .map_err(|_| GatewayError::NotConnected {
                reason: NotConnected::ShuttingDown,
            })
    }
}

/// A request frame for `method` and the receiver of its answer.
pub(crate) fn call_command<P: Serialize>(
    method: &str,
    params: &P,
) -> (Command, oneshot::Receiver<Answer>) {
    let req_id = RequestId::new();
    let frame = ReqFrame::new(req_id.as_str(), method, params).to_json();
    let (reply, rx) = oneshot::channel();
    let cmd = Command::Send {
        req_id,
        frame,
        kind: PendingKind::Call(reply),
    };
    (cmd, rx)
}

/// Wait at most `timeout` for the socket task's answer on `rx`.
pub(crate) async fn await_answer<T>(
    rx: oneshot::Receiver<Result<T, GatewayError>>,
    timeout: Duration,
) -> Result<T, GatewayError> {
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(GatewayError::Disconnected {
            reason: "connection task ended".to_string(),
        }),
        Err(_) => Err(GatewayError::Timeout),
    }
}

/// The socket a run is pinned to (chosen by [`super::GatewayClient`]): its `agent` request,
/// the session following, the abort and the clean-up all go here, and fail while it is
/// down instead of going to another socket, which would not know the run.
#[derive(Clone)]
pub(crate) struct RunSocket {
    socket: SocketHandle,
    pool: Arc<PoolState>,
    request_timeout: Duration,
}

impl RunSocket {
    pub(crate) fn new(
        socket: SocketHandle,
        pool: Arc<PoolState>,
        request_timeout: Duration,
    ) -> Self {
        RunSocket {
            socket,
            pool,
            request_timeout,
        }
    }

    /// Count one run on this socket until the returned load is dropped.
    pub(crate) fn count_run(&self) -> RunLoad {
        self.socket.runs.fetch_add(1, Ordering::Relaxed);
        RunLoad(self.socket.runs.clone())
    }

    /// Limit for an answer (for `agent`: the `accepted` answer).
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Whether the current connection may delete per-request sessions.
    pub(crate) fn deletes_sessions(&self) -> bool {
        self.pool.deletes_sessions()
    }

    /// Hand `cmd` to this socket's task; fails at once while the socket is down.
    pub(crate) async fn submit(&self, cmd: Command) -> Result<(), GatewayError> {
        if !self.socket.is_up() {
            return Err(GatewayError::NotConnected {
                reason: NotConnected::Reconnecting,
            });
        }
        let limit = self.pool.hello().and_then(|h| h.max_payload);
        self.socket.submit(cmd, limit).await
    }

    /// Call `method` on this socket and return its raw `payload`.
    async fn call<P: Serialize>(&self, method: &str, params: &P) -> Answer {
        let (cmd, rx) = call_command(method, params);
        self.submit(cmd).await?;
        await_answer(rx, self.request_timeout).await
    }

    /// Tell the socket that nobody reads `run_id` any more (best effort: with the command
    /// queue full the entries wait for the run's final answer or a reconnect).
    pub(crate) fn forget_run(&self, run_id: &RunId) {
        let _ = self.socket.commands.try_send(Command::Forget {
            run_id: run_id.clone(),
        });
    }

    /// One run fewer in session `key` (see [`super::subscriptions`]); never waits.
    pub(crate) fn unfollow_session(&self, key: &SessionKey) {
        let cmd = Command::Unfollow {
            key: key.as_str().to_string(),
        };
        let commands = &self.socket.commands;
        if let Err(mpsc::error::TrySendError::Full(cmd)) = commands.try_send(cmd) {
            let commands = commands.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = commands.send(cmd).await;
                });
            }
        }
    }

    /// Delete the run's finished per-request session
    /// ([`super::GatewayClient::delete_session`], on this socket).
    pub(crate) async fn delete_session(&self, key: &SessionKey) -> Result<(), GatewayError> {
        self.call("sessions.delete", &sessions_delete(key.as_str()))
            .await
            .map(|_| ())
    }
}

/// One run counted on its socket while it lives (held by the run's guard).
pub(crate) struct RunLoad(Arc<AtomicUsize>);

impl Drop for RunLoad {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
