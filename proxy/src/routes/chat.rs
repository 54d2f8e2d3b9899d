//! `POST /v1/chat/completions`: read the body, resolve agent + session, start a run on the
//! gateway, answer as one JSON object or as SSE chunks.
//!
//! The run itself is served by [`crate::run::run_loop`]; this module adds what is specific to chat
//! completions: the request, and the two outputs (one JSON object, or SSE chunks).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use clawshim_core::client_tools::transcript;
use clawshim_core::gateway::RunEvent;
use clawshim_core::openai;
use clawshim_core::prompt;
use clawshim_core::translate::{ChunkTranslator, CompletionMeta, ResponseCollector, StreamItem};
use pingora::proxy::Session;

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

/// Serve one chat completion. Errors before any response byte are returned for the caller to
/// write; errors after the SSE headers are written into the stream here.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
) -> Result<(), HttpError> {
    let body = body::read(session, &app.bodies, app.config.max_body_bytes).await?;
    let req = openai::request::parse(&body.bytes)?;
    drop(body);
    run_setup::log_ignored(ctx, &req.ignored_fields());
    let route = app.tool_runs.route(
        principal.client_tools(app.config.client_tools),
        &app.gateway,
    );
    let tools = client_tools::decide(
        Format::Chat,
        req.tools.as_deref(),
        req.tool_choice.as_deref(),
        route,
    )?;
    ctx.tools_header = tools.header.clone();
    // With its tools run, the caller's transcript of earlier calls is written the way
    // openclaw's endpoint writes it (`client_tools::transcript`).
    let input = match &tools.plan {
        Some(plan) => {
            prompt::build_chat_input(&transcript::for_gateway(&req.messages, &plan.names))?
        }
        None => prompt::build_chat_input(&req.messages)?,
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
            continue_session: None,
            may_delete_session: true,
        },
    )
    .await?;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_string()),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let (stream, include_usage) = (req.is_stream(), req.include_usage());
    let PreparedRun {
        mut pending,
        deadline,
        slots: _slots,
    } = prepared;
    let started = match &tools.plan {
        Some(plan) => {
            let socket_prompt = || prompt::build_chat_input(&req.messages).map(|i| i.prompt);
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
    // The parsed messages are in the run's request now; the request goes once accepted.
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
    if stream {
        let mut output = SseOutput::new(meta, include_usage, app.config.keepalive);
        serve_run(session, ctx, run, deadline, &mut output).await
    } else {
        let mut output = JsonOutput::new(meta, app.config.json_keepalive);
        serve_run(session, ctx, run, deadline, &mut output).await
    }
}

/// The whole answer as one `chat.completion` object once the run has ended.
///
/// With `keepalive`, a run still going after that long gets its `200` headers and then a
/// space every interval until the JSON body, so no idle timeout in between (a proxy, a load
/// balancer, the client) cuts a request that is only slow; JSON parsers skip leading
/// whitespace (checked with the OpenAI Python and Node SDKs and aiohttp: RELIABILITY.md). An
/// error after that point can no longer change the status: it is the body, an OpenAI error
/// object under `200`.
struct JsonOutput {
    collector: ResponseCollector,
    keepalive: Option<Duration>,
    /// The headers went out with the first keep-alive.
    opened: bool,
}

impl JsonOutput {
    fn new(meta: CompletionMeta, keepalive: Option<Duration>) -> Self {
        JsonOutput {
            collector: ResponseCollector::new(meta),
            keepalive,
            opened: false,
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
        if self.opened {
            let body = match result {
                Ok(response) => Bytes::from(
                    serde_json::to_vec(&response)
                        .map_err(|e| HttpError::Internal(e.to_string()))?,
                ),
                Err(e) => {
                    let err = HttpError::Gateway(e);
                    crate::request::errors::record(ctx, &err);
                    err.body()
                }
            };
            if respond::body(session, ctx, body).await.is_ok() {
                respond::end(session, ctx)
                    .await
                    .map_err(HttpError::client_write)?;
            }
            return Ok(Serving::Stop);
        }
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
        self.keepalive
    }

    fn events_reach_the_client(&self) -> bool {
        false
    }

    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        if !self.opened {
            let mut head = Head::new(200, "application/json");
            if !session.as_downstream().is_http2() {
                head = head.with("transfer-encoding", "chunked");
            }
            respond::head(session, ctx, head)
                .await
                .map_err(HttpError::client_write)?;
            self.opened = true;
        }
        let written = respond::body(session, ctx, Bytes::from_static(b" ")).await;
        Ok(write_or_stop(written))
    }
}

/// Server-sent events: the role chunk at once, then one flushed write per event, errors as
/// error events after the header, keep-alive comments while the agent is quiet.
struct SseOutput {
    translator: ChunkTranslator,
    keepalive: Duration,
    _active: crate::ops::metrics::ActiveStream,
}

impl SseOutput {
    fn new(meta: CompletionMeta, include_usage: bool, keepalive: Duration) -> Self {
        SseOutput {
            _active: crate::ops::metrics::ActiveStream::enter(),
            translator: ChunkTranslator::new(meta, include_usage),
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
        let first = openai::sse::data(&self.translator.role_chunk());
        Ok(write_or_stop(respond::body(session, ctx, first).await))
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        let mut out = BytesMut::new();
        let mut done = false;
        for item in self.translator.on_event(event) {
            match item {
                StreamItem::Chunk(chunk) => out.extend_from_slice(&openai::sse::data(&chunk)),
                StreamItem::Error(err) => {
                    let err = HttpError::Gateway(err);
                    crate::request::errors::record(ctx, &err);
                    out.extend_from_slice(&openai::sse::data(&err.api_error().into_body()));
                }
                StreamItem::Done => {
                    out.extend_from_slice(&openai::sse::DONE);
                    done = true;
                }
            }
        }
        send_events(session, ctx, out.freeze(), done).await
    }

    fn keepalive_every(&self) -> Option<Duration> {
        Some(self.keepalive)
    }

    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        let written = respond::body(session, ctx, openai::sse::KEEP_ALIVE).await;
        Ok(write_or_stop(written))
    }
}
