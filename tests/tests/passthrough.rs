//! End-to-end: everything clawshim does not serve goes to the gateway unchanged. The
//! gateway's WebSocket protocol through the shim (v3 and v4, many sessions in a row and some
//! at once), plain HTTP relayed as the gateway answered it, client-supplied forwarding
//! headers dropped, and 404 when passthrough is off. Only allowed paths reach the gateway:
//! its other endpoints (`/tools/invoke`) and non-canonical spellings of clawshim's own routes
//! never do, and the gateway's 401s count against the client's failed-auth budget.

use std::time::Instant;

use clawshim_tests::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// `ws://127.0.0.1:PORT/` of the shim.
fn ws_url(shim: &Shim) -> String {
    shim.base.replacen("http://", "ws://", 1) + "/"
}

fn connect_frame(protocol: u64) -> Value {
    json!({
        "type": "req", "id": "connect-1", "method": "connect",
        "params": {
            "minProtocol": protocol, "maxProtocol": protocol,
            "client": {"id": "gateway-client", "version": "test", "platform": "linux", "mode": "backend"},
            "role": "operator", "scopes": ["operator.read", "operator.write"],
            "auth": {"token": TOKEN}
        }
    })
}

/// One whole gateway session through the shim: upgrade, `connect.challenge`, `connect` ->
/// `hello-ok`, `agents.list`, close. Returns the agent ids.
async fn session(
    url: &str,
    protocol: u64,
    headers: &[(&str, &str)],
) -> Result<Vec<String>, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    let mut ws = ws_open(req).await?;
    let challenge = next_json(&mut ws)
        .await
        .map_err(|e| format!("waiting for the challenge: {e}"))?;
    if challenge["event"] != "connect.challenge" {
        return Err(format!("first frame is not the challenge: {challenge}"));
    }
    send_json(&mut ws, &connect_frame(protocol)).await?;
    let hello = response(&mut ws, "connect-1")
        .await
        .map_err(|e| format!("waiting for hello-ok: {e}"))?;
    if hello["ok"] != true || hello["payload"]["type"] != "hello-ok" {
        return Err(format!("connect refused: {hello}"));
    }
    if hello["payload"]["protocol"] != protocol {
        return Err(format!("wrong protocol: {hello}"));
    }
    let list = json!({"type": "req", "id": "list-1", "method": "agents.list", "params": {}});
    send_json(&mut ws, &list).await?;
    let agents = response(&mut ws, "list-1")
        .await
        .map_err(|e| format!("waiting for agents.list: {e}"))?;
    if agents["ok"] != true {
        return Err(format!("agents.list failed: {agents}"));
    }
    let ids = agents["payload"]["agents"]
        .as_array()
        .ok_or_else(|| format!("no agents array: {agents}"))?
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();
    let _ = tokio::time::timeout(WAIT, ws.close(None)).await;
    Ok(ids)
}

#[tokio::test]
async fn websocket_sessions_through_the_shim_never_fail() {
    const SEQUENTIAL: usize = 150;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 5;
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start(&gw.url()).await;
        let url = ws_url(&shim);
        let n = protocol.number();
        let started = Instant::now();
        let mut failures = Vec::new();
        for i in 0..SEQUENTIAL {
            match session(&url, n, &[]).await {
                Ok(ids) => assert!(ids.contains(&"main".to_string()), "{ids:?}"),
                Err(e) => failures.push(format!("sequential {i}: {e}")),
            }
        }
        for b in 0..BATCHES {
            let tasks: Vec<_> = (0..PER_BATCH)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { session(&url, n, &[]).await })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                match tokio::time::timeout(WAIT, t).await {
                    Ok(Ok(Ok(_))) => {}
                    other => failures.push(format!("batch {b} #{i}: {other:?}")),
                }
            }
        }
        let total = SEQUENTIAL + BATCHES * PER_BATCH;
        eprintln!(
            "protocol {n}: {total} sessions through the shim in {:?}, {} failed",
            started.elapsed(),
            failures.len()
        );
        assert!(failures.is_empty(), "{failures:#?}");
        // The mock counts the shim's own connection too.
        assert!(gw.total_connects() > total, "{}", gw.total_connects());
    }
}

#[tokio::test]
async fn forwarding_headers_from_the_client_are_not_passed_upstream() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let spoofed = [
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7;proto=https"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ];
    // openclaw answers 403 to forwarding headers from an untrusted peer (openclaw-lab
    // README, forwarded headers): getting through proves they were removed.
    let ids = session(&ws_url(&shim), 4, &spoofed).await.expect("session");
    assert!(ids.contains(&"main".to_string()));
    let seen = gw.upgrade_headers();
    let last = seen.last().expect("the upgrade reached the gateway");
    for (name, _) in spoofed {
        assert!(
            !last.iter().any(|(k, _)| k == name),
            "{name} reached the gateway: {last:?}"
        );
    }
    assert!(last.iter().any(|(k, _)| k == "x-request-id"), "{last:?}");
}

/// A plain HTTP server standing in for the gateway's HTTP side (the Control UI): answers
/// every request on a connection with a fixed status (418 unless told) and records the
/// request heads.
struct FakeHttpGateway {
    addr: std::net::SocketAddr,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHttpGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const FAKE_BODY: &str = "<html>control ui</html>";

async fn fake_http_gateway() -> FakeHttpGateway {
    fake_http_gateway_answering("418 I'm a teapot").await
}

async fn fake_http_gateway_answering(status_line: &'static str) -> FakeHttpGateway {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Requests without bodies: a head ends the request.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buf.drain(..end + 4).collect();
                        seen.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&head).into_owned());
                        let resp = format!(
                            "HTTP/1.1 {status_line}\r\ncontent-type: text/html\r\nx-gateway: fake\r\ncontent-length: {}\r\n\r\n{FAKE_BODY}",
                            FAKE_BODY.len()
                        );
                        if tcp.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match tcp.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    FakeHttpGateway { addr, heads, task }
}

#[tokio::test]
async fn plain_http_is_relayed_as_the_gateway_answered() {
    let gw = fake_http_gateway().await;
    // Not a WebSocket gateway: the shim never becomes ready, passthrough works regardless.
    let shim = Shim::start_with(&format!("ws://{}", gw.addr), |_| {}, false).await;
    for path in ["/", "/assets/app.js?v=1"] {
        let resp = client()
            .get(shim.url(path))
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-real-ip", "203.0.113.7")
            .header("forwarded", "for=203.0.113.7")
            .header("authorization", "Bearer not-for-clawshim")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 418, "{path}");
        assert_eq!(resp.headers()["x-gateway"], "fake");
        assert_eq!(resp.headers()["content-type"], "text/html");
        assert!(resp.headers().contains_key("x-request-id"));
        assert_eq!(resp.text().await.unwrap(), FAKE_BODY);
    }
    let heads = gw.heads.lock().unwrap().clone();
    // The shim's own WebSocket attempts land here too; keep the proxied requests.
    let ui: Vec<&String> = heads
        .iter()
        .filter(|h| !h.to_ascii_lowercase().contains("upgrade: websocket"))
        .collect();
    assert_eq!(ui.len(), 2, "{heads:?}");
    assert!(ui[0].starts_with("GET / HTTP/1.1\r\n"), "{}", ui[0]);
    assert!(
        ui[1].starts_with("GET /assets/app.js?v=1 HTTP/1.1\r\n"),
        "{}",
        ui[1]
    );
    for head in ui {
        let lower = head.to_ascii_lowercase();
        for name in ["x-forwarded-for:", "x-real-ip:", "forwarded:"] {
            assert!(!lower.contains(name), "{name} reached the gateway: {head}");
        }
        // The gateway's own auth is the gateway's business: passed on untouched.
        assert!(
            lower.contains("authorization: bearer not-for-clawshim"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn a_gateway_that_closes_without_answering_gets_a_json_error() {
    // The mock speaks only WebSocket: a plain GET is closed without a response.
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = client().get(shim.url("/")).send().await.unwrap();
    assert!(
        matches!(resp.status().as_u16(), 502 | 503),
        "{}",
        resp.status()
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
}

#[tokio::test]
async fn passthrough_off_answers_404_json() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.passthrough = Some(false), true).await;
    let resp = client().get(shim.url("/some/page")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unknown_url", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/some/page"));

    // The WebSocket is not proxied either.
    let upgrades = gw.upgrade_headers().len();
    let err = session(&ws_url(&shim), 4, &[]).await.unwrap_err();
    assert!(err.contains("404"), "{err}");
    assert_eq!(gw.upgrade_headers().len(), upgrades);
}

/// The requests a fake gateway got that were not the shim's own WebSocket attempts.
fn proxied(gw: &FakeHttpGateway) -> Vec<String> {
    gw.heads
        .lock()
        .unwrap()
        .iter()
        .filter(|h| !h.to_ascii_lowercase().contains("upgrade: websocket"))
        .cloned()
        .collect()
}

/// [`proxied`], lower-cased (header names are compared in any case).
fn proxied_heads(gw: &FakeHttpGateway) -> Vec<String> {
    proxied(gw).iter().map(|h| h.to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn a_client_behind_a_trusted_local_proxy_is_attributed_as_remote() {
    // A tunnel or reverse proxy on the same host (cloudflared, tailscale serve, nginx) connects
    // from 127.0.0.1 and names the real client in X-Forwarded-For.
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(
        &format!("ws://{}", gw.addr),
        |s| s.trusted_proxies = Some(vec!["127.0.0.1/32".into()]),
        false,
    )
    .await;
    let proxied = |xff: &'static str| {
        client()
            .get(shim.url("/"))
            .header("x-forwarded-for", xff)
            .send()
    };
    // The client wrote the left entry itself; the proxy appended the right one.
    assert_eq!(proxied("6.6.6.6, 203.0.113.7").await.unwrap().status(), 418);
    // A local client through the same proxy stays local.
    assert_eq!(proxied("127.0.0.1").await.unwrap().status(), 418);
    let heads = proxied_heads(&gw);
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads[0].contains("x-forwarded-for: 203.0.113.7\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].contains("x-real-ip: 203.0.113.7\r\n"),
        "{}",
        heads[0]
    );
    assert!(!heads[0].contains("6.6.6.6"), "{}", heads[0]);
    assert!(!heads[1].contains("x-forwarded-for:"), "{}", heads[1]);
}

#[tokio::test]
async fn a_mapped_loopback_peer_is_local() {
    // A listener on an IPv6 socket sees IPv4 clients as ::ffff:a.b.c.d; ::ffff:127.0.0.1 is
    // this host and gets no attribution.
    let gw = fake_http_gateway().await;
    // The harness's port, on an IPv6 socket bound to the mapped loopback address.
    let shim = Shim::start_with(
        &format!("ws://{}", gw.addr),
        |s| {
            let listen = s.listen.take().expect("the harness sets a listener");
            let port = listen.rsplit(':').next().expect("a port");
            s.listen = Some(format!("[::ffff:127.0.0.1]:{port}"));
        },
        false,
    )
    .await;
    let resp = client().get(shim.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 418);
    let heads = proxied_heads(&gw);
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(!heads[0].contains("x-forwarded-for:"), "{}", heads[0]);
    assert!(!heads[0].contains("x-real-ip:"), "{}", heads[0]);
}

/// Send one request with `path` exactly as given (HTTP clients resolve `.` and `..` segments
/// before sending) and return the status and the body.
async fn raw_request(shim: &Shim, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = shim.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: clawshim\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn assert_404_json(resp: reqwest::Response, path: &str) {
    assert_eq!(resp.status(), 404, "{path}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unknown_url", "{path}: {v}");
}

#[tokio::test]
async fn gateway_endpoints_outside_the_allowlist_never_reach_the_gateway() {
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(&format!("ws://{}", gw.addr), |_| {}, false).await;
    let http = client();
    // The gateway's own `/v1/responses` and `/v1/embeddings` are never reached this way
    // either: clawshim serves those paths itself (tests/tests/responses_api.rs).
    for path in [
        "/tools/invoke",
        "/hooks/agent",
        "/assets/../tools/invoke",
        "/assets/./../tools/invoke",
        "/assets/%2e%2e/tools/invoke",
        "/assets/..%2Ftools/invoke",
        "/assets\\..\\tools/invoke",
        "//tools/invoke",
        "/Tools/Invoke",
    ] {
        let (status, body) =
            raw_request(&shim, "POST", path, r#"{"tool":"sessions_list","args":{}}"#).await;
        assert!(
            status == 404 || status == 400,
            "{path} answered {status}: {body}"
        );
        let v: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert!(v["error"]["message"].is_string(), "{path}: {v}");
    }
    // Allowed paths still pass: proves the gateway was reachable all along.
    let resp = http.get(shim.url("/assets/app.js")).send().await.unwrap();
    assert_eq!(resp.status(), 418);
    let heads = proxied(&gw);
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /assets/app.js HTTP/1.1\r\n"),
        "{heads:?}"
    );
}

#[tokio::test]
async fn tools_invoke_is_404_json() {
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(&format!("ws://{}", gw.addr), |_| {}, false).await;
    let resp = client()
        .post(shim.url("/tools/invoke"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(r#"{"tool":"sessions_list","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_404_json(resp, "/tools/invoke").await;
    assert!(proxied(&gw).is_empty(), "{:?}", proxied(&gw));
}

#[tokio::test]
async fn non_canonical_forms_of_our_routes_are_served_or_refused_never_forwarded() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let http = client();
    // Slash and case variants are served as the route itself.
    for path in [
        "/v1/chat/completions/",
        "//v1/chat/completions",
        "/v1//chat/completions",
        "/V1/Chat/Completions",
    ] {
        let resp = http
            .post(shim.url(path))
            .header("authorization", format!("Bearer {TOKEN}"))
            .json(&user_msg("openclaw/main", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion", "{path}: {v}");
    }
    // Encoded and dot forms are refused with a JSON 400.
    let body = user_msg("openclaw/main", "hi").to_string();
    for path in [
        "/v1/chat%2Fcompletions",
        "/v1/chat/completion%73",
        "/v1/./chat/completions",
        "/x/../v1/chat/completions",
        "/v1\\chat\\completions",
    ] {
        let (status, answer) = raw_request(&shim, "POST", path, &body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        let v: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{path}: {v}");
    }
    // (Forwarded, each would have been a 502: the mock closes plain HTTP requests.)
}

#[tokio::test]
async fn gateway_401s_through_passthrough_count_as_failed_logins() {
    let gw = fake_http_gateway_answering("401 Unauthorized").await;
    let shim = Shim::start_with(
        &format!("ws://{}", gw.addr),
        |s| s.max_failed_auth = Some(10),
        false,
    )
    .await;
    let http = client();
    for i in 0..10 {
        let resp = http
            .get(shim.url("/"))
            .header("authorization", "Bearer wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "attempt {i}");
    }
    let resp = http.get(shim.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
    // The same address is blocked on clawshim's own routes too, even with a good token.
    let resp = http
        .get(shim.url("/v1/models"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(proxied(&gw).len(), 10);
}

/// Log in through the shim's passthrough WebSocket with `token`: the gateway's answer to
/// `connect` (after its challenge).
async fn ws_login(shim: &Shim, protocol: u64, token: &str) -> Result<Value, String> {
    let mut ws = ws_open(ws_url(shim)).await?;
    let challenge = next_json(&mut ws).await?;
    assert_eq!(challenge["event"], "connect.challenge", "{challenge}");
    let mut frame = connect_frame(protocol);
    if token.is_empty() {
        frame["params"].as_object_mut().unwrap().remove("auth");
    } else {
        frame["params"]["auth"]["token"] = json!(token);
    }
    send_json(&mut ws, &frame).await?;
    response(&mut ws, "connect-1").await
}

#[tokio::test]
async fn refused_websocket_logins_count_as_failed_logins() {
    for (protocol, version) in [(Protocol::V4, 4), (Protocol::V3, 3)] {
        let gw = mock(protocol).await;
        let shim = Shim::start_with(&gw.url(), |s| s.max_failed_auth = Some(5), true).await;
        // A socket opened before the lockout, its login not sent yet.
        let mut early = ws_open(ws_url(&shim)).await.expect("early socket");
        let challenge = next_json(&mut early).await.expect("challenge");
        assert_eq!(challenge["event"], "connect.challenge");
        for i in 0..5 {
            let res = ws_login(&shim, version, "wrong-guess")
                .await
                .unwrap_or_else(|e| panic!("v{version} attempt {i}: {e}"));
            assert_eq!(res["ok"], false, "v{version} attempt {i}: {res}");
        }
        // Locked out: no new passthrough WebSocket, and clawshim's own routes refuse too.
        let err = ws_open(ws_url(&shim)).await.map(|_| ()).unwrap_err();
        assert!(err.contains("429"), "v{version}: {err}");
        let resp = client()
            .get(shim.url("/v1/models"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "v{version}");
        // The socket opened earlier cannot carry another guess: closed before any answer.
        let mut frame = connect_frame(version);
        frame["params"]["auth"]["token"] = json!("another-guess");
        let _ = send_json(&mut early, &frame).await;
        let answer = response(&mut early, "connect-1").await;
        assert!(answer.is_err(), "v{version}: {answer:?}");
    }
}

#[tokio::test]
async fn accepted_and_credential_free_websocket_logins_count_nothing() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.max_failed_auth = Some(2), true).await;
    for _ in 0..4 {
        let ids = session(&ws_url(&shim), 4, &[]).await.expect("session");
        assert!(ids.contains(&"main".to_string()));
        // No credential at all: refused, but no secret was guessed.
        let res = ws_login(&shim, 4, "").await.expect("login without a token");
        assert_eq!(res["ok"], false, "{res}");
    }
    let resp = client()
        .get(shim.url("/v1/models"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Send `raw` as is on a new connection and return everything the shim answered.
async fn raw_exchange(shim: &Shim, raw: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = shim.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn passthrough_forwards_only_the_control_uis_methods() {
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(&format!("ws://{}", gw.addr), |_| {}, false).await;
    for (method, path, allow) in [
        ("TRACE", "/", "GET, HEAD"),
        ("DELETE", "/assets/app.js", "GET, HEAD"),
        ("PUT", "/", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("OPTIONS", "/avatar/main", "GET, HEAD"),
        ("DELETE", "/__openclaw__/assistant-media", "GET, HEAD, POST"),
    ] {
        let answer = raw_exchange(
            &shim,
            &format!("{method} {path} HTTP/1.1\r\nhost: clawshim\r\nconnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 405"),
            "{method} {path}: {answer}"
        );
        assert!(
            answer
                .to_ascii_lowercase()
                .contains(&format!("allow: {}", allow.to_ascii_lowercase())),
            "{method} {path}: {answer}"
        );
        assert!(answer.contains("\"method_not_allowed\""), "{answer}");
    }
    assert!(proxied(&gw).is_empty(), "{:?}", proxied(&gw));
    // What the UI does send still goes through.
    let http = client();
    assert_eq!(http.get(shim.url("/")).send().await.unwrap().status(), 418);
    assert_eq!(
        http.head(shim.url("/assets/a.js"))
            .send()
            .await
            .unwrap()
            .status(),
        418
    );
    let media = shim.url("/__openclaw__/assistant-media?source=x&meta=1&allow=1");
    assert_eq!(http.post(media).send().await.unwrap().status(), 418);
    assert_eq!(proxied(&gw).len(), 3, "{:?}", proxied(&gw));
}

#[tokio::test]
async fn clawshims_own_credentials_never_reach_the_gateway() {
    const KEY: &str = "csk-passthrough-key";
    let gw = fake_http_gateway().await;
    let path = std::env::temp_dir().join(format!("clawshim-pt-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\n[auth]\ntokens = [\"own-token\", \"{TOKEN}\"]\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(
        &format!("ws://{}", gw.addr),
        move |s| s.config = Some(path),
        false,
    )
    .await;
    for token in [KEY, "own-token", TOKEN, "the-gateways-business"] {
        let resp = client()
            .get(shim.url("/"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 418, "{token}");
    }
    let heads = proxied_heads(&gw);
    assert_eq!(heads.len(), 4, "{heads:?}");
    // clawshim's key and its own shared token are dropped; the gateway's own token and
    // credentials clawshim does not know pass on.
    assert!(!heads[0].contains("authorization:"), "{}", heads[0]);
    assert!(!heads[1].contains("authorization:"), "{}", heads[1]);
    assert!(
        heads[2].contains(&format!("authorization: bearer {TOKEN}\r\n")),
        "{}",
        heads[2]
    );
    assert!(
        heads[3].contains("authorization: bearer the-gateways-business\r\n"),
        "{}",
        heads[3]
    );
    for head in heads {
        assert!(!head.contains(KEY) && !head.contains("own-token"), "{head}");
    }
}

#[tokio::test]
async fn a_request_without_host_reaches_the_gateway_with_one() {
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(&format!("ws://{}", gw.addr), |_| {}, false).await;
    let answer = raw_exchange(&shim, "GET /assets/app.js HTTP/1.0\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 418 "),
        "{answer}"
    );
    let heads = proxied_heads(&gw);
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].contains(&format!("\r\nhost: {}\r\n", gw.addr)),
        "{}",
        heads[0]
    );
    // A client's own Host is kept (the gateway compares it with Origin).
    let resp = client().get(shim.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 418);
    let heads = proxied_heads(&gw);
    let port = shim.base.rsplit(':').next().unwrap();
    assert!(
        heads[1].contains(&format!("host: 127.0.0.1:{port}\r\n")),
        "{}",
        heads[1]
    );
}

#[tokio::test]
async fn a_client_a_trusted_proxy_cannot_name_is_unknown_not_local() {
    let gw = fake_http_gateway().await;
    let shim = Shim::start_with(
        &format!("ws://{}", gw.addr),
        |s| s.trusted_proxies = Some(vec!["127.0.0.1/32".into()]),
        false,
    )
    .await;
    for xff in ["203.0.113.9, unknown", "unknown", "203.0.113.9, "] {
        let resp = client()
            .get(shim.url("/"))
            .header("x-forwarded-for", xff)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{xff}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "permission_denied", "{xff}: {v}");
    }
    // Never passed on as a local client (without attribution).
    assert!(proxied(&gw).is_empty(), "{:?}", proxied(&gw));
    // clawshim's own routes still serve it.
    let resp = client()
        .get(shim.url("/healthz"))
        .header("x-forwarded-for", "203.0.113.9, unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A direct local request (no X-Forwarded-For) is still the peer, local.
    assert_eq!(
        client().get(shim.url("/")).send().await.unwrap().status(),
        418
    );
    let heads = proxied_heads(&gw);
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(!heads[0].contains("x-forwarded-for:"), "{}", heads[0]);
}
