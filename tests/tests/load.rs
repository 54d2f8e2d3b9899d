//! Many streams at once through one gateway socket: every client gets exactly its own text,
//! and the gateway never closes clawshim's socket as a slow consumer. The mock applies the
//! real gateways' rule (unsent bytes above `policy.maxBufferedBytes`: 1.5 MiB on protocol 3,
//! which sends every run's events to every operator socket). `benches/streams_2000.py` runs
//! the same check at 2,000 streams with clawshim and the mock as their own processes.

use clawshim_tests::{
    client, mock_with, parse_sse, streamed_text, Shim, Sse, SOCKETS, TOKEN, WAIT,
};
use clawshim_tests::{MockOptions, Protocol};
use futures_util::future::join_all;
use serde_json::json;

/// Streams started at once; `CLAWSHIM_LOAD_STREAMS` sets another count (the script runs
/// 2,000).
const STREAMS: usize = 300;

fn stream_count() -> usize {
    std::env::var("CLAWSHIM_LOAD_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STREAMS)
}

async fn many_streams_each_get_their_own_text(protocol: Protocol) {
    let streams = stream_count();
    let gw = mock_with(MockOptions {
        token: Some(TOKEN.to_string()),
        ..MockOptions::for_protocol(protocol)
    })
    .await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.max_concurrent_runs = Some(streams * 2),
        true,
    )
    .await;
    let http = client();
    let url = shim.url("/v1/chat/completions");
    let requests = (0..streams).map(|i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let word = format!("stream-{i}");
            let body = json!({
                "model": "openclaw/main",
                "stream": true,
                "messages": [{"role": "user", "content": format!("hello {word}")}],
            });
            let response = http
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("{word}: {e}"))?;
            let status = response.status();
            let text = tokio::time::timeout(WAIT, response.text())
                .await
                .map_err(|_| format!("{word}: body not complete within {WAIT:?}"))?
                .map_err(|e| format!("{word}: {e}"))?;
            Ok::<_, String>((word, status, text))
        }
    });
    let results = join_all(requests).await;
    let mut failures = Vec::new();
    for result in results {
        let (word, status, body) = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let events = parse_sse(&body);
        let errors = events
            .iter()
            .filter(|e| matches!(e, Sse::Data(v) if v.get("error").is_some()))
            .count();
        let text = streamed_text(&events);
        let done = events.last() == Some(&Sse::Done);
        if status != 200 || errors > 0 || !done || text != format!("echo: hello {word}") {
            failures.push(format!(
                "{word}: status {status}, {errors} error events, [DONE] last: {done}, text {text:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {streams} streams failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // The same sockets the whole time: never closed as a slow consumer, never reconnected.
    assert_eq!(gw.total_connects(), SOCKETS);
    assert_eq!(gw.connections(), SOCKETS);
    drop(shim);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_at_once_on_protocol_3_each_get_their_own_text() {
    many_streams_each_get_their_own_text(Protocol::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_at_once_on_protocol_4_each_get_their_own_text() {
    many_streams_each_get_their_own_text(Protocol::V4).await;
}
