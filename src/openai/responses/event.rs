//! Stream events of `POST /v1/responses` with `stream: true`.
//!
//! Each event is one SSE message with a named event, `event: <type>` then `data: <json>`,
//! as OpenAI sends them; every event carries `sequence_number`. The stream ends with its
//! terminal event (`response.completed`, `response.incomplete` or `response.failed`) and no
//! `data: [DONE]`: OpenAI's own stream has none, and the official Python and Node SDK parsers
//! (and Codex) end on the terminal event; both SDKs would also skip a `[DONE]`, so leaving it
//! out costs nothing and spares clients that parse every `data:` line as JSON. (Checked by
//! replaying this module's stream to `openai` 3.57.0 for Python and 6.49.0 for Node:
//! `responses.create(stream=True)` yields all ten events and `responses.stream(...)` returns
//! the final response with its `output_text`.)

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::object::{OutputText, ResponseObject, ResponseOutput, SummaryText};

/// One stream event: the event and its position in the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseStreamEvent {
    /// The event.
    #[serde(flatten)]
    pub event: ResponseEvent,
    /// Position in the stream, from 0, stamped by the translator in one place.
    pub sequence_number: u64,
}

/// The events we emit, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ResponseEvent {
    /// The response exists (`status: in_progress`, no output).
    #[serde(rename = "response.created")]
    Created {
        /// The response so far.
        response: ResponseObject,
    },
    /// The run is under way.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// The response so far.
        response: ResponseObject,
    },
    /// An output item starts (no content yet): the reasoning summary, the message, a call.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        /// The item's place in `output` (the message is 1 after a reasoning item, else 0).
        output_index: u32,
        /// The reasoning item or the message, `in_progress`; or a whole function call.
        item: ResponseOutput,
    },
    /// The reasoning summary's text part starts (empty).
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded {
        /// The reasoning item id.
        item_id: String,
        /// Its place in `output` (0).
        output_index: u32,
        /// Always 0.
        summary_index: u32,
        /// The empty part.
        part: SummaryText,
    },
    /// New reasoning text (a step line, thinking text).
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta {
        /// The reasoning item id.
        item_id: String,
        /// Its place in `output` (0).
        output_index: u32,
        /// Always 0.
        summary_index: u32,
        /// The new text.
        delta: String,
    },
    /// The reasoning text is complete.
    #[serde(rename = "response.reasoning_summary_text.done")]
    ReasoningSummaryTextDone {
        /// The reasoning item id.
        item_id: String,
        /// Its place in `output` (0).
        output_index: u32,
        /// Always 0.
        summary_index: u32,
        /// The whole text.
        text: String,
    },
    /// The reasoning summary's part is complete.
    #[serde(rename = "response.reasoning_summary_part.done")]
    ReasoningSummaryPartDone {
        /// The reasoning item id.
        item_id: String,
        /// Its place in `output` (0).
        output_index: u32,
        /// Always 0.
        summary_index: u32,
        /// The whole part.
        part: SummaryText,
    },
    /// Its text part starts (empty).
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        /// The message id.
        item_id: String,
        /// Always 0.
        output_index: u32,
        /// Always 0.
        content_index: u32,
        /// The empty part.
        part: OutputText,
    },
    /// New text.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        /// The message id.
        item_id: String,
        /// Always 0.
        output_index: u32,
        /// Always 0.
        content_index: u32,
        /// The new text.
        delta: String,
        /// Always empty.
        logprobs: Vec<serde_json::Value>,
    },
    /// The text is complete.
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        /// The message id.
        item_id: String,
        /// Always 0.
        output_index: u32,
        /// Always 0.
        content_index: u32,
        /// The whole text.
        text: String,
        /// Always empty.
        logprobs: Vec<serde_json::Value>,
    },
    /// The text part is complete.
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        /// The message id.
        item_id: String,
        /// Always 0.
        output_index: u32,
        /// Always 0.
        content_index: u32,
        /// The whole part.
        part: OutputText,
    },
    /// The message is complete.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        /// The item's place in `output` (0: the message).
        output_index: u32,
        /// The whole message, or function call.
        item: ResponseOutput,
    },
    /// Terminal: the run finished (full output and usage).
    #[serde(rename = "response.completed")]
    Completed {
        /// The final response.
        response: ResponseObject,
    },
    /// Terminal: the run stopped early (timed out or aborted).
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// The final response.
        response: ResponseObject,
    },
    /// Terminal: the run failed.
    #[serde(rename = "response.failed")]
    Failed {
        /// The final response, with `error`.
        response: ResponseObject,
    },
}

impl ResponseEvent {
    /// The wire name (`response.created`, ...), also the SSE event name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ResponseEvent::Created { .. } => "response.created",
            ResponseEvent::InProgress { .. } => "response.in_progress",
            ResponseEvent::OutputItemAdded { .. } => "response.output_item.added",
            ResponseEvent::ReasoningSummaryPartAdded { .. } => {
                "response.reasoning_summary_part.added"
            }
            ResponseEvent::ReasoningSummaryTextDelta { .. } => {
                "response.reasoning_summary_text.delta"
            }
            ResponseEvent::ReasoningSummaryTextDone { .. } => {
                "response.reasoning_summary_text.done"
            }
            ResponseEvent::ReasoningSummaryPartDone { .. } => {
                "response.reasoning_summary_part.done"
            }
            ResponseEvent::ContentPartAdded { .. } => "response.content_part.added",
            ResponseEvent::OutputTextDelta { .. } => "response.output_text.delta",
            ResponseEvent::OutputTextDone { .. } => "response.output_text.done",
            ResponseEvent::ContentPartDone { .. } => "response.content_part.done",
            ResponseEvent::OutputItemDone { .. } => "response.output_item.done",
            ResponseEvent::Completed { .. } => "response.completed",
            ResponseEvent::Incomplete { .. } => "response.incomplete",
            ResponseEvent::Failed { .. } => "response.failed",
        }
    }

    /// True for the events that end a stream.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ResponseEvent::Completed { .. }
                | ResponseEvent::Incomplete { .. }
                | ResponseEvent::Failed { .. }
        )
    }
}

impl ResponseStreamEvent {
    /// The SSE bytes: `event: <type>\ndata: <json>\n\n`.
    pub fn to_sse(&self) -> Bytes {
        let data = crate::openai::sse::data(self);
        let name = self.event.type_name();
        let mut buf = Vec::with_capacity(7 + name.len() + 1 + data.len());
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
        buf.extend_from_slice(&data);
        Bytes::from(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_carry_type_and_sequence_number() {
        let ev = ResponseStreamEvent {
            event: ResponseEvent::OutputTextDelta {
                item_id: "msg_1".into(),
                output_index: 0,
                content_index: 0,
                delta: "Hi".into(),
                logprobs: vec![],
            },
            sequence_number: 4,
        };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,
                   "content_index":0,"delta":"Hi","logprobs":[],"sequence_number":4})
        );
        let back: ResponseStreamEvent =
            serde_json::from_value(serde_json::to_value(&ev).unwrap()).unwrap();
        assert_eq!(back, ev);
        assert_eq!(
            &ev.to_sse()[..],
            b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\",\"logprobs\":[],\"sequence_number\":4}\n\n"
        );
    }
}
