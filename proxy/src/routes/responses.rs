//! `POST /v1/responses`: the Responses API on the same run loop as chat completions.
//!
//! The request is read by `openai::responses` and `prompt::build_responses_input`, prepared
//! by [`crate::run::run_setup`] like a chat run, and served by [`crate::run::run_loop`] with one of two
//! outputs: [`JsonOutput`] (one `response` object) or [`SseOutput`] (`event:` + `data:` lines
//! as OpenAI sends them, ending with the terminal event and no `[DONE]`). Auth, keys, limits,
//! metrics, abort-on-disconnect and keep-alives are the chat route's.
//!
//! `previous_response_id`: the response id carries the gateway session under a signature
//! bound to the caller (`response_id`), so a continuation needs no store, works on any
//! clawshim in front of the same gateway, and only for the key that made the response.
//! Sessions a response may be continued from are never deleted after the run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use clawshim_core::client_tools::transcript;
use clawshim_core::gateway::{GatewayError, RunEvent};
use clawshim_core::openai::responses::{self as wire, ResponsesRequest};
use clawshim_core::openai::sse;
use clawshim_core::prompt;
use clawshim_core::responses_translate::{ResponseMeta, ResponsesCollector, ResponsesTranslator};
use clawshim_core::routing::SessionKey;
use pingora::proxy::Session;
use tracing::debug;

use crate::front_door::keys::Principal;
use crate::request::body;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::request::respond::{self, Head};
use crate::run::client_tools::{self, Format, ToolStart};
use crate::run::run_loop::{
    open_sse, send_events, serve_run, start_run, write_or_stop, RunOutput, Serving,
};
use crate::run::run_setup::{self, PreparedRun, RunAsk};
use crate::state::ProxyState;

/// Serve one Responses request. Errors before any response byte are returned for the caller
/// to write; errors after the SSE header become the stream's `response.failed`.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
) -> Result<(), HttpError> {
    let body = body::read(session, &app.bodies, app.config.max_body_bytes).await?;
    let req = wire::parse(&body.bytes)?;
    drop(body);
    run_setup::log_ignored(ctx, &req.ignored_fields());
    let caller = caller_name(principal);
    let continue_session = match &req.previous_response_id {
        None => None,
        Some(id) => {
            let key = app.response_ids.verify(id, &caller).map_err(|e| {
                debug!(request_id = %ctx.request_id, error = %e, "previous_response_id refused");
                HttpError::PreviousResponseNotFound { id: id.clone() }
            })?;
            Some(SessionKey::named(key))
        }
    };
    let route = app.tool_runs.route(
        principal.client_tools(app.config.client_tools),
        &app.gateway,
    );
    let tools = client_tools::decide(
        Format::Responses,
        req.tools.as_deref(),
        req.tool_choice.as_deref(),
        route,
    )?;
    ctx.tools_header = tools.header.clone();
    // With its tools run, calls in the transcript take the gateway's names
    // (`client_tools::transcript`).
    let input = match &tools.plan {
        Some(plan) => {
            prompt::build_responses_input(&transcript::responses_for_gateway(&req, &plan.names))?
        }
        None => prompt::build_responses_input(&req)?,
    };
    let prepared = run_setup::prepare(
        session,
        ctx,
        app,
        principal,
        RunAsk {
            model: req.model.as_deref(),
            user: req.user.as_deref(),
            input,
            thinking: req.reasoning_effort,
            continue_session,
            may_delete_session: false,
        },
    )
    .await?;
    let PreparedRun {
        mut pending,
        deadline,
        slots: _slots,
    } = prepared;
    let meta = response_meta(
        &req,
        app.response_ids
            .issue(pending.request.session_key.as_str(), &caller),
    );
    let stream = req.stream;
    let started = match &tools.plan {
        Some(plan) => {
            let socket_prompt = || prompt::build_responses_input(&req).map(|i| i.prompt);
            client_tools::start(
                session,
                ctx,
                &app.tool_runs,
                &app.admission,
                &app.gateway,
                &mut pending.request,
                plan,
                socket_prompt,
            )
            .await?
        }
        None => ToolStart::UseSocket,
    };
    // The parsed input is in the run's request now; the request goes once accepted.
    drop(req);
    let run = match started {
        ToolStart::Run(run) => {
            drop(pending);
            Some(*run)
        }
        ToolStart::ClientGone => None,
        ToolStart::UseSocket => {
            start_run(session, ctx, &app.gateway, &app.admission, pending).await?
        }
    };
    let Some(run) = run else {
        return Ok(());
    };
    session.set_write_timeout(Some(app.config.write_timeout));
    if stream {
        let mut output = SseOutput::new(meta, app.config.keepalive);
        serve_run(session, ctx, run, deadline, &mut output).await
    } else {
        let mut output = JsonOutput::new(meta);
        serve_run(session, ctx, run, deadline, &mut output).await
    }
}

/// The name a response id is bound to: the API key's, or one name for every shared token
/// (they are equivalent credentials). Key names cannot contain `:`, so the two never meet.
fn caller_name(principal: &Principal) -> String {
    match principal.name() {
        Some(key) => format!("key:{key}"),
        None => "shared".to_owned(),
    }
}

fn response_meta(req: &ResponsesRequest, id: String) -> ResponseMeta {
    ResponseMeta {
        id,
        item_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_owned()),
        created_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        instructions: req.instructions.clone(),
        previous_response_id: req.previous_response_id.clone(),
        metadata: req.metadata.clone(),
        user: req.user.clone(),
        reasoning_effort: req.reasoning_effort,
        store: req.store.unwrap_or(true),
    }
}

/// The run's failure as the error recorded for the access line and metrics.
fn failure(event: &RunEvent) -> Option<HttpError> {
    match event {
        RunEvent::Failed(e) => Some(HttpError::Gateway(e.clone())),
        RunEvent::Lagged => Some(HttpError::Gateway(GatewayError::Lagged)),
        RunEvent::TimedOut => Some(HttpError::Gateway(GatewayError::RunTimedOut)),
        RunEvent::Delta(_) | RunEvent::Finished(_) => None,
    }
}

/// The whole answer as one `response` object once the run has ended.
struct JsonOutput {
    collector: ResponsesCollector,
}

impl JsonOutput {
    fn new(meta: ResponseMeta) -> Self {
        JsonOutput {
            collector: ResponsesCollector::new(meta),
        }
    }
}

impl RunOutput for JsonOutput {
    async fn open(&mut self, _: &mut Session, _: &mut RequestCtx) -> Result<Serving, HttpError> {
        Ok(Serving::Continue)
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        let Some(result) = self.collector.push(event) else {
            return Ok(Serving::Continue);
        };
        let response = result?;
        let body = Bytes::from(
            serde_json::to_vec(&response).map_err(|e| HttpError::Internal(e.to_string()))?,
        );
        respond::complete(session, ctx, Head::new(200, "application/json"), body)
            .await
            .map_err(HttpError::client_write)?;
        Ok(Serving::Stop)
    }

    fn keepalive_every(&self) -> Option<Duration> {
        None
    }

    async fn keepalive(
        &mut self,
        _: &mut Session,
        _: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        Ok(Serving::Continue)
    }
}

/// Server-sent events: the opening events at once, then one flushed write per run event,
/// keep-alive comments while the agent is quiet, and the terminal event last.
struct SseOutput {
    translator: ResponsesTranslator,
    keepalive: Duration,
    _active: crate::ops::metrics::ActiveStream,
}

impl SseOutput {
    fn new(meta: ResponseMeta, keepalive: Duration) -> Self {
        SseOutput {
            _active: crate::ops::metrics::ActiveStream::enter(),
            translator: ResponsesTranslator::new(meta),
            keepalive,
        }
    }
}

impl RunOutput for SseOutput {
    async fn open(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        open_sse(session, ctx).await?;
        let mut out = BytesMut::new();
        for event in self.translator.start() {
            out.extend_from_slice(&event.to_sse());
        }
        Ok(write_or_stop(
            respond::body(session, ctx, out.freeze()).await,
        ))
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        if let Some(err) = failure(&event) {
            crate::request::errors::record(ctx, &err);
        }
        let mut out = BytesMut::new();
        for event in self.translator.on_event(event) {
            out.extend_from_slice(&event.to_sse());
        }
        send_events(session, ctx, out.freeze(), self.translator.is_done()).await
    }

    fn keepalive_every(&self) -> Option<Duration> {
        Some(self.keepalive)
    }

    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        let written = respond::body(session, ctx, sse::KEEP_ALIVE).await;
        Ok(write_or_stop(written))
    }
}
