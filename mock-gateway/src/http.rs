//! openclaw's own `POST /v1/chat/completions`, as far as clawshim's HTTP run source uses it
//! (streamed requests with client tools), on the gateway's port beside the WebSocket.
//!
//! The answers follow the shapes recorded from openclaw 2026.9.6 in
//! `fixtures/v4/http/*.raw.txt` (docs/client-tools.md): the role chunk, text deltas, a tool
//! call as one chunk with its id and name and one with its arguments, the finish chunk, the
//! usage chunk, `[DONE]`; failures after the headers as one `{"error":{...}}` event. What
//! the fake model does comes from the current turn of the run's message, like the interop
//! mock LLM:
//!
//! | in the current turn | answer |
//! | --- | --- |
//! | `MOCK_TOOL:<name> {json}` (arguments optional) | a call of `<name>` (the gateway's spelling of the name) when the request offers it, else text `Tool <name> not found` |
//! | `Tool:<id>: <output>` (a caller's result) | `echo: tool result <output>` |
//! | `MOCK_HTTP_400` | the recorded provider-error event |
//! | `MOCK_HANG` | the role chunk, then nothing until the client goes (recorded as `client_gone`) |
//! | anything else | `echo: <turn>` in word deltas |
//!
//! And as the gateway: 400 for a request without messages (what `clawshim doctor`'s probe
//! sends); 404 when the endpoint is off ([`crate::MockOptions::http_endpoint`])
//! or on protocol 3; 401 for a wrong bearer token; 403 for forwarding headers; a client tool
//! named like one of openclaw's own (a few of them: [`OWN_TOOLS`]) or twice is the recorded
//! "invalid tool configuration" event; `tool_choice` `required` or a forced function without
//! a call is the recorded unsatisfied-choice event; a forced function the request does not
//! offer is the recorded 400.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{lock, HttpRecord, Shared};

/// Some of openclaw 2026.9.6's own tool names (a client tool with one is refused).
pub(crate) const OWN_TOOLS: [&str; 10] = [
    "ask_user",
    "exec",
    "bash",
    "read",
    "write",
    "edit",
    "apply_patch",
    "grep",
    "find",
    "web_search",
];

/// Largest request read (openclaw's chat body limit).
const MAX_BODY: usize = 20 * 1024 * 1024;

/// Whether a connection starts with a `POST` (this module's) rather than the WebSocket
/// upgrade's `GET`; `None` when it sends nothing for 10 s (the upgrade's own limit).
pub(crate) async fn is_plain_post(tcp: &TcpStream) -> Option<bool> {
    let mut head = [0u8; 5];
    match tokio::time::timeout(Duration::from_secs(10), tcp.peek(&mut head)).await {
        Ok(Ok(n)) => Some(n == 5 && &head == b"POST "),
        Ok(Err(_)) | Err(_) => None,
    }
}

/// Serves one request on `tcp`, then closes it.
pub(crate) async fn serve(shared: Arc<Shared>, mut tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let Some((path, headers, body)) = read_request(&mut tcp).await else {
        return;
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let index = {
        let mut records = lock(&shared.http_requests);
        records.push(HttpRecord {
            path: path.clone(),
            headers: headers.clone(),
            body: parsed.clone(),
            outcome: "in_progress".into(),
        });
        records.len() - 1
    };
    let outcome = answer(&shared, &mut tcp, &path, &headers, &parsed).await;
    lock(&shared.http_requests)[index].outcome = outcome.into();
    let _ = tcp.shutdown().await;
}

async fn answer(
    shared: &Shared,
    tcp: &mut TcpStream,
    path: &str,
    headers: &[(String, String)],
    body: &Value,
) -> &'static str {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let endpoint_on = shared.opts.http_endpoint && shared.v4();
    if path != "/v1/chat/completions" || !endpoint_on {
        let _ = write_plain(tcp, 404, "text/plain; charset=utf-8", "Not Found").await;
        return "not_found";
    }
    let expected: Vec<String> = [&shared.opts.token, &shared.opts.password]
        .into_iter()
        .flatten()
        .map(|s| format!("Bearer {s}"))
        .collect();
    if !header("authorization").is_some_and(|a| expected.iter().any(|e| e == a)) {
        let body = r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#;
        let _ = write_plain(tcp, 401, "application/json; charset=utf-8", body).await;
        return "unauthorized";
    }
    if [
        "forwarded",
        "x-real-ip",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    ]
    .iter()
    .any(|h| header(h).is_some())
    {
        let _ = write_plain(
            tcp,
            403,
            "application/json; charset=utf-8",
            crate::conn::PROXY_ATTRIBUTION_BODY,
        )
        .await;
        return "forwarded_refused";
    }
    if body["messages"].as_array().is_none_or(|m| m.is_empty()) {
        // traces: openclaw-lab http_chat_completions_no_messages
        let body = r#"{"error":{"message":"Missing user message in `messages`.","type":"invalid_request_error"}}"#;
        let _ = write_plain(tcp, 400, "application/json; charset=utf-8", body).await;
        return "no_messages";
    }
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["function"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let forced = body["tool_choice"]["function"]["name"].as_str();
    if let Some(name) = forced.filter(|n| !tools.contains(n)) {
        let message =
            format!("Invalid tools/tool_choice: tool_choice requested unknown tool: {name}");
        let body =
            json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string();
        let _ = write_plain(tcp, 400, "application/json; charset=utf-8", &body).await;
        return "bad_tool_choice";
    }
    let run_id = format!("chatcmpl_{}", crate::uuid());
    let model = body["model"].as_str().unwrap_or("openclaw").to_owned();
    let chunk = |choices: Value| {
        json!({"id": run_id, "object": "chat.completion.chunk", "created": crate::now_ms() / 1000,
               "model": model, "choices": choices})
    };
    if write_stream_head(tcp).await.is_err() {
        return "client_gone";
    }
    let mut out = Vec::new();
    sse(
        &mut out,
        &chunk(json!([{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}])),
    );
    if send(tcp, &mut out).await.is_err() {
        return "client_gone";
    }
    let lowered: Vec<String> = tools.iter().map(|t| t.to_ascii_lowercase()).collect();
    let clash = lowered
        .iter()
        .enumerate()
        .any(|(i, t)| OWN_TOOLS.contains(&t.as_str()) || lowered[..i].contains(t));
    if clash {
        // fixtures/v4/http/chat_ask_user_conflict_stream.raw.txt
        return error_end(tcp, "invalid tool configuration", "invalid_request_error").await;
    }
    let turn = current_turn(body);
    if turn.contains("MOCK_HANG") {
        // Nothing more until the client goes: a read returns 0 (or fails) then.
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_secs(60), tcp.read(&mut buf)).await;
        return "client_gone";
    }
    if turn.contains("MOCK_HTTP_400") {
        // fixtures/v4/http/chat_llm400_stream_with_tools.raw.txt
        return error_end(
            tcp,
            "400 mock: injected bad request (MOCK_HTTP_400)",
            "invalid_request_error",
        )
        .await;
    }
    let call = mock_tool(&turn).filter(|(name, _)| tools.contains(&name.as_str()));
    let choice = &body["tool_choice"];
    if call.is_none() && (choice == "required" || forced.is_some()) {
        // fixtures/v4/http/chat_forced_unsatisfied_stream.raw.txt
        let message = match forced {
            Some(name) => format!(
                "tool_choice required a {name} tool call, but the agent did not produce one"
            ),
            None => "tool_choice=required was not satisfied by the agent response".into(),
        };
        return error_end(tcp, &message, "api_error").await;
    }
    let text = match (&call, mock_tool(&turn)) {
        (Some(_), _) => String::new(),
        (None, Some((name, _))) => format!("Tool {name} not found"),
        (None, None) => match turn.strip_prefix("Tool:").and_then(|r| r.split_once(": ")) {
            Some((_, output)) => format!(
                "echo: tool result {}",
                output.chars().take(80).collect::<String>()
            ),
            None => format!("echo: {turn}"),
        },
    };
    for word in words(&text) {
        tokio::time::sleep(shared.opts.chunk_delay).await;
        sse(
            &mut out,
            &chunk(json!([{"index": 0, "delta": {"content": word}, "finish_reason": null}])),
        );
        if send(tcp, &mut out).await.is_err() {
            return "client_gone";
        }
    }
    if let Some((name, arguments)) = &call {
        // fixtures/v4/http/chat_tool_stream.raw.txt: the gateway's own call id.
        let id = crate::uuid().replace('-', "")[..9].to_owned();
        sse(
            &mut out,
            &chunk(
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": id, "type": "function",
            "function": {"name": name, "arguments": ""}}]}, "finish_reason": null}]),
            ),
        );
        sse(
            &mut out,
            &chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0,
            "function": {"arguments": arguments}}]}, "finish_reason": null}])),
        );
    }
    let finish = if call.is_some() { "tool_calls" } else { "stop" };
    sse(
        &mut out,
        &chunk(json!([{"index": 0, "delta": {}, "finish_reason": finish}])),
    );
    if body["stream_options"]["include_usage"] == true {
        let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        sse(&mut out, &last);
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    if send(tcp, &mut out).await.is_err() {
        return "client_gone";
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    if call.is_some() {
        "tool_call"
    } else {
        "completed"
    }
}

/// `MOCK_TOOL:<name>` and its arguments (`{}` when none follow on the line).
fn mock_tool(turn: &str) -> Option<(String, String)> {
    let rest = &turn[turn.find("MOCK_TOOL:")? + "MOCK_TOOL:".len()..];
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if name.is_empty() {
        return None;
    }
    let line = rest[name.len()..].lines().next().unwrap_or("").trim();
    let arguments = if line.starts_with('{') && line.ends_with('}') {
        line.to_owned()
    } else {
        "{}".to_owned()
    };
    Some((name, arguments))
}

/// The text to answer: the last user message's text, after the history envelope's
/// `[Current message - respond to this]` line, without a `User: ` label.
fn current_turn(body: &Value) -> String {
    let text = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .unwrap_or_default();
    let turn = match text.rsplit_once("[Current message - respond to this]\n") {
        Some((_, after)) => after,
        None => text.as_str(),
    };
    turn.strip_prefix("User: ")
        .unwrap_or(turn)
        .trim()
        .to_owned()
}

fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, w) in text.split(' ').enumerate() {
        out.push(if i == 0 {
            w.to_owned()
        } else {
            format!(" {w}")
        });
    }
    out.retain(|w| !w.is_empty());
    out
}

fn sse(out: &mut Vec<u8>, value: &Value) {
    out.extend_from_slice(format!("data: {value}\n\n").as_bytes());
}

/// Writes `out` as one chunk of the chunked body and clears it.
async fn send(tcp: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut frame = format!("{:x}\r\n", out.len()).into_bytes();
    frame.append(out);
    frame.extend_from_slice(b"\r\n");
    tcp.write_all(&frame).await?;
    tcp.flush().await
}

/// The error event, `[DONE]` and the end of the body.
async fn error_end(tcp: &mut TcpStream, message: &str, kind: &str) -> &'static str {
    let mut out = Vec::new();
    sse(
        &mut out,
        &json!({"error": {"message": message, "type": kind}}),
    );
    out.extend_from_slice(b"data: [DONE]\n\n");
    let _ = send(tcp, &mut out).await;
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    "error"
}

async fn write_stream_head(tcp: &mut TcpStream) -> std::io::Result<()> {
    // The recorded headers of a streamed answer (chat_tool_stream.raw.txt).
    tcp.write_all(
        b"HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
Content-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n\
Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await
}

async fn write_plain(
    tcp: &mut TcpStream,
    status: u16,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await
}

/// Path, lower-case headers and body of one request (`Content-Length` bodies only, as
/// clawshim sends them); `None` when it is cut, too big or too slow.
async fn read_request(tcp: &mut TcpStream) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut piece))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut piece))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&piece[..n]);
    }
    body.truncate(len);
    Some((path, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_turn_and_the_tool_keyword() {
        let body = json!({"messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "[Chat messages since your last reply - for context]\nUser: a\n\n[Current message - respond to this]\nUser: MOCK_TOOL:get_weather {\"city\":\"Paris\"}"}
        ]});
        let turn = current_turn(&body);
        assert_eq!(turn, "MOCK_TOOL:get_weather {\"city\":\"Paris\"}");
        assert_eq!(
            mock_tool(&turn),
            Some(("get_weather".into(), "{\"city\":\"Paris\"}".into()))
        );
        assert_eq!(mock_tool("MOCK_TOOL:f"), Some(("f".into(), "{}".into())));
        assert_eq!(mock_tool("no tool"), None);
        let parts = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}]});
        assert_eq!(current_turn(&parts), "hi");
        assert_eq!(words("echo: a b"), ["echo:", " a", " b"]);
    }
}
