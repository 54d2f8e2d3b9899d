//! The `POST /v1/responses` request body, parsed leniently in one typed pass.
//!
//! Real clients send far more than a minimal request: Codex CLI sends its system prompt as
//! `developer` items, `store: false`, `reasoning`, `include`, `prompt_cache_key`,
//! `client_metadata` and tools of types other than `function`; the OpenAI Agents SDK sends
//! items without `"type": "message"`. All of that is accepted. What changes the run:
//! `input`, `instructions`, `previous_response_id`, `stream`, `user`, `model`,
//! `reasoning.effort`, and `metadata` (echoed back). The other documented fields are ignored
//! (the agent owns its tools, sampling and storage; see [`IGNORED_FIELDS`]) and the names of
//! unknown fields are collected in [`ResponsesRequest::unknown_fields`]. Errors name the
//! precise `param` (`input[3].content[1].text`), worded like OpenAI's.
//!
//! Input items: `message` items (with or without `type`), roles `user`, `assistant`,
//! `system`, `developer`, content a string or parts (`input_text`, `output_text`,
//! `input_image`, `input_file`; other part types are ignored); `function_call` and
//! `function_call_output` items (a client's own tool transcript, shown to the agent as text);
//! any other item type (`reasoning`, `item_reference`, `web_search_call`, ...) is ignored.
//!
//! Read like chat's body (`openai::request`), under the same memory bound: straight into
//! these types with no intermediate `serde_json::Value`, skipped values never materialised
//! (`openai::lean`), items and content parts counted as they are read against chat's caps
//! ([`MAX_INPUT_ITEMS`], [`MAX_CONTENT_PARTS`] across all items), `model` and `user` capped
//! as in chat, and `metadata` kept as the JSON text it was sent as.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::object::Metadata;
use crate::error::RequestError;
use crate::openai::lean::{
    skip_seq, Checked, CheckedSeq, ElementReader, KeyList, KnownKey, Loose, MapOr, OneKey, SeqOr,
    Shallow,
};
use crate::openai::limits::{
    self, MAX_CONTENT_PARTS, MAX_INPUT_ITEMS, MAX_MODEL_BYTES, MAX_TOOLS_BYTES,
    MAX_TOOL_CHOICE_BYTES, MAX_USER_BYTES,
};
use crate::openai::request::{bool_field, raw_json, string_field, MAX_UNKNOWN_NAMES, NOT_JSON};
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
    pub metadata: Option<Metadata>,
    /// `reasoning.effort` as the run's thinking level.
    pub reasoning_effort: Option<ThinkingLevel>,
    /// `store` as sent (echoed; nothing is stored either way).
    pub store: Option<bool>,
    /// `tools` as sent (not `null`), its JSON text: read by `crate::client_tools` when the
    /// tools can be run (skipped without recursion like any ignored field until then).
    pub tools: Option<String>,
    /// `tool_choice` as sent (not `null`), its JSON text.
    pub tool_choice: Option<String>,
    /// Documented fields that were sent (not `null`) and are ignored.
    pub ignored: Vec<&'static str>,
    /// Names of fields OpenAI does not document (the first few), for a debug log; never an
    /// error.
    pub unknown_fields: Vec<String>,
}

impl ResponsesRequest {
    /// Names of the fields that were sent and are ignored, documented ones first; for a
    /// debug log.
    pub fn ignored_fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.ignored.clone();
        names.extend(self.unknown_fields.iter().map(String::as_str));
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
    /// `input_image`: the keys `media::image` reads (checked when it is used).
    Image(Map<String, Value>),
    /// `input_file`: the keys `media::file` reads (checked when it is used).
    File(Map<String, Value>),
    /// Any other part type (`refusal`, `summary_text`, ...); ignored.
    Other,
}

/// Parses and validates a request body in one pass (see the module docs).
///
/// Problems are reported in a fixed order (the body, then `model`, `instructions`,
/// `previous_response_id`, `user`, `stream`, `metadata`, `reasoning`, then `input` in
/// order), each with its precise `param`.
pub fn parse(body: &[u8]) -> Result<ResponsesRequest, RequestError> {
    let top =
        serde_json::from_slice::<Body>(body).map_err(|_| RequestError::new(NOT_JSON, None))?;
    match top.0 {
        Ok(raw) => raw.validate(),
        Err(got) => Err(RequestError::new(
            format!(
                "Invalid request body: expected a JSON object, but got {} instead.",
                got.json_type()
            ),
            None,
        )),
    }
}

/// The top-level value: the fields of an object, or what it was instead.
struct Body(Result<Box<RawRequest>, Loose>);

/// The fields as read, before their types are checked.
#[derive(Default)]
struct RawRequest {
    model: Option<Loose>,
    input: Option<RawInput>,
    instructions: Option<Loose>,
    previous_response_id: Option<Loose>,
    stream: Option<Loose>,
    user: Option<Loose>,
    metadata: Option<Box<RawValue>>,
    /// `reasoning`: its `effort`, or what it was instead of an object.
    reasoning: Option<Result<Option<Loose>, Loose>>,
    store: Option<Loose>,
    tools: Option<Result<String, RequestError>>,
    tool_choice: Option<Result<String, RequestError>>,
    /// Which [`IGNORED_FIELDS`] were sent, not `null`.
    ignored: [bool; IGNORED_FIELDS.len()],
    unknown_fields: Vec<String>,
}

/// `input` as read.
enum RawInput {
    Text(String),
    /// The items up to the first problem, how many there were, and that problem.
    Items {
        list: Vec<InputItem>,
        len: usize,
        error: Option<RequestError>,
    },
    Other(Loose),
}

impl RawRequest {
    fn validate(self) -> Result<ResponsesRequest, RequestError> {
        let model = string_field(self.model, "model", Some(MAX_MODEL_BYTES))?;
        let instructions = string_field(self.instructions, "instructions", None)?;
        let previous_response_id =
            string_field(self.previous_response_id, "previous_response_id", None)?;
        let user = string_field(self.user, "user", Some(MAX_USER_BYTES))?;
        if let Some(user) = &user {
            limits::check_no_control("user", user)?;
        }
        let stream = bool_field(self.stream, "stream")?.unwrap_or(false);
        let metadata = match self.metadata.map(Metadata::object) {
            None => None,
            Some(Ok(metadata)) => Some(metadata),
            Some(Err(raw)) => {
                return Err(RequestError::new(
                    format!(
                        "Invalid type for 'metadata': expected an object, but got {} instead.",
                        raw_json_type(&raw)
                    ),
                    Some("metadata".to_owned()),
                ))
            }
        };
        let reasoning_effort = match self.reasoning {
            None => None,
            Some(Ok(effort)) => {
                let effort = effort.map(Loose::into_value);
                ThinkingLevel::from_json(effort.as_ref(), "reasoning.effort")?
            }
            Some(Err(got)) => {
                return Err(RequestError::invalid_type(
                    "reasoning",
                    "an object",
                    &got.into_value(),
                ))
            }
        };
        let input = match self.input {
            None => return Err(RequestError::missing("input")),
            Some(RawInput::Text(text)) => ResponsesInput::Text(text),
            Some(RawInput::Other(got)) => {
                return Err(RequestError::invalid_type(
                    "input",
                    "a string or an array of input items",
                    &got.into_value(),
                ))
            }
            Some(RawInput::Items { len, .. }) if len > MAX_INPUT_ITEMS => {
                return Err(limits::array_too_long("input", len, MAX_INPUT_ITEMS))
            }
            Some(RawInput::Items {
                error: Some(error), ..
            }) => return Err(error),
            Some(RawInput::Items { list, .. }) => ResponsesInput::Items(list),
        };
        Ok(ResponsesRequest {
            model,
            input,
            instructions,
            previous_response_id,
            stream,
            user,
            metadata,
            reasoning_effort,
            store: self.store.and_then(|v| v.as_bool()),
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

/// How OpenAI's error messages name the type of a value kept as JSON text.
fn raw_json_type(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A top-level key, matched without allocating (an unknown one is kept by name).
enum TopKey {
    Model,
    Input,
    Instructions,
    PreviousResponseId,
    Stream,
    User,
    Metadata,
    Reasoning,
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
                    "input" => TopKey::Input,
                    "instructions" => TopKey::Instructions,
                    "previous_response_id" => TopKey::PreviousResponseId,
                    "stream" => TopKey::Stream,
                    "user" => TopKey::User,
                    "metadata" => TopKey::Metadata,
                    "reasoning" => TopKey::Reasoning,
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

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MapOr(BodyVisitor)).map(Body)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Box<RawRequest>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawRequest::default();
        // A key sent twice: the last value counts, as in `JSON.parse`.
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Model => raw.model = map.next_value()?,
                TopKey::Instructions => raw.instructions = map.next_value()?,
                TopKey::PreviousResponseId => raw.previous_response_id = map.next_value()?,
                TopKey::Stream => raw.stream = map.next_value()?,
                TopKey::User => raw.user = map.next_value()?,
                TopKey::Metadata => raw.metadata = map.next_value()?,
                TopKey::Reasoning => {
                    raw.reasoning = map
                        .next_value::<Option<OneKey<ReasoningKeys>>>()?
                        .map(|f| f.0)
                }
                TopKey::Input => raw.input = map.next_value::<Option<InputField>>()?.map(|f| f.0),
                TopKey::Ignored(i) if IGNORED_FIELDS[i] == "store" => {
                    raw.store = map.next_value()?;
                    raw.ignored[i] = raw.store.is_some();
                }
                // The client's tools are kept as their text, borrowed until its size is
                // known: a value over the cap is never copied.
                TopKey::Ignored(i) if IGNORED_FIELDS[i] == "tools" => {
                    raw.tools = raw_json(map.next_value()?, "tools", MAX_TOOLS_BYTES);
                    raw.ignored[i] = raw.tools.is_some();
                }
                TopKey::Ignored(i) if IGNORED_FIELDS[i] == "tool_choice" => {
                    raw.tool_choice =
                        raw_json(map.next_value()?, "tool_choice", MAX_TOOL_CHOICE_BYTES);
                    raw.ignored[i] = raw.tool_choice.is_some();
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
        Ok(Box::new(raw))
    }
}

/// The key of `reasoning` that is read.
struct ReasoningKeys;
impl KeyList for ReasoningKeys {
    const KEYS: &'static [&'static str] = &["effort"];
}

/// `input`: a string, the items (see [`Items`]), or what it was instead.
struct InputField(RawInput);

impl<'de> Deserialize<'de> for InputField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = CheckedSeq {
            reader: Items { parts: 0 },
            max: MAX_INPUT_ITEMS,
        };
        let read = deserializer.deserialize_any(SeqOr(items))?;
        Ok(InputField(match read {
            Ok(Checked { list, len, error }) => RawInput::Items { list, len, error },
            Err(Loose::String(text)) => RawInput::Text(text),
            Err(got) => RawInput::Other(got),
        }))
    }
}

/// Reads `input` items: each item is checked as soon as it is read; after the first
/// problem, or past [`MAX_INPUT_ITEMS`], the rest is only counted ([`CheckedSeq`]).
/// Content parts share one budget of [`MAX_CONTENT_PARTS`].
struct Items {
    parts: usize,
}

impl<'de> ElementReader<'de> for Items {
    type Item = InputItem;

    fn next<A: SeqAccess<'de>>(
        &mut self,
        seq: &mut A,
        index: usize,
    ) -> Result<Option<Result<InputItem, RequestError>>, A::Error> {
        seq.next_element_seed(ItemSeed {
            index,
            parts: &mut self.parts,
        })
    }
}

/// Reads item `index` of `input` and checks it, counting its content parts into `parts`.
/// A problem with the item is the inner `Err`, with its `param`.
struct ItemSeed<'a> {
    index: usize,
    parts: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Result<InputItem, RequestError>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let index = self.index;
        let read = deserializer.deserialize_any(MapOr(ItemVisitor(self)))?;
        Ok(match read {
            Ok(item) => item,
            Err(got) => Err(RequestError::invalid_type(
                &format!("input[{index}]"),
                "an object",
                &got.into_value(),
            )),
        })
    }
}

/// The keys of an item that are read; any other is skipped.
struct ItemKeys;
impl KeyList for ItemKeys {
    const KEYS: &'static [&'static str] = &[
        "type",
        "role",
        "content",
        "call_id",
        "id",
        "name",
        "arguments",
        "output",
    ];
}

/// An item's fields as read. `None` is absent; `role`, `call_id` and `id` keep a `null`
/// (their presence counts).
#[derive(Default)]
struct RawItem {
    kind: Option<Loose>,
    role: Option<Loose>,
    content: Option<RawContent>,
    call_id: Option<Loose>,
    id: Option<Loose>,
    name: Option<Loose>,
    arguments: Option<Loose>,
    output: Option<Box<RawValue>>,
}

/// A message item's `content` as read.
enum RawContent {
    Text(String),
    /// The parts up to the first problem, and that problem.
    Parts(Vec<ItemPart>, Option<RequestError>),
    /// More parts than the request's budget left.
    TooManyParts,
    /// `null`.
    Null,
    Other(Loose),
}

struct ItemVisitor<'a>(ItemSeed<'a>);

impl<'de> Visitor<'de> for ItemVisitor<'_> {
    type Value = Result<InputItem, RequestError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an input item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ItemSeed { index, parts } = self.0;
        let param = format!("input[{index}]");
        let mut raw = RawItem::default();
        while let Some(key) = map.next_key::<KnownKey<ItemKeys>>()? {
            match key.0 {
                Some(0) => raw.kind = map.next_value()?,
                Some(1) => raw.role = Some(map.next_value()?),
                Some(2) => {
                    let seed = ContentSeed {
                        param: &param,
                        parts: &mut *parts,
                    };
                    raw.content = Some(map.next_value_seed(seed)?);
                }
                Some(3) => raw.call_id = Some(map.next_value()?),
                Some(4) => raw.id = Some(map.next_value()?),
                Some(5) => raw.name = map.next_value()?,
                Some(6) => raw.arguments = map.next_value()?,
                Some(7) => raw.output = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw.check(&param))
    }
}

impl RawItem {
    /// The checks of one item, in the order OpenAI reports them: type, then role, then
    /// content.
    fn check(mut self, param: &str) -> Result<InputItem, RequestError> {
        let kind = match self.kind.take() {
            None if self.role.is_some() => "message".to_owned(),
            None => return Err(RequestError::missing(&format!("{param}.type"))),
            Some(Loose::String(kind)) => kind,
            Some(other) => {
                return Err(RequestError::invalid_type(
                    &format!("{param}.type"),
                    "a string",
                    &other.into_value(),
                ))
            }
        };
        let text = |v: Option<Loose>| v.and_then(Loose::into_string).unwrap_or_default();
        match kind.as_str() {
            "message" => self.message(param),
            "function_call" => Ok(InputItem::FunctionCall {
                call_id: text(self.call_id.or(self.id)),
                name: text(self.name),
                arguments: text(self.arguments),
            }),
            "function_call_output" => Ok(InputItem::FunctionCallOutput {
                call_id: text(self.call_id),
                output: self.output.as_deref().map(output_text).unwrap_or_default(),
            }),
            _ => Ok(InputItem::Ignored { kind }),
        }
    }

    fn message(self, param: &str) -> Result<InputItem, RequestError> {
        let role_param = format!("{param}.role");
        let role = match self.role {
            None | Some(Loose::Null) => return Err(RequestError::missing(&role_param)),
            Some(Loose::String(role)) => match role.as_str() {
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
            Some(other) => {
                return Err(RequestError::invalid_type(
                    &role_param,
                    "a string",
                    &other.into_value(),
                ))
            }
        };
        let content_param = format!("{param}.content");
        let content = match self.content {
            None | Some(RawContent::Null) => return Err(RequestError::missing(&content_param)),
            Some(RawContent::Text(text)) => ItemContent::Text(text),
            Some(RawContent::Parts(_, Some(error))) => return Err(error),
            Some(RawContent::Parts(parts, None)) => ItemContent::Parts(parts),
            Some(RawContent::TooManyParts) => {
                return Err(RequestError::new(
                    format!(
                        "Invalid '{content_param}': too many content parts. Expected at most \
                         {MAX_CONTENT_PARTS} parts across all items."
                    ),
                    Some(content_param),
                ))
            }
            Some(RawContent::Other(got)) => {
                return Err(RequestError::invalid_type(
                    &content_param,
                    "a string or an array of content parts",
                    &got.into_value(),
                ))
            }
        };
        Ok(InputItem::Message { role, content })
    }
}

/// A `function_call_output`'s `output` as text: a string as is, the text parts' texts
/// joined by a line break, any other value as the JSON the client sent.
fn output_text(raw: &RawValue) -> String {
    let json = raw.get();
    let read = match json.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(json),
        Some(b'[') => serde_json::from_str::<PartTexts>(json).map(|t| t.0),
        _ => return json.to_owned(),
    };
    // Already read once as valid JSON: reading it again cannot fail.
    read.unwrap_or_default()
}

/// The string `text` fields of an array's objects, non-empty ones joined by `"\n"`, read
/// without keeping anything else.
struct PartTexts(String);

impl<'de> Deserialize<'de> for PartTexts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextsVisitor;
        impl<'de> Visitor<'de> for TextsVisitor {
            type Value = PartTexts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of parts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PartTexts, A::Error> {
                let mut out = String::new();
                while let Some(part) = seq.next_element::<OneKey<TextKey>>()? {
                    let text = part.0.ok().flatten().and_then(Loose::into_string);
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(&text);
                    }
                }
                Ok(PartTexts(out))
            }
        }
        deserializer.deserialize_seq(TextsVisitor)
    }
}

/// The key of an output part that is read (its string `text`, if it is an object with one).
struct TextKey;
impl KeyList for TextKey {
    const KEYS: &'static [&'static str] = &["text"];
}

/// Reads a message item's `content`, counting its parts into the request's budget.
struct ContentSeed<'a> {
    /// The item's param (`input[3]`).
    param: &'a str,
    parts: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for ContentSeed<'_> {
    type Value = RawContent;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawContent, D::Error> {
        Ok(match deserializer.deserialize_any(SeqOr(self))? {
            Ok(content) => content,
            Err(Loose::Null) => RawContent::Null,
            Err(Loose::String(text)) => RawContent::Text(text),
            Err(got) => RawContent::Other(got),
        })
    }
}

impl<'de> Visitor<'de> for ContentSeed<'_> {
    type Value = RawContent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of content parts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawContent, A::Error> {
        let mut parts = Vec::new();
        while *self.parts < MAX_CONTENT_PARTS {
            let param = || format!("{}.content[{}]", self.param, parts.len());
            let Some(part) = seq.next_element::<RawPart>()? else {
                return Ok(RawContent::Parts(parts, None));
            };
            *self.parts += 1;
            match part.check(&param()) {
                Ok(part) => parts.push(part),
                // The first bad part is the item's problem: the rest is only skipped.
                Err(e) => {
                    skip_seq(&mut seq)?;
                    return Ok(RawContent::Parts(parts, Some(e)));
                }
            }
        }
        if skip_seq(&mut seq)? == 0 {
            return Ok(RawContent::Parts(parts, None));
        }
        Ok(RawContent::TooManyParts)
    }
}

/// The keys of a content part that are read: `type`, `text`, and those the media readers
/// use (`media::image::from_responses_part`, `media::file::from_responses_part`).
struct PartKeys;
impl KeyList for PartKeys {
    const KEYS: &'static [&'static str] = &[
        "type",
        "text",
        "image_url",
        "source",
        "file_id",
        "file_url",
        "file_data",
        "filename",
    ];
}

/// A content part as read: its `type` and `text`, and the media keys one level deep
/// (`source` two), or what it was instead of an object.
enum RawPart {
    Object {
        kind: Option<Loose>,
        text: Option<Loose>,
        media: Map<String, Value>,
    },
    Other(Loose),
}

impl<'de> Deserialize<'de> for RawPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl<'de> Visitor<'de> for PartVisitor {
            type Value = RawPart;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPart, A::Error> {
                let (mut kind, mut text, mut media) = (None, None, Map::new());
                while let Some(key) = map.next_key::<KnownKey<PartKeys>>()? {
                    match key.0 {
                        Some(0) => kind = map.next_value()?,
                        Some(1) => text = map.next_value()?,
                        Some(i) => {
                            let name = PartKeys::KEYS[i];
                            let value = if name == "source" {
                                map.next_value::<Shallow>()?.0
                            } else {
                                map.next_value::<Loose>()?.into_value()
                            };
                            media.insert(name.to_owned(), value);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawPart::Object { kind, text, media })
            }
        }
        let read = deserializer.deserialize_any(MapOr(PartVisitor))?;
        Ok(read.unwrap_or_else(RawPart::Other))
    }
}

impl RawPart {
    fn check(self, param: &str) -> Result<ItemPart, RequestError> {
        let (kind, text, media) = match self {
            RawPart::Object { kind, text, media } => (kind, text, media),
            RawPart::Other(got) => {
                return Err(RequestError::invalid_type(
                    param,
                    "an object",
                    &got.into_value(),
                ))
            }
        };
        match kind.as_ref().and_then(|k| match k {
            Loose::String(k) => Some(k.as_str()),
            _ => None,
        }) {
            Some("input_text" | "output_text") => match text {
                Some(Loose::String(text)) => Ok(ItemPart::Text(text)),
                None | Some(Loose::Null) => Err(RequestError::missing(&format!("{param}.text"))),
                Some(other) => Err(RequestError::invalid_type(
                    &format!("{param}.text"),
                    "a string",
                    &other.into_value(),
                )),
            },
            Some("input_image") => Ok(ItemPart::Image(media)),
            Some("input_file") => Ok(ItemPart::File(media)),
            Some(_) => Ok(ItemPart::Other),
            None => Err(RequestError::missing(&format!("{param}.type"))),
        }
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
        assert_eq!(r.metadata.unwrap().get(), r#"{"k":"v"}"#);
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
        let tools: Value = serde_json::from_str(r.tools.as_deref().unwrap()).unwrap();
        assert_eq!(
            tools,
            json!([{"type":"function","name":"shell"},{"type":"web_search"},{"type":"namespace","name":"mcp"}])
        );
        assert_eq!(r.tool_choice.as_deref(), Some(r#""auto""#));
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
        assert_eq!(r.unknown_fields, ["client_metadata"]);
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
    fn metadata_is_echoed_as_sent_and_must_be_an_object() {
        let r = parse(br#"{"input":"x","metadata": {"b": "1", "a": "2"}}"#).unwrap();
        assert_eq!(r.metadata.unwrap().get(), r#"{"b": "1", "a": "2"}"#);
        for (metadata, got) in [
            ("[1]", "an array"),
            ("\"m\"", "a string"),
            ("7", "a number"),
            ("true", "a boolean"),
        ] {
            let body = format!(r#"{{"input":"x","metadata":{metadata}}}"#);
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("metadata"));
            assert_eq!(
                err.message,
                format!("Invalid type for 'metadata': expected an object, but got {got} instead.")
            );
        }
    }

    #[test]
    fn model_and_user_lengths_are_capped_as_in_chat() {
        let at_cap = "m".repeat(MAX_MODEL_BYTES);
        assert!(parse_json(json!({"input":"x","model":at_cap,"user":"u".repeat(256)})).is_ok());
        let err = parse_json(json!({"input":"x","model":format!("{at_cap}m")})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("string too long"), "{err}");
        assert_eq!(
            err_param(json!({"input":"x","user":"u".repeat(257)})).as_deref(),
            Some("user")
        );
    }

    #[test]
    fn item_and_part_counts_are_capped() {
        let one = json!({"role":"user","content":"hi"});
        let many = vec![one.clone(); MAX_INPUT_ITEMS];
        assert!(parse_json(json!({ "input": many })).is_ok());
        let err = parse_json(json!({ "input": vec![one; MAX_INPUT_ITEMS + 1] })).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));
        assert!(
            err.message
                .contains(&format!("length {}", MAX_INPUT_ITEMS + 1)),
            "{err}"
        );
        // The part budget is shared by all items.
        let half = vec![json!({"type":"input_text","text":"a"}); MAX_CONTENT_PARTS / 2];
        let m = json!({"role":"user","content":half});
        assert!(parse_json(json!({"input":[m, m]})).is_ok());
        let err = parse_json(json!({"input":[m, m, {"role":"user","content":[{}]}]})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[2].content"));
        assert!(err.message.contains("too many content parts"), "{err}");
    }

    #[test]
    fn the_first_bad_item_is_reported_and_the_rest_only_counted() {
        let body = format!(r#"{{"input":[{}[]]}}"#, "[],".repeat(1_000_000));
        assert_eq!(
            parse(body.as_bytes()).unwrap_err().param.as_deref(),
            Some("input"),
        );
        let body = format!(r#"{{"input":[{}[]]}}"#, "[],".repeat(100));
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0]"));
        assert!(
            err.message.contains("expected an object, but got an array"),
            "{err}"
        );
        // A bad part stops the item: the first one is reported, however many follow.
        let body = format!(
            r#"{{"input":[{{"role":"user","content":[{}[]]}}]}}"#,
            "[],".repeat(MAX_CONTENT_PARTS + 10)
        );
        assert_eq!(
            parse(body.as_bytes()).unwrap_err().param.as_deref(),
            Some("input[0].content[0]")
        );
        // A bad part stops the item: the first one is reported.
        let err = parse_json(json!({"input":[{"role":"user","content":[
            {"type":"input_text","text":"a"}, 5, {"type":"input_text"}
        ]}]}))
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0].content[1]"));
    }

    #[test]
    fn nesting_is_skipped_without_recursion() {
        // As in chat: what is not read is skipped iteratively, so depth costs neither stack
        // nor memory.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body = format!(r#"{{"input":"hi","tools":{deep},"x_custom":{deep}}}"#);
        let r = parse(body.as_bytes()).unwrap();
        assert_eq!(r.ignored_fields(), ["tools", "x_custom"]);
        let body = format!(
            r#"{{"input":[{{"role":"user","content":"hi","extra":{deep}}},{{"type":"reasoning","summary":{deep}}}]}}"#
        );
        let ResponsesInput::Items(items) = parse(body.as_bytes()).unwrap().input else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        // Unbalanced nesting is still invalid JSON.
        let body = format!(r#"{{"input":"hi","tools":{}}}"#, "[".repeat(1000));
        assert!(parse(body.as_bytes())
            .unwrap_err()
            .message
            .starts_with("We could not parse the JSON body"));
    }

    #[test]
    fn unknown_names_are_kept_once_and_capped() {
        let mut body = json!({"input":"x","x_a":1});
        for i in 0..100 {
            body[format!("x_{i}")] = json!(i);
        }
        let r = parse_json(body).unwrap();
        assert_eq!(r.unknown_fields.len(), MAX_UNKNOWN_NAMES);
        let r = parse(br#"{"input":"x","x_a":1,"x_a":2}"#).unwrap();
        assert_eq!(r.unknown_fields, ["x_a"]);
    }

    #[test]
    fn media_parts_keep_what_the_media_readers_use() {
        let r = parse_json(json!({"input":[{"role":"user","content":[
            {"type":"input_image","image_url":"data:x","detail":"low","junk":[[1]]},
            {"type":"input_file","source":{"type":"base64","media_type":"text/plain",
             "data":"AA","filename":"a.txt","deep":{"x":[1]}},"file_id":null}
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
        assert_eq!(
            parts[0],
            ItemPart::Image(json!({"image_url":"data:x"}).as_object().unwrap().clone())
        );
        assert_eq!(
            parts[1],
            ItemPart::File(
                json!({"source":{"type":"base64","media_type":"text/plain","data":"AA",
                                 "filename":"a.txt"},"file_id":null})
                .as_object()
                .unwrap()
                .clone()
            )
        );
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
