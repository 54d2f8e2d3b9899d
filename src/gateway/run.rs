//! What a caller sees of one agent run: the request it makes, the events it receives, and
//! the [`Run`] that owns the run's life on our side.
//!
//! A [`Run`] ends in exactly one way: the gateway's final answer, a failure, the reader
//! falling behind, or the local deadline. Dropping it before the gateway's final answer
//! (client gone, write failed, deadline) aborts the run on the gateway, so every caller
//! gets the same clean-up without remembering it.
//!
//! A run comes from one of two sources: the WebSocket `agent` method (`Run::start`), or
//! events from elsewhere ([`ExternalEvents`]: the gateway's own `/v1/chat/completions` for a
//! request whose client tools are run, `crate::http_source`), adopted with
//! [`super::GatewayClient::adopt_run`]. Both give the same events.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::debug;

use super::error::GatewayError;
use super::events::RunEvent;
use super::frame::ReqFrame;
use super::ids::{RequestId, RunId};
use super::link::Command;
use super::methods::AgentParams;
use super::progress::ProgressLevel;
use super::router::{Orphan, PendingKind};
use super::socket::{await_answer, RunLoad, RunSocket};
use crate::media::Attachment;
use crate::model_override::ModelOverride;
use crate::routing::SessionKey;
use crate::thinking::ThinkingLevel;

/// Input of one `agent` run, already resolved (agent, session, prompt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The agent that runs it (always sent: v4 refuses ownerless runs with several agents).
    pub agent_id: String,
    /// The session key, e.g. `agent:main:openai:<uuid>`.
    pub session_key: SessionKey,
    /// The user turn (with the history envelope when the request carried history).
    pub message: String,
    /// System and developer messages, joined by a blank line.
    pub extra_system_prompt: Option<String>,
    /// Run timeout passed to the gateway (`timeout`, whole seconds).
    pub timeout: Option<Duration>,
    /// Delete the session once the run is over when it is a per-request one
    /// ([`SessionKey::is_ephemeral`]) and the connection may
    /// ([`super::GatewayClient::deletes_sessions`]; see
    /// [`super::GatewayClient::delete_session`]).
    pub delete_ephemeral_session: bool,
    /// Images of the current turn (`attachments`, both versions).
    pub attachments: Vec<Attachment>,
    /// The run's thinking level (`thinking`, both versions).
    pub thinking: Option<ThinkingLevel>,
    /// The run's backend model (`provider` + `model`, openclaw 2026.9.6 only: see
    /// [`super::GatewayClient::supports_model_override`]).
    pub model: Option<ModelOverride>,
    /// A run id derived from a client's `Idempotency-Key` (fresh when `None`). Such a run is
    /// not aborted when its reader leaves: the connection keeps it for the client's retry,
    /// which joins it (or gets the gateway's cached answer once it finished).
    pub idempotent_id: Option<RunId>,
    /// How much of the agent's work the run's events carry ([`RunEvent::Progress`]); at
    /// [`ProgressLevel::Off`] none reach the run.
    pub progress: ProgressLevel,
}

impl RunRequest {
    /// `message` for `agent_id` in `session_key`, with the gateway's defaults for the rest: no
    /// system prompt, timeout, attachments, thinking level, model or idempotent id; the
    /// session kept; no progress events.
    pub fn new(
        agent_id: impl Into<String>,
        session_key: SessionKey,
        message: impl Into<String>,
    ) -> RunRequest {
        RunRequest {
            agent_id: agent_id.into(),
            session_key,
            message: message.into(),
            extra_system_prompt: None,
            timeout: None,
            delete_ephemeral_session: false,
            attachments: Vec::new(),
            thinking: None,
            model: None,
            idempotent_id: None,
            progress: ProgressLevel::Off,
        }
    }
}

/// A run's events that do not come over this crate's sockets (the gateway's HTTP endpoint:
/// `crate::http_source`). Dropping it before its terminal event must abort the run.
pub trait ExternalEvents: Send + std::fmt::Debug {
    /// The next event, as [`Run::next`] describes it. Cancel safe.
    fn next(&mut self, deadline: Instant) -> Pin<Box<dyn Future<Output = RunEvent> + Send + '_>>;
}

/// An accepted run: its id and its events. Dropping it before the gateway's final answer
/// aborts the run there (see the module doc).
pub struct Run {
    id: RunId,
    source: Source,
}

enum Source {
    Socket {
        events: mpsc::Receiver<RunEvent>,
        guard: RunGuard,
    },
    External {
        events: Box<dyn ExternalEvents>,
        /// Deletes the per-request session once the run ended (see [`Run::adopt`]).
        cleanup: Option<SessionDelete>,
        /// Without a clean-up: dropped with the run ([`Run::hold_until_cleaned_up`]).
        held: Option<Box<dyn Send + Sync>>,
    },
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (source, ended) = match &self.source {
            Source::Socket { guard, .. } => ("socket", guard.ended),
            Source::External { cleanup, .. } => {
                ("external", cleanup.as_ref().is_some_and(|c| c.ended))
            }
        };
        f.debug_struct("Run")
            .field("id", &self.id)
            .field("source", &source)
            .field("ended", &ended)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Start the run `req` under `run_id` on `socket` and wait until the gateway accepted
    /// it. Dropping the future while it waits for `accepted` aborts the run like dropping
    /// the [`Run`] would.
    pub(crate) async fn start(
        socket: RunSocket,
        req: &RunRequest,
        run_id: RunId,
        buffer: usize,
    ) -> Result<Run, GatewayError> {
        let mut guard = RunGuard::new(socket, req, &run_id);
        // Follow the session's events before the run can emit any (session-scoped sockets
        // on v4; a no-op on v3). Once submitted, the guard ends the following.
        let (reply, followed) = oneshot::channel();
        let follow = Command::Follow {
            key: req.session_key.as_str().to_string(),
            reply,
        };
        if let Err(e) = guard.socket.submit(follow).await {
            guard.ended = true;
            return Err(e);
        }
        guard.following = true;
        if let Err(e) = await_answer(followed, guard.socket.request_timeout()).await {
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
        let (events_tx, events) = mpsc::channel(buffer);
        let (accepted_tx, accepted) = oneshot::channel();
        let sent = guard
            .socket
            .submit(Command::Send {
                req_id,
                frame,
                kind: PendingKind::Run {
                    run_id: run_id.clone(),
                    events: events_tx,
                    progress: req.progress,
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
            Ok(()) => await_answer(accepted, guard.socket.request_timeout()).await,
        };
        match result {
            Ok(()) => Ok(Run {
                id: run_id,
                source: Source::Socket { events, guard },
            }),
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

    /// A run whose events come from elsewhere. With `cleanup` (a socket of the connection,
    /// given when `req` asks for its per-request session to be deleted), the session is
    /// deleted there once the run ended; a run abandoned before its end is aborted by its
    /// source when dropped, and its session is left (deleting it while the abort is under
    /// way would race it).
    pub(crate) fn adopt(
        id: RunId,
        events: Box<dyn ExternalEvents>,
        req: &RunRequest,
        cleanup: Option<RunSocket>,
    ) -> Run {
        let cleanup = cleanup
            .filter(|socket| {
                req.delete_ephemeral_session
                    && req.session_key.is_ephemeral()
                    && socket.deletes_sessions()
            })
            .map(|socket| SessionDelete {
                socket,
                key: req.session_key.clone(),
                ended: false,
                held: None,
            });
        Run {
            id,
            source: Source::External {
                events,
                cleanup,
                held: None,
            },
        }
    }

    /// The run id (= the `idempotencyKey` we sent, or the external source's own).
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// Keep `held` (e.g. the caller's admission slot) until this run's work on the gateway is
    /// over: after the `sessions.delete` of its per-request session has been answered (on
    /// protocol 3 a session-store write under the same lock as the run's), else when the run
    /// is dropped.
    pub fn hold_until_cleaned_up(&mut self, held: impl Send + Sync + 'static) {
        let held: Box<dyn Send + Sync> = Box::new(held);
        match &mut self.source {
            Source::Socket { guard, .. } => guard.held = Some(held),
            Source::External {
                cleanup: Some(cleanup),
                ..
            } => cleanup.held = Some(held),
            Source::External { held: slot, .. } => *slot = Some(held),
        }
    }

    /// The next event: a delta, the gateway's final answer, [`RunEvent::Lagged`] when the
    /// connection dropped the run, or [`RunEvent::TimedOut`] once `deadline` passes. Cancel
    /// safe. Stop after the first terminal event ([`RunEvent::is_terminal`]): nothing
    /// meaningful follows it.
    pub async fn next(&mut self, deadline: Instant) -> RunEvent {
        match &mut self.source {
            Source::Socket { events, guard } => {
                let event = tokio::select! {
                    ev = events.recv() => ev.unwrap_or(RunEvent::Lagged),
                    _ = tokio::time::sleep_until(deadline) => RunEvent::TimedOut,
                };
                if event.is_terminal() && event != RunEvent::TimedOut {
                    // The gateway is done with it, or the connection aborts it (lagged, lost,
                    // shutting down): nothing left to abort here.
                    guard.ended = true;
                }
                event
            }
            Source::External {
                events, cleanup, ..
            } => {
                let event = events.next(deadline).await;
                if let Some(c) = cleanup.as_mut() {
                    c.ended |= event.is_terminal() && event != RunEvent::TimedOut;
                }
                event
            }
        }
    }
}

/// Deletes an external run's per-request session when dropped after the run ended.
struct SessionDelete {
    socket: RunSocket,
    key: SessionKey,
    ended: bool,
    /// Dropped once the delete is answered ([`Run::hold_until_cleaned_up`]).
    held: Option<Box<dyn Send + Sync>>,
}

impl Drop for SessionDelete {
    fn drop(&mut self) {
        if !self.ended {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let socket = self.socket.clone();
        let key = self.key.clone();
        let held = self.held.take();
        runtime.spawn(async move {
            if let Err(e) = socket.delete_session(&key).await {
                debug!(session = %key, error = %e, "could not delete the per-request session");
            }
            drop(held);
        });
    }
}

/// Our side of a run that may still go on at the gateway: on drop, aborts it unless it
/// ended, and deletes its session when asked to. Exists from before the `agent` request is
/// sent, so a caller that stops waiting for `accepted` still aborts it.
pub(crate) struct RunGuard {
    /// The run's socket: every frame about the run goes there.
    socket: RunSocket,
    /// Counts the run on that socket while the guard lives.
    _load: RunLoad,
    run_id: RunId,
    session_key: SessionKey,
    delete_session: bool,
    /// Set once no abort is needed (final answer, failure, or refused before it started).
    pub(crate) ended: bool,
    /// Set once the connection counts this run in its session (`subscriptions`).
    pub(crate) following: bool,
    /// Dropped once the clean-up is done ([`Run::hold_until_cleaned_up`]).
    held: Option<Box<dyn Send + Sync>>,
}

impl RunGuard {
    pub(crate) fn new(socket: RunSocket, req: &RunRequest, run_id: &RunId) -> RunGuard {
        RunGuard {
            _load: socket.count_run(),
            socket,
            run_id: run_id.clone(),
            session_key: req.session_key.clone(),
            delete_session: req.delete_ephemeral_session && req.session_key.is_ephemeral(),
            ended: false,
            following: false,
            held: None,
        }
    }

    /// Whether dropping this guard deletes the run's session.
    pub(crate) fn deletes_session(&self) -> bool {
        self.delete_session && self.socket.deletes_sessions()
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if self.following {
            self.socket.unfollow_session(&self.session_key);
        }
        if !self.ended {
            // The connection drops the run's entries at once and aborts it (and deletes its
            // per-request session when asked): one mechanism with lagged and lost runs.
            debug!(run_id = %self.run_id, "run abandoned; aborting it on the gateway");
            self.socket.forget_run(&self.run_id);
            return;
        }
        // Without a runtime (process exit) there is nobody left to send the request.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.deletes_session() {
            let socket = self.socket.clone();
            let key = self.session_key.clone();
            let held = self.held.take();
            runtime.spawn(async move {
                if let Err(e) = socket.delete_session(&key).await {
                    debug!(session = %key, error = %e, "could not delete the per-request session");
                }
                drop(held);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::events::{RunOutcome, StopKind};
    use crate::gateway::socket::SocketHandle;
    use crate::gateway::state::GatewayStatus;
    use tokio::sync::watch;

    fn run_with_channel() -> (Run, mpsc::Sender<RunEvent>) {
        // A socket whose task never runs: what the guard sends on drop goes nowhere.
        let (commands, _) = mpsc::channel(4);
        let (_, status) = watch::channel(GatewayStatus::Stopped);
        let socket = RunSocket::new(
            SocketHandle::new(commands, status),
            Default::default(),
            Duration::from_secs(1),
        );
        let req = RunRequest::new("main", SessionKey::named("agent:main:openai:x"), "hi");
        let id = RunId::from("run-1");
        let (tx, rx) = mpsc::channel(4);
        let guard = RunGuard::new(socket, &req, &id);
        (
            Run {
                id,
                source: Source::Socket { events: rx, guard },
            },
            tx,
        )
    }

    impl Run {
        fn ended(&self) -> bool {
            match &self.source {
                Source::Socket { guard, .. } => guard.ended,
                Source::External { .. } => unreachable!("socket runs only here"),
            }
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn the_deadline_is_an_event_and_leaves_the_run_to_abort() {
        let (mut run, tx) = run_with_channel();
        tx.send(RunEvent::Delta("a".into())).await.unwrap();
        assert_eq!(run.next(later()).await, RunEvent::Delta("a".into()));
        assert!(!run.ended());
        assert_eq!(run.next(Instant::now()).await, RunEvent::TimedOut);
        assert!(
            !run.ended(),
            "a timed-out run is still going on the gateway"
        );
    }

    #[tokio::test]
    async fn a_closed_channel_is_lagged_once_in_one_place() {
        let (mut run, tx) = run_with_channel();
        drop(tx);
        let event = run.next(later()).await;
        assert_eq!(event, RunEvent::Lagged);
        assert!(event.is_terminal() && run.ended());
    }

    #[tokio::test]
    async fn what_a_run_holds_goes_with_it_when_there_is_no_session_to_delete() {
        let (mut run, tx) = run_with_channel();
        let held = std::sync::Arc::new(());
        run.hold_until_cleaned_up(held.clone());
        assert_eq!(std::sync::Arc::strong_count(&held), 2);
        tx.send(RunEvent::Failed(GatewayError::Timeout))
            .await
            .unwrap();
        assert!(run.next(later()).await.is_terminal());
        drop(run);
        assert_eq!(std::sync::Arc::strong_count(&held), 1);
    }

    #[tokio::test]
    async fn the_final_answer_ends_the_run() {
        let (mut run, tx) = run_with_channel();
        let outcome = RunOutcome {
            replayed: false,
            text: "done".into(),
            usage: None,
            stop: StopKind::Completed,
            tool_calls: Vec::new(),
        };
        tx.send(RunEvent::Finished(outcome.clone())).await.unwrap();
        assert_eq!(run.next(later()).await, RunEvent::Finished(outcome));
        assert!(run.ended());
        assert_eq!(run.id().as_str(), "run-1");
    }
}
