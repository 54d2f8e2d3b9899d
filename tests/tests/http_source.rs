//! The second run source (`clawshim_core::http_source`) against the mock gateway's own
//! `/v1/chat/completions`: what it sends, the events it gives, refusals, and the abort when
//! the run is dropped.

use std::time::Duration;

use clawshim_core::client_tools::{ClientTools, ToolChoice, ToolList};
use clawshim_core::gateway::{GatewayAuth, Secret};
use clawshim_core::gateway::{GatewayError, RunEvent, RunRequest, StopKind};
use clawshim_core::http_source::{HttpSource, HttpSourceConfig, StartError};
use clawshim_core::routing::SessionKey;
use clawshim_mock_gateway::{MockGateway, MockOptions, Protocol};
use clawshim_tests::poll::wait_until;
use serde_json::json;
use tokio::time::Instant;

async fn mock(endpoint: bool, protocol: Protocol) -> MockGateway {
    MockGateway::start(MockOptions {
        http_endpoint: endpoint,
        ..MockOptions::for_protocol(protocol)
    })
    .await
    .unwrap()
}

fn source(mock: &MockGateway, token: &str) -> HttpSource {
    HttpSource::new(HttpSourceConfig {
        base_url: format!("http://{}", mock.addr()),
        auth: GatewayAuth::Token(Secret::new(token)),
        tls_roots: None,
        connect_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn request(message: &str) -> RunRequest {
    RunRequest {
        extra_system_prompt: Some("be brief".into()),
        ..RunRequest::new("main", SessionKey::named("agent:main:team:s1"), message)
    }
}

fn tools(names: &[&str], choice: ToolChoice) -> ClientTools {
    let list: Vec<serde_json::Value> = names
        .iter()
        .map(|n| json!({"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}))
        .collect();
    ClientTools::plan(ToolList::from_chat(&json!(list)).unwrap(), choice)
        .unwrap()
        .unwrap()
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

#[tokio::test]
async fn a_tool_call_comes_back_under_the_callers_name() {
    let gw = mock(true, Protocol::V4).await;
    let tools = tools(&["get_weather", "ask_user"], ToolChoice::Auto);
    let mut run = source(&gw, "secret")
        .start(
            &request("MOCK_TOOL:client_ask_user {\"q\":\"why\"}"),
            &tools,
        )
        .await
        .unwrap();
    assert!(run.id().as_str().starts_with("chatcmpl_"), "{:?}", run.id());
    let RunEvent::Finished(outcome) = run.next(later()).await else {
        panic!("no outcome");
    };
    assert_eq!(outcome.stop, StopKind::Completed);
    assert_eq!(outcome.tool_calls.len(), 1);
    assert_eq!(outcome.tool_calls[0].name, "ask_user");
    assert_eq!(outcome.tool_calls[0].arguments, "{\"q\":\"why\"}");

    let sent = &gw.http_requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer secret"));
    assert_eq!(
        sent.header("x-openclaw-session-key"),
        Some("agent:main:team:s1")
    );
    assert_eq!(sent.header("x-openclaw-agent-id"), Some("main"));
    let names: Vec<&str> = sent.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["get_weather", "client_ask_user"],
        "renamed on the way in"
    );
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.outcome, "tool_call");
}

#[tokio::test]
async fn text_runs_stream_their_deltas() {
    let gw = mock(true, Protocol::V4).await;
    let mut run = source(&gw, "secret")
        .start(&request("hello there"), &tools(&["f"], ToolChoice::Auto))
        .await
        .unwrap();
    let mut text = String::new();
    let outcome = loop {
        match run.next(later()).await {
            RunEvent::Delta(t) => text.push_str(&t),
            RunEvent::Finished(o) => break o,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(text, "echo: hello there");
    assert_eq!(outcome.text, text);
    assert!(outcome.tool_calls.is_empty());
    assert_eq!(outcome.usage.map(|u| u.total), Some(15));
}

#[tokio::test]
async fn an_unmet_tool_choice_and_a_provider_error_fail_the_run() {
    let gw = mock(true, Protocol::V4).await;
    let mut run = source(&gw, "secret")
        .start(&request("plain text"), &tools(&["f"], ToolChoice::Required))
        .await
        .unwrap();
    assert!(matches!(
        run.next(later()).await,
        RunEvent::Failed(GatewayError::RunFailed { message, .. }) if message.contains("tool_choice=required")
    ));
    let mut run = source(&gw, "secret")
        .start(&request("MOCK_HTTP_400"), &tools(&["f"], ToolChoice::Auto))
        .await
        .unwrap();
    assert!(matches!(
        run.next(later()).await,
        RunEvent::Failed(GatewayError::RunFailed { code, .. }) if code == "invalid_request_error"
    ));
}

#[tokio::test]
async fn an_endpoint_that_is_off_or_a_v3_gateway_is_said_and_a_wrong_token_refused() {
    for gw in [
        mock(false, Protocol::V4).await,
        mock(true, Protocol::V3).await,
    ] {
        let err = source(&gw, "secret")
            .start(&request("hi"), &tools(&["f"], ToolChoice::Auto))
            .await
            .unwrap_err();
        assert!(matches!(err, StartError::EndpointOff), "{err:?}");
    }
    let gw = mock(true, Protocol::V4).await;
    let err = source(&gw, "wrong")
        .start(&request("hi"), &tools(&["f"], ToolChoice::Auto))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::Failed(GatewayError::Rejected { code, .. }) if code == "UNAUTHORIZED"),
        "{err:?}"
    );
    assert_eq!(gw.runs_started(), 0);
}

#[tokio::test]
async fn dropping_the_run_drops_the_request_and_the_gateway_sees_its_client_go() {
    let gw = mock(true, Protocol::V4).await;
    let run = source(&gw, "secret")
        .start(&request("MOCK_HANG"), &tools(&["f"], ToolChoice::Auto))
        .await
        .unwrap();
    assert_eq!(gw.http_requests()[0].outcome, "in_progress");
    drop(run);
    wait_until("the mock saw the client go", || {
        gw.http_requests()[0].outcome == "client_gone"
    })
    .await;
}

#[tokio::test]
async fn the_local_deadline_is_an_event() {
    let gw = mock(true, Protocol::V4).await;
    let mut run = source(&gw, "secret")
        .start(&request("MOCK_HANG"), &tools(&["f"], ToolChoice::Auto))
        .await
        .unwrap();
    assert_eq!(run.next(Instant::now()).await, RunEvent::TimedOut);
}
