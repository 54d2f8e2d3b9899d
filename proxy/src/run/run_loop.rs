//! The one loop that serves a gateway [`Run`] to an HTTP client, whatever the body format.
//!
//! [`start_run`] waits for the gateway to accept the run while watching the client;
//! [`serve_run`] then waits on three things at once: the client leaving, the run's next
//! event, and the keep-alive tick. A [`RunOutput`] turns events into bytes (the two of
//! `run_output`: one JSON object at the end, or SSE as they come). Leaving the loop early drops the run, which aborts it on the gateway
//! (see `clawshim_core::gateway::run`), so no path here has to remember to.

use std::sync::Arc;
use std::time::Duration;

use clawshim_core::gateway::{GatewayClient, Run, RunEvent, RunRequest};
use pingora::proxy::Session;
use tokio::time::Instant;
use tracing::debug;

use crate::ops::metrics;
use crate::ops::traces::spans::RunStart;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::run::admission::{self, Admission, Overload, Refusal, SessionStore};
use crate::run::run_setup::PendingRun;

/// Whether the loop keeps serving the run after an output's step (the header, an event, a
/// keep-alive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// Wait for the next event.
    Continue,
    /// The response is complete, or the client cannot take more: stop.
    Stop,
}

/// How a run's events become the response. Errors returned before the output wrote a
/// header are written by the caller as an error response.
#[allow(
    async_fn_in_trait,
    reason = "implemented in this crate only; `Send` is checked where the concrete output is served"
)]
pub trait RunOutput {
    /// Called once before the first event (e.g. a JSON output's nothing; a stream waits for
    /// its first event or keep-alive to send its header).
    async fn open(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError>;

    /// Handle one event of the run.
    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError>;

    /// How often to send a keep-alive while no event comes; `None` for none.
    fn keepalive_every(&self) -> Option<Duration>;

    /// When the first keep-alive is due, if sooner than [`RunOutput::keepalive_every`] (a
    /// stream holding its status line sends it then).
    fn first_keepalive_after(&self) -> Option<Duration> {
        self.keepalive_every()
    }

    /// Whether an event sends the client bytes (and so postpones the next keep-alive); an
    /// output that answers only at the end needs its keep-alives while deltas arrive.
    fn events_reach_the_client(&self) -> bool {
        true
    }

    /// Send one keep-alive.
    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError>;
}

/// Start `pending` on the gateway while watching the client, and record its run id.
/// `Ok(None)` when the client left before the gateway accepted the run (dropping the start
/// aborts it). The request is freed when this returns.
///
/// The run first waits for a slot in `admission` (kept in `ctx` until the run is over, and
/// on clawdbot until its per-request session is deleted); an overload refusal that ran
/// nothing is retried with a fresh run id after a jittered delay, a bounded number of times
/// (see `admission`).
pub async fn start_run(
    session: &mut Session,
    ctx: &mut RequestCtx,
    gateway: &GatewayClient,
    admission: &Admission,
    pending: PendingRun,
) -> Result<Option<Run>, HttpError> {
    // The request (and its bytes) is dropped when this returns: once accepted, the gateway
    // has it; before, nothing will send it.
    let req = &pending.request;
    trace_run(ctx, gateway, req);
    let mut attempt = 0;
    loop {
        let waiting = ctx.trace.admission_wait();
        let mut permit = tokio::select! {
            permit = admission.acquire() => permit.map_err(|refusal| overloaded(admission, refusal))?,
            _ = client_gone(session) => {
                ctx.client_gone = true;
                return Ok(None);
            }
        };
        drop(waiting);
        // A refusal before `accepted` stored no idempotency entry on the gateway, so a
        // client's key may be tried again under the same id; otherwise a fresh one.
        let run_id = req.idempotent_id.clone().unwrap_or_default();
        ctx.run_id = Some(run_id.clone());
        let sent = Instant::now();
        let started = tokio::select! {
            run = gateway.start_run_with_id(req, run_id) => run,
            _ = client_gone(session) => {
                ctx.client_gone = true;
                return Ok(None);
            }
        };
        let store = SessionStore::of(gateway);
        match started {
            Ok(mut run) => {
                ctx.trace.accepted(run.id().as_str(), attempt);
                permit.accepted(store, sent.elapsed());
                let permit = Arc::new(permit);
                if store == SessionStore::FileLocked {
                    // clawdbot's `sessions.delete` of the per-request session takes the store
                    // lock too: the slot stays taken until it is answered.
                    run.hold_until_cleaned_up(permit.clone());
                }
                ctx.admission = Some(permit);
                return Ok(Some(run));
            }
            Err(e) => {
                let signal = admission::overload_of(&e, store);
                if let Some(signal) = signal {
                    permit.overloaded(signal);
                }
                if !signal.is_some_and(Overload::ran_nothing) {
                    return Err(e.into());
                }
                drop(permit);
                if attempt >= admission.settings().max_retries {
                    return Err(e.into());
                }
                let delay = admission.retry_delay(attempt);
                attempt += 1;
                metrics::get().run_retries.inc();
                debug!(attempt, delay_ms = delay.as_millis() as u64, error = %e, "gateway refused the run before starting it; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = client_gone(session) => {
                        ctx.client_gone = true;
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// Open the request's `invoke_agent` span for `req` (both run sources call this first). The
/// agent's display name comes from the cached agent list (no gateway call), only for a span.
pub(crate) fn trace_run(ctx: &mut RequestCtx, gateway: &GatewayClient, req: &RunRequest) {
    let agents = ctx
        .trace
        .is_recording()
        .then(|| gateway.cached_agents())
        .flatten();
    ctx.trace.start_run(RunStart {
        agent_id: &req.agent_id,
        agent_name: agents.as_ref().and_then(|a| a.name_of(&req.agent_id)),
        session_key: req.session_key.as_str(),
        model: req.model.as_ref().map(|m| m.model.as_str()),
    });
}

/// The answer when queueing cannot help: retry after about one queue wait's share.
pub(crate) fn overloaded(admission: &Admission, refusal: Refusal) -> HttpError {
    let retry_after_secs = match refusal {
        Refusal::QueueFull => 1,
        Refusal::QueueTimeout => (admission.settings().max_queue_wait.as_secs() / 4).max(1),
    };
    HttpError::Overloaded {
        refusal,
        retry_after_secs,
    }
}

/// Serve `run` through `output` until the output stops, the client leaves, or `deadline`
/// passes (then the run reports [`RunEvent::TimedOut`]).
pub async fn serve_run(
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut run: Run,
    deadline: Instant,
    output: &mut impl RunOutput,
) -> Result<(), HttpError> {
    if output.open(session, ctx).await? == Serving::Stop {
        return Ok(());
    }
    let every = output.keepalive_every();
    // Without keep-alives the tick never fires before the deadline ends the run.
    let mut next_tick = output
        .first_keepalive_after()
        .map_or(deadline, |d| Instant::now() + d);
    loop {
        let flow = tokio::select! {
            event = run.next(deadline) => {
                // A replay from the gateway's cache made no model call: counted once, with
                // the first answer.
                if let RunEvent::Finished(outcome) = &event {
                    ctx.usage = outcome.usage.filter(|_| !outcome.replayed);
                }
                ctx.trace.run_event(&event);
                if let (RunEvent::Failed(e), Some(permit)) = (&event, &ctx.admission) {
                    permit.failed(e);
                }
                let flow = output.event(session, ctx, event).await?;
                if let Some(every) = every.filter(|_| output.events_reach_the_client()) {
                    next_tick = Instant::now() + every;
                }
                flow
            }
            _ = client_gone(session) => {
                ctx.client_gone = true;
                Serving::Stop
            }
            _ = tokio::time::sleep_until(next_tick), if every.is_some() => {
                next_tick = Instant::now() + every.unwrap_or_default();
                output.keepalive(session, ctx).await?
            }
        };
        if flow == Serving::Stop {
            // The slot is free once we stop serving (the run is dropped with this frame).
            ctx.admission = None;
            return Ok(());
        }
    }
}

/// Resolves when the downstream client has gone away (FIN, reset, or stray bytes after the
/// body). Never resolves while the client is still there.
pub async fn client_gone(session: &mut Session) {
    let downstream = session.as_downstream_mut();
    downstream.set_abort_on_close(true);
    loop {
        match downstream.read_body_or_idle(true).await {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return,
        }
    }
}
