//! Recorded gateway frames, compiled into the binary, and the rewriting that turns them into
//! the frames of a new run.
//!
//! The files under `fixtures/v3` (clawdbot 2026.1.24, protocol 3) and `fixtures/v4` (openclaw
//! 2026.9.6, protocol 4) are frames copied from the lab traces of the same name (trimmed: the
//! hello-ok snapshot, the health payload, the final `res` meta and the `models.list` catalogue
//! are shortened, tick/health noise between run frames is dropped). The mock never invents a
//! frame shape: it clones a recorded frame and substitutes ids, texts, timestamps and counters,
//! so field names and extra streams are exactly what the real gateways send.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

use super::Protocol;

/// One recorded frame sequence (`*.jsonl`) plus the ids it was recorded with, so that they
/// can be replaced by the ids of a new run.
pub(super) struct Script {
    /// The frames in the order the gateway sent them; the top-level `seq` is removed (the mock
    /// assigns its own, see `Shared::broadcast`).
    pub frames: Vec<Value>,
    /// Ids and texts found in the recording.
    pub ids: RecordedIds,
}

/// Values of the recording that a replay must replace.
#[derive(Default)]
pub(super) struct RecordedIds {
    pub run_id: String,
    pub session_key: Option<String>,
    pub session_id: Option<String>,
    pub task_ids: Vec<String>,
    /// The text of the last non-empty assistant event (the whole reply in `simple`, the partial
    /// reply in `run_timeout` / `abort_*`).
    pub text: Option<String>,
    /// The user message, where the recording carries it (v4 task titles, `finalPromptText`).
    pub message: Option<String>,
}

/// Every fixture of one protocol version, parsed once.
pub(super) struct Fixtures {
    pub challenge: Value,
    pub hello_ok: Value,
    pub health: Value,
    pub tick: Value,
    pub shutdown: Value,
    errors: Map<String, Value>,
    pub agents_list: Value,
    pub models_list: Value,
    pub simple: Script,
    pub broken_agent: Script,
    pub llm_http500: Script,
    pub run_timeout: Script,
    /// v4 only (protocol 3 has no way to abort an `agent` run).
    pub abort_chat: Option<Script>,
    /// v4 only.
    pub abort_sessions: Option<Script>,
}

mod raw {
    pub mod v3 {
        pub const CONNECT: &str = include_str!("../fixtures/v3/connect.jsonl");
        pub const ERRORS: &str = include_str!("../fixtures/v3/errors.json");
        pub const LISTS: &str = include_str!("../fixtures/v3/lists.jsonl");
        pub const SIMPLE: &str = include_str!("../fixtures/v3/simple.jsonl");
        pub const BROKEN_AGENT: &str = include_str!("../fixtures/v3/broken_agent.jsonl");
        pub const LLM_HTTP500: &str = include_str!("../fixtures/v3/llm_http500.jsonl");
        pub const RUN_TIMEOUT: &str = include_str!("../fixtures/v3/run_timeout.jsonl");
    }
    pub mod v4 {
        pub const CONNECT: &str = include_str!("../fixtures/v4/connect.jsonl");
        pub const ERRORS: &str = include_str!("../fixtures/v4/errors.json");
        pub const LISTS: &str = include_str!("../fixtures/v4/lists.jsonl");
        pub const SIMPLE: &str = include_str!("../fixtures/v4/simple.jsonl");
        pub const BROKEN_AGENT: &str = include_str!("../fixtures/v4/broken_agent.jsonl");
        pub const LLM_HTTP500: &str = include_str!("../fixtures/v4/llm_http500.jsonl");
        pub const RUN_TIMEOUT: &str = include_str!("../fixtures/v4/run_timeout.jsonl");
        pub const ABORT_CHAT: &str = include_str!("../fixtures/v4/abort_chat.jsonl");
        pub const ABORT_SESSIONS: &str = include_str!("../fixtures/v4/abort_sessions.jsonl");
    }
}

/// The progress events of `protocol` (`progress.jsonl`): tool steps recorded in the labs'
/// `tool_call` traces (v3 `tool` stream, v4 `item` stream), and on v4 thinking and approval
/// events built from openclaw 2026.9.6's emitters (no lab trace has them: the lab's mock
/// provider streams no reasoning and its agent runs no exec). Ids are those of `simple`, so
/// the same [`Rewrite`] applies.
pub(super) fn progress_frames(protocol: Protocol) -> &'static [Value] {
    static V3: OnceLock<Vec<Value>> = OnceLock::new();
    static V4: OnceLock<Vec<Value>> = OnceLock::new();
    let (cell, text) = match protocol {
        Protocol::V3 => (&V3, include_str!("../fixtures/v3/progress.jsonl")),
        Protocol::V4 => (&V4, include_str!("../fixtures/v4/progress.jsonl")),
    };
    cell.get_or_init(|| {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("fixture progress.jsonl"))
            .collect()
    })
}

/// The parsed fixtures of `protocol` (parsed on first use, then shared).
pub(super) fn fixtures(protocol: Protocol) -> &'static Fixtures {
    static V3: OnceLock<Fixtures> = OnceLock::new();
    static V4: OnceLock<Fixtures> = OnceLock::new();
    match protocol {
        Protocol::V3 => V3.get_or_init(|| {
            use raw::v3::*;
            Fixtures::parse(
                CONNECT,
                ERRORS,
                LISTS,
                [SIMPLE, BROKEN_AGENT, LLM_HTTP500, RUN_TIMEOUT],
                None,
            )
        }),
        Protocol::V4 => V4.get_or_init(|| {
            use raw::v4::*;
            Fixtures::parse(
                CONNECT,
                ERRORS,
                LISTS,
                [SIMPLE, BROKEN_AGENT, LLM_HTTP500, RUN_TIMEOUT],
                Some([ABORT_CHAT, ABORT_SESSIONS]),
            )
        }),
    }
}

impl Fixtures {
    fn parse(
        connect: &str,
        errors: &str,
        lists: &str,
        runs: [&str; 4],
        aborts: Option<[&str; 2]>,
    ) -> Fixtures {
        let connect = jsonl(connect);
        let lists = jsonl(lists);
        let errors = match serde_json::from_str(errors) {
            Ok(Value::Object(map)) => map,
            _ => panic!("mock gateway fixture errors.json is not a JSON object"),
        };
        let [simple, broken_agent, llm_http500, run_timeout] = runs.map(Script::parse);
        let (abort_chat, abort_sessions) = match aborts {
            Some([chat, sessions]) => (Some(Script::parse(chat)), Some(Script::parse(sessions))),
            None => (None, None),
        };
        let pick = |i: usize| connect.get(i).cloned().unwrap_or(Value::Null);
        Fixtures {
            challenge: pick(0),
            hello_ok: pick(1),
            health: pick(2),
            tick: pick(3),
            shutdown: pick(4),
            errors,
            agents_list: lists.first().cloned().unwrap_or(Value::Null),
            models_list: lists.get(1).cloned().unwrap_or(Value::Null),
            simple,
            broken_agent,
            llm_http500,
            run_timeout,
            abort_chat,
            abort_sessions,
        }
    }

    /// The whole recorded `res` frame of the scenario `name` (see `errors.json`).
    pub fn error_res(&self, name: &str) -> Value {
        self.errors
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("mock gateway fixture errors.json lacks {name}"))
    }

    /// The recorded `error` object of the scenario `name` (see `errors.json`), e.g.
    /// `wrong_token` or `unknown_agent`.
    pub fn error(&self, name: &str) -> Value {
        self.errors
            .get(name)
            .and_then(|frame| frame.get("error"))
            .cloned()
            .unwrap_or_else(|| panic!("mock gateway fixture errors.json lacks {name}"))
    }
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("mock gateway fixture line is not JSON"))
        .collect()
}

impl Script {
    fn parse(text: &str) -> Script {
        let mut frames = jsonl(text);
        for frame in &mut frames {
            if let Some(obj) = frame.as_object_mut() {
                obj.remove("seq");
            }
        }
        let mut ids = RecordedIds {
            run_id: frames
                .first()
                .and_then(|f| f.pointer("/payload/runId"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            ..RecordedIds::default()
        };
        for frame in &frames {
            let payload = &frame["payload"];
            if ids.session_key.is_none() {
                ids.session_key = payload["sessionKey"].as_str().map(str::to_string);
            }
            if ids.session_id.is_none() {
                ids.session_id = find_key(frame, "sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            if let Some(task) = payload.get("task") {
                if let Some(id) = task["id"].as_str() {
                    if !ids.task_ids.iter().any(|t| t == id) {
                        ids.task_ids.push(id.to_string());
                    }
                }
                if ids.message.is_none() {
                    ids.message = task["title"].as_str().map(str::to_string);
                }
            }
            if is_agent_stream(frame, "assistant") {
                if let Some(text) = payload.pointer("/data/text").and_then(Value::as_str) {
                    if !text.is_empty() {
                        ids.text = Some(text.to_string());
                    }
                }
            }
        }
        Script { frames, ids }
    }
}

/// First value stored under `key` anywhere in `v` (depth first).
fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|child| find_key(child, key))),
        Value::Array(items) => items.iter().find_map(|child| find_key(child, key)),
        _ => None,
    }
}

/// Whether `frame` is an `agent` event of `stream`.
pub(super) fn is_agent_stream(frame: &Value, stream: &str) -> bool {
    frame["type"] == "event" && frame["event"] == "agent" && frame["payload"]["stream"] == stream
}

/// Whether `frame` is a `chat` event in `state`.
pub(super) fn is_chat_state(frame: &Value, state: &str) -> bool {
    frame["type"] == "event" && frame["event"] == "chat" && frame["payload"]["state"] == state
}

/// Keys whose numeric values are wall-clock milliseconds.
const NOW_KEYS: &[&str] = &[
    "ts",
    "endedAt",
    "acceptedAt",
    "timestamp",
    "updatedAt",
    "lastActivityAt",
    "generatedAt",
];

/// Keys whose numeric values are the start of the run.
const START_KEYS: &[&str] = &["startedAt", "createdAt"];

/// The values a recorded frame is rewritten with.
pub(super) struct Rewrite<'a> {
    pub recorded: &'a RecordedIds,
    pub run_id: &'a str,
    pub session_key: &'a str,
    pub session_id: &'a str,
    pub task_id: &'a str,
    pub agent_id: &'a str,
    /// Replaces `recorded.text` wherever it appears.
    pub text: &'a str,
    /// Replaces `recorded.message` wherever it appears.
    pub message: &'a str,
    pub started_ms: u64,
    pub now_ms: u64,
    pub duration_ms: u64,
    /// Maps recorded `itemId` prefixes to this run's (v4 assistant items).
    pub items: &'a Mutex<HashMap<String, String>>,
}

impl Rewrite<'_> {
    /// A copy of `frame` with every recorded id, text and timestamp replaced.
    pub fn apply(&self, frame: &Value) -> Value {
        let mut out = frame.clone();
        self.walk(&mut out, None);
        out
    }

    fn walk(&self, v: &mut Value, key: Option<&str>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    self.walk(child, Some(k.as_str()));
                }
            }
            Value::Array(items) => {
                for child in items {
                    self.walk(child, key);
                }
            }
            Value::String(s) => {
                if let Some(new) = self.string(key, s) {
                    *s = new;
                }
            }
            Value::Number(_) => match key {
                Some(k) if NOW_KEYS.contains(&k) => *v = Value::from(self.now_ms),
                Some(k) if START_KEYS.contains(&k) => *v = Value::from(self.started_ms),
                Some("durationMs") => *v = Value::from(self.duration_ms),
                _ => {}
            },
            _ => {}
        }
    }

    fn string(&self, key: Option<&str>, s: &str) -> Option<String> {
        let rec = self.recorded;
        if key == Some("agentId") {
            return Some(self.agent_id.to_string());
        }
        if key == Some("itemId") {
            let (prefix, suffix) = s.split_once(':').unwrap_or((s, "1"));
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            let new = items
                .entry(prefix.to_string())
                .or_insert_with(|| uuid::Uuid::new_v4().to_string());
            return Some(format!("{new}:{suffix}"));
        }
        if s == rec.run_id {
            return Some(self.run_id.to_string());
        }
        if rec.session_key.as_deref() == Some(s) {
            return Some(self.session_key.to_string());
        }
        if rec.session_id.as_deref() == Some(s) {
            return Some(self.session_id.to_string());
        }
        if rec.task_ids.iter().any(|t| t == s) {
            return Some(self.task_id.to_string());
        }
        if rec.text.as_deref() == Some(s) {
            return Some(self.text.to_string());
        }
        if rec.message.as_deref() == Some(s) {
            return Some(self.message.to_string());
        }
        None
    }
}
