//! Playing one `agent` run: the recorded frame sequence of the matching scenario, rewritten
//! for this run, with the assistant text streamed in deltas and every interruption (abort,
//! `timeout`, injected faults) continuing with the frames the labs recorded for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::fixtures::{is_agent_stream, is_chat_state, progress_frames, Rewrite, Script};
use super::frame;
use super::{lock, now_ms, stopped, uuid, Cached, Shared};

/// The socket and request a run answers.
pub(super) struct Requester {
    pub conn_id: u64,
    pub req_id: Value,
    /// Completes when the requesting socket is gone.
    pub gone: watch::Receiver<()>,
}

/// What to play.
pub(super) struct RunSpec {
    /// Equals the `idempotencyKey` (traces: simple).
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    /// The trimmed `message` param.
    pub message: String,
    /// `None` for a run nobody here started (`broadcast_foreign_run`).
    pub requester: Option<Requester>,
    pub timeout: Option<Duration>,
    pub fault: Fault,
}

/// The injected behaviour, from the keywords of the message's last line (see the module docs
/// of the crate root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    None,
    Slow,
    Http500,
    Hang,
    Drop,
    /// Drop only the socket that started the run.
    DropSocket,
    Shutdown,
    Long,
    Flood,
    /// The `broken` agent (traces: broken_agent).
    Broken,
    /// Protocol 3: the whole run, then the store-lock timeout of the post-run write.
    StoreLock,
}

impl Fault {
    /// `fired`: this idempotency key already triggered its `MOCK_DROP` / `MOCK_SHUTDOWN`.
    pub fn detect(message: &str, agent_id: &str, fired: bool) -> Fault {
        if agent_id == "broken" {
            return Fault::Broken;
        }
        let line = last_line(message);
        let has = |k: &str| line.contains(k);
        if has("MOCK_HTTP_500") {
            Fault::Http500
        } else if has("MOCK_HANG") {
            Fault::Hang
        } else if has("MOCK_DROP_SOCKET") && !fired {
            Fault::DropSocket
        } else if has("MOCK_DROP") && !fired {
            Fault::Drop
        } else if has("MOCK_SHUTDOWN") && !fired {
            Fault::Shutdown
        } else if has("MOCK_LONG") {
            Fault::Long
        } else if has("MOCK_FLOOD") {
            Fault::Flood
        } else if has("MOCK_SLOW") {
            Fault::Slow
        } else if has("MOCK_STORE_LOCK") {
            Fault::StoreLock
        } else {
            Fault::None
        }
    }
}

/// The agent's work a run shows before its reply, from the keywords of the message's last
/// line (several may be combined).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Work {
    /// `MOCK_TOOL`: the recorded tool step (start and end).
    pub tool: bool,
    /// `MOCK_THINK`: thinking deltas (v4).
    pub think: bool,
    /// `MOCK_APPROVAL`: an exec step waiting for an approval that never comes (v4); the run
    /// then waits like `MOCK_HANG`.
    pub approval: bool,
}

impl Work {
    pub fn detect(message: &str) -> Work {
        let line = last_line(message);
        Work {
            tool: line.contains("MOCK_TOOL"),
            think: line.contains("MOCK_THINK"),
            approval: line.contains("MOCK_APPROVAL"),
        }
    }

    /// Whether `frame` (of `progress.jsonl`) belongs to the work asked for.
    fn wants(&self, frame: &Value) -> bool {
        let payload = &frame["payload"];
        let exec = payload["data"]["name"] == "exec";
        match payload["stream"].as_str() {
            Some("tool" | "item") if exec => self.approval,
            Some("tool" | "item") => self.tool,
            Some("thinking") => self.think,
            Some("approval") => self.approval,
            _ => false,
        }
    }
}

/// Which abort method was called (their answers differ; traces: abort_chat, abort_sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AbortKind {
    Chat,
    Sessions,
}

/// An abort delivered to a run; `reply_to` = (socket, request id, run ids to report).
pub(super) struct AbortRequest {
    pub kind: AbortKind,
    pub reply_to: Option<(u64, Value, Vec<String>)>,
}

/// The last non-empty line of `message`: the current turn when a client sends its history as
/// one envelope, so the echo (and the fault keywords) follow the newest message.
pub(super) fn last_line(message: &str) -> &str {
    message
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Splits `reply` on spaces into at most four deltas, like the lab mock LLM; their
/// concatenation is `reply` again.
pub(super) fn split_deltas(reply: &str) -> Vec<String> {
    let words: Vec<&str> = reply.split(' ').collect();
    let n = words.len().clamp(1, 4);
    let (base, extra) = (words.len() / n, words.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    for chunk in 0..n {
        let size = base + usize::from(chunk < extra);
        let part = words[i..i + size].join(" ");
        out.push(if chunk == 0 { part } else { format!(" {part}") });
        i += size;
    }
    out
}

/// The `accepted` payload (traces: simple; protocol 4 adds `sessionKey` and `agentId`).
pub(super) fn accepted_payload(
    shared: &Shared,
    run_id: &str,
    session_key: &str,
    agent_id: &str,
) -> Value {
    let script = &shared.fx.simple;
    let items = Mutex::new(HashMap::new());
    let now = now_ms();
    let rewrite = Rewrite {
        recorded: &script.ids,
        run_id,
        session_key,
        session_id: "",
        task_id: "",
        agent_id,
        text: "",
        message: "",
        started_ms: now,
        now_ms: now,
        duration_ms: 0,
        items: &items,
    };
    rewrite.apply(&script.frames[0]["payload"])
}

/// Why a pause ended early.
enum Interrupt {
    Abort(AbortRequest),
    Timeout,
    RequesterGone,
    Stopped,
}

/// How a run ended: with a final `res` (ok, payload, error) or without one.
type Outcome = Option<(bool, Value, Option<Value>)>;

/// Runs `spec` after the previous run of its session, then records the result.
pub(super) async fn run(
    shared: Arc<Shared>,
    spec: RunSpec,
    abort_rx: mpsc::UnboundedReceiver<AbortRequest>,
    session_lock: Arc<tokio::sync::Mutex<()>>,
) {
    let mut player = Player::new(shared.clone(), spec, abort_rx);
    let outcome = tokio::select! {
        guard = session_lock.clone().lock_owned() => {
            player.reset_clock();
            let outcome = player.play().await;
            drop(guard);
            outcome
        }
        interrupt = player.wait_interrupt(false) => player.interrupted(interrupt).await,
    };
    player.finish(outcome);
    drop(session_lock);
    let key = &player.spec.session_key;
    let mut runs = lock(&shared.runs);
    // Forget the session's lock once no other run holds or waits for it.
    if runs
        .sessions
        .get(key)
        .is_some_and(|l| Arc::strong_count(l) == 1)
    {
        runs.sessions.remove(key);
    }
}

/// Plays a run that no socket requested (`MockGateway::broadcast_foreign_run`).
pub(super) async fn play_foreign(shared: Arc<Shared>, text: &str) {
    let agent_id = shared.opts.default_agent.clone();
    let spec = RunSpec {
        run_id: uuid(),
        session_key: format!("agent:{agent_id}:openai:{}", uuid()),
        agent_id,
        message: text.trim().to_string(),
        requester: None,
        timeout: None,
        fault: Fault::None,
    };
    let (_tx, rx) = mpsc::unbounded_channel();
    let mut player = Player::new(shared, spec, rx);
    player.play().await;
}

struct Player {
    shared: Arc<Shared>,
    spec: RunSpec,
    abort_rx: mpsc::UnboundedReceiver<AbortRequest>,
    shutdown: watch::Receiver<bool>,
    session_id: String,
    task_id: String,
    items: Mutex<HashMap<String, String>>,
    started: Instant,
    started_ms: u64,
    deadline: Option<tokio::time::Instant>,
    /// Per-run counter of `agent` events (`payload.seq`).
    agent_seq: u64,
    /// The assistant text streamed so far.
    acc: String,
    /// Protocol 3 throttles chat deltas to one per 150 ms per run; the mock counts its own
    /// scheduled delays so the result does not depend on machine load.
    virtual_ms: u64,
    last_chat_delta: Option<u64>,
    /// Already removed from the registry (see `forget`).
    forgotten: bool,
}

const CHAT_DELTA_THROTTLE_MS: u64 = 150;

impl Player {
    fn new(
        shared: Arc<Shared>,
        spec: RunSpec,
        abort_rx: mpsc::UnboundedReceiver<AbortRequest>,
    ) -> Player {
        let shutdown = shared.shutdown.clone();
        let mut player = Player {
            shared,
            spec,
            abort_rx,
            shutdown,
            session_id: uuid(),
            task_id: uuid(),
            items: Mutex::new(HashMap::new()),
            started: Instant::now(),
            started_ms: now_ms(),
            deadline: None,
            agent_seq: 0,
            acc: String::new(),
            virtual_ms: 0,
            last_chat_delta: None,
            forgotten: false,
        };
        player.reset_clock();
        player
    }

    /// The run starts (and its `timeout` counts) when it leaves the session queue.
    fn reset_clock(&mut self) {
        self.started = Instant::now();
        self.started_ms = now_ms();
        self.deadline = self.spec.timeout.map(|t| tokio::time::Instant::now() + t);
    }

    fn v4(&self) -> bool {
        self.shared.v4()
    }

    fn reply(&self) -> String {
        format!("echo: {}", last_line(&self.spec.message))
    }

    fn deltas(&self) -> Vec<String> {
        if self.spec.fault == Fault::Long {
            let mut deltas = vec![self.reply()];
            deltas.extend((1..200).map(|i| format!(" t{i}")));
            deltas
        } else if self.spec.fault == Fault::Flood {
            let mut deltas = vec![self.reply()];
            deltas.extend((1..2000).map(|_| format!(" {}", "f".repeat(16 * 1024))));
            deltas
        } else {
            split_deltas(&self.reply())
        }
    }

    fn delay(&self) -> Duration {
        if self.spec.fault == Fault::Slow {
            self.shared.opts.chunk_delay * 10
        } else if self.spec.fault == Fault::Flood {
            Duration::from_millis(1)
        } else {
            self.shared.opts.chunk_delay
        }
    }

    /// `recorded` rewritten for this run; `text` replaces the recording's assistant text.
    fn rewrite(&self, script: &Script, recorded: &Value, text: &str) -> Value {
        let rewrite = Rewrite {
            recorded: &script.ids,
            run_id: &self.spec.run_id,
            session_key: &self.spec.session_key,
            session_id: &self.session_id,
            task_id: &self.task_id,
            agent_id: &self.spec.agent_id,
            text,
            message: &self.spec.message,
            started_ms: self.started_ms,
            now_ms: now_ms(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            items: &self.items,
        };
        rewrite.apply(recorded)
    }

    /// Broadcasts an event with this run's `payload.seq`: `agent` events count up, `chat`
    /// events carry the seq of the agent event that caused them (gateway lab README).
    fn emit(&mut self, mut frame: Value) {
        match frame["event"].as_str() {
            Some("agent") => {
                // The run-level error after an abort comes from another emitter and restarts
                // at 1 (traces: openclaw-lab abort_chat).
                let restart = frame["payload"]["data"]["phase"] == "error"
                    && frame["payload"]["data"]["aborted"] == true;
                if restart {
                    frame["payload"]["seq"] = Value::from(1);
                } else {
                    self.agent_seq += 1;
                    frame["payload"]["seq"] = Value::from(self.agent_seq);
                }
            }
            Some("chat") => {
                // `chat aborted` takes the next seq without consuming it (2026.1.24
                // chat-abort.js `broadcastChatAborted`).
                let seq = if frame["payload"]["state"] == "aborted" {
                    self.agent_seq + 1
                } else {
                    self.agent_seq
                };
                frame["payload"]["seq"] = Value::from(seq);
            }
            _ => {}
        }
        self.shared.broadcast(frame, true);
    }

    /// Sends a `res` to the requester.
    fn respond(&self, ok: bool, payload: Value, error: Option<Value>) {
        if let Some(req) = &self.spec.requester {
            let mut res = frame::res(&req.req_id, ok, payload);
            if let Some(error) = error {
                res["error"] = error;
            }
            self.shared.send_to(req.conn_id, res);
        }
    }

    /// Waits `d` unless an abort, the run's timeout, the server stopping or (when
    /// `watch_requester`) the requester leaving comes first.
    async fn pause(&mut self, d: Duration, watch_requester: bool) -> Option<Interrupt> {
        if d.is_zero() {
            // A zero sleep would still wait for the timer's next 1 ms tick; benches use 0 to
            // take the mock's own pacing out of the measurement.
            tokio::task::yield_now().await;
            return None;
        }
        tokio::select! {
            interrupt = self.wait_interrupt(watch_requester) => Some(interrupt),
            _ = tokio::time::sleep(d) => {
                self.virtual_ms += d.as_millis() as u64;
                None
            }
        }
    }

    async fn wait_interrupt(&mut self, watch_requester: bool) -> Interrupt {
        let deadline = self.deadline;
        let gone = self
            .spec
            .requester
            .as_ref()
            .filter(|_| watch_requester)
            .map(|r| r.gone.clone());
        tokio::select! {
            _ = stopped(&mut self.shutdown) => Interrupt::Stopped,
            Some(abort) = self.abort_rx.recv() => Interrupt::Abort(abort),
            _ = async {
                match deadline {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => Interrupt::Timeout,
            _ = async {
                match gone {
                    Some(mut rx) => while rx.changed().await.is_ok() {},
                    None => std::future::pending().await,
                }
            } => Interrupt::RequesterGone,
        }
    }

    async fn play(&mut self) -> Outcome {
        match self.spec.fault {
            Fault::Broken => self.play_script(self.script_broken(), false).await,
            Fault::Http500 => self.play_script(self.script_500(), true).await,
            Fault::StoreLock if !self.v4() => self.play_store_lock().await,
            _ => self.play_simple().await,
        }
    }

    /// `MOCK_STORE_LOCK` (protocol 3): the run streams and ends as usual, then its post-run
    /// session-store write times out on the lock (2026.1.24 `commands/agent.js:410` ->
    /// `commands/agent/session-store.js:40`), and the `agent` handler's catch answers with
    /// `UNAVAILABLE` `String(err)` and `{runId, status:"error", summary}`
    /// (`gateway/server-methods/agent.js:284-300`; the frame's shape as gateway-lab
    /// broken_agent recorded that catch).
    async fn play_store_lock(&mut self) -> Outcome {
        self.play_simple().await?;
        let mut res = self.shared.fx.error_res("store_lock_after_accepted");
        res["payload"]["runId"] = Value::from(self.spec.run_id.as_str());
        Some(final_parts(&res))
    }

    fn script_broken(&self) -> &'static Script {
        &self.shared.fx.broken_agent
    }

    fn script_500(&self) -> &'static Script {
        &self.shared.fx.llm_http500
    }

    /// Replays a whole recorded run after its `accepted` res. With `attempts`, each
    /// `lifecycle start` after the first (a provider retry) waits one chunk delay instead of
    /// the recorded backoff (traces: llm_http500: ~20 s on v3, ~84 s on v4).
    async fn play_script(&mut self, script: &'static Script, attempts: bool) -> Outcome {
        let mut first_start = true;
        let frames = &script.frames[1..];
        let (last, body) = frames.split_last()?;
        for recorded in body {
            if attempts && is_lifecycle(recorded, "start") {
                if !first_start {
                    if let Some(interrupt) = self.pause(self.delay(), false).await {
                        return self.interrupted(interrupt).await;
                    }
                }
                first_start = false;
            }
            let frame = self.rewrite(script, recorded, "");
            self.emit(frame);
        }
        let res = self.rewrite(script, last, "");
        Some(final_parts(&res))
    }

    /// The `simple` recording: its frames before the first assistant event, the deltas, then
    /// its frames after the last assistant event and its final `res` (traces: simple).
    async fn play_simple(&mut self) -> Outcome {
        let script = &self.shared.fx.simple;
        let frames = &script.frames;
        let first = frames
            .iter()
            .position(|f| is_agent_stream(f, "assistant"))?;
        let last = frames
            .iter()
            .rposition(|f| is_agent_stream(f, "assistant"))?;
        let assistant = &frames[first];
        let chat_delta = frames.iter().find(|f| is_chat_state(f, "delta"));
        let reply: String = self.deltas().concat();

        for recorded in &frames[1..first] {
            let frame = self.rewrite(script, recorded, &reply);
            self.emit(frame);
        }
        let work = Work::detect(&self.spec.message);
        for recorded in progress_frames(self.shared.opts.protocol) {
            if !work.wants(recorded) {
                continue;
            }
            if let Some(interrupt) = self.pause(self.delay(), false).await {
                return self.interrupted(interrupt).await;
            }
            let frame = self.rewrite(script, recorded, &reply);
            self.emit(frame);
        }
        if work.approval {
            return self.hang().await;
        }
        let deltas = self.deltas();
        let n = deltas.len();
        for (i, delta) in deltas.iter().enumerate() {
            if let Some(interrupt) = self.pause(self.delay(), false).await {
                return self.interrupted(interrupt).await;
            }
            self.acc.push_str(delta);
            // A flood carries each delta once (the text so far would be quadratic).
            let flood = self.spec.fault == Fault::Flood;
            let mut frame = self.rewrite(script, assistant, if flood { delta } else { &reply });
            let text = if flood {
                delta.as_str()
            } else {
                self.acc.as_str()
            };
            frame["payload"]["data"]["text"] = Value::from(text);
            frame["payload"]["data"]["delta"] = Value::from(delta.as_str());
            self.emit(frame);
            if let Some(recorded) = chat_delta.filter(|_| !flood) {
                let send = if self.v4() {
                    // Protocol 4: a chat delta per assistant delta; the last one is flushed
                    // after `lifecycle end` (traces: openclaw-lab simple, idempotent_replay).
                    i + 1 < n
                } else {
                    // Protocol 3: at most one per 150 ms (gateway lab README, `chat` event).
                    self.last_chat_delta
                        .is_none_or(|t| self.virtual_ms - t >= CHAT_DELTA_THROTTLE_MS)
                };
                if send {
                    self.last_chat_delta = Some(self.virtual_ms);
                    let frame = self.chat_delta(script, recorded, delta, &reply);
                    self.emit(frame);
                }
            }
            if i == 0 {
                match self.spec.fault {
                    Fault::Hang => return self.hang().await,
                    Fault::Drop => {
                        self.forget();
                        self.shared.drop_clients().await;
                        return None;
                    }
                    Fault::DropSocket => {
                        self.forget();
                        if let Some(conn_id) = self.spec.requester.as_ref().map(|r| r.conn_id) {
                            self.shared.drop_client(conn_id).await;
                        }
                        return None;
                    }
                    Fault::Shutdown => {
                        self.forget();
                        self.shared.shutdown_clients();
                        return None;
                    }
                    _ => {}
                }
            }
        }

        let output = reply.split_whitespace().count() as u64;
        let last_delta = deltas.last().cloned().unwrap_or_default();
        for recorded in &frames[last + 1..frames.len() - 1] {
            let mut frame = self.rewrite(script, recorded, &reply);
            if is_chat_state(recorded, "delta") {
                frame["payload"]["deltaText"] = Value::from(last_delta.as_str());
            }
            if is_agent_stream(recorded, "usage") {
                frame["payload"]["data"]["outputTokens"] = Value::from(output);
            }
            self.emit(frame);
        }
        let mut res = self.rewrite(script, &frames[frames.len() - 1], &reply);
        self.set_usage(&mut res, output);
        Some(final_parts(&res))
    }

    fn chat_delta(&self, script: &Script, recorded: &Value, delta: &str, reply: &str) -> Value {
        let mut frame = self.rewrite(script, recorded, reply);
        let payload = &mut frame["payload"];
        if let Some(part) = payload.pointer_mut("/message/content/0/text") {
            *part = Value::from(self.acc.as_str());
        }
        if payload.get("deltaText").is_some() {
            payload["deltaText"] = Value::from(delta);
        }
        frame
    }

    /// `usage` in `result.meta.agentMeta`: input about a token per four characters of the
    /// message, output one per word of the reply.
    fn set_usage(&self, res: &mut Value, output: u64) {
        let input = (self.spec.message.chars().count() as u64).div_ceil(4);
        let Some(meta) = res.pointer_mut("/payload/result/meta/agentMeta") else {
            return;
        };
        for key in ["usage", "lastCallUsage"] {
            if let Some(usage) = meta.get_mut(key).filter(|u| u.is_object()) {
                usage["input"] = Value::from(input);
                usage["output"] = Value::from(output);
                usage["total"] = Value::from(input + output);
            }
        }
        if meta.get("promptTokens").is_some() {
            meta["promptTokens"] = Value::from(input);
        }
    }

    /// `MOCK_HANG`: nothing more until an abort (v4), the timeout, or the requester leaving.
    async fn hang(&mut self) -> Outcome {
        let interrupt = self.wait_interrupt(true).await;
        self.interrupted(interrupt).await
    }

    async fn interrupted(&mut self, interrupt: Interrupt) -> Outcome {
        match interrupt {
            Interrupt::Abort(request) => self.play_abort(request).await,
            Interrupt::Timeout => self.play_timeout(),
            Interrupt::RequesterGone | Interrupt::Stopped => None,
        }
    }

    /// The recorded frames after the last assistant event of `script`, chat deltas left out
    /// (this run already sent its own).
    fn tail(script: &Script) -> &[Value] {
        let frames = &script.frames;
        let from = frames
            .iter()
            .rposition(|f| is_agent_stream(f, "assistant"))
            .map_or(1, |i| i + 1);
        &frames[from..]
    }

    /// `timeout` elapsed (traces: run_timeout: v3 `lifecycle end aborted:true`, `payloads:[]`;
    /// v4 `lifecycle error` + `chat error` and `status:"timeout"`).
    fn play_timeout(&mut self) -> Outcome {
        let script = &self.shared.fx.run_timeout;
        let acc = self.acc.clone();
        let tail = Self::tail(script);
        let (last, body) = tail.split_last()?;
        for recorded in body.iter().filter(|f| !is_chat_state(f, "delta")) {
            let frame = self.rewrite(script, recorded, &acc);
            self.emit(frame);
        }
        let res = self.rewrite(script, last, &acc);
        Some(final_parts(&res))
    }

    /// An abort (protocol 4): `chat aborted`, `lifecycle end cancelled`, the abort request's
    /// answer, `lifecycle error`, then the final `res` with `status:"timeout"` (traces:
    /// openclaw-lab abort_chat, abort_sessions).
    async fn play_abort(&mut self, request: AbortRequest) -> Outcome {
        let fx = self.shared.fx;
        let script = match request.kind {
            AbortKind::Chat => fx.abort_chat.as_ref(),
            AbortKind::Sessions => fx.abort_sessions.as_ref(),
        }?;
        let acc = self.acc.clone();
        let tail = Self::tail(script);
        let (last, body) = tail.split_last()?;
        for recorded in body.iter().filter(|f| !is_chat_state(f, "delta")) {
            let mut frame = self.rewrite(script, recorded, &acc);
            if frame["type"] == "res" {
                if let Some((conn_id, req_id, run_ids)) = &request.reply_to {
                    frame["id"] = req_id.clone();
                    if request.kind == AbortKind::Chat {
                        frame["payload"]["runIds"] = Value::from(run_ids.clone());
                    }
                    self.shared.send_to(*conn_id, frame);
                }
                continue;
            }
            self.emit(frame);
        }
        let res = self.rewrite(script, last, &acc);
        Some(final_parts(&res))
    }

    /// Removes the run from the registry before the sockets go (`MOCK_DROP`,
    /// `MOCK_SHUTDOWN`): a client that reconnects at once and resubmits the key starts a new
    /// run instead of finding this one in flight.
    fn forget(&mut self) {
        let mut runs = lock(&self.shared.runs);
        runs.active.remove(&self.spec.run_id);
        runs.dedupe.remove(&self.spec.run_id);
        self.forgotten = true;
    }

    /// Sends the final `res`, caches it for resubmissions and forgets the run; an abort that
    /// arrived too late gets the "nothing to abort" answer.
    fn finish(&mut self, outcome: Outcome) {
        let key = self.spec.run_id.clone();
        if !self.forgotten {
            let mut runs = lock(&self.shared.runs);
            runs.active.remove(&key);
            match &outcome {
                Some((ok, payload, error)) => {
                    runs.dedupe.insert(
                        key,
                        Cached {
                            ok: *ok,
                            payload: payload.clone(),
                            error: error.clone(),
                        },
                    );
                }
                None => {
                    runs.dedupe.remove(&key);
                }
            }
        }
        if let Some((ok, payload, error)) = outcome {
            self.respond(ok, payload, error);
        }
        while let Ok(late) = self.abort_rx.try_recv() {
            if let Some((conn_id, req_id, _)) = late.reply_to {
                let payload = match late.kind {
                    AbortKind::Chat => json!({"ok": true, "aborted": false, "runIds": []}),
                    AbortKind::Sessions => {
                        json!({"ok": true, "abortedRunId": null, "status": "no-active-run"})
                    }
                };
                let res = frame::res_ok(&req_id, payload);
                self.shared.send_to(conn_id, res);
            }
        }
    }
}

fn is_lifecycle(frame: &Value, phase: &str) -> bool {
    is_agent_stream(frame, "lifecycle") && frame["payload"]["data"]["phase"] == phase
}

/// (ok, payload, error) of a final `res` frame.
fn final_parts(res: &Value) -> (bool, Value, Option<Value>) {
    (
        res["ok"].as_bool().unwrap_or(false),
        res["payload"].clone(),
        res.get("error").cloned(),
    )
}
