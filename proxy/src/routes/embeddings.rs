//! `POST /v1/embeddings`: authenticated and limited by clawshim like chat, then forwarded to
//! the gateway's own endpoint with the gateway's credential.
//!
//! Which gateways serve one: openclaw 2026.9.6 serves `/v1/embeddings` while one of its
//! OpenAI endpoints is enabled (`openAiCompatEnabled`, `gateway/server-start` in its dist:
//! chat completions or responses); clawdbot 2026.1.24 has no such route. A v3 gateway gets no
//! request at all, and a v4 gateway's 404 (or a non-JSON page from its Control UI fallback)
//! becomes one OpenAI 404 that says the gateway has no embeddings endpoint. Other answers
//! (200, the gateway's own 400s) go back as they are.
//!
//! The gateway embeds with an *agent's* memory-search provider and workspace
//! (`gateway/embeddings-http` in openclaw 2026.9.6's dist: `model` must be `openclaw`,
//! `openclaw/<agentId>`, `openclaw:<agentId>` or `agent:<agentId>`, and
//! `resolveAgentIdForRequest` takes the agent from `x-openclaw-agent-id` first, then from the
//! model, then the default agent). So the caller's agent allowlist applies as for chat: the
//! agent is chosen the same way (agent headers, model, else the key's first allowed agent),
//! a key that may not use it gets 404 `model_not_found` before anything is sent, and the
//! gateway is told the resolved agent in `x-openclaw-agent-id`, which it reads before the
//! model, so it cannot pick another one. The body goes as sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clawshim_core::gateway::{GatewayAuth, GatewayClient};
use clawshim_core::routing;
use pingora::proxy::Session;

use crate::config::Config;
use crate::front_door::keys::Principal;
use crate::request::body::{self, BodyLimits};
use crate::request::body_slots::{BodySlots, Reader};
use crate::request::ctx::{header_str, RequestCtx};
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
    bodies: Arc<BodySlots>,
    body_limits: BodyLimits,
    gateway: GatewayClient,
}

impl EmbeddingsForwarder {
    /// A forwarder to the gateway of `config` (same host and port as its WebSocket), reading
    /// bodies under the shared `bodies` slots.
    pub fn new(
        config: &Config,
        bodies: Arc<BodySlots>,
        gateway: GatewayClient,
    ) -> EmbeddingsForwarder {
        let (hostport, tls) = &config.gateway_http;
        let scheme = if *tls { "https" } else { "http" };
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(config.gateway.request_timeout.max(Duration::from_secs(60)))
            .redirect(reqwest::redirect::Policy::none());
        // The private CA the WebSocket trusts, when one is configured.
        if let Some(Ok(tls)) = config.gateway.tls_client_config() {
            builder = builder.use_preconfigured_tls(tls);
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
            body_limits: config.body,
            gateway,
        }
    }
}

/// The body's `model` (`None` when absent or not a string: the gateway answers those). A body
/// that is not a JSON object, or names `model` twice (the gateway's parser would take the
/// last one), is a 400 here, before any agent is chosen.
fn requested_model(body: &[u8]) -> Result<Option<String>, HttpError> {
    #[derive(serde::Deserialize)]
    struct Fields {
        model: Option<serde_json::Value>,
    }
    let not_an_object = |detail: String| HttpError::BadRequest {
        message: format!("The embeddings request body is not a valid JSON object: {detail}"),
        param: None,
    };
    // serde reads a struct from an array too; the gateway wants an object.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(not_an_object("expected `{`".into()));
    }
    let fields: Fields = serde_json::from_slice(body).map_err(|e| not_an_object(e.to_string()))?;
    let model = fields.model.and_then(|v| v.as_str().map(str::to_owned));
    if let Some(model) = &model {
        clawshim_core::openai::limits::check_string(
            "model",
            model,
            clawshim_core::openai::limits::MAX_MODEL_BYTES,
        )?;
    }
    Ok(model)
}

/// Serve one embeddings request (see the module docs).
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    fwd: &EmbeddingsForwarder,
    principal: &Principal,
) -> Result<(), HttpError> {
    let reader = Reader::new(principal, ctx.client_ip.map(|c| c.limiter_ip()));
    let body = body::read(session, &fwd.bodies, &reader, &fwd.body_limits).await?;
    if fwd.gateway.protocol() == Some(3) {
        return Err(HttpError::NoEmbeddings);
    }
    let model = requested_model(&body.bytes)?;
    let header = |name: &str| header_str(session, name);
    clawshim_core::openai::limits::check_headers(header)?;
    let selector = routing::select_agent(header, model.as_deref());
    let agent = fwd
        .gateway
        .resolve_agent(&selector, |id| principal.allows(id))
        .await?
        .map_err(|e| HttpError::ModelNotFound {
            model: model.clone().unwrap_or(e.id),
        })?;
    ctx.agent_id = Some(agent.clone());
    let client = fwd
        .client
        .as_ref()
        .map_err(|e| HttpError::Internal(format!("embeddings client: {e}")))?;
    let mut request = client
        .post(&fwd.url)
        .header("content-type", "application/json")
        .header("x-request-id", ctx.request_id.as_str())
        .header("x-openclaw-agent-id", agent.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_read_once_and_duplicates_are_refused() {
        assert_eq!(
            requested_model(br#"{"model":"openclaw/beta","input":"x"}"#).unwrap(),
            Some("openclaw/beta".to_owned())
        );
        assert_eq!(requested_model(br#"{"input":"x"}"#).unwrap(), None);
        assert_eq!(requested_model(br#"{"model":7}"#).unwrap(), None);
        for bad in [
            &br#"{"model":"openclaw/beta","model":"openclaw/main"}"#[..],
            b"[1]",
            b"not json",
        ] {
            assert!(matches!(
                requested_model(bad),
                Err(HttpError::BadRequest { .. })
            ));
        }
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(300));
        assert!(requested_model(long.as_bytes()).is_err());
    }
}
