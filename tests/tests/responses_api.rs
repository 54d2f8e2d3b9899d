//! End-to-end: `POST /v1/responses` (JSON and SSE, continuation, the fields real clients
//! send) and `POST /v1/embeddings`, through the real pingora server and the mock gateway.

use std::sync::{Arc, Mutex};

use clawshim_tests::*;
use serde_json::{json, Value};

async fn post(shim: &Shim, path: &str, body: &Value, token: &str) -> reqwest::Response {
    client()
        .post(shim.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// `event:` + `data:` blocks of a Responses stream, as (event name, data).
fn parse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.trim_start().starts_with(':'))
        .map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).unwrap_or_else(|e| panic!("{d}: {e}")));
                }
            }
            (name.expect("event line"), data.expect("data line"))
        })
        .collect()
}

async fn non_stream(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "openclaw/main", "input": "hello responses",
                      "instructions": "Answer briefly.", "metadata": {"ticket": "42"}});
    let resp = post(&shim, "/v1/responses", &body, TOKEN).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "openclaw/main");
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["metadata"], json!({"ticket": "42"}));
    let item = &v["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "echo: hello responses");
    assert_eq!(item["content"][0]["annotations"], json!([]));
    let usage = &v["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
    let params = gw.agent_params();
    assert_eq!(params[0]["message"], "hello responses");
    assert!(params[0]["extraSystemPrompt"]
        .as_str()
        .unwrap()
        .contains("Answer briefly."));
}

#[tokio::test]
async fn non_stream_v3() {
    non_stream(Protocol::V3).await;
}

#[tokio::test]
async fn non_stream_v4() {
    non_stream(Protocol::V4).await;
}

async fn stream(protocol: Protocol) {
    let gw = mock(protocol).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "openclaw/main", "input": "stream these words", "stream": true});
    let resp = post(&shim, "/v1/responses", &body, TOKEN).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("[DONE]"),
        "no [DONE] after the terminal event"
    );
    let events = parse_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        &names[names.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str(), "event name matches its type");
        assert_eq!(data["sequence_number"], i as u64);
    }
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(streamed, "echo: stream these words");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(
        completed["output"][0]["content"][0]["text"],
        "echo: stream these words"
    );
    assert!(completed["usage"]["total_tokens"].is_u64());
}

#[tokio::test]
async fn stream_v3() {
    stream(Protocol::V3).await;
}

#[tokio::test]
async fn stream_v4() {
    stream(Protocol::V4).await;
}

#[tokio::test]
async fn previous_response_id_continues_the_same_session() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let first: Value = post(&shim, "/v1/responses", &json!({"input": "first"}), TOKEN)
        .await
        .json()
        .await
        .unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    let second = post(
        &shim,
        "/v1/responses",
        &json!({"input": "second", "previous_response_id": id}),
        TOKEN,
    )
    .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["previous_response_id"], id.as_str());
    assert_ne!(second["id"], id.as_str(), "every response gets its own id");
    let params = gw.agent_params();
    assert_eq!(params.len(), 2);
    assert_eq!(params[0]["sessionKey"], params[1]["sessionKey"]);

    // The next clawshim in front of the same gateway (a restart, another instance) accepts it.
    let other = Shim::start(&gw.url()).await;
    let third = post(
        &other,
        "/v1/responses",
        &json!({"input": "third", "previous_response_id": second["id"]}),
        TOKEN,
    )
    .await;
    assert_eq!(third.status(), 200);
    assert_eq!(
        gw.agent_params().last().unwrap()["sessionKey"],
        params[0]["sessionKey"]
    );
}

#[tokio::test]
async fn a_tampered_or_unknown_previous_response_id_is_openais_400() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let first: Value = post(&shim, "/v1/responses", &json!({"input": "first"}), TOKEN)
        .await
        .json()
        .await
        .unwrap();
    let id = first["id"].as_str().unwrap();
    // Flip one character of the signed payload.
    let mut tampered: Vec<char> = id.chars().collect();
    tampered[8] = if tampered[8] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [tampered.as_str(), "resp_0123456789abcdef", "not-an-id"] {
        let resp = post(
            &shim,
            "/v1/responses",
            &json!({"input": "again", "previous_response_id": bad}),
            TOKEN,
        )
        .await;
        assert_eq!(resp.status(), 400, "{bad}");
        let error: Value = resp.json().await.unwrap();
        assert_eq!(error["error"]["code"], "previous_response_not_found");
        assert_eq!(error["error"]["param"], "previous_response_id");
        assert_eq!(
            error["error"]["message"],
            format!("Previous response with id '{bad}' not found.")
        );
    }
    assert_eq!(gw.agent_params().len(), 1, "no run for a refused id");
}

#[tokio::test]
async fn what_codex_and_the_agents_sdk_send_is_accepted() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let developer = "You are Codex. ".repeat(2_700); // ~40 KB, as Codex sends
    let body = json!({
        "model": "openclaw/main",
        "instructions": "Be terse.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": developer}]},
            {"role": "user", "content": "list the files"}
        ],
        "tools": [
            {"type": "function", "name": "shell", "parameters": {"type": "object"}},
            {"type": "web_search"},
            {"type": "namespace", "name": "mcp"}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "low", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "abc",
        "client_metadata": {"x": "y"},
        "text": {"verbosity": "low"}
    });
    let resp = post(&shim, "/v1/responses", &body, TOKEN).await;
    assert_eq!(resp.status(), 200);
    let events = parse_events(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "response.completed");
    assert_eq!(events.last().unwrap().1["response"]["store"], false);
    let params = gw.agent_params();
    assert_eq!(params[0]["message"], "list the files");
    assert_eq!(params[0]["thinking"], "low");
    let system = params[0]["extraSystemPrompt"].as_str().unwrap();
    assert!(system.starts_with("Be terse."));
    assert!(system.contains("You are Codex."));
}

#[tokio::test]
async fn responses_needs_auth_and_valid_input() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let resp = post(&shim, "/v1/responses", &json!({"input": "hi"}), "wrong").await;
    assert_eq!(resp.status(), 401);
    let resp = post(&shim, "/v1/responses", &json!({"input": 42}), TOKEN).await;
    assert_eq!(resp.status(), 400);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["error"]["param"], "input");
    let resp = client()
        .get(shim.url("/v1/responses"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(gw.agent_params().is_empty());
}

#[tokio::test]
async fn responses_images_reach_the_run() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let body = json!({"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "describe"},
        {"type": "input_image", "image_url": format!("data:image/png;base64,{png}")}
    ]}]});
    assert_eq!(
        post(&shim, "/v1/responses", &body, TOKEN).await.status(),
        200
    );
    let params = gw.agent_params();
    assert_eq!(params[0]["attachments"][0]["mimeType"], "image/png");
    assert_eq!(params[0]["attachments"][0]["content"], png);
}

#[tokio::test]
async fn embeddings_need_auth_and_say_when_the_gateway_has_none() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "text-embedding-3-small", "input": "hello"});
    let resp = post(&shim, "/v1/embeddings", &body, "wrong").await;
    assert_eq!(resp.status(), 401);
    let resp = post(&shim, "/v1/embeddings", &body, TOKEN).await;
    assert_eq!(resp.status(), 404);
    let error: Value = resp.json().await.unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no embeddings endpoint"));
}

/// A front for the mock gateway on one port, as a real gateway serves HTTP and its WebSocket
/// together: `POST /v1/embeddings` is answered here (and its request head recorded), every
/// other connection is piped to the mock.
async fn embeddings_front(mock: std::net::SocketAddr) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tcp.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                if !text.starts_with("POST /v1/embeddings ") {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(mock).await else {
                        return;
                    };
                    if upstream.write_all(&head).await.is_ok() {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
                    }
                    return;
                }
                let length = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = tcp.read_exact(&mut body).await;
                record
                    .lock()
                    .unwrap()
                    .push(format!("{text}{}", String::from_utf8_lossy(&body)));
                let answer = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tcp.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("ws://{addr}"), seen)
}

#[tokio::test]
async fn embeddings_go_to_the_gateway_with_the_gateways_credential() {
    let gw = mock(Protocol::V4).await;
    let (url, seen) = embeddings_front(gw.addr()).await;
    // Clients use their own token; the gateway's is TOKEN.
    let shim = Shim::start_with(
        &url,
        |s| s.api_tokens = Some(vec!["client-token".to_string()]),
        true,
    )
    .await;
    let body = json!({"model": "text-embedding-3-small", "input": "hello"});
    let resp = post(&shim, "/v1/embeddings", &body, TOKEN).await;
    assert_eq!(
        resp.status(),
        401,
        "the gateway token is not a client token here"
    );
    let resp = post(&shim, "/v1/embeddings", &body, "client-token").await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"][0]["embedding"], json!([0.5, -0.25]));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one forwarded request");
    let request = seen[0].to_ascii_lowercase();
    assert!(
        request.contains(&format!("authorization: bearer {TOKEN}")),
        "{request}"
    );
    assert!(!request.contains("client-token"), "{request}");
    let forwarded: Value = serde_json::from_str(seen[0].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(forwarded, body, "the body is forwarded as sent");
}

#[tokio::test]
async fn embeddings_follow_the_keys_agent_allowlist() {
    const KEY: &str = "csk-embeddings-beta";
    let gw = mock(Protocol::V4).await;
    let (url, seen) = embeddings_front(gw.addr()).await;
    let conf = std::env::temp_dir().join(format!("clawshim-emb-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &conf,
        format!(
            "[[keys]]\nname = \"beta-only\"\nsha256 = \"{}\"\nagents = [\"beta\"]\n\
             [auth]\ntokens = [\"{TOKEN}\"]\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(&url, move |s| s.config = Some(conf), true).await;
    let embed = |model: &str| json!({"model": model, "input": "hello"});
    // Another agent, by model or by header: 404 as for chat, nothing sent.
    for model in ["openclaw/main", "agent:main", "openclaw:main"] {
        let resp = post(&shim, "/v1/embeddings", &embed(model), KEY).await;
        assert_eq!(resp.status(), 404, "{model}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "model_not_found", "{model}: {v}");
    }
    let resp = client()
        .post(shim.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .header("x-openclaw-agent-id", "main")
        .json(&embed("openclaw/beta"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the gateway"
    );
    // Its own agent, named or not: forwarded, pinned to that agent.
    for model in ["openclaw/beta", "openclaw"] {
        let resp = post(&shim, "/v1/embeddings", &embed(model), KEY).await;
        assert_eq!(resp.status(), 200, "{model}");
    }
    // The operator's shared token reaches any agent.
    let resp = post(&shim, "/v1/embeddings", &embed("openclaw/main"), TOKEN).await;
    assert_eq!(resp.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let agents: Vec<String> = seen
        .iter()
        .map(|r| {
            r.to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("x-openclaw-agent-id: ").map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(agents, ["beta", "beta", "main"]);
}
