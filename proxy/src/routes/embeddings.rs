//! `POST /v1/embeddings`: authenticated and limited by clawshim like chat, then forwarded to
//! the gateway's own endpoint with the gateway's credential.
//!
//! Which gateways serve one: openclaw 2026.9.6 serves `/v1/embeddings` while one of its
//! OpenAI endpoints is enabled (`openAiCompatEnabled`, `gateway/server-start` in its dist:
//! chat completions or responses); clawdbot 2026.1.24 has no such route. A v3 gateway gets no
//! request at all, and a v4 gateway's 404 (or a non-JSON page from its Control UI fallback)
//! becomes one OpenAI 404 that says the gateway has no embeddings endpoint. Other answers
//! (200, the gateway's own 400s) go back as they are.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clawshim_core::gateway::client::GatewayAuth;
use clawshim_core::gateway::GatewayClient;
use pingora::proxy::Session;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::front_door::keys::Principal;
use crate::request::body;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::request::respond::{self, Head};

/// Largest embeddings answer passed back (a batch of large vectors stays far below).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Forwards embeddings requests to the gateway.
#[derive(Clone)]
pub struct EmbeddingsForwarder {
    client: Result<reqwest::Client, String>,
    url: String,
    credential: Option<String>,
    /// The body slots every route shares ([`body::read`]).
    bodies: Arc<Semaphore>,
    max_body_bytes: u64,
    gateway: GatewayClient,
}

impl EmbeddingsForwarder {
    /// A forwarder to the gateway of `config` (same host and port as its WebSocket), reading
    /// bodies under the shared `bodies` slots.
    pub fn new(
        config: &Config,
        bodies: Arc<Semaphore>,
        gateway: GatewayClient,
    ) -> EmbeddingsForwarder {
        let (hostport, tls) = &config.gateway_http;
        let scheme = if *tls { "https" } else { "http" };
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(config.gateway.request_timeout.max(Duration::from_secs(60)))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(roots) = &config.gateway.tls_roots {
            // The private CA the WebSocket trusts (as in core's connection).
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(roots.clone())
                    .with_no_client_auth()
            });
            if let Ok(tls) = tls {
                builder = builder.use_preconfigured_tls(tls);
            }
        }
        let credential = match &config.gateway.auth {
            GatewayAuth::Token(s) | GatewayAuth::Password(s) => Some(s.expose().to_owned()),
            GatewayAuth::None => None,
        };
        EmbeddingsForwarder {
            client: builder.build().map_err(|e| e.to_string()),
            url: format!("{scheme}://{hostport}/v1/embeddings"),
            credential,
            bodies,
            max_body_bytes: config.max_body_bytes,
            gateway,
        }
    }
}

/// Serve one embeddings request (see the module docs).
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    fwd: &EmbeddingsForwarder,
    // Authenticated by `request_filter`; embeddings run no agent, so the caller's agent
    // allowlist and sessions do not apply.
    _principal: &Principal,
) -> Result<(), HttpError> {
    let body = body::read(session, &fwd.bodies, fwd.max_body_bytes).await?;
    if fwd.gateway.protocol() == Some(3) {
        return Err(HttpError::NoEmbeddings);
    }
    let client = fwd
        .client
        .as_ref()
        .map_err(|e| HttpError::Internal(format!("embeddings client: {e}")))?;
    let mut request = client
        .post(&fwd.url)
        .header("content-type", "application/json")
        .header("x-request-id", ctx.request_id.as_str())
        .body(body.bytes);
    if let Some(credential) = &fwd.credential {
        request = request.bearer_auth(credential);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| HttpError::BadGateway(format!("embeddings: {}", e.without_url())))?;
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status == 404 || status == 405 || !is_json {
        return Err(HttpError::NoEmbeddings);
    }
    if status == 401 || status == 403 {
        // The client passed clawshim's check; this is the gateway refusing clawshim.
        return Err(HttpError::BadGateway(format!(
            "the gateway refused clawshim's credential on /v1/embeddings ({status})"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError::BadGateway(format!("embeddings body: {}", e.without_url())))?
    {
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError::BadGateway(format!(
                "embeddings answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    respond::complete(
        session,
        ctx,
        Head::new(status, "application/json"),
        Bytes::from(out),
    )
    .await
    .map_err(HttpError::client_write)
}
