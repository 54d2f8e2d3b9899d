//! End-to-end: what a chat request adds to its run besides text (images, files, thinking,
//! backend model), checked in the `agent` params the mock gateway received, on both
//! protocol versions; and what is refused before any run starts.

use base64::Engine;
use clawshim_tests::*;
use serde_json::{json, Value};

/// A real 1x1 PNG.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn image_message(url: &str) -> Value {
    json!({"model": "openclaw/main", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is in this picture?"},
        {"type": "image_url", "image_url": {"url": url}}
    ]}]})
}

async fn inline_image_becomes_an_attachment(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat(image_message(&format!("data:image/png;base64,{PNG_1X1}")))
        .await;
    assert_eq!(resp.status(), 200);
    let params = gw.agent_params();
    assert_eq!(params.len(), 1);
    assert_eq!(
        params[0]["attachments"],
        json!([{"type": "image", "mimeType": "image/png", "content": PNG_1X1}])
    );
    assert_eq!(params[0]["message"], "what is in this picture?");
}

#[tokio::test]
async fn inline_image_v3() {
    inline_image_becomes_an_attachment(Protocol::V3).await;
}

#[tokio::test]
async fn inline_image_v4() {
    inline_image_becomes_an_attachment(Protocol::V4).await;
}

#[tokio::test]
async fn remote_image_urls_are_refused_by_default() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let (status, v) = error_of(
        shim.chat(image_message("https://example.com/cat.png"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "messages[0].content[1].image_url.url");
    assert!(gw.agent_params().is_empty(), "no run started");
}

#[tokio::test]
async fn an_image_over_the_v3_frame_limit_is_413_before_any_run() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    // A PNG signature and 600 KB: under clawdbot's 5 MB image cap, over its 512 KiB frame.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(600_000, 0);
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let (status, v) = error_of(
        shim.chat(image_message(&format!("data:image/png;base64,{data}")))
            .await,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(v["error"]["code"], "request_too_large");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("524288"),
        "{v}"
    );
    assert!(gw.agent_params().is_empty(), "no run started");
}

#[tokio::test]
async fn a_non_image_data_url_is_400() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let (status, v) = error_of(
        shim.chat(image_message("data:text/plain;base64,aGVsbG8="))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "messages[0].content[1].image_url.url");
}

async fn text_file_goes_to_the_system_prompt(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let csv = base64::engine::general_purpose::STANDARD.encode("name,qty\nbolts,12\n");
    let body = json!({"model": "openclaw/main", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "sum the quantities"},
        {"type": "file", "file": {"filename": "stock.csv", "file_data": format!("data:text/csv;base64,{csv}")}}
    ]}]});
    assert_eq!(shim.chat(body).await.status(), 200);
    let params = gw.agent_params();
    let system = params[0]["extraSystemPrompt"].as_str().unwrap();
    assert!(system.contains("<file name=\"stock.csv\""), "{system}");
    assert!(system.contains("bolts,12"), "{system}");
    assert!(params[0].get("attachments").is_none());
}

#[tokio::test]
async fn text_file_v3() {
    text_file_goes_to_the_system_prompt(Protocol::V3).await;
}

#[tokio::test]
async fn text_file_v4() {
    text_file_goes_to_the_system_prompt(Protocol::V4).await;
}

async fn reasoning_effort_sets_thinking(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    for (effort, level) in [("none", "off"), ("low", "low"), ("high", "high")] {
        let mut body = user_msg("openclaw/main", "think about it");
        body["reasoning_effort"] = json!(effort);
        assert_eq!(shim.chat(body).await.status(), 200);
        assert_eq!(gw.agent_params().last().unwrap()["thinking"], level);
    }
    let mut body = user_msg("openclaw/main", "think about it");
    body["reasoning_effort"] = json!("extreme");
    let (status, v) = error_of(shim.chat(body).await).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "reasoning_effort");
    // Without an effort the agent keeps its own default.
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "plain")).await.status(),
        200
    );
    assert!(gw.agent_params().last().unwrap().get("thinking").is_none());
}

#[tokio::test]
async fn reasoning_effort_v3() {
    reasoning_effort_sets_thinking(Protocol::V3).await;
}

#[tokio::test]
async fn reasoning_effort_v4() {
    reasoning_effort_sets_thinking(Protocol::V4).await;
}

#[tokio::test]
async fn model_header_sets_provider_and_model_on_v4() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-model", "mock/mock-echo")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let params = gw.agent_params();
    assert_eq!(params[0]["provider"], "mock");
    assert_eq!(params[0]["model"], "mock-echo");
    // The alias header and a bare model id.
    let resp = shim
        .chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-clawdbot-model", "mock-echo")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let last = gw.agent_params().pop().unwrap();
    assert_eq!(last["model"], "mock-echo");
    assert!(last.get("provider").is_none());
}

#[tokio::test]
async fn model_header_is_a_clear_400_on_v3_before_any_run() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let (status, v) = error_of(
        shim.chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-model", "mock/mock-echo")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "x-openclaw-model");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported by this gateway version"),
        "{v}"
    );
    assert!(gw.agent_params().is_empty(), "no run started");
}
