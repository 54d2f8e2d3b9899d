//! Tests with a raw WebSocket client: every handshake failure, the recorded run sequences,
//! broadcast, queueing, aborts, faults and the slow-consumer rule. Every wait is bounded.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use super::fixtures::fixtures;
use super::*;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn start(protocol: Protocol) -> MockGateway {
    start_with(MockOptions::for_protocol(protocol)).await
}

async fn start_with(opts: MockOptions) -> MockGateway {
    MockGateway::start(opts).await.expect("mock gateway starts")
}

async fn open(mock: &MockGateway) -> Client {
    timeout(WAIT, connect_async(mock.url()))
        .await
        .expect("connect in time")
        .expect("websocket upgrade")
        .0
}

/// What the client saw next.
#[derive(Debug)]
enum Got {
    Frame(Value),
    /// A close frame: code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Dropped,
}

async fn next(ws: &mut Client) -> Got {
    loop {
        let msg = timeout(WAIT, ws.next()).await.expect("frame in time");
        return match msg {
            Some(Ok(Message::Text(t))) => Got::Frame(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(Some(frame)))) => {
                Got::Closed(u16::from(frame.code), frame.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => Got::Closed(1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Got::Dropped,
        };
    }
}

async fn recv(ws: &mut Client) -> Value {
    match next(ws).await {
        Got::Frame(v) => v,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// Next frame that is not `tick`/`health`.
async fn recv_quiet(ws: &mut Client) -> Value {
    loop {
        let v = recv(ws).await;
        if v["event"] != "tick" && v["event"] != "health" {
            return v;
        }
    }
}

async fn send(ws: &mut Client, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

fn connect_req(min: u64, max: u64, client_id: &str, auth: Value) -> Value {
    json!({
        "type": "req", "id": uuid(), "method": "connect",
        "params": {
            "minProtocol": min, "maxProtocol": max,
            "client": {"id": client_id, "version": "0.1.0-test", "platform": "linux", "mode": "backend"},
            "role": "operator", "scopes": ["operator.admin"], "auth": auth,
        }
    })
}

fn standard_connect(protocol: Protocol) -> Value {
    let n = protocol.number();
    connect_req(n, n, "gateway-client", json!({"token": "secret"}))
}

/// Opens a socket and completes the handshake; returns the socket and `hello-ok`.
async fn connect(mock: &MockGateway, protocol: Protocol) -> (Client, Value) {
    let mut ws = open(mock).await;
    let challenge = recv(&mut ws).await;
    assert_eq!(challenge["event"], "connect.challenge");
    let req = standard_connect(protocol);
    send(&mut ws, req.clone()).await;
    let hello = recv(&mut ws).await;
    assert_eq!(hello["id"], req["id"], "hello-ok answers connect: {hello}");
    assert_eq!(hello["ok"], true, "{hello}");
    (ws, hello)
}

/// Reads until the socket closes; returns the frames before it and the close. After a close
/// frame it keeps reading, which sends the client's half of the closing handshake.
async fn until_close(ws: &mut Client) -> (Vec<Value>, Got) {
    let mut frames = Vec::new();
    loop {
        match next(ws).await {
            Got::Frame(v) => frames.push(v),
            other => {
                while let Ok(Some(Ok(_))) = timeout(WAIT, ws.next()).await {}
                return (frames, other);
            }
        }
    }
}

fn agent_req(message: &str, session_key: &str) -> Value {
    json!({
        "type": "req", "id": uuid(), "method": "agent",
        "params": {
            "message": message, "idempotencyKey": uuid(), "agentId": "main",
            "sessionKey": session_key, "deliver": false,
        }
    })
}

fn session() -> String {
    format!("agent:main:openai:{}", uuid())
}

fn is_final(frame: &Value, id: &Value) -> bool {
    frame["type"] == "res" && frame["id"] == *id && frame["payload"]["status"] != "accepted"
}

/// Frames until the final `res` of request `id` (inclusive), tick/health left out.
async fn until_final(ws: &mut Client, id: &Value) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let v = recv_quiet(ws).await;
        let done = is_final(&v, id);
        frames.push(v);
        if done {
            return frames;
        }
    }
}

/// `(type, event, stream/state, phase)` of a frame, the shape the tests compare.
fn frame_key(frame: &Value) -> String {
    let p = &frame["payload"];
    match frame["type"].as_str() {
        Some("res") => format!("res:{}", p["status"].as_str().unwrap_or("-")),
        _ => format!(
            "{}:{}:{}",
            frame["event"].as_str().unwrap_or("-"),
            p["stream"].as_str().or(p["state"].as_str()).unwrap_or("-"),
            p["data"]["phase"].as_str().unwrap_or("-"),
        ),
    }
}

const ASSISTANT: &str = "agent:assistant:-";
const CHAT_DELTA: &str = "chat:delta:-";

/// Keys before the first assistant event, between (streaming) and after the last one.
fn shape(frames: &[Value]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let keys: Vec<String> = frames.iter().map(frame_key).collect();
    let first = keys
        .iter()
        .position(|k| k == ASSISTANT)
        .expect("assistant event");
    let last = keys.iter().rposition(|k| k == ASSISTANT).unwrap();
    (
        keys[..first].to_vec(),
        keys[first..=last].to_vec(),
        keys[last + 1..].to_vec(),
    )
}

async fn handshake_ok(protocol: Protocol) {
    let mock = start(protocol).await;
    let mut ws = open(&mock).await;
    let challenge = recv(&mut ws).await;
    assert_eq!(challenge["event"], "connect.challenge");
    assert!(challenge["payload"]["nonce"].is_string());
    assert!(challenge["payload"]["ts"].is_u64());
    assert!(challenge.get("seq").is_none());
    let caps = &challenge["payload"]["capabilities"];
    assert_eq!(caps.is_array(), protocol == Protocol::V4, "{challenge}");

    send(&mut ws, standard_connect(protocol)).await;
    let hello = recv(&mut ws).await;
    let payload = &hello["payload"];
    assert_eq!(payload["type"], "hello-ok");
    assert_eq!(payload["protocol"], protocol.number());
    assert_eq!(payload["policy"]["tickIntervalMs"], 30_000);
    assert!(payload["features"]["methods"]
        .as_array()
        .unwrap()
        .contains(&json!("agent")));
    if protocol == Protocol::V4 {
        assert_eq!(payload["auth"]["scopes"], json!(["operator.admin"]));
    } else {
        assert!(payload.get("auth").is_none());
    }
    let health = recv(&mut ws).await;
    assert_eq!(health["event"], "health");
    assert!(health["seq"].is_u64());
    let agents: Vec<&str> = health["payload"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["main", "beta", "broken"]);
    assert_eq!(mock.connections(), 1);
    assert_eq!(mock.total_connects(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn handshake_ok_v3() {
    handshake_ok(Protocol::V3).await;
}

#[tokio::test]
async fn handshake_ok_v4() {
    handshake_ok(Protocol::V4).await;
}

/// Sends `first` after the challenge and returns the error res (if any) and the close.
async fn rejected(mock: &MockGateway, first: Message) -> (Option<Value>, Got) {
    let mut ws = open(mock).await;
    recv(&mut ws).await;
    ws.send(first).await.unwrap();
    let (frames, close) = until_close(&mut ws).await;
    assert!(frames.len() <= 1, "at most one res: {frames:?}");
    (frames.into_iter().next(), close)
}

fn assert_closed(got: &Got, code: u16, reason: &str) {
    match got {
        Got::Closed(c, r) => assert_eq!((*c, r.as_str()), (code, reason)),
        other => panic!("expected close {code}, got {other:?}"),
    }
}

async fn handshake_failures(protocol: Protocol) {
    let mock = start(protocol).await;
    let n = protocol.number();

    // traces: non_json_first_frame
    let (res, close) = rejected(&mock, Message::text("this is not json")).await;
    assert!(res.is_none());
    assert_closed(&close, 1000, "");

    // traces: non_request_first_frame
    let (res, close) = rejected(&mock, Message::text(r#"{"type":"event","event":"hi"}"#)).await;
    assert!(res.is_none());
    assert_closed(&close, 1008, "invalid request frame");

    // traces: first_frame_not_connect
    let req = json!({"type": "req", "id": "x1", "method": "agents.list", "params": {}});
    let (res, close) = rejected(&mock, Message::text(req.to_string())).await;
    let res = res.expect("error res");
    assert_eq!(res["id"], "x1");
    let text = "invalid handshake: first request must be connect";
    assert_eq!(
        res["error"],
        json!({"code": "INVALID_REQUEST", "message": text})
    );
    assert_closed(&close, 1008, text);

    // traces: protocol_mismatch / protocol_v3_client
    let (min, max) = if protocol == Protocol::V3 {
        (4, 4)
    } else {
        (3, 3)
    };
    let req = connect_req(min, max, "gateway-client", json!({"token": "secret"}));
    let (res, close) = rejected(&mock, Message::text(req.to_string())).await;
    let error = &res.expect("error res")["error"];
    assert_eq!(error["code"], "INVALID_REQUEST");
    assert_eq!(error["message"], "protocol mismatch");
    assert_eq!(error["details"]["expectedProtocol"], n);
    if protocol == Protocol::V4 {
        assert_eq!(error["details"]["code"], "PROTOCOL_MISMATCH");
        assert_eq!(error["details"]["clientMinProtocol"], 3);
        assert_eq!(error["details"]["minimumProbeProtocol"], 3);
    }
    assert_closed(&close, 1002, "protocol mismatch");

    // traces: invalid_client_id
    let req = connect_req(n, n, "my-harness", json!({"token": "secret"}));
    let (res, close) = rejected(&mock, Message::text(req.to_string())).await;
    let text = match protocol {
        Protocol::V3 => "invalid connect params: at /client/id: must be equal to constant; at /client/id: must match a schema in anyOf",
        Protocol::V4 => "invalid connect params: at /client/id: must be equal to one of the allowed values",
    };
    assert_eq!(res.expect("error res")["error"]["message"], text);
    assert_closed(&close, 1008, text);

    // traces: wrong_token
    let req = connect_req(n, n, "gateway-client", json!({"token": "definitely-wrong"}));
    let (res, close) = rejected(&mock, Message::text(req.to_string())).await;
    let error = &res.expect("error res")["error"];
    let text = "unauthorized: gateway token mismatch (provide gateway auth token)";
    assert_eq!(error["code"], "INVALID_REQUEST");
    assert_eq!(error["message"], text);
    if protocol == Protocol::V4 {
        assert_eq!(error["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    assert_closed(&close, 1008, text);

    // traces: missing_token
    let mut req = connect_req(n, n, "gateway-client", Value::Null);
    req["params"].as_object_mut().unwrap().remove("auth");
    let (res, close) = rejected(&mock, Message::text(req.to_string())).await;
    let error = &res.expect("error res")["error"];
    assert_eq!(error["code"], "NOT_PAIRED");
    assert_eq!(error["message"], "device identity required");
    assert_closed(&close, 1008, "device identity required");

    assert_eq!(mock.total_connects(), 0);
    assert_eq!(mock.connections(), 0);
    mock.stop().await;
}

#[tokio::test]
async fn handshake_failures_v3() {
    handshake_failures(Protocol::V3).await;
}

#[tokio::test]
async fn handshake_failures_v4() {
    handshake_failures(Protocol::V4).await;
}

#[tokio::test]
async fn silent_socket_is_closed_1000_after_handshake_timeout() {
    // traces: handshake_timeout (10 s / 15 s on the real gateways; configurable here)
    let mock = start_with(MockOptions {
        handshake_timeout: Some(Duration::from_millis(100)),
        ..MockOptions::default()
    })
    .await;
    let mut ws = open(&mock).await;
    recv(&mut ws).await;
    let (frames, close) = until_close(&mut ws).await;
    assert!(frames.is_empty());
    assert_closed(&close, 1000, "");
    mock.stop().await;
}

#[tokio::test]
async fn protocol_range_negotiates_the_gateways_version() {
    // traces: openclaw-lab protocol_range (min 3, max 4 -> 4; 2026.1.24 accepts it as 3)
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let mut ws = open(&mock).await;
        recv(&mut ws).await;
        send(
            &mut ws,
            connect_req(3, 4, "gateway-client", json!({"token": "secret"})),
        )
        .await;
        let hello = recv(&mut ws).await;
        assert_eq!(hello["payload"]["protocol"], protocol.number());
        mock.stop().await;
    }
}

#[tokio::test]
async fn v3_password_alone_needs_a_device_and_v4_accepts_it() {
    for (protocol, accepted) in [(Protocol::V3, false), (Protocol::V4, true)] {
        let mock = start_with(MockOptions {
            protocol,
            token: None,
            password: Some("pw".to_string()),
            ..MockOptions::default()
        })
        .await;
        let mut ws = open(&mock).await;
        recv(&mut ws).await;
        let n = protocol.number();
        send(
            &mut ws,
            connect_req(n, n, "gateway-client", json!({"password": "pw"})),
        )
        .await;
        let res = recv(&mut ws).await;
        assert_eq!(res["ok"], accepted, "{protocol:?}: {res}");
        if accepted {
            assert_eq!(res["payload"]["auth"]["method"], "password");
        } else {
            assert_eq!(res["error"]["message"], "device identity required");
        }
        mock.stop().await;
    }
}

async fn simple_run(protocol: Protocol) {
    let mock = start(protocol).await;
    let (mut ws, _) = connect(&mock, protocol).await;
    let key = session();
    let req = agent_req("hello from the ws harness", &key);
    send(&mut ws, req.clone()).await;
    let frames = until_final(&mut ws, &req["id"]).await;
    let run_id = req["params"]["idempotencyKey"].clone();

    let accepted = &frames[0];
    assert_eq!(accepted["payload"]["status"], "accepted");
    assert_eq!(accepted["payload"]["runId"], run_id);
    if protocol == Protocol::V4 {
        assert_eq!(accepted["payload"]["sessionKey"], key.as_str());
        assert_eq!(accepted["payload"]["agentId"], "main");
    }

    // The shape of the recorded run, streaming part aside (its length follows the text).
    let (prefix, middle, suffix) = shape(&frames);
    let (want_prefix, _, want_suffix) = shape(&fixtures(protocol).simple.frames);
    assert_eq!(prefix, want_prefix);
    assert_eq!(suffix, want_suffix);
    assert!(
        middle.iter().all(|k| k == ASSISTANT || k == CHAT_DELTA),
        "{middle:?}"
    );

    let reply = "echo: hello from the ws harness";
    let mut text = String::new();
    for f in frames.iter().filter(|f| frame_key(f) == ASSISTANT) {
        text.push_str(f["payload"]["data"]["delta"].as_str().unwrap());
        assert_eq!(f["payload"]["data"]["text"], text.as_str());
    }
    assert_eq!(text, reply);
    let agent_seqs: Vec<u64> = frames
        .iter()
        .filter(|f| f["event"] == "agent")
        .map(|f| f["payload"]["seq"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (1..=agent_seqs.len() as u64).collect();
    assert_eq!(agent_seqs, want, "agent payload.seq counts per run from 1");
    for f in frames.iter().filter(|f| f["type"] == "event") {
        assert_eq!(f["payload"]["runId"] == run_id, f["event"] != "task", "{f}");
        if f["event"] == "task" {
            assert_eq!(f["payload"]["task"]["runId"], run_id);
        }
    }
    let chat_final = frames
        .iter()
        .find(|f| frame_key(f) == "chat:final:-")
        .unwrap();
    assert_eq!(
        chat_final["payload"]["message"]["content"][0]["text"],
        reply
    );
    if protocol == Protocol::V4 {
        let deltas: String = frames
            .iter()
            .filter(|f| frame_key(f) == CHAT_DELTA)
            .map(|f| f["payload"]["deltaText"].as_str().unwrap())
            .collect();
        assert_eq!(deltas, reply, "chat deltaText covers the reply");
        let usage = frames
            .iter()
            .find(|f| frame_key(f) == "agent:usage:-")
            .unwrap();
        assert_eq!(usage["payload"]["data"]["outputTokens"], 6);
    }

    let last = frames.last().unwrap();
    assert_eq!(last["ok"], true);
    let result = &last["payload"]["result"];
    assert_eq!(
        result["payloads"],
        json!([{"text": reply, "mediaUrl": null}])
    );
    let usage = &result["meta"]["agentMeta"]["usage"];
    assert_eq!(usage["input"], 7);
    assert_eq!(usage["output"], 6);
    assert_eq!(usage["total"], 13);
    if protocol == Protocol::V4 {
        assert_eq!(result["meta"]["finalAssistantVisibleText"], reply);
        assert_eq!(result["meta"]["stopReason"], "stop");
    }
    mock.stop().await;
}

#[tokio::test]
async fn simple_run_replays_the_recorded_sequence_v3() {
    simple_run(Protocol::V3).await;
}

#[tokio::test]
async fn simple_run_replays_the_recorded_sequence_v4() {
    simple_run(Protocol::V4).await;
}

#[tokio::test]
async fn reply_echoes_the_last_line_of_the_message() {
    let mock = start(Protocol::V4).await;
    let (mut ws, _) = connect(&mock, Protocol::V4).await;
    let req = agent_req(
        "User: earlier\nAssistant: answer\n\nUser: current turn\n",
        &session(),
    );
    send(&mut ws, req.clone()).await;
    let frames = until_final(&mut ws, &req["id"]).await;
    let text = &frames.last().unwrap()["payload"]["result"]["payloads"][0]["text"];
    assert_eq!(text, "echo: User: current turn");
    mock.stop().await;
}

async fn broadcast(protocol: Protocol) {
    let mock = start(protocol).await;
    let (mut runner, _) = connect(&mock, protocol).await;
    let (mut observer, _) = connect(&mock, protocol).await;
    let req = agent_req("hello observers", &session());
    send(&mut runner, req.clone()).await;
    let mine: Vec<Value> = until_final(&mut runner, &req["id"])
        .await
        .into_iter()
        .filter(|f| f["type"] == "event")
        .collect();
    let mut seen = Vec::new();
    while seen.len() < mine.len() {
        let f = recv_quiet(&mut observer).await;
        assert_eq!(f["type"], "event", "the observer gets no res: {f}");
        seen.push(f);
    }
    let strip = |f: &Value| f["payload"].clone();
    assert_eq!(
        seen.iter().map(strip).collect::<Vec<_>>(),
        mine.iter().map(strip).collect::<Vec<_>>()
    );
    mock.stop().await;
}

#[tokio::test]
async fn run_events_are_broadcast_to_every_socket_v3() {
    broadcast(Protocol::V3).await;
}

#[tokio::test]
async fn run_events_are_broadcast_to_every_socket_v4() {
    broadcast(Protocol::V4).await;
}

#[tokio::test]
async fn v3_events_share_one_counter_and_v4_counts_per_socket() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut a, _) = connect(&mock, protocol).await;
        let first_a = recv(&mut a).await; // health after a's own connect
        let (mut b, _) = connect(&mock, protocol).await;
        let second_a = recv(&mut a).await; // health after b's connect
        let first_b = recv(&mut b).await;
        assert_eq!(
            second_a["seq"],
            first_b["seq"].as_u64().unwrap() + u64::from(protocol == Protocol::V4)
        );
        assert_eq!(first_a["event"], "health");
        mock.stop().await;
    }
}

async fn abort(kind: &str) {
    let mock = start(Protocol::V4).await;
    let (mut ws, _) = connect(&mock, Protocol::V4).await;
    let key = session();
    let req = agent_req("please hang MOCK_HANG now", &key);
    let run_id = req["params"]["idempotencyKey"].clone();
    send(&mut ws, req.clone()).await;
    loop {
        if frame_key(&recv_quiet(&mut ws).await) == ASSISTANT {
            break;
        }
    }
    let abort_req = match kind {
        "chat.abort" => json!({"type": "req", "id": "ab1", "method": "chat.abort",
                               "params": {"sessionKey": key, "runId": run_id}}),
        _ => json!({"type": "req", "id": "ab1", "method": "sessions.abort",
                    "params": {"key": key, "runId": run_id}}),
    };
    send(&mut ws, abort_req).await;
    let frames = until_final(&mut ws, &req["id"]).await;
    let keys: Vec<String> = frames
        .iter()
        .filter(|f| f["event"] != "task" && frame_key(f) != CHAT_DELTA)
        .map(|f| match f["id"].as_str() {
            Some("ab1") => "abort-res".to_string(),
            _ => frame_key(f),
        })
        .collect();
    // traces: openclaw-lab abort_chat / abort_sessions
    assert_eq!(
        keys,
        [
            "chat:aborted:-",
            "agent:lifecycle:end",
            "abort-res",
            "agent:lifecycle:error",
            "res:timeout"
        ]
    );
    let aborted = &frames
        .iter()
        .find(|f| frame_key(f) == "chat:aborted:-")
        .unwrap()["payload"];
    assert_eq!(aborted["stopReason"], "rpc");
    assert_eq!(aborted["message"]["content"][0]["text"], "echo: please");
    let end = &frames
        .iter()
        .find(|f| frame_key(f) == "agent:lifecycle:end")
        .unwrap()["payload"]["data"];
    assert_eq!(end["status"], "cancelled");
    let answer = &frames.iter().find(|f| f["id"] == "ab1").unwrap()["payload"];
    match kind {
        "chat.abort" => assert_eq!(
            *answer,
            json!({"ok": true, "aborted": true, "runIds": [run_id]})
        ),
        _ => assert_eq!(
            *answer,
            json!({"ok": true, "abortedRunId": run_id, "status": "aborted"})
        ),
    }
    let last = frames.last().unwrap();
    assert_eq!(
        last["payload"],
        json!({"runId": run_id, "status": "timeout", "summary": "aborted", "stopReason": "rpc"})
    );
    assert!(mock
        .requests()
        .iter()
        .any(|r| r["method"] == kind && r["params"]["runId"] == run_id));

    // Nothing left to abort.
    let params = match kind {
        "chat.abort" => json!({"sessionKey": key, "runId": run_id}),
        _ => json!({"key": key, "runId": run_id}),
    };
    let again = json!({"type": "req", "id": "ab2", "method": kind, "params": params});
    send(&mut ws, again).await;
    let res = recv_quiet(&mut ws).await;
    assert_eq!(res["id"], "ab2");
    assert_eq!(res["ok"], true);
    mock.stop().await;
}

#[tokio::test]
async fn chat_abort_stops_an_agent_run_v4() {
    abort("chat.abort").await;
}

#[tokio::test]
async fn sessions_abort_stops_an_agent_run_v4() {
    abort("sessions.abort").await;
}

#[tokio::test]
async fn v3_chat_abort_does_not_know_agent_runs_and_hang_ends_with_its_socket() {
    let mock = start(Protocol::V3).await;
    let (mut ws, _) = connect(&mock, Protocol::V3).await;
    let key = session();
    let req = agent_req("MOCK_HANG", &key);
    send(&mut ws, req.clone()).await;
    while frame_key(&recv_quiet(&mut ws).await) != ASSISTANT {}
    let abort = json!({"type": "req", "id": "ab", "method": "chat.abort",
                       "params": {"sessionKey": key, "runId": req["params"]["idempotencyKey"]}});
    send(&mut ws, abort).await;
    let res = loop {
        let f = recv_quiet(&mut ws).await;
        if f["type"] == "res" {
            break f;
        }
        assert_eq!(frame_key(&f), CHAT_DELTA);
    };
    assert_eq!(
        res["payload"],
        json!({"ok": true, "aborted": false, "runIds": []})
    );
    let sessions_abort =
        json!({"type": "req", "id": "sa", "method": "sessions.abort", "params": {}});
    send(&mut ws, sessions_abort).await;
    let res = recv_quiet(&mut ws).await;
    assert_eq!(res["error"]["message"], "unknown method: sessions.abort");

    // The hanging run ends (without a final res) once its socket closes; the session is free.
    drop(ws);
    let (mut ws, _) = connect(&mock, Protocol::V3).await;
    let req = agent_req("after the hang", &key);
    send(&mut ws, req.clone()).await;
    let frames = until_final(&mut ws, &req["id"]).await;
    assert_eq!(frames.last().unwrap()["payload"]["status"], "ok");
    mock.stop().await;
}

#[tokio::test]
async fn runs_of_one_session_are_queued() {
    // traces: concurrent_same_session
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let key = session();
        let first = agent_req("same session first", &key);
        let second = agent_req("same session second", &key);
        send(&mut ws, first.clone()).await;
        send(&mut ws, second.clone()).await;
        let mut order = Vec::new();
        let mut finals = 0;
        while finals < 2 {
            let f = recv_quiet(&mut ws).await;
            if f["type"] == "res" {
                let which = if f["id"] == first["id"] {
                    "first"
                } else {
                    "second"
                };
                let status = f["payload"]["status"].as_str().unwrap().to_string();
                if status != "accepted" {
                    finals += 1;
                }
                order.push(format!("{which} res {status}"));
            } else if frame_key(&f) == "agent:lifecycle:start" {
                let which = if f["payload"]["runId"] == first["params"]["idempotencyKey"] {
                    "first"
                } else {
                    "second"
                };
                order.push(format!("{which} start"));
            }
        }
        let at = |what: &str| order.iter().position(|o| o == what).expect(what);
        assert!(at("first res accepted") < at("first start"), "{order:?}");
        assert!(at("second res accepted") < at("second start"), "{order:?}");
        assert!(at("first start") < at("first res ok"), "{order:?}");
        assert!(
            at("first res ok") < at("second start"),
            "{protocol:?}: {order:?}"
        );
        assert!(at("second start") < at("second res ok"), "{order:?}");
        mock.stop().await;
    }
}

#[tokio::test]
async fn runs_of_different_sessions_run_concurrently() {
    // traces: concurrent (events of two sessions interleave)
    let mock = start(Protocol::V4).await;
    let (mut ws, _) = connect(&mock, Protocol::V4).await;
    let hanging = agent_req("MOCK_HANG", &session());
    send(&mut ws, hanging.clone()).await;
    let other = agent_req("meanwhile", &session());
    send(&mut ws, other.clone()).await;
    let frames = until_final(&mut ws, &other["id"]).await;
    assert_eq!(frames.last().unwrap()["payload"]["status"], "ok");
    assert!(!frames.iter().any(|f| is_final(f, &hanging["id"])));
    mock.stop().await;
}

#[tokio::test]
async fn resubmitted_key_gets_the_cached_final_once() {
    // traces: idempotent_replay
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let req = agent_req("replay me", &session());
        send(&mut ws, req.clone()).await;
        let first = until_final(&mut ws, &req["id"]).await;
        let mut again = req.clone();
        again["id"] = json!("again");
        send(&mut ws, again).await;
        let res = recv_quiet(&mut ws).await;
        assert_eq!(res["id"], "again");
        assert_eq!(res["payload"], first.last().unwrap()["payload"]);
        // No events follow: the next frame answers the next request.
        send(
            &mut ws,
            json!({"type": "req", "id": "h", "method": "health", "params": {}}),
        )
        .await;
        assert_eq!(recv_quiet(&mut ws).await["id"], "h");
        mock.stop().await;
    }
}

#[tokio::test]
async fn shutdown_clients_sends_shutdown_then_closes_1012() {
    // traces: shutdown
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        mock.shutdown_clients().await;
        let (frames, close) = until_close(&mut ws).await;
        let shutdown = frames
            .iter()
            .find(|f| f["event"] == "shutdown")
            .expect("shutdown event");
        assert_eq!(shutdown["payload"]["reason"], "gateway stopping");
        assert_eq!(
            shutdown["payload"].get("restartExpectedMs").is_some(),
            protocol == Protocol::V3
        );
        assert_closed(&close, 1012, "service restart");
        assert_eq!(mock.connections(), 0);
        // The gateway is still there: a new connection works.
        let _ = connect(&mock, protocol).await;
        assert_eq!(mock.total_connects(), 2);
        mock.stop().await;
    }
}

#[tokio::test]
async fn drop_clients_closes_without_a_close_frame() {
    let mock = start(Protocol::V4).await;
    let (mut ws, _) = connect(&mock, Protocol::V4).await;
    mock.drop_clients().await;
    let (_, end) = until_close(&mut ws).await;
    assert!(matches!(end, Got::Dropped), "{end:?}");
    assert_eq!(mock.connections(), 0);
    mock.stop().await;
}

#[tokio::test]
async fn mock_drop_and_shutdown_fire_once_per_key() {
    for (word, protocol) in [("MOCK_DROP", Protocol::V3), ("MOCK_SHUTDOWN", Protocol::V4)] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let req = agent_req(&format!("please {word} now"), &session());
        send(&mut ws, req.clone()).await;
        let (frames, end) = until_close(&mut ws).await;
        assert!(frames.iter().any(|f| frame_key(f) == ASSISTANT));
        assert!(!frames.iter().any(|f| is_final(f, &req["id"])));
        match word {
            "MOCK_DROP" => assert!(matches!(end, Got::Dropped), "{end:?}"),
            _ => assert_closed(&end, 1012, "service restart"),
        }
        // A resubmission after reconnecting runs to the end.
        let (mut ws, _) = connect(&mock, protocol).await;
        send(&mut ws, req.clone()).await;
        let frames = until_final(&mut ws, &req["id"]).await;
        assert_eq!(frames.last().unwrap()["payload"]["status"], "ok");
        mock.stop().await;
    }
}

#[tokio::test]
async fn request_errors_match_the_recorded_texts() {
    // traces: unknown_agent
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let mut unknown = agent_req("hello nobody", &session());
        unknown["params"]["agentId"] = json!("nope-does-not-exist");
        unknown["params"]
            .as_object_mut()
            .unwrap()
            .remove("sessionKey");
        let mut mismatch = agent_req("mismatch", &session());
        mismatch["params"]["agentId"] = json!("beta");
        let missing = json!({"type": "req", "id": uuid(), "method": "agent", "params": {"message": "no idem key"}});
        let method = json!({"type": "req", "id": uuid(), "method": "no.such.method", "params": {}});
        let mismatch_text = match protocol {
            Protocol::V3 => "invalid agent params: agent \"beta\" does not match session key agent \"main\"",
            Protocol::V4 => "Multiple agents are configured, but session agent resolution has no explicit owner. The agent-scoped session key belongs to \"main\", not \"beta\".",
        };
        for (req, text) in [
            (
                unknown,
                "invalid agent params: unknown agent id \"nope-does-not-exist\"",
            ),
            (mismatch, mismatch_text),
            (
                missing,
                "invalid agent params: must have required property 'idempotencyKey'",
            ),
            (method, "unknown method: no.such.method"),
        ] {
            send(&mut ws, req.clone()).await;
            let res = recv_quiet(&mut ws).await;
            assert_eq!(res["id"], req["id"]);
            assert_eq!(
                res["error"],
                json!({"code": "INVALID_REQUEST", "message": text}),
                "{protocol:?}"
            );
        }
        mock.stop().await;
    }
}

#[tokio::test]
async fn v3_rejects_unknown_agent_params() {
    let mock = start(Protocol::V3).await;
    let (mut ws, _) = connect(&mock, Protocol::V3).await;
    let mut req = agent_req("hi", &session());
    req["params"]["model"] = json!("x");
    send(&mut ws, req).await;
    let res = recv_quiet(&mut ws).await;
    assert_eq!(
        res["error"]["message"],
        "invalid agent params: at root: unexpected property 'model'"
    );
    mock.stop().await;
}

#[tokio::test]
async fn broken_agent_fails_unavailable() {
    // traces: broken_agent
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let mut req = agent_req("hello broken agent", "");
        req["params"]["agentId"] = json!("broken");
        req["params"].as_object_mut().unwrap().remove("sessionKey");
        send(&mut ws, req.clone()).await;
        let frames = until_final(&mut ws, &req["id"]).await;
        assert!(frames
            .iter()
            .any(|f| frame_key(f) == "agent:lifecycle:error"));
        assert!(frames.iter().any(|f| frame_key(f) == "chat:error:-"));
        let last = frames.last().unwrap();
        assert_eq!(last["ok"], false);
        assert_eq!(last["error"]["code"], "UNAVAILABLE");
        assert_eq!(last["payload"]["status"], "error");
        assert_eq!(frames[0]["payload"]["runId"], last["payload"]["runId"]);
        let lifecycle = frames.iter().find(|f| f["event"] == "agent").unwrap();
        assert_eq!(lifecycle["payload"]["sessionKey"], "agent:broken:main");
        mock.stop().await;
    }
}

#[tokio::test]
async fn mock_http_500_replays_the_provider_error_run_quickly() {
    // traces: llm_http500
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start(protocol).await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let req = agent_req("please fail MOCK_HTTP_500", &session());
        send(&mut ws, req.clone()).await;
        let frames = until_final(&mut ws, &req["id"]).await;
        let last = frames.last().unwrap();
        let starts = frames
            .iter()
            .filter(|f| frame_key(f) == "agent:lifecycle:start")
            .count();
        match protocol {
            Protocol::V3 => {
                assert_eq!(starts, 4);
                assert_eq!(last["ok"], true);
                assert_eq!(
                    last["payload"]["result"]["payloads"][0]["text"],
                    "HTTP 500: mock: injected internal server error (MOCK_HTTP_500)"
                );
                assert_eq!(
                    last["payload"]["result"]["meta"]["agentMeta"]["usage"]["total"],
                    0
                );
                assert!(!frames.iter().any(|f| frame_key(f) == ASSISTANT));
            }
            Protocol::V4 => {
                assert_eq!(starts, 8);
                let retries = frames
                    .iter()
                    .filter(|f| frame_key(f) == "agent:run_status:retrying")
                    .count();
                assert_eq!(retries, 7);
                assert_eq!(last["ok"], false);
                assert_eq!(last["error"]["code"], "UNAVAILABLE");
            }
        }
        mock.stop().await;
    }
}

#[tokio::test]
async fn timeout_stops_a_slow_run_with_the_recorded_shapes() {
    // traces: run_timeout
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start_with(MockOptions {
            protocol,
            chunk_delay: Duration::from_millis(40),
            ..MockOptions::default()
        })
        .await;
        let (mut ws, _) = connect(&mock, protocol).await;
        let mut req = agent_req(
            "slow reply please MOCK_SLOW with several words to stream out",
            &session(),
        );
        req["params"]["timeout"] = json!(1);
        send(&mut ws, req.clone()).await;
        let frames = until_final(&mut ws, &req["id"]).await;
        let partial: String = frames
            .iter()
            .filter(|f| frame_key(f) == ASSISTANT)
            .map(|f| f["payload"]["data"]["delta"].as_str().unwrap())
            .collect();
        assert!(!partial.is_empty(), "some text before the timeout");
        let last = frames.last().unwrap();
        match protocol {
            Protocol::V3 => {
                let end = frames
                    .iter()
                    .find(|f| frame_key(f) == "agent:lifecycle:end")
                    .unwrap();
                assert_eq!(end["payload"]["data"]["aborted"], true);
                let chat = frames
                    .iter()
                    .find(|f| frame_key(f) == "chat:final:-")
                    .unwrap();
                assert_eq!(
                    chat["payload"]["message"]["content"][0]["text"],
                    partial.as_str()
                );
                assert_eq!(last["payload"]["status"], "ok");
                assert_eq!(last["payload"]["result"]["payloads"], json!([]));
                assert_eq!(last["payload"]["result"]["meta"]["aborted"], true);
            }
            Protocol::V4 => {
                assert!(frames.iter().any(|f| frame_key(f) == "chat:error:-"));
                assert_eq!(last["payload"]["status"], "timeout");
                assert_eq!(last["payload"]["summary"], "aborted");
                assert_eq!(last["payload"]["result"]["payloads"][0]["isError"], true);
                assert_eq!(
                    last["payload"]["result"]["meta"]["finalAssistantVisibleText"],
                    partial.as_str()
                );
            }
        }
        mock.stop().await;
    }
}

#[tokio::test]
async fn mock_long_streams_200_deltas() {
    let mock = start_with(MockOptions {
        chunk_delay: Duration::from_millis(1),
        ..MockOptions::default()
    })
    .await;
    let (mut ws, _) = connect(&mock, Protocol::V4).await;
    let req = agent_req("MOCK_LONG", &session());
    send(&mut ws, req.clone()).await;
    let frames = until_final(&mut ws, &req["id"]).await;
    assert_eq!(
        frames.iter().filter(|f| frame_key(f) == ASSISTANT).count(),
        200
    );
    mock.stop().await;
}

#[tokio::test]
async fn lists_and_health_answer_with_the_configured_agents() {
    // traces: lists
    for protocol in [Protocol::V3, Protocol::V4] {
        let mock = start_with(MockOptions {
            protocol,
            agents: vec![
                ("main".to_string(), "Main".to_string()),
                ("extra".to_string(), "Extra".to_string()),
            ],
            ..MockOptions::default()
        })
        .await;
        let (mut ws, _) = connect(&mock, protocol).await;
        send(
            &mut ws,
            json!({"type": "req", "id": "a", "method": "agents.list", "params": {}}),
        )
        .await;
        let res = recv_quiet(&mut ws).await;
        let payload = &res["payload"];
        assert_eq!(payload["defaultId"], "main");
        assert_eq!(payload["agents"][1]["id"], "extra");
        assert_eq!(payload["agents"][1]["name"], "Extra");
        assert_eq!(payload["ownership"].is_string(), protocol == Protocol::V4);
        send(
            &mut ws,
            json!({"type": "req", "id": "m", "method": "models.list", "params": {}}),
        )
        .await;
        let res = recv_quiet(&mut ws).await;
        assert!(res["payload"]["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "mock-echo"));
        mock.stop().await;
    }
}

#[tokio::test]
async fn v4_token_only_test_client_gets_no_scopes() {
    // traces: openclaw-lab token_only_test_client
    let mock = start(Protocol::V4).await;
    let mut ws = open(&mock).await;
    recv(&mut ws).await;
    let mut req = connect_req(4, 4, "test", json!({"token": "secret"}));
    req["params"]["client"]["mode"] = json!("test");
    send(&mut ws, req).await;
    let hello = recv(&mut ws).await;
    assert_eq!(hello["payload"]["auth"]["scopes"], json!([]));
    send(
        &mut ws,
        json!({"type": "req", "id": "a", "method": "agents.list", "params": {}}),
    )
    .await;
    let res = recv_quiet(&mut ws).await;
    assert_eq!(res["error"]["code"], "FORBIDDEN");
    assert_eq!(res["error"]["message"], "missing scope: operator.read");
    mock.stop().await;
}

#[tokio::test]
async fn upgrade_headers_are_recorded_and_v4_refuses_forwarding_headers() {
    let mock = start(Protocol::V4).await;
    let _ = connect(&mock, Protocol::V4).await;
    let headers = mock.upgrade_headers();
    assert_eq!(headers.len(), 1);
    assert!(headers[0].iter().any(|(k, _)| k == "sec-websocket-key"));
    assert!(!headers[0].iter().any(|(k, _)| k == "origin"));

    // traces: openclaw-lab token_only_proxy_headers
    let mut request = mock.url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    let err = timeout(WAIT, connect_async(request))
        .await
        .unwrap()
        .expect_err("upgrade refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 403);
            let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("proxy_attribution_required"), "{body}");
        }
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    assert_eq!(mock.upgrade_headers().len(), 2);
    mock.stop().await;
}

#[tokio::test]
async fn ticks_follow_the_interval_and_can_be_paused() {
    let mock = start_with(MockOptions {
        tick_interval: Duration::from_millis(20),
        ..MockOptions::default()
    })
    .await;
    let (mut ws, hello) = connect(&mock, Protocol::V4).await;
    assert_eq!(hello["payload"]["policy"]["tickIntervalMs"], 20);
    loop {
        if recv(&mut ws).await["event"] == "tick" {
            break;
        }
    }
    mock.pause_ticks(true);
    // Ticks queued before the pause come before this answer.
    send(
        &mut ws,
        json!({"type": "req", "id": "p1", "method": "health", "params": {}}),
    )
    .await;
    while recv(&mut ws).await["id"] != "p1" {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(
        &mut ws,
        json!({"type": "req", "id": "p2", "method": "health", "params": {}}),
    )
    .await;
    loop {
        let f = recv(&mut ws).await;
        assert_ne!(f["event"], "tick", "no tick while paused");
        if f["id"] == "p2" {
            break;
        }
    }
    mock.pause_ticks(false);
    loop {
        if recv(&mut ws).await["event"] == "tick" {
            break;
        }
    }
    mock.stop().await;
}

#[tokio::test]
async fn foreign_run_reaches_every_socket() {
    // traces: broadcast_observer
    let mock = start(Protocol::V3).await;
    let (mut ws, _) = connect(&mock, Protocol::V3).await;
    mock.broadcast_foreign_run("from elsewhere").await;
    let mut text = None;
    while text.is_none() {
        let f = recv_quiet(&mut ws).await;
        assert_eq!(f["type"], "event");
        if frame_key(&f) == "chat:final:-" {
            text = f["payload"]["message"]["content"][0]["text"]
                .as_str()
                .map(str::to_string);
        }
    }
    assert_eq!(text.as_deref(), Some("echo: from elsewhere"));
    mock.stop().await;
}

#[tokio::test]
async fn a_full_queue_closes_only_that_socket() {
    let mock = start(Protocol::V3).await;
    let (mut healthy, _) = connect(&mock, Protocol::V3).await;
    // A socket whose queue nobody drains, as if its writes were stuck.
    let (tx, _rx) = mpsc::channel(1);
    let (kill, kill_rx) = watch::channel(Kill::None);
    let (_alive, gone) = watch::channel(());
    mock.shared.conns().insert(
        u64::MAX,
        ConnHandle {
            tx,
            kill: std::sync::Arc::new(kill),
            gone,
            run_events: true,
            scoped: false,
            subscribed: Default::default(),
        },
    );
    mock.shared.broadcast(
        json!({"type": "event", "event": "x1", "payload": {}}),
        false,
    );
    assert_eq!(mock.connections(), 2);
    mock.shared.broadcast(
        json!({"type": "event", "event": "x2", "payload": {}}),
        false,
    );
    assert_eq!(mock.connections(), 1);
    assert_eq!(*kill_rx.borrow(), Kill::SlowConsumer);
    // The other socket got both events.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let f = recv_quiet(&mut healthy).await;
        seen.push(f["event"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["x1", "x2"]);
    mock.stop().await;
}

#[test]
fn deltas_split_on_words_and_rejoin() {
    let parts = run::split_deltas("echo: hello from the ws harness");
    assert_eq!(parts, ["echo: hello", " from the", " ws", " harness"]);
    assert_eq!(run::split_deltas("echo:"), ["echo:"]);
    assert_eq!(
        run::split_deltas("echo:  two  spaces").concat(),
        "echo:  two  spaces"
    );
}

#[tokio::test]
async fn client_close_is_answered_with_a_close_frame() {
    let mock = start(Protocol::V3).await;
    let (mut ws, _) = connect(&mock, Protocol::V3).await;
    ws.close(None).await.expect("close sent");
    loop {
        match timeout(WAIT, ws.next()).await.expect("close reply in time") {
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("no clean close: {err}"),
        }
    }
    mock.stop().await;
}

/// Both versions announce their frame limit and close with 1009 on a bigger frame; a frame
/// of exactly the limit is read (`ws` `receiver.js`: `totalPayloadLength > maxPayload`).
#[tokio::test]
async fn a_frame_over_max_payload_closes_with_1009() {
    for (protocol, announced) in [(Protocol::V3, 524_288), (Protocol::V4, 26_214_400)] {
        let mock = start(protocol).await;
        let (_, hello) = connect(&mock, protocol).await;
        assert_eq!(hello["payload"]["policy"]["maxPayload"], announced);
    }
    const LIMIT: usize = 4096;
    let mock = start_with(MockOptions {
        max_payload: Some(LIMIT),
        ..MockOptions::for_protocol(Protocol::V3)
    })
    .await;
    let (mut ws, hello) = connect(&mock, Protocol::V3).await;
    assert_eq!(hello["payload"]["policy"]["maxPayload"], LIMIT);
    // A request of exactly LIMIT bytes is answered; padding goes into an ignored param.
    let probe = |pad: usize| {
        let mut req =
            json!({"type": "req", "id": "probe", "method": "health", "params": {"pad": ""}});
        let base = req.to_string().len();
        req["params"]["pad"] = Value::from("p".repeat(pad - base));
        req
    };
    let exact = probe(LIMIT);
    assert_eq!(exact.to_string().len(), LIMIT);
    send(&mut ws, exact).await;
    loop {
        let v = recv_quiet(&mut ws).await;
        if v["id"] == "probe" {
            break;
        }
    }
    send(&mut ws, probe(LIMIT + 1)).await;
    let (_, end) = until_close(&mut ws).await;
    assert!(matches!(end, Got::Closed(1009, _)), "{end:?}");
}
