//! One socket: the WebSocket upgrade, the `connect` handshake with the recorded failures, and
//! the loop that writes queued frames and hands incoming requests to `methods`.
//!
//! A single task owns the socket. Everything other tasks send goes through its bounded queue,
//! so a client that stops reading only ever fills its own queue (and is then closed as a slow
//! consumer by the sender), never stalls a run or another socket.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::device::{self, Admission};
use super::frame;
use super::{lock, now_ms, stopped, uuid, ConnHandle, Kill, Outbound, Protocol, Shared};

type Ws = WebSocketStream<TcpStream>;

/// What one handshaken socket is allowed to do; handed to `methods` with every request.
pub(super) struct ConnCtx {
    pub id: u64,
    /// Granted scopes (protocol 4 clears them for token-only clients that are not a local
    /// backend, see `granted_scopes`).
    pub scopes: Vec<String>,
    /// Completes when this socket task ends (runs started with `MOCK_HANG` watch it).
    pub gone: watch::Receiver<()>,
}

/// Close reasons are cut like the gateway's `truncateCloseReason` (120 bytes).
const CLOSE_REASON_MAX_BYTES: usize = 120;

/// The 403 body of a protocol 4 upgrade that carries forwarding headers
/// (traces: openclaw-lab token_only_proxy_headers).
pub(crate) const PROXY_ATTRIBUTION_BODY: &str = "{\"error\":{\"message\":\"Proxy client attribution is required. Configure gateway.trustedProxies narrowly and make the proxy overwrite or safely rebuild forwarded client headers.\",\"type\":\"proxy_attribution_required\"}}";

#[derive(Default)]
struct Upgrade {
    origin: bool,
    forwarded: bool,
}

pub(super) async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let mut upgrade = Upgrade::default();
    let v4 = shared.v4();
    #[allow(
        clippy::result_large_err,
        reason = "the error type is tungstenite's handshake Callback signature"
    )]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        upgrade.origin = headers.iter().any(|(k, _)| k == "origin");
        upgrade.forwarded = headers
            .iter()
            .any(|(k, _)| k == "forwarded" || k == "x-real-ip" || k.starts_with("x-forwarded-"));
        lock(&shared.upgrade_headers).push(headers);
        if v4 && upgrade.forwarded {
            // traces: openclaw-lab token_only_proxy_headers (403 on the upgrade itself)
            let mut resp = ErrorResponse::new(Some(PROXY_ATTRIBUTION_BODY.to_string()));
            *resp.status_mut() = http::StatusCode::FORBIDDEN;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json; charset=utf-8"),
            );
            return Err(resp);
        }
        Ok(resp)
    };
    // `ws` reads at most `maxPayload` bytes per message on both versions (the gateway's
    // `new WebSocketServer({ maxPayload })`); a bigger one is answered with close 1009.
    let max_payload = shared.opts.max_payload();
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload));
    let accepted = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(ws_config)),
    )
    .await;
    let Ok(Ok(mut ws)) = accepted else {
        return;
    };

    let mut shutdown = shared.shutdown.clone();
    let ctx = tokio::select! {
        _ = stopped(&mut shutdown) => return,
        ctx = handshake(&shared, &mut ws) => ctx,
    };
    let Some((req_id, params, admission)) = ctx else {
        return;
    };
    connected(shared, ws, req_id, params, admission, &upgrade).await;
}

/// Sends the challenge and waits for a valid `connect`; answers and closes on every failure
/// the labs recorded. Returns the `connect` request id and params when the socket may proceed.
async fn handshake(shared: &Shared, ws: &mut Ws) -> Option<(Value, Value, Admission)> {
    let mut challenge = shared.fx.challenge.clone();
    let nonce = uuid();
    challenge["payload"]["nonce"] = Value::from(nonce.as_str());
    challenge["payload"]["ts"] = Value::from(now_ms());
    ws.send(Message::text(challenge.to_string())).await.ok()?;

    let deadline = tokio::time::sleep(shared.opts.handshake_timeout());
    tokio::pin!(deadline);
    let text = loop {
        tokio::select! {
            _ = &mut deadline => {
                // traces: handshake_timeout (close 1000, empty reason)
                close(ws, 1000, "").await;
                return None;
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => break t.as_str().to_string(),
                Some(Ok(Message::Binary(b))) => break String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) => {
                    drain(ws).await;
                    return None;
                }
                Some(Err(e)) if too_big(&e) => {
                    close(ws, CLOSE_TOO_BIG, "").await;
                    return None;
                }
                Some(Err(_)) | None => return None,
            },
        }
    };

    let Ok(frame) = serde_json::from_str::<Value>(&text) else {
        // traces: non_json_first_frame (close 1000, empty reason, no res)
        close(ws, 1000, "").await;
        return None;
    };
    if !frame::is_request(&frame) {
        // traces: non_request_first_frame
        close(ws, 1008, "invalid request frame").await;
        return None;
    }
    lock(&shared.requests).push(frame.clone());
    let id = frame["id"].clone();
    match check_connect(shared, &frame, &nonce) {
        Ok(admission) => Some((id, frame["params"].clone(), admission)),
        Err(Reject {
            error,
            code,
            reason,
        }) => {
            let res = frame::res_err(&id, error);
            let _ = ws.send(Message::text(res.to_string())).await;
            close(ws, code, &reason).await;
            None
        }
    }
}

struct Reject {
    error: Value,
    code: u16,
    reason: String,
}

impl Reject {
    /// Close 1008 with the error message as reason (the gateway's usual pairing).
    fn policy(error: Value) -> Reject {
        let reason = error["message"].as_str().unwrap_or_default().to_string();
        Reject {
            error,
            code: 1008,
            reason,
        }
    }
}

impl Reject {
    /// Close 1008 with a reason of its own (device and pairing refusals).
    fn refusal((error, reason): device::Refusal) -> Reject {
        Reject {
            error,
            code: 1008,
            reason,
        }
    }
}

/// Client ids of `dist/gateway/protocol/client-info.js` (2026.1.24) and of the openclaw
/// `GATEWAY_CLIENT_IDS`.
fn client_ids(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::V3 => &[
            "webchat-ui",
            "clawdbot-control-ui",
            "webchat",
            "cli",
            "gateway-client",
            "clawdbot-macos",
            "clawdbot-ios",
            "clawdbot-android",
            "node-host",
            "test",
            "fingerprint",
            "clawdbot-probe",
        ],
        Protocol::V4 => &[
            "webchat-ui",
            "openclaw-control-ui",
            "openclaw-browser-copilot",
            "openclaw-tui",
            "webchat",
            "cli",
            "gateway-client",
            "openclaw-macos",
            "openclaw-linux",
            "openclaw-ios",
            "openclaw-watchos",
            "openclaw-android",
            "node-host",
            "openclaw-worker",
            "test",
            "fingerprint",
            "openclaw-probe",
        ],
    }
}

fn client_modes(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::V3 => &["webchat", "cli", "ui", "backend", "node", "probe", "test"],
        Protocol::V4 => &[
            "webchat", "cli", "ui", "backend", "node", "probe", "test", "worker",
        ],
    }
}

/// The `at /client/<field>` text of a failed enum check, per protocol (traces:
/// invalid_client_id: TypeBox `anyOf` of constants on 2026.1.24, an enum on 2026.9.6).
fn not_allowed(protocol: Protocol, field: &str) -> String {
    match protocol {
        Protocol::V3 => format!(
            "at /client/{field}: must be equal to constant; at /client/{field}: must match a schema in anyOf"
        ),
        Protocol::V4 => format!("at /client/{field}: must be equal to one of the allowed values"),
    }
}

fn invalid_request(message: String) -> Value {
    json!({"code": "INVALID_REQUEST", "message": message})
}

/// The gateway's `connect` checks, in its order: request shape, first method, params schema,
/// protocol range, device/token requirement, shared secret.
fn check_connect(shared: &Shared, frame: &Value, nonce: &str) -> Result<Admission, Reject> {
    let fx = shared.fx;
    let protocol = shared.opts.protocol;
    if frame["method"] != "connect" {
        // traces: first_frame_not_connect
        return Err(Reject::policy(fx.error("first_frame_not_connect")));
    }
    let params = &frame["params"];
    let schema = |problem: String| {
        Err(Reject::policy(invalid_request(format!(
            "invalid connect params: {problem}"
        ))))
    };
    if !params.is_object() {
        return schema("must be object".to_string());
    }
    for field in ["minProtocol", "maxProtocol", "client"] {
        if params.get(field).is_none() {
            return schema(format!("must have required property '{field}'"));
        }
    }
    for field in ["minProtocol", "maxProtocol"] {
        if !params[field].is_u64() {
            return schema(format!("at /{field}: must be integer"));
        }
    }
    let client = &params["client"];
    for field in ["id", "version", "platform", "mode"] {
        if !client[field].is_string() {
            return schema(format!("at /client: must have required property '{field}'"));
        }
    }
    let client_id = client["id"].as_str().unwrap_or_default();
    let mode = client["mode"].as_str().unwrap_or_default();
    if !client_ids(protocol).contains(&client_id) {
        // traces: invalid_client_id
        return schema(not_allowed(protocol, "id"));
    }
    if !client_modes(protocol).contains(&mode) {
        return schema(not_allowed(protocol, "mode"));
    }

    let min = params["minProtocol"].as_u64().unwrap_or_default();
    let max = params["maxProtocol"].as_u64().unwrap_or_default();
    let ours = protocol.number();
    if max < ours || min > ours {
        // traces: protocol_mismatch (v3), protocol_v3_client / protocol_mismatch (v4)
        let mut error = fx.error(match protocol {
            Protocol::V3 => "protocol_mismatch",
            Protocol::V4 => "protocol_v3_client",
        });
        if protocol == Protocol::V4 {
            error["details"]["clientMinProtocol"] = Value::from(min);
            error["details"]["clientMaxProtocol"] = Value::from(max);
        }
        return Err(Reject {
            error,
            code: 1002,
            reason: "protocol mismatch".to_string(),
        });
    }

    let role = params["role"].as_str().unwrap_or("operator");
    if role != "operator" && role != "node" {
        return Err(Reject::policy(invalid_request("invalid role".to_string())));
    }

    let token = params["auth"]["token"].as_str().filter(|s| !s.is_empty());
    let password = params["auth"]["password"]
        .as_str()
        .filter(|s| !s.is_empty());
    // 2026.1.24 lets a client without `device` through only with a token; 2026.9.6 accepts
    // any shared secret for an operator (lab README, "token-only (no device)").
    let may_skip_device = match protocol {
        Protocol::V3 => token.is_some(),
        Protocol::V4 => token.is_some() || password.is_some(),
    };
    if params.get("device").is_none() && !may_skip_device {
        // traces: missing_token
        return Err(Reject::policy(fx.error("missing_token")));
    }
    // Both gateways check the device proof before the shared secret.
    let device = device::verify(shared, params, nonce).map_err(Reject::refusal)?;
    let opts = &shared.opts;
    let method = match (token, password) {
        (Some(t), _) if opts.token.as_deref() == Some(t) => "token",
        (_, Some(p)) if opts.password.as_deref() == Some(p) => "password",
        _ if device::token_ok(shared, device.as_ref(), params) => "device-token",
        _ => {
            let error = device::token_refusal(shared, params)
                .unwrap_or_else(|| auth_error(shared, client_id, token, password));
            return Err(Reject::policy(error));
        }
    };
    device::pair(shared, device.as_ref(), params, method).map_err(Reject::refusal)
}

/// `formatGatewayAuthFailureMessage` of 2026.1.24 (same texts on 2026.9.6, which adds
/// `details`; traces: wrong_token).
fn auth_error(
    shared: &Shared,
    client_id: &str,
    token: Option<&str>,
    password: Option<&str>,
) -> Value {
    let opts = &shared.opts;
    let ui = client_id.contains("control-ui") || client_id.starts_with("webchat");
    let cli = client_id == "cli";
    let token_hint = if cli {
        "set gateway.remote.token to match gateway.auth.token"
    } else if ui {
        "open a tokenized dashboard URL or paste token in Control UI settings"
    } else {
        "provide gateway auth token"
    };
    let password_hint = if cli {
        "set gateway.remote.password to match gateway.auth.password"
    } else if ui {
        "enter the password in Control UI settings"
    } else {
        "provide gateway auth password"
    };
    let (message, reason) = if token.is_some() {
        if opts.token.is_some() {
            (
                format!("unauthorized: gateway token mismatch ({token_hint})"),
                "token_mismatch",
            )
        } else {
            (
                format!("unauthorized: gateway password missing ({password_hint})"),
                "password_missing",
            )
        }
    } else if password.is_some() && opts.password.is_some() {
        (
            format!("unauthorized: gateway password mismatch ({password_hint})"),
            "password_mismatch",
        )
    } else {
        (
            format!("unauthorized: gateway token missing ({token_hint})"),
            "token_missing",
        )
    };
    let mut error = shared.fx.error("wrong_token");
    error["message"] = Value::from(message);
    if error.get("details").is_some() {
        let code = match reason {
            "token_mismatch" => "AUTH_TOKEN_MISMATCH",
            "password_mismatch" => "AUTH_PASSWORD_MISMATCH",
            "password_missing" => "AUTH_PASSWORD_MISSING",
            _ => "AUTH_TOKEN_MISSING",
        };
        error["details"]["code"] = Value::from(code);
        error["details"]["authReason"] = Value::from(reason);
    }
    error
}

/// Protocol 4 keeps requested scopes only for a local backend (`gateway-client`/`backend`, no
/// `Origin`, no forwarding headers) or the local CLI, and clears them otherwise (lab README,
/// "token-only"; traces: token_only_test_client). Protocol 3 keeps them; an operator asking for
/// none gets `operator.admin` on both.
fn granted_scopes(shared: &Shared, params: &Value, upgrade: &Upgrade) -> Vec<String> {
    let requested = device::strings(&params["scopes"]);
    let requested = if requested.is_empty() {
        vec!["operator.admin".to_string()]
    } else {
        requested
    };
    if !shared.v4() {
        return requested;
    }
    let client = &params["client"];
    let local_backend = client["id"] == "gateway-client"
        && client["mode"] == "backend"
        && !upgrade.origin
        && !upgrade.forwarded;
    let local_cli = client["id"] == "cli" && client["mode"] == "cli" && !upgrade.forwarded;
    if local_backend || local_cli || params.get("device").is_some() {
        requested
    } else {
        Vec::new()
    }
}

/// Whether `scopes` allow `needed` (`operator.read` or `operator.write`).
pub(super) fn has_scope(scopes: &[String], needed: &str) -> bool {
    scopes.iter().any(|s| {
        s == "operator.admin" || s == needed || (needed == "operator.read" && s == "operator.write")
    })
}

/// The recorded `hello-ok` with this connection's values.
fn hello_ok(shared: &Shared, req_id: &Value, admission: &Admission, scopes: &[String]) -> Value {
    let opts = &shared.opts;
    let mut hello = shared.fx.hello_ok.clone();
    hello["id"] = req_id.clone();
    let payload = &mut hello["payload"];
    payload["server"]["connId"] = Value::from(uuid());
    payload["policy"]["tickIntervalMs"] = Value::from(opts.tick_interval.as_millis() as u64);
    payload["policy"]["maxPayload"] = Value::from(opts.max_payload());
    if let Some(protocol) = opts.announce_protocol {
        payload["protocol"] = Value::from(protocol);
    }
    let snapshot = &mut payload["snapshot"];
    snapshot["uptimeMs"] = Value::from(shared.started.elapsed().as_millis() as u64);
    snapshot["health"] = shared.health_payload();
    let agent = opts.default_agent.as_str();
    snapshot["sessionDefaults"]["defaultAgentId"] = Value::from(agent);
    snapshot["sessionDefaults"]["mainSessionKey"] = Value::from(format!("agent:{agent}:main"));
    if let Some(presence) = snapshot["presence"].get_mut(0) {
        presence["ts"] = Value::from(now_ms());
    }
    if shared.v4() {
        payload["auth"]["method"] = Value::from(admission.method);
        payload["auth"]["scopes"] = Value::from(scopes.to_vec());
        if let Some((token, issued)) = &admission.device_token {
            payload["auth"]["deviceToken"] = Value::from(token.as_str());
            payload["auth"]["issuedAtMs"] = Value::from(*issued);
        }
        payload["snapshot"]["authMode"] = Value::from(if opts.token.is_some() {
            "token"
        } else {
            "password"
        });
    } else if let Some((token, issued)) = &admission.device_token {
        // 2026.1.24 `hello-ok.auth`, sent only to a paired device (message-handler.js).
        payload["auth"] = json!({
            "deviceToken": token,
            "role": "operator",
            "scopes": admission.token_scopes,
            "issuedAtMs": issued,
        });
    }
    hello
}

/// The socket after a successful `connect`: registered for broadcasts, writing its queue and
/// dispatching requests until it closes or is killed.
async fn connected(
    shared: Arc<Shared>,
    mut ws: Ws,
    req_id: Value,
    params: Value,
    admission: Admission,
    upgrade: &Upgrade,
) {
    let scopes = granted_scopes(&shared, &params, upgrade);
    let (tx, mut rx) = mpsc::channel(shared.opts.max_queued_frames.max(2));
    let (kill, mut kill_rx) = watch::channel(Kill::None);
    let kill = Arc::new(kill);
    let (_alive, gone) = watch::channel(());
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    // hello-ok goes into the queue before the socket is registered, so no broadcast can
    // overtake it.
    let _ = tx.try_send(Outbound::Frame(hello_ok(
        &shared, &req_id, &admission, &scopes,
    )));
    let run_events = !shared.v4() || has_scope(&scopes, "operator.read");
    let scoped = shared.v4()
        && device::strings(&params["caps"])
            .iter()
            .any(|c| c == "session-scoped-events");
    shared.conns().insert(
        id,
        ConnHandle {
            tx,
            kill: kill.clone(),
            gone: gone.clone(),
            run_events,
            scoped,
            subscribed: Default::default(),
        },
    );
    shared.total_connects.fetch_add(1, Ordering::SeqCst);
    // traces: simple, broadcast_observer (a health event to every socket after each connect)
    shared.broadcast(shared.health_event(), false);

    let ctx = ConnCtx { id, scopes, gone };
    let mut shutdown = shared.shutdown.clone();
    let mut seq: u64 = 0;
    loop {
        tokio::select! {
            biased;
            _ = kill_rx.changed() => {
                let why = *kill_rx.borrow();
                finish(&shared, id, &mut ws, why).await;
                return;
            }
            _ = stopped(&mut shutdown) => break,
            out = rx.recv() => match out {
                Some(Outbound::Frame(mut frame)) => {
                    if shared.v4() && frame["type"] == "event" {
                        // Protocol 4 numbers events per connection (lab README, "event seq").
                        seq += 1;
                        frame["seq"] = Value::from(seq);
                    }
                    let sent = tokio::select! {
                        r = ws.send(Message::text(frame.to_string())) => r.is_ok(),
                        _ = kill_rx.changed() => {
                            let why = *kill_rx.borrow();
                            finish(&shared, id, &mut ws, why).await;
                            return;
                        }
                    };
                    if !sent {
                        break;
                    }
                }
                Some(Outbound::Raw(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    shared.conns().remove(&id);
                    close(&mut ws, code, &reason).await;
                    return;
                }
                Some(Outbound::Drop) => break,
                None => break,
            },
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => super::methods::handle(&shared, &ctx, t.as_str()),
                Some(Ok(Message::Binary(b))) => {
                    super::methods::handle(&shared, &ctx, &String::from_utf8_lossy(&b))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    shared.conns().remove(&id);
                    drain(&mut ws).await;
                    return;
                }
                Some(Err(e)) if too_big(&e) => {
                    shared.conns().remove(&id);
                    close(&mut ws, CLOSE_TOO_BIG, "").await;
                    return;
                }
                Some(Err(_)) | None => break,
            },
        }
    }
    shared.conns().remove(&id);
}

async fn finish(shared: &Shared, id: u64, ws: &mut Ws, why: Kill) {
    shared.conns().remove(&id);
    if why == Kill::SlowConsumer {
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            ws.close(Some(close_frame(1008, "slow consumer"))),
        )
        .await;
    }
    // Kill::Abrupt: returning drops the TCP stream with no close frame.
}

/// `ws` closes with 1009 and no reason on a message over `maxPayload` (`receiver.js`
/// "Max payload size exceeded", `websocket.js` `receiverOnError` -> `close(1009)`); every run
/// on that socket is lost with it.
const CLOSE_TOO_BIG: u16 = 1009;

/// Whether a read failed because the frame is over the announced `maxPayload`.
fn too_big(e: &WsError) -> bool {
    matches!(e, WsError::Capacity(CapacityError::MessageTooLong { .. }))
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(CLOSE_REASON_MAX_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason[..end].to_string().into(),
    }
}

/// Sends a close frame and waits (briefly) for the client's answer, so the client reads a
/// clean close with this code and reason.
async fn close(ws: &mut Ws, code: u16, reason: &str) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        ws.close(Some(close_frame(code, reason))),
    )
    .await;
    drain(ws).await;
}

/// Reads until the stream ends (at most 2 s): after a close frame from either side this
/// completes the closing handshake (tungstenite answers a client's close while reading).
async fn drain(ws: &mut Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
