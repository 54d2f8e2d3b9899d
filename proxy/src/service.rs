//! `ClawShim`, the pingora `ProxyHttp` impl: the table of pingora phases, each handed to
//! the module that does it.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

use crate::front_door::{auth, client_ip, connections, passthrough, ws_login};
use crate::ops::traces::spans::{RequestStart, RequestTrace};
use crate::ops::{access_log, request_metrics};
use crate::request::ctx::{request_id, RequestCtx};
use crate::request::respond;
use crate::routes;
use crate::routes::table::{self, Route};
use crate::state::ProxyState;

/// The proxy.
pub struct ClawShim {
    state: Arc<ProxyState>,
}

impl ClawShim {
    /// A proxy over `state`.
    pub fn new(state: Arc<ProxyState>) -> Self {
        ClawShim { state }
    }
}

#[async_trait]
impl ProxyHttp for ClawShim {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// Route, authenticate (before any body is read or gateway call is made), serve.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.request_id = request_id(session);
        ctx.client_ip = client_ip::of_session(session, &self.state.config.trusted_proxies);
        ctx.write_timeout = self.state.config.write_timeout;
        // Proxied responses too: a client that never reads is dropped after the timeout.
        session.set_write_timeout(Some(ctx.write_timeout));
        let config = &self.state.config;
        let allow = config.passthrough.then_some(&config.passthrough_allow);
        let req = session.req_header();
        ctx.route = table::classify(&req.method, req.uri.path(), allow);
        ctx.trace = RequestTrace::start(RequestStart {
            req,
            route: ctx.route.template(),
            client: ctx.client_ip.and_then(|c| c.addr()),
            tls: session.digest().is_some_and(|d| d.ssl_digest.is_some()),
        });
        let result = match auth::authorize(session, ctx, &self.state).await {
            Ok(_) if ctx.route == Route::Passthrough => return Ok(false),
            Ok(principal) => routes::serve(session, ctx, &self.state, principal).await,
            Err(e) => Err(e),
        };
        if let Err(err) = result {
            respond::answer(session, ctx, &err).await?;
        }
        if ctx.client_gone {
            // A write failed or timed out, or the client left: close the connection. On
            // `Ok(true)` pingora would finish the response first, flushing what is buffered
            // with no write timeout (`HttpSession::finish`), and a client that stays silent
            // would hold the socket for ever.
            return Err(respond::client_gone_error());
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let (hostport, tls) = &self.state.config.gateway_http;
        Ok(passthrough::peer(hostport, *tls))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let client = ctx.client_ip.and_then(|c| c.addr());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        passthrough::attribute(
            upstream_request,
            self.state.config.forwarded_headers,
            client,
            tls,
        );
        passthrough::strip_own_credential(
            upstream_request,
            &self.state.keys,
            &self.state.config.gateway.auth,
        );
        passthrough::ensure_host(upstream_request, &self.state.config.gateway_http.0);
        upstream_request.insert_header("x-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.status = upstream_response.status.as_u16();
        if ctx.status == 401 {
            auth::count_gateway_refusal(ctx, &self.state).await;
        }
        if ctx.status == 101 {
            ctx.ws_login = Some(ws_login::LoginWatch::new());
        }
        upstream_response.insert_header("x-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    /// The gateway's bytes of a passthrough WebSocket, read (never changed) until the
    /// gateway answered its login ([`ws_login`]).
    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let (Some(watch), Some(bytes)) = (ctx.ws_login.as_mut(), body.as_ref()) {
            let verdict = watch.feed(bytes);
            if verdict == ws_login::Login::Refused {
                auth::count_refused_ws_login(ctx, &self.state);
            }
            if verdict != ws_login::Login::Pending {
                ctx.ws_login = None;
            }
        }
        Ok(None)
    }

    /// The client's bytes of a passthrough WebSocket: while its login is unanswered, a client
    /// locked out meanwhile (by its other sockets' refused logins) is cut off, so sockets
    /// opened before the lockout cannot carry more guesses.
    async fn request_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<bytes::Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if ctx.ws_login.is_some() && session.was_upgraded() && auth::locked_out(ctx, &self.state) {
            return Error::e_explain(
                ErrorType::HTTPStatus(429),
                "passthrough WebSocket closed: too many failed logins from this address",
            );
        }
        Ok(())
    }

    /// Passthrough failures (gateway unreachable, bad upstream answer) as JSON errors.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        FailToProxy {
            error_code: respond::fail_to_proxy(session, ctx, e).await,
            can_reuse_downstream: false,
        }
    }

    /// A client that left or stopped reading is not clawshim's error: the access line says
    /// `client_gone`, no error line.
    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _error: &Error) -> bool {
        ctx.client_gone
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let error = ctx.error_kind.or(e.map(|_| "proxy_error"));
        let status = ctx.final_status(session);
        ctx.trace.finish(status, error, ctx.client_gone);
        access_log::log(session, e, ctx);
        request_metrics::observe(session, ctx);
        if let (Some(usage), Some(agent)) = (&ctx.usage, &ctx.agent_id) {
            self.state
                .usage
                .record(ctx.key_name.as_deref(), agent, usage)
                .await;
        }
        connections::request_done(session, self.state.config.connections.idle_timeout);
    }
}
