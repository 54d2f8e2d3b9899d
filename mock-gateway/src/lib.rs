//! An in-process gateway that speaks protocol v3 (clawdbot 2026.1.24) or v4 (openclaw
//! 2026.9.6) on a loopback WebSocket and replays the frame sequences recorded from the real
//! gateways.
//!
//! It exists for two reasons: the fast test suite runs the proxy end to end against it, and
//! `clawshim demo` uses it to give a fresh machine a working endpoint without a gateway.
//! Every frame it sends is a recorded frame (the `fixtures/` directory, compiled in) with ids,
//! texts and timestamps substituted; the behaviour (handshake failures and close codes,
//! broadcast of run events to every socket, per-session queueing, idempotent replay, aborts,
//! shutdown) follows the lab traces, cited next to the code as `traces: <lab> <scenario>`
//! (no lab named: both recorded it).
//!
//! An `agent` run answers `echo: <last line of message>`, streamed in up to four word-split
//! deltas. Keywords in that line inject faults, like the labs' mock LLM:
//!
//! | keyword | effect |
//! | --- | --- |
//! | `MOCK_HTTP_500` | the recorded provider-error run (v3: `ok:true` with the error text; v4: `run_status` retries then `ok:false` `UNAVAILABLE`), without the real backoff |
//! | `MOCK_SLOW` | ten times the chunk delay |
//! | `MOCK_HANG` | one delta, then nothing until the run is aborted (v4) or its socket closes |
//! | `MOCK_DROP` | after the first delta every socket is dropped without a close frame |
//! | `MOCK_DROP_SOCKET` | after the first delta the socket that started the run is dropped without a close frame (the others stay) |
//! | `MOCK_SHUTDOWN` | after the first delta every socket gets `shutdown` + close 1012 |
//! | `MOCK_LONG` | a reply of 200 deltas |
//! | `MOCK_FLOOD` | 2,000 deltas of 16 KiB, 1 ms apart, without `chat` events (a reader that stops reading falls behind) |
//! | `MOCK_STORE_LOCK` | protocol 3: the whole run, then `ok:false` `UNAVAILABLE` "Error: timeout acquiring session store lock: …" as the final `res` (the post-run store write timed out after the model answered; protocol 4 has no store lock and plays a normal run) |
//! | `MOCK_NO_ACCEPT` | the `accepted` res is never sent (the run itself goes on; combine with `MOCK_HANG`) |
//! | `MOCK_TOOL` | before the reply, the recorded tool step (v3 `tool` stream, v4 `item` stream) |
//! | `MOCK_THINK` | before the reply, thinking deltas (v4) |
//! | `MOCK_APPROVAL` | an exec step and its approval request (v4), then nothing until the run's `timeout`, an abort or its socket closing |
//!
//! Hostile gateways are played with [`MockGateway::send_raw`] (any text as a frame),
//! [`MockOptions::announce_protocol`] and [`MockGateway::revoke_pairings`].
//!
//! `MOCK_DROP`, `MOCK_DROP_SOCKET` and `MOCK_SHUTDOWN` fire once per `idempotencyKey`: a client that reconnects and
//! resubmits the same key gets a normal run, so resubmission can be tested. The agent id
//! `broken` fails like the lab's agent with an unknown model (traces: broken_agent).

mod conn;
mod device;
mod fixtures;
mod frame;
mod http;
mod methods;
mod run;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use fixtures::Fixtures;

/// Which gateway generation the mock imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Protocol 3, clawdbot 2026.1.24.
    V3,
    /// Protocol 4, openclaw 2026.9.6.
    V4,
}

impl Protocol {
    /// The protocol number announced in `hello-ok`.
    pub fn number(self) -> u64 {
        match self {
            Protocol::V3 => 3,
            Protocol::V4 => 4,
        }
    }

    /// The frame limit announced in `hello-ok.policy.maxPayload` and enforced on every
    /// received frame (524288 on clawdbot 2026.1.24, 26214400 on openclaw 2026.9.6: every
    /// `hello-ok` in the labs' traces).
    pub fn default_max_payload(self) -> usize {
        match self {
            Protocol::V3 => 512 * 1024,
            Protocol::V4 => 25 * 1024 * 1024,
        }
    }

    /// How long the gateway waits for the `connect` request (traces: handshake_timeout, 10.0 s
    /// on clawdbot, 15 s on openclaw).
    pub fn default_handshake_timeout(self) -> Duration {
        match self {
            Protocol::V3 => Duration::from_secs(10),
            Protocol::V4 => Duration::from_secs(15),
        }
    }
}

/// How the mock behaves; [`MockOptions::default`] is a v4 gateway with the labs' agents.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// The protocol generation to imitate.
    pub protocol: Protocol,
    /// The accepted `auth.token` (`secret` by default, like the labs).
    pub token: Option<String>,
    /// The accepted `auth.password`. Protocol 3 still demands a token from a client without a
    /// device identity (2026.1.24 `message-handler.js`: `canSkipDevice = hasTokenAuth`), so
    /// with [`Protocol::V3`] a password alone gets `device identity required`, as it would there.
    pub password: Option<String>,
    /// Configured agents as `(id, name)`; the labs have `main`, `beta` and `broken`.
    pub agents: Vec<(String, String)>,
    /// The default agent id (`main`).
    pub default_agent: String,
    /// Pause before each assistant delta (20 ms by default).
    pub chunk_delay: Duration,
    /// Period of `tick` events; `hello-ok.policy.tickIntervalMs` announces the same (30 s).
    pub tick_interval: Duration,
    /// How long a socket may stay silent before `connect`; `None` uses the protocol's value.
    pub handshake_timeout: Option<Duration>,
    /// Frames queued per socket before it counts as a slow consumer and is closed with 1008
    /// `slow consumer` (the gateway closes on buffered bytes; frames are close enough here).
    pub max_queued_frames: usize,
    /// Where to listen (`127.0.0.1:0` by default).
    pub bind: SocketAddr,
    /// Treat every unknown device as remote: its first `connect` gets `NOT_PAIRED` with a
    /// `requestId` until [`MockGateway::approve_pairing`]; without it a device is approved
    /// silently on v3 and needs no pairing on v4, as on the labs' loopback.
    pub require_pairing: bool,
    /// Largest frame read from a client, announced as `policy.maxPayload`; a bigger one
    /// closes the socket with 1009, as `ws` does on the real gateways. `None` uses the
    /// protocol's value ([`Protocol::default_max_payload`]).
    pub max_payload: Option<usize>,
    /// Announce this protocol number in `hello-ok` instead of the real one (a gateway of
    /// another generation than the client supports).
    pub announce_protocol: Option<u64>,
    /// Refuse an `agent` request while this many runs are in flight, with clawdbot
    /// 2026.1.24's `UNAVAILABLE "Error: timeout acquiring session store lock: …"` sent before
    /// `accepted` (its session-store lock under load: `config/sessions/store.js`,
    /// `gateway/server-methods/agent.js`); the refused run never starts. Protocol 3 only:
    /// openclaw keeps sessions in SQLite and has no such lock. `None` (default): no limit.
    pub max_runs_in_flight: Option<usize>,
    /// Serve openclaw's own `POST /v1/chat/completions` on the same port (`http`), as a
    /// gateway with `gateway.http.endpoints.chatCompletions.enabled`; protocol 4 only. Off
    /// by default, as on openclaw: the endpoint then answers 404.
    pub http_endpoint: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            protocol: Protocol::V4,
            token: Some("secret".to_string()),
            password: None,
            agents: vec![
                ("main".to_string(), "Main".to_string()),
                ("beta".to_string(), "Beta".to_string()),
                (
                    "broken".to_string(),
                    "Broken (unknown provider/model, test fixture)".to_string(),
                ),
            ],
            default_agent: "main".to_string(),
            chunk_delay: Duration::from_millis(20),
            tick_interval: Duration::from_secs(30),
            handshake_timeout: None,
            max_queued_frames: 4096,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            require_pairing: false,
            max_payload: None,
            announce_protocol: None,
            max_runs_in_flight: None,
            http_endpoint: false,
        }
    }
}

impl MockOptions {
    /// Default options for `protocol`.
    pub fn for_protocol(protocol: Protocol) -> Self {
        MockOptions {
            protocol,
            ..MockOptions::default()
        }
    }

    /// The frame limit in force: [`Self::max_payload`] or the protocol's.
    pub fn max_payload(&self) -> usize {
        self.max_payload
            .unwrap_or_else(|| self.protocol.default_max_payload())
    }

    fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
            .unwrap_or_else(|| self.protocol.default_handshake_timeout())
    }
}

/// A running mock gateway; dropping it stops its tasks, [`MockGateway::stop`] also waits for them.
pub struct MockGateway {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl MockGateway {
    /// Binds `opts.bind` and starts serving.
    pub async fn start(opts: MockOptions) -> std::io::Result<MockGateway> {
        let listener = TcpListener::bind(opts.bind).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            fx: fixtures::fixtures(opts.protocol),
            opts,
            conns: Mutex::new(BTreeMap::new()),
            next_conn: AtomicU64::new(1),
            total_connects: AtomicUsize::new(0),
            runs_started: AtomicUsize::new(0),
            run_events_sent: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            upgrade_headers: Mutex::new(Vec::new()),
            http_requests: Mutex::new(Vec::new()),
            ticks_paused: AtomicBool::new(false),
            event_seq: AtomicU64::new(0),
            runs: Mutex::new(Registry::default()),
            devices: Mutex::new(device::Devices::default()),
            tasks: Mutex::new(Vec::new()),
            shutdown: shutdown_rx,
            started: Instant::now(),
        });
        let accept = tokio::spawn(accept_loop(shared.clone(), listener));
        let ticker = tokio::spawn(tick_loop(shared.clone()));
        Ok(MockGateway {
            shared,
            addr,
            shutdown,
            tasks: vec![accept, ticker],
        })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sockets that completed the handshake and are still open.
    pub fn connections(&self) -> usize {
        self.shared.conns().len()
    }

    /// Successful handshakes since start.
    pub fn total_connects(&self) -> usize {
        self.shared.total_connects.load(Ordering::SeqCst)
    }

    /// `agent` runs played so far (a request answered from the idempotency cache plays none):
    /// the mock's count of LLM calls.
    pub fn runs_started(&self) -> usize {
        self.shared.runs_started.load(Ordering::SeqCst)
    }

    /// Run event frames (`agent`, `chat`) queued on sockets so far, counted once per socket.
    pub fn run_events_sent(&self) -> usize {
        self.shared.run_events_sent.load(Ordering::SeqCst)
    }

    /// Every `req` frame received so far (including `connect`), in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests).clone()
    }

    /// The params of every `agent` request received, in arrival order, as sent (so a test
    /// can check the run's `attachments`, `thinking`, `provider` and `model`). A v3 mock
    /// refuses `provider`/`model` like clawdbot 2026.1.24's schema (`additionalProperties:
    /// false`), and such a request is still listed here.
    pub fn agent_params(&self) -> Vec<Value> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r["method"] == "agent")
            .map(|r| r["params"].clone())
            .collect()
    }

    /// Every plain HTTP request (`POST /v1/chat/completions` and others), in arrival order.
    pub fn http_requests(&self) -> Vec<HttpRecord> {
        lock(&self.shared.http_requests).clone()
    }

    /// The headers of every WebSocket upgrade request, lower-case names, in arrival order.
    pub fn upgrade_headers(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.shared.upgrade_headers).clone()
    }

    /// Sends every socket the `shutdown` event and closes it with 1012 `service restart`, as
    /// a stopping gateway does (traces: shutdown). Frames queued earlier are written first;
    /// the sockets leave [`MockGateway::connections`] at once.
    pub async fn shutdown_clients(&self) {
        self.shared.shutdown_clients();
    }

    /// Drops every socket without a close frame, like a crashed gateway or a cut network
    /// (frames queued before the call are still written); returns once they are closed.
    pub async fn drop_clients(&self) {
        self.shared.drop_clients().await;
    }

    /// Pairing requests waiting for approval (see [`MockOptions::require_pairing`]).
    pub fn pending_pairings(&self) -> Vec<String> {
        lock(&self.shared.devices).pending_ids()
    }

    /// Approves a pending pairing request, like `openclaw devices approve <requestId>`: the
    /// device's next `connect` succeeds and gets a device token. False for an unknown id.
    pub fn approve_pairing(&self, request_id: &str) -> bool {
        lock(&self.shared.devices).approve(request_id)
    }

    /// Queues `text` verbatim as one text frame on every handshaken socket (non-JSON, wrong
    /// types, unknown frame types, forged `res` and events, frames of any size).
    pub fn send_raw(&self, text: &str) {
        for conn in self.shared.conns().values() {
            let _ = conn.tx.try_send(Outbound::Raw(text.to_string()));
        }
    }

    /// Revokes every paired device, like removing it on the gateway while it is connected:
    /// its device token stops working and its sockets are closed with 1008 (the close
    /// code and reason are this mock's choice: not traced). With
    /// [`MockOptions::require_pairing`] its next `connect` needs a new approval.
    pub fn revoke_pairings(&self) {
        lock(&self.shared.devices).revoke_all();
        let conns = std::mem::take(&mut *self.shared.conns());
        for (_, conn) in conns {
            if conn
                .tx
                .try_send(Outbound::Close(1008, "device pairing revoked".to_string()))
                .is_err()
            {
                conn.kill.send_replace(Kill::Abrupt);
            }
        }
    }

    /// Stops (or resumes) `tick` events, to exercise tick-loss detection.
    pub fn pause_ticks(&self, paused: bool) {
        self.shared.ticks_paused.store(paused, Ordering::SeqCst);
    }

    /// Plays a complete run that no socket started, its events broadcast to every socket
    /// (traces: broadcast_observer; runs started over the gateway's HTTP endpoint look the
    /// same); returns when its last event is queued.
    pub async fn broadcast_foreign_run(&self, text: &str) {
        run::play_foreign(self.shared.clone(), text).await;
    }

    /// Stops listening, drops every socket and waits for the mock's tasks to end.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        self.shared.kill_clients().await;
        let mut tasks = std::mem::take(&mut self.tasks);
        tasks.extend(std::mem::take(&mut *lock(&self.shared.tasks)));
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MockGateway {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Serves a mock gateway until `shutdown` completes (used by `clawshim demo`).
pub async fn serve_until(
    opts: MockOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mock = MockGateway::start(opts).await?;
    shutdown.await;
    mock.stop().await;
    Ok(())
}

/// One plain HTTP request the mock received ([`MockOptions::http_endpoint`]).
#[derive(Debug, Clone)]
pub struct HttpRecord {
    /// The request path.
    pub path: String,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`null` when it was not JSON).
    pub body: Value,
    /// How it ended: `completed`, `tool_call`, `error`, `client_gone`, `not_found`,
    /// `unauthorized`, `forwarded_refused`, `bad_tool_choice`, `no_messages`, or `in_progress`.
    pub outcome: String,
}

impl HttpRecord {
    /// A header's value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// State shared by the accept loop, the socket tasks and the run tasks.
struct Shared {
    opts: MockOptions,
    fx: &'static Fixtures,
    conns: Mutex<BTreeMap<u64, ConnHandle>>,
    next_conn: AtomicU64,
    total_connects: AtomicUsize,
    runs_started: AtomicUsize,
    /// `agent`/`chat` event frames queued on sockets, all sockets together.
    run_events_sent: AtomicUsize,
    requests: Mutex<Vec<Value>>,
    upgrade_headers: Mutex<Vec<Vec<(String, String)>>>,
    http_requests: Mutex<Vec<HttpRecord>>,
    ticks_paused: AtomicBool,
    /// Protocol 3 numbers events with one gateway-wide counter (gaps per socket are normal);
    /// protocol 4 counts per connection, which `conn` does.
    event_seq: AtomicU64,
    runs: Mutex<Registry>,
    devices: Mutex<device::Devices>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Receiver<bool>,
    started: Instant,
}

/// What the run side needs to reach one handshaken socket.
struct ConnHandle {
    tx: mpsc::Sender<Outbound>,
    /// Shared with the socket task, so the channel stays open as long as the socket does.
    kill: Arc<watch::Sender<Kill>>,
    /// Completes (`changed()` fails) once the socket task has ended.
    gone: watch::Receiver<()>,
    /// Protocol 4 socket without `operator.read` (token-only from a non-backend client): it
    /// gets no run events.
    run_events: bool,
    /// Protocol 4 socket that declared `caps:["session-scoped-events"]`: it gets `agent` and
    /// `chat` events only for the sessions in `subscribed` (openclaw-lab broadcast_scoped;
    /// 2026.9.6 `server-start-*.mjs`, the broadcaster's `SESSION_SCOPED_EVENTS` check).
    scoped: bool,
    /// Session keys subscribed with `sessions.messages.subscribe`.
    subscribed: std::collections::HashSet<String>,
}

/// A frame, or the end of the socket, queued for one socket: frames queued earlier are
/// written first.
enum Outbound {
    Frame(Value),
    /// Text sent as is ([`MockGateway::send_raw`]).
    Raw(String),
    /// Send a close frame with this code and reason.
    Close(u16, String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// Why a socket task must stop at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    None,
    /// Drop the TCP connection without a close frame.
    Abrupt,
    /// Close with 1008 `slow consumer` (2026.1.24 `server-broadcast.js`), then drop.
    SlowConsumer,
}

/// Runs in flight and finished runs' results.
#[derive(Default)]
struct Registry {
    /// `idempotencyKey` -> the answer a resubmission gets: the `accepted` payload while the run
    /// is in flight, the final result afterwards (2026.1.24 `context.dedupe`; traces:
    /// idempotent_replay).
    dedupe: HashMap<String, Cached>,
    /// `runId` -> the run's abort channel.
    active: HashMap<String, ActiveRun>,
    /// One lock per session key: runs of one session are played one after the other (traces:
    /// concurrent_same_session).
    sessions: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Keys whose `MOCK_DROP` / `MOCK_SHUTDOWN` already fired.
    fired: HashSet<String>,
}

#[derive(Clone)]
struct Cached {
    ok: bool,
    payload: Value,
    error: Option<Value>,
}

struct ActiveRun {
    session_key: String,
    abort: mpsc::UnboundedSender<run::AbortRequest>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Shared {
    fn conns(&self) -> MutexGuard<'_, BTreeMap<u64, ConnHandle>> {
        lock(&self.conns)
    }

    fn v4(&self) -> bool {
        self.opts.protocol == Protocol::V4
    }

    fn track(&self, task: JoinHandle<()>) {
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Gives a protocol 3 event its gateway-wide `seq` (protocol 4 sockets number their own).
    fn stamp(&self, mut frame: Value) -> Value {
        if !self.v4() && frame["type"] == "event" {
            let seq = self.event_seq.fetch_add(1, Ordering::SeqCst) + 1;
            frame["seq"] = Value::from(seq);
        }
        frame
    }

    /// Queues `frame` on every handshaken socket; `run_event` frames skip protocol 4 sockets
    /// without read scope. A socket whose queue is full is closed as a slow consumer, so one
    /// stuck client never holds up the others.
    fn broadcast(&self, frame: Value, run_event: bool) {
        let frame = self.stamp(frame);
        let mut conns = self.conns();
        let mut dead = Vec::new();
        for (id, conn) in conns.iter() {
            if run_event && !conn.run_events {
                continue;
            }
            // `task` events still reach every socket (traces: broadcast_scoped).
            let session_event = matches!(frame["event"].as_str(), Some("agent" | "chat"));
            if run_event && conn.scoped && session_event {
                let key = frame["payload"]["sessionKey"].as_str();
                if !key.is_some_and(|k| conn.subscribed.contains(k)) {
                    continue;
                }
            }
            let sent = conn.tx.try_send(Outbound::Frame(frame.clone()));
            if run_event && session_event && sent.is_ok() {
                self.run_events_sent.fetch_add(1, Ordering::SeqCst);
            }
            if let Err(err) = sent {
                let kill = match err {
                    mpsc::error::TrySendError::Full(_) => Kill::SlowConsumer,
                    mpsc::error::TrySendError::Closed(_) => Kill::Abrupt,
                };
                dead.push((*id, kill));
            }
        }
        for (id, kill) in dead {
            if let Some(conn) = conns.remove(&id) {
                conn.kill.send_replace(kill);
            }
        }
    }

    /// Adds or removes `key` from the sessions socket `conn_id` follows.
    fn set_subscribed(&self, conn_id: u64, key: &str, subscribed: bool) {
        if let Some(conn) = self.conns().get_mut(&conn_id) {
            if subscribed {
                conn.subscribed.insert(key.to_string());
            } else {
                conn.subscribed.remove(key);
            }
        }
    }

    /// Queues `frame` on one socket (responses); false when that socket is gone.
    fn send_to(&self, conn_id: u64, frame: Value) -> bool {
        let mut conns = self.conns();
        let Some(conn) = conns.get(&conn_id) else {
            return false;
        };
        match conn.tx.try_send(Outbound::Frame(frame)) {
            Ok(()) => true,
            Err(err) => {
                let kill = match err {
                    mpsc::error::TrySendError::Full(_) => Kill::SlowConsumer,
                    mpsc::error::TrySendError::Closed(_) => Kill::Abrupt,
                };
                if let Some(conn) = conns.remove(&conn_id) {
                    conn.kill.send_replace(kill);
                }
                false
            }
        }
    }

    /// Queues `shutdown` + close 1012 on every socket; they leave `connections()` at once and
    /// close after writing what was queued before.
    fn shutdown_clients(&self) {
        let conns = std::mem::take(&mut *self.conns());
        let shutdown = self.stamp(self.fx.shutdown.clone());
        for (_, conn) in conns {
            let queued = conn
                .tx
                .try_send(Outbound::Frame(shutdown.clone()))
                .and_then(|()| {
                    conn.tx
                        .try_send(Outbound::Close(1012, "service restart".to_string()))
                });
            if queued.is_err() {
                conn.kill.send_replace(Kill::Abrupt);
            }
        }
    }

    /// Drops every socket without a close frame once it has written what is already queued
    /// (a run's delta before `MOCK_DROP` reaches the client first).
    async fn drop_clients(&self) {
        let conns = std::mem::take(&mut *self.conns());
        wait_gone(conns.into_values().map(drop_after_queued).collect()).await;
    }

    /// Drops socket `conn_id` like [`Self::drop_clients`] drops them all.
    async fn drop_client(&self, conn_id: u64) {
        let conn = self.conns().remove(&conn_id);
        wait_gone(conn.into_iter().map(drop_after_queued).collect()).await;
    }

    /// Drops every socket at once, queued frames or not.
    async fn kill_clients(&self) {
        let conns = std::mem::take(&mut *self.conns());
        let mut gone = Vec::new();
        for (_, conn) in conns {
            conn.kill.send_replace(Kill::Abrupt);
            gone.push(conn.gone);
        }
        wait_gone(gone).await;
    }

    /// The current `health` payload: the recorded one with this mock's agents.
    fn health_payload(&self) -> Value {
        let mut payload = self.fx.health["payload"].clone();
        let template = payload["agents"]
            .get(0)
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let agents: Vec<Value> = self
            .opts
            .agents
            .iter()
            .map(|(id, name)| {
                let mut agent = template.clone();
                agent["agentId"] = Value::from(id.as_str());
                agent["name"] = Value::from(name.as_str());
                agent["isDefault"] = Value::from(*id == self.opts.default_agent);
                if let Some(path) = agent["sessions"]["path"].as_str() {
                    let path = path.replace("/agents/main/", &format!("/agents/{id}/"));
                    agent["sessions"]["path"] = Value::from(path);
                }
                agent
            })
            .collect();
        payload["agents"] = Value::from(agents);
        payload["defaultAgentId"] = Value::from(self.opts.default_agent.as_str());
        payload["ts"] = Value::from(now_ms());
        payload
    }

    /// The `health` event sent after each connect (traces: simple, broadcast_observer).
    fn health_event(&self) -> Value {
        let mut frame = self.fx.health.clone();
        frame["payload"] = self.health_payload();
        frame
    }

    fn known_agent(&self, id: &str) -> bool {
        self.opts.agents.iter().any(|(a, _)| a == id)
    }
}

/// Completes once `rx` says stop (or its sender is gone); the guard `wait_for` returns is
/// dropped here, so callers stay `Send`.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Asks a socket to close without a close frame once its queued frames are written (at once
/// when its queue is full); returns what says it is gone.
fn drop_after_queued(conn: ConnHandle) -> watch::Receiver<()> {
    if conn.tx.try_send(Outbound::Drop).is_err() {
        conn.kill.send_replace(Kill::Abrupt);
    }
    conn.gone
}

async fn wait_gone(gone: Vec<watch::Receiver<()>>) {
    for mut rx in gone {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while rx.changed().await.is_ok() {}
        })
        .await;
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let shared2 = shared.clone();
                    let task = tokio::spawn(async move {
                        match http::is_plain_post(&tcp).await {
                            Some(true) => http::serve(shared2, tcp).await,
                            Some(false) => conn::serve(shared2, tcp).await,
                            None => {}
                        }
                    });
                    shared.track(task);
                }
                // Accept errors (e.g. out of descriptors) are transient; back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Sends `tick` to every socket each `tick_interval` (traces: tick, 30 s apart on both).
async fn tick_loop(shared: Arc<Shared>) {
    let period = shared.opts.tick_interval.max(Duration::from_millis(1));
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            _ = interval.tick() => {
                if !shared.ticks_paused.load(Ordering::SeqCst) {
                    let mut tick = shared.fx.tick.clone();
                    tick["payload"]["ts"] = Value::from(now_ms());
                    shared.broadcast(tick, false);
                }
            }
        }
    }
}
