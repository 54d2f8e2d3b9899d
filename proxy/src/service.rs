//! `ClawShim`, the pingora `ProxyHttp` impl: a table of contents that hands each phase to
//! its module.

use std::sync::Arc;

use async_trait::async_trait;
use clawshim_core::gateway::GatewayClient;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use tokio::sync::Semaphore;

use crate::admission::Admission;
use crate::auth_limit::FailedAuthLimiter;
use crate::config::Config;
use crate::ctx::RequestCtx;
use crate::errors::{self, HttpError};
use crate::keys::{KeyStore, Principal};
use crate::route::{self, Route};
use crate::{access, auth, chat, health, metrics, models, passthrough};

/// Service-wide state shared by every request.
pub struct App {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Handle to the shared gateway connection.
    pub gateway: GatewayClient,
    /// One permit per run in flight.
    pub runs: Arc<Semaphore>,
    /// Adaptive limit and queue of the runs sent to the gateway.
    pub admission: Admission,
    /// Accepted credentials: shared tokens and API keys.
    pub keys: KeyStore,
    /// Failed-auth counts per client IP.
    pub failed_auth: FailedAuthLimiter,
}

impl App {
    /// Service state built from `config` around a gateway handle.
    pub fn new(config: Config, gateway: GatewayClient) -> App {
        App {
            runs: Arc::new(Semaphore::new(config.max_concurrent_runs)),
            admission: Admission::new(config.admission.clone()),
            keys: KeyStore::new(config.api_tokens.clone(), &config.keys),
            failed_auth: FailedAuthLimiter::new(config.max_failed_auth, config.failed_auth_window),
            gateway,
            config: Arc::new(config),
        }
    }
}

/// The proxy.
pub struct ClawShim {
    app: Arc<App>,
}

impl ClawShim {
    /// A proxy over `app`.
    pub fn new(app: Arc<App>) -> Self {
        ClawShim { app }
    }
}

/// `x-request-id`: keep a client's sane one (for tracing across hops), else make one.
fn request_id(session: &Session) -> String {
    session
        .req_header()
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Authenticate routes that need it (before any body is read or gateway call is made),
/// apply per-IP failed-auth limiting and the key's request rate.
fn authorize(session: &Session, ctx: &mut RequestCtx, app: &App) -> Result<(), HttpError> {
    if !ctx.route.needs_auth() {
        return Ok(());
    }
    let ip = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let now = std::time::Instant::now();
    if let Err(retry) = app.failed_auth.check(ip, now) {
        return Err(HttpError::TooManyRequests {
            retry_after_secs: retry.as_secs().max(1),
        });
    }
    let header = session
        .req_header()
        .headers
        .get("authorization")
        .map(|v| v.as_bytes());
    let Some(principal) = auth::authenticate(header, &app.keys) else {
        app.failed_auth.record_failure(ip, now);
        return Err(HttpError::Unauthorized);
    };
    app.failed_auth.record_success(ip);
    ctx.key_name = principal.name().map(str::to_owned);
    if let Principal::Key(key) = &principal {
        key.take_request()
            .map_err(|retry| HttpError::TooManyRequests {
                retry_after_secs: retry.as_secs().max(1),
            })?;
    }
    ctx.principal = Some(principal);
    Ok(())
}

async fn serve_route(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
) -> Result<(), HttpError> {
    match ctx.route.clone() {
        Route::ChatCompletions => chat::serve(session, ctx, app).await,
        Route::Models => models::list(session, ctx, app).await,
        Route::Model(id) => models::retrieve(session, ctx, app, &id).await,
        Route::Healthz => health::healthz(session, ctx).await,
        Route::Readyz => health::readyz(session, ctx, app).await,
        Route::WrongMethod { allow } => Err(HttpError::MethodNotAllowed { allow }),
        Route::NotFound => {
            let req = session.req_header();
            Err(HttpError::NotFound {
                method: req.method.to_string(),
                path: req.uri.path().to_string(),
            })
        }
        Route::Passthrough => unreachable!("passthrough is not served here"),
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
        let req = session.req_header();
        ctx.route = route::classify(&req.method, req.uri.path(), self.app.config.passthrough);
        if ctx.route == Route::Passthrough {
            return Ok(false);
        }
        let result = match authorize(session, ctx, &self.app) {
            Ok(()) => serve_route(session, ctx, &self.app).await,
            Err(e) => Err(e),
        };
        if let Err(err) = result {
            errors::answer(session, ctx, &err).await?;
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        Ok(passthrough::peer(&self.app.config))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let client = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        passthrough::attribute(
            upstream_request,
            self.app.config.forwarded_headers,
            client,
            tls,
        );
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
        upstream_response.insert_header("x-request-id", ctx.request_id.as_str())?;
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
            error_code: errors::fail_to_proxy(session, ctx, e).await,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        access::log(session, e, ctx);
        metrics::observe(session, ctx);
    }
}
