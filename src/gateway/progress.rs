//! The agent's work while a run goes on, as typed events: tool steps, the model's thinking
//! text and approval waits ([`Progress`]), read in one place ([`parse`]) from the gateway's
//! `agent` event streams.
//!
//! What each gateway sends (confirmed in the labs' traces and `node_modules`):
//!
//! - `tool` (clawdbot 2026.1.24, only when the session's verbose level is `on`: gateway-lab
//!   `traces/tool_call.jsonl`, `dist/gateway/server-chat.js` `shouldEmitToolEvents`; openclaw
//!   2026.9.6 sends it only to connections that declare the `tool-events` client cap):
//!   `{phase:"start",name,toolCallId,args}` then `{phase:"result",name,toolCallId,isError,result}`;
//!   the times are the payload's `ts`. (openclaw's `dist/server-chat-*.mjs`
//!   `createAgentEventHandler` sends `tool` only to its `toolEventRecipients`, and `item`,
//!   `thinking` and `approval` to every operator connection like `assistant`.)
//! - `item` (openclaw 2026.9.6, always: openclaw-lab `traces/tool_call.jsonl`,
//!   `dist/agent-activity-events-*.mjs` `projectAgentToolActivity`):
//!   `{kind:"tool",phase:"start"|"end",toolCallId,name,title,status,error,startedAt,endedAt}`.
//!   Its `title` is the gateway's own summary of the call ("Read file `notes.md`").
//! - `thinking` (openclaw 2026.9.6, when the provider streams reasoning:
//!   `dist/builtin-openclaw-*.mjs`): `{text: accumulated, delta: new part}`; a CLI backend
//!   may send `{progressTokens}` alone (ignored).
//! - `approval` (openclaw 2026.9.6, exec tools): `{phase:"requested",kind:"exec",status:
//!   "pending"|"unavailable",title,command,host,approvalId}` and `{phase:"resolved",status:
//!   "denied"|"failed",...}`.
//!
//! - `command_output` (openclaw 2026.9.6, exec tools, same file): `{phase:"end",title,
//!   toolCallId,name,output,status,exitCode}`; read at [`ProgressLevel::Detailed`] only, as
//!   the excerpt of a result v4 otherwise never sends clawshim (its `tool` stream needs the
//!   `tool-events` cap).
//!
//! Everything here is bounded: each text is cut to a few hundred characters (a thinking
//! delta to a few KiB), tool arguments and results are read only at
//! [`ProgressLevel::Detailed`] and then only as a short excerpt, whatever the frame's size.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use serde_json::value::RawValue;

/// Longest name, title, status, error, command or host kept, in characters.
pub const TEXT_MAX_CHARS: usize = 200;
/// Longest thinking delta kept from one event, in bytes (cut at a character boundary).
pub const THINKING_DELTA_MAX_BYTES: usize = 4096;
/// Longest excerpt of a tool's arguments or result kept at [`ProgressLevel::Detailed`].
pub const EXCERPT_MAX_CHARS: usize = 300;

/// How much of the agent's work a client sees (ordered: a request may lower its key's level,
/// never raise it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressLevel {
    /// Nothing: the response is the answer only.
    Off,
    /// Tool names and titles, status, duration, approval waits and thinking text; never
    /// tool arguments or results.
    #[default]
    Steps,
    /// Also tool arguments and a bounded excerpt of results.
    Detailed,
}

impl ProgressLevel {
    /// The setting's word.
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressLevel::Off => "off",
            ProgressLevel::Steps => "steps",
            ProgressLevel::Detailed => "detailed",
        }
    }
}

impl fmt::Display for ProgressLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProgressLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(ProgressLevel::Off),
            "steps" => Ok(ProgressLevel::Steps),
            "detailed" => Ok(ProgressLevel::Detailed),
            _ => Err(format!(
                "unknown progress level {:?}: expected off, steps or detailed",
                s.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// One piece of the agent's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A tool call started or ended.
    Tool(ToolStep),
    /// New text of the model's reasoning.
    Thinking(String),
    /// The run waits for (or got) the owner's approval of a command.
    Approval(ApprovalWait),
    /// What a command printed, at [`ProgressLevel::Detailed`] only (v4 `command_output`).
    Output(CommandOutput),
}

/// The end of a command's output (v4 `command_output`, phase `end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The call id of the tool step that ran it.
    pub call_id: Option<String>,
    /// The gateway's title of the command.
    pub title: Option<String>,
    /// An excerpt of the output.
    pub excerpt: String,
}

/// Whether a step starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPhase {
    /// The tool was called.
    Started,
    /// The tool returned (or was blocked).
    Ended,
}

/// How a tool call ended (or that it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// Still running (a start).
    Running,
    /// Returned normally.
    Completed,
    /// Returned an error (v3 `isError`, v4 `failed`).
    Failed,
    /// Not run: unknown tool, awaiting approval, skipped (v4 `blocked`).
    Blocked,
    /// Another word the gateway used, as sent (bounded).
    Other(String),
}

impl StepStatus {
    fn from_word(word: &str) -> StepStatus {
        match word {
            "running" => StepStatus::Running,
            "completed" => StepStatus::Completed,
            "failed" | "error" => StepStatus::Failed,
            "blocked" => StepStatus::Blocked,
            other => StepStatus::Other(one_line(other, TEXT_MAX_CHARS)),
        }
    }
}

/// One tool step: a call's start or end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolStep {
    /// Start or end.
    pub phase: StepPhase,
    /// The call id, joining a start to its end (`toolCallId`).
    pub call_id: Option<String>,
    /// The tool's name (`read`, `exec`, ...).
    pub name: Option<String>,
    /// The gateway's summary of the call (v4 `title`, e.g. "Read file `notes.md`").
    pub title: Option<String>,
    /// How it went.
    pub status: StepStatus,
    /// Why it failed or was blocked, when the gateway said so (v4 `error`).
    pub error: Option<String>,
    /// When it started, Unix milliseconds (v4 `startedAt`, v3 the start event's `ts`).
    pub started_at_ms: Option<u64>,
    /// When it ended, Unix milliseconds (v4 `endedAt`, v3 the result event's `ts`).
    pub ended_at_ms: Option<u64>,
    /// An excerpt of the arguments, at [`ProgressLevel::Detailed`] only.
    pub args: Option<String>,
    /// An excerpt of the result, at [`ProgressLevel::Detailed`] only.
    pub result: Option<String>,
}

/// Whether an approval is asked for or settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPhase {
    /// The run waits for the owner (or cannot: `status` unavailable).
    Requested,
    /// The owner answered (denied, failed, ...).
    Resolved,
}

/// An approval request of the run (v4 `approval` stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalWait {
    /// Requested or resolved.
    pub phase: ApprovalPhase,
    /// `pending`, `unavailable`, `denied`, ... as sent (bounded).
    pub status: Option<String>,
    /// The command awaiting approval.
    pub command: Option<String>,
    /// Where it would run.
    pub host: Option<String>,
}

/// The fields of a `tool`, `item`, `thinking` or `approval` stream's `data` we read; the
/// large ones (`args`, `result`) stay raw and are read only when asked for.
#[derive(Deserialize)]
struct StreamData<'a> {
    #[serde(borrow, default)]
    phase: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "toolCallId")]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
    #[serde(default, rename = "isError")]
    is_error: Option<bool>,
    #[serde(default, rename = "startedAt")]
    started_at: Option<u64>,
    #[serde(default, rename = "endedAt")]
    ended_at: Option<u64>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    command: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    output: Option<Cow<'a, str>>,
}

/// The streams that carry progress (any other stream is not read past its name).
pub(crate) fn is_progress_stream(stream: &str) -> bool {
    matches!(
        stream,
        "tool" | "item" | "thinking" | "approval" | "command_output"
    )
}

/// One `agent` event of `stream` with `data` (sent at `ts`, Unix ms) as progress at
/// `level`; `None` for anything that is not progress, at [`ProgressLevel::Off`], or when
/// `data` is malformed (a gateway sending odd data loses a line, never the run).
pub fn parse(
    stream: &str,
    data: &RawValue,
    ts: Option<u64>,
    level: ProgressLevel,
) -> Option<Progress> {
    if level == ProgressLevel::Off || !is_progress_stream(stream) {
        return None;
    }
    let data: StreamData = serde_json::from_str(data.get()).ok()?;
    match stream {
        "tool" => tool_event(data, ts, level),
        "item" => item_event(data, level),
        "thinking" => {
            let delta = data.delta?;
            let delta = cut_bytes(&delta, THINKING_DELTA_MAX_BYTES);
            (!delta.is_empty()).then(|| Progress::Thinking(strip_controls(delta)))
        }
        "approval" => approval_event(data),
        "command_output" => command_output(data, level),
        _ => None,
    }
}

/// v3 (and v4 with the `tool-events` cap): `start` / `result`; `update` is not a step.
fn tool_event(data: StreamData, ts: Option<u64>, level: ProgressLevel) -> Option<Progress> {
    let detailed = level == ProgressLevel::Detailed;
    let (phase, status, started, ended) = match data.phase.as_deref()? {
        "start" => (StepPhase::Started, StepStatus::Running, ts, None),
        "result" | "end" => {
            let status = if data.is_error == Some(true) {
                StepStatus::Failed
            } else {
                StepStatus::Completed
            };
            (StepPhase::Ended, status, None, ts)
        }
        _ => return None,
    };
    Some(Progress::Tool(ToolStep {
        phase,
        call_id: text(data.tool_call_id),
        name: text(data.name),
        title: text(data.title),
        status,
        error: text(data.error),
        started_at_ms: started,
        ended_at_ms: ended,
        args: data.args.filter(|_| detailed).map(excerpt_json),
        result: data.result.filter(|_| detailed).map(excerpt_result),
    }))
}

/// v4 `item` events of kind `tool` (other kinds describe the same call again, or are not
/// steps).
fn item_event(data: StreamData, level: ProgressLevel) -> Option<Progress> {
    if data.kind.as_deref() != Some("tool") {
        return None;
    }
    let phase = match data.phase.as_deref()? {
        "start" => StepPhase::Started,
        "end" => StepPhase::Ended,
        _ => return None,
    };
    let status = match (data.status.as_deref(), phase) {
        (Some(word), _) => StepStatus::from_word(word),
        (None, StepPhase::Started) => StepStatus::Running,
        (None, StepPhase::Ended) => StepStatus::Other("outcome unknown".to_owned()),
    };
    let detailed = level == ProgressLevel::Detailed;
    Some(Progress::Tool(ToolStep {
        phase,
        call_id: text(data.tool_call_id),
        name: text(data.name),
        title: text(data.title),
        status,
        error: text(data.error),
        started_at_ms: data.started_at,
        ended_at_ms: data.ended_at,
        args: data.args.filter(|_| detailed).map(excerpt_json),
        result: data.result.filter(|_| detailed).map(excerpt_result),
    }))
}

/// A command's final output, at `Detailed` only (live `delta` pieces are not steps).
fn command_output(data: StreamData, level: ProgressLevel) -> Option<Progress> {
    if level != ProgressLevel::Detailed || data.phase.as_deref() != Some("end") {
        return None;
    }
    let excerpt = one_line(data.output?.trim(), EXCERPT_MAX_CHARS);
    (!excerpt.is_empty()).then(|| {
        Progress::Output(CommandOutput {
            call_id: text(data.tool_call_id),
            title: text(data.title),
            excerpt,
        })
    })
}

fn approval_event(data: StreamData) -> Option<Progress> {
    let phase = match data.phase.as_deref()? {
        "requested" => ApprovalPhase::Requested,
        "resolved" => ApprovalPhase::Resolved,
        _ => return None,
    };
    Some(Progress::Approval(ApprovalWait {
        phase,
        status: text(data.status),
        command: text(data.command),
        host: text(data.host),
    }))
}

/// A bounded one-line text, `None` when empty.
fn text(value: Option<Cow<'_, str>>) -> Option<String> {
    let value = one_line(value?.trim(), TEXT_MAX_CHARS);
    (!value.is_empty()).then_some(value)
}

/// `s` on one line (control characters as spaces), cut to `max` characters with an
/// ellipsis.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Control characters other than newlines and tabs removed (a terminal or a browser shows
/// what is left as text).
fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The JSON text of a value, bounded (scanned no further than the excerpt needs).
fn excerpt_json(raw: &RawValue) -> String {
    one_line(raw.get(), EXCERPT_MAX_CHARS)
}

/// A tool result: its first text part (`{content:[{type:"text",text}]}`), else its JSON.
fn excerpt_result(raw: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow, default)]
        text: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct ToolResult<'a> {
        #[serde(borrow, default)]
        content: Vec<Part<'a>>,
    }
    match serde_json::from_str::<ToolResult>(raw.get()) {
        Ok(result) => match result.content.into_iter().find_map(|p| p.text) {
            Some(text) => one_line(&text, EXCERPT_MAX_CHARS),
            None => excerpt_json(raw),
        },
        Err(_) => excerpt_json(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn tool(p: Option<Progress>) -> ToolStep {
        match p {
            Some(Progress::Tool(step)) => step,
            other => panic!("not a tool step: {other:?}"),
        }
    }

    // gateway-lab traces/tool_call.jsonl (v3, verbose on)
    const V3_START: &str =
        r#"{"phase":"start","name":"agents_list","toolCallId":"call_mock_d3f624e3","args":{}}"#;
    const V3_RESULT: &str = r#"{"phase":"result","name":"agents_list","toolCallId":"call_mock_d3f624e3","isError":false,"result":{"content":[{"type":"text","text":"{\n  \"requester\": \"main\"\n}"}],"details":{"requester":"main"}}}"#;
    // openclaw-lab traces/tool_call.jsonl (v4)
    const V4_START: &str = r#"{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"start","title":"Agents","status":"running","commandBearing":false,"startedAt":1795689841412}"#;
    const V4_END: &str = r#"{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"end","title":"Agents","status":"blocked","commandBearing":false,"startedAt":1795689841412,"endedAt":1795689841418,"error":"Tool agents_list not found"}"#;

    #[test]
    fn v3_tool_steps_keep_args_and_results_for_detailed_only() {
        let start = tool(parse(
            "tool",
            &raw(V3_START),
            Some(100),
            ProgressLevel::Steps,
        ));
        assert_eq!(start.phase, StepPhase::Started);
        assert_eq!(start.name.as_deref(), Some("agents_list"));
        assert_eq!(start.call_id.as_deref(), Some("call_mock_d3f624e3"));
        assert_eq!((start.started_at_ms, start.args), (Some(100), None));

        let end = tool(parse(
            "tool",
            &raw(V3_RESULT),
            Some(500),
            ProgressLevel::Steps,
        ));
        assert_eq!(
            (end.phase, end.status.clone()),
            (StepPhase::Ended, StepStatus::Completed)
        );
        assert_eq!((end.ended_at_ms, end.result), (Some(500), None));

        let detailed = tool(parse(
            "tool",
            &raw(V3_RESULT),
            Some(500),
            ProgressLevel::Detailed,
        ));
        assert_eq!(
            detailed.result.as_deref(),
            Some("{   \"requester\": \"main\" }")
        );
        let start = tool(parse("tool", &raw(V3_START), None, ProgressLevel::Detailed));
        assert_eq!(start.args.as_deref(), Some("{}"));
    }

    #[test]
    fn v4_items_carry_title_status_error_and_times() {
        let start = tool(parse("item", &raw(V4_START), None, ProgressLevel::Steps));
        assert_eq!(start.title.as_deref(), Some("Agents"));
        assert_eq!(start.status, StepStatus::Running);
        let end = tool(parse("item", &raw(V4_END), None, ProgressLevel::Steps));
        assert_eq!(end.status, StepStatus::Blocked);
        assert_eq!(end.error.as_deref(), Some("Tool agents_list not found"));
        assert_eq!(
            (end.started_at_ms, end.ended_at_ms),
            (Some(1795689841412), Some(1795689841418))
        );
        // Other item kinds and phases are not steps.
        let other = r#"{"kind":"command","phase":"start","title":"x"}"#;
        assert_eq!(parse("item", &raw(other), None, ProgressLevel::Steps), None);
        let update = r#"{"kind":"tool","phase":"update","title":"x"}"#;
        assert_eq!(
            parse("item", &raw(update), None, ProgressLevel::Steps),
            None
        );
    }

    #[test]
    fn off_reads_nothing_and_other_streams_are_not_progress() {
        assert_eq!(
            parse("item", &raw(V4_START), None, ProgressLevel::Off),
            None
        );
        assert_eq!(
            parse(
                "lifecycle",
                &raw(r#"{"phase":"start"}"#),
                None,
                ProgressLevel::Detailed
            ),
            None
        );
        assert_eq!(
            parse("tool", &raw("[1,2]"), None, ProgressLevel::Steps),
            None
        );
        assert_eq!(
            parse("tool", &raw(r#"{"name":"x"}"#), None, ProgressLevel::Steps),
            None
        );
    }

    #[test]
    fn thinking_deltas_are_bounded_and_cleaned() {
        let p = parse(
            "thinking",
            &raw(r#"{"text":"ab","delta":"b\u001b[2Jc\n"}"#),
            None,
            ProgressLevel::Steps,
        );
        assert_eq!(p, Some(Progress::Thinking("b[2Jc\n".into())));
        let huge = format!(r#"{{"delta":"{}"}}"#, "é".repeat(10_000));
        let Some(Progress::Thinking(t)) =
            parse("thinking", &raw(&huge), None, ProgressLevel::Steps)
        else {
            panic!("no thinking");
        };
        assert!(t.len() <= THINKING_DELTA_MAX_BYTES && t.len() > THINKING_DELTA_MAX_BYTES - 4);
        let tokens = r#"{"progressTokens":12}"#;
        assert_eq!(
            parse("thinking", &raw(tokens), None, ProgressLevel::Steps),
            None
        );
    }

    #[test]
    fn approvals_and_bounded_fields() {
        let requested = r#"{"phase":"requested","kind":"exec","status":"pending","title":"Command approval requested","itemId":"command:c1","toolCallId":"c1","approvalId":"a1","command":"rm -rf build","host":"gateway-host"}"#;
        assert_eq!(
            parse("approval", &raw(requested), None, ProgressLevel::Steps),
            Some(Progress::Approval(ApprovalWait {
                phase: ApprovalPhase::Requested,
                status: Some("pending".into()),
                command: Some("rm -rf build".into()),
                host: Some("gateway-host".into()),
            }))
        );
        let long = format!(
            r#"{{"kind":"tool","phase":"start","title":"{}\n"}}"#,
            "x".repeat(5_000)
        );
        let step = tool(parse("item", &raw(&long), None, ProgressLevel::Steps));
        assert_eq!(step.title.unwrap().chars().count(), TEXT_MAX_CHARS + 1);
        // A step without a name, title or id is still a step.
        let bare = tool(parse(
            "item",
            &raw(r#"{"kind":"tool","phase":"start"}"#),
            None,
            ProgressLevel::Steps,
        ));
        assert_eq!((bare.name, bare.title, bare.call_id), (None, None, None));
    }

    #[test]
    fn a_ten_megabyte_result_becomes_a_short_excerpt() {
        let big = "y".repeat(10 * 1024 * 1024);
        let data = format!(
            r#"{{"phase":"result","name":"read","toolCallId":"c","isError":true,"result":{{"content":[{{"type":"text","text":"{big}"}}]}}}}"#
        );
        let step = tool(parse("tool", &raw(&data), Some(1), ProgressLevel::Detailed));
        assert_eq!(step.status, StepStatus::Failed);
        assert_eq!(step.result.unwrap().chars().count(), EXCERPT_MAX_CHARS + 1);
    }

    #[test]
    fn command_output_is_read_at_detailed_only() {
        // Shape of openclaw 2026.9.6 `dist/builtin-openclaw-*.mjs` (stream "command_output").
        let end = r#"{"itemId":"command:c1","phase":"end","title":"Run `ls`","toolCallId":"c1","name":"exec","output":"a.txt\nb.txt\n","status":"completed","exitCode":0}"#;
        assert_eq!(
            parse("command_output", &raw(end), None, ProgressLevel::Steps),
            None
        );
        assert_eq!(
            parse("command_output", &raw(end), None, ProgressLevel::Detailed),
            Some(Progress::Output(CommandOutput {
                call_id: Some("c1".into()),
                title: Some("Run `ls`".into()),
                excerpt: "a.txt b.txt".into(),
            }))
        );
        let live = r#"{"phase":"delta","output":"a.txt"}"#;
        assert_eq!(
            parse("command_output", &raw(live), None, ProgressLevel::Detailed),
            None
        );
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(
            "Detailed".parse::<ProgressLevel>(),
            Ok(ProgressLevel::Detailed)
        );
        assert!("loud".parse::<ProgressLevel>().is_err());
        assert!(ProgressLevel::Off < ProgressLevel::Steps);
        assert!(ProgressLevel::Steps < ProgressLevel::Detailed);
        assert_eq!(ProgressLevel::default(), ProgressLevel::Steps);
    }
}
