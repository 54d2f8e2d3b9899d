//! Chat completions output of one agent run ([`ChatTranslator`]): SSE chunks as the run's
//! events come, and the whole `chat.completion` once it has ended.
//!
//! A plain state machine over [`RunEvent`]s with no I/O, so every case is unit-tested here;
//! the reply text follows [`ReplyText`]'s rules, shared with the Responses API. How a run
//! ends:
//!
//! - A completed run ends with `finish_reason: "stop"`; a run that timed out or was aborted
//!   after producing text ends with `"length"` (the reply is cut short); a run that timed out
//!   before producing any text is an error ([`GatewayError::RunTimedOut`]); an aborted run with
//!   no text ends with `"stop"` and an empty reply (nothing was cut short).
//! - A run that ended with client tool calls (runs of the gateway's HTTP endpoint) ends with
//!   `"tool_calls"`, the calls after the text: in a stream each as its two pieces (id and
//!   name, then the arguments), in the whole response as the message's `tool_calls`.
//! - A failed run is an error.

use crate::gateway::{GatewayError, RunEvent, RunOutcome, StopKind, ToolCall, Usage};
use crate::openai::tool_call::{ChunkToolCall, MessageToolCall};
use crate::openai::{
    AssistantRole, ChatCompletionChunk, ChatCompletionResponse, ChunkDelta, CompletionUsage,
    FinishReason,
};
use crate::progress_text::ProgressText;
use crate::run_format::{ReplyText, RunFormat};

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

/// How a run ended: its stop kind and usage, or the error it failed with.
type Ending = Result<(StopKind, Option<Usage>), GatewayError>;

/// Chat completions translation: run events in, chunks out, and the whole response at the
/// end.
///
/// A stream sends [`RunFormat::opening`] (the role chunk) first, then the items of
/// [`RunFormat::on_event`] for each run event until [`StreamItem::Done`]; a non-stream
/// answer feeds the same events and takes [`RunFormat::answer`].
#[derive(Debug)]
pub struct ChatTranslator {
    meta: CompletionMeta,
    include_usage: bool,
    text: ReplyText,
    /// The agent's work, sent as `reasoning_content`.
    progress: ProgressText,
    ending: Option<Ending>,
    /// The client tool calls the run ended with.
    tool_calls: Vec<ToolCall>,
    /// The error the stream sent, if any.
    failure: Option<GatewayError>,
}

impl ChatTranslator {
    /// A translator for one request; `include_usage` is `stream_options.include_usage`.
    pub fn new(meta: CompletionMeta, include_usage: bool) -> Self {
        ChatTranslator {
            meta,
            include_usage,
            text: ReplyText::default(),
            progress: ProgressText::default(),
            ending: None,
            tool_calls: Vec::new(),
            failure: None,
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

    fn on_failed(&mut self, err: GatewayError) -> Vec<StreamItem> {
        self.ending = Some(Err(err.clone()));
        self.failure = Some(err.clone());
        vec![StreamItem::Error(err), StreamItem::Done]
    }

    fn on_finished(&mut self, outcome: RunOutcome) -> Vec<StreamItem> {
        self.ending = Some(Ok((outcome.stop, outcome.usage)));
        let mut items = Vec::with_capacity(4);
        if let Some(suffix) = self.text.finish(outcome.text) {
            items.push(StreamItem::Chunk(self.content_chunk(suffix)));
        }
        for (i, call) in outcome.tool_calls.iter().enumerate() {
            for piece in ChunkToolCall::pieces(i as u32, call) {
                let delta = ChunkDelta {
                    tool_calls: Some(vec![piece]),
                    ..ChunkDelta::default()
                };
                items.push(StreamItem::Chunk(self.chunk(delta, None)));
            }
        }
        self.tool_calls = outcome.tool_calls;
        match self.reason(outcome.stop, !self.text.streamed().is_empty()) {
            Ok(reason) => items.push(StreamItem::Chunk(
                self.chunk(ChunkDelta::default(), Some(reason)),
            )),
            Err(err) => {
                self.failure = Some(err.clone());
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

    /// How the reply ends: `tool_calls` when the run ended with client tool calls, else by
    /// [`finish`].
    fn reason(&self, stop: StopKind, produced_text: bool) -> Result<FinishReason, GatewayError> {
        match self.tool_calls.is_empty() {
            true => finish(stop, produced_text),
            false => Ok(FinishReason::ToolCalls),
        }
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

    fn reasoning_chunk(&self, text: String) -> ChatCompletionChunk {
        self.chunk(
            ChunkDelta {
                reasoning_content: Some(text),
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

impl RunFormat for ChatTranslator {
    type Item = StreamItem;
    type Answer = ChatCompletionResponse;

    fn opening(&mut self) -> Vec<StreamItem> {
        vec![StreamItem::Chunk(self.role_chunk())]
    }

    fn on_event(&mut self, ev: RunEvent) -> Vec<StreamItem> {
        if self.is_done() {
            return Vec::new();
        }
        match ev {
            RunEvent::Delta(text) => match self.text.delta(text) {
                Some(text) => vec![StreamItem::Chunk(self.content_chunk(text))],
                None => Vec::new(),
            },
            RunEvent::Progress(progress) => match self.progress.render(&progress) {
                Some(text) => vec![StreamItem::Chunk(self.reasoning_chunk(text))],
                None => Vec::new(),
            },
            RunEvent::Finished(outcome) => self.on_finished(outcome),
            RunEvent::Failed(err) => self.on_failed(err),
            RunEvent::Lagged => self.on_failed(GatewayError::Lagged),
            RunEvent::TimedOut => self.on_failed(GatewayError::RunTimedOut),
        }
    }

    fn is_done(&self) -> bool {
        self.ending.is_some()
    }

    fn failure(&self) -> Option<&GatewayError> {
        self.failure.as_ref()
    }

    /// The content is [`ReplyText::whole`]: the final text, else the deltas; the agent's
    /// work, if any was shown, is `reasoning_content`.
    fn answer(&self) -> Option<Result<ChatCompletionResponse, GatewayError>> {
        let (stop, usage) = match self.ending.as_ref()? {
            Ok(ended) => *ended,
            Err(err) => return Some(Err(err.clone())),
        };
        let text = self.text.whole();
        Some(self.reason(stop, !text.is_empty()).map(|reason| {
            let mut response = ChatCompletionResponse::new(
                self.meta.id.clone(),
                self.meta.model.clone(),
                self.meta.created,
                text.to_owned(),
                reason,
                usage.map(CompletionUsage::from),
            );
            response.choices[0].message.reasoning_content = self.progress.whole();
            if !self.tool_calls.is_empty() {
                response.choices[0].message.tool_calls =
                    Some(self.tool_calls.iter().map(MessageToolCall::from).collect());
            }
            response
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::progress::{Progress, StepPhase, StepStatus, ToolStep};
    use crate::gateway::Usage;

    fn with_call(text: &str) -> RunEvent {
        RunEvent::Finished(RunOutcome {
            replayed: false,
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
        let mut t = ChatTranslator::new(meta(), false);
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
    fn a_whole_tool_call_answer() {
        let mut t = ChatTranslator::new(meta(), false);
        t.on_event(with_call(""));
        let response = t.answer().unwrap().unwrap();
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
            replayed: false,
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
                StreamItem::Chunk(c) if c.choices[0].delta.reasoning_content.is_some() => {
                    let delta = &c.choices[0].delta;
                    assert!(delta.content.is_none() && delta.role.is_none());
                    format!("r:{}", delta.reasoning_content.as_deref().unwrap())
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

    fn stream(include_usage: bool, events: Vec<RunEvent>) -> (Vec<StreamItem>, ChatTranslator) {
        let mut t = ChatTranslator::new(meta(), include_usage);
        let mut items = vec![StreamItem::Chunk(t.role_chunk())];
        for ev in events {
            items.extend(t.on_event(ev));
        }
        (items, t)
    }

    #[test]
    fn role_chunk_comes_first_with_meta() {
        let mut t = ChatTranslator::new(meta(), false);
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
        let mut t = ChatTranslator::new(meta(), true);
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

        let mut t = ChatTranslator::new(meta(), false);
        t.on_event(RunEvent::Failed(GatewayError::Lagged));
        assert!(t
            .on_event(finished("y", StopKind::Completed, None))
            .is_empty());
    }

    /// The whole answer, as a non-stream request gets it: there is one once the run has
    /// ended, and it does not change after that.
    fn collect(events: Vec<RunEvent>) -> Result<ChatCompletionResponse, GatewayError> {
        let mut t = ChatTranslator::new(meta(), false);
        let mut result = None;
        for ev in events {
            t.on_event(ev);
            match &result {
                None => result = t.answer(),
                Some(r) => assert_eq!(t.answer().as_ref(), Some(r), "answer changed"),
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
        let mut t = ChatTranslator::new(meta(), false);
        t.on_event(RunEvent::Delta("a".into()));
        assert_eq!(t.answer(), None);
        t.on_event(RunEvent::Failed(err.clone()));
        assert_eq!(t.answer(), Some(Err(err.clone())));
        assert!(t
            .on_event(finished("x", StopKind::Completed, None))
            .is_empty());
        assert_eq!(t.answer(), Some(Err(err)));
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
            assert_eq!(t.failure(), Some(&err));
            assert_eq!(collect(vec![RunEvent::Delta("a".into()), event]), Err(err));
        }
    }

    fn v4_step(phase: StepPhase, status: StepStatus) -> RunEvent {
        // openclaw-lab tool_call
        RunEvent::Progress(Progress::Tool(ToolStep {
            phase,
            call_id: Some("call_mock_164c858e".into()),
            name: Some("agents_list".into()),
            title: Some("Agents".into()),
            error: (status == StepStatus::Blocked).then(|| "Tool agents_list not found".into()),
            status,
            started_at_ms: Some(1795689841412),
            ended_at_ms: (phase == StepPhase::Ended).then_some(1795689841418),
            args: None,
            result: None,
        }))
    }

    #[test]
    fn steps_are_reasoning_before_and_between_the_answer() {
        let events = vec![
            RunEvent::Progress(Progress::Thinking("Hmm.".into())),
            v4_step(StepPhase::Started, StepStatus::Running),
            v4_step(StepPhase::Ended, StepStatus::Blocked),
            RunEvent::Delta("echo".into()),
            finished("echo", StopKind::Completed, None),
        ];
        let (items, t) = stream(false, events);
        assert_eq!(
            view(&items),
            [
                "role",
                "r:Hmm.",
                "r:\nRunning: Agents",
                "r: … blocked in 0.0 s: Tool agents_list not found\n",
                "c:echo",
                "finish:stop",
                "done"
            ]
        );
        let answer = t.answer().unwrap().unwrap();
        let message = &answer.choices[0].message;
        assert_eq!(message.content, "echo");
        assert_eq!(
            message.reasoning_content.as_deref(),
            Some("Hmm.\nRunning: Agents … blocked in 0.0 s: Tool agents_list not found\n")
        );
    }

    #[test]
    fn without_progress_the_answer_has_no_reasoning_field() {
        let (_, t) = stream(false, vec![finished("hi", StopKind::Completed, None)]);
        let json = serde_json::to_value(t.answer().unwrap().unwrap()).unwrap();
        assert!(json["choices"][0]["message"]
            .get("reasoning_content")
            .is_none());
    }
}
