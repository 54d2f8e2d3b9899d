//! End-to-end: concurrency, client disconnects, gateway drops, restarts and reconnects.

use std::collections::HashSet;
use std::time::Duration;

use clawshim_tests::*;
use serde_json::{json, Value};

#[tokio::test]
async fn fifty_concurrent_streams_never_mix_replies() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start(&gw.url()).await;
        // Another client's runs are broadcast to our socket too and must be ignored.
        gw.broadcast_foreign_run("somebody else entirely").await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let url = shim.url("/v1/chat/completions");
                tokio::spawn(async move {
                    let text = format!("request number {i} with words");
                    let body = client()
                        .post(url)
                        .bearer_auth(TOKEN)
                        .json(&stream_msg("openclaw/main", &text))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    let events = parse_sse(&body);
                    assert_eq!(events.last(), Some(&Sse::Done));
                    (format!("echo: {text}"), streamed_text(&events))
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in tasks {
            let (want, got) = tokio::time::timeout(WAIT, t).await.unwrap().unwrap();
            assert_eq!(got, want);
            seen.insert(got);
        }
        assert_eq!(seen.len(), 50);
    }
}

#[tokio::test]
async fn client_disconnect_mid_stream_aborts_the_run_on_v4() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat(stream_msg("openclaw/main", "MOCK_HANG please"))
        .await;
    assert_eq!(resp.status(), 200);
    let run_id = resp.headers()["x-clawshim-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let mut body = BodyReader::new(resp);
    // Read the role chunk and the first delta, then go away.
    body.until("echo").await;
    drop(body);
    wait_aborted(&gw, &run_id).await;
    // The shim is still healthy and serves the next request.
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "after")).await.status(),
        200
    );
}

#[tokio::test]
async fn client_disconnect_on_v3_frees_our_side() {
    // v3 cannot abort `agent` runs (chat.abort only knows chat.send runs), so nothing is sent.
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start_with(&gw.url(), |s| s.max_concurrent_runs = Some(1), true).await;
    let resp = shim.chat(stream_msg("openclaw/main", "MOCK_HANG")).await;
    let mut body = BodyReader::new(resp);
    body.chunk().await;
    drop(body);
    // With one run slot, a new run only works once the abandoned one was freed.
    poll_until("run slot freed", || async {
        let status = shim.chat(user_msg("openclaw/main", "next")).await.status();
        assert!(status == 200 || status == 429, "{status}");
        if status == 200 {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
    assert!(requests_of(&gw, "chat.abort").is_empty());
}

async fn gateway_loss_mid_stream(keyword: &str, protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat(stream_msg("openclaw/main", &format!("{keyword} now")))
        .await;
    assert_eq!(resp.status(), 200);
    let text = tokio::time::timeout(WAIT, resp.text())
        .await
        .unwrap()
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(events.last(), Some(&Sse::Done), "stream ends, never hangs");
    let err = events
        .iter()
        .find_map(|e| match e {
            Sse::Data(v) if v.get("error").is_some() => Some(v.clone()),
            _ => None,
        })
        .expect("an error event");
    assert_eq!(err["error"]["code"], "gateway_disconnected");
    // The shim reconnects and serves again.
    shim.wait_status("/readyz", 200).await;
    poll_until("serving again after the reconnect", || async {
        let r = shim
            .chat(user_msg("openclaw/main", "after reconnect"))
            .await;
        if r.status() != 200 {
            return Err(r.status());
        }
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "echo: after reconnect"
        );
        Ok(())
    })
    .await;
    assert!(gw.total_connects() >= 2);
}

#[tokio::test]
async fn gateway_drop_mid_stream_ends_with_error_then_reconnects() {
    gateway_loss_mid_stream("MOCK_DROP", Protocol::V3).await;
}

#[tokio::test]
async fn gateway_shutdown_1012_mid_stream_ends_with_error_then_reconnects() {
    // traces: gateway-lab shutdown (event `shutdown`, then close 1012 "service restart")
    gateway_loss_mid_stream("MOCK_SHUTDOWN", Protocol::V4).await;
}

#[tokio::test]
async fn gateway_drop_fails_non_stream_with_no_retry_header() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let r = shim.chat(user_msg("openclaw/main", "MOCK_DROP")).await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-should-retry"], "false");
}

#[tokio::test]
async fn missing_ticks_count_as_a_lost_connection() {
    let gw = mock_with(MockOptions {
        protocol: Protocol::V4,
        token: Some(TOKEN.into()),
        tick_interval: Duration::from_millis(200),
        ..MockOptions::default()
    })
    .await;
    let shim = Shim::start(&gw.url()).await;
    let before = gw.total_connects();
    gw.pause_ticks(true);
    wait_until("tick loss detected (a reconnect)", || {
        gw.total_connects() != before
    })
    .await;
    gw.pause_ticks(false);
    shim.wait_status("/readyz", 200).await;
}

#[tokio::test]
async fn a_run_at_its_time_limit_returns_the_partial_text_with_length() {
    // traces: gateway-lab run_timeout (v3 `meta.aborted`), openclaw-lab run_timeout (v4
    // `status:"timeout"`): the gateway ends the run; the text so far is the reply.
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start_with(&gw.url(), |s| s.run_timeout_secs = Some(1), true).await;
        let r = shim
            .chat(user_msg("openclaw/main", "MOCK_HANG reply"))
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{v}");
        assert!(v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("echo"));
        let req = requests_of(&gw, "agent").remove(0);
        assert_eq!(req["params"]["timeout"], 1);
    }
}

#[tokio::test]
async fn connect_frame_has_no_forwarded_or_origin_headers() {
    let gw = mock(Protocol::V4).await;
    let _shim = Shim::start(&gw.url()).await;
    for headers in gw.upgrade_headers() {
        for (name, _) in headers {
            let n = name.to_ascii_lowercase();
            assert!(
                n != "origin" && !n.starts_with("x-forwarded") && n != "forwarded",
                "{n}"
            );
        }
    }
    let connect = requests_of(&gw, "connect").remove(0);
    assert_eq!(connect["params"]["client"]["id"], "gateway-client");
    assert_eq!(connect["params"]["client"]["mode"], "backend");
    assert_eq!(connect["params"]["minProtocol"], 3);
    assert_eq!(connect["params"]["maxProtocol"], 4);
}

#[tokio::test]
async fn wrong_gateway_token_keeps_the_shim_unready() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.gateway_token = Some("wrong".into());
            s.api_tokens = Some(vec![TOKEN.into()]);
            s.gateway_wait_secs = Some(0);
        },
        false,
    )
    .await;
    let r = client().get(shim.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    // Within a moment the reason is the refused credentials, without leaking details.
    assert!(v["reason"].is_string());
    let message = poll_until("the refusal reaching the 503 body", || async {
        let r = shim.chat(user_msg("openclaw/main", "hi")).await;
        let status = r.status();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match status.as_u16() {
            503 if message.contains("gateway_refused_credentials") => Ok(message),
            503 => Err(message),
            other => Err(format!("status {other}")),
        }
    })
    .await;
    // Neither where the gateway is nor how it refused reaches a client.
    let port = gw.addr().port().to_string();
    for leak in ["mismatch", "127.0.0.1", port.as_str(), "ws://", "CLAWSHIM_"] {
        assert!(!message.contains(leak), "{message}");
    }
}

#[tokio::test]
async fn silent_runs_get_sse_keep_alive_comments() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.keepalive_secs = Some(1), true).await;
    let resp = shim.chat(stream_msg("openclaw/main", "MOCK_HANG")).await;
    BodyReader::new(resp).until(": keep-alive\n\n").await;
}

#[tokio::test]
async fn graceful_stop_lets_a_running_stream_finish() {
    let gw = mock_with(MockOptions {
        protocol: Protocol::V3,
        token: Some(TOKEN.into()),
        chunk_delay: Duration::from_millis(100),
        ..MockOptions::default()
    })
    .await;
    let mut shim = Shim::start_with(&gw.url(), |s| s.grace_period_secs = Some(5), true).await;
    let resp = shim
        .chat(stream_msg("openclaw/main", "one two three four five six"))
        .await;
    assert_eq!(resp.status(), 200);
    let mut body = BodyReader::new(resp);
    body.chunk().await;
    shim.stop_gracefully();
    let text = body.to_end().await;
    let events = parse_sse(&text);
    assert_eq!(events.last(), Some(&Sse::Done));
    assert_eq!(streamed_text(&events), "echo: one two three four five six");
}

#[tokio::test]
async fn a_request_during_a_gateway_restart_waits_for_the_reconnect() {
    let gw = mock(Protocol::V4).await;
    let addr = gw.addr();
    // Waiting is an option (default off: a down gateway is a 503 at once, see outage.rs).
    let shim = Shim::start_with(&gw.url(), |s| s.gateway_wait_secs = Some(10), true).await;
    gw.stop().await;
    shim.wait_status("/readyz", 503).await;
    // Sent while the gateway is down: nothing reaches it, so waiting is safe.
    let url = shim.url("/v1/chat/completions");
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .bearer_auth(TOKEN)
            .json(&user_msg("openclaw/main", "during restart"))
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _back = mock_at(Protocol::V4, addr).await;
    let r = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: during restart"
    );
}

/// A gateway that sends a chunk every 700 ms behind a shim with a 1 s JSON keep-alive.
async fn slow_answers_with_keepalives() -> (MockGateway, Shim) {
    let gw = mock_with(MockOptions {
        protocol: Protocol::V4,
        token: Some(TOKEN.into()),
        chunk_delay: Duration::from_millis(700),
        ..MockOptions::default()
    })
    .await;
    let shim = Shim::start_with(&gw.url(), |s| s.json_keepalive_secs = Some(1), true).await;
    (gw, shim)
}

#[tokio::test]
async fn a_slow_non_stream_answer_gets_whitespace_keep_alives_before_its_json() {
    let (_gw, shim) = slow_answers_with_keepalives().await;
    let r = shim
        .chat(user_msg("openclaw/main", "slow enough for keep-alives"))
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.starts_with(' '), "{body:?}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: slow enough for keep-alives"
    );
}

#[tokio::test]
async fn a_slow_non_stream_response_gets_whitespace_keep_alives_before_its_json() {
    let (_gw, shim) = slow_answers_with_keepalives().await;
    let r = client()
        .post(shim.url("/v1/responses"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw/main", "input": "slow enough for keep-alives"}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.starts_with(' '), "{body:?}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "echo: slow enough for keep-alives"
    );
}
