//! `POST /v1/chat/completions`: read the body, resolve agent + session, start a run on the
//! gateway, answer as one JSON object or as SSE chunks.
//!
//! The run itself is served by [`crate::run_loop`]; this module adds what is specific to chat
//! completions: the request, and the two outputs (one JSON object, or SSE chunks).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use clawshim_core::gateway::{RunEvent, RunRequest};
use clawshim_core::openai;
use clawshim_core::prompt;
use clawshim_core::routing;
use clawshim_core::translate::{ChunkTranslator, CompletionMeta, ResponseCollector, StreamItem};
use pingora::proxy::Session;
use tokio::time::Instant;
use tracing::debug;

use crate::ctx::RequestCtx;
use crate::errors::HttpError;
use crate::keys::Principal;
use crate::respond::{self, Head};
use crate::run_loop::{serve_run, start_run, Flow, RunOutput};
use crate::service::App;

/// Serve one chat completion. Errors before any response byte are returned for the caller to
/// write; errors after the SSE headers are written into the stream here.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
) -> Result<(), HttpError> {
    let body = read_body(session, app.config.max_body_bytes).await?;
    let req = openai::request::parse(&body)?;
    let ignored = req.ignored_fields();
    if !ignored.is_empty() {
        debug!(request_id = %ctx.request_id, ?ignored, "ignoring fields the gateway cannot honour");
    }
    let prompt = prompt::build(&req.messages)?;
    let header = |name: &str| header_str(session, name);
    let principal = ctx.principal.clone().unwrap_or(Principal::Shared);
    let selector = routing::select_agent(header, req.model.as_deref());
    let agent_id = app
        .gateway
        .resolve_agent(&selector, |id| principal.allows(id))
        .await?
        .map_err(|e| HttpError::ModelNotFound {
            model: req.model.clone().unwrap_or(e.id),
        })?;
    let namespace = match &principal {
        Principal::Key(key) => key.session_namespace.as_deref(),
        Principal::Shared => None,
    };
    let session_key = routing::session_key(header, &agent_id, req.user.as_deref(), namespace)
        .map_err(|e| HttpError::Forbidden {
            message: format!("This API key may only use sessions under `{}`.", e.prefix),
        })?;
    ctx.agent_id = Some(agent_id.clone());

    let _permit = app
        .runs
        .clone()
        .try_acquire_owned()
        .map_err(|_| HttpError::TooManyRequests {
            retry_after_secs: 1,
        })?;
    let _key_permit = match &principal {
        Principal::Key(key) => key.acquire_run().map_err(|_| HttpError::TooManyRequests {
            retry_after_secs: 1,
        })?,
        Principal::Shared => None,
    };

    let run = RunRequest {
        agent_id,
        session_key,
        message: prompt.message,
        extra_system_prompt: prompt.extra_system_prompt,
        timeout: Some(app.config.run_timeout),
        delete_ephemeral_session: app.config.delete_ephemeral_sessions.enabled(),
    };
    let deadline = Instant::now() + app.config.run_timeout + app.config.run_grace;
    let Some(run) = start_run(session, ctx, &app.gateway, &app.admission, &run).await? else {
        return Ok(());
    };
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_string()),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    session.set_write_timeout(Some(app.config.write_timeout));
    if req.is_stream() {
        let mut output = SseOutput::new(meta, req.include_usage(), app.config.keepalive);
        serve_run(session, ctx, run, deadline, &mut output).await
    } else {
        let mut output = JsonOutput::new(meta);
        serve_run(session, ctx, run, deadline, &mut output).await
    }
}

async fn read_body(session: &mut Session, limit: u64) -> Result<Bytes, HttpError> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Not reading the body: the connection cannot be reused afterwards.
        session.set_keepalive(None);
        return Err(HttpError::PayloadTooLarge { limit });
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit) as usize);
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if (buf.len() + chunk.len()) as u64 > limit {
                    session.set_keepalive(None);
                    return Err(HttpError::PayloadTooLarge { limit });
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => {
                session.set_keepalive(None);
                return Err(HttpError::BadRequest {
                    message: format!("Could not read the request body: {e}"),
                    param: None,
                });
            }
        }
    }
}

fn header_str(session: &Session, name: &str) -> Option<String> {
    session
        .req_header()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The whole answer as one `chat.completion` object once the run has ended.
struct JsonOutput {
    collector: ResponseCollector,
}

impl JsonOutput {
    fn new(meta: CompletionMeta) -> Self {
        JsonOutput {
            collector: ResponseCollector::new(meta),
        }
    }
}

impl RunOutput for JsonOutput {
    async fn open(&mut self, _: &mut Session, _: &mut RequestCtx) -> Result<Flow, HttpError> {
        Ok(Flow::Continue)
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Flow, HttpError> {
        let Some(result) = self.collector.push(event) else {
            return Ok(Flow::Continue);
        };
        let response = result?;
        let body = Bytes::from(
            serde_json::to_vec(&response).map_err(|e| HttpError::Internal(e.to_string()))?,
        );
        respond::complete(session, ctx, Head::new(200, "application/json"), body)
            .await
            .map_err(HttpError::client_write)?;
        Ok(Flow::Stop)
    }

    fn keepalive_every(&self) -> Option<Duration> {
        None
    }

    async fn keepalive(&mut self, _: &mut Session, _: &mut RequestCtx) -> Result<Flow, HttpError> {
        Ok(Flow::Continue)
    }
}

/// Server-sent events: the role chunk at once, then one flushed write per event, errors as
/// error events after the header, keep-alive comments while the agent is quiet.
struct SseOutput {
    translator: ChunkTranslator,
    keepalive: Duration,
    _active: crate::metrics::ActiveStream,
}

impl SseOutput {
    fn new(meta: CompletionMeta, include_usage: bool, keepalive: Duration) -> Self {
        SseOutput {
            _active: crate::metrics::ActiveStream::enter(),
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
    ) -> Result<Flow, HttpError> {
        let mut head = Head::new(200, "text/event-stream")
            .with("cache-control", "no-cache")
            .with("x-accel-buffering", "no");
        if !session.as_downstream().is_http2() {
            // Without a length pingora frames HTTP/1.1 bodies by closing the connection;
            // chunked keeps the connection reusable and flushes every event.
            head = head.with("transfer-encoding", "chunked");
        }
        respond::head(session, ctx, head)
            .await
            .map_err(HttpError::client_write)?;
        let first = openai::sse::data(&self.translator.role_chunk());
        Ok(write_or_stop(respond::body(session, ctx, first).await))
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Flow, HttpError> {
        let mut out = BytesMut::new();
        let mut done = false;
        for item in self.translator.on_event(event) {
            match item {
                StreamItem::Chunk(chunk) => out.extend_from_slice(&openai::sse::data(&chunk)),
                StreamItem::Error(err) => {
                    let err = HttpError::Gateway(err);
                    crate::errors::record(ctx, &err);
                    out.extend_from_slice(&openai::sse::data(&err.api_error().into_body()));
                }
                StreamItem::Done => {
                    out.extend_from_slice(&openai::sse::DONE);
                    done = true;
                }
            }
        }
        if !out.is_empty() && respond::body(session, ctx, out.freeze()).await.is_err() {
            return Ok(Flow::Stop);
        }
        if !done {
            return Ok(Flow::Continue);
        }
        respond::end(session, ctx)
            .await
            .map_err(HttpError::client_write)?;
        Ok(Flow::Stop)
    }

    fn keepalive_every(&self) -> Option<Duration> {
        Some(self.keepalive)
    }

    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Flow, HttpError> {
        let written = respond::body(session, ctx, openai::sse::KEEP_ALIVE).await;
        Ok(write_or_stop(written))
    }
}

/// A body write that fails means the client is gone (already recorded): stop quietly.
fn write_or_stop(written: pingora::Result<()>) -> Flow {
    match written {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Stop,
    }
}
