//! One streamed `chat.completion.chunk`.
//!
//! `usage` follows OpenAI exactly: when the client asked for `stream_options.include_usage`,
//! every chunk carries `"usage": null` except the last one, which has `"choices": []` and the
//! totals; when it did not ask, `usage` is absent from every chunk.

use serde::{Deserialize, Deserializer, Serialize};

use super::response::{CompletionUsage, FinishReason};
use super::tags::{AssistantRole, Object};

/// A streamed chunk (`"object": "chat.completion.chunk"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Same id on every chunk of a stream.
    pub id: String,
    /// Always [`Object::ChatCompletionChunk`].
    pub object: Object,
    /// Same timestamp on every chunk of a stream.
    pub created: u64,
    /// The model id the client asked for.
    pub model: String,
    /// One choice, or none on the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// `None`: field absent (usage not requested). `Some(None)`: `"usage": null`.
    /// `Some(Some(u))`: the final usage chunk.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub usage: Option<Option<CompletionUsage>>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// What this chunk adds.
    pub delta: ChunkDelta,
    /// Always `null`.
    pub logprobs: Option<serde_json::Value>,
    /// `null` until the finish chunk.
    pub finish_reason: Option<FinishReason>,
}

/// The increment carried by a chunk; the finish chunk's delta is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDelta {
    /// Only on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AssistantRole>,
    /// New reply text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// New text of the agent's work (tool steps, thinking), the field Open WebUI, LibreChat
    /// and the DeepSeek/vLLM convention show as reasoning; never the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Pieces of client tool calls (runs whose client tools were run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<super::tool_call::ChunkToolCall>>,
}

impl ChatCompletionChunk {
    /// A chunk with one choice. `usage_requested` gives it `"usage": null`.
    pub fn with_choice(
        id: String,
        model: String,
        created: u64,
        delta: ChunkDelta,
        finish_reason: Option<FinishReason>,
        usage_requested: bool,
    ) -> Self {
        ChatCompletionChunk {
            id,
            object: Object::ChatCompletionChunk,
            created,
            model,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: usage_requested.then_some(None),
        }
    }

    /// The final usage chunk: no choices, `usage` set.
    pub fn usage(id: String, model: String, created: u64, usage: CompletionUsage) -> Self {
        ChatCompletionChunk {
            id,
            object: Object::ChatCompletionChunk,
            created,
            model,
            choices: Vec::new(),
            usage: Some(Some(usage)),
        }
    }
}

/// A present `usage` field (even `null`) reads as `Some`, so a parsed chunk says whether the
/// field was there.
fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<CompletionUsage>>, D::Error> {
    Option::<CompletionUsage>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(text: &str) -> ChunkDelta {
        ChunkDelta {
            content: Some(text.into()),
            ..ChunkDelta::default()
        }
    }

    #[test]
    fn content_chunk_without_usage_request_has_no_usage_field() {
        let c = ChatCompletionChunk::with_choice(
            "id".into(),
            "m".into(),
            1,
            content("hi"),
            None,
            false,
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({
                "id": "id", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": "hi"}, "logprobs": null,
                             "finish_reason": null}]
            })
        );
    }

    #[test]
    fn chunk_with_usage_request_has_null_usage() {
        let c = ChatCompletionChunk::with_choice(
            "id".into(),
            "m".into(),
            1,
            ChunkDelta {
                role: Some(AssistantRole::Assistant),
                ..ChunkDelta::default()
            },
            None,
            true,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["usage"], json!(null));
        assert!(v.as_object().unwrap().contains_key("usage"));
        assert_eq!(v["choices"][0]["delta"], json!({"role": "assistant"}));
        let back: ChatCompletionChunk = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn finish_chunk_has_empty_delta() {
        let c = ChatCompletionChunk::with_choice(
            "id".into(),
            "m".into(),
            1,
            ChunkDelta::default(),
            Some(FinishReason::Stop),
            false,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["choices"][0]["delta"], json!({}));
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn usage_chunk_has_no_choices() {
        let c = ChatCompletionChunk::usage(
            "id".into(),
            "m".into(),
            1,
            CompletionUsage {
                prompt_tokens: 3,
                completion_tokens: 2,
                total_tokens: 5,
                ..CompletionUsage::default()
            },
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["choices"], json!([]));
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                   "prompt_tokens_details": {"cached_tokens": 0}})
        );
        let back: ChatCompletionChunk = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
