//! `tool_choice`: what clawshim can honour, and a 400 naming the value for the rest.
//!
//! openclaw's endpoints (`applyToolChoice`, docs/client-tools.md) support `auto`, `none`
//! (no client tool is offered), `required` (a call must come: the prompt says so and an
//! answer without one fails) and a forced function (only that tool is offered, and it must
//! be called). Other choices (`allowed_tools`, `custom`, hosted tools, `mcp`) are refused
//! there too. The same values are accepted here, in both wire forms:
//! `{"type":"function","function":{"name":N}}` (chat) and `{"type":"function","name":N}`
//! (Responses; openclaw accepts either on `/v1/responses`).
//!
//! A choice is checked against the tools that are kept ([`super::ToolList`]): forcing a
//! tool that is not one of them, or `required` with none, is a 400. When the request's tools
//! are ignored (a gateway that cannot run them, or `client_tools = "off"`),
//! [`ToolChoice::check_ignored`] refuses `required` and a forced function: answering with
//! plain text would silently change what the caller asked for (pydantic-ai's structured
//! output, for one, sends `required` and retries plain text until it gives up).

use serde_json::Value;

use super::list::ToolList;
use crate::error::RequestError;

/// A request's tool choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// The model decides (also when absent).
    #[default]
    Auto,
    /// No client tool is offered.
    None,
    /// The answer must call one of the tools.
    Required,
    /// The answer must call this tool.
    Function(String),
}

impl ToolChoice {
    /// Parses `tool_choice` (`null` or absent: [`ToolChoice::Auto`]).
    pub fn parse(value: &Value) -> Result<ToolChoice, RequestError> {
        match value {
            Value::Null => Ok(ToolChoice::Auto),
            Value::String(s) => match s.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" => Ok(ToolChoice::Required),
                other => Err(unsupported(&format!("`{}`", shorten(other)))),
            },
            Value::Object(o) => {
                let kind = match o.get("type") {
                    Some(Value::String(kind)) => kind.as_str(),
                    _ => {
                        return Err(RequestError::new(
                            "Invalid 'tool_choice.type': must be a string.",
                            Some("tool_choice.type".into()),
                        ))
                    }
                };
                if kind != "function" {
                    return Err(unsupported(&format!("of type `{}`", shorten(kind))));
                }
                let name = match (o.get("name"), o.get("function")) {
                    (Some(Value::String(n)), _) => n,
                    (_, Some(Value::Object(f))) => match f.get("name") {
                        Some(Value::String(n)) => n,
                        _ => return Err(missing_name()),
                    },
                    _ => return Err(missing_name()),
                };
                if name.is_empty() {
                    return Err(missing_name());
                }
                Ok(ToolChoice::Function(name.clone()))
            }
            _ => Err(RequestError::new(
                "Invalid 'tool_choice': must be a string or an object.",
                Some("tool_choice".into()),
            )),
        }
    }

    /// Whether the choice can be met with the tools that are kept.
    pub fn check_against(&self, list: &ToolList) -> Result<(), RequestError> {
        match self {
            ToolChoice::Function(name) if !list.has_function(name) => Err(RequestError::new(
                format!(
                    "tool_choice names the function `{}`, which is not a function tool of this request (only tools of type `function` are run).",
                    shorten(name)
                ),
                Some("tool_choice".into()),
            )),
            ToolChoice::Required if list.tools.is_empty() => Err(RequestError::new(
                "tool_choice `required` needs at least one tool of type `function` (tools of other types are not run).",
                Some("tool_choice".into()),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the choice can be met when the request's tools are ignored; `why` says why
    /// they are (it ends the error message).
    pub fn check_ignored(&self, why: &str) -> Result<(), RequestError> {
        let value = match self {
            ToolChoice::Auto | ToolChoice::None => return Ok(()),
            ToolChoice::Required => "`required`".to_owned(),
            ToolChoice::Function(name) => format!("forcing the function `{}`", shorten(name)),
        };
        Err(RequestError::new(
            format!(
                "tool_choice {value} cannot be honoured: client tools are not run here ({why})."
            ),
            Some("tool_choice".into()),
        ))
    }
}

fn unsupported(what: &str) -> RequestError {
    RequestError::new(
        format!(
            "tool_choice {what} is not supported; use `auto`, `none`, `required` or a function."
        ),
        Some("tool_choice".into()),
    )
}

fn missing_name() -> RequestError {
    RequestError::new(
        "Missing required parameter: 'tool_choice.function.name'.",
        Some("tool_choice".into()),
    )
}

/// At most 64 characters of a caller's value, for a message.
fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list(names: &[&str]) -> ToolList {
        let tools: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "function", "function": {"name": n}}))
            .collect();
        ToolList::from_chat(&Value::Array(tools)).unwrap()
    }

    #[test]
    fn the_supported_values_in_both_wire_forms() {
        let cases = [
            (json!(null), ToolChoice::Auto),
            (json!("auto"), ToolChoice::Auto),
            (json!("none"), ToolChoice::None),
            (json!("required"), ToolChoice::Required),
            (
                json!({"type": "function", "function": {"name": "f"}}),
                ToolChoice::Function("f".into()),
            ),
            (
                json!({"type": "function", "name": "f"}),
                ToolChoice::Function("f".into()),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(ToolChoice::parse(&value).unwrap(), want, "{value}");
        }
    }

    #[test]
    fn other_values_are_a_400_naming_them() {
        let cases = [
            (json!("any"), "`any`"),
            (
                json!({"type": "allowed_tools", "mode": "auto", "tools": []}),
                "`allowed_tools`",
            ),
            (json!({"type": "custom", "name": "apply_patch"}), "`custom`"),
            (
                json!({"type": "web_search_preview"}),
                "`web_search_preview`",
            ),
        ];
        for (value, named) in cases {
            let err = ToolChoice::parse(&value).unwrap_err();
            assert!(err.message.contains(named), "{}", err.message);
            assert_eq!(err.param.as_deref(), Some("tool_choice"));
        }
        for value in [
            json!(3),
            json!({"type": "function"}),
            json!({"type": "function", "function": {"name": ""}}),
            json!({}),
        ] {
            assert!(ToolChoice::parse(&value).is_err(), "{value}");
        }
    }

    #[test]
    fn a_choice_must_be_met_by_the_kept_tools() {
        assert!(ToolChoice::Function("f".into())
            .check_against(&list(&["f"]))
            .is_ok());
        let err = ToolChoice::Function("web_search".into())
            .check_against(&list(&["f"]))
            .unwrap_err();
        assert!(err.message.contains("`web_search`"), "{}", err.message);
        assert!(ToolChoice::Required.check_against(&list(&[])).is_err());
        assert!(ToolChoice::Required.check_against(&list(&["f"])).is_ok());
        assert!(ToolChoice::None.check_against(&list(&[])).is_ok());
        assert!(ToolChoice::Auto.check_against(&list(&[])).is_ok());
    }

    #[test]
    fn required_or_forced_is_refused_where_tools_are_ignored() {
        let why = "the gateway is clawdbot 2026.1.24";
        assert!(ToolChoice::Auto.check_ignored(why).is_ok());
        assert!(ToolChoice::None.check_ignored(why).is_ok());
        let err = ToolChoice::Required.check_ignored(why).unwrap_err();
        assert_eq!(
            err.message,
            "tool_choice `required` cannot be honoured: client tools are not run here (the gateway is clawdbot 2026.1.24)."
        );
        let err = ToolChoice::Function("final_result".into())
            .check_ignored(why)
            .unwrap_err();
        assert!(err.message.contains("forcing the function `final_result`"));
    }
}
