//! The one writer of the responses clawshim makes itself (chat, models, health, errors):
//! every header set here carries `x-request-id` (and `x-clawshim-run-id` once a run has an
//! id), and every write records the status, the body bytes and the first-byte time in the
//! request context. A failed write means the client is gone; it is recorded as such. Every
//! response is written under the configured write timeout, so a client that never reads
//! cannot hold a response (and its run) forever.

use bytes::Bytes;
use clawshim_core::gateway::GatewayError;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::Serialize;

use crate::request::ctx::RequestCtx;

/// Response header saying what became of a request's client tools (its values:
/// `crate::run::client_tools`).
pub const TOOLS_HEADER: &str = "x-clawshim-tools";
use crate::request::errors::{self, record, HttpError};

/// The header of one response: status, content type and any further headers.
#[derive(Debug, Clone)]
pub struct Head {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Head {
    /// A header with `status` and `content-type`.
    pub fn new(status: u16, content_type: &'static str) -> Head {
        Head {
            status,
            content_type,
            headers: Vec::new(),
        }
    }

    /// Add a header.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Head {
        self.headers.push((name, value.into()));
        self
    }

    fn build(self, ctx: &RequestCtx) -> pingora::Result<ResponseHeader> {
        let mut resp = ResponseHeader::build(self.status, Some(self.headers.len() + 4))?;
        resp.insert_header("content-type", self.content_type)?;
        for (name, value) in self.headers {
            resp.insert_header(name, value)?;
        }
        resp.insert_header("x-request-id", ctx.request_id.as_str())?;
        if let Some(run_id) = &ctx.run_id {
            resp.insert_header("x-clawshim-run-id", run_id.as_str())?;
        }
        if let Some(tools) = &ctx.tools_header {
            resp.insert_header(TOOLS_HEADER, tools.as_str())?;
        }
        Ok(resp)
    }
}

/// Write the header of a response whose body follows in pieces ([`body`], [`end`]).
pub async fn head(session: &mut Session, ctx: &mut RequestCtx, head: Head) -> pingora::Result<()> {
    ctx.status = head.status;
    let resp = head.build(ctx)?;
    session.set_write_timeout(Some(ctx.write_timeout));
    let written = session.write_response_header(Box::new(resp), false).await;
    gone_on_error(ctx, written)
}

/// Write one body piece; pingora flushes it at once.
pub async fn body(session: &mut Session, ctx: &mut RequestCtx, data: Bytes) -> pingora::Result<()> {
    ctx.bytes_out += data.len();
    ctx.first_byte.get_or_insert_with(std::time::Instant::now);
    let written = session.write_response_body(Some(data), false).await;
    gone_on_error(ctx, written)
}

/// End a body written in pieces.
pub async fn end(session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
    let written = session.write_response_body(None, true).await;
    gone_on_error(ctx, written)
}

/// Write a complete response: `head` with a `content-length`, then `body`.
pub async fn complete(
    session: &mut Session,
    ctx: &mut RequestCtx,
    head: Head,
    body: Bytes,
) -> pingora::Result<()> {
    let head = head.with("content-length", body.len().to_string());
    ctx.status = head.status;
    ctx.bytes_out += body.len();
    ctx.first_byte.get_or_insert_with(std::time::Instant::now);
    let resp = head.build(ctx)?;
    session.set_write_timeout(Some(ctx.write_timeout));
    let written = session.write_response_header(Box::new(resp), false).await;
    gone_on_error(ctx, written)?;
    let written = session.write_response_body(Some(body), true).await;
    gone_on_error(ctx, written)
}

/// Write `value` as a complete JSON response with `status`.
pub async fn json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    value: &impl Serialize,
) -> Result<(), HttpError> {
    let body =
        Bytes::from(serde_json::to_vec(value).map_err(|e| HttpError::Internal(e.to_string()))?);
    complete(session, ctx, Head::new(status, "application/json"), body)
        .await
        .map_err(HttpError::client_write)
}

/// Answer a request that failed: while nothing was sent, the error response (after reading
/// what is left of the body, which would otherwise reset the connection under it; an
/// oversized body, or one that did not arrive in time, is not read); once a response is
/// under way, only the record of it.
pub async fn answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: &HttpError,
) -> pingora::Result<()> {
    if ctx.status != 0 {
        if ctx.error_kind.is_none() {
            record(ctx, err);
        }
        return Ok(());
    }
    if !matches!(
        err,
        HttpError::PayloadTooLarge { .. } | HttpError::BodyTimeout { .. }
    ) {
        let limit = std::time::Duration::from_secs(2);
        let _ = tokio::time::timeout(limit, session.drain_request_body()).await;
    }
    error(session, ctx, err).await
}

/// Write `err` as a complete JSON response. The only writer of error responses.
pub async fn error(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: &HttpError,
) -> pingora::Result<()> {
    let mut head = Head::new(err.status(), "application/json");
    match err {
        HttpError::MethodNotAllowed { allow } => head = head.with("allow", *allow),
        HttpError::TooManyRequests {
            retry_after_secs, ..
        }
        | HttpError::Busy { retry_after_secs }
        | HttpError::BodiesPerClient { retry_after_secs }
        | HttpError::Overloaded {
            retry_after_secs, ..
        } => {
            head = head.with("retry-after", retry_after_secs.to_string());
        }
        HttpError::RunBytesFull { .. } => head = head.with("retry-after", "1"),
        HttpError::Unauthorized => head = head.with("www-authenticate", "Bearer"),
        // Retrying cannot help before the period ends (the SDKs retry every other 429).
        HttpError::InsufficientQuota { .. } => head = head.with("x-should-retry", "false"),
        // The reconnect is retried at most half a second apart (core's backoff.rs).
        HttpError::Gateway(GatewayError::NotConnected { .. } | GatewayError::DuplicateRun(_)) => {
            head = head.with("retry-after", "1");
        }
        _ => {}
    }
    if err.run_may_have_started() {
        head = head.with("x-should-retry", "false");
    }
    record(ctx, err);
    complete(session, ctx, head, err.body()).await
}

/// Answer a passthrough failure ([`errors::proxy_failure`]) unless a response was already sent.
pub async fn fail_to_proxy(session: &mut Session, ctx: &mut RequestCtx, e: &pingora::Error) -> u16 {
    let (code, err) = errors::proxy_failure(e);
    if let Some(err) = err.filter(|_| ctx.status == 0) {
        // A failed write already marked the client as gone.
        let _ = error(session, ctx, &err).await;
    }
    code
}

/// What `request_filter` returns once the client is gone ([`RequestCtx::client_gone`]): a
/// downstream connection error, which pingora answers by closing the connection without
/// writing anything more (`errors::proxy_failure` maps it to no response).
pub fn client_gone_error() -> Box<pingora::Error> {
    pingora::Error::explain(pingora::ErrorType::ConnectionClosed, "client gone").into_down()
}

fn gone_on_error(ctx: &mut RequestCtx, written: pingora::Result<()>) -> pingora::Result<()> {
    if let Err(e) = &written {
        tracing::debug!(request_id = %ctx.request_id, error = %e, "client write failed");
        ctx.client_gone = true;
    }
    written
}
