//! Every error an HTTP client can get, mapped to its status and OpenAI error body in one
//! place; what is recorded of a failure for the access line; and how pingora's own errors
//! (passthrough) map onto them. [`super::respond`] writes them.

use bytes::Bytes;
use clawshim_core::error::RequestError;
use clawshim_core::gateway::GatewayError;
use clawshim_core::media::MediaError;
use clawshim_core::openai::error::ApiError;
use clawshim_core::prompt::{InputError, PromptError};

use crate::ops::gateway_status;
use crate::request::ctx::RequestCtx;
use crate::run::admission::Refusal;

/// Which token budget of a key a 429 `InsufficientQuota` found used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPeriod {
    /// `daily_token_budget`, per UTC day.
    Day,
    /// `monthly_token_budget`, per UTC month.
    Month,
}

/// Which limit a 429 `TooManyRequests` hit; each has its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Too many failed logins from the client's address (`auth.max_failed_attempts`).
    FailedLogins,
    /// The key's `requests_per_minute`.
    KeyRequestRate,
    /// Every run slot is taken (`limits.max_concurrent_runs`).
    Runs,
    /// Every run slot of the key is taken (its `max_concurrent_runs`, or its default share).
    KeyRuns,
}

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
    /// The body did not arrive within `limits.body_timeout_secs`, or fell behind
    /// `limits.body_min_bytes_per_sec` ([`crate::request::body`]).
    #[error("request body not received in time")]
    BodyTimeout {
        timeout_secs: u64,
        min_bytes_per_sec: u64,
    },
    /// An image over the gateway's limits (or the fetch cap).
    #[error("{message}")]
    MediaTooLarge {
        message: String,
        param: Option<String>,
    },
    /// A `previous_response_id` this caller cannot continue: unknown, altered, or another
    /// key's (one answer for all, as OpenAI gives for an id it does not have).
    #[error("previous response {id} not found")]
    PreviousResponseNotFound { id: String },
    /// The gateway serves no `/v1/embeddings`.
    #[error("the gateway has no embeddings endpoint")]
    NoEmbeddings,
    /// The key used its token budget of the day or the month (429 `insufficient_quota`,
    /// OpenAI's code for an account out of credit; no retry helps before the period ends).
    #[error("token budget of the {period:?} used ({budget} tokens)")]
    InsufficientQuota { period: BudgetPeriod, budget: u64 },
    /// A limit on the client, its key or the runs in flight (429 with `Retry-After`).
    #[error("too many requests: {limit:?}")]
    TooManyRequests { limit: Limit, retry_after_secs: u64 },
    /// The runs waiting for the gateway hold `limits.max_run_bytes_in_flight` already.
    #[error("run requests in flight hold more than {limit} bytes")]
    RunBytesFull { limit: u64 },
    /// Every body-parsing slot stayed taken for the whole wait (`limits.max_concurrent_bodies`).
    #[error("too many request bodies being read at once")]
    Busy { retry_after_secs: u64 },
    /// The caller's key or address held its share of the body slots for the whole wait
    /// (`limits.max_concurrent_bodies_per_client`).
    #[error("too many request bodies from this client being read at once")]
    BodiesPerClient { retry_after_secs: u64 },
    /// The gateway's run queue is full, or a run waited in it past its bound
    /// (`admission`): 429 or 503 with `Retry-After`.
    #[error("gateway overloaded: {refusal:?}")]
    Overloaded {
        refusal: Refusal,
        retry_after_secs: u64,
    },
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
            param: Some(e.param().into()),
        }
    }
}

impl From<MediaError> for HttpError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Invalid(e) => e.into(),
            MediaError::TooLarge { message, param } => HttpError::MediaTooLarge { message, param },
        }
    }
}

impl From<InputError> for HttpError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Prompt(e) => e.into(),
            InputError::Media(e) => e.into(),
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
            HttpError::PreviousResponseNotFound { .. } => 400,
            HttpError::NotFound { .. }
            | HttpError::ModelNotFound { .. }
            | HttpError::NoEmbeddings => 404,
            HttpError::MethodNotAllowed { .. } => 405,
            HttpError::BodyTimeout { .. } => 408,
            HttpError::PayloadTooLarge { .. } | HttpError::MediaTooLarge { .. } => 413,
            HttpError::TooManyRequests { .. }
            | HttpError::InsufficientQuota { .. }
            | HttpError::BodiesPerClient { .. } => 429,
            HttpError::Busy { .. } | HttpError::RunBytesFull { .. } => 503,
            HttpError::Overloaded { refusal, .. } => match refusal {
                Refusal::QueueFull => 429,
                Refusal::QueueTimeout => 503,
            },
            HttpError::Internal(_) => 500,
            HttpError::BadGateway(_) => 502,
            HttpError::Gateway(g) => match g {
                GatewayError::NotConnected { .. } | GatewayError::ShuttingDown => 503,
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
                GatewayError::DuplicateRun(_) => 409,
                GatewayError::FrameTooLarge { .. } => 413,
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
            HttpError::PayloadTooLarge { .. } | HttpError::MediaTooLarge { .. } => {
                "payload_too_large"
            }
            HttpError::BodyTimeout { .. } => "body_timeout",
            HttpError::PreviousResponseNotFound { .. } => "previous_response_not_found",
            HttpError::NoEmbeddings => "no_embeddings",
            HttpError::InsufficientQuota { .. } => "insufficient_quota",
            HttpError::TooManyRequests { limit, .. } => match limit {
                Limit::FailedLogins => "failed_auth_lockout",
                Limit::KeyRequestRate => "key_rate_limited",
                Limit::Runs => "run_slots_full",
                Limit::KeyRuns => "key_run_slots_full",
            },
            HttpError::Busy { .. } => "busy",
            HttpError::BodiesPerClient { .. } => "bodies_per_client",
            HttpError::RunBytesFull { .. } => "run_bytes_full",
            HttpError::Overloaded { refusal, .. } => match refusal {
                Refusal::QueueFull => "run_queue_full",
                Refusal::QueueTimeout => "run_queue_timeout",
            },
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
                GatewayError::DuplicateRun(_) => "idempotency_key_in_use",
                GatewayError::ShuttingDown => "server_shutting_down",
                GatewayError::FrameTooLarge { .. } => "frame_too_large",
            },
        }
    }

    /// A write to the client failed: it is gone (or too slow for the write timeout).
    pub fn client_write(e: Box<pingora::Error>) -> HttpError {
        HttpError::Internal(format!("client write failed: {e}"))
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
                ApiError::permission_error(message.clone()).with_code("permission_denied")
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
            HttpError::BodyTimeout {
                timeout_secs,
                min_bytes_per_sec,
            } => ApiError::invalid_request_error(format!(
                "The request body did not arrive in time: clawshim waits at most \
                 {timeout_secs} s for a whole body, and cuts one sent slower than \
                 {min_bytes_per_sec} bytes per second on average."
            ))
            .with_code("request_timeout"),
            HttpError::MediaTooLarge { message, param } => {
                let e = ApiError::invalid_request_error(message.clone()).with_code("request_too_large");
                match param {
                    Some(p) => e.with_param(p.clone()),
                    None => e,
                }
            }
            // OpenAI's own answer to an id it does not have (400, this code and wording).
            HttpError::PreviousResponseNotFound { id } => ApiError::invalid_request_error(
                format!("Previous response with id '{id}' not found."),
            )
            .with_param("previous_response_id")
            .with_code("previous_response_not_found"),
            HttpError::NoEmbeddings => ApiError::invalid_request_error(
                "The gateway has no embeddings endpoint: clawdbot 2026.1.24 serves none, and \
                 openclaw serves `/v1/embeddings` only while one of its OpenAI endpoints \
                 (`gateway.http.endpoints.chatCompletions` or `responses`) is enabled.",
            )
            .with_code("unknown_url"),
            HttpError::InsufficientQuota { period, budget } => ApiError::new(
                "insufficient_quota",
                match period {
                    BudgetPeriod::Day => format!(
                        "This API key has used its daily token budget ({budget} tokens, \
                         daily_token_budget); it starts again at 00:00 UTC."
                    ),
                    BudgetPeriod::Month => format!(
                        "This API key has used its monthly token budget ({budget} tokens, \
                         monthly_token_budget); it starts again on the 1st at 00:00 UTC."
                    ),
                },
            )
            .with_code("insufficient_quota"),
            HttpError::TooManyRequests { limit, .. } => ApiError::rate_limit_error(match limit {
                Limit::FailedLogins => {
                    "Too many failed authentication attempts from this address; retry after \
                     the time in Retry-After."
                }
                Limit::KeyRequestRate => {
                    "This API key has used its requests per minute (requests_per_minute); \
                     retry after the time in Retry-After."
                }
                Limit::Runs => "Too many runs in flight on this server; retry shortly.",
                Limit::KeyRuns => "This API key has too many runs in flight; retry shortly.",
            })
            .with_code("rate_limit_exceeded"),
            HttpError::RunBytesFull { limit } => ApiError::server_error(format!(
                "clawshim holds too many bytes of runs waiting for the gateway \
                 (limits.max_run_bytes_in_flight = {limit}); retry shortly."
            ))
            .with_code("server_busy"),
            HttpError::Busy { .. } => ApiError::server_error(
                "clawshim is reading too many request bodies at once; retry shortly.",
            )
            .with_code("server_busy"),
            HttpError::BodiesPerClient { .. } => ApiError::rate_limit_error(
                "Too many request bodies from this API key or address are being read at once; \
                 retry shortly.",
            )
            .with_code("rate_limit_exceeded"),
            HttpError::Overloaded { refusal, .. } => match refusal {
                Refusal::QueueFull => ApiError::rate_limit_error(
                    "The agent gateway is at capacity and its run queue is full; retry shortly.",
                )
                .with_code("gateway_queue_full"),
                Refusal::QueueTimeout => ApiError::server_error(
                    "The agent gateway is overloaded: the run waited too long for a slot; retry later.",
                )
                .with_code("gateway_overloaded"),
            },
            HttpError::BadGateway(_) => {
                ApiError::api_error("The gateway did not answer the proxied request.")
                    .with_code("bad_gateway")
            }
            HttpError::Internal(_) => ApiError::api_error("Internal error in clawshim.")
                .with_code("internal_error"),
            HttpError::Gateway(g) => match g {
                GatewayError::NotConnected { reason } => ApiError::server_error(format!(
                    "The agent gateway is not available: {}",
                    gateway_status::not_connected(reason)
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
                // Run ids are fresh UUIDs unless derived from an Idempotency-Key.
                GatewayError::DuplicateRun(_) => ApiError::invalid_request_error(
                    "A request with this Idempotency-Key is still running; retry once it has finished to get its result.",
                )
                .with_param("Idempotency-Key")
                .with_code("idempotency_key_in_use"),
                GatewayError::ShuttingDown => ApiError::server_error(
                    "clawshim is shutting down and its grace period is over; the run was stopped.",
                )
                .with_code("server_shutting_down"),
                GatewayError::FrameTooLarge { size, limit } => {
                    ApiError::invalid_request_error(format!(
                        "Request too large for the gateway: the run would be a {size}-byte \
                         frame, and the gateway accepts at most {limit} bytes per frame \
                         (its policy.maxPayload). Shorten the messages or send fewer images."
                    ))
                    .with_code("request_too_large")
                }
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

/// Record `err` for the access line and the metrics: its kind, and for our own failures
/// (`Internal`, `BadGateway`) and a missing gateway connection its detail, which the client
/// never sees.
pub fn record(ctx: &mut RequestCtx, err: &HttpError) {
    ctx.error_kind = Some(err.kind());
    match err {
        HttpError::Internal(detail) | HttpError::BadGateway(detail) => {
            ctx.error_detail = Some(detail.clone());
        }
        HttpError::Gateway(GatewayError::NotConnected { reason }) => {
            ctx.error_detail = Some(gateway_status::not_connected_detail(reason));
        }
        _ => {}
    }
}

/// How a passthrough request that pingora could not complete is answered: the status the
/// client gets (0 when it is gone and gets nothing) and the error written for it.
pub fn proxy_failure(e: &pingora::Error) -> (u16, Option<HttpError>) {
    use pingora::{ErrorSource, ErrorType};
    let code = match e.etype() {
        ErrorType::HTTPStatus(code) => *code,
        _ => match e.esource() {
            ErrorSource::Upstream => 502,
            ErrorSource::Downstream => match e.etype() {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                _ => 400,
            },
            ErrorSource::Internal | ErrorSource::Unset => 500,
        },
    };
    let err = match code {
        0 => None,
        400 => Some(HttpError::BadRequest {
            message: "Malformed request.".into(),
            param: None,
        }),
        502..=504 => Some(HttpError::BadGateway(e.to_string())),
        _ => Some(HttpError::Internal(e.to_string())),
    };
    (code, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_map_to_statuses() {
        let nc = HttpError::Gateway(GatewayError::NotConnected {
            reason: clawshim_core::gateway::NotConnected::Connecting,
        });
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
        let too_big = HttpError::Gateway(GatewayError::FrameTooLarge {
            size: 600_000,
            limit: 524_288,
        });
        assert_eq!(too_big.status(), 413);
        assert!(!too_big.run_may_have_started());
        let body: serde_json::Value = serde_json::from_slice(&too_big.body()).unwrap();
        assert_eq!(body["error"]["code"], "request_too_large");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("524288"));
        assert_eq!(
            HttpError::Busy {
                retry_after_secs: 1
            }
            .status(),
            503
        );
        assert_eq!(
            HttpError::Gateway(GatewayError::Disconnected { reason: "x".into() }).status(),
            502
        );
    }

    #[test]
    fn each_limit_says_which_it_is() {
        let limits = [
            (Limit::FailedLogins, "failed authentication"),
            (Limit::KeyRequestRate, "requests per minute"),
            (Limit::Runs, "runs in flight on this server"),
            (Limit::KeyRuns, "API key has too many runs in flight"),
        ];
        for (limit, words) in limits {
            let e = HttpError::TooManyRequests {
                limit,
                retry_after_secs: 3,
            };
            assert_eq!(e.status(), 429);
            let message = e.api_error().message;
            assert!(message.contains(words), "{limit:?}: {message}");
        }
    }

    #[test]
    fn pingora_errors_map_to_statuses() {
        use pingora::{Error, ErrorType};
        let (code, err) = proxy_failure(&Error::new_up(ErrorType::ConnectRefused));
        assert_eq!(code, 502);
        assert!(matches!(err, Some(HttpError::BadGateway(_))));
        let (code, err) = proxy_failure(&Error::new_down(ErrorType::WriteError));
        assert_eq!((code, err.is_none()), (0, true));
        let (code, err) = proxy_failure(&Error::new_down(ErrorType::InvalidHTTPHeader));
        assert_eq!(code, 400);
        assert!(matches!(err, Some(HttpError::BadRequest { .. })));
        let (code, err) = proxy_failure(&Error::new(ErrorType::HTTPStatus(504)));
        assert_eq!(code, 504);
        assert!(matches!(err, Some(HttpError::BadGateway(_))));
        let (code, err) = proxy_failure(&Error::new_in(ErrorType::InternalError));
        assert_eq!(code, 500);
        assert!(matches!(err, Some(HttpError::Internal(_))));
    }

    #[test]
    fn our_failures_keep_their_detail_for_the_access_line() {
        let mut ctx = RequestCtx::new();
        record(&mut ctx, &HttpError::Internal("serializer broke".into()));
        assert_eq!(ctx.error_kind, Some("internal"));
        assert_eq!(ctx.error_detail.as_deref(), Some("serializer broke"));
        let mut ctx = RequestCtx::new();
        record(&mut ctx, &HttpError::Unauthorized);
        assert_eq!(
            (ctx.error_kind, ctx.error_detail),
            (Some("unauthorized"), None)
        );
    }

    #[test]
    fn unavailable_bodies_name_no_url_and_quote_no_refusal() {
        use clawshim_core::gateway::{ConnectFailure, NotConnected};
        let failures = [
            ConnectFailure::Unreachable {
                url: "ws://10.1.2.3:18789".into(),
                detail: "Connection refused (os error 111)".into(),
            },
            ConnectFailure::Refused {
                code: "INVALID_REQUEST".into(),
                message: "unauthorized: gateway token mismatch".into(),
                detail_code: None,
            },
            ConnectFailure::HandshakeTimeout {
                url: "wss://gw.internal:443".into(),
            },
        ];
        for failure in failures {
            let err = HttpError::Gateway(GatewayError::NotConnected {
                reason: NotConnected::Failed(failure),
            });
            let body = String::from_utf8(err.body().to_vec()).unwrap();
            for secret in ["10.1.2.3", "18789", "os error", "mismatch", "gw.internal"] {
                assert!(!body.contains(secret), "{body}");
            }
            assert!(body.contains("gateway_unavailable"), "{body}");
            // The operator still gets the whole story on the access line.
            let mut ctx = RequestCtx::new();
            record(&mut ctx, &err);
            let detail = ctx.error_detail.unwrap();
            assert!(
                ["10.1.2.3", "mismatch", "gw.internal"]
                    .iter()
                    .any(|s| detail.contains(s)),
                "{detail}"
            );
        }
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
