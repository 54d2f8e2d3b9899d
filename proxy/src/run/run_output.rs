//! The two outputs of a run, for every wire format: [`JsonOutput`] (the whole answer as one
//! JSON object, keep-alives while the agent works) and [`SseOutput`] (server-sent events as
//! the run's events come).
//!
//! Both are generic over a [`RunFormat`] (the pure translator of one format, in
//! `clawshim_core`: chat completions or the Responses API) whose stream items know how they
//! are written ([`SseItem`], beside each route). Everything else, the header, keep-alives,
//! the error recorded for the access line, the end of the response, is written here once.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clawshim_core::gateway::RunEvent;
use clawshim_core::openai::sse;
use clawshim_core::run_format::RunFormat;
use pingora::proxy::Session;
use serde::Serialize;

use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::request::respond::{self, Head};
use crate::run::run_loop::{RunOutput, Serving};

/// How one stream item of a format is written as server-sent events.
pub trait SseItem {
    /// The bytes of this item (one or more complete events).
    fn sse(self) -> Bytes;
}

/// A body write that fails means the client is gone (already recorded): stop quietly.
fn write_or_stop(written: pingora::Result<()>) -> Serving {
    match written {
        Ok(()) => Serving::Continue,
        Err(_) => Serving::Stop,
    }
}

/// The whole answer as one JSON object once the run has ended.
///
/// With `keepalive`, a run still going after that long gets its `200` headers and then a
/// space every interval until the JSON body, so no idle timeout in between (a proxy, a load
/// balancer, the client) cuts a request that is only slow; JSON parsers skip leading
/// whitespace (checked with the OpenAI Python and Node SDKs and aiohttp: RELIABILITY.md). An
/// error after that point can no longer change the status: it is the body, an OpenAI error
/// object under `200`.
pub struct JsonOutput<F> {
    format: F,
    keepalive: Option<Duration>,
    /// The headers went out with the first keep-alive.
    opened: bool,
}

impl<F> JsonOutput<F> {
    /// An output answering with `format`'s whole answer.
    pub fn new(format: F, keepalive: Option<Duration>) -> Self {
        JsonOutput {
            format,
            keepalive,
            opened: false,
        }
    }
}

impl<F> RunOutput for JsonOutput<F>
where
    F: RunFormat,
    F::Answer: Serialize,
{
    async fn open(&mut self, _: &mut Session, _: &mut RequestCtx) -> Result<Serving, HttpError> {
        Ok(Serving::Continue)
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        self.format.on_event(event);
        let Some(result) = self.format.answer() else {
            return Ok(Serving::Continue);
        };
        let json = |answer: &F::Answer| {
            serde_json::to_vec(answer)
                .map(Bytes::from)
                .map_err(|e| HttpError::Internal(e.to_string()))
        };
        if self.opened {
            let body = match result {
                Ok(answer) => json(&answer)?,
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
        let body = json(&result?)?;
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

/// Server-sent events: the format's opening items at once, then one flushed write per run
/// event, keep-alive comments while the agent is quiet, and the response ended after the
/// format's last item. A run failure is recorded (for the access line and metrics) when the
/// format reports it.
pub struct SseOutput<F> {
    format: F,
    keepalive: Duration,
    _active: crate::ops::metrics::ActiveStream,
}

impl<F> SseOutput<F> {
    /// An output streaming `format`'s items.
    pub fn new(format: F, keepalive: Duration) -> Self {
        SseOutput {
            format,
            keepalive,
            _active: crate::ops::metrics::ActiveStream::enter(),
        }
    }
}

/// The items as one body piece.
fn encode<I: SseItem>(items: Vec<I>) -> Bytes {
    let mut out = BytesMut::new();
    for item in items {
        out.extend_from_slice(&item.sse());
    }
    out.freeze()
}

impl<F> RunOutput for SseOutput<F>
where
    F: RunFormat,
    F::Item: SseItem,
{
    /// `text/event-stream`, no caching, no proxy buffering, then the opening items. Without
    /// a length pingora frames HTTP/1.1 bodies by closing the connection; chunked keeps the
    /// connection reusable and flushes every event.
    async fn open(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        let mut head = Head::new(200, "text/event-stream")
            .with("cache-control", "no-cache")
            .with("x-accel-buffering", "no");
        if !session.as_downstream().is_http2() {
            head = head.with("transfer-encoding", "chunked");
        }
        respond::head(session, ctx, head)
            .await
            .map_err(HttpError::client_write)?;
        let opening = encode(self.format.opening());
        Ok(write_or_stop(respond::body(session, ctx, opening).await))
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        let events = encode(self.format.on_event(event));
        let last = self.format.is_done();
        if let Some(err) = self.format.failure().filter(|_| last) {
            crate::request::errors::record(ctx, &HttpError::Gateway(err.clone()));
        }
        if !events.is_empty() && respond::body(session, ctx, events).await.is_err() {
            return Ok(Serving::Stop);
        }
        if !last {
            return Ok(Serving::Continue);
        }
        respond::end(session, ctx)
            .await
            .map_err(HttpError::client_write)?;
        Ok(Serving::Stop)
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
