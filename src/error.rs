//! The error of a request clawshim cannot take as sent, at the bottom of the crate: every
//! reader of request input (the body parsers in [`crate::openai`], [`crate::thinking`],
//! [`crate::model_override`], [`crate::media`]) returns it, and nothing here imports them.
//! The proxy maps it to a 400 with OpenAI's error envelope (`crate::openai::ApiError` has the
//! conversion).

use serde_json::Value;

/// Why a request was rejected: an OpenAI-style message and the offending parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// Human-readable reason, worded like OpenAI's.
    pub message: String,
    /// The offending parameter (`messages`, `messages[2].role`, ...), when there is one.
    pub param: Option<String>,
}

impl RequestError {
    /// An error with an OpenAI-style message and the offending parameter.
    pub(crate) fn new(message: impl Into<String>, param: Option<String>) -> Self {
        RequestError {
            message: message.into(),
            param,
        }
    }

    /// `Missing required parameter: '<param>'.`
    pub(crate) fn missing(param: &str) -> Self {
        Self::new(
            format!("Missing required parameter: '{param}'."),
            Some(param.to_owned()),
        )
    }

    /// `Invalid type for '<param>': expected <expected>, but got <type> instead.`
    pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> Self {
        Self::wrong_type(param, expected, json_type(got))
    }

    /// [`Self::invalid_type`] with the type already named.
    pub(crate) fn wrong_type(param: &str, expected: &str, got: &str) -> Self {
        Self::new(
            format!("Invalid type for '{param}': expected {expected}, but got {got} instead."),
            Some(param.to_owned()),
        )
    }
}

/// How OpenAI's error messages name a JSON value's type.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
