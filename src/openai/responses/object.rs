//! The `response` object we emit, whole (non-stream) or inside stream events.
//!
//! Strict, with every field of OpenAI's `Response` that its SDKs and Codex read: the request
//! echoes (`instructions`, `metadata`, `previous_response_id`, `reasoning`, `store`, `user`)
//! and fixed values for what an agent run does not have (`tools: []`, `tool_choice: "auto"`,
//! `truncation: "disabled"`, `text.format.type: "text"`); `error`, `incomplete_details`,
//! `temperature`, `top_p` and `max_output_tokens` are `null` when unset, as OpenAI sends them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::gateway::Usage;
use crate::openai::AssistantRole;

/// `"object": "response"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseObjectKind {
    /// The only value.
    #[default]
    #[serde(rename = "response")]
    Response,
}

/// A response's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    /// Started, not finished (in `response.created` / `response.in_progress`).
    InProgress,
    /// The run finished its reply.
    Completed,
    /// The run stopped early (timed out or aborted); the text may be partial.
    Incomplete,
    /// The run failed.
    Failed,
}

/// A Responses API response object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// The response id (see `response_id`).
    pub id: String,
    /// Always `response`.
    pub object: ResponseObjectKind,
    /// Unix seconds when the request was accepted.
    pub created_at: u64,
    /// Status.
    pub status: ResponseStatus,
    /// Why it failed, for `failed`.
    pub error: Option<ResponseError>,
    /// Why it is incomplete, for `incomplete`.
    pub incomplete_details: Option<IncompleteDetails>,
    /// The request's `instructions`.
    pub instructions: Option<String>,
    /// Always `null`: the gateway has no output token limit per run.
    pub max_output_tokens: Option<u64>,
    /// The model id the client asked for, echoed.
    pub model: String,
    /// The output items: one assistant message (none before it starts or when a run failed
    /// before any text).
    pub output: Vec<ResponseOutput>,
    /// Always `true` (OpenAI's default; the agent runs its own tools).
    pub parallel_tool_calls: bool,
    /// The request's `previous_response_id`.
    pub previous_response_id: Option<String>,
    /// The requested reasoning effort, echoed.
    pub reasoning: ReasoningEcho,
    /// The request's `store` (default `true`, as OpenAI's); nothing is stored either way.
    pub store: bool,
    /// Always `null`.
    pub temperature: Option<f64>,
    /// Always plain text.
    pub text: TextConfig,
    /// Always `auto`.
    pub tool_choice: String,
    /// Always empty: the client's tools are not offered to the agent.
    pub tools: Vec<Value>,
    /// Always `null`.
    pub top_p: Option<f64>,
    /// Always `disabled`.
    pub truncation: String,
    /// Token usage; `null` until the run has ended.
    pub usage: Option<ResponseUsage>,
    /// The request's `user`.
    pub user: Option<String>,
    /// The request's `metadata` (`{}` when none).
    pub metadata: Metadata,
}

/// The request's `metadata` object, echoed in the response as the client sent it: kept as
/// its JSON text, never read into a tree, so its cost is its own size whatever it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Box<RawValue>);

impl Metadata {
    /// `raw` as metadata when it is a JSON object; else `raw` back.
    pub(crate) fn object(raw: Box<RawValue>) -> Result<Self, Box<RawValue>> {
        if raw.get().starts_with('{') {
            Ok(Metadata(raw))
        } else {
            Err(raw)
        }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl Default for Metadata {
    /// `{}`.
    fn default() -> Self {
        Metadata(RawValue::from_string("{}".to_owned()).expect("an empty JSON object"))
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    /// `server_error` or `timeout`.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// `incomplete_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// Always `max_output_tokens`: like chat's `length`, the reply was cut short (OpenAI
    /// knows no other reason a client would handle).
    pub reason: String,
}

/// `reasoning` echo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningEcho {
    /// The effort as the client wrote it (`none`, `low`, ...), or `null`.
    pub effort: Option<String>,
    /// Always `null`: no reasoning summaries.
    pub summary: Option<String>,
}

/// `text`: the output format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Always `{"type": "text"}`.
    pub format: TextFormat,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            format: TextFormat {
                r#type: "text".to_owned(),
            },
        }
    }
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextFormat {
    /// Always `text`.
    #[serde(rename = "type")]
    pub r#type: String,
}

/// `"type": "message"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// The only value we emit.
    #[default]
    #[serde(rename = "message")]
    Message,
}

/// One item of a response's `output`: the agent's work as a reasoning summary (only when the
/// request's progress level shows it, before the message), the assistant's message, or a call
/// of one of the caller's function tools (runs whose client tools were run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResponseOutput {
    /// `"type": "message"`.
    Message(OutputItem),
    /// `"type": "function_call"`.
    FunctionCall(FunctionCallItem),
    /// `"type": "reasoning"`.
    Reasoning(ReasoningItem),
}

impl From<ReasoningItem> for ResponseOutput {
    fn from(item: ReasoningItem) -> Self {
        ResponseOutput::Reasoning(item)
    }
}

/// `"type": "reasoning"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReasoningKind {
    /// The only value.
    #[default]
    #[serde(rename = "reasoning")]
    Reasoning,
}

/// The agent's work (tool steps, thinking, approval waits) as one reasoning summary: what
/// Codex CLI prints as its reasoning summary and the Agents SDK yields as a reasoning item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// Always `reasoning`.
    #[serde(rename = "type")]
    pub kind: ReasoningKind,
    /// `rs_<uuid>`.
    pub id: String,
    /// `in_progress` or `completed`.
    pub status: ResponseStatus,
    /// One `summary_text` part (none in `response.output_item.added`).
    pub summary: Vec<SummaryText>,
}

impl ReasoningItem {
    /// The reasoning item `id` with `text` (no summary part when `text` is `None`).
    pub fn new(id: &str, status: ResponseStatus, text: Option<String>) -> Self {
        ReasoningItem {
            kind: ReasoningKind::Reasoning,
            id: id.to_owned(),
            status,
            summary: text.map(SummaryText::new).into_iter().collect(),
        }
    }
}

/// `"type": "summary_text"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SummaryTextKind {
    /// The only value.
    #[default]
    #[serde(rename = "summary_text")]
    SummaryText,
}

/// A `summary_text` part of a reasoning item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryText {
    /// Always `summary_text`.
    #[serde(rename = "type")]
    pub kind: SummaryTextKind,
    /// The text.
    pub text: String,
}

impl SummaryText {
    /// A part holding `text`.
    pub fn new(text: String) -> Self {
        SummaryText {
            kind: SummaryTextKind::SummaryText,
            text,
        }
    }
}

impl From<OutputItem> for ResponseOutput {
    fn from(item: OutputItem) -> Self {
        ResponseOutput::Message(item)
    }
}

impl ResponseOutput {
    /// The message, when this item is one.
    pub fn message(&self) -> Option<&OutputItem> {
        match self {
            ResponseOutput::Message(m) => Some(m),
            ResponseOutput::FunctionCall(_) | ResponseOutput::Reasoning(_) => None,
        }
    }
}

impl From<FunctionCallItem> for ResponseOutput {
    fn from(item: FunctionCallItem) -> Self {
        ResponseOutput::FunctionCall(item)
    }
}

/// `"type": "function_call"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionCallKind {
    /// The only value.
    #[default]
    #[serde(rename = "function_call")]
    FunctionCall,
}

/// A `function_call` output item, as openclaw's endpoint and OpenAI write it: the caller runs
/// the function and sends a `function_call_output` with the same `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// Always `function_call`.
    #[serde(rename = "type")]
    pub kind: FunctionCallKind,
    /// The item id, `fc_<...>`.
    pub id: String,
    /// The call id the caller answers with.
    pub call_id: String,
    /// The function's name (the caller's).
    pub name: String,
    /// The arguments, a JSON text.
    pub arguments: String,
    /// `completed` (the call is whole when it is sent).
    pub status: ResponseStatus,
}

impl FunctionCallItem {
    /// The item of `call`.
    pub fn of(call: &crate::gateway::ToolCall) -> Self {
        FunctionCallItem {
            kind: FunctionCallKind::FunctionCall,
            id: format!("fc_{}", call.id),
            call_id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            status: ResponseStatus::Completed,
        }
    }
}

/// An output item: the assistant's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputItem {
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// `msg_<uuid>`.
    pub id: String,
    /// `in_progress`, `completed` or `incomplete`.
    pub status: ResponseStatus,
    /// Always `assistant`.
    pub role: AssistantRole,
    /// The text parts: one `output_text` (none in `response.output_item.added`).
    pub content: Vec<OutputText>,
}

impl OutputItem {
    /// The assistant message `id` with `text` (no content part when `text` is `None`).
    pub fn message(id: &str, status: ResponseStatus, text: Option<String>) -> Self {
        OutputItem {
            kind: MessageKind::Message,
            id: id.to_owned(),
            status,
            role: AssistantRole::Assistant,
            content: text.map(OutputText::new).into_iter().collect(),
        }
    }
}

/// `"type": "output_text"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputTextKind {
    /// The only value we emit.
    #[default]
    #[serde(rename = "output_text")]
    OutputText,
}

/// An `output_text` content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputText {
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: OutputTextKind,
    /// The text.
    pub text: String,
    /// Always empty.
    pub annotations: Vec<Value>,
    /// Always empty: the gateway reports no log probabilities.
    pub logprobs: Vec<Value>,
}

impl OutputText {
    /// A part holding `text`.
    pub fn new(text: String) -> Self {
        OutputText {
            kind: OutputTextKind::OutputText,
            text,
            annotations: Vec::new(),
            logprobs: Vec::new(),
        }
    }
}

/// Token usage in the Responses shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// All input tokens, cached or not.
    pub input_tokens: u64,
    /// Breakdown of the input tokens.
    pub input_tokens_details: InputTokensDetails,
    /// Output tokens.
    pub output_tokens: u64,
    /// Breakdown of the output tokens.
    pub output_tokens_details: OutputTokensDetails,
    /// `input_tokens + output_tokens`.
    pub total_tokens: u64,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Always 0: the gateway does not report reasoning tokens apart.
    pub reasoning_tokens: u64,
}

impl From<Usage> for ResponseUsage {
    /// Cached input counts as input ([`Usage::input_total`]), as in chat's `prompt_tokens`.
    fn from(u: Usage) -> Self {
        let input_tokens = u.input_total();
        ResponseUsage {
            input_tokens,
            input_tokens_details: InputTokensDetails {
                cached_tokens: u.cache_read,
            },
            output_tokens: u.output,
            output_tokens_details: OutputTokensDetails::default(),
            total_tokens: input_tokens.saturating_add(u.output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_from_gateway_counts() {
        let u = ResponseUsage::from(Usage {
            input: 10,
            output: 5,
            cache_read: 100,
            cache_write: 3,
            total: 118,
        });
        assert_eq!(
            serde_json::to_value(u).unwrap(),
            json!({"input_tokens": 113, "input_tokens_details": {"cached_tokens": 100},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": 118})
        );
    }

    #[test]
    fn output_item_shape() {
        let item = OutputItem::message("msg_1", ResponseStatus::Completed, Some("hi".into()));
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"type":"message","id":"msg_1","status":"completed","role":"assistant",
                   "content":[{"type":"output_text","text":"hi","annotations":[],"logprobs":[]}]})
        );
        let empty = OutputItem::message("msg_1", ResponseStatus::InProgress, None);
        assert_eq!(serde_json::to_value(&empty).unwrap()["content"], json!([]));
        let reasoning = ReasoningItem::new("rs_1", ResponseStatus::Completed, Some("Ran".into()));
        let reasoning = ResponseOutput::from(reasoning);
        assert_eq!(
            serde_json::to_value(&reasoning).unwrap(),
            json!({"type":"reasoning","id":"rs_1","status":"completed",
                   "summary":[{"type":"summary_text","text":"Ran"}]})
        );
        let back: ResponseOutput =
            serde_json::from_value(serde_json::to_value(&reasoning).unwrap()).unwrap();
        assert_eq!(back, reasoning);
    }
}
