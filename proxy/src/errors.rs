//! Every error an HTTP client can get, mapped to its status and OpenAI error body in one
//! place, and the one writer of error responses.

use bytes::Bytes;
use clawshim_core::gateway::GatewayError;
use clawshim_core::openai::error::ApiError;
use clawshim_core::openai::request::RequestError;
use clawshim_core::prompt::PromptError;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::ctx::RequestCtx;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The body or a field is invalid.
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<String>,
    },
    /// Missing or wrong bearer token.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// No such route.
    #[error("unknown route {method} {path}")]
    NotFound { method: String, path: String },
    /// The key may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    /// The requested model / agent does not exist on the gateway.
    #[error("model `{model}` not found")]
    ModelNotFound { model: String },
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    /// Body above the configured limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// Too many runs in flight.
    #[error("too many requests in flight")]
    TooManyRequests { retry_after_secs: u64 },
    /// The gateway or the run failed.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A passthrough request got no usable answer from the gateway.
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// A bug or an I/O failure on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RequestError> for HttpError {
    fn from(e: RequestError) -> Self {
        HttpError::BadRequest {
            message: e.message,
            param: e.param,
        }
    }
}

impl From<PromptError> for HttpError {
    fn from(e: PromptError) -> Self {
        HttpError::BadRequest {
            message: e.to_string(),
            param: Some("messages".into()),
        }
    }
}

impl HttpError {
    /// The HTTP status. One exhaustive match: a new variant does not compile without one.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest { .. } => 400,
            HttpError::Unauthorized => 401,
            HttpError::Forbidden { .. } => 403,
            HttpError::NotFound { .. } | HttpError::ModelNotFound { .. } => 404,
            HttpError::MethodNotAllowed { .. } => 405,
            HttpError::PayloadTooLarge { .. } => 413,
            HttpError::TooManyRequests { .. } => 429,
            HttpError::Internal(_) => 500,
            HttpError::BadGateway(_) => 502,
            HttpError::Gateway(g) => match g {
                GatewayError::NotConnected { .. } => 503,
                GatewayError::Rejected { code, .. } => match code.as_str() {
                    "INVALID_REQUEST" => 400,
                    "UNAVAILABLE" => 503,
                    _ => 502,
                },
                GatewayError::RunFailed { .. }
                | GatewayError::Disconnected { .. }
                | GatewayError::Protocol(_) => 502,
                GatewayError::RunTimedOut | GatewayError::Timeout => 504,
                GatewayError::Lagged => 500,
            },
        }
    }

    /// A short, bounded label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::BadRequest { .. } => "bad_request",
            HttpError::Unauthorized => "unauthorized",
            HttpError::Forbidden { .. } => "forbidden",
            HttpError::NotFound { .. } => "not_found",
            HttpError::ModelNotFound { .. } => "model_not_found",
            HttpError::MethodNotAllowed { .. } => "method_not_allowed",
            HttpError::PayloadTooLarge { .. } => "payload_too_large",
            HttpError::TooManyRequests { .. } => "too_many_requests",
            HttpError::Internal(_) => "internal",
            HttpError::BadGateway(_) => "bad_gateway",
            HttpError::Gateway(g) => match g {
                GatewayError::NotConnected { .. } => "gateway_unavailable",
                GatewayError::Rejected { .. } => "gateway_rejected",
                GatewayError::RunFailed { .. } => "run_failed",
                GatewayError::Disconnected { .. } => "gateway_disconnected",
                GatewayError::RunTimedOut => "run_timeout",
                GatewayError::Timeout => "gateway_timeout",
                GatewayError::Protocol(_) => "gateway_protocol",
                GatewayError::Lagged => "client_too_slow",
            },
        }
    }

    /// Whether a retry could run the agent twice: SDKs then must not retry
    /// (`x-should-retry: false`).
    pub fn run_may_have_started(&self) -> bool {
        matches!(self, HttpError::Gateway(g) if g.run_may_have_started())
    }

    /// The OpenAI error object.
    pub fn api_error(&self) -> ApiError {
        match self {
            HttpError::BadRequest { message, param } => {
                let e = ApiError::invalid_request_error(message.clone());
                match param {
                    Some(p) => e.with_param(p.clone()),
                    None => e,
                }
            }
            HttpError::Unauthorized => ApiError::invalid_request_error(
                "Incorrect API key provided. Send `Authorization: Bearer <token>` with a token clawshim accepts.",
            )
            .with_code("invalid_api_key"),
            HttpError::Forbidden { message } => {
                ApiError::permission_error(message.clone()).with_code("forbidden")
            }
            HttpError::NotFound { method, path } => {
                ApiError::invalid_request_error(format!("Invalid URL ({method} {path})"))
                    .with_code("unknown_url")
            }
            HttpError::ModelNotFound { model } => ApiError::invalid_request_error(format!(
                "The model `{model}` does not exist: the gateway has no such agent."
            ))
            .with_param("model")
            .with_code("model_not_found"),
            HttpError::MethodNotAllowed { allow } => ApiError::invalid_request_error(format!(
                "Method not allowed; this route accepts {allow}."
            ))
            .with_code("method_not_allowed"),
            HttpError::PayloadTooLarge { limit } => ApiError::invalid_request_error(format!(
                "Request body too large: the limit is {limit} bytes."
            ))
            .with_code("request_too_large"),
            HttpError::TooManyRequests { .. } => ApiError::rate_limit_error(
                "Too many requests in flight; retry shortly.",
            )
            .with_code("rate_limit_exceeded"),
            HttpError::BadGateway(_) => {
                ApiError::api_error("The gateway did not answer the proxied request.")
                    .with_code("bad_gateway")
            }
            HttpError::Internal(_) => ApiError::api_error("Internal error in clawshim.")
                .with_code("internal_error"),
            HttpError::Gateway(g) => match g {
                GatewayError::NotConnected { reason } => ApiError::server_error(format!(
                    "The agent gateway is not available: {reason}"
                ))
                .with_code("gateway_unavailable"),
                GatewayError::Rejected { code, message } if code == "INVALID_REQUEST" => {
                    ApiError::invalid_request_error(format!("The gateway refused the run: {message}"))
                        .with_code("gateway_invalid_request")
                }
                GatewayError::Rejected { code, message } => ApiError::api_error(format!(
                    "The gateway refused the run ({code}): {message}"
                ))
                .with_code("gateway_rejected"),
                GatewayError::RunFailed { code, message } => {
                    ApiError::api_error(format!("The agent run failed ({code}): {message}"))
                        .with_code("agent_run_failed")
                }
                GatewayError::Disconnected { reason } => ApiError::api_error(format!(
                    "The gateway connection was lost during the run: {reason}"
                ))
                .with_code("gateway_disconnected"),
                GatewayError::RunTimedOut => ApiError::timeout(
                    "The agent run hit its time limit before producing a reply.",
                )
                .with_code("agent_timeout"),
                GatewayError::Timeout => {
                    ApiError::timeout("The gateway did not answer in time.").with_code("gateway_timeout")
                }
                GatewayError::Protocol(m) => {
                    ApiError::api_error(format!("Unexpected answer from the gateway: {m}"))
                        .with_code("gateway_protocol_error")
                }
                GatewayError::Lagged => ApiError::api_error(
                    "The client read the stream too slowly; the run was dropped.",
                )
                .with_code("client_too_slow"),
            },
        }
    }

    /// The JSON body bytes.
    pub fn body(&self) -> Bytes {
        Bytes::from(
            serde_json::to_vec(&self.api_error().into_body()).expect("error bodies serialize"),
        )
    }
}

/// Write `err` as a complete JSON response. The only writer of error responses.
pub async fn write(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: &HttpError,
) -> pingora::Result<()> {
    let body = err.body();
    let mut resp = ResponseHeader::build(err.status(), Some(6))?;
    resp.insert_header("content-type", "application/json")?;
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("x-request-id", ctx.request_id.as_str())?;
    match err {
        HttpError::MethodNotAllowed { allow } => {
            resp.insert_header("allow", *allow)?;
        }
        HttpError::TooManyRequests { retry_after_secs } => {
            resp.insert_header("retry-after", retry_after_secs.to_string())?;
        }
        HttpError::Unauthorized => {
            resp.insert_header("www-authenticate", "Bearer")?;
        }
        _ => {}
    }
    if err.run_may_have_started() {
        resp.insert_header("x-should-retry", "false")?;
    }
    if let Some(run_id) = &ctx.run_id {
        resp.insert_header("x-clawshim-run-id", run_id.as_str())?;
    }
    ctx.status = err.status();
    ctx.error_kind = Some(err.kind());
    ctx.bytes_out += body.len();
    ctx.first_byte.get_or_insert_with(std::time::Instant::now);
    session.write_response_header(Box::new(resp), false).await?;
    session.write_response_body(Some(body), true).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_map_to_statuses() {
        let nc = HttpError::Gateway(GatewayError::NotConnected { reason: "x".into() });
        assert_eq!(nc.status(), 503);
        assert!(!nc.run_may_have_started());
        let unknown_agent = HttpError::Gateway(GatewayError::Rejected {
            code: "INVALID_REQUEST".into(),
            message: "invalid agent params: unknown agent id \"nope\"".into(),
        });
        assert_eq!(unknown_agent.status(), 400);
        let failed = HttpError::Gateway(GatewayError::RunFailed {
            code: "UNAVAILABLE".into(),
            message: "Unknown model".into(),
        });
        assert_eq!(failed.status(), 502);
        assert!(failed.run_may_have_started());
        assert_eq!(HttpError::Gateway(GatewayError::RunTimedOut).status(), 504);
        assert_eq!(
            HttpError::Gateway(GatewayError::Disconnected { reason: "x".into() }).status(),
            502
        );
    }

    #[test]
    fn bodies_are_openai_envelopes() {
        let v: serde_json::Value = serde_json::from_slice(&HttpError::Unauthorized.body()).unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        assert!(v["error"]["param"].is_null());
        let v: serde_json::Value = serde_json::from_slice(
            &HttpError::ModelNotFound {
                model: "openclaw/nope".into(),
            }
            .body(),
        )
        .unwrap();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
    }
}
