//! End-to-end: what runs in flight may hold. Keys without a limit of their own share the run
//! slots (one key's hanging runs leave room for the others), and the bytes of run requests
//! waiting for the gateway are bounded (`limits.max_run_bytes_in_flight`), each request freed
//! once the gateway accepted it.

use clawshim_tests::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

const KEY_A: &str = "csk-run-limits-a";
const KEY_B: &str = "csk-run-limits-b";

fn config_file(body: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("clawshim-runs-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, body).unwrap();
    path
}

async fn shim_with(gw: &MockGateway, toml: &str, max_runs: Option<usize>) -> Shim {
    let path = config_file(toml);
    Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(path);
            s.max_concurrent_runs = max_runs;
        },
        true,
    )
    .await
}

/// A streaming chat as `token`; returns the response (headers read).
async fn stream_as(shim: &Shim, token: &str, text: &str) -> reqwest::Response {
    let mut body = user_msg("openclaw/main", text);
    body["stream"] = json!(true);
    client()
        .post(shim.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A run that the gateway accepted and that then hangs: its first bytes are read.
async fn hanging(shim: &Shim, token: &str, text: &str) -> impl Sized {
    let resp = stream_as(shim, token, &format!("{text}\nMOCK_HANG")).await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    assert!(first.is_some_and(|c| c.is_ok()));
    stream
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn one_key_cannot_take_every_run_slot() {
    let gw = mock(Protocol::V4).await;
    let keys = format!(
        "[[keys]]\nname = \"a\"\nsha256 = \"{}\"\n[[keys]]\nname = \"b\"\nsha256 = \"{}\"\n",
        sha256_hex(KEY_A),
        sha256_hex(KEY_B)
    );
    // Four run slots, two keys without limits of their own: two each by default.
    let shim = shim_with(&gw, &keys, Some(4)).await;
    let _a1 = hanging(&shim, KEY_A, "a1").await;
    let _a2 = hanging(&shim, KEY_A, "a2").await;
    let (status, v) = error_of(stream_as(&shim, KEY_A, "a3").await).await;
    assert_eq!(status, 429, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key has too many runs in flight"),
        "{v}"
    );
    // The other key still runs.
    let resp = stream_as(&shim, KEY_B, "b1").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("[DONE]"));
}

#[tokio::test]
async fn the_share_is_a_setting_and_a_single_key_keeps_everything() {
    let gw = mock(Protocol::V4).await;
    let one = format!(
        "[[keys]]\nname = \"a\"\nsha256 = \"{}\"\n",
        sha256_hex(KEY_A)
    );
    let shim = shim_with(&gw, &one, Some(3)).await;
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(hanging(&shim, KEY_A, &format!("a{i}")).await);
    }
    drop(held);
    drop(shim);
    let two = format!(
        "[limits]\nkey_run_share_percent = 25\n[[keys]]\nname = \"a\"\nsha256 = \"{}\"\n\
         [[keys]]\nname = \"b\"\nsha256 = \"{}\"\n",
        sha256_hex(KEY_A),
        sha256_hex(KEY_B)
    );
    let shim = shim_with(&gw, &two, Some(8)).await;
    let _a = (
        hanging(&shim, KEY_A, "a1").await,
        hanging(&shim, KEY_A, "a2").await,
    );
    assert_eq!(stream_as(&shim, KEY_A, "a3").await.status(), 429);
}

#[tokio::test]
async fn run_requests_waiting_for_the_gateway_are_bounded_and_freed_once_accepted() {
    let gw = mock(Protocol::V4).await;
    let shim = shim_with(&gw, "[limits]\nmax_run_bytes_in_flight = 300000\n", None).await;
    let big = "x".repeat(200_000);
    // Accepted runs hold nothing: two 200 kB runs hang side by side under a 300 kB budget.
    let first = hanging(&shim, TOKEN, &big).await;
    let second = hanging(&shim, TOKEN, &big).await;
    drop((first, second));

    // A 200 kB run the gateway never accepts holds its bytes while it waits...
    let waiting = {
        let url = shim.url("/v1/chat/completions");
        let body = json!({"model": "openclaw/main", "stream": true,
            "messages": [{"role": "user", "content": format!("{big}\nMOCK_NO_ACCEPT MOCK_HANG")}]});
        tokio::spawn(async move {
            client()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
        })
    };
    wait_until("the gateway got the run that is never accepted", || {
        run_params(&gw, "message")
            .iter()
            .any(|m| m.contains("MOCK_NO_ACCEPT"))
    })
    .await;
    // ...so another 200 kB run does not fit: 503 server_busy naming the setting, no run.
    let runs = run_params(&gw, "message").len();
    let (status, v) = error_of(stream_as(&shim, TOKEN, &big).await).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "server_busy", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.max_run_bytes_in_flight"),
        "{v}"
    );
    assert_eq!(run_params(&gw, "message").len(), runs);
    // A small one still fits; one larger than the whole budget never could: 413.
    let small = stream_as(&shim, TOKEN, "hi").await;
    assert_eq!(small.status(), 200);
    assert!(small.text().await.unwrap().contains("[DONE]"));
    let (status, v) = error_of(stream_as(&shim, TOKEN, &"y".repeat(310_000)).await).await;
    assert_eq!(status, 413, "{v}");
    // The waiting client leaves: its bytes are free again.
    waiting.abort();
    let _ = waiting.await;
    poll_until("the waiting run's bytes freed", || async {
        let resp = stream_as(&shim, TOKEN, &big).await;
        match resp.status().as_u16() {
            200 => Ok(resp.text().await.unwrap()),
            s => Err(s),
        }
    })
    .await;
}
