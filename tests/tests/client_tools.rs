//! End-to-end: requests with client tools (issue 20) through the real pingora server, against
//! the mock gateway's own `/v1/chat/completions` (its recorded openclaw shapes) and its
//! WebSocket for everything else: tool calls out, results in, renames both ways, the header
//! saying what became of the tools, the cases where they are ignored, and that auth, keys,
//! namespaces and aborts hold on the HTTP source too.

use clawshim_proxy::run::client_tools::ClientToolsMode;
use clawshim_tests::poll::wait_until;
use clawshim_tests::*;
use serde_json::{json, Value};

const KEY: &str = "csk-tools-key";
const HEADER: &str = "x-clawshim-tools";

fn weather() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

async fn gateway(http_endpoint: bool) -> MockGateway {
    mock_with(MockOptions {
        http_endpoint,
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await
}

async fn post_as(
    shim: &Shim,
    path: &str,
    key: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client().post(shim.url(path)).bearer_auth(key).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn header(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn tool_chat(text: &str) -> Value {
    json!({"model": "openclaw/main", "messages": [{"role": "user", "content": text}], "tools": [weather()]})
}

#[tokio::test]
async fn a_chat_round_trip_runs_through_the_gateways_endpoint() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim
        .chat(tool_chat("MOCK_TOOL:get_weather {\"city\":\"Paris\"}"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp).as_deref(), Some("run"));
    let run_id = resp.headers()["x-clawshim-run-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let v: Value = resp.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert!(
        run_id.starts_with("chatcmpl_"),
        "the gateway's run id: {run_id}"
    );
    assert_eq!(gw.runs_started(), 0, "no WebSocket run");

    let sent = &gw.http_requests()[0];
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(sent
        .header("x-openclaw-session-key")
        .unwrap()
        .starts_with("agent:main:openai:"));
    assert!(sent
        .headers
        .iter()
        .all(|(k, _)| !k.starts_with("x-forwarded")));

    let id = call["id"].as_str().unwrap();
    let follow = json!({"model": "openclaw/main", "tools": [weather()], "messages": [
        {"role": "user", "content": "MOCK_TOOL:get_weather {\"city\":\"Paris\"}"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "sunny"}
    ]});
    let resp = shim.chat(follow).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: tool result sunny"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let message = gw.http_requests()[1].body["messages"][0]["content"].clone();
    let message = message.as_str().unwrap();
    assert!(
        message.contains(&format!(
            "Assistant: tool_call id={id} name=get_weather arguments={{\"city\":\"Paris\"}}"
        )),
        "{message}"
    );
    assert!(message.ends_with(&format!("Tool:{id}: sunny")), "{message}");
}

#[tokio::test]
async fn a_streamed_tool_call_has_its_deltas_and_finish_reason() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let mut body = tool_chat("MOCK_TOOL:get_weather {\"city\":\"Oslo\"}");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = shim.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp).as_deref(), Some("run"));
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(events.last(), Some(&Sse::Done));
    let chunks: Vec<&Value> = events
        .iter()
        .filter_map(|e| match e {
            Sse::Data(v) => Some(v),
            _ => None,
        })
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls[0]["id"].as_str().is_some());
    let args: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"city\":\"Oslo\"}");
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| {
            c["choices"][0]
                .get("finish_reason")
                .filter(|f| !f.is_null())
        })
        .collect();
    assert_eq!(finishes, [&json!("tool_calls")]);
    assert!(chunks.last().unwrap()["usage"]["total_tokens"]
        .as_u64()
        .is_some());
}

#[tokio::test]
async fn a_tool_named_like_openclaws_own_is_renamed_and_mapped_back() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let ask = json!({"type": "function", "function": {"name": "ask_user", "parameters": {"type": "object"}}});
    let body = json!({"model": "openclaw/main", "tools": [weather(), ask],
                      "messages": [{"role": "user", "content": "MOCK_TOOL:client_ask_user {\"q\":1}"}]});
    let resp = shim.chat(body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "ask_user"
    );
    let sent = gw.http_requests();
    let names: Vec<&str> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_weather", "client_ask_user"]);
}

#[tokio::test]
async fn responses_function_calls_and_their_output_with_previous_response_id() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let tool = json!({"type": "function", "name": "get_weather", "parameters": {"type": "object"}});
    let codex_like =
        json!([tool, {"type": "web_search"}, {"type": "custom", "name": "apply_patch"}]);
    let body = json!({"model": "openclaw/main", "input": "MOCK_TOOL:get_weather {\"city\":\"Rome\"}", "tools": codex_like});
    let resp = post_as(&shim, "/v1/responses", TOKEN, &body, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp).as_deref(),
        Some("run; dropped=custom,web_search")
    );
    let v: Value = resp.json().await.unwrap();
    let call = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "function_call")
        .expect("a function_call item")
        .clone();
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], "{\"city\":\"Rome\"}");
    let follow = json!({"model": "openclaw/main", "previous_response_id": v["id"], "tools": [tool],
                        "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "warm"}]});
    let resp = post_as(&shim, "/v1/responses", TOKEN, &follow, &[]).await;
    assert_eq!(resp.status(), 200);
    let v2: Value = resp.json().await.unwrap();
    assert_eq!(
        v2["output"][0]["content"][0]["text"],
        "echo: tool result warm"
    );
    let [first, second] = &gw.http_requests()[..] else {
        panic!("two HTTP runs");
    };
    assert_eq!(
        first.header("x-openclaw-session-key"),
        second.header("x-openclaw-session-key"),
        "the continuation runs in the same session"
    );
}

#[tokio::test]
async fn an_endpoint_that_is_off_ignores_the_tools_and_says_so() {
    let gw = gateway(false).await;
    let shim = Shim::start(&gw.url()).await;
    for _ in 0..2 {
        let resp = shim.chat(tool_chat("hello")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp).as_deref(),
            Some("ignored; reason=endpoint-off")
        );
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "echo: hello");
    }
    assert_eq!(gw.http_requests().len(), 1, "the answer is remembered");
    let mut required = tool_chat("hello");
    required["tool_choice"] = json!("required");
    let resp = shim.chat(required).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "tool_choice");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("chatCompletions"));
}

#[tokio::test]
async fn clawdbot_answers_with_tools_ignored_and_refuses_a_required_choice() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim.chat(tool_chat("hello v3")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp).as_deref(),
        Some("ignored; reason=unsupported-gateway")
    );
    let mut forced = tool_chat("hello v3");
    forced["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let resp = shim.chat(forced).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "tool_choice");
    assert_eq!(gw.runs_started(), 1, "the refused request ran nothing");
    let plain = shim.chat(user_msg("openclaw/main", "no tools")).await;
    assert_eq!(header(&plain), None);
}

#[tokio::test]
async fn client_tools_off_for_the_server_or_a_key() {
    let gw = gateway(true).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.client_tools = Some(ClientToolsMode::Off),
        true,
    )
    .await;
    let resp = shim.chat(tool_chat("hello")).await;
    assert_eq!(header(&resp).as_deref(), Some("ignored; reason=off"));
    assert!(gw.http_requests().is_empty());

    let gw = gateway(true).await;
    let path = std::env::temp_dir().join(format!("clawshim-tools-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nname = \"quiet\"\nsha256 = \"{}\"\nclient_tools = \"off\"\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(path);
            // With keys, the shared token is a client credential only when listed.
            s.api_tokens = Some(vec![TOKEN.to_string()]);
        },
        true,
    )
    .await;
    let resp = post_as(&shim, "/v1/chat/completions", KEY, &tool_chat("hello"), &[]).await;
    assert_eq!(header(&resp).as_deref(), Some("ignored; reason=off"));
    let resp = shim
        .chat(tool_chat("MOCK_TOOL:get_weather {\"city\":\"Paris\"}"))
        .await;
    assert_eq!(
        header(&resp).as_deref(),
        Some("run"),
        "the shared token keeps the server's setting"
    );
}

#[tokio::test]
async fn a_keys_namespace_and_allowlist_hold_on_the_http_source() {
    let gw = gateway(true).await;
    let path = std::env::temp_dir().join(format!("clawshim-tools-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nname = \"team\"\nsha256 = \"{}\"\nagents = [\"main\"]\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    let body = tool_chat("MOCK_TOOL:get_weather {\"city\":\"Paris\"}");
    let resp = post_as(
        &shim,
        "/v1/chat/completions",
        KEY,
        &body,
        &[("x-openclaw-session-key", "agent:main:team:mine")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let sent = &gw.http_requests()[0];
    assert_eq!(
        sent.header("x-openclaw-session-key"),
        Some("agent:main:team:mine")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the gateway credential, not the key"
    );

    let outside = post_as(
        &shim,
        "/v1/chat/completions",
        KEY,
        &body,
        &[("x-openclaw-session-key", "agent:main:main")],
    )
    .await;
    assert_eq!(outside.status(), 403);
    let mut beta = body.clone();
    beta["model"] = json!("openclaw/beta");
    let other_agent = post_as(&shim, "/v1/chat/completions", KEY, &beta, &[]).await;
    assert!(
        other_agent.status() == 403 || other_agent.status() == 404,
        "{}",
        other_agent.status()
    );
    assert_eq!(
        gw.http_requests().len(),
        1,
        "nothing refused reached the gateway"
    );
}

#[tokio::test]
async fn bad_tools_are_a_400_naming_them_before_anything_is_sent() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let cases = [
        (json!({"tools": {}}), "tools"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "bad name"}}]}),
            "tools[0].function.name",
        ),
        (
            json!({"tools": [weather()], "tool_choice": {"type": "allowed_tools"}}),
            "tool_choice",
        ),
        (
            json!({"tools": [weather()], "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            "tool_choice",
        ),
    ];
    for (extra, param) in cases {
        let mut body = user_msg("openclaw/main", "hi");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = shim.chat(body).await;
        assert_eq!(resp.status(), 400, "{param}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], param);
    }
    assert!(gw.http_requests().is_empty() && gw.runs_started() == 0);
}

#[tokio::test]
async fn a_client_that_leaves_aborts_the_http_run() {
    let gw = gateway(true).await;
    let shim = Shim::start(&gw.url()).await;
    let mut body = tool_chat("MOCK_HANG");
    body["stream"] = json!(true);
    let resp = shim.chat(body).await;
    assert_eq!(resp.status(), 200);
    wait_until("the run reached the gateway", || {
        gw.http_requests().len() == 1
    })
    .await;
    drop(resp);
    wait_until("the gateway saw its client go", || {
        gw.http_requests()[0].outcome == "client_gone"
    })
    .await;
}

#[tokio::test]
async fn a_finished_http_run_deletes_its_per_request_session_when_asked() {
    let gw = gateway(true).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.delete_ephemeral_sessions = Some(clawshim_core::gateway::SessionCleanup::Always),
        true,
    )
    .await;
    let resp = shim
        .chat(tool_chat("MOCK_TOOL:get_weather {\"city\":\"Paris\"}"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp).as_deref(), Some("run"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let sent = gw.http_requests()[0]
        .header("x-openclaw-session-key")
        .expect("the session goes as a header")
        .to_owned();
    wait_until("sessions.delete of the run's session", || {
        requests_of(&gw, "sessions.delete")
            .iter()
            .any(|r| r["params"]["key"] == sent.as_str())
    })
    .await;
}
