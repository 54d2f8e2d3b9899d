//! One access line per request, from `logging`: client address (see `client_ip`), method,
//! path, status, route, agent, key name, run id, duration, bytes, request id, trace id (with
//! trace export on), and the error
//! kind (with the detail of our own failures). Never headers or bodies (tokens, prompts).

use pingora::prelude::*;
use pingora::proxy::Session;
use tracing::info;

use crate::request::ctx::RequestCtx;

/// Emit the access line (target `clawshim::access`).
pub fn log(session: &Session, e: Option<&Error>, ctx: &RequestCtx) {
    let req = session.req_header();
    let status = ctx.final_status(session);
    let bytes_out = ctx.final_bytes_out(session);
    let ttfb_ms = ctx
        .first_byte
        .map(|t| t.duration_since(ctx.started).as_secs_f64() * 1000.0);
    info!(
        target: "clawshim::access",
        client = ctx.client_ip.map(|c| c.to_string()).as_deref().unwrap_or("-"),
        method = %req.method,
        path = %req.uri.path(),
        status,
        route = ctx.route.label(),
        agent = ctx.agent_id.as_deref().unwrap_or("-"),
        key = ctx.key_name.as_deref().unwrap_or("-"),
        run_id = ctx.run_id.as_ref().map_or("-", |id| id.as_str()),
        duration_ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
        ttfb_ms,
        bytes_out,
        request_id = %ctx.request_id,
        trace_id = ctx.trace.trace_id().unwrap_or("-"),
        client_gone = ctx.client_gone,
        error = ctx
            .error_kind
            .or(e.filter(|_| !ctx.client_gone).map(|_| "proxy_error"))
            .unwrap_or("-"),
        error_detail = ctx.error_detail.as_deref().unwrap_or("-"),
        "request"
    );
}
