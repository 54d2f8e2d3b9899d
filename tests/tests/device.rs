//! End-to-end: clawshim with an Ed25519 device identity (signed handshake, pairing approval,
//! the issued device token reused without a shared secret) and password auth, against the
//! mock gateway on both protocols; plus the mock's own device-proof checks.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use clawshim_core::gateway::device::{DeviceIdentity, PayloadVersion, SignInput};
use clawshim_tests::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Every log line of this test binary (the shims run on threads of their own).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| Mutex::new(Vec::new()));
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
    logs
}

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Wait until a captured log line contains `needle`.
async fn wait_log(needle: &str) -> String {
    poll_until(&format!("a log line with {needle:?}"), || {
        let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_string);
        std::future::ready(line.ok_or("none yet"))
    })
    .await
}

/// A scratch directory for identity files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        Scratch(std::env::temp_dir().join(format!("clawshim-e2e-device-{}", uuid::Uuid::new_v4())))
    }
    fn identity(&self) -> PathBuf {
        self.0.join("state/device.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stored_token(path: &Path) -> Option<String> {
    DeviceIdentity::load_or_create(path)
        .unwrap()
        .device_token()
        .map(|t| t.token)
}

/// The params of every `connect` the mock received.
fn connects(gw: &MockGateway) -> Vec<Value> {
    requests_of(gw, "connect")
        .into_iter()
        .map(|r| r["params"].clone())
        .collect()
}

/// Start a shim that authenticates with the device identity at `path` alone: no shared
/// gateway secret (its own API token stays the suites' token).
async fn start_device_only(url: &str, path: &Path, wait_ready: bool) -> Shim {
    let path = path.to_path_buf();
    Shim::start_with(
        url,
        |s| {
            s.device_identity = Some(path);
            s.gateway_token = None;
            s.api_tokens = Some(vec![TOKEN.to_string()]);
        },
        wait_ready,
    )
    .await
}

async fn assert_serves(shim: &Shim) {
    let resp = shim.chat(user_msg("openclaw/main", "hello device")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello device"
    );
}

#[tokio::test]
async fn signed_handshake_is_accepted_on_v3_and_v4() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let dir = Scratch::new();
        let path = dir.identity();
        let gw = mock(protocol).await;
        let p = path.clone();
        let shim = Shim::start_with(&gw.url(), |s| s.device_identity = Some(p), true).await;
        assert_serves(&shim).await;

        let identity = DeviceIdentity::load_or_create(&path).unwrap();
        let connect = connects(&gw).pop().unwrap();
        assert_eq!(connect["device"]["id"], identity.device_id());
        assert_eq!(connect["device"]["publicKey"], identity.public_key());
        assert_eq!(connect["auth"], json!({"token": TOKEN}));
        // clawdbot pairs a local device silently and issues a device token; openclaw skips
        // pairing for a local backend with a shared secret (traces: openclaw-lab
        // device_identity: no deviceToken).
        match protocol {
            Protocol::V3 => assert!(stored_token(&path).is_some(), "v3 issues a device token"),
            Protocol::V4 => assert_eq!(stored_token(&path), None),
        }
    }
}

#[tokio::test]
async fn pairing_required_until_approved_then_the_shim_connects_and_serves() {
    logs(); // capture from the start
    for (protocol, cli) in [(Protocol::V3, "clawdbot"), (Protocol::V4, "openclaw")] {
        let dir = Scratch::new();
        let path = dir.identity();
        let gw = mock_with(MockOptions {
            require_pairing: true,
            ..MockOptions::for_protocol(protocol)
        })
        .await;
        let p = path.clone();
        let shim = Shim::start_with(&gw.url(), |s| s.device_identity = Some(p), false).await;
        shim.wait_ready_reason("pairing_required").await;
        let pending = gw.pending_pairings();
        assert_eq!(
            pending.len(),
            1,
            "one request per device, reused while it waits"
        );
        let command = format!("`{cli} devices approve {}`", pending[0]);
        let line = wait_log(&command).await;
        let identity = DeviceIdentity::load_or_create(&path).unwrap();
        assert!(line.contains(identity.device_id()), "{line}");
        assert_eq!(stored_token(&path), None);

        assert!(gw.approve_pairing(&pending[0]));
        shim.wait_status("/readyz", 200).await;
        assert_serves(&shim).await;
        assert!(gw.pending_pairings().is_empty());
        assert!(
            stored_token(&path).is_some(),
            "an approved device gets a device token"
        );
    }
}

#[tokio::test]
async fn a_stored_device_token_is_reused_when_no_shared_secret_is_configured() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let dir = Scratch::new();
        let path = dir.identity();
        let gw = mock_with(MockOptions {
            require_pairing: true,
            ..MockOptions::for_protocol(protocol)
        })
        .await;
        // First start with the shared token: pair, approve, get the device token.
        {
            let p = path.clone();
            let shim = Shim::start_with(&gw.url(), |s| s.device_identity = Some(p), false).await;
            shim.wait_ready_reason("pairing_required").await;
            assert!(gw.approve_pairing(&gw.pending_pairings()[0]));
            shim.wait_status("/readyz", 200).await;
        }
        let token = stored_token(&path).expect("device token stored");

        // Then without any shared secret: the device token alone.
        let shim = start_device_only(&gw.url(), &path, true).await;
        assert_serves(&shim).await;
        let connect = connects(&gw).pop().unwrap();
        // clawdbot reads a device token from auth.token, openclaw from auth.deviceToken.
        let want = match protocol {
            Protocol::V3 => json!({"token": token}),
            Protocol::V4 => json!({"deviceToken": token}),
        };
        assert_eq!(connect["auth"], want);
        assert!(connect["device"]["signature"].is_string());
    }
}

#[tokio::test]
async fn a_refused_device_token_is_forgotten() {
    let dir = Scratch::new();
    let path = dir.identity();
    // A token from some other gateway.
    DeviceIdentity::load_or_create(&path)
        .unwrap()
        .store_device_token(clawshim_core::gateway::device::DeviceToken {
            token: "dt-stale".into(),
            role: "operator".into(),
            scopes: vec![],
            issued_at_ms: None,
        })
        .unwrap();
    let gw = mock(Protocol::V4).await;
    let shim = start_device_only(&gw.url(), &path, false).await;
    shim.wait_ready_reason("gateway_refused_credentials").await;
    wait_until("stored token cleared", || stored_token(&path).is_none()).await;
}

#[tokio::test]
async fn password_auth_works_on_v4_without_a_device() {
    let gw = mock_with(MockOptions {
        token: None,
        password: Some("hunter2".into()),
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.gateway_token = None;
            s.gateway_password = Some("hunter2".into());
            s.api_tokens = Some(vec![TOKEN.to_string()]);
        },
        true,
    )
    .await;
    assert_serves(&shim).await;
    let connect = connects(&gw).pop().unwrap();
    assert_eq!(connect["auth"], json!({"password": "hunter2"}));
    assert!(connect.get("device").is_none());
}

#[tokio::test]
async fn password_auth_on_v3_needs_a_device_identity() {
    // 2026.1.24 message-handler.js: without `device` only a token may skip the device
    // (`canSkipDevice = hasTokenAuth`), so a password alone is "device identity required".
    let gw = mock_with(MockOptions {
        token: None,
        password: Some("hunter2".into()),
        ..MockOptions::for_protocol(Protocol::V3)
    })
    .await;
    let password_only = |s: &mut clawshim_proxy::config::Settings| {
        s.gateway_token = None;
        s.gateway_password = Some("hunter2".into());
        s.api_tokens = Some(vec![TOKEN.to_string()]);
    };
    let shim = Shim::start_with(&gw.url(), password_only, false).await;
    shim.wait_ready_reason("gateway_refused_credentials").await;
    drop(shim);

    let dir = Scratch::new();
    let p = dir.identity();
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            password_only(s);
            s.device_identity = Some(p);
        },
        true,
    )
    .await;
    assert_serves(&shim).await;
    let connect = connects(&gw).pop().unwrap();
    assert_eq!(connect["auth"], json!({"password": "hunter2"}));
    assert!(connect["device"]["id"].is_string());
}

/// The next frame, whatever its kind (close frames matter here).
async fn next(ws: &mut Ws) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a frame within the wait")
}

/// One raw `connect` against the mock with a device block signed by `sign`; returns the
/// `res` error and the close frame's code and reason.
async fn raw_connect(
    protocol: Protocol,
    sign: impl FnOnce(&DeviceIdentity, &str) -> Value,
) -> (Value, Option<(u16, String)>) {
    let dir = Scratch::new();
    let identity = DeviceIdentity::load_or_create(dir.identity()).unwrap();
    let gw = mock(protocol).await;
    let mut ws = ws_open(gw.url()).await.unwrap();
    let Some(Ok(Message::Text(challenge))) = next(&mut ws).await else {
        panic!("no challenge");
    };
    let challenge: Value = serde_json::from_str(challenge.as_str()).unwrap();
    let nonce = challenge["payload"]["nonce"].as_str().unwrap().to_string();
    let connect = json!({"type": "req", "id": "c1", "method": "connect", "params": {
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "gateway-client", "version": "1", "platform": "linux", "mode": "backend"},
        "role": "operator", "scopes": ["operator.admin"], "auth": {"token": TOKEN},
        "device": sign(&identity, &nonce),
    }});
    ws.send(Message::text(connect.to_string())).await.unwrap();
    let mut error = Value::Null;
    let mut close = None;
    while let Some(Ok(msg)) = next(&mut ws).await {
        match msg {
            Message::Text(t) => {
                let frame: Value = serde_json::from_str(t.as_str()).unwrap();
                if frame["id"] == "c1" {
                    if frame["ok"] == true {
                        break;
                    }
                    error = frame["error"].clone();
                }
            }
            Message::Close(f) => {
                close = f.map(|f| (u16::from(f.code), f.reason.to_string()));
                break;
            }
            _ => {}
        }
    }
    (error, close)
}

fn signed(identity: &DeviceIdentity, nonce: &str, version: PayloadVersion, token: &str) -> Value {
    let proof = identity.proof(&SignInput {
        version,
        client_id: "gateway-client",
        client_mode: "backend",
        role: "operator",
        scopes: &["operator.admin"],
        token: Some(token),
        nonce,
        platform: "linux",
        device_family: None,
        signed_at_ms: clawshim_core::gateway::device::now_ms(),
    });
    serde_json::to_value(proof).unwrap()
}

#[tokio::test]
async fn the_mock_refuses_a_wrong_nonce_like_openclaw() {
    // traces: openclaw-lab device_identity (connection "bad-signature").
    let (error, close) = raw_connect(Protocol::V4, |id, _| {
        signed(id, "not-the-nonce", PayloadVersion::V3, TOKEN)
    })
    .await;
    assert_eq!(
        error,
        json!({"code": "INVALID_REQUEST", "message": "device nonce mismatch",
               "details": {"code": "DEVICE_AUTH_NONCE_MISMATCH", "reason": "device-nonce-mismatch"}})
    );
    assert_eq!(close, Some((1008, "device nonce mismatch".to_string())));
}

#[tokio::test]
async fn the_mock_checks_signature_payload_version_and_device_id() {
    // Signed over another token: the payload does not match.
    let (error, close) = raw_connect(Protocol::V4, |id, nonce| {
        signed(id, nonce, PayloadVersion::V3, "other")
    })
    .await;
    assert_eq!(error["message"], "device signature invalid");
    assert_eq!(close.unwrap().0, 1008);
    // 2026.1.24 knows v2 only.
    let (error, _) = raw_connect(Protocol::V3, |id, nonce| {
        signed(id, nonce, PayloadVersion::V3, TOKEN)
    })
    .await;
    assert_eq!(
        error,
        json!({"code": "INVALID_REQUEST", "message": "device signature invalid"})
    );
    // openclaw still accepts v2.
    let (error, close) = raw_connect(Protocol::V4, |id, nonce| {
        signed(id, nonce, PayloadVersion::V2, TOKEN)
    })
    .await;
    assert_eq!((error, close.map(|c| c.0)), (Value::Null, None));
    // An id that is not the key's hash.
    let (error, _) = raw_connect(Protocol::V3, |id, nonce| {
        let mut proof = signed(id, nonce, PayloadVersion::V2, TOKEN);
        proof["id"] = json!("0".repeat(64));
        proof
    })
    .await;
    assert_eq!(error["message"], "device identity mismatch");
}

/// Against the real gateways (`CLAWSHIM_INTEROP_V3_URL`, `CLAWSHIM_INTEROP_V4_URL`, token
/// `CLAWSHIM_INTEROP_TOKEN` or `secret`): a raw signed handshake printing `hello-ok.auth`,
/// then clawshim with a fresh device identity serving one run. A loopback v3 gateway pairs
/// the device silently, so each run leaves one paired device in its state.
#[tokio::test]
#[ignore = "needs a real gateway: set CLAWSHIM_INTEROP_V3_URL and/or CLAWSHIM_INTEROP_V4_URL"]
async fn real_gateway_signed_handshake() {
    let token = std::env::var("CLAWSHIM_INTEROP_TOKEN").unwrap_or_else(|_| "secret".into());
    let mut ran = false;
    for var in ["CLAWSHIM_INTEROP_V3_URL", "CLAWSHIM_INTEROP_V4_URL"] {
        let Ok(url) = std::env::var(var) else {
            eprintln!("{var} not set: skipped");
            continue;
        };
        ran = true;
        let dir = Scratch::new();
        let path = dir.identity();
        let identity = DeviceIdentity::load_or_create(&path).unwrap();

        // Raw: challenge -> signed connect -> hello-ok.auth.
        let mut ws = ws_open(&url).await.unwrap();
        let Some(Ok(Message::Text(challenge))) = next(&mut ws).await else {
            panic!("no challenge from {url}");
        };
        let challenge: Value = serde_json::from_str(challenge.as_str()).unwrap();
        let nonce = challenge["payload"]["nonce"].as_str().unwrap();
        let openclaw = challenge["payload"].get("capabilities").is_some();
        let version = if openclaw {
            PayloadVersion::V3
        } else {
            PayloadVersion::V2
        };
        let scopes = ["operator.read", "operator.write"];
        let proof = identity.proof(&SignInput {
            version,
            client_id: "gateway-client",
            client_mode: "backend",
            role: "operator",
            scopes: &scopes,
            token: Some(&token),
            nonce,
            platform: std::env::consts::OS,
            device_family: None,
            signed_at_ms: clawshim_core::gateway::device::now_ms(),
        });
        let connect = json!({"type": "req", "id": "c1", "method": "connect", "params": {
            "minProtocol": 3, "maxProtocol": 4,
            "client": {"id": "gateway-client", "version": "1", "platform": std::env::consts::OS, "mode": "backend"},
            "role": "operator", "scopes": scopes, "auth": {"token": token}, "device": proof,
        }});
        ws.send(Message::text(connect.to_string())).await.unwrap();
        let res = loop {
            match next(&mut ws).await {
                Some(Ok(Message::Text(t))) => {
                    let frame: Value = serde_json::from_str(t.as_str()).unwrap();
                    if frame["id"] == "c1" {
                        break frame;
                    }
                }
                Some(Ok(Message::Close(f))) => panic!("{url} closed: {f:?}"),
                Some(Ok(_)) => {}
                other => panic!("{url}: {other:?}"),
            }
        };
        let _ = ws.close(None).await;
        let mut auth = res["payload"]["auth"].clone();
        if let Some(t) = auth.get_mut("deviceToken") {
            *t = json!("<issued>");
        }
        eprintln!(
            "{var} {url}: payload {version:?}, ok={} protocol={} hello-ok.auth={auth} error={}",
            res["ok"], res["payload"]["protocol"], res["error"]
        );
        assert_eq!(res["ok"], true, "{res}");

        // clawshim with the same identity.
        let p = path.clone();
        let tok = token.clone();
        let shim = Shim::start_with(
            &url,
            |s| {
                s.device_identity = Some(p);
                s.gateway_token = Some(tok);
            },
            true,
        )
        .await;
        let resp = shim.chat(user_msg("openclaw/main", "hello device")).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        eprintln!(
            "{var}: clawshim ready, run -> {status} {:?}; device token stored: {}",
            body["choices"][0]["message"]["content"],
            stored_token(&path).is_some()
        );
        assert_eq!(status, 200, "{body}");
        drop(shim);

        // With the issued device token and no shared secret (clawdbot issues one on loopback).
        if stored_token(&path).is_some() {
            let shim = start_device_only(&url, &path, true).await;
            let status = shim.chat(user_msg("openclaw/main", "hi")).await.status();
            eprintln!("{var}: clawshim with the device token only: ready, run -> {status}");
            assert_eq!(status, 200);
        }
    }
    if !ran {
        eprintln!("no real gateway configured: nothing checked");
    }
}
