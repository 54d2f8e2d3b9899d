//! The two outputs of a run, for every wire format: [`JsonOutput`] (the whole answer as one
//! JSON object, keep-alives while the agent works) and [`SseOutput`] (server-sent events as
//! the run's events come).
//!
//! Both are generic over a [`RunFormat`] (the pure translator of one format, in
//! `clawshim_core`: chat completions or the Responses API) whose stream items know how they
//! are written ([`SseItem`], beside each route). Everything else, the header, keep-alives,
//! the error recorded for the access line, the end of the response, is written here once.
//! Progress events (tool steps, thinking) are run events like deltas: a format turns them
//! into reasoning items, and each one written postpones the next keep-alive.

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

/// Server-sent events: the header and the format's opening items once the run's first event
/// comes (or [`STATUS_HOLD`] passes), then one flushed write per run event, keep-alive
/// comments while the agent is quiet, and the response ended after the format's last item.
/// A run failure is recorded (for the access line and metrics) when the format reports it.
///
/// Holding the status line costs little (the first event of a run, a progress step
/// included, comes within a second or two) and lets a run that fails before anything was
/// sent answer like a non-stream request: its real status and `x-should-retry`, not a `200`
/// with an error event that clients such as aider (through litellm) read as a broken
/// connection and retry.
pub struct SseOutput<F> {
    format: F,
    keepalive: Duration,
    /// The header and opening items went out.
    opened: bool,
    _active: crate::ops::metrics::ActiveStream,
}

/// Longest wait for a run's first event before a stream sends its `200` header anyway.
pub const STATUS_HOLD: Duration = Duration::from_secs(3);

impl<F> SseOutput<F> {
    /// An output streaming `format`'s items.
    pub fn new(format: F, keepalive: Duration) -> Self {
        SseOutput {
            format,
            keepalive,
            opened: false,
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

impl<F> SseOutput<F>
where
    F: RunFormat,
    F::Item: SseItem,
{
    /// `text/event-stream`, no caching, no proxy buffering, then the opening items and
    /// `first` in one write. Without a length pingora frames HTTP/1.1 bodies by closing the
    /// connection; chunked keeps the connection reusable and flushes every event.
    async fn open_now(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        first: Vec<F::Item>,
    ) -> Result<Serving, HttpError> {
        self.opened = true;
        let mut head = Head::new(200, "text/event-stream")
            .with("cache-control", "no-cache")
            .with("x-accel-buffering", "no");
        if !session.as_downstream().is_http2() {
            head = head.with("transfer-encoding", "chunked");
        }
        respond::head(session, ctx, head)
            .await
            .map_err(HttpError::client_write)?;
        let mut items = self.format.opening();
        items.extend(first);
        Ok(write_or_stop(
            respond::body(session, ctx, encode(items)).await,
        ))
    }
}

impl<F> RunOutput for SseOutput<F>
where
    F: RunFormat,
    F::Item: SseItem,
{
    /// Nothing yet: the header waits for the first event or keep-alive.
    async fn open(&mut self, _: &mut Session, _: &mut RequestCtx) -> Result<Serving, HttpError> {
        Ok(Serving::Continue)
    }

    async fn event(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        event: RunEvent,
    ) -> Result<Serving, HttpError> {
        let items = self.format.on_event(event);
        let last = self.format.is_done();
        let failure = self.format.failure().filter(|_| last).cloned();
        if !self.opened {
            if let Some(err) = failure {
                // Nothing sent yet: the same answer as a non-stream request.
                return Err(HttpError::Gateway(err));
            }
            if self.open_now(session, ctx, items).await? == Serving::Stop {
                return Ok(Serving::Stop);
            }
        } else {
            if let Some(err) = failure {
                crate::request::errors::record(ctx, &HttpError::Gateway(err));
            }
            let events = encode(items);
            if !events.is_empty() && respond::body(session, ctx, events).await.is_err() {
                return Ok(Serving::Stop);
            }
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

    fn first_keepalive_after(&self) -> Option<Duration> {
        Some(self.keepalive.min(STATUS_HOLD))
    }

    /// The held header and opening items if not sent yet, else a comment.
    async fn keepalive(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Serving, HttpError> {
        if !self.opened {
            return self.open_now(session, ctx, Vec::new()).await;
        }
        let written = respond::body(session, ctx, sse::KEEP_ALIVE).await;
        Ok(write_or_stop(written))
    }
}
