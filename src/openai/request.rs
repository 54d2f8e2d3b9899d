//! The `POST /v1/chat/completions` request body, parsed leniently.
//!
//! Only `model`, `messages`, `stream`, `stream_options.include_usage`, `user` and
//! `reasoning_effort` (the run's thinking level) change what we do. Every other documented OpenAI field is accepted as raw JSON and ignored (the agent
//! picks its own model, tools and sampling), and unknown fields land in
//! [`ChatCompletionRequest::unknown_fields`]: a request never fails because of a field we do
//! not use (Open WebUI sends `tools` on every chat). [`parse`] still rejects what makes the
//! request meaningless (no JSON, no `messages`, unknown roles, wrong types for the fields we
//! use) with the OpenAI-style message and the offending `param`.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::thinking::ThinkingLevel;

/// A chat-completions request. Build it with [`parse`], which validates before typing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatCompletionRequest {
    /// The requested model; selects the agent (see `routing`). `None` when absent or `null`.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation; never empty after [`parse`].
    pub messages: Vec<ChatMessage>,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Streaming options; only `include_usage` is used.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// End-user id; gives the user a stable gateway session.
    #[serde(default)]
    pub user: Option<String>,

    /// Ignored: the agent decides which tools it uses.
    #[serde(default)]
    pub tools: Option<Value>,
    /// Ignored, like `tools`.
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Ignored, like `tools`.
    #[serde(default)]
    pub parallel_tool_calls: Option<Value>,
    /// Ignored: deprecated form of `tools`.
    #[serde(default)]
    pub functions: Option<Value>,
    /// Ignored: deprecated form of `tool_choice`.
    #[serde(default)]
    pub function_call: Option<Value>,
    /// Ignored: sampling is configured on the agent's model.
    #[serde(default)]
    pub temperature: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub top_p: Option<Value>,
    /// Ignored: an agent run yields exactly one choice.
    #[serde(default)]
    pub n: Option<Value>,
    /// Ignored: the gateway has no stop sequences.
    #[serde(default)]
    pub stop: Option<Value>,
    /// Ignored: the gateway has no output token limit per run.
    #[serde(default)]
    pub max_tokens: Option<Value>,
    /// Ignored, like `max_tokens`.
    #[serde(default)]
    pub max_completion_tokens: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub presence_penalty: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub frequency_penalty: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub logit_bias: Option<Value>,
    /// Ignored: the gateway reports no log probabilities (`logprobs` is always `null`).
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Ignored, like `logprobs`.
    #[serde(default)]
    pub top_logprobs: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub seed: Option<Value>,
    /// Ignored: the reply is the agent's free text.
    #[serde(default)]
    pub response_format: Option<Value>,
    /// Ignored: OpenAI's stored-completion metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Ignored, like `metadata`.
    #[serde(default)]
    pub store: Option<Value>,
    /// Ignored: OpenAI's own processing tier.
    #[serde(default)]
    pub service_tier: Option<Value>,
    /// The run's thinking level (`none` -> `off`); validated by [`parse`].
    #[serde(default, deserialize_with = "reasoning_effort")]
    pub reasoning_effort: Option<ThinkingLevel>,
    /// Ignored: replies are text only.
    #[serde(default)]
    pub modalities: Option<Value>,
    /// Ignored, like `modalities`.
    #[serde(default)]
    pub audio: Option<Value>,
    /// Ignored: predicted outputs are an OpenAI latency feature.
    #[serde(default)]
    pub prediction: Option<Value>,
    /// Ignored: web search is an agent tool.
    #[serde(default)]
    pub web_search_options: Option<Value>,
    /// Ignored, like `temperature`.
    #[serde(default)]
    pub verbosity: Option<Value>,
    /// Ignored: OpenAI's prompt cache routing.
    #[serde(default)]
    pub prompt_cache_key: Option<Value>,
    /// Ignored: OpenAI's abuse-detection id.
    #[serde(default)]
    pub safety_identifier: Option<Value>,
    /// Every field not listed above, kept so it can be logged; never an error.
    #[serde(flatten)]
    pub unknown_fields: Map<String, Value>,
}

impl ChatCompletionRequest {
    /// True when the client asked for a server-sent event stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// True when the client asked for a final usage chunk (`stream_options.include_usage`).
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// Names of the fields that were sent (not `null`) and are ignored, documented ones first,
    /// then unknown ones; for a debug log.
    pub fn ignored_fields(&self) -> Vec<&str> {
        let documented: [(&str, bool); 28] = [
            ("tools", self.tools.is_some()),
            ("tool_choice", self.tool_choice.is_some()),
            ("parallel_tool_calls", self.parallel_tool_calls.is_some()),
            ("functions", self.functions.is_some()),
            ("function_call", self.function_call.is_some()),
            ("temperature", self.temperature.is_some()),
            ("top_p", self.top_p.is_some()),
            ("n", self.n.is_some()),
            ("stop", self.stop.is_some()),
            ("max_tokens", self.max_tokens.is_some()),
            (
                "max_completion_tokens",
                self.max_completion_tokens.is_some(),
            ),
            ("presence_penalty", self.presence_penalty.is_some()),
            ("frequency_penalty", self.frequency_penalty.is_some()),
            ("logit_bias", self.logit_bias.is_some()),
            ("logprobs", self.logprobs.is_some()),
            ("top_logprobs", self.top_logprobs.is_some()),
            ("seed", self.seed.is_some()),
            ("response_format", self.response_format.is_some()),
            ("metadata", self.metadata.is_some()),
            ("store", self.store.is_some()),
            ("service_tier", self.service_tier.is_some()),
            ("modalities", self.modalities.is_some()),
            ("audio", self.audio.is_some()),
            ("prediction", self.prediction.is_some()),
            ("web_search_options", self.web_search_options.is_some()),
            ("verbosity", self.verbosity.is_some()),
            ("prompt_cache_key", self.prompt_cache_key.is_some()),
            ("safety_identifier", self.safety_identifier.is_some()),
        ];
        let mut names: Vec<&str> = documented
            .iter()
            .filter(|(_, sent)| *sent)
            .map(|(name, _)| *name)
            .collect();
        names.extend(self.unknown_fields.keys().map(String::as_str));
        names
    }
}

/// `stream_options`; other options (e.g. `include_obfuscation`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and no choices before `[DONE]`.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// One message of `messages`, tagged by `role`. Unknown message fields are ignored, and a
/// non-string `name`, `refusal` or `tool_call_id` reads as absent instead of failing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions; become the run's extra system prompt.
    System {
        /// The text.
        #[serde(default)]
        content: MessageContent,
        /// Optional participant name (unused).
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
    },
    /// The newer name of `system`; treated the same way.
    Developer {
        /// The text.
        #[serde(default)]
        content: MessageContent,
        /// Optional participant name (unused).
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
    },
    /// A user turn.
    User {
        /// The text, or parts (text, images, audio, files).
        #[serde(default)]
        content: MessageContent,
        /// Optional participant name (unused).
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
    },
    /// An earlier assistant reply.
    Assistant {
        /// The reply text (absent when the reply was only tool calls).
        #[serde(default)]
        content: MessageContent,
        /// Optional participant name (unused).
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
        /// Tool calls the client's model made (ignored: the agent runs its own tools).
        #[serde(default)]
        tool_calls: Option<Value>,
        /// A refusal message (ignored).
        #[serde(default, deserialize_with = "lenient_string")]
        refusal: Option<String>,
    },
    /// A tool result.
    Tool {
        /// The result text.
        #[serde(default)]
        content: MessageContent,
        /// Tool name; shown as the sender `Tool:<name>`.
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
        /// The call it answers (unused).
        #[serde(default, deserialize_with = "lenient_string")]
        tool_call_id: Option<String>,
    },
    /// Deprecated form of `tool`; treated the same way.
    Function {
        /// The result text.
        #[serde(default)]
        content: MessageContent,
        /// Function name; shown as the sender `Tool:<name>`.
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
    },
}

impl ChatMessage {
    /// The role as OpenAI spells it.
    pub fn role(&self) -> &'static str {
        match self {
            ChatMessage::System { .. } => "system",
            ChatMessage::Developer { .. } => "developer",
            ChatMessage::User { .. } => "user",
            ChatMessage::Assistant { .. } => "assistant",
            ChatMessage::Tool { .. } => "tool",
            ChatMessage::Function { .. } => "function",
        }
    }

    /// The message content.
    pub fn content(&self) -> &MessageContent {
        match self {
            ChatMessage::System { content, .. }
            | ChatMessage::Developer { content, .. }
            | ChatMessage::User { content, .. }
            | ChatMessage::Assistant { content, .. }
            | ChatMessage::Tool { content, .. }
            | ChatMessage::Function { content, .. } => content,
        }
    }

    /// The optional `name`.
    pub fn name(&self) -> Option<&str> {
        match self {
            ChatMessage::System { name, .. }
            | ChatMessage::Developer { name, .. }
            | ChatMessage::User { name, .. }
            | ChatMessage::Assistant { name, .. }
            | ChatMessage::Tool { name, .. }
            | ChatMessage::Function { name, .. } => name.as_deref(),
        }
    }
}

/// A message's `content`: a string, an array of parts, or nothing (`null` or absent).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<ContentPart>),
    /// `null` or absent (e.g. an assistant turn that only called tools).
    #[default]
    Empty,
}

/// One content part, by `type`. Any other shape (unknown type, missing fields, not an
/// object) becomes [`ContentPart::Other`] instead of failing the request.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// `{"type":"text","text":...}`.
    Text {
        /// The text.
        text: String,
    },
    /// `{"type":"input_text","text":...}` (Responses-API style, sent by some clients).
    InputText {
        /// The text.
        text: String,
    },
    /// `{"type":"image_url","image_url":{...}}` (ignored: the gateway input is text).
    ImageUrl {
        /// The raw `image_url` object.
        image_url: Value,
    },
    /// `{"type":"input_audio","input_audio":{...}}` (ignored).
    InputAudio {
        /// The raw `input_audio` object.
        input_audio: Value,
    },
    /// `{"type":"file","file":{...}}` (ignored).
    File {
        /// The raw `file` object.
        file: Value,
    },
    /// `{"type":"refusal","refusal":...}` in an assistant turn (ignored).
    Refusal {
        /// The refusal text.
        refusal: String,
    },
    /// Anything else, kept raw. A string `input_text` field on it still counts as text, as
    /// in the gateway's own endpoint.
    Other(Value),
}

impl ContentPart {
    /// The text this part contributes to the prompt, with the gateway endpoint's rules:
    /// `text` and `input_text` parts give their `text`, any other part its string
    /// `input_text` field if it has one.
    pub fn text(&self) -> Option<&str> {
        match self {
            ContentPart::Text { text } | ContentPart::InputText { text } => Some(text),
            ContentPart::Other(v) => v.get("input_text").and_then(Value::as_str),
            ContentPart::ImageUrl { .. }
            | ContentPart::InputAudio { .. }
            | ContentPart::File { .. }
            | ContentPart::Refusal { .. } => None,
        }
    }

    fn from_value(mut v: Value) -> ContentPart {
        let Some(obj) = v.as_object_mut() else {
            return ContentPart::Other(v);
        };
        let part_type = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let string_field = |obj: &Map<String, Value>, key: &str| {
            obj.get(key).and_then(Value::as_str).map(str::to_owned)
        };
        match part_type {
            "text" => {
                if let Some(text) = string_field(obj, "text") {
                    return ContentPart::Text { text };
                }
            }
            "input_text" => {
                if let Some(text) = string_field(obj, "text") {
                    return ContentPart::InputText { text };
                }
            }
            _ => {}
        }
        // A stray string `input_text` makes any part text (openai-http.js extractTextContent),
        // so keep such parts raw.
        if obj.get("input_text").is_some_and(Value::is_string) {
            return ContentPart::Other(v);
        }
        match part_type {
            "image_url" => {
                if let Some(image_url) = obj.remove("image_url") {
                    return ContentPart::ImageUrl { image_url };
                }
            }
            "input_audio" => {
                if let Some(input_audio) = obj.remove("input_audio") {
                    return ContentPart::InputAudio { input_audio };
                }
            }
            "file" => {
                if let Some(file) = obj.remove("file") {
                    return ContentPart::File { file };
                }
            }
            "refusal" => {
                if let Some(refusal) = string_field(obj, "refusal") {
                    return ContentPart::Refusal { refusal };
                }
            }
            _ => {}
        }
        ContentPart::Other(v)
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(ContentPart::from_value)
    }
}

/// Reads `reasoning_effort`; [`parse`] has already rejected bad values with their param.
fn reasoning_effort<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ThinkingLevel>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    ThinkingLevel::from_json(Some(&value), "reasoning_effort").map_err(serde::de::Error::custom)
}

/// Reads a string, or `None` for any other JSON value, so an odd optional field never fails
/// a request.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// Why a request body was rejected: an OpenAI-style message and the offending parameter.
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
        Self::new(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                json_type(got)
            ),
            Some(param.to_owned()),
        )
    }
}

impl From<RequestError> for super::ApiError {
    fn from(err: RequestError) -> Self {
        let api = super::ApiError::invalid_request_error(err.message);
        match err.param {
            Some(param) => api.with_param(param),
            None => api,
        }
    }
}

/// The roles OpenAI accepts, in the order its error message lists them.
const ROLES: [&str; 6] = [
    "system",
    "assistant",
    "user",
    "function",
    "tool",
    "developer",
];

/// Parses and validates a request body.
///
/// The body is read as untyped JSON first so each problem gets a precise `param`; then it is
/// typed. Roles are trimmed, as the gateway's endpoint does.
pub fn parse(body: &[u8]) -> Result<ChatCompletionRequest, RequestError> {
    let mut value: Value = serde_json::from_slice(body).map_err(|_| {
        RequestError::new(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The API expects a JSON payload, \
             but what was sent was not valid JSON.)",
            None,
        )
    })?;
    let Some(obj) = value.as_object_mut() else {
        return Err(RequestError::new(
            format!(
                "Invalid request body: expected a JSON object, but got {} instead.",
                json_type(&value)
            ),
            None,
        ));
    };
    check_optional(obj, "model", "model", "a string", Value::is_string)?;
    check_optional(obj, "stream", "stream", "a boolean", Value::is_boolean)?;
    check_optional(obj, "user", "user", "a string", Value::is_string)?;
    check_optional(
        obj,
        "stream_options",
        "stream_options",
        "an object",
        Value::is_object,
    )?;
    if let Some(options) = obj.get("stream_options").and_then(Value::as_object) {
        check_optional(
            options,
            "include_usage",
            "stream_options.include_usage",
            "a boolean",
            Value::is_boolean,
        )?;
    }
    ThinkingLevel::from_json(obj.get("reasoning_effort"), "reasoning_effort")?;
    check_messages(obj.get_mut("messages"))?;
    serde_json::from_value(value)
        .map_err(|e| RequestError::new(format!("Invalid request body: {e}"), None))
}

/// A field the gateway uses must have the right type when present; `null` counts as absent.
fn check_optional(
    obj: &Map<String, Value>,
    key: &str,
    param: &str,
    expected: &str,
    ok: fn(&Value) -> bool,
) -> Result<(), RequestError> {
    match obj.get(key) {
        Some(v) if !v.is_null() && !ok(v) => Err(RequestError::invalid_type(param, expected, v)),
        _ => Ok(()),
    }
}

fn check_messages(messages: Option<&mut Value>) -> Result<(), RequestError> {
    let messages = match messages {
        None | Some(Value::Null) => return Err(RequestError::missing("messages")),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(RequestError::invalid_type("messages", "an array", other)),
    };
    if messages.is_empty() {
        return Err(RequestError::new(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got \
             an empty array instead.",
            Some("messages".to_owned()),
        ));
    }
    for (i, message) in messages.iter_mut().enumerate() {
        let Some(obj) = message.as_object_mut() else {
            return Err(RequestError::invalid_type(
                &format!("messages[{i}]"),
                "an object",
                message,
            ));
        };
        let role_param = format!("messages[{i}].role");
        let role = match obj.get_mut("role") {
            None | Some(Value::Null) => return Err(RequestError::missing(&role_param)),
            Some(Value::String(role)) => role,
            Some(other) => return Err(RequestError::invalid_type(&role_param, "a string", other)),
        };
        let trimmed = role.trim();
        if !ROLES.contains(&trimmed) {
            return Err(RequestError::new(
                format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', \
                     'user', 'function', 'tool', and 'developer'."
                ),
                Some(role_param),
            ));
        }
        if trimmed.len() != role.len() {
            *role = trimmed.to_owned();
        }
        match obj.get("content") {
            None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
            Some(other) => {
                return Err(RequestError::invalid_type(
                    &format!("messages[{i}].content"),
                    "one of a string or array of objects",
                    other,
                ))
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<ChatCompletionRequest, RequestError> {
        parse(v.to_string().as_bytes())
    }

    fn err_param(v: Value) -> Option<String> {
        parse_json(v).unwrap_err().param
    }

    #[test]
    fn minimal_request_parses() {
        let req = parse_json(json!({"messages":[{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(req.model, None);
        assert!(!req.is_stream());
        assert!(!req.include_usage());
        assert_eq!(
            req.messages,
            vec![ChatMessage::User {
                content: MessageContent::Text("hi".into()),
                name: None
            }]
        );
        assert!(req.ignored_fields().is_empty());
    }

    #[test]
    fn used_fields_are_typed() {
        let req = parse_json(json!({
            "model": "openclaw/beta",
            "messages": [{"role":"user","content":"hi"}],
            "stream": true,
            "stream_options": {"include_usage": true, "include_obfuscation": false},
            "user": "alice"
        }))
        .unwrap();
        assert_eq!(req.model.as_deref(), Some("openclaw/beta"));
        assert!(req.is_stream());
        assert!(req.include_usage());
        assert_eq!(req.user.as_deref(), Some("alice"));
    }

    #[test]
    fn unknown_fields_are_ignored_not_rejected() {
        let req = parse_json(json!({
            "model": "gpt-4o",
            "messages": [{"role":"user","content":"hi","weird":1}],
            "tools": [{"type":"function","function":{"name":"f","parameters":{}}}],
            "tool_choice": "auto",
            "temperature": 0.2,
            "max_tokens": 10,
            "safety_identifier": "x",
            "stop": null,
            "brand_new_field": {"a": 1}
        }))
        .unwrap();
        assert_eq!(
            req.ignored_fields(),
            vec![
                "tools",
                "tool_choice",
                "temperature",
                "max_tokens",
                "safety_identifier",
                "brand_new_field"
            ]
        );
        assert!(req.unknown_fields.contains_key("brand_new_field"));
    }

    #[test]
    fn all_roles_and_message_fields_parse() {
        let req = parse_json(json!({"messages":[
            {"role":"system","content":"s","name":"sys"},
            {"role":"developer","content":null},
            {"role":"user","content":[{"type":"text","text":"a"}],"name":5},
            {"role":"assistant","tool_calls":[{"id":"c1","type":"function"}],"refusal":null},
            {"role":"tool","content":"r","tool_call_id":"c1"},
            {"role":"function","content":"f","name":"fn"}
        ]}))
        .unwrap();
        let roles: Vec<_> = req.messages.iter().map(ChatMessage::role).collect();
        assert_eq!(
            roles,
            [
                "system",
                "developer",
                "user",
                "assistant",
                "tool",
                "function"
            ]
        );
        assert_eq!(req.messages[0].name(), Some("sys"));
        assert_eq!(req.messages[1].content(), &MessageContent::Empty);
        assert_eq!(
            req.messages[2].name(),
            None,
            "non-string name reads as absent"
        );
        assert!(matches!(
            &req.messages[3],
            ChatMessage::Assistant {
                tool_calls: Some(_),
                content: MessageContent::Empty,
                ..
            }
        ));
        assert!(matches!(
            &req.messages[4],
            ChatMessage::Tool { tool_call_id: Some(id), .. } if id == "c1"
        ));
    }

    #[test]
    fn content_parts_by_type() {
        let req = parse_json(json!({"messages":[{"role":"user","content":[
            {"type":"text","text":"a"},
            {"type":"input_text","text":"b"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}},
            {"type":"input_audio","input_audio":{"data":"AA","format":"wav"}},
            {"type":"file","file":{"file_id":"f1"}},
            {"type":"refusal","refusal":"no"},
            {"type":"hologram","depth":3},
            {"type":"text"},
            "bare string",
            {"type":"mystery","input_text":"c"}
        ]}]}))
        .unwrap();
        let MessageContent::Parts(parts) = req.messages[0].content() else {
            panic!("expected parts");
        };
        assert_eq!(parts.len(), 10);
        assert!(matches!(parts[0], ContentPart::Text { .. }));
        assert!(matches!(parts[1], ContentPart::InputText { .. }));
        assert!(matches!(parts[2], ContentPart::ImageUrl { .. }));
        assert!(matches!(parts[3], ContentPart::InputAudio { .. }));
        assert!(matches!(parts[4], ContentPart::File { .. }));
        assert!(matches!(parts[5], ContentPart::Refusal { .. }));
        assert!(matches!(parts[6], ContentPart::Other(_)));
        assert!(matches!(parts[7], ContentPart::Other(_)));
        assert!(matches!(parts[8], ContentPart::Other(_)));
        let texts: Vec<_> = parts.iter().filter_map(ContentPart::text).collect();
        assert_eq!(texts, ["a", "b", "c"]);
    }

    #[test]
    fn invalid_json_is_rejected_like_openai() {
        let err = parse(b"{\"messages\": [").unwrap_err();
        assert!(err
            .message
            .starts_with("We could not parse the JSON body of your request."));
        assert_eq!(err.param, None);
        assert!(parse(b"").is_err());
    }

    #[test]
    fn body_must_be_an_object() {
        let err = parse(b"[1,2]").unwrap_err();
        assert!(err.message.contains("expected a JSON object"), "{err}");
        assert_eq!(err.param, None);
    }

    #[test]
    fn messages_must_be_a_non_empty_array() {
        let err = parse_json(json!({"model":"x"})).unwrap_err();
        assert_eq!(err.message, "Missing required parameter: 'messages'.");
        assert_eq!(err.param.as_deref(), Some("messages"));
        assert_eq!(
            err_param(json!({"messages":null})).as_deref(),
            Some("messages")
        );
        let err = parse_json(json!({"messages":"hi"})).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid type for 'messages': expected an array, but got a string instead."
        );
        let err = parse_json(json!({"messages":[]})).unwrap_err();
        assert!(err.message.contains("empty array"));
        assert_eq!(err.param.as_deref(), Some("messages"));
    }

    #[test]
    fn each_message_needs_a_known_role() {
        let ok = json!({"role":"user","content":"hi"});
        assert_eq!(
            err_param(json!({"messages":[ok, {"content":"x"}]})).as_deref(),
            Some("messages[1].role")
        );
        assert_eq!(
            err_param(json!({"messages":[{"role":7}]})).as_deref(),
            Some("messages[0].role")
        );
        let err = parse_json(json!({"messages":[ok, ok, {"role":"robot"}]})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[2].role"));
        assert!(err.message.starts_with("Invalid value: 'robot'."), "{err}");
        assert_eq!(
            err_param(json!({"messages":[ok, 3]})).as_deref(),
            Some("messages[1]")
        );
    }

    #[test]
    fn roles_are_trimmed() {
        let req = parse_json(json!({"messages":[{"role":" user ","content":"hi"}]})).unwrap();
        assert_eq!(req.messages[0].role(), "user");
    }

    #[test]
    fn content_must_be_string_array_or_null() {
        let err = parse_json(json!({"messages":[{"role":"user","content":5}]})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].content"));
    }

    #[test]
    fn used_scalars_must_have_their_type() {
        let msgs = json!([{"role":"user","content":"hi"}]);
        let err = parse_json(json!({"messages":msgs, "stream":"yes"})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("stream"));
        assert_eq!(
            err.message,
            "Invalid type for 'stream': expected a boolean, but got a string instead."
        );
        assert_eq!(
            err_param(json!({"messages":msgs, "model":4})).as_deref(),
            Some("model")
        );
        assert_eq!(
            err_param(json!({"messages":msgs, "user":{"id":1}})).as_deref(),
            Some("user")
        );
        assert_eq!(
            err_param(json!({"messages":msgs, "stream_options":true})).as_deref(),
            Some("stream_options")
        );
        let err =
            parse_json(json!({"messages":msgs, "stream_options":{"include_usage":1}})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("stream_options.include_usage"));
        assert!(err.message.contains("'stream_options.include_usage'"));
    }

    #[test]
    fn null_used_fields_read_as_absent() {
        let req = parse_json(json!({
            "messages":[{"role":"user","content":"hi"}],
            "model": null, "stream": null, "user": null, "stream_options": null
        }))
        .unwrap();
        assert_eq!(req.model, None);
        assert_eq!(req.stream, None);
        assert!(req.ignored_fields().is_empty());
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_level() {
        let msgs = json!([{"role":"user","content":"hi"}]);
        let req = parse_json(json!({"messages":msgs, "reasoning_effort":"none"})).unwrap();
        assert_eq!(req.reasoning_effort, Some(ThinkingLevel::Off));
        assert!(req.ignored_fields().is_empty());
        let req = parse_json(json!({"messages":msgs, "reasoning_effort":null})).unwrap();
        assert_eq!(req.reasoning_effort, None);
        let err = parse_json(json!({"messages":msgs, "reasoning_effort":"ultra"})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning_effort"));
        let err = parse_json(json!({"messages":msgs, "reasoning_effort":1})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning_effort"));
    }

    #[test]
    fn request_error_becomes_invalid_request_error() {
        let err = parse_json(json!({"messages":[]})).unwrap_err();
        let api: crate::openai::ApiError = err.into();
        assert_eq!(api.r#type, "invalid_request_error");
        assert_eq!(api.param.as_deref(), Some("messages"));
    }
}
