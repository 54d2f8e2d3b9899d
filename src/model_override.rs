//! The backend model a caller asks a run to use, from the `x-openclaw-model` header.
//!
//! openclaw 2026.9.6's built-in endpoints read `x-openclaw-model` as a model reference,
//! `provider/model` (e.g. `anthropic/claude-sonnet-4-5`) or a bare model id, and pass it to
//! the run as its model override; its `agent` method takes the two halves as `provider` and
//! `model`. clawshim reads the same header, plus the `x-clawdbot-model` and `x-moltbot-model`
//! spellings the agent headers also have (see `routing`). Whether the gateway accepts the
//! override (clawdbot 2026.1.24 has no `model` param) is decided where the run is started.

use crate::error::RequestError;

/// Model headers, highest priority first.
pub const MODEL_HEADERS: [&str; 3] = ["x-openclaw-model", "x-clawdbot-model", "x-moltbot-model"];

/// A requested backend model: the `agent` params `provider` (when given) and `model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOverride {
    /// The provider half of `provider/model`; `None` for a bare model id.
    pub provider: Option<String>,
    /// The model id.
    pub model: String,
}

impl ModelOverride {
    /// Parses one header value; `header` names it in the error.
    ///
    /// The value is trimmed and split at its first `/`: model ids may contain further
    /// slashes (`openrouter/meta-llama/llama-3`), provider names never do.
    pub fn parse(value: &str, header: &str) -> Result<Self, RequestError> {
        let value = value.trim();
        let invalid = |why: &str| {
            RequestError::new(
                format!(
                    "Invalid '{header}' header: {why}. Expected 'provider/model' or a model id."
                ),
                Some(header.to_owned()),
            )
        };
        if value.is_empty() {
            return Err(invalid("empty value"));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid("control characters"));
        }
        match value.split_once('/') {
            None => Ok(ModelOverride {
                provider: None,
                model: value.to_owned(),
            }),
            Some((provider, model)) => {
                let (provider, model) = (provider.trim(), model.trim());
                if provider.is_empty() || model.is_empty() {
                    return Err(invalid("empty provider or model"));
                }
                Ok(ModelOverride {
                    provider: Some(provider.to_owned()),
                    model: model.to_owned(),
                })
            }
        }
    }
}

/// The model override of a request: the first model header present (see [`MODEL_HEADERS`]),
/// parsed; `None` when no such header was sent. `header` returns a request header's value by
/// lower-case name. A header that is present but blank is an error, not "no override": the
/// caller meant something.
pub fn select_model_override(
    header: impl Fn(&str) -> Option<String>,
) -> Result<Option<ModelOverride>, RequestError> {
    for name in MODEL_HEADERS {
        if let Some(value) = header(name) {
            return ModelOverride::parse(&value, name).map(Some);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::headers;

    #[test]
    fn provider_and_model_are_split_at_the_first_slash() {
        assert_eq!(
            ModelOverride::parse(" mock/mock-echo ", "x-openclaw-model").unwrap(),
            ModelOverride {
                provider: Some("mock".into()),
                model: "mock-echo".into()
            }
        );
        assert_eq!(
            ModelOverride::parse("openrouter/meta-llama/llama-3", "x-openclaw-model").unwrap(),
            ModelOverride {
                provider: Some("openrouter".into()),
                model: "meta-llama/llama-3".into()
            }
        );
    }

    #[test]
    fn bare_model_id_has_no_provider() {
        assert_eq!(
            ModelOverride::parse("gpt-5", "x-openclaw-model").unwrap(),
            ModelOverride {
                provider: None,
                model: "gpt-5".into()
            }
        );
    }

    #[test]
    fn malformed_values_name_the_header() {
        for bad in ["", "   ", "/model", "provider/", "a\nb"] {
            let err = ModelOverride::parse(bad, "x-clawdbot-model").unwrap_err();
            assert_eq!(err.param.as_deref(), Some("x-clawdbot-model"), "{bad:?}");
            assert!(err.message.starts_with("Invalid 'x-clawdbot-model' header"));
        }
    }

    #[test]
    fn first_present_header_wins() {
        assert_eq!(select_model_override(headers(&[])).unwrap(), None);
        let picked = select_model_override(headers(&[
            ("x-moltbot-model", "b/second"),
            ("x-openclaw-model", "a/first"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(picked.model, "first");
        let picked = select_model_override(headers(&[("x-moltbot-model", "m")]))
            .unwrap()
            .unwrap();
        assert_eq!(picked.model, "m");
        let err = select_model_override(headers(&[("x-openclaw-model", " ")])).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-openclaw-model"));
    }
}
