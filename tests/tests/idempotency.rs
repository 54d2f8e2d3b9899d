//! End-to-end: `Idempotency-Key`. A retried request never runs the agent twice: after the
//! first run finished it gets the gateway's cached answer; while the first run's client is
//! still reading it gets a 409; when the first client left mid-run, the retry joins the run,
//! which was kept (not aborted) for it. The mock caches `agent` answers by key like both real
//! gateways (gateway-lab idempotent_replay) and counts the runs it played.

use std::time::Duration;

use clawshim_tests::*;
use serde_json::Value;

async fn content(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_retry_after_the_run_finished_gets_its_answer_without_a_second_run() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start(&gw.url()).await;
        let key = [("Idempotency-Key", "order-42")];
        let first = content(
            shim.chat_with(user_msg("openclaw/main", "pay once"), &key)
                .await,
        )
        .await;
        let again = content(
            shim.chat_with(user_msg("openclaw/main", "pay once"), &key)
                .await,
        )
        .await;
        assert_eq!(first, "echo: pay once");
        assert_eq!(again, first);
        assert_eq!(gw.runs_started(), 1, "{protocol:?}: one LLM call");
        let keys = run_ids(&gw, "pay once");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], keys[1]);
        assert_ne!(keys[0], "order-42", "the raw key stays with clawshim");
        // Another key is another run.
        let other = [("Idempotency-Key", "order-43")];
        content(
            shim.chat_with(user_msg("openclaw/main", "pay once"), &other)
                .await,
        )
        .await;
        assert_eq!(gw.runs_started(), 2);
    }
}

#[tokio::test]
async fn a_retry_while_the_first_client_still_reads_is_a_409() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let key = [("Idempotency-Key", "busy-key")];
    let body = stream_msg("openclaw/main", "MOCK_HANG busy");
    let first = shim.chat_with(body.clone(), &key).await;
    assert_eq!(first.status(), 200);
    let mut first = BodyReader::new(first);
    first.chunk().await;
    let r = shim.chat_with(body, &key).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "idempotency_key_in_use");
    assert_eq!(v["error"]["param"], "Idempotency-Key");
    assert_eq!(gw.runs_started(), 1);
}

#[tokio::test]
async fn a_retry_after_the_client_left_mid_run_joins_the_run() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock_with(MockOptions {
            protocol,
            chunk_delay: Duration::from_millis(300),
            ..MockOptions::default()
        })
        .await;
        let shim = Shim::start(&gw.url()).await;
        let key = [("Idempotency-Key", "cut-connection")];
        let text = "a reply long enough to take a while";
        // The first client gives up once the run is going (a proxy idle timeout, say).
        let first = shim.chat_with(user_msg("openclaw/main", text), &key);
        tokio::select! {
            r = first => panic!("the first request ended while its run was going: {}", r.status()),
            _ = wait_run_id(&gw, text) => {}
        }
        // Until clawshim has seen the first client leave, the key is busy (409, which the
        // SDKs retry on their own).
        let retried = poll_until("the retry accepted", || async {
            let r = shim.chat_with(user_msg("openclaw/main", text), &key).await;
            match r.status().as_u16() {
                409 => Err(409),
                _ => Ok(r),
            }
        })
        .await;
        let retry = content(retried).await;
        assert_eq!(retry, format!("echo: {text}"));
        assert_eq!(
            gw.runs_started(),
            1,
            "{protocol:?}: the retry joined the first run"
        );
        assert!(
            requests_of(&gw, "chat.abort").is_empty(),
            "a run kept for its retry is not aborted"
        );
    }
}

#[tokio::test]
async fn an_invalid_key_is_a_400() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let r = shim
        .chat_with(
            user_msg("openclaw/main", "x"),
            &[("Idempotency-Key", "two words")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["param"], "Idempotency-Key");
    assert_eq!(gw.runs_started(), 0);
}
