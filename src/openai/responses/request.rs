//! The `POST /v1/responses` request body, parsed leniently.
//!
//! Real clients send far more than a minimal request: Codex CLI sends its system prompt as
//! `developer` items, `store: false`, `reasoning`, `include`, `prompt_cache_key`,
//! `client_metadata` and tools of types other than `function`; the OpenAI Agents SDK sends
//! items without `"type": "message"`. All of that is accepted. What changes the run:
//! `input`, `instructions`, `previous_response_id`, `stream`, `user`, `model`,
//! `reasoning.effort`, and `metadata` (echoed back). The other documented fields are ignored
//! (the agent owns its tools, sampling and storage; see [`IGNORED_FIELDS`]) and unknown fields
//! are collected in [`ResponsesRequest::unknown_fields`]. Errors name the precise `param`
//! (`input[3].content[1].text`), worded like OpenAI's.
//!
//! Input items: `message` items (with or without `type`), roles `user`, `assistant`,
//! `system`, `developer`, content a string or parts (`input_text`, `output_text`,
//! `input_image`, `input_file`; other part types are ignored); `function_call` and
//! `function_call_output` items (a client's own tool transcript, shown to the agent as text);
//! any other item type (`reasoning`, `item_reference`, `web_search_call`, ...) is ignored.

use serde_json::{Map, Value};

use crate::error::{json_type, RequestError};
use crate::thinking::ThinkingLevel;

/// Documented request fields that are accepted and ignored.
pub const IGNORED_FIELDS: [&str; 19] = [
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tool_calls",
    "store",
    "truncation",
    "text",
    "include",
    "prompt_cache_key",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
    "service_tier",
    "background",
    "safety_identifier",
    "prompt",
    "conversation",
    "stream_options",
];

/// Fields this module reads.
const USED_FIELDS: [&str; 8] = [
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "stream",
    "user",
    "metadata",
    "reasoning",
];

/// A Responses request. Build it with [`parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesRequest {
    /// The requested model; selects the agent like chat's `model`.
    pub model: Option<String>,
    /// The input.
    pub input: ResponsesInput,
    /// Instructions; first part of the run's extra system prompt.
    pub instructions: Option<String>,
    /// The response this one continues (same gateway session).
    pub previous_response_id: Option<String>,
    /// Stream server-sent events.
    pub stream: bool,
    /// End-user id; gives the user a stable gateway session, as in chat.
    pub user: Option<String>,
    /// Client metadata, echoed back in the response object.
    pub metadata: Option<Map<String, Value>>,
    /// `reasoning.effort` as the run's thinking level.
    pub reasoning_effort: Option<ThinkingLevel>,
    /// `store` as sent (echoed; nothing is stored either way).
    pub store: Option<bool>,
    /// Documented fields that were sent (not `null`) and are ignored.
    pub ignored: Vec<&'static str>,
    /// Every field not documented, kept so it can be logged; never an error.
    pub unknown_fields: Map<String, Value>,
}

impl ResponsesRequest {
    /// Names of the fields that were sent and are ignored, documented ones first; for a
    /// debug log.
    pub fn ignored_fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.ignored.clone();
        names.extend(self.unknown_fields.keys().map(String::as_str));
        names
    }
}

/// `input`: a string, or a list of items.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponsesInput {
    /// A single user message.
    Text(String),
    /// Items, in order.
    Items(Vec<InputItem>),
}

/// One input item.
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    /// A message (`"type": "message"`, or no `type` and a `role`).
    Message {
        /// The role.
        role: ItemRole,
        /// The content.
        content: ItemContent,
    },
    /// A tool call the client's model made earlier.
    FunctionCall {
        /// `call_id` (or `id`), empty when absent.
        call_id: String,
        /// The tool name.
        name: String,
        /// The arguments, as sent.
        arguments: String,
    },
    /// The client's result for a tool call.
    FunctionCallOutput {
        /// The call it answers, empty when absent.
        call_id: String,
        /// The output text (text parts joined by a line break when sent as parts).
        output: String,
    },
    /// Any other item type; ignored.
    Ignored {
        /// Its `type`.
        kind: String,
    },
}

/// A message item's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRole {
    /// `user`.
    User,
    /// `assistant` (earlier replies, as history).
    Assistant,
    /// `system`: extra system prompt.
    System,
    /// `developer`: extra system prompt.
    Developer,
}

/// A message item's content.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemContent {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<ItemPart>),
}

/// One content part of a message item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemPart {
    /// `input_text` or `output_text`.
    Text(String),
    /// `input_image`, kept raw (checked by `media::image` when it is used).
    Image(Map<String, Value>),
    /// `input_file`, kept raw (checked by `media::file` when it is used).
    File(Map<String, Value>),
    /// Any other part type (`refusal`, `summary_text`, ...); ignored.
    Other,
}

/// Parses and validates a request body (see the module docs).
pub fn parse(body: &[u8]) -> Result<ResponsesRequest, RequestError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        RequestError::new(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The API expects a JSON payload, \
             but what was sent was not valid JSON.)",
            None,
        )
    })?;
    let Value::Object(mut obj) = value else {
        return Err(RequestError::new(
            format!(
                "Invalid request body: expected a JSON object, but got {} instead.",
                json_type(&value)
            ),
            None,
        ));
    };
    let model = optional_string(&obj, "model", "model")?;
    let instructions = optional_string(&obj, "instructions", "instructions")?;
    let previous_response_id =
        optional_string(&obj, "previous_response_id", "previous_response_id")?;
    let user = optional_string(&obj, "user", "user")?;
    if let Some(user) = &user {
        crate::openai::limits::check_user(user)?;
    }
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(RequestError::invalid_type("stream", "a boolean", other)),
    };
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => return Err(RequestError::invalid_type("metadata", "an object", other)),
    };
    let reasoning_effort = match obj.get("reasoning") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => ThinkingLevel::from_json(r.get("effort"), "reasoning.effort")?,
        Some(other) => return Err(RequestError::invalid_type("reasoning", "an object", other)),
    };
    let store = obj.get("store").and_then(Value::as_bool);
    let input = parse_input(obj.get("input"))?;
    let ignored = IGNORED_FIELDS
        .iter()
        .copied()
        .filter(|name| obj.get(*name).is_some_and(|v| !v.is_null()))
        .collect();
    for name in USED_FIELDS.iter().chain(IGNORED_FIELDS.iter()) {
        obj.remove(*name);
    }
    Ok(ResponsesRequest {
        model,
        input,
        instructions,
        previous_response_id,
        stream,
        user,
        metadata,
        reasoning_effort,
        store,
        ignored,
        unknown_fields: obj,
    })
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<Option<String>, RequestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(RequestError::invalid_type(param, "a string", other)),
    }
}

fn parse_input(input: Option<&Value>) -> Result<ResponsesInput, RequestError> {
    match input {
        None | Some(Value::Null) => Err(RequestError::missing("input")),
        Some(Value::String(text)) => Ok(ResponsesInput::Text(text.clone())),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_item(item, &format!("input[{i}]")))
            .collect::<Result<_, _>>()
            .map(ResponsesInput::Items),
        Some(other) => Err(RequestError::invalid_type(
            "input",
            "a string or an array of input items",
            other,
        )),
    }
}

fn parse_item(item: &Value, param: &str) -> Result<InputItem, RequestError> {
    let Value::Object(obj) = item else {
        return Err(RequestError::invalid_type(param, "an object", item));
    };
    let kind = match obj.get("type") {
        None | Some(Value::Null) if obj.contains_key("role") => "message",
        None | Some(Value::Null) => return Err(RequestError::missing(&format!("{param}.type"))),
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(RequestError::invalid_type(
                &format!("{param}.type"),
                "a string",
                other,
            ))
        }
    };
    let text_field = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match kind {
        "message" => parse_message(obj, param),
        "function_call" => Ok(InputItem::FunctionCall {
            call_id: obj
                .get("call_id")
                .or_else(|| obj.get("id"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            name: text_field("name"),
            arguments: text_field("arguments"),
        }),
        "function_call_output" => Ok(InputItem::FunctionCallOutput {
            call_id: text_field("call_id"),
            output: match obj.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            },
        }),
        other => Ok(InputItem::Ignored {
            kind: other.to_owned(),
        }),
    }
}

fn parse_message(obj: &Map<String, Value>, param: &str) -> Result<InputItem, RequestError> {
    let role_param = format!("{param}.role");
    let role = match obj.get("role") {
        None | Some(Value::Null) => return Err(RequestError::missing(&role_param)),
        Some(Value::String(role)) => match role.as_str() {
            "user" => ItemRole::User,
            "assistant" => ItemRole::Assistant,
            "system" => ItemRole::System,
            "developer" => ItemRole::Developer,
            _ => {
                return Err(RequestError::new(
                    format!(
                        "Invalid value: '{role}'. Supported values are: 'user', 'assistant', \
                         'system', and 'developer'."
                    ),
                    Some(role_param),
                ))
            }
        },
        Some(other) => return Err(RequestError::invalid_type(&role_param, "a string", other)),
    };
    let content_param = format!("{param}.content");
    let content = match obj.get("content") {
        None | Some(Value::Null) => return Err(RequestError::missing(&content_param)),
        Some(Value::String(text)) => ItemContent::Text(text.clone()),
        Some(Value::Array(parts)) => ItemContent::Parts(
            parts
                .iter()
                .enumerate()
                .map(|(j, part)| parse_part(part, &format!("{content_param}[{j}]")))
                .collect::<Result<_, _>>()?,
        ),
        Some(other) => {
            return Err(RequestError::invalid_type(
                &content_param,
                "a string or an array of content parts",
                other,
            ))
        }
    };
    Ok(InputItem::Message { role, content })
}

fn parse_part(part: &Value, param: &str) -> Result<ItemPart, RequestError> {
    let Value::Object(obj) = part else {
        return Err(RequestError::invalid_type(param, "an object", part));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text") => match obj.get("text") {
            Some(Value::String(text)) => Ok(ItemPart::Text(text.clone())),
            None | Some(Value::Null) => Err(RequestError::missing(&format!("{param}.text"))),
            Some(other) => Err(RequestError::invalid_type(
                &format!("{param}.text"),
                "a string",
                other,
            )),
        },
        Some("input_image") => Ok(ItemPart::Image(obj.clone())),
        Some("input_file") => Ok(ItemPart::File(obj.clone())),
        Some(_) => Ok(ItemPart::Other),
        None => Err(RequestError::missing(&format!("{param}.type"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<ResponsesRequest, RequestError> {
        parse(v.to_string().as_bytes())
    }

    fn err_param(v: Value) -> Option<String> {
        parse_json(v).unwrap_err().param
    }

    #[test]
    fn string_input_is_enough() {
        let r = parse_json(json!({"model":"openclaw","input":"hi"})).unwrap();
        assert_eq!(r.input, ResponsesInput::Text("hi".into()));
        assert_eq!(r.model.as_deref(), Some("openclaw"));
        assert!(!r.stream);
        assert!(r.ignored_fields().is_empty());
    }

    #[test]
    fn used_fields_are_typed() {
        let r = parse_json(json!({
            "input": "hi", "instructions": "Be brief.", "previous_response_id": "resp_x",
            "stream": true, "user": "alice", "metadata": {"k": "v"},
            "reasoning": {"effort": "high", "summary": "auto"}, "store": false
        }))
        .unwrap();
        assert_eq!(r.instructions.as_deref(), Some("Be brief."));
        assert_eq!(r.previous_response_id.as_deref(), Some("resp_x"));
        assert!(r.stream);
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.metadata.unwrap()["k"], "v");
        assert_eq!(r.reasoning_effort, Some(ThinkingLevel::High));
        assert_eq!(r.store, Some(false));
        assert_eq!(r.ignored, ["store"]);
    }

    #[test]
    fn codex_and_agents_sdk_requests_are_accepted() {
        // The shape of a Codex CLI request: developer items, tools of several types, store,
        // reasoning, include, prompt_cache_key, client_metadata, parallel_tool_calls.
        let r = parse_json(json!({
            "model": "gpt-5-codex",
            "instructions": "You are Codex.",
            "input": [
                {"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},
                {"type":"message","role":"user","content":[{"type":"input_text","text":"fix it"}]},
                {"type":"reasoning","summary":[],"encrypted_content":"gAAA"},
                {"type":"function_call","call_id":"c1","name":"shell","arguments":"{\"cmd\":\"ls\"}"},
                {"type":"function_call_output","call_id":"c1","output":"a.txt"},
                {"role":"user","content":"and now?"}
            ],
            "tools": [{"type":"function","name":"shell"},{"type":"web_search"},{"type":"namespace","name":"mcp"}],
            "tool_choice": "auto", "parallel_tool_calls": false, "store": false, "stream": true,
            "reasoning": {"effort":"medium","summary":"auto"}, "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "abc", "client_metadata": {"x": 1}, "text": {"verbosity":"low"},
            "truncation": "auto"
        }))
        .unwrap();
        let ResponsesInput::Items(items) = &r.input else {
            panic!()
        };
        assert_eq!(items.len(), 6);
        assert!(matches!(
            items[0],
            InputItem::Message {
                role: ItemRole::Developer,
                ..
            }
        ));
        assert!(matches!(&items[2], InputItem::Ignored { kind } if kind == "reasoning"));
        assert_eq!(
            items[3],
            InputItem::FunctionCall {
                call_id: "c1".into(),
                name: "shell".into(),
                arguments: "{\"cmd\":\"ls\"}".into()
            }
        );
        assert_eq!(
            items[4],
            InputItem::FunctionCallOutput {
                call_id: "c1".into(),
                output: "a.txt".into()
            }
        );
        assert_eq!(
            items[5],
            InputItem::Message {
                role: ItemRole::User,
                content: ItemContent::Text("and now?".into())
            }
        );
        assert_eq!(
            r.ignored_fields(),
            [
                "tools",
                "tool_choice",
                "parallel_tool_calls",
                "store",
                "truncation",
                "text",
                "include",
                "prompt_cache_key",
                "client_metadata"
            ]
        );
        assert!(r.unknown_fields.contains_key("client_metadata"));
    }

    #[test]
    fn earlier_output_items_sent_back_as_input_are_history() {
        // The Agents SDK sends the previous response's output items back verbatim.
        let r = parse_json(json!({"input":[
            {"role":"user","content":"hi"},
            {"id":"msg_1","type":"message","role":"assistant","status":"completed",
             "content":[{"type":"output_text","text":"hello","annotations":[],"logprobs":[]}]},
            {"role":"user","content":"again"}
        ]}))
        .unwrap();
        let ResponsesInput::Items(items) = r.input else {
            panic!()
        };
        assert_eq!(
            items[1],
            InputItem::Message {
                role: ItemRole::Assistant,
                content: ItemContent::Parts(vec![ItemPart::Text("hello".into())])
            }
        );
    }

    #[test]
    fn parts_by_type() {
        let r = parse_json(json!({"input":[{"role":"user","content":[
            {"type":"input_text","text":"a"},
            {"type":"output_text","text":"b","annotations":[]},
            {"type":"input_image","image_url":"data:image/png;base64,AA"},
            {"type":"input_file","file_data":"data:text/plain;base64,AA","filename":"a.txt"},
            {"type":"refusal","refusal":"no"}
        ]}]}))
        .unwrap();
        let ResponsesInput::Items(items) = r.input else {
            panic!()
        };
        let InputItem::Message {
            content: ItemContent::Parts(parts),
            ..
        } = &items[0]
        else {
            panic!()
        };
        assert_eq!(parts[0], ItemPart::Text("a".into()));
        assert_eq!(parts[1], ItemPart::Text("b".into()));
        assert!(matches!(parts[2], ItemPart::Image(_)));
        assert!(matches!(parts[3], ItemPart::File(_)));
        assert_eq!(parts[4], ItemPart::Other);
    }

    #[test]
    fn function_call_output_as_parts_and_odd_values() {
        let r = parse_json(json!({"input":[
            {"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"},{"type":"input_text","text":"y"}]},
            {"type":"function_call_output","output":{"a":1}},
            {"type":"function_call","id":"fc_1","name":"f"}
        ]}))
        .unwrap();
        let ResponsesInput::Items(items) = r.input else {
            panic!()
        };
        assert_eq!(
            items[0],
            InputItem::FunctionCallOutput {
                call_id: "c".into(),
                output: "x\ny".into()
            }
        );
        assert_eq!(
            items[1],
            InputItem::FunctionCallOutput {
                call_id: String::new(),
                output: "{\"a\":1}".into()
            }
        );
        assert_eq!(
            items[2],
            InputItem::FunctionCall {
                call_id: "fc_1".into(),
                name: "f".into(),
                arguments: String::new()
            }
        );
    }

    #[test]
    fn errors_name_the_precise_param() {
        let ok = json!({"role":"user","content":"x"});
        let cases = [
            (json!({}), "input"),
            (json!({"input": null}), "input"),
            (json!({"input": 5}), "input"),
            (json!({"input": [ok, 3]}), "input[1]"),
            (json!({"input": [{"content":"x"}]}), "input[0].type"),
            (json!({"input": [{"type":7}]}), "input[0].type"),
            (
                json!({"input": [ok, {"type":"message","content":"x"}]}),
                "input[1].role",
            ),
            (
                json!({"input": [{"role":"tool","content":"x"}]}),
                "input[0].role",
            ),
            (json!({"input": [{"role":"user"}]}), "input[0].content"),
            (
                json!({"input": [{"role":"user","content":5}]}),
                "input[0].content",
            ),
            (
                json!({"input": [{"role":"user","content":[1]}]}),
                "input[0].content[0]",
            ),
            (
                json!({"input": [{"role":"user","content":[{"text":"a"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"role":"user","content":[{"type":"input_text"}]}]}),
                "input[0].content[0].text",
            ),
            (
                json!({"input": [{"role":"user","content":[{"type":"input_text","text":1}]}]}),
                "input[0].content[0].text",
            ),
            (json!({"input": "x", "model": 1}), "model"),
            (json!({"input": "x", "instructions": []}), "instructions"),
            (
                json!({"input": "x", "previous_response_id": 1}),
                "previous_response_id",
            ),
            (json!({"input": "x", "stream": "yes"}), "stream"),
            (json!({"input": "x", "user": 1}), "user"),
            (json!({"input": "x", "metadata": "m"}), "metadata"),
            (json!({"input": "x", "reasoning": "high"}), "reasoning"),
            (
                json!({"input": "x", "reasoning": {"effort": "max"}}),
                "reasoning.effort",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(err_param(body.clone()).as_deref(), Some(param), "{body}");
        }
        let err = parse_json(json!({"input": [{"role":"tool","content":"x"}]})).unwrap_err();
        assert!(err.message.starts_with("Invalid value: 'tool'."), "{err}");
        assert_eq!(parse(b"{").unwrap_err().param, None);
        assert_eq!(parse(b"[]").unwrap_err().param, None);
    }

    #[test]
    fn nulls_read_as_absent() {
        let r = parse_json(
            json!({"input":"x","model":null,"stream":null,"reasoning":null,
                                  "metadata":null,"tools":null}),
        )
        .unwrap();
        assert_eq!(r.model, None);
        assert!(!r.stream);
        assert!(r.ignored_fields().is_empty());
    }
}
