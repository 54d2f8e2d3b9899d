//! Turns one agent run's events into OpenAI output: SSE chunks ([`ChunkTranslator`]) or one
//! full response ([`ResponseCollector`]).
//!
//! Both are plain state machines over [`RunEvent`]s with no I/O, so every case is unit-tested
//! here. The rules shared by both:
//!
//! - The reply is the streamed assistant deltas, completed by the final result's text: the
//!   gateway sometimes puts the reply only in the final result (an LLM error comes back as
//!   reply text with no assistant events; traces: gateway-lab llm_http500), and a timed-out
//!   run may stream text that is absent from the final result (traces: gateway-lab
//!   run_timeout, `payloads: []`).
//! - A completed run ends with `finish_reason: "stop"`; a run that timed out or was aborted
//!   after producing text ends with `"length"` (the reply is cut short); a run that timed out
//!   before producing any text is an error ([`GatewayError::RunTimedOut`]); an aborted run with
//!   no text ends with `"stop"` and an empty reply (nothing was cut short).
//! - A failed run is an error.

use crate::gateway::{GatewayError, RunEvent, RunOutcome, StopKind};
use crate::openai::tool_call::{ChunkToolCall, MessageToolCall};
use crate::openai::{
    AssistantRole, ChatCompletionChunk, ChatCompletionResponse, ChunkDelta, CompletionUsage,
    FinishReason,
};

/// What every chunk or response of one completion shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionMeta {
    /// `chatcmpl-<uuid>`, made by the caller.
    pub id: String,
    /// The model id to echo back (the one the client asked for).
    pub model: String,
    /// Unix seconds when the request was accepted.
    pub created: u64,
}

/// One item for the SSE writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A chunk to send as `data: <json>`.
    Chunk(ChatCompletionChunk),
    /// The run failed: send one error event (or an error status if nothing was sent yet).
    Error(GatewayError),
    /// The stream is over: send `data: [DONE]` (after a chunk) and close.
    Done,
}

/// How a finished run ends the reply: a finish reason, or an error.
fn finish(stop: StopKind, produced_text: bool) -> Result<FinishReason, GatewayError> {
    match stop {
        StopKind::Completed => Ok(FinishReason::Stop),
        StopKind::TimedOut | StopKind::Aborted if produced_text => Ok(FinishReason::Length),
        StopKind::TimedOut => Err(GatewayError::RunTimedOut),
        StopKind::Aborted => Ok(FinishReason::Stop),
    }
}

/// Streaming translation: run events in, chunks out.
///
/// Send [`ChunkTranslator::role_chunk`] first (when the stream starts), then the items of
/// [`ChunkTranslator::on_event`] for each run event until [`StreamItem::Done`].
#[derive(Debug)]
pub struct ChunkTranslator {
    meta: CompletionMeta,
    include_usage: bool,
    /// Everything sent as content so far, to complete it from the final text.
    streamed: String,
    done: bool,
}

impl ChunkTranslator {
    /// A translator for one stream; `include_usage` is `stream_options.include_usage`.
    pub fn new(meta: CompletionMeta, include_usage: bool) -> Self {
        ChunkTranslator {
            meta,
            include_usage,
            streamed: String::new(),
            done: false,
        }
    }

    /// The first chunk: `delta: {"role":"assistant"}`, no content.
    pub fn role_chunk(&mut self) -> ChatCompletionChunk {
        self.chunk(
            ChunkDelta {
                role: Some(AssistantRole::Assistant),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    /// True once [`StreamItem::Done`] has been returned.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The items one run event produces; nothing once the stream is done.
    pub fn on_event(&mut self, ev: RunEvent) -> Vec<StreamItem> {
        if self.done {
            return Vec::new();
        }
        match ev {
            RunEvent::Delta(text) => {
                if text.is_empty() {
                    return Vec::new();
                }
                self.streamed.push_str(&text);
                vec![StreamItem::Chunk(self.content_chunk(text))]
            }
            RunEvent::Finished(outcome) => self.on_finished(outcome),
            RunEvent::Failed(err) => self.on_failed(err),
            RunEvent::Lagged => self.on_failed(GatewayError::Lagged),
            RunEvent::TimedOut => self.on_failed(GatewayError::RunTimedOut),
        }
    }

    fn on_failed(&mut self, err: GatewayError) -> Vec<StreamItem> {
        self.done = true;
        vec![StreamItem::Error(err), StreamItem::Done]
    }

    fn on_finished(&mut self, outcome: RunOutcome) -> Vec<StreamItem> {
        self.done = true;
        let mut items = Vec::with_capacity(4);
        // Send what the final text adds to what was streamed. A final text that disagrees
        // with streamed text cannot be reconciled (the client already has the deltas), so it
        // is dropped; with nothing streamed, the whole final text is the missing suffix.
        if outcome.text.len() > self.streamed.len() && outcome.text.starts_with(&self.streamed) {
            let suffix = outcome.text[self.streamed.len()..].to_owned();
            self.streamed.push_str(&suffix);
            items.push(StreamItem::Chunk(self.content_chunk(suffix)));
        }
        // Client tool calls (runs of the gateway's HTTP endpoint): each as its two pieces,
        // after the text, and the reply ends with `tool_calls`.
        for (i, call) in outcome.tool_calls.iter().enumerate() {
            for piece in ChunkToolCall::pieces(i as u32, call) {
                let delta = ChunkDelta {
                    tool_calls: Some(vec![piece]),
                    ..ChunkDelta::default()
                };
                items.push(StreamItem::Chunk(self.chunk(delta, None)));
            }
        }
        let ended = match outcome.tool_calls.is_empty() {
            true => finish(outcome.stop, !self.streamed.is_empty()),
            false => Ok(FinishReason::ToolCalls),
        };
        match ended {
            Ok(reason) => items.push(StreamItem::Chunk(
                self.chunk(ChunkDelta::default(), Some(reason)),
            )),
            Err(err) => {
                items.push(StreamItem::Error(err));
                items.push(StreamItem::Done);
                return items;
            }
        }
        if self.include_usage {
            let usage = outcome.usage.map(CompletionUsage::from).unwrap_or_default();
            items.push(StreamItem::Chunk(ChatCompletionChunk::usage(
                self.meta.id.clone(),
                self.meta.model.clone(),
                self.meta.created,
                usage,
            )));
        }
        items.push(StreamItem::Done);
        items
    }

    fn content_chunk(&self, text: String) -> ChatCompletionChunk {
        self.chunk(
            ChunkDelta {
                content: Some(text),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    fn chunk(&self, delta: ChunkDelta, finish_reason: Option<FinishReason>) -> ChatCompletionChunk {
        ChatCompletionChunk::with_choice(
            self.meta.id.clone(),
            self.meta.model.clone(),
            self.meta.created,
            delta,
            finish_reason,
            self.include_usage,
        )
    }
}

/// What a one-shot (non-stream) answer needs of a run: nothing until it ends, then its
/// outcome, or the error it ended with (a lagged reader and the local deadline included). The
/// outcome's text is the final result's when it has one (it is the complete reply), else the
/// concatenated deltas (a timed-out run's partial text). Shared by both APIs' collectors.
#[derive(Debug, Default)]
pub struct RunText {
    deltas: String,
    done: bool,
}

impl RunText {
    /// Feeds one event; returns the end once the run has ended (and `None` after that).
    pub fn push(&mut self, ev: RunEvent) -> Option<Result<RunOutcome, GatewayError>> {
        if self.done {
            return None;
        }
        let ended = match ev {
            RunEvent::Delta(text) => {
                self.deltas.push_str(&text);
                return None;
            }
            RunEvent::Failed(err) => Err(err),
            RunEvent::Lagged => Err(GatewayError::Lagged),
            RunEvent::TimedOut => Err(GatewayError::RunTimedOut),
            RunEvent::Finished(mut outcome) => {
                if outcome.text.is_empty() {
                    outcome.text = std::mem::take(&mut self.deltas);
                }
                Ok(outcome)
            }
        };
        self.done = true;
        Some(ended)
    }
}

/// Non-streaming translation: collects a run's events into one response.
#[derive(Debug)]
pub struct ResponseCollector {
    meta: CompletionMeta,
    text: RunText,
}

impl ResponseCollector {
    /// A collector for one request.
    pub fn new(meta: CompletionMeta) -> Self {
        ResponseCollector {
            meta,
            text: RunText::default(),
        }
    }

    /// Feeds one event; returns the result once the run has ended (and `None` after that).
    /// The content is [`RunText`]'s.
    pub fn push(&mut self, ev: RunEvent) -> Option<Result<ChatCompletionResponse, GatewayError>> {
        let outcome = match self.text.push(ev)? {
            Ok(outcome) => outcome,
            Err(err) => return Some(Err(err)),
        };
        if !outcome.tool_calls.is_empty() {
            let mut response = ChatCompletionResponse::new(
                self.meta.id.clone(),
                self.meta.model.clone(),
                self.meta.created,
                outcome.text,
                FinishReason::ToolCalls,
                outcome.usage.map(CompletionUsage::from),
            );
            response.choices[0].message.tool_calls = Some(
                outcome
                    .tool_calls
                    .iter()
                    .map(MessageToolCall::from)
                    .collect(),
            );
            return Some(Ok(response));
        }
        Some(
            finish(outcome.stop, !outcome.text.is_empty()).map(|reason| {
                ChatCompletionResponse::new(
                    self.meta.id.clone(),
                    self.meta.model.clone(),
                    self.meta.created,
                    outcome.text,
                    reason,
                    outcome.usage.map(CompletionUsage::from),
                )
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::ToolCall;
    use crate::gateway::Usage;

    fn with_call(text: &str) -> RunEvent {
        RunEvent::Finished(RunOutcome {
            text: text.into(),
            usage: None,
            stop: StopKind::Completed,
            tool_calls: vec![ToolCall {
                id: "c1".into(),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Paris\"}".into(),
            }],
        })
    }

    #[test]
    fn tool_calls_stream_after_the_text_and_end_the_reply() {
        let mut t = ChunkTranslator::new(meta(), false);
        let items = t.on_event(with_call("Let me check."));
        let chunks: Vec<serde_json::Value> = items
            .iter()
            .filter_map(|i| match i {
                StreamItem::Chunk(c) => Some(serde_json::to_value(c).unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "Let me check.");
        assert_eq!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        assert_eq!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "c1"
        );
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(items.last(), Some(&StreamItem::Done));
    }

    #[test]
    fn a_collected_tool_call_answer() {
        let mut c = ResponseCollector::new(meta());
        let response = c.push(with_call("")).unwrap().unwrap();
        let v = serde_json::to_value(&response).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["choices"][0]["message"]["content"], "");
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["type"],
            "function"
        );
    }

    fn meta() -> CompletionMeta {
        CompletionMeta {
            id: "chatcmpl-test".into(),
            model: "openclaw".into(),
            created: 1_700_000_000,
        }
    }

    fn finished(text: &str, stop: StopKind, usage: Option<Usage>) -> RunEvent {
        RunEvent::Finished(RunOutcome {
            text: text.into(),
            usage,
            stop,
            tool_calls: Vec::new(),
        })
    }

    fn usage() -> Usage {
        Usage {
            input: 10,
            output: 4,
            cache_read: 2,
            cache_write: 0,
            total: 16,
        }
    }

    /// A compact view of a stream: `role`, `c:<text>`, `finish:<reason>`, `usage:<total>`,
    /// `error`, `done`.
    fn view(items: &[StreamItem]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                StreamItem::Chunk(c) if c.choices.is_empty() => {
                    format!("usage:{}", c.usage.unwrap().unwrap().total_tokens)
                }
                StreamItem::Chunk(c) => {
                    let choice = &c.choices[0];
                    match (
                        &choice.delta.role,
                        &choice.delta.content,
                        choice.finish_reason,
                    ) {
                        (Some(_), None, None) => "role".to_owned(),
                        (None, Some(text), None) => format!("c:{text}"),
                        (None, None, Some(r)) => {
                            format!(
                                "finish:{}",
                                serde_json::to_value(r).unwrap().as_str().unwrap()
                            )
                        }
                        other => panic!("unexpected chunk shape {other:?}"),
                    }
                }
                StreamItem::Error(e) => format!("error:{e:?}"),
                StreamItem::Done => "done".to_owned(),
            })
            .collect()
    }

    fn stream(include_usage: bool, events: Vec<RunEvent>) -> (Vec<StreamItem>, ChunkTranslator) {
        let mut t = ChunkTranslator::new(meta(), include_usage);
        let mut items = vec![StreamItem::Chunk(t.role_chunk())];
        for ev in events {
            items.extend(t.on_event(ev));
        }
        (items, t)
    }

    #[test]
    fn role_chunk_comes_first_with_meta() {
        let mut t = ChunkTranslator::new(meta(), false);
        let c = t.role_chunk();
        assert_eq!(c.id, "chatcmpl-test");
        assert_eq!(c.model, "openclaw");
        assert_eq!(c.created, 1_700_000_000);
        assert_eq!(c.choices[0].delta.role, Some(AssistantRole::Assistant));
        assert_eq!(c.choices[0].delta.content, None);
        assert_eq!(c.usage, None);
    }

    #[test]
    fn deltas_then_completed() {
        let (items, t) = stream(
            false,
            vec![
                RunEvent::Delta("Hel".into()),
                RunEvent::Delta(String::new()),
                RunEvent::Delta("lo".into()),
                finished("Hello", StopKind::Completed, Some(usage())),
            ],
        );
        assert_eq!(
            view(&items),
            ["role", "c:Hel", "c:lo", "finish:stop", "done"]
        );
        assert!(t.is_done());
    }

    #[test]
    fn text_only_in_final_result_is_sent_whole() {
        // traces: gateway-lab llm_http500 (reply text with no assistant events)
        let (items, _) = stream(
            false,
            vec![finished(
                "HTTP 500: mock: injected internal server error",
                StopKind::Completed,
                None,
            )],
        );
        assert_eq!(
            view(&items),
            [
                "role",
                "c:HTTP 500: mock: injected internal server error",
                "finish:stop",
                "done"
            ]
        );
    }

    #[test]
    fn final_suffix_completes_partial_stream() {
        let (items, _) = stream(
            false,
            vec![
                RunEvent::Delta("Hello".into()),
                finished("Hello world", StopKind::Completed, None),
            ],
        );
        assert_eq!(
            view(&items),
            ["role", "c:Hello", "c: world", "finish:stop", "done"]
        );
    }

    #[test]
    fn final_text_that_disagrees_with_stream_is_dropped() {
        let (items, _) = stream(
            false,
            vec![
                RunEvent::Delta("Hello there".into()),
                finished("Goodbye", StopKind::Completed, None),
            ],
        );
        assert_eq!(
            view(&items),
            ["role", "c:Hello there", "finish:stop", "done"]
        );
        let (items, _) = stream(
            false,
            vec![
                RunEvent::Delta("Hello there".into()),
                finished("Hello", StopKind::Completed, None),
            ],
        );
        assert_eq!(
            view(&items),
            ["role", "c:Hello there", "finish:stop", "done"]
        );
    }

    #[test]
    fn timeout_with_partial_text_finishes_with_length() {
        // traces: gateway-lab run_timeout (one delta, then payloads: [] with meta.aborted)
        let (items, _) = stream(
            false,
            vec![
                RunEvent::Delta("partial".into()),
                finished("", StopKind::TimedOut, None),
            ],
        );
        assert_eq!(view(&items), ["role", "c:partial", "finish:length", "done"]);
    }

    #[test]
    fn timeout_with_text_only_in_final_finishes_with_length() {
        let (items, _) = stream(false, vec![finished("partial", StopKind::TimedOut, None)]);
        assert_eq!(view(&items), ["role", "c:partial", "finish:length", "done"]);
    }

    #[test]
    fn timeout_without_text_is_an_error() {
        let (items, _) = stream(true, vec![finished("", StopKind::TimedOut, Some(usage()))]);
        assert_eq!(view(&items), ["role", "error:RunTimedOut", "done"]);
    }

    #[test]
    fn aborted_with_text_finishes_with_length_and_without_text_with_stop() {
        let (items, _) = stream(
            false,
            vec![
                RunEvent::Delta("so far".into()),
                finished("", StopKind::Aborted, None),
            ],
        );
        assert_eq!(view(&items), ["role", "c:so far", "finish:length", "done"]);
        let (items, _) = stream(false, vec![finished("", StopKind::Aborted, None)]);
        assert_eq!(view(&items), ["role", "finish:stop", "done"]);
    }

    #[test]
    fn usage_chunk_when_requested() {
        let (items, _) = stream(
            true,
            vec![
                RunEvent::Delta("hi".into()),
                finished("hi", StopKind::Completed, Some(usage())),
            ],
        );
        assert_eq!(
            view(&items),
            ["role", "c:hi", "finish:stop", "usage:16", "done"]
        );
        // Every chunk but the last carries "usage": null.
        for item in &items[..3] {
            let StreamItem::Chunk(c) = item else { panic!() };
            assert_eq!(c.usage, Some(None));
        }
        let StreamItem::Chunk(last) = &items[3] else {
            panic!()
        };
        assert_eq!(
            last.usage,
            Some(Some(CompletionUsage {
                prompt_tokens: 12,
                completion_tokens: 4,
                total_tokens: 16,
                prompt_tokens_details: crate::openai::PromptTokensDetails { cached_tokens: 2 },
            }))
        );
    }

    #[test]
    fn unknown_usage_is_reported_as_zeros() {
        let (items, _) = stream(true, vec![finished("x", StopKind::Completed, None)]);
        assert_eq!(
            view(&items),
            ["role", "c:x", "finish:stop", "usage:0", "done"]
        );
    }

    #[test]
    fn no_usage_field_when_not_requested() {
        let (items, _) = stream(
            false,
            vec![finished("x", StopKind::Completed, Some(usage()))],
        );
        for item in &items {
            if let StreamItem::Chunk(c) = item {
                assert_eq!(c.usage, None);
            }
        }
    }

    #[test]
    fn failure_is_an_error_then_done() {
        let err = GatewayError::RunFailed {
            code: "UNAVAILABLE".into(),
            message: "boom".into(),
        };
        let (items, _) = stream(
            true,
            vec![RunEvent::Delta("a".into()), RunEvent::Failed(err.clone())],
        );
        assert_eq!(items[2], StreamItem::Error(err));
        assert_eq!(items[3], StreamItem::Done);
        assert_eq!(items.len(), 4);
    }

    #[test]
    fn nothing_after_done() {
        let mut t = ChunkTranslator::new(meta(), true);
        assert_eq!(
            t.on_event(finished("x", StopKind::Completed, None)).last(),
            Some(&StreamItem::Done)
        );
        assert!(t.on_event(RunEvent::Delta("late".into())).is_empty());
        assert!(t
            .on_event(finished("y", StopKind::Completed, None))
            .is_empty());
        assert!(t
            .on_event(RunEvent::Failed(GatewayError::Timeout))
            .is_empty());

        let mut t = ChunkTranslator::new(meta(), false);
        t.on_event(RunEvent::Failed(GatewayError::Lagged));
        assert!(t
            .on_event(finished("y", StopKind::Completed, None))
            .is_empty());
    }

    fn collect(events: Vec<RunEvent>) -> Result<ChatCompletionResponse, GatewayError> {
        let mut c = ResponseCollector::new(meta());
        let mut result = None;
        for ev in events {
            if let Some(r) = c.push(ev) {
                assert!(result.is_none(), "two results");
                result = Some(r);
            }
        }
        result.expect("no result")
    }

    #[test]
    fn collector_prefers_final_text() {
        let r = collect(vec![
            RunEvent::Delta("Hel".into()),
            RunEvent::Delta("lo".into()),
            finished(
                "Hello\n\nSecond payload",
                StopKind::Completed,
                Some(usage()),
            ),
        ])
        .unwrap();
        assert_eq!(r.id, "chatcmpl-test");
        assert_eq!(r.model, "openclaw");
        assert_eq!(r.choices[0].message.content, "Hello\n\nSecond payload");
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
        assert_eq!(r.usage.unwrap().total_tokens, 16);
    }

    #[test]
    fn collector_text_only_in_final() {
        let r = collect(vec![finished("only final", StopKind::Completed, None)]).unwrap();
        assert_eq!(r.choices[0].message.content, "only final");
        assert_eq!(r.usage, None);
    }

    #[test]
    fn collector_falls_back_to_deltas() {
        let r = collect(vec![
            RunEvent::Delta("part".into()),
            RunEvent::Delta("ial".into()),
            finished("", StopKind::TimedOut, None),
        ])
        .unwrap();
        assert_eq!(r.choices[0].message.content, "partial");
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
    }

    #[test]
    fn collector_completed_with_no_text_is_an_empty_stop() {
        let r = collect(vec![finished("", StopKind::Completed, None)]).unwrap();
        assert_eq!(r.choices[0].message.content, "");
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
    }

    #[test]
    fn collector_timeout_without_text_is_an_error() {
        assert_eq!(
            collect(vec![finished("", StopKind::TimedOut, Some(usage()))]),
            Err(GatewayError::RunTimedOut)
        );
    }

    #[test]
    fn collector_aborted() {
        let r = collect(vec![finished("cut", StopKind::Aborted, None)]).unwrap();
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
        let r = collect(vec![finished("", StopKind::Aborted, None)]).unwrap();
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
    }

    #[test]
    fn collector_failure_is_an_error_and_then_silent() {
        let err = GatewayError::Disconnected {
            reason: "closed".into(),
        };
        let mut c = ResponseCollector::new(meta());
        assert_eq!(c.push(RunEvent::Delta("a".into())), None);
        assert_eq!(c.push(RunEvent::Failed(err.clone())), Some(Err(err)));
        assert_eq!(c.push(finished("x", StopKind::Completed, None)), None);
    }

    #[test]
    fn lagged_and_timed_out_runs_report_their_errors() {
        for (event, err) in [
            (RunEvent::Lagged, GatewayError::Lagged),
            (RunEvent::TimedOut, GatewayError::RunTimedOut),
        ] {
            let (items, t) = stream(false, vec![RunEvent::Delta("a".into()), event.clone()]);
            assert_eq!(
                items[2..],
                [StreamItem::Error(err.clone()), StreamItem::Done]
            );
            assert!(t.is_done());
            let mut c = ResponseCollector::new(meta());
            assert_eq!(c.push(RunEvent::Delta("a".into())), None);
            assert_eq!(c.push(event), Some(Err(err)));
        }
    }
}
