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
mod tags;
pub mod tool_call;

pub use chunk::{ChatCompletionChunk, ChunkChoice, ChunkDelta};
pub use error::{ApiError, ErrorBody};
pub use models::{Model, ModelList};
pub use request::{ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, StreamOptions};
pub use response::{
    ChatCompletionResponse, Choice, CompletionUsage, FinishReason, PromptTokensDetails,
    ResponseMessage,
};
pub use tags::{AssistantRole, Object};
