//! The frame router of one socket: which request waits for which answer, and which run
//! owns which events. No I/O: the socket's task ([`super::link::Link`]) feeds it each text
//! frame and each command, and sends what it returns.
//!
//! A pending map (request id -> waiter) and a run map (run id -> bounded channel), like
//! jsonrpsee's request manager, with the gateway's differences: `agent` answers twice on one
//! id (`accepted`, then the final result), so a run's waiter outlives its first answer; and
//! `agent` events are broadcast to every operator socket keyed by `runId` (gateway-lab
//! broadcast_observer), so events of runs this socket does not know are dropped after one
//! small parse. A run is registered before its request is sent, so no event can miss it. A
//! reader that falls behind never stalls the socket: its run is dropped and aborted.

use std::collections::HashMap;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::error::GatewayError;
use super::events::{RunEvent, RunOutcome};
use super::frame::{AgentEvent, AssistantData, ErrorShape, InFrame, ReqFrame, ResFrame, Shutdown};
use super::ids::{RequestId, RunId};
use super::methods::{sessions_delete, AgentResPayload, ChatAbortParams};
use super::oddities::{Oddities, Oddity};
use super::progress::{self, ProgressLevel};
use super::state::PoolState;
use super::subscriptions::Subscriptions;

/// A call's answer: the raw `payload`, or why there is none.
pub(crate) type Answer = Result<Option<Box<RawValue>>, GatewayError>;

/// Where a call's answer goes.
pub(crate) type Reply = oneshot::Sender<Answer>;

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

/// Who waits for a request's answer.
pub(crate) enum PendingKind {
    /// One answer, returned as the raw payload.
    Call(Reply),
    /// An `agent` run: answered twice on one id (accepted, then final).
    Run {
        run_id: RunId,
        events: mpsc::Sender<RunEvent>,
        /// How much of the agent's work its events carry.
        progress: ProgressLevel,
        accepted: oneshot::Sender<Result<(), GatewayError>>,
        orphan: Orphan,
    },
}

/// Where a run's events go.
struct RunRoute {
    events: mpsc::Sender<RunEvent>,
    progress: ProgressLevel,
}

enum Pending {
    Call(Reply),
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

/// What a frame means for the socket beyond its waiters.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameEffect {
    /// Nothing: routed, or dropped.
    Nothing,
    /// A `tick`: the gateway is alive.
    Tick,
    /// The gateway said it is going away (`shutdown`), with why.
    Lost(String),
}

/// Requests awaiting an answer and runs awaiting events, for one connection.
#[derive(Default)]
pub(crate) struct FrameRouter {
    pending: HashMap<RequestId, Pending>,
    runs: HashMap<RunId, RunRoute>,
    /// Protocol violations seen, logged rate-limited.
    oddities: Oddities,
    /// Runs nobody reads any more, to abort on the gateway ([`FrameRouter::take_cleanup`]).
    abandoned: Vec<Orphan>,
    /// Sessions followed by runs in flight ([`super::subscriptions`]).
    subscriptions: Subscriptions,
}

impl FrameRouter {
    /// Remember who waits for `req_id`; false when the request must not be sent (a run id
    /// already in flight: its events could not be told apart).
    pub(crate) fn register(&mut self, req_id: RequestId, kind: PendingKind) -> bool {
        let pending = match kind {
            PendingKind::Call(tx) => Pending::Call(tx),
            PendingKind::Run {
                run_id,
                events,
                progress,
                accepted,
                orphan,
            } => {
                if self.runs.contains_key(&run_id) {
                    let _ = accepted.send(Err(GatewayError::DuplicateRun(run_id)));
                    return false;
                }
                // Registered before the request goes out, so no event can miss its run.
                self.runs
                    .insert(run_id.clone(), RunRoute { events, progress });
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

    /// Our own `agents.list` after connecting: its answer fills the agent cache.
    pub(crate) fn expect_agents_list(&mut self, req_id: RequestId) {
        self.pending.insert(req_id, Pending::AgentsRefresh);
    }

    /// Runs nobody reads any more (left by a lost connection, or by shutdown): their abort
    /// frames come out of the next [`FrameRouter::take_cleanup`].
    pub(crate) fn abandon(&mut self, orphans: Vec<Orphan>) {
        self.abandoned.extend(orphans);
    }

    /// One more run in session `key`: the `subscribe` frame to send first (registered with
    /// `reply` as its waiter) when the socket follows sessions on `protocol`; else `reply`
    /// is answered at once and there is nothing to send.
    pub(crate) fn follow(&mut self, key: &str, protocol: u32, reply: Reply) -> Option<String> {
        match self.subscriptions.acquire(key, protocol) {
            Some((req_id, frame)) => {
                self.register(req_id, PendingKind::Call(reply));
                Some(frame)
            }
            None => {
                let _ = reply.send(Ok(None));
                None
            }
        }
    }

    /// One run fewer in session `key`: the `unsubscribe` frame to send after the last.
    pub(crate) fn unfollow(&mut self, key: &str) -> Option<String> {
        let (req_id, frame) = self.subscriptions.release(key)?;
        // Nobody waits for the answer.
        self.register(req_id, PendingKind::Call(oneshot::channel().0));
        Some(frame)
    }

    /// Route one text frame from the gateway: answers to their waiters, a run's events to
    /// its channel; `pool` takes our own `agents.list` answer.
    pub(crate) fn route(&mut self, text: &str, pool: &PoolState) -> FrameEffect {
        let frame = match InFrame::parse(text) {
            Ok(f) => f,
            Err(e) => {
                self.oddities.note(Oddity::Unparsable, &e);
                return FrameEffect::Nothing;
            }
        };
        match frame {
            InFrame::Res(res) => {
                self.on_res(res, pool);
                FrameEffect::Nothing
            }
            InFrame::Event(ev) => match ev.event.as_str() {
                "agent" => {
                    if let Some(payload) = ev.payload.as_deref() {
                        self.on_agent_event(payload);
                    }
                    FrameEffect::Nothing
                }
                "tick" => FrameEffect::Tick,
                "shutdown" => {
                    let reason = ev
                        .payload_as::<Shutdown>()
                        .and_then(|s| s.reason)
                        .unwrap_or_else(|| "shutdown".into());
                    FrameEffect::Lost(format!("gateway shutting down: {reason}"))
                }
                _ => FrameEffect::Nothing,
            },
            InFrame::Unknown => {
                self.oddities.note(
                    Oddity::UnknownType,
                    &text.chars().take(80).collect::<String>(),
                );
                FrameEffect::Nothing
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
        let assistant = ev.stream == "assistant";
        if !assistant && !progress::is_progress_stream(&ev.stream) {
            return;
        }
        let Some(route) = self.runs.get(ev.run_id.as_ref()) else {
            return; // somebody else's run
        };
        let Some(data) = ev.data else {
            return;
        };
        if !assistant {
            let ts = ev.ts.and_then(|t| t.get().parse::<u64>().ok());
            if let Some(step) = progress::parse(&ev.stream, data, ts, route.progress) {
                // Progress is best effort: a reader that is behind loses a line, not its run.
                match route.events.try_send(RunEvent::Progress(step)) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => self.abandon_run(&ev.run_id),
                }
            }
            return;
        }
        let Some(data) = serde_json::from_str::<AssistantData>(data.get()).ok() else {
            return;
        };
        let Some(delta) = data.delta.filter(|d| !d.is_empty()) else {
            return;
        };
        match route.events.try_send(RunEvent::Delta(delta)) {
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
    pub(crate) fn abandon_run(&mut self, run_id: &str) {
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
    pub(crate) fn take_cleanup(&mut self, protocol: u32) -> Vec<String> {
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

    fn on_res(&mut self, res: ResFrame, pool: &PoolState) {
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
                let Some(RunRoute { events, .. }) = self.runs.remove(&run_id) else {
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
                        let replayed = accepted.is_some();
                        if let Some(tx) = accepted {
                            let _ = tx.send(Ok(()));
                        }
                        let event = if ok {
                            RunEvent::Finished(RunOutcome {
                                replayed,
                                ..payload.into_outcome()
                            })
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
                    pool.store_agents(res.payload.as_deref())
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
    pub(crate) fn fail_all(&mut self, err: GatewayError) -> Vec<Orphan> {
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
        for (_, route) in self.runs.drain() {
            deliver_terminal(route.events, RunEvent::Failed(err.clone()));
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
        let params = sessions_delete(&orphan.session_key);
        let frame = ReqFrame::new(req_id.as_str(), "sessions.delete", &params).to_json();
        frames.push((req_id, frame));
    }
    frames
}

#[cfg(test)]
mod tests;
