//! What the two run routes (`chat`, `responses`) share: the decision on the caller's tools,
//! and the tail: start the prepared run (through the gateway's endpoint when it runs the
//! caller's tools, else over the WebSocket), free the parsed request once the run's request
//! has what it needs, and serve the run in the route's format until it ends.

use clawshim_core::client_tools::ClientTools;
use clawshim_core::prompt::{AgentPrompt, InputError};
use clawshim_core::run_format::RunFormat;
use pingora::proxy::Session;
use serde::Serialize;

use crate::front_door::keys::Principal;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::run::client_tools::{self, Decision, Format};
use crate::run::run_output::{serve_in, SseItem};
use crate::run::run_setup::PreparedRun;
use crate::state::ProxyState;

/// What to do with the request's `tools` and `tool_choice` (raw JSON texts) for
/// `principal` on this gateway (`client_tools::decide`); the answer's header is set in `ctx`.
pub fn decide_tools(
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
    format: Format,
    tools: Option<&str>,
    tool_choice: Option<&str>,
) -> Result<Decision, HttpError> {
    let route = app.tool_runs.route(
        principal.client_tools(app.config.client_tools),
        &app.gateway,
    );
    let decision = client_tools::decide(format, tools, tool_choice, route)?;
    ctx.tools_header = decision.header.clone();
    Ok(decision)
}

/// What a run route asks of its run.
pub struct RunPlan<'a, P, F> {
    /// The caller's tools, to run through the gateway's endpoint; `None`: an ordinary run.
    pub tools: Option<&'a ClientTools>,
    /// The prompt for the WebSocket should that endpoint be off. It owns the parsed request,
    /// which is dropped with it once the run has started.
    pub socket_prompt: P,
    /// How the run's events become the route's answer.
    pub format: F,
    /// Server-sent events, else one JSON answer.
    pub stream: bool,
}

/// Start `prepared` as `plan` says and serve it; `Ok` without an answer when the client left
/// before the run started. The run's slots are held until it is served.
pub async fn start_and_serve<P, F>(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    prepared: PreparedRun,
    plan: RunPlan<'_, P, F>,
) -> Result<(), HttpError>
where
    P: FnOnce() -> Result<AgentPrompt, InputError>,
    F: RunFormat,
    F::Answer: Serialize,
    F::Item: SseItem,
{
    let PreparedRun {
        mut pending,
        run_time,
        slots: _slots,
        progress: _,
    } = prepared;
    // `socket_prompt` (and the parsed request it owns) is consumed here: the run's request
    // has what it needs, and the gateway gets that once it accepts the run.
    let started = client_tools::start(
        session,
        ctx,
        &app.tool_runs,
        &app.admission,
        &app.gateway,
        &mut pending.request,
        plan.tools,
        plan.socket_prompt,
    )
    .await?;
    let run = started
        .into_run(session, ctx, &app.gateway, &app.admission, pending)
        .await?;
    let Some(run) = run else {
        return Ok(());
    };
    // The gateway's run timer starts now; the queue and the start had their own bounds.
    let deadline = tokio::time::Instant::now() + run_time;
    serve_in(
        session,
        ctx,
        run,
        deadline,
        plan.format,
        plan.stream,
        &app.config,
    )
    .await
}
