//! The Responses API (`POST /v1/responses`) wire types.
//!
//! Like the chat types: lenient where we accept ([`request`]: string or item input, every
//! documented field accepted, unknown fields collected, errors with a precise `param`) and
//! strict where we emit ([`object`]: the `response` object; [`event`]: the stream events,
//! each with `sequence_number`). Shapes follow async-openai's `types/responses` and OpenAI's
//! API reference; the translation from a run lives in `responses_translate`.

pub mod event;
pub mod object;
pub mod request;

pub use event::{ResponseEvent, ResponseStreamEvent};
pub use object::{
    FunctionCallItem, IncompleteDetails, Metadata, OutputItem, OutputText, ReasoningEcho,
    ReasoningItem, ResponseError, ResponseObject, ResponseOutput, ResponseStatus, ResponseUsage,
    SummaryText,
};
pub use request::{
    parse, InputItem, ItemContent, ItemPart, ItemRole, ResponsesInput, ResponsesRequest,
};
