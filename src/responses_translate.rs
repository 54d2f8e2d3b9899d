//! Responses API output of one agent run ([`ResponsesTranslator`]): stream events as the
//! run's events come, and the whole `response` object once it has ended.
//!
//! A plain state machine over [`RunEvent`]s, like `translate` for chat, with the same text
//! rules ([`ReplyText`]): the stream sends the deltas completed by the final result's text,
//! the whole answer takes the final text when there is one.
//!
//! The stream is `response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added` ([`ResponsesTranslator::start`]), one
//! `response.output_text.delta` per delta, then `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done` and the terminal event with the
//! full output and usage (the agentgateway PR #3326 pitfall: a `response.completed` with
//! `output: []` leaves the SDKs' `output_text` empty). Every event gets its
//! `sequence_number` in one private function (`emit`) only, from 0.
//!
//! With progress shown ([`ResponsesTranslator::showing_progress`]) the message waits for its
//! first text: the agent's work before it is a `reasoning` item at `output_index` 0
//! (`response.output_item.added`, `response.reasoning_summary_part.added`, one
//! `response.reasoning_summary_text.delta` per line or thinking piece, then
//! `response.reasoning_summary_text.done`, `response.reasoning_summary_part.done` and
//! `response.output_item.done` when the answer starts), and the message follows at index 1.
//! Work after the answer started is left out (an item cannot be reopened once done); chat
//! shows it. Without progress the bytes are the same as before progress existed.
//!
//! How a run ends:
//! - completed -> `response.completed`;
//! - timed out, or aborted after producing text -> `response.incomplete`
//!   (`incomplete_details.reason: "max_output_tokens"`, chat's `length`); aborted with no
//!   text -> `response.completed` with empty text, as chat ends it with `stop`;
//! - failed -> `response.failed` with `error` and whatever text was streamed (no item or part
//!   `done` events: the message never completed). The whole answer is the error instead.
//!
//! A run that ended with client tool calls (runs of the gateway's HTTP endpoint) has one
//! `function_call` output item per call after the message, as openclaw's endpoint gives
//! them: streamed whole (`response.output_item.added` and `.done`) after the message's
//! events; in the whole answer the message is there only when the agent said something
//! before the calls.

use crate::gateway::progress::Progress;
use crate::gateway::{GatewayError, RunEvent, RunOutcome, StopKind, ToolCall, Usage};
use crate::openai::responses::object::{Metadata, ResponseObjectKind, TextConfig};
use crate::openai::responses::{
    FunctionCallItem, IncompleteDetails, OutputItem, OutputText, ReasoningEcho, ResponseError,
    ResponseEvent, ResponseObject, ResponseOutput, ResponseStatus, ResponseStreamEvent,
    ResponseUsage,
};
use crate::openai::responses::{ReasoningItem, SummaryText};
use crate::progress_text::ProgressText;
use crate::run_format::{ReplyText, RunFormat};
use crate::thinking::ThinkingLevel;

/// What every event or object of one response shares: ids and the request's echoes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseMeta {
    /// The response id (`response_id::ResponseIdCodec::issue`).
    pub id: String,
    /// The output message id, `msg_<uuid>`.
    pub item_id: String,
    /// The model id to echo (the one the client asked for).
    pub model: String,
    /// Unix seconds when the request was accepted.
    pub created_at: u64,
    /// The request's `instructions`.
    pub instructions: Option<String>,
    /// The request's `previous_response_id`.
    pub previous_response_id: Option<String>,
    /// The request's `metadata`.
    pub metadata: Option<Metadata>,
    /// The request's `user`.
    pub user: Option<String>,
    /// The request's `reasoning.effort`.
    pub reasoning_effort: Option<ThinkingLevel>,
    /// The request's `store` (`true` when absent, as OpenAI's default).
    pub store: bool,
}

impl ResponseMeta {
    /// The response object in a given state.
    fn object(
        &self,
        status: ResponseStatus,
        output: Vec<ResponseOutput>,
        usage: Option<ResponseUsage>,
        error: Option<ResponseError>,
    ) -> ResponseObject {
        ResponseObject {
            id: self.id.clone(),
            object: ResponseObjectKind::Response,
            created_at: self.created_at,
            status,
            error,
            incomplete_details: (status == ResponseStatus::Incomplete).then(|| IncompleteDetails {
                reason: "max_output_tokens".to_owned(),
            }),
            instructions: self.instructions.clone(),
            max_output_tokens: None,
            model: self.model.clone(),
            output,
            parallel_tool_calls: true,
            previous_response_id: self.previous_response_id.clone(),
            reasoning: ReasoningEcho {
                effort: self.reasoning_effort.map(|level| match level {
                    ThinkingLevel::Off => "none".to_owned(),
                    other => other.as_str().to_owned(),
                }),
                summary: None,
            },
            store: self.store,
            temperature: None,
            text: TextConfig::default(),
            tool_choice: "auto".to_owned(),
            tools: Vec::new(),
            top_p: None,
            truncation: "disabled".to_owned(),
            usage,
            user: self.user.clone(),
            metadata: self.metadata.clone().unwrap_or_default(),
        }
    }
}

/// The status a finished run gives its response (see the module docs).
fn finished_status(stop: StopKind, produced_text: bool) -> ResponseStatus {
    match stop {
        StopKind::Completed => ResponseStatus::Completed,
        StopKind::TimedOut => ResponseStatus::Incomplete,
        StopKind::Aborted if produced_text => ResponseStatus::Incomplete,
        StopKind::Aborted => ResponseStatus::Completed,
    }
}

/// `error` of a failed response.
fn response_error(err: &GatewayError) -> ResponseError {
    let code = match err {
        GatewayError::Timeout | GatewayError::RunTimedOut => "timeout",
        _ => "server_error",
    };
    ResponseError {
        code: code.to_owned(),
        message: err.to_string(),
    }
}

/// Usage as reported, zeros when the gateway reported none (the field is required once the
/// response has ended).
fn usage_of(usage: Option<Usage>) -> ResponseUsage {
    usage.map(ResponseUsage::from).unwrap_or_default()
}

/// How a run ended: its stop kind and usage, or the error it failed with.
type Ending = Result<(StopKind, Option<Usage>), GatewayError>;

/// Responses translation: run events in, stream events out, and the whole `response` object
/// at the end.
#[derive(Debug)]
pub struct ResponsesTranslator {
    meta: ResponseMeta,
    next_sequence: u64,
    started: bool,
    text: ReplyText,
    ending: Option<Ending>,
    /// The client tool calls the run ended with.
    tool_calls: Vec<ToolCall>,
    /// Progress events become a reasoning item before the message.
    show_progress: bool,
    progress: ProgressText,
    reasoning: ReasoningState,
    /// The message's `output_item.added` went out.
    message_opened: bool,
}

/// Where the reasoning item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReasoningState {
    /// Nothing shown: the output has no reasoning item.
    Absent,
    /// Added, taking text.
    Open,
    /// Done; the message follows it.
    Closed,
}

impl ResponsesTranslator {
    /// A translator for one stream.
    pub fn new(meta: ResponseMeta) -> Self {
        ResponsesTranslator {
            meta,
            next_sequence: 0,
            started: false,
            text: ReplyText::default(),
            ending: None,
            tool_calls: Vec::new(),
            show_progress: false,
            progress: ProgressText::default(),
            reasoning: ReasoningState::Absent,
            message_opened: false,
        }
    }

    /// Show the run's progress events as a reasoning item before the message.
    pub fn showing_progress(mut self) -> Self {
        self.show_progress = true;
        self
    }

    /// The reasoning item's id: the message's, with `rs_` for `msg_`.
    fn reasoning_id(&self) -> String {
        let id = &self.meta.item_id;
        format!("rs_{}", id.strip_prefix("msg_").unwrap_or(id))
    }

    /// The message's place in `output`.
    fn message_index(&self) -> u32 {
        u32::from(self.reasoning != ReasoningState::Absent)
    }

    /// The output items before the message (the reasoning item, when there is one).
    fn reasoning_output(&self) -> Vec<ResponseOutput> {
        match (self.reasoning, self.progress.whole()) {
            (ReasoningState::Absent, _) | (_, None) => Vec::new(),
            (_, Some(text)) => vec![ReasoningItem::new(
                &self.reasoning_id(),
                ResponseStatus::Completed,
                Some(text),
            )
            .into()],
        }
    }

    /// One progress event: its text into the reasoning item (added first if need be);
    /// nothing once the message has started.
    fn on_progress(&mut self, progress: Progress, out: &mut Vec<ResponseStreamEvent>) {
        if !self.show_progress || self.message_opened {
            return;
        }
        let Some(delta) = self.progress.render(&progress) else {
            return;
        };
        let item_id = self.reasoning_id();
        if self.reasoning == ReasoningState::Absent {
            self.reasoning = ReasoningState::Open;
            let item = ReasoningItem::new(&item_id, ResponseStatus::InProgress, None).into();
            out.push(self.emit(ResponseEvent::OutputItemAdded {
                output_index: 0,
                item,
            }));
            out.push(self.emit(ResponseEvent::ReasoningSummaryPartAdded {
                item_id: item_id.clone(),
                output_index: 0,
                summary_index: 0,
                part: SummaryText::new(String::new()),
            }));
        }
        out.push(self.emit(ResponseEvent::ReasoningSummaryTextDelta {
            item_id,
            output_index: 0,
            summary_index: 0,
            delta,
        }));
    }

    /// The reasoning item's closing events, if it is open.
    fn close_reasoning(&mut self, out: &mut Vec<ResponseStreamEvent>) {
        if self.reasoning != ReasoningState::Open {
            return;
        }
        self.reasoning = ReasoningState::Closed;
        let item_id = self.reasoning_id();
        let text = self.progress.whole().unwrap_or_default();
        out.push(self.emit(ResponseEvent::ReasoningSummaryTextDone {
            item_id: item_id.clone(),
            output_index: 0,
            summary_index: 0,
            text: text.clone(),
        }));
        out.push(self.emit(ResponseEvent::ReasoningSummaryPartDone {
            item_id: item_id.clone(),
            output_index: 0,
            summary_index: 0,
            part: SummaryText::new(text.clone()),
        }));
        let item = ReasoningItem::new(&item_id, ResponseStatus::Completed, Some(text)).into();
        out.push(self.emit(ResponseEvent::OutputItemDone {
            output_index: 0,
            item,
        }));
    }

    /// The message's opening events (after the reasoning item's closing ones), once.
    fn open_message(&mut self, out: &mut Vec<ResponseStreamEvent>) {
        if self.message_opened {
            return;
        }
        self.close_reasoning(out);
        self.message_opened = true;
        let output_index = self.message_index();
        let item = OutputItem::message(&self.meta.item_id, ResponseStatus::InProgress, None).into();
        let item_id = self.meta.item_id.clone();
        out.push(self.emit(ResponseEvent::OutputItemAdded { output_index, item }));
        out.push(self.emit(ResponseEvent::ContentPartAdded {
            item_id,
            output_index,
            content_index: 0,
            part: OutputText::new(String::new()),
        }));
    }

    /// The only place a `sequence_number` is stamped.
    fn emit(&mut self, event: ResponseEvent) -> ResponseStreamEvent {
        let sequence_number = self.next_sequence;
        self.next_sequence += 1;
        ResponseStreamEvent {
            event,
            sequence_number,
        }
    }

    /// The opening events, sent when the stream starts; empty if already sent. Without
    /// progress they open the message at once, as always; with it the message waits for
    /// its first text.
    pub fn start(&mut self) -> Vec<ResponseStreamEvent> {
        if self.started || self.is_done() {
            return Vec::new();
        }
        self.started = true;
        let initial = self
            .meta
            .object(ResponseStatus::InProgress, Vec::new(), None, None);
        let mut out = vec![
            self.emit(ResponseEvent::Created {
                response: initial.clone(),
            }),
            self.emit(ResponseEvent::InProgress { response: initial }),
        ];
        if !self.show_progress {
            self.open_message(&mut out);
        }
        out
    }

    /// A run that ended without a result (gateway failure, lost reader, local deadline).
    fn on_failed(&mut self, err: GatewayError, out: &mut Vec<ResponseStreamEvent>) {
        let error = response_error(&err);
        self.ending = Some(Err(err));
        self.close_reasoning(out);
        let mut output = self.reasoning_output();
        if !self.text.streamed().is_empty() {
            output.push(
                OutputItem::message(
                    &self.meta.item_id,
                    ResponseStatus::Incomplete,
                    Some(self.text.streamed().to_owned()),
                )
                .into(),
            );
        }
        let response = self
            .meta
            .object(ResponseStatus::Failed, output, None, Some(error));
        out.push(self.emit(ResponseEvent::Failed { response }));
    }

    fn delta(&mut self, delta: String) -> ResponseStreamEvent {
        let item_id = self.meta.item_id.clone();
        let output_index = self.message_index();
        self.emit(ResponseEvent::OutputTextDelta {
            item_id,
            output_index,
            content_index: 0,
            delta,
            logprobs: Vec::new(),
        })
    }

    fn on_finished(&mut self, outcome: RunOutcome, out: &mut Vec<ResponseStreamEvent>) {
        self.ending = Some(Ok((outcome.stop, outcome.usage)));
        self.open_message(out);
        let message_index = self.message_index();
        if let Some(suffix) = self.text.finish(outcome.text) {
            let delta = self.delta(suffix);
            out.push(delta);
        }
        let status = finished_status(outcome.stop, !self.text.streamed().is_empty());
        let text = self.text.streamed().to_owned();
        let item_id = self.meta.item_id.clone();
        let item_status = if status == ResponseStatus::Completed {
            ResponseStatus::Completed
        } else {
            ResponseStatus::Incomplete
        };
        let item: ResponseOutput =
            OutputItem::message(&item_id, item_status, Some(text.clone())).into();
        out.push(self.emit(ResponseEvent::OutputTextDone {
            item_id: item_id.clone(),
            output_index: message_index,
            content_index: 0,
            text: text.clone(),
            logprobs: Vec::new(),
        }));
        out.push(self.emit(ResponseEvent::ContentPartDone {
            item_id,
            output_index: message_index,
            content_index: 0,
            part: OutputText::new(text),
        }));
        out.push(self.emit(ResponseEvent::OutputItemDone {
            output_index: message_index,
            item: item.clone(),
        }));
        let mut output = self.reasoning_output();
        output.push(item);
        for call in &outcome.tool_calls {
            let call: ResponseOutput = FunctionCallItem::of(call).into();
            let output_index = output.len() as u32;
            out.push(self.emit(ResponseEvent::OutputItemAdded {
                output_index,
                item: call.clone(),
            }));
            out.push(self.emit(ResponseEvent::OutputItemDone {
                output_index,
                item: call.clone(),
            }));
            output.push(call);
        }
        self.tool_calls = outcome.tool_calls;
        let response = self
            .meta
            .object(status, output, Some(usage_of(outcome.usage)), None);
        let terminal = if status == ResponseStatus::Completed {
            ResponseEvent::Completed { response }
        } else {
            ResponseEvent::Incomplete { response }
        };
        out.push(self.emit(terminal));
    }
}

impl RunFormat for ResponsesTranslator {
    type Item = ResponseStreamEvent;
    type Answer = ResponseObject;

    fn opening(&mut self) -> Vec<ResponseStreamEvent> {
        self.start()
    }

    /// The events one run event produces (after the opening events, if they were not sent
    /// yet); nothing once done.
    fn on_event(&mut self, ev: RunEvent) -> Vec<ResponseStreamEvent> {
        if self.is_done() {
            return Vec::new();
        }
        let mut out = self.start();
        match ev {
            RunEvent::Delta(text) => {
                if let Some(text) = self.text.delta(text) {
                    self.open_message(&mut out);
                    let delta = self.delta(text);
                    out.push(delta);
                }
            }
            RunEvent::Progress(progress) => self.on_progress(progress, &mut out),
            RunEvent::Finished(outcome) => self.on_finished(outcome, &mut out),
            RunEvent::Failed(err) => self.on_failed(err, &mut out),
            RunEvent::Lagged => self.on_failed(GatewayError::Lagged, &mut out),
            RunEvent::TimedOut => self.on_failed(GatewayError::RunTimedOut, &mut out),
        }
        out
    }

    /// True once the terminal event has been returned; nothing follows it.
    fn is_done(&self) -> bool {
        self.ending.is_some()
    }

    /// The error of `response.failed`; a run that timed out ends `incomplete`, not failed.
    fn failure(&self) -> Option<&GatewayError> {
        self.ending.as_ref()?.as_ref().err()
    }

    /// The text is [`ReplyText::whole`], as in chat, after the reasoning item when progress
    /// was shown.
    fn answer(&self) -> Option<Result<ResponseObject, GatewayError>> {
        let (stop, usage) = match self.ending.as_ref()? {
            Ok(ended) => *ended,
            Err(err) => return Some(Err(err.clone())),
        };
        let text = self.text.whole();
        let status = finished_status(stop, !text.is_empty());
        let mut output = self.reasoning_output();
        if self.tool_calls.is_empty() || !text.is_empty() {
            output.push(
                OutputItem::message(&self.meta.item_id, status, Some(text.to_owned())).into(),
            );
        }
        output.extend(
            self.tool_calls
                .iter()
                .map(|c| FunctionCallItem::of(c).into()),
        );
        Some(Ok(self.meta.object(
            status,
            output,
            Some(usage_of(usage)),
            None,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Usage;
    use crate::openai::responses::ResponseObject;
    use serde_json::{json, Value};

    fn meta() -> ResponseMeta {
        ResponseMeta {
            id: "resp_test".into(),
            item_id: "msg_test".into(),
            model: "openclaw".into(),
            created_at: 1_700_000_000,
            instructions: Some("Be brief.".into()),
            previous_response_id: None,
            metadata: None,
            user: None,
            reasoning_effort: Some(ThinkingLevel::Off),
            store: false,
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

    fn with_call(text: &str) -> RunEvent {
        RunEvent::Finished(RunOutcome {
            replayed: false,
            text: text.into(),
            usage: None,
            stop: StopKind::Completed,
            tool_calls: vec![ToolCall {
                id: "c1".into(),
                name: "get_weather".into(),
                arguments: "{}".into(),
            }],
        })
    }

    #[test]
    fn function_calls_follow_the_message_in_the_stream_and_the_object() {
        let mut t = ResponsesTranslator::new(meta());
        let events = t.on_event(with_call(""));
        let v: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let added: Vec<&Value> = v
            .iter()
            .filter(|e| e["type"] == "response.output_item.added")
            .collect();
        assert_eq!(added.len(), 2);
        assert_eq!(added[1]["output_index"], 1);
        assert_eq!(added[1]["item"]["type"], "function_call");
        assert_eq!(added[1]["item"]["call_id"], "c1");
        let last = v.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(last["response"]["output"][1]["name"], "get_weather");
        let seqs: Vec<u64> = events.iter().map(|e| e.sequence_number).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());

        let r = collect(vec![with_call("")]).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["output"].as_array().unwrap().len(),
            1,
            "no empty message: {v}"
        );
        assert_eq!(v["output"][0]["type"], "function_call");
        assert_eq!(v["output"][0]["arguments"], "{}");
        assert_eq!(v["output"][0]["status"], "completed");
        let r = collect(vec![with_call("Let me look.")]).unwrap();
        assert_eq!(
            r.output[0].message().unwrap().content[0].text,
            "Let me look."
        );
        assert!(r.output[1].message().is_none());
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

    fn stream(events: Vec<RunEvent>) -> (Vec<ResponseStreamEvent>, ResponsesTranslator) {
        let mut t = ResponsesTranslator::new(meta());
        let mut out = t.start();
        for ev in events {
            out.extend(t.on_event(ev));
        }
        (out, t)
    }

    /// `type` names, with the delta texts inline.
    fn view(events: &[ResponseStreamEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.event {
                ResponseEvent::OutputTextDelta { delta, .. } => format!("delta:{delta}"),
                other => other.type_name().trim_start_matches("response.").to_owned(),
            })
            .collect()
    }

    fn terminal(events: &[ResponseStreamEvent]) -> &ResponseObject {
        match &events.last().unwrap().event {
            ResponseEvent::Completed { response }
            | ResponseEvent::Incomplete { response }
            | ResponseEvent::Failed { response } => response,
            other => panic!("not terminal: {other:?}"),
        }
    }

    const OPENING: [&str; 4] = [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
    ];

    fn with_opening(rest: &[&str]) -> Vec<String> {
        OPENING.iter().chain(rest).map(|s| s.to_string()).collect()
    }

    #[test]
    fn completed_run_gives_the_full_sequence() {
        let (events, t) = stream(vec![
            RunEvent::Delta("Hel".into()),
            RunEvent::Delta(String::new()),
            RunEvent::Delta("lo".into()),
            finished("Hello", StopKind::Completed, Some(usage())),
        ]);
        assert_eq!(
            view(&events),
            with_opening(&[
                "delta:Hel",
                "delta:lo",
                "output_text.done",
                "content_part.done",
                "output_item.done",
                "completed"
            ])
        );
        assert!(t.is_done());
        // sequence_number counts from 0 with no gaps.
        let seqs: Vec<u64> = events.iter().map(|e| e.sequence_number).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
        // The terminal response carries the full output and usage.
        let r = terminal(&events);
        assert_eq!(r.status, ResponseStatus::Completed);
        assert_eq!(r.output.len(), 1);
        assert_eq!(r.output[0].message().unwrap().content[0].text, "Hello");
        assert_eq!(
            r.output[0].message().unwrap().status,
            ResponseStatus::Completed
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.total_tokens),
            (12, 4, 16)
        );
        let ResponseEvent::OutputTextDone { text, .. } = &events[events.len() - 4].event else {
            panic!()
        };
        assert_eq!(text, "Hello");
    }

    #[test]
    fn opening_events_have_the_in_progress_shape() {
        let (events, _) = stream(vec![]);
        let json: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(json[0]["type"], "response.created");
        assert_eq!(json[0]["sequence_number"], 0);
        assert_eq!(json[0]["response"]["status"], "in_progress");
        assert_eq!(json[0]["response"]["output"], json!([]));
        assert_eq!(json[0]["response"]["usage"], Value::Null);
        assert_eq!(json[0]["response"]["instructions"], "Be brief.");
        assert_eq!(json[0]["response"]["reasoning"]["effort"], "none");
        assert_eq!(json[0]["response"]["store"], false);
        assert_eq!(json[0]["response"]["object"], "response");
        assert_eq!(
            json[2],
            json!({"type":"response.output_item.added","output_index":0,"sequence_number":2,
                   "item":{"type":"message","id":"msg_test","status":"in_progress",
                           "role":"assistant","content":[]}})
        );
        assert_eq!(
            json[3],
            json!({"type":"response.content_part.added","item_id":"msg_test","output_index":0,
                   "content_index":0,"sequence_number":3,
                   "part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}})
        );
    }

    #[test]
    fn text_only_in_the_final_result_is_one_delta() {
        let (events, _) = stream(vec![finished("whole", StopKind::Completed, None)]);
        assert_eq!(
            view(&events),
            with_opening(&[
                "delta:whole",
                "output_text.done",
                "content_part.done",
                "output_item.done",
                "completed"
            ])
        );
        // No usage reported: zeros, never null, once the response has ended.
        assert_eq!(terminal(&events).usage, Some(ResponseUsage::default()));
    }

    #[test]
    fn final_suffix_completes_and_disagreeing_final_is_dropped() {
        let (events, _) = stream(vec![
            RunEvent::Delta("Hello".into()),
            finished("Hello world", StopKind::Completed, None),
        ]);
        assert!(view(&events).contains(&"delta: world".to_owned()));
        assert_eq!(
            terminal(&events).output[0].message().unwrap().content[0].text,
            "Hello world"
        );
        let (events, _) = stream(vec![
            RunEvent::Delta("Hello there".into()),
            finished("Goodbye", StopKind::Completed, None),
        ]);
        assert_eq!(
            terminal(&events).output[0].message().unwrap().content[0].text,
            "Hello there"
        );
    }

    #[test]
    fn timed_out_run_is_incomplete() {
        let (events, _) = stream(vec![
            RunEvent::Delta("partial".into()),
            finished("", StopKind::TimedOut, None),
        ]);
        assert_eq!(
            view(&events),
            with_opening(&[
                "delta:partial",
                "output_text.done",
                "content_part.done",
                "output_item.done",
                "incomplete"
            ])
        );
        let r = terminal(&events);
        assert_eq!(r.status, ResponseStatus::Incomplete);
        assert_eq!(
            r.incomplete_details.as_ref().unwrap().reason,
            "max_output_tokens"
        );
        assert_eq!(
            r.output[0].message().unwrap().status,
            ResponseStatus::Incomplete
        );
        // Also without any text.
        let (events, _) = stream(vec![finished("", StopKind::TimedOut, None)]);
        assert_eq!(terminal(&events).status, ResponseStatus::Incomplete);
    }

    #[test]
    fn aborted_run_is_incomplete_with_text_and_completed_without() {
        let (events, _) = stream(vec![
            RunEvent::Delta("so far".into()),
            finished("", StopKind::Aborted, None),
        ]);
        assert_eq!(terminal(&events).status, ResponseStatus::Incomplete);
        let (events, _) = stream(vec![finished("", StopKind::Aborted, None)]);
        assert_eq!(terminal(&events).status, ResponseStatus::Completed);
        assert_eq!(
            terminal(&events).output[0].message().unwrap().content[0].text,
            ""
        );
    }

    #[test]
    fn failed_run_ends_with_response_failed() {
        let err = GatewayError::RunFailed {
            code: "UNAVAILABLE".into(),
            message: "boom".into(),
        };
        let (events, t) = stream(vec![RunEvent::Delta("a".into()), RunEvent::Failed(err)]);
        assert_eq!(view(&events), with_opening(&["delta:a", "failed"]));
        assert!(t.is_done());
        let r = terminal(&events);
        assert_eq!(r.status, ResponseStatus::Failed);
        let e = r.error.as_ref().unwrap();
        assert_eq!(e.code, "server_error");
        assert_eq!(e.message, "agent run failed (UNAVAILABLE): boom");
        assert_eq!(r.output[0].message().unwrap().content[0].text, "a");
        assert_eq!(
            r.output[0].message().unwrap().status,
            ResponseStatus::Incomplete
        );

        let (events, _) = stream(vec![RunEvent::Failed(GatewayError::Timeout)]);
        assert_eq!(terminal(&events).error.as_ref().unwrap().code, "timeout");
        assert!(terminal(&events).output.is_empty());
    }

    #[test]
    fn nothing_after_the_terminal_event_and_no_done_marker() {
        let (events, mut t) = stream(vec![finished("x", StopKind::Completed, None)]);
        assert!(t.on_event(RunEvent::Delta("late".into())).is_empty());
        assert!(t
            .on_event(RunEvent::Failed(GatewayError::Lagged))
            .is_empty());
        assert!(t.start().is_empty());
        assert!(events.last().unwrap().event.is_terminal());
        assert_eq!(events.iter().filter(|e| e.event.is_terminal()).count(), 1);
        // The encoded stream ends with the terminal event: no `data: [DONE]`.
        let wire: Vec<u8> = events.iter().flat_map(|e| e.to_sse().to_vec()).collect();
        let wire = String::from_utf8(wire).unwrap();
        assert!(!wire.contains("[DONE]"));
        assert!(wire.starts_with("event: response.created\ndata: {"));
        let last = wire.trim_end().rsplit("\n\n").next().unwrap();
        assert!(
            last.starts_with("event: response.completed\ndata: "),
            "{last}"
        );
    }

    #[test]
    fn on_event_without_start_opens_the_stream_first() {
        let mut t = ResponsesTranslator::new(meta());
        let events = t.on_event(RunEvent::Delta("x".into()));
        assert_eq!(view(&events), with_opening(&["delta:x"]));
        assert_eq!(events[4].sequence_number, 4);
    }

    /// The whole answer, as a non-stream request gets it: there is one once the run has
    /// ended, and it does not change after that.
    fn collect(events: Vec<RunEvent>) -> Result<ResponseObject, GatewayError> {
        let mut t = ResponsesTranslator::new(meta());
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
    fn collector_builds_the_response_object() {
        let r = collect(vec![
            RunEvent::Delta("Hel".into()),
            finished("Hello\n\nMore", StopKind::Completed, Some(usage())),
        ])
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["id"], "resp_test");
        assert_eq!(v["object"], "response");
        assert_eq!(v["created_at"], 1_700_000_000);
        assert_eq!(v["status"], "completed");
        assert_eq!(v["model"], "openclaw");
        assert_eq!(v["error"], Value::Null);
        assert_eq!(v["incomplete_details"], Value::Null);
        assert_eq!(v["metadata"], json!({}));
        assert_eq!(
            v["output"],
            json!([{"type":"message","id":"msg_test","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","text":"Hello\n\nMore","annotations":[],"logprobs":[]}]}])
        );
        assert_eq!(
            v["usage"],
            json!({"input_tokens":12,"input_tokens_details":{"cached_tokens":2},
                   "output_tokens":4,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":16})
        );
    }

    #[test]
    fn collector_statuses_and_failure() {
        let r = collect(vec![
            RunEvent::Delta("part".into()),
            finished("", StopKind::TimedOut, None),
        ])
        .unwrap();
        assert_eq!(r.status, ResponseStatus::Incomplete);
        assert_eq!(r.output[0].message().unwrap().content[0].text, "part");
        let r = collect(vec![finished("", StopKind::Aborted, None)]).unwrap();
        assert_eq!(r.status, ResponseStatus::Completed);
        let err = GatewayError::Disconnected {
            reason: "closed".into(),
        };
        let mut t = ResponsesTranslator::new(meta());
        t.on_event(RunEvent::Delta("a".into()));
        assert_eq!(t.answer(), None);
        t.on_event(RunEvent::Failed(err.clone()));
        assert_eq!(t.answer(), Some(Err(err.clone())));
        assert_eq!(t.failure(), Some(&err));
        assert!(t
            .on_event(finished("x", StopKind::Completed, None))
            .is_empty());
        assert_eq!(t.answer(), Some(Err(err)));
    }

    #[test]
    fn progress_is_a_reasoning_item_before_the_message() {
        use crate::gateway::progress::{Progress, StepPhase, StepStatus, ToolStep};
        let step = |phase| {
            RunEvent::Progress(Progress::Tool(ToolStep {
                phase,
                call_id: Some("c1".into()),
                name: Some("agents_list".into()),
                title: Some("Agents".into()),
                status: StepStatus::Completed,
                error: None,
                started_at_ms: Some(1_000),
                ended_at_ms: (phase == StepPhase::Ended).then_some(1_400),
                args: None,
                result: None,
            }))
        };
        let mut t = ResponsesTranslator::new(meta()).showing_progress();
        let mut out = t.start();
        for ev in [
            step(StepPhase::Started),
            step(StepPhase::Ended),
            RunEvent::Delta("Hel".into()),
            RunEvent::Progress(Progress::Thinking("late".into())),
            finished("Hello", StopKind::Completed, None),
        ] {
            out.extend(t.on_event(ev));
        }
        assert_eq!(
            view(&out),
            [
                "created",
                "in_progress",
                "output_item.added",
                "reasoning_summary_part.added",
                "reasoning_summary_text.delta",
                "reasoning_summary_text.delta",
                "reasoning_summary_text.done",
                "reasoning_summary_part.done",
                "output_item.done",
                "output_item.added",
                "content_part.added",
                "delta:Hel",
                "delta:lo",
                "output_text.done",
                "content_part.done",
                "output_item.done",
                "completed",
            ]
        );
        let sequence: Vec<u64> = out.iter().map(|e| e.sequence_number).collect();
        assert_eq!(sequence, (0..out.len() as u64).collect::<Vec<_>>());
        let json: Vec<Value> = out
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(json[2]["item"]["type"], "reasoning");
        assert_eq!(json[2]["output_index"], 0);
        assert_eq!(json[4]["delta"], "Running: Agents");
        assert_eq!(json[5]["delta"], " … done in 0.4 s\n");
        assert_eq!(json[9]["output_index"], 1);
        assert_eq!(json[11]["output_index"], 1);
        let done = json!({"type": "summary_text", "text": "Running: Agents … done in 0.4 s\n"});
        assert_eq!(json[7]["part"], done);
        let r = terminal(&out);
        assert_eq!(r.output.len(), 2);
        assert!(
            matches!(&r.output[0], ResponseOutput::Reasoning(item) if item.summary[0].text == done["text"])
        );
        assert_eq!(r.output[1].message().unwrap().content[0].text, "Hello");
        let whole = serde_json::to_value(t.answer().unwrap().unwrap()).unwrap();
        assert_eq!(whole["output"], serde_json::to_value(&r.output).unwrap());
    }

    #[test]
    fn without_progress_shown_progress_events_change_nothing() {
        let plain = stream(vec![
            RunEvent::Delta("a".into()),
            finished("a", StopKind::Completed, None),
        ])
        .0;
        let with_steps = stream(vec![
            RunEvent::Progress(crate::gateway::progress::Progress::Thinking("x".into())),
            RunEvent::Delta("a".into()),
            finished("a", StopKind::Completed, None),
        ])
        .0;
        assert_eq!(plain, with_steps);
    }
}
