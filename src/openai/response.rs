//! The non-streamed `chat.completion` response.
//!
//! Strict: every field OpenAI's SDKs read is present (`refusal` and `logprobs` as `null`).
//! `usage` is omitted when the gateway reported none rather than faked with zeros;
//! `system_fingerprint` is never sent (it is optional in OpenAI's schema).

use serde::{Deserialize, Serialize};

use super::tags::{AssistantRole, Object};
use crate::gateway::Usage;

/// A full chat completion (`"object": "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    /// `chatcmpl-<uuid>`.
    pub id: String,
    /// Always [`Object::ChatCompletion`].
    pub object: Object,
    /// Unix seconds when the request was accepted.
    pub created: u64,
    /// The model id the client asked for (echoed back, as the gateway's endpoint does).
    pub model: String,
    /// Exactly one choice: an agent run yields one reply.
    pub choices: Vec<Choice>,
    /// Token usage, omitted when the gateway did not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
}

impl ChatCompletionResponse {
    /// A response with one assistant choice holding `content`.
    pub fn new(
        id: String,
        model: String,
        created: u64,
        content: String,
        finish_reason: FinishReason,
        usage: Option<CompletionUsage>,
    ) -> Self {
        ChatCompletionResponse {
            id,
            object: Object::ChatCompletion,
            created,
            model,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: AssistantRole::Assistant,
                    content,
                    refusal: None,
                    reasoning_content: None,
                    tool_calls: None,
                },
                logprobs: None,
                finish_reason,
            }],
            usage,
        }
    }
}

/// One choice of a full response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Always 0.
    pub index: u32,
    /// The reply.
    pub message: ResponseMessage,
    /// Always `null`: the gateway reports no log probabilities.
    pub logprobs: Option<serde_json::Value>,
    /// Why the reply ended.
    pub finish_reason: FinishReason,
}

/// The assistant message of a choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    pub role: AssistantRole,
    /// The reply text (the SDKs expect a string here, never absent).
    pub content: String,
    /// Always `null`: agent replies are text.
    pub refusal: Option<String>,
    /// The agent's work as text (tool steps, thinking), when the request's progress level
    /// shows it; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// The client tool calls the run ended with (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<super::tool_call::MessageToolCall>>,
}

/// Why a reply ended, in OpenAI's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The agent finished its reply.
    Stop,
    /// The reply was cut short (the run timed out or was aborted after producing text).
    Length,
    /// The run ended with client tool calls for the caller to run.
    ToolCalls,
    /// Never emitted by us; kept for completeness.
    ContentFilter,
}

/// Token usage in OpenAI's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionUsage {
    /// All input tokens, cached or not.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// `prompt_tokens + completion_tokens`.
    pub total_tokens: u64,
    /// Breakdown of the prompt tokens.
    pub prompt_tokens_details: PromptTokensDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
}

impl From<Usage> for CompletionUsage {
    /// Cached input counts as prompt tokens ([`Usage::input_total`]).
    fn from(u: Usage) -> Self {
        let prompt_tokens = u.input_total();
        CompletionUsage {
            prompt_tokens,
            completion_tokens: u.output,
            total_tokens: prompt_tokens.saturating_add(u.output),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: u.cache_read,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_serializes_like_openai() {
        let usage = CompletionUsage::from(Usage {
            input: 10,
            output: 5,
            cache_read: 100,
            cache_write: 3,
            total: 118,
        });
        let r = ChatCompletionResponse::new(
            "chatcmpl-1".into(),
            "openclaw".into(),
            1700000000,
            "hello".into(),
            FinishReason::Stop,
            Some(usage),
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "openclaw",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "hello", "refusal": null},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {
                    "prompt_tokens": 113,
                    "completion_tokens": 5,
                    "total_tokens": 118,
                    "prompt_tokens_details": {"cached_tokens": 100}
                }
            })
        );
    }

    #[test]
    fn unknown_usage_is_omitted() {
        let r = ChatCompletionResponse::new(
            "id".into(),
            "m".into(),
            0,
            String::new(),
            FinishReason::Length,
            None,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert!(v.get("usage").is_none());
        assert!(v.get("system_fingerprint").is_none());
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["choices"][0]["message"]["content"], "");
    }

    #[test]
    fn finish_reasons_are_snake_case() {
        let names: Vec<_> = [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::ToolCalls,
            FinishReason::ContentFilter,
        ]
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                json!("stop"),
                json!("length"),
                json!("tool_calls"),
                json!("content_filter")
            ]
        );
    }

    #[test]
    fn usage_sums_saturate() {
        let u = CompletionUsage::from(Usage {
            input: u64::MAX,
            output: 1,
            ..Usage::default()
        });
        assert_eq!(u.prompt_tokens, u64::MAX);
        assert_eq!(u.total_tokens, u64::MAX);
    }
}
