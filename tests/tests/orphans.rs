//! End-to-end: no run is left going on the gateway with nobody reading it. A run whose
//! `accepted` comes too late, a run whose reader fell behind, the runs in flight when the
//! gateway connection dropped, and the runs still going when the grace period of a shutdown
//! ends are all aborted on the gateway (v4 `chat.abort`); their clients get a clear end.

use clawshim_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_run_whose_accept_comes_too_late_is_aborted() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.gateway_request_timeout_secs = Some(1),
        true,
    )
    .await;
    let r = shim
        .chat(user_msg("openclaw/main", "MOCK_NO_ACCEPT MOCK_HANG"))
        .await;
    assert_eq!(r.status(), 504);
    let id = wait_run_id(&gw, "MOCK_NO_ACCEPT").await;
    wait_aborted(&gw, &id).await;
    // The connection is fine and serves the next request.
    let r = shim.chat(user_msg("openclaw/main", "next")).await;
    assert_eq!(r.status(), 200);
}

/// Sends a streaming request over a raw socket and reads nothing until told to.
async fn stalled_stream(shim: &Shim, text: &str) -> tokio::net::TcpStream {
    let addr = shim.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = stream_msg("openclaw/main", text).to_string();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body.as_bytes()).await.unwrap();
    sock
}

#[tokio::test]
async fn a_stalled_reader_is_dropped_and_aborted_while_fifty_others_finish() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let mut stalled = stalled_stream(&shim, "MOCK_FLOOD").await;
    let flood = wait_run_id(&gw, "MOCK_FLOOD").await;

    let healthy = (0..50).map(|i| {
        let text = format!("healthy stream {i}");
        let resp = shim.chat(stream_msg("openclaw/main", &text));
        async move {
            let body = resp.await.text().await.unwrap();
            let events = parse_sse(&body);
            assert_eq!(events.last(), Some(&Sse::Done), "stream {i}");
            assert_eq!(streamed_text(&events), format!("echo: {text}"));
        }
    });
    futures_util::future::join_all(healthy).await;

    // The flood outruns the stalled reader: the run is dropped and aborted on the gateway...
    wait_aborted(&gw, &flood).await;
    // ... and once the client reads again its stream ends with an error event, then [DONE].
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stalled.read_to_end(&mut raw))
        .await
        .expect("the stalled stream ends")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let tail: String = text
        .chars()
        .rev()
        .take(600)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(tail.contains("\"client_too_slow\""), "{tail}");
    assert!(tail.contains("data: [DONE]"), "{tail}");
}

#[tokio::test]
async fn runs_in_flight_when_the_connection_drops_are_aborted_after_the_reconnect() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat(stream_msg("openclaw/main", "MOCK_HANG orphan"))
        .await;
    let mut body = BodyReader::new(resp);
    // The first chunk: the run is accepted and going.
    body.chunk().await;
    let ids = run_ids(&gw, "orphan");
    assert_eq!(ids.len(), 1);
    gw.drop_clients().await;
    let rest = body.to_end().await;
    assert!(rest.contains("gateway_disconnected"), "{rest}");
    // The same mock keeps the hanging run; clawshim reconnects and aborts it.
    wait_aborted(&gw, &ids[0]).await;
}

#[tokio::test]
async fn shutdown_past_the_grace_period_ends_streams_with_server_shutting_down() {
    let gw = mock(Protocol::V4).await;
    let mut shim = Shim::start_with(&gw.url(), |s| s.grace_period_secs = Some(1), true).await;
    let resp = shim
        .chat(stream_msg("openclaw/main", "MOCK_HANG at shutdown"))
        .await;
    let mut body = BodyReader::new(resp);
    body.chunk().await;
    let ids = run_ids(&gw, "at shutdown");
    assert_eq!(ids.len(), 1);
    shim.stop_gracefully();
    let rest = body.to_end_or_cut().await;
    let events = parse_sse(&rest);
    assert_eq!(events.last(), Some(&Sse::Done), "{rest}");
    assert!(rest.contains("\"server_shutting_down\""), "{rest}");
    assert!(!rest.contains("client_too_slow"), "{rest}");
    wait_aborted(&gw, &ids[0]).await;
}
