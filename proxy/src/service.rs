//! `ClawShim`, the pingora `ProxyHttp` impl: a table of contents that hands each phase to
//! its module.

use std::sync::Arc;

use async_trait::async_trait;
use clawshim_core::gateway::client::GatewayAuth;
use clawshim_core::gateway::GatewayClient;
use clawshim_core::response_id::ResponseIdCodec;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use tokio::sync::Semaphore;

use crate::admission::Admission;
use crate::auth_limit::FailedAuthLimiter;
use crate::config::Config;
use crate::ctx::RequestCtx;
use crate::embeddings::EmbeddingsForwarder;
use crate::errors::{self, HttpError};
use crate::image_fetch::ImageFetcher;
use crate::keys::{KeyStore, Principal};
use crate::route::{self, Route};
use crate::{
    access, auth, chat, client_ip, embeddings, health, metrics, models, passthrough, responses,
};

/// Service-wide state shared by every request.
pub struct App {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Handle to the shared gateway connection.
    pub gateway: GatewayClient,
    /// One permit per run in flight.
    pub runs: Arc<Semaphore>,
    /// One slot per request body being read and parsed ([`crate::body`]).
    pub bodies: Arc<Semaphore>,
    /// Adaptive limit and queue of the runs sent to the gateway.
    pub admission: Admission,
    /// Accepted credentials: shared tokens and API keys.
    pub keys: KeyStore,
    /// Failed-auth counts per client IP.
    pub failed_auth: FailedAuthLimiter,
    /// Remote image URLs: fetched or refused.
    pub images: ImageFetcher,
    /// Issues and checks response ids (`previous_response_id`).
    pub response_ids: ResponseIdCodec,
    /// `/v1/embeddings` to the gateway.
    pub embeddings: EmbeddingsForwarder,
    /// Runs with client tools, through the gateway's own chat endpoint.
    pub tool_runs: crate::client_tools::ToolRuns,
}

impl App {
    /// Service state built from `config` around a gateway handle.
    pub fn new(config: Config, gateway: GatewayClient) -> App {
        App {
            runs: Arc::new(Semaphore::new(config.max_concurrent_runs)),
            bodies: Arc::new(Semaphore::new(config.max_concurrent_bodies)),
            admission: Admission::new(config.admission.clone()),
            keys: KeyStore::new(config.api_tokens.clone(), &config.keys),
            failed_auth: FailedAuthLimiter::new(config.max_failed_auth, config.failed_auth_window),
            images: ImageFetcher::new(&config.images),
            response_ids: response_id_codec(&config.gateway.auth),
            embeddings: EmbeddingsForwarder::new(&config),
            tool_runs: crate::client_tools::ToolRuns::new(&config),
            gateway,
            config: Arc::new(config),
        }
    }
}

/// Response ids are signed with a key derived from the gateway credential, so every clawshim
/// in front of one gateway (restarted, or several at once) accepts the others' ids. Without
/// a shared secret (device identity only) the key is random: ids then last as long as the
/// process.
fn response_id_codec(auth: &GatewayAuth) -> ResponseIdCodec {
    match auth {
        GatewayAuth::Token(secret) | GatewayAuth::Password(secret) => {
            ResponseIdCodec::new(secret.expose().as_bytes())
        }
        GatewayAuth::None => {
            let key: [u8; 32] = rand::random();
            ResponseIdCodec::new(&key)
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

/// The client's address ([`client_ip`]), the key of the failed-auth limiter.
fn limiter_key(ctx: &RequestCtx) -> std::net::IpAddr {
    ctx.client_ip
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}

/// 429 while the client's address is blocked by the failed-auth limiter.
fn check_failed_auth(ip: std::net::IpAddr, app: &App) -> Result<(), HttpError> {
    app.failed_auth
        .check(ip, std::time::Instant::now())
        .map_err(|retry| HttpError::TooManyRequests {
            retry_after_secs: retry.as_secs().max(1),
        })
}

/// Authenticate routes that need it (before any body is read or gateway call is made),
/// apply per-IP failed-auth limiting and the key's request rate. `Ok(None)` only for routes
/// that need no auth. Passthrough is only checked against the limiter: the gateway
/// authenticates it, and its 401s count as failures (`response_filter`), so the gateway's
/// login cannot be guessed through clawshim either.
fn authorize(
    session: &Session,
    ctx: &mut RequestCtx,
    app: &App,
) -> Result<Option<Principal>, HttpError> {
    if ctx.route == Route::Passthrough {
        return check_failed_auth(limiter_key(ctx), app).map(|()| None);
    }
    if !ctx.route.needs_auth() {
        return Ok(None);
    }
    let ip = limiter_key(ctx);
    let now = std::time::Instant::now();
    check_failed_auth(ip, app)?;
    let header = session
        .req_header()
        .headers
        .get("authorization")
        .map(|v| v.as_bytes());
    let Some(principal) = auth::authenticate(header, &app.keys) else {
        app.failed_auth.record_failure(ip, now);
        return Err(HttpError::Unauthorized);
    };
    ctx.key_name = principal.name().map(str::to_owned);
    if let Principal::Key(key) = &principal {
        key.take_request()
            .map_err(|retry| HttpError::TooManyRequests {
                retry_after_secs: retry.as_secs().max(1),
            })?;
    }
    Ok(Some(principal))
}

/// The principal a route that needs auth is served as. None there would be a bug in
/// [`authorize`]: refuse the request rather than treat it as the operator's full access.
fn required(principal: Option<Principal>) -> Result<Principal, HttpError> {
    principal.ok_or(HttpError::Unauthorized)
}

async fn serve_route(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
    principal: Option<Principal>,
) -> Result<(), HttpError> {
    match ctx.route.clone() {
        Route::ChatCompletions => chat::serve(session, ctx, app, &required(principal)?).await,
        Route::Responses => responses::serve(session, ctx, app, &required(principal)?).await,
        Route::Embeddings => embeddings::serve(session, ctx, app, &required(principal)?).await,
        Route::Models => models::list(session, ctx, app, &required(principal)?).await,
        Route::Model(id) => models::retrieve(session, ctx, app, &required(principal)?, &id).await,
        Route::Healthz => health::healthz(session, ctx).await,
        Route::Readyz => health::readyz(session, ctx, app).await,
        Route::WrongMethod { allow } => Err(HttpError::MethodNotAllowed { allow }),
        Route::NonCanonical => Err(HttpError::BadRequest {
            message: format!(
                "`{}` is not the canonical path of this route: no percent-encoding, `\\` or \
                 `.`/`..` segments",
                session.req_header().uri.path()
            ),
            param: None,
        }),
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
        ctx.client_ip = client_ip::of_session(session, &self.app.config.trusted_proxies);
        ctx.write_timeout = self.app.config.write_timeout;
        // Proxied responses too: a client that never reads is dropped after the timeout.
        session.set_write_timeout(Some(ctx.write_timeout));
        let config = &self.app.config;
        let allow = config.passthrough.then_some(&config.passthrough_allow);
        let req = session.req_header();
        ctx.route = route::classify(&req.method, req.uri.path(), allow);
        let result = match authorize(session, ctx, &self.app) {
            Ok(_) if ctx.route == Route::Passthrough => return Ok(false),
            Ok(principal) => serve_route(session, ctx, &self.app, principal).await,
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
        let client = ctx.client_ip;
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
        // A refused gateway login through passthrough counts like a refused key.
        if ctx.status == 401 {
            self.app
                .failed_auth
                .record_failure(limiter_key(ctx), std::time::Instant::now());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_principal_is_refused_not_full_access() {
        assert!(matches!(required(None), Err(HttpError::Unauthorized)));
        assert!(matches!(
            required(Some(Principal::Shared)),
            Ok(Principal::Shared)
        ));
    }
}
