//! `POST /v1/chat/completions`: read the body, resolve agent + session, start a run on the
//! gateway, answer as one JSON object or as SSE chunks.
//!
//! While waiting on the run we also watch the downstream connection: a client that goes away
//! ends the wait at once, frees the run and (on v4) aborts it on the gateway.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use clawshim_core::gateway::{GatewayClient, RunEvent, RunHandle, RunRequest};
use clawshim_core::openai::{self, request::ChatCompletionRequest};
use clawshim_core::prompt;
use clawshim_core::routing::{self, AgentSelector};
use clawshim_core::translate::{ChunkTranslator, CompletionMeta, ResponseCollector, StreamItem};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::ctx::RequestCtx;
use crate::errors::HttpError;
use crate::keys::Principal;
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
    let agent_id = resolve_agent(
        &app.gateway,
        routing::select_agent(header, req.model.as_deref()),
        &req,
        &principal,
    )
    .await?;
    let session_key = session_key(header, &agent_id, req.user.as_deref(), &principal)?;
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
    };
    // A fresh per-request session nobody can name again: remove it once the run is over.
    let ephemeral = app.config.delete_ephemeral_sessions
        && req.user.as_deref().is_none_or(|u| u.trim().is_empty())
        && routing::SESSION_HEADERS
            .iter()
            .all(|h| header(h).is_none_or(|v| v.trim().is_empty()));
    let result = run_and_answer(session, ctx, app, &req, &run).await;
    if ephemeral {
        delete_session(app, &run.session_key);
    }
    result
}

/// Start the run and answer from its events.
async fn run_and_answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
    req: &ChatCompletionRequest,
    run: &RunRequest,
) -> Result<(), HttpError> {
    let run_id = uuid::Uuid::new_v4().to_string();
    ctx.run_id = Some(run_id.clone());
    let deadline = Instant::now() + app.config.run_timeout + app.config.run_grace;
    // Watch for the client leaving while the gateway decides whether to accept the run.
    let started = tokio::select! {
        r = app.gateway.start_run_with_id(run, run_id.clone()) => r,
        _ = client_gone(session) => {
            ctx.client_gone = true;
            abort_on_gateway(app, run, &run_id);
            return Ok(());
        }
    };
    let handle = started?;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_string()),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    session.set_write_timeout(Some(app.config.write_timeout));
    if req.is_stream() {
        stream(
            session,
            ctx,
            app,
            run,
            handle,
            meta,
            req.include_usage(),
            deadline,
        )
        .await
    } else {
        respond_json(session, ctx, app, run, handle, meta, deadline).await
    }
}

/// The agent a request runs on. An explicit agent the gateway does not know, or that the
/// caller's key may not use, is a 404 before any run starts (the list is re-read once in
/// case the gateway's config changed). Without an explicit agent: the gateway's default, or
/// the key's first allowed agent when the default is not allowed.
async fn resolve_agent(
    gateway: &GatewayClient,
    selector: AgentSelector,
    req: &ChatCompletionRequest,
    principal: &Principal,
) -> Result<String, HttpError> {
    let not_found = |id: String| HttpError::ModelNotFound {
        model: req.model.clone().unwrap_or(id),
    };
    let dir = gateway.agents().await?;
    match selector {
        AgentSelector::Default if principal.allows(&dir.default_id) => Ok(dir.default_id),
        AgentSelector::Default => dir
            .agents
            .iter()
            .map(|a| a.id.clone())
            .find(|id| principal.allows(id))
            .ok_or_else(|| not_found(dir.default_id.clone())),
        AgentSelector::Explicit(id) if !principal.allows(&id) => Err(not_found(id)),
        AgentSelector::Explicit(id) if dir.contains(&id) => Ok(id),
        AgentSelector::Explicit(id) => {
            if gateway.refresh_agents().await?.contains(&id) {
                Ok(id)
            } else {
                Err(not_found(id))
            }
        }
    }
}

/// The session key. A key with a fixed namespace keeps every session inside
/// `agent:<id>:<namespace>:`; an explicit session header outside it is refused.
fn session_key(
    header: impl Fn(&str) -> Option<String> + Copy,
    agent_id: &str,
    user: Option<&str>,
    principal: &Principal,
) -> Result<String, HttpError> {
    let namespace = match principal {
        Principal::Key(key) => key.session_namespace.as_deref(),
        Principal::Shared => None,
    };
    let Some(ns) = namespace else {
        return Ok(routing::session_key(header, agent_id, user));
    };
    let prefix = format!("agent:{agent_id}:{ns}:");
    let explicit = routing::SESSION_HEADERS.iter().find_map(|name| {
        header(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    });
    match (explicit, user.map(str::trim).filter(|u| !u.is_empty())) {
        (Some(key), _) if key.starts_with(&prefix) => Ok(key),
        (Some(_), _) => Err(HttpError::Forbidden {
            message: format!("This API key may only use sessions under `{prefix}`."),
        }),
        (None, Some(user)) => Ok(format!("{prefix}user:{}", user.to_lowercase())),
        (None, None) => Ok(format!("{prefix}{}", uuid::Uuid::new_v4())),
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

/// Resolves when the downstream client has gone away (FIN, reset, or stray bytes after the
/// body). Never resolves while the client is still there.
async fn client_gone(session: &mut Session) {
    let downstream = session.as_downstream_mut();
    downstream.set_abort_on_close(true);
    loop {
        match downstream.read_body_or_idle(true).await {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return,
        }
    }
}

/// Delete a finished per-request session in the background (see
/// `GatewayClient::delete_session`).
fn delete_session(app: &App, key: &str) {
    let gateway = app.gateway.clone();
    let key = key.to_string();
    tokio::spawn(async move {
        if let Err(e) = gateway.delete_session(&key).await {
            debug!(session = %key, error = %e, "could not delete the per-request session");
        }
    });
}

/// Abort the run on the gateway without holding up the response path.
fn abort_on_gateway(app: &App, run: &RunRequest, run_id: &str) {
    let gateway = app.gateway.clone();
    let (run_id, session_key, agent_id) = (
        run_id.to_string(),
        run.session_key.clone(),
        run.agent_id.clone(),
    );
    tokio::spawn(async move {
        match gateway.abort_run(&run_id, &session_key, &agent_id).await {
            Ok(true) => debug!(run_id = %run_id, "run aborted on the gateway"),
            Ok(false) => {
                debug!(run_id = %run_id, "gateway cannot abort runs (protocol 3); run left to finish")
            }
            Err(e) => warn!(run_id = %run_id, error = %e, "abort failed"),
        }
    });
}

async fn respond_json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
    run: &RunRequest,
    mut handle: RunHandle,
    meta: CompletionMeta,
    deadline: Instant,
) -> Result<(), HttpError> {
    let mut collector = ResponseCollector::new(meta);
    let result = loop {
        let event = tokio::select! {
            ev = handle.events.recv() => ev,
            _ = client_gone(session) => {
                ctx.client_gone = true;
                abort_on_gateway(app, run, &handle.run_id);
                return Ok(());
            }
            _ = tokio::time::sleep_until(deadline) => {
                abort_on_gateway(app, run, &handle.run_id);
                Some(RunEvent::Failed(clawshim_core::gateway::GatewayError::RunTimedOut))
            }
        };
        let event = event.unwrap_or(RunEvent::Failed(
            clawshim_core::gateway::GatewayError::Lagged,
        ));
        if let Some(done) = collector.push(event) {
            break done;
        }
    };
    let response = result?;
    let body =
        Bytes::from(serde_json::to_vec(&response).map_err(|e| HttpError::Internal(e.to_string()))?);
    let mut resp = base_header(ctx, 200, "application/json")?;
    resp.insert_header("content-length", body.len().to_string())
        .map_err(internal)?;
    ctx.status = 200;
    ctx.first_byte = Some(std::time::Instant::now());
    ctx.bytes_out += body.len();
    session
        .write_response_header(Box::new(resp), false)
        .await
        .map_err(|e| client_write_failed(ctx, e))?;
    session
        .write_response_body(Some(body), true)
        .await
        .map_err(|e| client_write_failed(ctx, e))?;
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
    run: &RunRequest,
    mut handle: RunHandle,
    meta: CompletionMeta,
    include_usage: bool,
    deadline: Instant,
) -> Result<(), HttpError> {
    let _active = crate::metrics::ActiveStream::enter();
    let mut translator = ChunkTranslator::new(meta, include_usage);
    let mut resp = base_header(ctx, 200, "text/event-stream")?;
    resp.insert_header("cache-control", "no-cache")
        .map_err(internal)?;
    resp.insert_header("x-accel-buffering", "no")
        .map_err(internal)?;
    if !session.as_downstream().is_http2() {
        // Without a length pingora frames HTTP/1.1 bodies by closing the connection; chunked
        // keeps the connection reusable and flushes every event.
        resp.insert_header("transfer-encoding", "chunked")
            .map_err(internal)?;
    }
    ctx.status = 200;
    if let Err(e) = session.write_response_header(Box::new(resp), false).await {
        return Err(client_write_failed(ctx, e));
    }
    let first = openai::sse::data(&translator.role_chunk());
    if write_chunk(session, ctx, first).await.is_err() {
        abort_on_gateway(app, run, &handle.run_id);
        return Ok(());
    }

    let keepalive = app.config.keepalive;
    let mut next_keepalive = Instant::now() + keepalive;
    loop {
        let event = tokio::select! {
            ev = handle.events.recv() => ev.unwrap_or(RunEvent::Failed(clawshim_core::gateway::GatewayError::Lagged)),
            _ = client_gone(session) => {
                ctx.client_gone = true;
                abort_on_gateway(app, run, &handle.run_id);
                return Ok(());
            }
            _ = tokio::time::sleep_until(next_keepalive) => {
                if write_chunk(session, ctx, openai::sse::KEEP_ALIVE).await.is_err() {
                    abort_on_gateway(app, run, &handle.run_id);
                    return Ok(());
                }
                next_keepalive = Instant::now() + keepalive;
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => {
                abort_on_gateway(app, run, &handle.run_id);
                RunEvent::Failed(clawshim_core::gateway::GatewayError::RunTimedOut)
            }
        };
        let mut out = BytesMut::new();
        let mut done = false;
        for item in translator.on_event(event) {
            match item {
                StreamItem::Chunk(chunk) => out.extend_from_slice(&openai::sse::data(&chunk)),
                StreamItem::Error(err) => {
                    let err = HttpError::Gateway(err);
                    ctx.error_kind = Some(err.kind());
                    out.extend_from_slice(&openai::sse::data(&err.api_error().into_body()));
                }
                StreamItem::Done => {
                    out.extend_from_slice(&openai::sse::DONE);
                    done = true;
                }
            }
        }
        if !out.is_empty() && write_chunk(session, ctx, out.freeze()).await.is_err() {
            abort_on_gateway(app, run, &handle.run_id);
            return Ok(());
        }
        next_keepalive = Instant::now() + keepalive;
        if done {
            if let Err(e) = session.write_response_body(None, true).await {
                return Err(client_write_failed(ctx, e));
            }
            return Ok(());
        }
    }
}

/// One flushed body write; a failure means the client is gone or too slow.
async fn write_chunk(session: &mut Session, ctx: &mut RequestCtx, data: Bytes) -> Result<(), ()> {
    ctx.bytes_out += data.len();
    ctx.first_byte.get_or_insert_with(std::time::Instant::now);
    match session.write_response_body(Some(data), false).await {
        Ok(()) => Ok(()),
        Err(e) => {
            debug!(request_id = %ctx.request_id, error = %e, "client write failed");
            ctx.client_gone = true;
            Err(())
        }
    }
}

fn base_header(
    ctx: &RequestCtx,
    status: u16,
    content_type: &str,
) -> Result<ResponseHeader, HttpError> {
    let mut resp = ResponseHeader::build(status, Some(6)).map_err(internal)?;
    resp.insert_header("content-type", content_type)
        .map_err(internal)?;
    resp.insert_header("x-request-id", ctx.request_id.as_str())
        .map_err(internal)?;
    if let Some(run_id) = &ctx.run_id {
        resp.insert_header("x-clawshim-run-id", run_id.as_str())
            .map_err(internal)?;
    }
    Ok(resp)
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    HttpError::Internal(e.to_string())
}

fn client_write_failed(ctx: &mut RequestCtx, e: impl std::fmt::Display) -> HttpError {
    ctx.client_gone = true;
    HttpError::Internal(format!("client write failed: {e}"))
}
