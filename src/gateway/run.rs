//! What a caller sees of one agent run: the request it makes, the events it receives, and
//! the [`Run`] that owns the run's life on our side.
//!
//! A [`Run`] ends in exactly one way: the gateway's final answer, a failure, the reader
//! falling behind, or the local deadline. Dropping it before the gateway's final answer
//! (client gone, write failed, deadline) aborts the run on the gateway, so every caller
//! gets the same clean-up without remembering it.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::gateway::client::LinkLoad;
use crate::gateway::{GatewayClient, GatewayError, RunId};
use crate::http_source::HttpRun;
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
    /// ([`GatewayClient::deletes_sessions`]; see [`GatewayClient::delete_session`]).
    pub delete_ephemeral_session: bool,
    /// Images of the current turn (`attachments`, both versions).
    pub attachments: Vec<Attachment>,
    /// The run's thinking level (`thinking`, both versions).
    pub thinking: Option<ThinkingLevel>,
    /// The run's backend model (`provider` + `model`, openclaw 2026.9.6 only: see
    /// [`GatewayClient::supports_model_override`]).
    pub model: Option<ModelOverride>,
    /// A run id derived from a client's `Idempotency-Key` (fresh when `None`). Such a run is
    /// not aborted when its reader leaves: the connection keeps it for the client's retry,
    /// which joins it (or gets the gateway's cached answer once it finished).
    pub idempotent_id: Option<RunId>,
}

/// Token counts from the final result's `meta.agentMeta.usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total: u64,
}

/// Why a run that ended normally stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The agent finished its reply.
    Completed,
    /// The run hit its time limit (v3 `meta.aborted`, v4 `status:"timeout"`); text may be partial.
    TimedOut,
    /// The run was aborted on request (v4 `stopReason:"rpc"`).
    Aborted,
}

/// The final result of a run that the gateway reported as finished (`res` with `ok:true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The reply text: the non-error `payloads[].text` joined by a blank line (may be empty).
    pub text: String,
    /// Token usage when the gateway reported it.
    pub usage: Option<Usage>,
    /// Why it stopped.
    pub stop: StopKind,
    /// The client tool calls the run ended with, in order (runs from the gateway's HTTP
    /// endpoint only, see `crate::http_source`; always empty on the WebSocket).
    pub tool_calls: Vec<crate::client_tools::ToolCall>,
}

/// One item of a run's event stream, in arrival order. The stream ends after any event but
/// [`RunEvent::Delta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// New assistant text (`agent` event, `stream:"assistant"`, `data.delta`).
    Delta(String),
    /// The run finished; the final `res` arrived.
    Finished(RunOutcome),
    /// The run failed: gateway error after acceptance or lost connection.
    Failed(GatewayError),
    /// The reader fell too far behind and the connection dropped the run (its channel
    /// closed without a final event) and aborted it on the gateway.
    Lagged,
    /// The local deadline passed before the gateway's final answer.
    TimedOut,
}

impl RunEvent {
    /// Whether nothing follows this event.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, RunEvent::Delta(_))
    }
}

/// An accepted run: its id and its events. Dropping it before the gateway's final answer
/// aborts the run there (see the module doc).
///
/// It comes from one of two sources: the WebSocket `agent` method, or the gateway's own
/// `/v1/chat/completions` for a request whose client tools are run
/// ([`crate::http_source`]). Both give the same events.
pub struct Run {
    id: RunId,
    source: Source,
}

enum Source {
    Socket {
        events: mpsc::Receiver<RunEvent>,
        guard: RunGuard,
    },
    Http {
        run: Box<HttpRun>,
        /// Deletes the per-request session once the run ended (see [`Run::from_http`]).
        cleanup: Option<SessionDelete>,
    },
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (source, ended) = match &self.source {
            Source::Socket { guard, .. } => ("socket", guard.ended),
            Source::Http { cleanup, .. } => ("http", cleanup.as_ref().is_some_and(|c| c.ended)),
        };
        f.debug_struct("Run")
            .field("id", &self.id)
            .field("source", &source)
            .field("ended", &ended)
            .finish_non_exhaustive()
    }
}

impl Run {
    pub(crate) fn new(id: RunId, events: mpsc::Receiver<RunEvent>, guard: RunGuard) -> Run {
        Run {
            id,
            source: Source::Socket { events, guard },
        }
    }

    /// A run of the gateway's HTTP endpoint. With `delete_session` (a per-request session
    /// the connection may delete: [`RunRequest::delete_ephemeral_session`]), its session is
    /// deleted over `gateway` once the run ended; a run abandoned before its end is aborted
    /// by the gateway when the HTTP request goes, and its session is left (deleting it while
    /// the abort is under way would race it).
    pub fn from_http(run: HttpRun, gateway: &GatewayClient, req: &RunRequest) -> Run {
        let cleanup = (req.delete_ephemeral_session
            && req.session_key.is_ephemeral()
            && gateway.deletes_sessions())
        .then(|| SessionDelete {
            gateway: gateway.clone(),
            key: req.session_key.clone(),
            ended: false,
        });
        Run {
            id: run.id().clone(),
            source: Source::Http {
                run: Box::new(run),
                cleanup,
            },
        }
    }

    /// The run id (= the `idempotencyKey` we sent).
    pub fn id(&self) -> &RunId {
        &self.id
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
            Source::Http { run, cleanup } => {
                let event = run.next(deadline).await;
                if let Some(c) = cleanup.as_mut() {
                    c.ended |= event.is_terminal() && event != RunEvent::TimedOut;
                }
                event
            }
        }
    }

    /// Whether the run comes from the gateway's HTTP endpoint.
    pub fn is_http(&self) -> bool {
        matches!(self.source, Source::Http { .. })
    }
}

/// Deletes an HTTP run's per-request session when dropped after the run ended.
struct SessionDelete {
    gateway: GatewayClient,
    key: SessionKey,
    ended: bool,
}

impl Drop for SessionDelete {
    fn drop(&mut self) {
        if !self.ended {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let gateway = self.gateway.clone();
        let key = self.key.clone();
        runtime.spawn(async move {
            if let Err(e) = gateway.delete_session(&key).await {
                debug!(session = %key, error = %e, "could not delete the per-request session");
            }
        });
    }
}

/// Our side of a run that may still go on at the gateway: on drop, aborts it unless it
/// ended, and deletes its session when asked to. Exists from before the `agent` request is
/// sent, so a caller that stops waiting for `accepted` still aborts it.
pub(crate) struct RunGuard {
    /// Pinned to the run's socket.
    gateway: GatewayClient,
    /// Counts the run on that socket while the guard lives.
    _load: LinkLoad,
    run_id: RunId,
    session_key: SessionKey,
    delete_session: bool,
    /// Set once no abort is needed (final answer, failure, or refused before it started).
    pub(crate) ended: bool,
    /// Set once the connection counts this run in its session (`subscriptions`).
    pub(crate) following: bool,
}

impl RunGuard {
    pub(crate) fn new(
        gateway: GatewayClient,
        req: &RunRequest,
        run_id: &RunId,
        load: LinkLoad,
    ) -> RunGuard {
        RunGuard {
            gateway,
            _load: load,
            run_id: run_id.clone(),
            session_key: req.session_key.clone(),
            delete_session: req.delete_ephemeral_session && req.session_key.is_ephemeral(),
            ended: false,
            following: false,
        }
    }

    /// Whether dropping this guard deletes the run's session.
    pub(crate) fn deletes_session(&self) -> bool {
        self.delete_session && self.gateway.deletes_sessions()
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if self.following {
            self.gateway.unfollow_session(&self.session_key);
        }
        if !self.ended {
            // The connection drops the run's entries at once and aborts it (and deletes its
            // per-request session when asked): one mechanism with lagged and lost runs.
            debug!(run_id = %self.run_id, "run abandoned; aborting it on the gateway");
            self.gateway.forget_run(&self.run_id);
            return;
        }
        // Without a runtime (process exit) there is nobody left to send the request.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.deletes_session() {
            let gateway = self.gateway.clone();
            let key = self.session_key.clone();
            runtime.spawn(async move {
                if let Err(e) = gateway.delete_session(&key).await {
                    debug!(session = %key, error = %e, "could not delete the per-request session");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::client::GatewayAuth;
    use crate::gateway::GatewayConfig;

    fn run_with_channel() -> (Run, mpsc::Sender<RunEvent>) {
        // Never connected: an abort from the guard finds no protocol and sends nothing.
        let (gateway, _conn) =
            GatewayClient::new(GatewayConfig::new("ws://127.0.0.1:9", GatewayAuth::None));
        let req = RunRequest {
            agent_id: "main".into(),
            session_key: SessionKey::named("agent:main:openai:x"),
            message: "hi".into(),
            extra_system_prompt: None,
            timeout: None,
            delete_ephemeral_session: false,
            attachments: Vec::new(),
            thinking: None,
            model: None,
            idempotent_id: None,
        };
        let id = RunId::from("run-1");
        let (tx, rx) = mpsc::channel(4);
        let guard = RunGuard::new(gateway, &req, &id, LinkLoad(Default::default()));
        (Run::new(id, rx, guard), tx)
    }

    impl Run {
        fn ended(&self) -> bool {
            match &self.source {
                Source::Socket { guard, .. } => guard.ended,
                Source::Http { .. } => unreachable!("socket runs only here"),
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
    async fn the_final_answer_ends_the_run() {
        let (mut run, tx) = run_with_channel();
        let outcome = RunOutcome {
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
