//! The OpenAI wire types: what clients send us and what we send back, for chat completions
//! and, in [`responses`], for the Responses API.
//!
//! Types we emit ([`response`], [`chunk`], [`error`], [`models`]) are strict: every field
//! OpenAI's SDKs expect is present, with `null` where OpenAI writes `null`. Types we accept
//! ([`request`]) are lenient: every documented field the gateway cannot honour is accepted and
//! ignored, and unknown fields never fail a request, because clients such as Open WebUI send
//! `tools` and friends on every chat.

pub mod chunk;
pub mod error;
mod lean;
pub mod limits;
pub mod models;
pub mod request;
pub mod response;
pub mod responses;
pub mod sse;
pub mod tool_call;

use serde::{Deserialize, Serialize};

pub use chunk::{ChatCompletionChunk, ChunkChoice, ChunkDelta};
pub use error::{ApiError, ErrorBody};
pub use models::{Model, ModelList};
pub use request::{
    ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, RequestError, StreamOptions,
};
pub use response::{
    ChatCompletionResponse, Choice, CompletionUsage, FinishReason, PromptTokensDetails,
    ResponseMessage,
};

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
