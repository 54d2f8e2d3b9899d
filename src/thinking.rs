//! The run's thinking level, from OpenAI's reasoning effort.
//!
//! Chat completions send `reasoning_effort`, the Responses API `reasoning.effort`; both use
//! OpenAI's effort words. The gateway's `agent` method takes `thinking` with its own level
//! names (clawdbot 2026.1.24 and openclaw 2026.9.6 `agent` params schema), which match
//! OpenAI's except that OpenAI's `none` is the gateway's `off`; OpenAI's newer `xhigh` (sent
//! by Codex CLI) becomes `high`, the highest level both versions take. Any other word is a
//! 400 that names the parameter, so a client learns that its effort was not understood
//! instead of silently running at the agent's default.

use serde::Serialize;
use serde_json::Value;

use crate::error::RequestError;

/// A thinking level the gateway understands, serialized as the `agent` param's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingLevel {
    /// No thinking (OpenAI's `none`).
    Off,
    /// OpenAI's `minimal`.
    Minimal,
    /// OpenAI's `low`.
    Low,
    /// OpenAI's `medium`.
    Medium,
    /// OpenAI's `high`.
    High,
}

/// The effort words accepted, as listed in the error message.
const EFFORTS: &str = "'none', 'minimal', 'low', 'medium', and 'high'";

impl ThinkingLevel {
    /// The gateway's name for the level (`off`, `minimal`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ThinkingLevel::Off => "off",
            ThinkingLevel::Minimal => "minimal",
            ThinkingLevel::Low => "low",
            ThinkingLevel::Medium => "medium",
            ThinkingLevel::High => "high",
        }
    }

    /// Reads an OpenAI effort word (case and surrounding space ignored); `param` names the
    /// field in the error.
    pub fn from_effort(effort: &str, param: &str) -> Result<Self, RequestError> {
        match effort.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ThinkingLevel::Off),
            "minimal" => Ok(ThinkingLevel::Minimal),
            "low" => Ok(ThinkingLevel::Low),
            "medium" => Ok(ThinkingLevel::Medium),
            "high" | "xhigh" => Ok(ThinkingLevel::High),
            _ => Err(RequestError::new(
                format!("Invalid value: '{effort}'. Supported values are: {EFFORTS}."),
                Some(param.to_owned()),
            )),
        }
    }

    /// Reads an optional effort field: absent or `null` is `None`, a string is parsed with
    /// [`ThinkingLevel::from_effort`], anything else is a type error naming `param`.
    pub fn from_json(value: Option<&Value>, param: &str) -> Result<Option<Self>, RequestError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(effort)) => Self::from_effort(effort, param).map(Some),
            Some(other) => Err(RequestError::invalid_type(param, "a string", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_efforts_map_to_gateway_levels() {
        let cases = [
            ("none", ThinkingLevel::Off, "off"),
            ("minimal", ThinkingLevel::Minimal, "minimal"),
            ("low", ThinkingLevel::Low, "low"),
            ("medium", ThinkingLevel::Medium, "medium"),
            (" High ", ThinkingLevel::High, "high"),
            ("xhigh", ThinkingLevel::High, "high"),
        ];
        for (effort, level, wire) in cases {
            let parsed = ThinkingLevel::from_effort(effort, "reasoning_effort").unwrap();
            assert_eq!(parsed, level, "{effort}");
            assert_eq!(parsed.as_str(), wire);
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(wire));
        }
    }

    #[test]
    fn unknown_effort_is_rejected_with_its_param() {
        let err = ThinkingLevel::from_effort("extreme", "reasoning.effort").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning.effort"));
        assert_eq!(
            err.message,
            "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', \
             'medium', and 'high'."
        );
        assert!(ThinkingLevel::from_effort("", "reasoning_effort").is_err());
    }

    #[test]
    fn json_field_absent_null_string_or_wrong_type() {
        assert_eq!(ThinkingLevel::from_json(None, "reasoning_effort"), Ok(None));
        assert_eq!(
            ThinkingLevel::from_json(Some(&Value::Null), "reasoning_effort"),
            Ok(None)
        );
        assert_eq!(
            ThinkingLevel::from_json(Some(&json!("low")), "reasoning_effort"),
            Ok(Some(ThinkingLevel::Low))
        );
        let err = ThinkingLevel::from_json(Some(&json!(3)), "reasoning_effort").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning_effort"));
        assert_eq!(
            err.message,
            "Invalid type for 'reasoning_effort': expected a string, but got a number instead."
        );
    }
}
