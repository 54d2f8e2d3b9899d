//! The `object` and `role` values of what we emit: types instead of strings, so a chunk can
//! never be labelled `chat.completion` by mistake.

use serde::{Deserialize, Serialize};

/// The `object` discriminator of the objects we emit; a type instead of a string so a chunk
/// can never be labelled `chat.completion` by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Object {
    /// A full, non-streamed response.
    #[serde(rename = "chat.completion")]
    ChatCompletion,
    /// One streamed chunk.
    #[serde(rename = "chat.completion.chunk")]
    ChatCompletionChunk,
    /// One entry of `GET /v1/models`.
    #[serde(rename = "model")]
    Model,
    /// The `GET /v1/models` envelope.
    #[serde(rename = "list")]
    List,
}

/// The only role we ever emit: replies always come from the assistant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssistantRole {
    /// `"assistant"`.
    #[default]
    #[serde(rename = "assistant")]
    Assistant,
}
