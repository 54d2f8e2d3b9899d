//! End-to-end: a run whose `agent` frame is over the gateway's announced `maxPayload` is
//! answered 413 before anything is sent, and the other runs on the shared socket go on.
//!
//! The mock closes the socket with 1009 on a frame over what its `hello-ok` announced, as
//! the real gateways do (`ws` `maxPayload`), so a frame that slipped through would fail the
//! parallel stream here.

use std::time::Duration;

use clawshim_tests::*;
use serde_json::Value;

/// 200k CJK characters: 600 KB of UTF-8, over clawdbot 2026.1.24's 512 KiB frame limit and
/// well under openclaw 2026.9.6's 25 MiB.
fn cjk_message() -> String {
    "漢".repeat(200_000)
}

/// A gateway whose deltas come slowly, so a stream is still running while the big request
/// is made.
async fn slow_mock(protocol: Protocol) -> MockGateway {
    mock_with(MockOptions {
        protocol,
        token: Some(TOKEN.to_string()),
        chunk_delay: Duration::from_millis(150),
        ..MockOptions::default()
    })
    .await
}

/// Starts a stream, waits for its first bytes (the run is accepted and in flight), sends
/// `big` as a second request, then reads the stream to its end. Returns the big request's
/// status and body, and the stream's events.
async fn big_request_beside_a_stream(shim: &Shim, big: Value) -> (u16, Value, Vec<Sse>) {
    let resp = shim
        .chat(stream_msg("openclaw/main", "parallel stream keeps going"))
        .await;
    assert_eq!(resp.status(), 200);
    let mut body = BodyReader::new(resp);
    assert!(body.chunk().await, "the stream is open");

    let big = shim.chat(big).await;
    let status = big.status().as_u16();
    let big_body: Value = big.json().await.expect("JSON answer");

    let text = body.to_end().await;
    (status, big_body, parse_sse(&text))
}

#[tokio::test]
async fn a_frame_over_the_v3_limit_gets_413_and_other_runs_go_on() {
    let gw = slow_mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let (status, body, events) =
        big_request_beside_a_stream(&shim, user_msg("openclaw/main", &cjk_message())).await;

    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "request_too_large");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("524288"),
        "names the gateway's limit: {message}"
    );

    assert_eq!(events.last(), Some(&Sse::Done), "{events:?}");
    assert_eq!(streamed_text(&events), "echo: parallel stream keeps going");
    // Nothing of the big request reached the gateway.
    let messages = run_params(&gw, "message");
    assert_eq!(messages.len(), 1, "only the parallel run was sent");
    assert!(messages.iter().all(|m| m.len() < 1000));
}

#[tokio::test]
async fn the_same_message_fits_on_v4() {
    let gw = slow_mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let (status, body, events) =
        big_request_beside_a_stream(&shim, user_msg("openclaw/main", &cjk_message())).await;

    assert_eq!(status, 200, "{body}");
    let reply = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(reply, format!("echo: {}", cjk_message()));
    assert_eq!(events.last(), Some(&Sse::Done), "{events:?}");
    assert_eq!(run_params(&gw, "message").len(), 2);
}

/// The largest `agent` frame a message of `len` ASCII bytes makes is measured once with a
/// tiny limit; the message that exactly fills the limit is accepted, one byte more is not.
#[tokio::test]
async fn a_frame_at_the_limit_is_sent_one_byte_more_is_not() {
    const LIMIT: usize = 64 * 1024;
    let gw = mock_with(MockOptions {
        protocol: Protocol::V3,
        token: Some(TOKEN.to_string()),
        max_payload: Some(LIMIT),
        ..MockOptions::default()
    })
    .await;
    let shim = Shim::start(&gw.url()).await;

    // The 413 names the frame's size, so one refused request tells how much to trim.
    let r = shim
        .chat(user_msg("openclaw/main", &"x".repeat(LIMIT)))
        .await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let size: usize = message
        .split(|c: char| !c.is_ascii_digit())
        .find(|n| !n.is_empty() && n.parse::<usize>().ok() != Some(LIMIT))
        .and_then(|n| n.parse().ok())
        .expect("the frame size in the message");
    let fitting = LIMIT - (size - LIMIT);

    // Exactly at the limit (frame ids are fixed-length UUIDs, so the size is stable).
    let r = shim
        .chat(user_msg("openclaw/main", &"x".repeat(fitting)))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let r = shim
        .chat(user_msg("openclaw/main", &"x".repeat(fitting + 1)))
        .await;
    assert_eq!(r.status(), 413);
    // The socket survived both: a small run still works on the same connection.
    let r = shim.chat(user_msg("openclaw/main", "still here")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(run_params(&gw, "message").len(), 2);
}
