//! The OpenAI error envelope: `{"error":{"message","type","param","code"}}`.
//!
//! `param` and `code` are always present (as `null` when unknown), as OpenAI sends them, so
//! SDKs that index them never fail. The `type` values are OpenAI's.

use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// The body of an error response, and of the SSE error event sent once a stream has started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

impl From<ApiError> for ErrorBody {
    fn from(error: ApiError) -> Self {
        ErrorBody { error }
    }
}

/// One OpenAI-style error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Human-readable reason.
    pub message: String,
    /// OpenAI's error class, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub r#type: String,
    /// The offending request parameter, when there is one.
    pub param: Option<String>,
    /// A machine-readable code, when there is one.
    pub code: Option<String>,
}

impl ApiError {
    /// An error of any `type`.
    pub fn new(r#type: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            r#type: r#type.into(),
            param: None,
            code: None,
        }
    }

    /// 400: the request is malformed or cannot be served.
    pub fn invalid_request_error(message: impl Into<String>) -> Self {
        Self::new("invalid_request_error", message)
    }

    /// 401: missing or wrong API key.
    pub fn authentication_error(message: impl Into<String>) -> Self {
        Self::new("authentication_error", message)
    }

    /// 403: the key may not do this.
    pub fn permission_error(message: impl Into<String>) -> Self {
        Self::new("permission_error", message)
    }

    /// 404: unknown route, model or agent.
    pub fn not_found_error(message: impl Into<String>) -> Self {
        Self::new("not_found_error", message)
    }

    /// 429: too many requests in flight.
    pub fn rate_limit_error(message: impl Into<String>) -> Self {
        Self::new("rate_limit_error", message)
    }

    /// 500/502: something failed on our side or on the gateway.
    #[allow(
        clippy::self_named_constructors,
        reason = "`api_error` is OpenAI's name for the error type"
    )]
    pub fn api_error(message: impl Into<String>) -> Self {
        Self::new("api_error", message)
    }

    /// 503: the gateway is unreachable or overloaded.
    pub fn server_error(message: impl Into<String>) -> Self {
        Self::new("server_error", message)
    }

    /// 504: the run or the gateway did not answer in time.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new("timeout_error", message)
    }

    /// Sets `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Wraps it in the `{"error": ...}` envelope.
    pub fn into_body(self) -> ErrorBody {
        ErrorBody { error: self }
    }
}

/// A rejected request is a 400 `invalid_request_error` naming its `param`.
impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        let api = ApiError::invalid_request_error(err.message);
        match err.param {
            Some(param) => api.with_param(param),
            None => api,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn param_and_code_are_null_when_unknown() {
        let body = ApiError::invalid_request_error("bad").into_body();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"error": {"message": "bad", "type": "invalid_request_error",
                             "param": null, "code": null}})
        );
    }

    #[test]
    fn param_and_code_are_set_by_builders() {
        let e = ApiError::not_found_error("no such model")
            .with_param("model")
            .with_code("model_not_found");
        let v = serde_json::to_value(ErrorBody::from(e)).unwrap();
        assert_eq!(v["error"]["type"], "not_found_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["code"], "model_not_found");
    }

    #[test]
    fn constructors_use_openai_types() {
        let types: Vec<_> = [
            ApiError::authentication_error(""),
            ApiError::permission_error(""),
            ApiError::rate_limit_error(""),
            ApiError::api_error(""),
            ApiError::server_error(""),
            ApiError::timeout(""),
        ]
        .into_iter()
        .map(|e| e.r#type)
        .collect();
        assert_eq!(
            types,
            [
                "authentication_error",
                "permission_error",
                "rate_limit_error",
                "api_error",
                "server_error",
                "timeout_error"
            ]
        );
    }
}
