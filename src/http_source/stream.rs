//! The gateway's chat-completions stream, read back into run events.
//!
//! openclaw's `/v1/chat/completions` stream (`dist/openai-http-*.mjs`, recorded in
//! `mock-gateway/fixtures/v4/http/`): `data: <json>` events separated by a blank line; a
//! role chunk; `delta.content` text chunks; for each client tool call one chunk with its
//! `index`, `id` and `function.name` and then its `function.arguments` in pieces; one
//! finish chunk (`finish_reason` `stop`, `length` or `tool_calls`); the usage chunk
//! (`choices: []`, asked for with `stream_options.include_usage`); `data: [DONE]`. A failure
//! after the headers is one `data: {"error":{"message","type"}}` event, then `[DONE]`.
//!
//! [`StreamDecoder`] takes the body in pieces of any size and yields text as it comes, and
//! the outcome (text, tool calls, usage) once `[DONE]` arrives. Anything else it cannot read
//! is a protocol error, never a panic; an event larger than [`MAX_EVENT_BYTES`] too.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::gateway::ToolCall;
use crate::gateway::{GatewayError, RunOutcome, StopKind, Usage};

/// Largest single event accepted (the gateway cuts arguments into 256-unit pieces and text
/// into deltas, so real events are small).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// What one piece of the stream produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Assistant text.
    Text(String),
    /// The stream ended normally (`[DONE]` after a finish chunk).
    Done(RunOutcome),
    /// The gateway reported a failure, or the stream broke the protocol.
    Failed(GatewayError),
}

/// Reads one stream (see the module doc).
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Bytes of an event not yet complete.
    pending: Vec<u8>,
    text: String,
    /// Tool calls by their `index`.
    calls: BTreeMap<u64, PartialCall>,
    finish: Option<String>,
    usage: Option<Usage>,
    error: Option<GatewayError>,
    /// Set once a terminal item was returned: nothing after it counts.
    ended: bool,
    /// The `id` of the first chunk: the gateway's run id (`chatcmpl_<uuid>`).
    run_id: Option<String>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct Chunk {
    id: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<ChunkUsage>,
    error: Option<ChunkError>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<CallDelta>,
}

#[derive(Deserialize)]
struct CallDelta {
    index: u64,
    id: Option<String>,
    #[serde(default)]
    function: FunctionDelta,
}

#[derive(Deserialize, Default)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

#[derive(Deserialize)]
struct ChunkError {
    #[serde(default)]
    message: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// The gateway's id for the run, once its first chunk arrived.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Whether a terminal item was returned.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Feeds the next bytes of the body; returns what they completed, in order. After a
    /// terminal item ([`Decoded::Done`] or [`Decoded::Failed`]) nothing more is returned.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(end) = event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..end.0 + end.1).take(end.0).collect();
            self.event(&event, &mut out);
            if self.ended {
                self.pending.clear();
                return out;
            }
        }
        if self.pending.len() > MAX_EVENT_BYTES {
            self.fail(
                GatewayError::Protocol(format!(
                    "an event of the gateway's stream is longer than {MAX_EVENT_BYTES} bytes"
                )),
                &mut out,
            );
        }
        out
    }

    /// The body ended: a stream that did not reach `[DONE]` was cut.
    pub fn finish(&mut self) -> Option<Decoded> {
        if self.ended {
            return None;
        }
        self.ended = true;
        Some(Decoded::Failed(self.error.take().unwrap_or_else(|| {
            GatewayError::Disconnected {
                reason: "the gateway's stream ended before [DONE]".into(),
            }
        })))
    }

    fn event(&mut self, event: &[u8], out: &mut Vec<Decoded>) {
        // An event is its `data:` lines joined by newlines (comments and other fields skipped).
        let Ok(text) = std::str::from_utf8(event) else {
            return self.fail(
                GatewayError::Protocol("the gateway's stream is not UTF-8".into()),
                out,
            );
        };
        let mut data = String::new();
        for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
            if let Some(rest) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            }
        }
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            return self.done(out);
        }
        let chunk: Chunk = match serde_json::from_str(&data) {
            Ok(c) => c,
            Err(e) => {
                return self.fail(
                    GatewayError::Protocol(format!(
                        "unreadable event in the gateway's stream: {e}"
                    )),
                    out,
                )
            }
        };
        if self.run_id.is_none() {
            self.run_id = chunk
                .id
                .filter(|id| !id.is_empty())
                .map(|id| id.chars().take(128).collect());
        }
        if let Some(e) = chunk.error {
            // `[DONE]` follows; the error is the outcome.
            self.error = Some(GatewayError::RunFailed {
                code: if e.kind.is_empty() {
                    "api_error".into()
                } else {
                    e.kind
                },
                message: e.message,
            });
            return;
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(Usage {
                input: u.prompt_tokens,
                output: u.completion_tokens,
                total: u.total_tokens,
                ..Usage::default()
            });
        }
        for choice in chunk.choices {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.text.push_str(&text);
                out.push(Decoded::Text(text));
            }
            for call in choice.delta.tool_calls {
                let entry = self.calls.entry(call.index).or_default();
                if let Some(id) = call.id {
                    entry.id = id;
                }
                if let Some(name) = call.function.name {
                    entry.name = name;
                }
                if let Some(args) = call.function.arguments {
                    entry.arguments.push_str(&args);
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
            }
        }
    }

    fn done(&mut self, out: &mut Vec<Decoded>) {
        self.ended = true;
        if let Some(e) = self.error.take() {
            out.push(Decoded::Failed(e));
            return;
        }
        let Some(finish) = self.finish.take() else {
            out.push(Decoded::Failed(GatewayError::Protocol(
                "the gateway's stream ended without a finish reason".into(),
            )));
            return;
        };
        let mut tool_calls = Vec::new();
        for call in std::mem::take(&mut self.calls).into_values() {
            if call.id.is_empty() || call.name.is_empty() {
                out.push(Decoded::Failed(GatewayError::Protocol(
                    "a tool call in the gateway's stream has no id or name".into(),
                )));
                return;
            }
            tool_calls.push(ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            });
        }
        let stop = match finish.as_str() {
            // The model's output was cut at its token limit: the closest of our stops.
            "length" => StopKind::TimedOut,
            _ => StopKind::Completed,
        };
        out.push(Decoded::Done(RunOutcome {
            replayed: false,
            text: std::mem::take(&mut self.text),
            usage: self.usage,
            stop,
            tool_calls,
        }));
    }

    fn fail(&mut self, e: GatewayError, out: &mut Vec<Decoded>) {
        self.ended = true;
        out.push(Decoded::Failed(e));
    }
}

/// Where the first complete event ends: (its length, the separator's length). Events end
/// with a blank line (`\n\n`, or `\r\n\r\n`).
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of a recorded answer (`mock-gateway/fixtures/v4/http/<name>.raw.txt`).
    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/mock-gateway/fixtures/v4/http/{name}.raw.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let raw = std::fs::read_to_string(&path).unwrap();
        raw.split_once("\n\n").unwrap().1.to_owned()
    }

    fn decode_in_pieces(body: &str, piece: usize) -> Vec<Decoded> {
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        for chunk in body.as_bytes().chunks(piece) {
            out.extend(d.push(chunk));
        }
        out.extend(d.finish());
        out
    }

    #[test]
    fn a_recorded_tool_call_stream_in_any_pieces() {
        let body = recorded("chat_tool_stream");
        for piece in [1, 7, 64, body.len()] {
            let out = decode_in_pieces(&body, piece);
            let [Decoded::Done(outcome)] = out.as_slice() else {
                panic!("{out:?}");
            };
            assert_eq!(outcome.text, "");
            assert_eq!(outcome.stop, StopKind::Completed);
            assert_eq!(
                outcome.tool_calls,
                [ToolCall {
                    id: "291b816db".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                }]
            );
            assert_eq!(outcome.usage.map(|u| u.total), Some(15));
        }
        let mut d = StreamDecoder::new();
        d.push(body.as_bytes());
        assert_eq!(
            d.run_id(),
            Some("chatcmpl_c9493a69-9ae0-457f-93b8-9801442faf42")
        );
    }

    #[test]
    fn a_recorded_text_stream_gives_its_deltas_then_the_outcome() {
        let out = decode_in_pieces(&recorded("chat_text_stream_with_tools"), 5);
        let texts: Vec<&str> = out
            .iter()
            .filter_map(|d| match d {
                Decoded::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["echo:", " hello", " there"]);
        let Some(Decoded::Done(outcome)) = out.last() else {
            panic!("{out:?}");
        };
        assert_eq!(outcome.text, "echo: hello there");
        assert!(outcome.tool_calls.is_empty());
        assert_eq!(outcome.usage.map(|u| (u.input, u.output)), Some((5620, 4)));
    }

    #[test]
    fn a_recorded_error_event_fails_the_run_with_its_type_and_message() {
        for name in [
            "chat_llm400_stream_with_tools",
            "chat_ask_user_conflict_stream",
        ] {
            let out = decode_in_pieces(&recorded(name), 3);
            let [Decoded::Failed(GatewayError::RunFailed { code, message })] = out.as_slice()
            else {
                panic!("{name}: {out:?}");
            };
            assert_eq!(code, "invalid_request_error", "{name}");
            assert!(!message.is_empty());
        }
        let out = decode_in_pieces(&recorded("chat_forced_unsatisfied_stream"), 50);
        assert!(
            matches!(&out[..], [Decoded::Failed(GatewayError::RunFailed { code, message })]
                if code == "api_error" && message.contains("get_weather")),
            "{out:?}"
        );
    }

    #[test]
    fn arguments_in_several_pieces_and_several_calls_are_joined_by_index() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"let me look\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"x\\\":\"}}]}}]}\r\n\r\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n",
            ": a comment\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let out = decode_in_pieces(body, 11);
        let Some(Decoded::Done(outcome)) = out.last() else {
            panic!("{out:?}");
        };
        assert_eq!(outcome.text, "let me look");
        let calls: Vec<(&str, &str, &str)> = outcome
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(calls, [("a", "f", "{\"x\":1}"), ("b", "g", "{}")]);
        assert_eq!(outcome.usage, None);
    }

    #[test]
    fn broken_streams_are_errors_never_panics() {
        let cases = [
            "data: {not json\n\n",
            "data: [DONE]\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"cut\"}}]}\n\n",
            "data: \u{0}\n\n",
        ];
        for body in cases {
            let out = decode_in_pieces(body, 4);
            assert!(
                matches!(out.last(), Some(Decoded::Failed(_))),
                "{body:?}: {out:?}"
            );
            assert_eq!(
                out.iter()
                    .filter(|d| !matches!(d, Decoded::Text(_)))
                    .count(),
                1,
                "one terminal item: {out:?}"
            );
        }
        let mut d = StreamDecoder::new();
        let out = d.push(&vec![b'x'; MAX_EVENT_BYTES + 1]);
        assert!(matches!(
            &out[..],
            [Decoded::Failed(GatewayError::Protocol(_))]
        ));
        assert!(d.push(b"data: [DONE]\n\n").is_empty() && d.finish().is_none());
    }

    #[test]
    fn length_is_a_cut_reply() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"ab\"},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";
        let out = decode_in_pieces(body, 100);
        assert!(matches!(out.last(), Some(Decoded::Done(o)) if o.stop == StopKind::TimedOut));
    }
}
