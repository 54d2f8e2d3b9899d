//! The `POST /v1/chat/completions` request body, parsed leniently in one typed pass.
//!
//! Only `model`, `messages`, `stream`, `stream_options.include_usage`, `user` and
//! `reasoning_effort` (the run's thinking level) change what we do. Every other documented
//! OpenAI field is accepted and skipped (the agent picks its own model, tools and
//! sampling); its name lands in [`ChatCompletionRequest::ignored_fields`], as do the names of
//! unknown fields: a request never fails because of a field we do not use (Open WebUI sends
//! `tools` on every chat). [`parse`] still rejects what makes the request meaningless (no
//! JSON, no `messages`, unknown roles, wrong types for the fields we use) with the
//! OpenAI-style message and the offending `param`, and what is over the limits of
//! [`super::limits`].
//!
//! The body is read once, straight into these types: no intermediate `serde_json::Value`.
//! Values we skip are read by serde_json without allocating ([`super::lean`]), and messages
//! and content parts are counted as they are read, so the memory one body costs stays close
//! to its own size plus the strings it carries, whatever its shape.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::lean::{
    skip_map, skip_seq, Checked, CheckedSeq, ElementReader, KeyList, KnownKey, Loose, MapOr,
    OneKey, SeqOr, Shallow,
};
use super::limits::{
    self, MAX_CONTENT_PARTS, MAX_MESSAGES, MAX_MODEL_BYTES, MAX_TOOLS_BYTES, MAX_TOOL_CHOICE_BYTES,
    MAX_USER_BYTES,
};
use crate::error::RequestError;
use crate::thinking::ThinkingLevel;

/// Documented OpenAI fields clawshim accepts and ignores (the agent decides tools, sampling,
/// output format; see `prompt`'s module docs), in the order [`ChatCompletionRequest::ignored_fields`]
/// lists them. The first two, `tools` and `tool_choice`, are also kept as sent
/// ([`ChatCompletionRequest::tools`]): they are run when the gateway can (`client_tools`).
pub const IGNORED_FIELDS: [&str; 28] = [
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "seed",
    "response_format",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
];

/// Unknown field names kept for the debug log; more are skipped uncounted.
pub(crate) const MAX_UNKNOWN_NAMES: usize = 32;

/// A chat-completions request. Build it with [`parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCompletionRequest {
    /// The requested model; selects the agent (see `routing`). `None` when absent or `null`.
    pub model: Option<String>,
    /// The conversation; never empty after [`parse`].
    pub messages: Vec<ChatMessage>,
    /// Stream the reply as server-sent events.
    pub stream: Option<bool>,
    /// Streaming options; only `include_usage` is used.
    pub stream_options: Option<StreamOptions>,
    /// End-user id; gives the user a stable gateway session.
    pub user: Option<String>,
    /// `tools` as sent (not `null`), its JSON text: read by `crate::client_tools` only when
    /// the tools can be run (skipped without recursion like any ignored field until then).
    pub tools: Option<String>,
    /// `tool_choice` as sent (not `null`), its JSON text.
    pub tool_choice: Option<String>,
    /// The run's thinking level (`none` -> `off`).
    pub reasoning_effort: Option<ThinkingLevel>,
    /// The [`IGNORED_FIELDS`] that were sent (not `null`), in that list's order.
    pub ignored: Vec<&'static str>,
    /// Names of fields OpenAI does not document (the first few), for a debug log; never an
    /// error.
    pub unknown_fields: Vec<String>,
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
        let mut names: Vec<&str> = self.ignored.clone();
        names.extend(self.unknown_fields.iter().map(String::as_str));
        names
    }
}

/// `stream_options`; other options (e.g. `include_obfuscation`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and no choices before `[DONE]`.
    pub include_usage: Option<bool>,
}

/// One message of `messages`, by `role`. Unknown message fields are ignored, and a
/// non-string `name`, `refusal` or `tool_call_id` reads as absent instead of failing.
/// Deserializing one checks it as [`parse`] does (the error is serde's, without a `param`).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    /// Instructions; become the run's extra system prompt.
    System {
        /// The text.
        content: MessageContent,
        /// Optional participant name (unused).
        name: Option<String>,
    },
    /// The newer name of `system`; treated the same way.
    Developer {
        /// The text.
        content: MessageContent,
        /// Optional participant name (unused).
        name: Option<String>,
    },
    /// A user turn.
    User {
        /// The text, or parts (text, images, audio, files).
        content: MessageContent,
        /// Optional participant name (unused).
        name: Option<String>,
    },
    /// An earlier assistant reply.
    Assistant {
        /// The reply text (absent when the reply was only tool calls).
        content: MessageContent,
        /// Optional participant name (unused).
        name: Option<String>,
        /// The tool calls it made, as sent: ignored when the agent runs its own tools; the
        /// transcript of a client's tools when they are run (`prompt::ToolTranscript`).
        tool_calls: Option<Value>,
        /// A refusal message (ignored).
        refusal: Option<String>,
    },
    /// A tool result.
    Tool {
        /// The result text.
        content: MessageContent,
        /// Tool name; shown as the sender `Tool:<name>`.
        name: Option<String>,
        /// The call it answers (unused).
        tool_call_id: Option<String>,
    },
    /// Deprecated form of `tool`; treated the same way.
    Function {
        /// The result text.
        content: MessageContent,
        /// Function name; shown as the sender `Tool:<name>`.
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
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// `{"type":"image_url","image_url":{...}}`: its `url` and `detail` (or the bare string).
    ImageUrl {
        /// The `image_url` value, one level deep.
        image_url: Value,
    },
    /// `{"type":"input_audio","input_audio":{...}}` (ignored).
    InputAudio {
        /// The `input_audio` value, one level deep.
        input_audio: Value,
    },
    /// `{"type":"file","file":{...}}`: its `file_data`, `filename`, `file_id`, `file_url`.
    File {
        /// The `file` value, one level deep.
        file: Value,
    },
    /// `{"type":"refusal","refusal":...}` in an assistant turn (ignored).
    Refusal {
        /// The refusal text.
        refusal: String,
    },
    /// Anything else: an object keeps its `type` and `input_text`, another value its
    /// scalar (arrays and objects empty). A string `input_text` field still counts as text,
    /// as in the gateway's own endpoint.
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

pub(crate) const NOT_JSON: &str =
    "We could not parse the JSON body of your request. (HINT: This likely \
                        means you aren't using your HTTP library correctly. The API expects a \
                        JSON payload, but what was sent was not valid JSON.)";

/// Parses and validates a request body in one pass (see the module docs).
///
/// Problems are reported in a fixed order (the body, then `model`, `stream`, `user`,
/// `stream_options`, `reasoning_effort`, then `messages` in order), each with its precise
/// `param`. Roles are trimmed, as the gateway's endpoint does. serde_json's recursion limit
/// (128) stays on; the typed reader descends at most five levels (body, messages, message,
/// content, part), and anything deeper is skipped iteratively.
pub fn parse(body: &[u8]) -> Result<ChatCompletionRequest, RequestError> {
    let top =
        serde_json::from_slice::<Body>(body).map_err(|_| RequestError::new(NOT_JSON, None))?;
    let raw = match top {
        Body::Object(raw) => raw,
        Body::Other(got) => {
            return Err(RequestError::new(
                format!(
                    "Invalid request body: expected a JSON object, but got {} instead.",
                    got.json_type()
                ),
                None,
            ))
        }
    };
    raw.validate()
}

/// The top-level value: an object, or what it was instead.
enum Body {
    Object(Box<RawRequest>),
    Other(Loose),
}

/// The fields as read, before their types are checked.
#[derive(Default)]
struct RawRequest {
    model: Option<Loose>,
    messages: Option<RawMessages>,
    stream: Option<Loose>,
    /// `stream_options`: its `include_usage`, or what it was instead of an object.
    stream_options: Option<Result<Option<Loose>, Loose>>,
    user: Option<Loose>,
    reasoning_effort: Option<Loose>,
    tools: Option<Result<String, RequestError>>,
    tool_choice: Option<Result<String, RequestError>>,
    /// Which [`IGNORED_FIELDS`] were sent, not `null`.
    ignored: [bool; IGNORED_FIELDS.len()],
    unknown_fields: Vec<String>,
}

/// `messages` as read: the messages up to the first problem, how many there were, and that
/// problem.
enum RawMessages {
    List {
        list: Vec<ChatMessage>,
        len: usize,
        error: Option<RequestError>,
    },
    Other(Loose),
}

impl RawRequest {
    fn validate(self) -> Result<ChatCompletionRequest, RequestError> {
        let model = string_field(self.model, "model", Some(MAX_MODEL_BYTES))?;
        let stream = bool_field(self.stream, "stream")?;
        let user = string_field(self.user, "user", Some(MAX_USER_BYTES))?;
        if let Some(user) = &user {
            limits::check_no_control("user", user)?;
        }
        let stream_options = match self.stream_options {
            None => None,
            Some(Err(got)) => {
                return Err(RequestError::wrong_type(
                    "stream_options",
                    "an object",
                    got.json_type(),
                ))
            }
            Some(Ok(include_usage)) => Some(StreamOptions {
                include_usage: bool_field(include_usage, "stream_options.include_usage")?,
            }),
        };
        let effort = self.reasoning_effort.map(Loose::into_value);
        let reasoning_effort = ThinkingLevel::from_json(effort.as_ref(), "reasoning_effort")?;
        let messages =
            match self.messages {
                None => return Err(RequestError::missing("messages")),
                Some(RawMessages::Other(got)) => {
                    return Err(RequestError::wrong_type(
                        "messages",
                        "an array",
                        got.json_type(),
                    ))
                }
                Some(RawMessages::List { len: 0, .. }) => return Err(RequestError::new(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, \
                     but got an empty array instead.",
                    Some("messages".to_owned()),
                )),
                Some(RawMessages::List { len, .. }) if len > MAX_MESSAGES => {
                    return Err(limits::array_too_long("messages", len, MAX_MESSAGES))
                }
                Some(RawMessages::List {
                    error: Some(error), ..
                }) => return Err(error),
                Some(RawMessages::List { list, .. }) => list,
            };
        Ok(ChatCompletionRequest {
            model,
            messages,
            stream,
            stream_options,
            user,
            reasoning_effort,
            tools: self.tools.transpose()?,
            tool_choice: self.tool_choice.transpose()?,
            ignored: IGNORED_FIELDS
                .iter()
                .zip(self.ignored)
                .filter_map(|(name, sent)| sent.then_some(*name))
                .collect(),
            unknown_fields: self.unknown_fields,
        })
    }
}

/// A string field the gateway uses (`null` counts as absent), with an optional length cap.
pub(crate) fn string_field(
    value: Option<Loose>,
    param: &str,
    max: Option<usize>,
) -> Result<Option<String>, RequestError> {
    match value {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::String(s)) => {
            if let Some(max) = max {
                limits::check_string(param, &s, max)?;
            }
            Ok(Some(s))
        }
        Some(other) => Err(RequestError::wrong_type(
            param,
            "a string",
            other.json_type(),
        )),
    }
}

/// A boolean field the gateway uses (`null` counts as absent).
pub(crate) fn bool_field(value: Option<Loose>, param: &str) -> Result<Option<bool>, RequestError> {
    match value {
        None | Some(Loose::Null) => Ok(None),
        Some(other) => match other.as_bool() {
            Some(b) => Ok(Some(b)),
            None => Err(RequestError::wrong_type(
                param,
                "a boolean",
                other.json_type(),
            )),
        },
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

/// The JSON text of a value skipped like an ignored one (no recursion), or the 400 for one
/// longer than `max` bytes (not copied); `None` for `null`.
pub(crate) fn raw_json(
    raw: Option<&RawValue>,
    param: &str,
    max: usize,
) -> Option<Result<String, RequestError>> {
    let text = raw.map(RawValue::get).filter(|t| *t != "null")?;
    Some(if text.len() > max {
        Err(RequestError::new(
            format!(
                "Invalid '{param}': {} bytes of JSON, more than the {max} clawshim reads.",
                text.len()
            ),
            Some(param.to_owned()),
        ))
    } else {
        Ok(text.to_owned())
    })
}

/// A top-level key, matched without allocating (an unknown one is kept by name).
enum TopKey {
    Model,
    Messages,
    Stream,
    StreamOptions,
    User,
    ReasoningEffort,
    /// Index into [`IGNORED_FIELDS`].
    Ignored(usize),
    Unknown(String),
}

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<TopKey, E> {
                Ok(match s {
                    "model" => TopKey::Model,
                    "messages" => TopKey::Messages,
                    "stream" => TopKey::Stream,
                    "stream_options" => TopKey::StreamOptions,
                    "user" => TopKey::User,
                    "reasoning_effort" => TopKey::ReasoningEffort,
                    other => match IGNORED_FIELDS.iter().position(|f| *f == other) {
                        Some(i) => TopKey::Ignored(i),
                        None => TopKey::Unknown(other.to_owned()),
                    },
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut raw = RawRequest::default();
        // A key sent twice: the last value counts, as in `JSON.parse`.
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Model => raw.model = map.next_value()?,
                TopKey::Stream => raw.stream = map.next_value()?,
                TopKey::User => raw.user = map.next_value()?,
                TopKey::ReasoningEffort => raw.reasoning_effort = map.next_value()?,
                TopKey::StreamOptions => {
                    raw.stream_options = map
                        .next_value::<Option<OneKey<StreamOptionKeys>>>()?
                        .map(|f| f.0)
                }
                TopKey::Messages => {
                    raw.messages = map.next_value::<Option<MessagesField>>()?.map(|f| f.0)
                }
                // The client's tools are kept as their text, borrowed until its size is
                // known: a value over the cap is never copied.
                TopKey::Ignored(0) => {
                    raw.tools = raw_json(map.next_value()?, "tools", MAX_TOOLS_BYTES);
                    raw.ignored[0] = raw.tools.is_some();
                }
                TopKey::Ignored(1) => {
                    raw.tool_choice =
                        raw_json(map.next_value()?, "tool_choice", MAX_TOOL_CHOICE_BYTES);
                    raw.ignored[1] = raw.tool_choice.is_some();
                }
                TopKey::Ignored(i) => {
                    raw.ignored[i] = map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                TopKey::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    if raw.unknown_fields.len() < MAX_UNKNOWN_NAMES
                        && !raw.unknown_fields.contains(&name)
                    {
                        raw.unknown_fields.push(name);
                    }
                }
            }
        }
        Ok(Body::Object(Box::new(raw)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Body, A::Error> {
        skip_seq(seq)?;
        Ok(Body::Other(Loose::Array))
    }
    fn visit_unit<E>(self) -> Result<Body, E> {
        Ok(Body::Other(Loose::Null))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Body, E> {
        Ok(Body::Other(Loose::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Body, E> {
        Ok(Body::Other(Loose::Number(n.into())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Body, E> {
        Ok(Body::Other(Loose::Number(n.into())))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Body, E> {
        Ok(Body::Other(Loose::Number(0.into())))
    }
    fn visit_str<E>(self, _: &str) -> Result<Body, E> {
        Ok(Body::Other(Loose::String(String::new())))
    }
}

/// `messages`: read message by message (see [`Messages`]), or what it was instead.
struct MessagesField(RawMessages);

impl<'de> Deserialize<'de> for MessagesField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let messages = CheckedSeq {
            reader: Messages { parts: 0 },
            max: MAX_MESSAGES,
        };
        let read = deserializer.deserialize_any(SeqOr(messages))?;
        Ok(MessagesField(match read {
            Ok(Checked { list, len, error }) => RawMessages::List { list, len, error },
            Err(got) => RawMessages::Other(got),
        }))
    }
}

/// Reads `messages`: each message is checked as soon as it is read; after the first
/// problem, or past [`MAX_MESSAGES`], the rest is only counted ([`CheckedSeq`]). Content
/// parts share one budget of [`MAX_CONTENT_PARTS`].
struct Messages {
    parts: usize,
}

impl<'de> ElementReader<'de> for Messages {
    type Item = ChatMessage;

    fn next<A: SeqAccess<'de>>(
        &mut self,
        seq: &mut A,
        index: usize,
    ) -> Result<Option<Result<ChatMessage, RequestError>>, A::Error> {
        seq.next_element_seed(MessageSeed {
            index,
            parts: &mut self.parts,
        })
    }
}

/// The key of `stream_options` that is read.
struct StreamOptionKeys;
impl KeyList for StreamOptionKeys {
    const KEYS: &'static [&'static str] = &["include_usage"];
}

/// The keys of a message that are read; any other is skipped.
struct MessageKeys;
impl KeyList for MessageKeys {
    const KEYS: &'static [&'static str] = &MESSAGE_KEYS;
}

/// The keys of a content part that are read; any other is skipped.
struct PartKeys;
impl KeyList for PartKeys {
    const KEYS: &'static [&'static str] = &PART_KEYS;
}

/// The keys of a message that are read; any other is skipped.
const MESSAGE_KEYS: [&str; 6] = [
    "role",
    "content",
    "name",
    "tool_calls",
    "refusal",
    "tool_call_id",
];

/// Reads message `index` of `messages` and checks it, counting its content parts into
/// `parts`. A problem with the message is the inner `Err`, with its `param`.
struct MessageSeed<'a> {
    index: usize,
    parts: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Result<ChatMessage, RequestError>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let index = self.index;
        let read = deserializer.deserialize_any(MapOr(MessageVisitor(self)))?;
        Ok(match read {
            Ok(message) => message,
            Err(got) => Err(RequestError::wrong_type(
                &format!("messages[{index}]"),
                "an object",
                got.json_type(),
            )),
        })
    }
}

struct MessageVisitor<'a>(MessageSeed<'a>);

/// A message's fields as read.
#[derive(Default)]
struct RawMessage {
    role: Option<Loose>,
    content: Option<RawContent>,
    name: Option<Loose>,
    tool_calls: Option<Box<RawValue>>,
    refusal: Option<Loose>,
    tool_call_id: Option<Loose>,
}

/// `content` as read.
enum RawContent {
    Content(MessageContent),
    /// More parts than the request's budget left.
    TooManyParts,
    Other(Loose),
}

impl<'de> Visitor<'de> for MessageVisitor<'_> {
    type Value = Result<ChatMessage, RequestError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let MessageSeed { index, parts } = self.0;
        let mut raw = RawMessage::default();
        while let Some(key) = map.next_key::<KnownKey<MessageKeys>>()? {
            match key.0 {
                Some(0) => raw.role = map.next_value()?,
                Some(1) => {
                    raw.content = Some(map.next_value_seed(ContentSeed { parts: &mut *parts })?)
                }
                Some(2) => raw.name = map.next_value()?,
                Some(3) => raw.tool_calls = map.next_value()?,
                Some(4) => raw.refusal = map.next_value()?,
                Some(5) => raw.tool_call_id = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw.check(index))
    }
}

impl RawMessage {
    /// The checks of message `index`, in the order OpenAI reports them: role, then content.
    fn check(self, index: usize) -> Result<ChatMessage, RequestError> {
        let role_param = format!("messages[{index}].role");
        let role = match self.role {
            None | Some(Loose::Null) => return Err(RequestError::missing(&role_param)),
            Some(Loose::String(role)) => role,
            Some(other) => {
                return Err(RequestError::wrong_type(
                    &role_param,
                    "a string",
                    other.json_type(),
                ))
            }
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
        let content = match self.content {
            None => MessageContent::Empty,
            Some(RawContent::Content(content)) => content,
            Some(RawContent::Other(got)) => {
                return Err(RequestError::wrong_type(
                    &format!("messages[{index}].content"),
                    "one of a string or array of objects",
                    got.json_type(),
                ))
            }
            Some(RawContent::TooManyParts) => {
                return Err(RequestError::new(
                    format!(
                        "Invalid 'messages[{index}].content': too many content parts. Expected \
                         at most {MAX_CONTENT_PARTS} parts across all messages."
                    ),
                    Some(format!("messages[{index}].content")),
                ))
            }
        };
        let name = self.name.and_then(Loose::into_string);
        Ok(match trimmed {
            "system" => ChatMessage::System { content, name },
            "developer" => ChatMessage::Developer { content, name },
            "user" => ChatMessage::User { content, name },
            "assistant" => ChatMessage::Assistant {
                content,
                name,
                // Read whole only here, once the message is known; a transcript nested
                // deeper than serde_json's recursion limit counts as none.
                tool_calls: self
                    .tool_calls
                    .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
                    .filter(|v| !v.is_null()),
                refusal: self.refusal.and_then(Loose::into_string),
            },
            "tool" => ChatMessage::Tool {
                content,
                name,
                tool_call_id: self.tool_call_id.and_then(Loose::into_string),
            },
            _ => ChatMessage::Function { content, name },
        })
    }
}

/// Reads a message's `content`, counting its parts into the request's budget.
struct ContentSeed<'a> {
    parts: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for ContentSeed<'_> {
    type Value = RawContent;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawContent, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContentSeed<'_> {
    type Value = RawContent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of content parts")
    }
    fn visit_unit<E>(self) -> Result<RawContent, E> {
        Ok(RawContent::Content(MessageContent::Empty))
    }
    fn visit_none<E>(self) -> Result<RawContent, E> {
        Ok(RawContent::Content(MessageContent::Empty))
    }
    fn visit_str<E>(self, s: &str) -> Result<RawContent, E> {
        Ok(RawContent::Content(MessageContent::Text(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<RawContent, E> {
        Ok(RawContent::Content(MessageContent::Text(s)))
    }
    fn visit_bool<E>(self, b: bool) -> Result<RawContent, E> {
        Ok(RawContent::Other(Loose::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<RawContent, E> {
        Ok(RawContent::Other(Loose::Number(n.into())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<RawContent, E> {
        Ok(RawContent::Other(Loose::Number(n.into())))
    }
    fn visit_f64<E>(self, _: f64) -> Result<RawContent, E> {
        Ok(RawContent::Other(Loose::Number(0.into())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawContent, A::Error> {
        skip_map(map)?;
        Ok(RawContent::Other(Loose::Object))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawContent, A::Error> {
        let mut parts = Vec::new();
        while *self.parts < MAX_CONTENT_PARTS {
            match seq.next_element::<ContentPart>()? {
                Some(part) => parts.push(part),
                None => return Ok(RawContent::Content(MessageContent::Parts(parts))),
            }
            *self.parts += 1;
        }
        if skip_seq(&mut seq)? == 0 {
            return Ok(RawContent::Content(MessageContent::Parts(parts)));
        }
        Ok(RawContent::TooManyParts)
    }
}

/// The keys of a content part that are read; any other is skipped.
const PART_KEYS: [&str; 7] = [
    "type",
    "text",
    "input_text",
    "image_url",
    "input_audio",
    "file",
    "refusal",
];

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl<'de> Visitor<'de> for PartVisitor {
            type Value = ContentPart;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContentPart, A::Error> {
                let mut part = RawPart::default();
                while let Some(key) = map.next_key::<KnownKey<PartKeys>>()? {
                    match key.0 {
                        Some(0) => part.part_type = map.next_value()?,
                        Some(1) => part.text = map.next_value()?,
                        Some(2) => part.input_text = map.next_value()?,
                        Some(3) => part.image_url = Some(map.next_value::<Shallow>()?.0),
                        Some(4) => part.input_audio = Some(map.next_value::<Shallow>()?.0),
                        Some(5) => part.file = Some(map.next_value::<Shallow>()?.0),
                        Some(6) => part.refusal = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(part.into_part())
            }
        }
        deserializer
            .deserialize_any(MapOr(PartVisitor))
            .map(|part| part.unwrap_or_else(|got| ContentPart::Other(got.into_value())))
    }
}

/// A content part's fields as read.
#[derive(Default)]
struct RawPart {
    part_type: Option<Loose>,
    text: Option<Loose>,
    input_text: Option<Loose>,
    image_url: Option<Value>,
    input_audio: Option<Value>,
    file: Option<Value>,
    refusal: Option<Loose>,
}

impl RawPart {
    /// The gateway endpoint's rules (`openai-http.js` `extractTextContent`): `text` and
    /// `input_text` parts by their string `text`; a stray string `input_text` makes any other
    /// part text, so such a part stays [`ContentPart::Other`]; then the typed parts.
    fn into_part(self) -> ContentPart {
        let part_type = match &self.part_type {
            Some(Loose::String(t)) => t.as_str(),
            _ => "",
        };
        let text = || match &self.text {
            Some(Loose::String(s)) => Some(s.clone()),
            _ => None,
        };
        match part_type {
            "text" => {
                if let Some(text) = text() {
                    return ContentPart::Text { text };
                }
            }
            "input_text" => {
                if let Some(text) = text() {
                    return ContentPart::InputText { text };
                }
            }
            _ => {}
        }
        let stray_input_text = matches!(self.input_text, Some(Loose::String(_)));
        if !stray_input_text {
            match part_type {
                "image_url" => {
                    if let Some(image_url) = self.image_url {
                        return ContentPart::ImageUrl { image_url };
                    }
                }
                "input_audio" => {
                    if let Some(input_audio) = self.input_audio {
                        return ContentPart::InputAudio { input_audio };
                    }
                }
                "file" => {
                    if let Some(file) = self.file {
                        return ContentPart::File { file };
                    }
                }
                "refusal" => {
                    if let Some(Loose::String(refusal)) = self.refusal {
                        return ContentPart::Refusal { refusal };
                    }
                }
                _ => {}
            }
        }
        let mut kept = Map::new();
        if let Some(t) = self.part_type {
            kept.insert("type".into(), t.into_value());
        }
        if let Some(t) = self.input_text {
            kept.insert("input_text".into(), t.into_value());
        }
        ContentPart::Other(Value::Object(kept))
    }
}

impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut parts = 0;
        let seed = MessageSeed {
            index: 0,
            parts: &mut parts,
        };
        seed.deserialize(deserializer)?
            .map_err(|e| de::Error::custom(e.message))
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
        assert_eq!(req.unknown_fields, ["brand_new_field"]);
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

    #[test]
    fn model_and_user_lengths_are_capped() {
        let msgs = json!([{"role":"user","content":"hi"}]);
        let at_cap = "m".repeat(limits::MAX_MODEL_BYTES);
        assert!(
            parse_json(json!({"messages":msgs, "model":at_cap, "user":"u".repeat(256)})).is_ok()
        );
        let err = parse_json(json!({"messages":msgs, "model":format!("{at_cap}m")})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("string too long"), "{err}");
        let err = parse_json(json!({"messages":msgs, "user":"u".repeat(257)})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("user"));
    }

    #[test]
    fn message_and_part_counts_are_capped() {
        let one = json!({"role":"user","content":"hi"});
        let many = vec![one.clone(); MAX_MESSAGES];
        assert_eq!(
            parse_json(json!({"messages":many})).unwrap().messages.len(),
            MAX_MESSAGES
        );
        let too_many = vec![one; MAX_MESSAGES + 1];
        let err = parse_json(json!({"messages":too_many})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"));
        assert!(
            err.message
                .contains(&format!("length {}", MAX_MESSAGES + 1)),
            "{err}"
        );

        // The part budget is shared by all messages.
        let half = vec![json!({"type":"text","text":"a"}); MAX_CONTENT_PARTS / 2];
        let m = json!({"role":"user","content":half});
        assert!(parse_json(json!({"messages":[m, m]})).is_ok());
        let err =
            parse_json(json!({"messages":[m, m, {"role":"user","content":[{}]}]})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[2].content"));
    }

    #[test]
    fn the_first_bad_message_is_reported_and_the_rest_only_counted() {
        // A million empty arrays as messages: only the first is looked at.
        let body = format!("{{\"messages\":[{}[]]}}", "[],".repeat(1_000_000));
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"), "{err}");
        let body = format!("{{\"messages\":[{}[]]}}", "[],".repeat(100));
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0]"));
        assert!(
            err.message.contains("expected an object, but got an array"),
            "{err}"
        );
    }

    #[test]
    fn tools_and_tool_choice_are_kept_as_sent() {
        let body = br#"{"messages":[{"role":"user","content":"hi"},
            {"role":"assistant","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{}"}}]}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}"#;
        let req = parse(body).unwrap();
        assert_eq!(
            req.tools.as_deref(),
            Some(r#"[{"type":"function","function":{"name":"f"}}]"#)
        );
        assert_eq!(req.tool_choice.as_deref(), Some(r#""required""#));
        assert!(matches!(
            &req.messages[1],
            ChatMessage::Assistant { tool_calls: Some(calls), .. }
                if calls[0]["function"]["name"] == "f"
        ));
        let none = parse(br#"{"messages":[{"role":"user","content":"hi"}],"tools":null}"#).unwrap();
        assert_eq!((none.tools, none.tool_choice), (None, None));
    }

    #[test]
    fn nesting_is_skipped_without_recursion() {
        // The typed reader descends at most five levels (body, messages, message, content,
        // part); anything deeper is skipped iteratively by serde_json (whose recursion limit
        // stays on), so depth costs neither stack nor memory.
        let msgs = r#"[{"role":"user","content":"hi"}]"#;
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body = format!(r#"{{"messages":{msgs},"tools":{deep},"x_custom":{deep}}}"#);
        let req = parse(body.as_bytes()).unwrap();
        assert_eq!(req.ignored_fields(), ["tools", "x_custom"]);
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":[{{"type":"text","text":{deep}}}]}}]}}"#
        );
        let req = parse(body.as_bytes()).unwrap();
        assert!(matches!(
            req.messages[0].content(),
            MessageContent::Parts(parts) if matches!(parts[0], ContentPart::Other(_))
        ));
        let body = format!(r#"{{"messages":{deep}}}"#);
        assert_eq!(err_param_raw(&body).as_deref(), Some("messages[0]"));
        // Unbalanced nesting is still invalid JSON.
        let body = format!(r#"{{"messages":{msgs},"tools":{}}}"#, "[".repeat(1000));
        let err = parse(body.as_bytes()).unwrap_err();
        assert!(
            err.message.starts_with("We could not parse the JSON body"),
            "{err}"
        );
    }

    fn err_param_raw(body: &str) -> Option<String> {
        parse(body.as_bytes()).unwrap_err().param
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"a","model":"b","tools":[1],"tools":null}"#;
        let req = parse(body).unwrap();
        assert_eq!(req.model.as_deref(), Some("b"));
        assert!(req.ignored_fields().is_empty());
    }
}
