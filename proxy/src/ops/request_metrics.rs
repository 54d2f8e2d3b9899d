//! The request series of [`super::metrics`], updated once per finished request from the
//! context, in `logging` next to the access line.

use pingora::proxy::Session;

use crate::ops::metrics;
use crate::request::ctx::RequestCtx;

/// Record one finished request (called from `logging`, next to the access line).
pub fn observe(session: &Session, ctx: &RequestCtx) {
    let m = metrics::get();
    let route = ctx.route.label();
    let status = ctx.final_status(session).to_string();
    let bytes_out = ctx.final_bytes_out(session);
    let downstream = session.as_downstream();
    m.requests
        .with_label_values(&[route, &status, ctx.key_name.as_deref().unwrap_or("-")])
        .inc();
    m.request_duration
        .with_label_values(&[route])
        .observe(ctx.started.elapsed().as_secs_f64());
    if let Some(first) = ctx.first_byte {
        m.time_to_first_byte
            .with_label_values(&[route])
            .observe(first.saturating_duration_since(ctx.started).as_secs_f64());
    }
    m.bytes_in
        .with_label_values(&[route])
        .inc_by(downstream.body_bytes_read() as u64);
    m.bytes_out
        .with_label_values(&[route])
        .inc_by(bytes_out as u64);
    if ctx.run_id.is_some() {
        m.runs_started.inc();
        if let Some(kind) = ctx.error_kind {
            m.runs_failed.with_label_values(&[kind]).inc();
        }
    }
}
