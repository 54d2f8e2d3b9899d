//! End-to-end: the OpenAI API through the real pingora server, in front of the mock gateway
//! speaking v3 (clawdbot 2026.1.24) and v4 (openclaw 2026.9.6).

use clawshim_core::gateway::SessionCleanup;
use clawshim_tests::*;
use serde_json::{json, Value};

async fn non_stream_round_trip(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = shim.chat(user_msg("openclaw/main", "hello there")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    assert!(resp.headers().contains_key("x-clawshim-run-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "openclaw/main", "model echoes the request");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 0);
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let usage = &v["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn non_stream_v3() {
    non_stream_round_trip(Protocol::V3).await;
}

#[tokio::test]
async fn non_stream_v4() {
    non_stream_round_trip(Protocol::V4).await;
}

async fn stream_round_trip(protocol: Protocol, include_usage: bool) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let mut body = user_msg("gpt-4o", "stream me please now");
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    let resp = shim.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(events.last(), Some(&Sse::Done));
    let data: Vec<&Value> = events
        .iter()
        .filter_map(|e| match e {
            Sse::Data(v) => Some(v),
            _ => None,
        })
        .collect();
    // Every chunk carries the envelope fields, with one id.
    let id = data[0]["id"].as_str().unwrap();
    for chunk in &data {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["model"], "gpt-4o");
        assert!(chunk["created"].is_u64());
        assert!(chunk["choices"].is_array());
    }
    assert_eq!(data[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_text(&events), "echo: stream me please now");
    let finish = data
        .iter()
        .find(|c| c["choices"][0]["finish_reason"].is_string())
        .expect("a finish chunk");
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let last = data.last().unwrap();
    if include_usage {
        assert_eq!(last["choices"], json!([]));
        assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    } else {
        assert!(data
            .iter()
            .all(|c| c.get("usage").is_none() || c["usage"].is_null()));
    }
}

#[tokio::test]
async fn stream_v3() {
    stream_round_trip(Protocol::V3, false).await;
}

#[tokio::test]
async fn stream_v4_with_usage() {
    stream_round_trip(Protocol::V4, true).await;
}

#[tokio::test]
async fn stream_v3_with_usage() {
    stream_round_trip(Protocol::V3, true).await;
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let c = client();
    let list: Value = c
        .get(shim.url("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids = model_ids(&list);
    for id in [
        "openclaw",
        "openclaw/default",
        "openclaw/main",
        "openclaw/beta",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    for path in [
        "/v1/models/openclaw%2Fmain",
        "/v1/models/openclaw/main",
        "/v1/models/openclaw",
    ] {
        let r = c
            .get(shim.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["object"], "model");
    }
    let r = c
        .get(shim.url("/v1/models/openclaw/nope"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn agent_routing_by_model_and_header() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    for (body, headers) in [
        (user_msg("openclaw/beta", "hi"), vec![]),
        (user_msg("openclaw:beta", "hi"), vec![]),
        (user_msg("clawdbot:beta", "hi"), vec![]),
        (user_msg("agent:beta", "hi"), vec![]),
        (
            user_msg("gpt-4o", "hi"),
            vec![("x-openclaw-agent-id", "beta")],
        ),
        (
            user_msg("gpt-4o", "hi"),
            vec![("x-clawdbot-agent-id", "beta")],
        ),
    ] {
        let r = shim.chat_with(body, &headers).await;
        assert_eq!(r.status(), 200);
    }
    let agents = run_params(&gw, "agentId");
    assert_eq!(agents, vec!["beta"; 6]);
    // Unknown names and plain model names go to the default agent; sessions follow the agent.
    let r = shim.chat(user_msg("gpt-4o", "hi")).await;
    assert_eq!(r.status(), 200);
    let last = requests_of(&gw, "agent").pop().unwrap();
    assert_eq!(last["params"]["agentId"], "main");
    assert!(last["params"]["sessionKey"]
        .as_str()
        .unwrap()
        .starts_with("agent:main:openai:"));
}

#[tokio::test]
async fn session_from_user_and_header() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let mut body = user_msg("openclaw/main", "hi");
    body["user"] = json!("Alice");
    assert_eq!(shim.chat(body).await.status(), 200);
    assert_eq!(
        shim.chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-session-key", "agent:main:custom")]
        )
        .await
        .status(),
        200
    );
    let keys = run_params(&gw, "sessionKey");
    assert_eq!(
        keys,
        vec!["agent:main:openai-user:alice", "agent:main:custom"]
    );
}

#[tokio::test]
async fn system_prompt_and_history_reach_the_gateway() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "openclaw/main", "messages": [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": [{"type": "text", "text": "first question"}]},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"}
    ]});
    let v: Value = shim.chat(body).await.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: User: second question"
    );
    let req = requests_of(&gw, "agent").remove(0);
    assert_eq!(req["params"]["extraSystemPrompt"], "be terse");
    let msg = req["params"]["message"].as_str().unwrap();
    assert!(
        msg.contains("User: first question\nAssistant: first answer"),
        "{msg}"
    );
    assert!(
        msg.ends_with("[Current message - respond to this]\nUser: second question"),
        "{msg}"
    );
}

#[tokio::test]
async fn fields_the_gateway_cannot_honour_are_accepted() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    // What Open WebUI and others attach to every chat.
    let body = json!({
        "model": "openclaw/main",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "x", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "temperature": 0.2, "top_p": 0.9, "max_tokens": 10, "seed": 1,
        "n": 1, "stop": ["\n"], "response_format": {"type": "text"}, "logit_bias": {},
        "frequency_penalty": 0, "presence_penalty": 0, "metadata": {"a": "b"},
        "some_vendor_field": {"x": 1}
    });
    let r = shim.chat(body).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn auth_failures_are_401_json() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let c = client();
    let body = user_msg("openclaw/main", "hi");
    let missing = c
        .post(shim.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, v) = error_of(missing).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let wrong = c
        .post(shim.url("/v1/chat/completions"))
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(wrong).await.0, 401);
    let models = c.get(shim.url("/v1/models")).send().await.unwrap();
    assert_eq!(error_of(models).await.0, 401);
    // No run was started for any of them.
    assert!(requests_of(&gw, "agent").is_empty());
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.max_body_bytes = Some(4096), true).await;
    let c = client();
    let post = |body: String| {
        c.post(shim.url("/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, v) = error_of(post("{\"model\":".into()).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    let (s, v) = error_of(post("{\"model\":\"x\"}".into()).await.unwrap()).await;
    assert_eq!((s, v["error"]["param"].as_str()), (400, Some("messages")));
    let (s, _) = error_of(
        post("{\"model\":\"x\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}".into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = error_of(
        post(
            "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"only system\"}]}"
                .into(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = error_of(post("{\"model\":\"x\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}".into()).await.unwrap()).await;
    assert_eq!(s, 400);
    let big = format!(
        "{{\"model\":\"x\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "a".repeat(8000)
    );
    let (s, v) = error_of(post(big).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    // Unknown explicit agent: 404 before any run starts.
    let (s, v) = error_of(shim.chat(user_msg("openclaw/nope", "hi")).await).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    let (s, _) = error_of(
        shim.chat_with(user_msg("x", "hi"), &[("x-openclaw-agent-id", "nope")])
            .await,
    )
    .await;
    assert_eq!(s, 404);
    assert!(requests_of(&gw, "agent").is_empty());
    // Wrong method: 405 with Allow.
    let r = c
        .get(shim.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(error_of(r).await.0, 405);
}

#[tokio::test]
async fn unknown_routes_are_404_when_passthrough_is_off() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.passthrough = Some(false), true).await;
    let r = client()
        .get(shim.url("/v1/nothing"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (s, v) = error_of(r).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("unknown_url")));
}

#[tokio::test]
async fn broken_agent_is_a_clean_502_that_must_not_be_retried() {
    // traces: gateway-lab broken_agent (ok:false UNAVAILABLE after acceptance)
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start(&gw.url()).await;
        let r = shim.chat(user_msg("openclaw/broken", "hi")).await;
        assert_eq!(r.headers()["x-should-retry"], "false");
        let (s, v) = error_of(r).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (502, Some("agent_run_failed"))
        );
        // Streaming: nothing was sent before the failure, so the stream held its status
        // line and answers the same (issue 19, point 5).
        let mut body = user_msg("openclaw/broken", "hi");
        body["stream"] = json!(true);
        let r = shim.chat(body).await;
        assert_eq!(r.headers()["x-should-retry"], "false");
        let (s, v) = error_of(r).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (502, Some("agent_run_failed"))
        );
    }
}

#[tokio::test]
async fn gateway_down_is_503_and_health_stays_up() {
    let port = free_port();
    let shim = Shim::start_with(
        &format!("ws://127.0.0.1:{port}"),
        |s| s.gateway_wait_secs = Some(0),
        false,
    )
    .await;
    let r = client().get(shim.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let (s, v) = error_of(shim.chat(user_msg("openclaw/main", "hi")).await).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("gateway_unavailable"))
    );
}

#[tokio::test]
async fn per_request_sessions_are_deleted_by_default() {
    // gateway-lab PERF-NOTES: on clawdbot 2026.1.x every run parses the whole session store,
    // and every stateless request adds an entry to it. v3 keeps the requested scopes of a
    // token-only operator, so `auto` asks for admin and deletes.
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start_with(&gw.url(), |_| {}, true).await;
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "stateless"))
            .await
            .status(),
        200
    );
    let mut body = user_msg("openclaw/main", "remember me");
    body["user"] = json!("dave");
    assert_eq!(shim.chat(body).await.status(), 200);
    let connect = requests_of(&gw, "connect").remove(0);
    assert_eq!(
        connect["params"]["scopes"],
        json!(["operator.read", "operator.write", "operator.admin"])
    );
    let deleted = poll_until("sessions.delete sent", || {
        let deleted: Vec<Value> = requests_of(&gw, "sessions.delete")
            .into_iter()
            .map(|r| r["params"].clone())
            .collect();
        std::future::ready(if deleted.is_empty() {
            Err("none")
        } else {
            Ok(deleted)
        })
    })
    .await;
    let runs = requests_of(&gw, "agent");
    assert_eq!(
        deleted.len(),
        1,
        "only the stateless session is deleted: {deleted:?}"
    );
    assert_eq!(deleted[0]["key"], runs[0]["params"]["sessionKey"]);
    assert_eq!(deleted[0]["deleteTranscript"], false);
}

/// `model`, `user` and the routing headers have length caps (400 naming the parameter or
/// header, before any run); values at the cap still work.
#[tokio::test]
async fn overlong_model_user_and_headers_get_400_before_any_run() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let mut body = user_msg("openclaw/main", "hi");
    body["user"] = json!("u".repeat(256));
    let r = shim
        .chat_with(
            body,
            &[
                ("x-openclaw-session-key", &"s".repeat(512)),
                ("x-openclaw-agent-id", "main"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let runs = run_params(&gw, "message").len();

    let mut long_user = user_msg("openclaw/main", "hi");
    long_user["user"] = json!("u".repeat(257));
    let long_model = user_msg(&format!("openclaw/{}", "m".repeat(250)), "hi");
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Value, Headers, &str); 4] = [
        (long_user, &[], "user"),
        (long_model, &[], "model"),
        (
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-session-key", &"s".repeat(513))],
            "x-openclaw-session-key",
        ),
        (
            user_msg("openclaw/main", "hi"),
            &[("x-clawdbot-agent-id", &"a".repeat(129))],
            "x-clawdbot-agent-id",
        ),
    ];
    for (body, headers, param) in cases {
        let (status, v) = error_of(shim.chat_with(body, headers).await).await;
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some(param)),
            "{v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains("too long"),
            "{v}"
        );
    }
    assert_eq!(
        run_params(&gw, "message").len(),
        runs,
        "no run for a refused request"
    );
}

/// `user` becomes part of a gateway session key: a NUL or another control character in it is
/// a 400 naming `user` on both run routes (and in the session header), before any run.
#[tokio::test]
async fn control_characters_in_user_get_400_before_any_run() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    for user in ["alice\u{0}admin", "bob\nagent:main:main", "eve\u{7f}"] {
        let mut chat = user_msg("openclaw/main", "hi");
        chat["user"] = json!(user);
        let (status, v) = error_of(shim.chat(chat).await).await;
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("user")),
            "{v}"
        );
        let resp = client()
            .post(shim.url("/v1/responses"))
            .bearer_auth(TOKEN)
            .json(&json!({"model": "openclaw/main", "input": "hi", "user": user}))
            .send()
            .await
            .unwrap();
        let (status, v) = error_of(resp).await;
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("user")),
            "{v}"
        );
    }
    let (status, v) = error_of(
        shim.chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-session-key", "team\tmain")],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("x-openclaw-session-key")),
        "{v}"
    );
    assert!(
        run_params(&gw, "message").is_empty(),
        "no run for a refused request"
    );
}

/// With every body slot taken (here: one, held by a client on another address that sends its
/// headers and then stalls its body, with no body deadline), another request waits for a
/// slot, then gets 503 `server_busy` with `Retry-After`; once the slot is free, requests are
/// served again.
#[tokio::test]
async fn a_request_finding_every_body_slot_taken_gets_503_after_the_wait() {
    use tokio::io::AsyncWriteExt;
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.max_concurrent_bodies = Some(1);
            s.body_timeout_secs = Some(600);
            s.body_min_bytes_per_sec = Some(0);
        },
        true,
    )
    .await;
    let addr = shim.base.trim_start_matches("http://").to_string();
    let mut stalled = raw::connect_from("127.0.0.2", raw::shim_addr(&shim))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // The stalled request holds the slot once the server has read its headers; until then
    // a request may still be served, so ask until one is refused (bounded).
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let mut refused = None;
    for _ in 0..100 {
        let resp = client
            .post(shim.url("/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .json(&user_msg("openclaw/main", "hi"))
            .send()
            .await
            .expect("an answer within the wait");
        if resp.status() == 503 {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status(), 200);
    }
    let resp = refused.expect("a request refused while the slot is held");
    assert_eq!(resp.headers()["retry-after"], "1");
    let (status, v) = error_of(resp).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("server_busy"))
    );
    drop(stalled);
    poll_until("a body slot is free again", || async {
        match shim
            .chat(user_msg("openclaw/main", "hi"))
            .await
            .status()
            .as_u16()
        {
            200 => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn sessions_are_kept_when_cleanup_is_off() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.delete_ephemeral_sessions = Some(SessionCleanup::Off),
        true,
    )
    .await;
    let res = shim.chat(user_msg("openclaw/main", "stateless")).await;
    assert_eq!(res.status(), 200);
    let connect = requests_of(&gw, "connect").remove(0);
    assert_eq!(
        connect["params"]["scopes"],
        json!(["operator.read", "operator.write"]),
        "no admin scope is asked for when nothing will be deleted"
    );
    // The run's final answer came before the response; a delete would have been sent then.
    let methods: Vec<Value> = gw
        .requests()
        .into_iter()
        .map(|r| r["method"].clone())
        .collect();
    assert!(!methods.contains(&json!("sessions.delete")), "{methods:?}");
}
