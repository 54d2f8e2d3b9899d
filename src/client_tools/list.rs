//! A request's `tools`: the function tools kept, every other type dropped.
//!
//! openclaw runs client tools of type `function` only: its chat endpoint answers any other
//! type with 400 `only function tools are supported`, its Responses endpoint with 400
//! `tools.N.type: Invalid input: expected "function"` (docs/client-tools.md). Clients send
//! others beside their functions (Codex CLI: `web_search`, `namespace` for MCP servers,
//! `custom` for its free-form `apply_patch`; the Agents SDK: hosted tools), and OpenAI
//! serves them all. clawshim keeps the functions, so they work, and drops the rest: a
//! dropped tool is one the model is not offered, as if the client had not sent it.
//!
//! A function tool is `{"type":"function","function":{"name",...}}` in chat and
//! `{"type":"function","name",...}` in the Responses API. Kept: `name`, `description`
//! (a string), `parameters` (an object), `strict` (a boolean), as the gateway keeps them.
//!
//! A second function with exactly the name of an earlier one is dropped too (its calls could
//! not be told apart).
//!
//! A tool definition is the caller's text and reaches the model as such, so it is bounded
//! here: at most [`MAX_TOOLS`] tools, names as OpenAI allows them (`[A-Za-z0-9_-]`, at most
//! [`MAX_NAME_LEN`]), descriptions of at most [`MAX_DESCRIPTION_BYTES`], and `parameters`
//! schemas at most [`MAX_SCHEMA_DEPTH`] levels deep and [`MAX_SCHEMA_BYTES`] long. The body
//! size limit bounds the whole list.

use serde_json::{json, Map, Value};

use crate::error::RequestError;

/// Most tools in one request (OpenAI's own limit).
pub const MAX_TOOLS: usize = 128;
/// Longest tool name (OpenAI's limit).
pub const MAX_NAME_LEN: usize = 64;
/// Longest tool description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 16 * 1024;
/// Deepest `parameters` schema (objects and arrays nested).
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// Longest `parameters` schema, in bytes of JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// One function tool as the gateway gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTool {
    /// The name (the caller's, until [`super::NameMap`] renames it).
    pub name: String,
    /// What the tool does, for the model.
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Option<Map<String, Value>>,
    /// OpenAI's strict-schema flag, passed on.
    pub strict: Option<bool>,
}

impl ClientTool {
    /// The chat-completions form: `{"type":"function","function":{...}}`.
    pub fn chat_json(&self) -> Value {
        let mut function = Map::new();
        function.insert("name".into(), json!(self.name));
        if let Some(d) = &self.description {
            function.insert("description".into(), json!(d));
        }
        if let Some(p) = &self.parameters {
            function.insert("parameters".into(), Value::Object(p.clone()));
        }
        if let Some(s) = self.strict {
            function.insert("strict".into(), json!(s));
        }
        json!({"type": "function", "function": function})
    }
}

/// The tools of one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolList {
    /// The function tools, in request order.
    pub tools: Vec<ClientTool>,
    /// The `type` of each dropped tool, in request order.
    pub dropped: Vec<String>,
}

/// Where a tool's fields are: chat nests them under `function`, Responses does not.
#[derive(Clone, Copy)]
enum Shape {
    Chat,
    Responses,
}

impl ToolList {
    /// A chat request's `tools` (`null` or absent: no tools).
    pub fn from_chat(tools: &Value) -> Result<ToolList, RequestError> {
        Self::parse(tools, Shape::Chat)
    }

    /// A Responses request's `tools`.
    pub fn from_responses(tools: &Value) -> Result<ToolList, RequestError> {
        Self::parse(tools, Shape::Responses)
    }

    /// Whether a function tool of that name was kept.
    pub fn has_function(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t.name == name)
    }

    fn parse(tools: &Value, shape: Shape) -> Result<ToolList, RequestError> {
        let items = match tools {
            Value::Null => return Ok(ToolList::default()),
            Value::Array(items) => items,
            _ => return Err(bad("tools", "must be an array")),
        };
        if items.len() > MAX_TOOLS {
            return Err(RequestError::new(
                format!(
                    "Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}, but got an array with length {} instead.",
                    items.len()
                ),
                Some("tools".into()),
            ));
        }
        let mut list = ToolList::default();
        for (i, item) in items.iter().enumerate() {
            let at = format!("tools[{i}]");
            let Value::Object(tool) = item else {
                return Err(bad(&at, "must be an object"));
            };
            let kind = match tool.get("type") {
                Some(Value::String(kind)) => kind.as_str(),
                _ => return Err(bad(&format!("{at}.type"), "must be a string")),
            };
            if kind != "function" {
                list.dropped.push(kind.chars().take(64).collect());
                continue;
            }
            let (fields, base) = match shape {
                Shape::Responses => (tool, at),
                Shape::Chat => match tool.get("function") {
                    Some(Value::Object(f)) => (f, format!("{at}.function")),
                    _ => return Err(bad(&format!("{at}.function"), "must be an object")),
                },
            };
            let tool = function_tool(fields, &base)?;
            if list.has_function(&tool.name) {
                // A second definition under the same name could never be told apart in a
                // call: the first one is kept.
                list.dropped.push("function".into());
                continue;
            }
            list.tools.push(tool);
        }
        Ok(list)
    }
}

/// One function tool's fields, checked.
fn function_tool(fields: &Map<String, Value>, base: &str) -> Result<ClientTool, RequestError> {
    let name = match fields.get("name") {
        Some(Value::String(name)) => name,
        _ => return Err(bad(&format!("{base}.name"), "must be a string")),
    };
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(RequestError::new(
            format!(
                "Invalid '{base}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,{MAX_NAME_LEN}}}$'."
            ),
            Some(format!("{base}.name")),
        ));
    }
    let description = match fields.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.len() <= MAX_DESCRIPTION_BYTES => Some(d.clone()),
        Some(Value::String(_)) => {
            return Err(bad(
                &format!("{base}.description"),
                &format!("is longer than {MAX_DESCRIPTION_BYTES} bytes"),
            ))
        }
        Some(_) => return Err(bad(&format!("{base}.description"), "must be a string")),
    };
    let parameters = match fields.get("parameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            let param = format!("{base}.parameters");
            if depth(&fields["parameters"]) > MAX_SCHEMA_DEPTH {
                return Err(bad(
                    &param,
                    &format!("is nested deeper than {MAX_SCHEMA_DEPTH} levels"),
                ));
            }
            let bytes = serde_json::to_vec(p).map_or(usize::MAX, |v| v.len());
            if bytes > MAX_SCHEMA_BYTES {
                return Err(bad(
                    &param,
                    &format!("is longer than {MAX_SCHEMA_BYTES} bytes"),
                ));
            }
            Some(p.clone())
        }
        Some(_) => return Err(bad(&format!("{base}.parameters"), "must be an object")),
    };
    let strict = match fields.get("strict") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(s)) => Some(*s),
        Some(_) => return Err(bad(&format!("{base}.strict"), "must be a boolean")),
    };
    Ok(ClientTool {
        name: name.clone(),
        description,
        parameters,
        strict,
    })
}

/// Nesting depth of a JSON value (a scalar is 0), without recursion.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

fn bad(param: &str, what: &str) -> RequestError {
    RequestError::new(format!("Invalid '{param}': {what}."), Some(param.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_keeps_function_fields_and_drops_other_types() {
        let list = ToolList::from_chat(&json!([
            {"type": "function", "function": {"name": "get_weather", "description": "w",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
             "strict": true, "x_extra": 1}},
            {"type": "custom", "custom": {"name": "apply_patch"}},
            {"type": "web_search"}
        ]))
        .unwrap();
        assert_eq!(list.dropped, ["custom", "web_search"]);
        assert_eq!(list.tools.len(), 1);
        assert_eq!(
            list.tools[0].chat_json(),
            json!({"type": "function", "function": {"name": "get_weather", "description": "w",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                   "strict": true}})
        );
    }

    #[test]
    fn a_codex_shaped_responses_list_keeps_its_functions() {
        let list = ToolList::from_responses(&json!([
            {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": false},
            {"type": "web_search"},
            {"type": "namespace", "name": "mcp__files", "tools": []},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
            {"type": "function", "name": "update_plan", "description": null}
        ]))
        .unwrap();
        let names: Vec<&str> = list.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["shell", "update_plan"]);
        assert_eq!(list.dropped, ["web_search", "namespace", "custom"]);
        assert!(list.has_function("shell") && !list.has_function("apply_patch"));
    }

    #[test]
    fn an_exact_duplicate_name_keeps_the_first_definition() {
        let list = ToolList::from_chat(&json!([
            {"type": "function", "function": {"name": "f", "description": "first"}},
            {"type": "function", "function": {"name": "f", "description": "second"}},
            {"type": "function", "function": {"name": "F"}}
        ]))
        .unwrap();
        assert_eq!(list.tools.len(), 2);
        assert_eq!(list.tools[0].description.as_deref(), Some("first"));
        assert_eq!(list.dropped, ["function"]);
    }

    #[test]
    fn absent_tools_are_an_empty_list() {
        assert_eq!(
            ToolList::from_chat(&Value::Null).unwrap(),
            ToolList::default()
        );
    }

    #[test]
    fn malformed_tools_name_the_parameter() {
        let cases = [
            (json!({}), "tools"),
            (json!([1]), "tools[0]"),
            (json!([{"function": {"name": "f"}}]), "tools[0].type"),
            (json!([{"type": "function"}]), "tools[0].function"),
            (
                json!([{"type": "function", "function": {}}]),
                "tools[0].function.name",
            ),
            (
                json!([{"type": "function", "function": {"name": "has space"}}]),
                "tools[0].function.name",
            ),
            (
                json!([{"type": "function", "function": {"name": "f", "parameters": []}}]),
                "tools[0].function.parameters",
            ),
            (
                json!([{"type": "function", "function": {"name": "f", "strict": "yes"}}]),
                "tools[0].function.strict",
            ),
            (
                json!([{"type": "function", "function": {"name": "f", "description": 3}}]),
                "tools[0].function.description",
            ),
        ];
        for (tools, param) in cases {
            let err = ToolList::from_chat(&tools).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{tools}");
        }
        let err = ToolList::from_responses(&json!([{"type": "function"}])).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tools[0].name"));
    }

    #[test]
    fn counts_names_and_schemas_are_capped() {
        let one = json!({"type": "function", "function": {"name": "f"}});
        let many = Value::Array(vec![one; MAX_TOOLS + 1]);
        assert!(ToolList::from_chat(&many)
            .unwrap_err()
            .message
            .contains("maximum length 128"));
        let long_name = "n".repeat(MAX_NAME_LEN + 1);
        assert!(
            ToolList::from_chat(&json!([{"type":"function","function":{"name": long_name}}]))
                .is_err()
        );
        let ok_name = "n".repeat(MAX_NAME_LEN);
        assert!(
            ToolList::from_chat(&json!([{"type":"function","function":{"name": ok_name}}])).is_ok()
        );

        let mut deep = json!({"type": "string"});
        for _ in 0..MAX_SCHEMA_DEPTH {
            deep = json!({"items": deep});
        }
        let err = ToolList::from_chat(
            &json!([{"type":"function","function":{"name":"f","parameters": deep}}]),
        )
        .unwrap_err();
        assert!(err.message.contains("nested deeper"), "{}", err.message);

        let big = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        let err = ToolList::from_chat(
            &json!([{"type":"function","function":{"name":"f","parameters": big}}]),
        )
        .unwrap_err();
        assert!(err.message.contains("longer than"), "{}", err.message);
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}]})), 4);
    }
}
