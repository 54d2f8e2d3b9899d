//! End-to-end: the agent's work (tool steps, thinking, approval waits) as reasoning, in both
//! formats and on both gateway versions, against the mock gateway replaying the recorded
//! frames (`MOCK_TOOL`, `MOCK_THINK`, `MOCK_APPROVAL`); the `progress` setting, its header
//! and per-key ceiling; what stays out (other clients' runs, tool arguments at `steps`,
//! huge results); and a stream that fails before anything holds its status.

use clawshim_core::gateway::ProgressLevel;
use clawshim_tests::*;
use serde_json::{json, Value};

/// The data chunks of a chat stream.
fn chunks(events: &[Sse]) -> Vec<&Value> {
    events
        .iter()
        .filter_map(|e| match e {
            Sse::Data(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// The concatenated `delta.reasoning_content` of a chat stream.
fn streamed_reasoning(events: &[Sse]) -> String {
    chunks(events)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect()
}

/// `(reasoning chunk positions, content chunk positions)` of a chat stream.
fn positions(events: &[Sse]) -> (Vec<usize>, Vec<usize>) {
    let data = chunks(events);
    let of = |field: &str| -> Vec<usize> {
        data.iter()
            .enumerate()
            .filter(|(_, c)| c["choices"][0]["delta"][field].is_string())
            .map(|(i, _)| i)
            .collect()
    };
    (of("reasoning_content"), of("content"))
}

async fn chat_stream(shim: &Shim, text: &str, headers: &[(&str, &str)]) -> Vec<Sse> {
    let resp = shim.chat_with(stream_msg("openclaw", text), headers).await;
    assert_eq!(resp.status(), 200);
    parse_sse(&resp.text().await.unwrap())
}

async fn responses(shim: &Shim, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = client()
        .post(shim.url("/v1/responses"))
        .bearer_auth(TOKEN)
        .json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

/// `(event name, data)` of a Responses stream.
fn named_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.trim_start().starts_with(':'))
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn v3_tool_steps_stream_as_reasoning_before_the_answer() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    let events = chat_stream(&shim, "look around MOCK_TOOL", &[]).await;
    assert_eq!(streamed_text(&events), "echo: look around MOCK_TOOL");
    // gateway-lab tool_call: `agents_list`, no title on v3; its times are the events' `ts`.
    let reasoning = streamed_reasoning(&events);
    assert!(
        reasoning.starts_with("Running: `agents_list` … done in "),
        "{reasoning:?}"
    );
    assert!(reasoning.ends_with(" s\n"), "{reasoning:?}");
    let (steps, content) = positions(&events);
    assert_eq!(steps.len(), 2, "one chunk for the start, one for the end");
    assert!(steps.iter().all(|s| content.iter().all(|c| s < c)));
    assert_eq!(events.last(), Some(&Sse::Done));
}

#[tokio::test]
async fn v4_items_and_thinking_stream_and_a_whole_answer_carries_them() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let events = chat_stream(&shim, "hi MOCK_TOOL MOCK_THINK", &[]).await;
    assert_eq!(streamed_text(&events), "echo: hi MOCK_TOOL MOCK_THINK");
    let expected = "Running: Agents … blocked in ";
    let reasoning = streamed_reasoning(&events);
    assert!(reasoning.starts_with(expected), "{reasoning:?}");
    assert!(
        reasoning.contains(" s: Tool agents_list not found\nThe user wants an echo."),
        "{reasoning:?}"
    );
    let (steps, content) = positions(&events);
    assert!(steps.iter().all(|s| content.iter().all(|c| s < c)));

    let resp = shim
        .chat(user_msg("openclaw", "hi MOCK_TOOL MOCK_THINK"))
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let message = &v["choices"][0]["message"];
    assert_eq!(message["content"], "echo: hi MOCK_TOOL MOCK_THINK");
    let whole = message["reasoning_content"].as_str().unwrap();
    assert!(whole.starts_with(expected) && whole.ends_with("The user wants an echo."));
}

/// The whole stream body with the completion id and time replaced, to compare bytes.
fn normalized(body: &str) -> String {
    let first = parse_sse(body);
    let data = chunks(&first);
    let id = data[0]["id"].as_str().unwrap().to_owned();
    let created = data[0]["created"].to_string();
    body.replace(&id, "ID")
        .replace(&format!("\"created\":{created}"), "\"created\":0")
}

#[tokio::test]
async fn progress_off_gives_the_bytes_of_a_run_without_progress() {
    let gw = mock(Protocol::V4).await;
    let off = Shim::start_with(&gw.url(), |s| s.progress = Some(ProgressLevel::Off), true).await;
    let text = "a MOCK_TOOL MOCK_THINK b";
    let resp = off.chat(stream_msg("openclaw", text)).await;
    let with_work = normalized(&resp.text().await.unwrap());
    // What clawshim always sent: role, the mock's four word deltas, finish, [DONE].
    let chunk = |delta: &str, finish: &str| {
        format!(
            "data: {{\"id\":\"ID\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"openclaw\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
        )
    };
    let mut expected = chunk(r#"{"role":"assistant"}"#, "null");
    for word in ["echo: a", " MOCK_TOOL", " MOCK_THINK", " b"] {
        expected.push_str(&chunk(&json!({ "content": word }).to_string(), "null"));
    }
    expected.push_str(&chunk("{}", "\"stop\""));
    expected.push_str("data: [DONE]\n\n");
    assert_eq!(with_work, expected);

    // The header lowers a server at `steps` to the same bytes.
    let steps = Shim::start(&gw.url()).await;
    let resp = steps
        .chat_with(
            stream_msg("openclaw", text),
            &[("x-clawshim-progress", "off")],
        )
        .await;
    assert_eq!(normalized(&resp.text().await.unwrap()), expected);
    let resp = steps
        .chat_with(
            user_msg("openclaw", text),
            &[("x-clawshim-progress", "off")],
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    assert!(v["choices"][0]["message"]
        .get("reasoning_content")
        .is_none());
}

#[tokio::test]
async fn the_header_lowers_never_raises_and_a_bad_value_is_a_400() {
    let gw = mock(Protocol::V3).await;
    let off = Shim::start_with(&gw.url(), |s| s.progress = Some(ProgressLevel::Off), true).await;
    let events = chat_stream(&off, "MOCK_TOOL", &[("x-clawshim-progress", "detailed")]).await;
    assert_eq!(
        streamed_reasoning(&events),
        "",
        "never raised past the setting"
    );

    let steps = Shim::start(&gw.url()).await;
    let events = chat_stream(&steps, "MOCK_TOOL", &[("x-clawshim-progress", "detailed")]).await;
    let reasoning = streamed_reasoning(&events);
    assert!(
        !reasoning.contains("with `"),
        "no arguments at steps: {reasoning:?}"
    );
    assert!(
        !reasoning.contains("requester"),
        "no results at steps: {reasoning:?}"
    );

    let resp = steps
        .chat_with(
            stream_msg("openclaw", "hi"),
            &[("x-clawshim-progress", "loud")],
        )
        .await;
    let (status, v) = error_of(resp).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-clawshim-progress"),
        "{v}"
    );
}

#[tokio::test]
async fn detailed_adds_arguments_and_a_result_excerpt() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.progress = Some(ProgressLevel::Detailed),
        true,
    )
    .await;
    let events = chat_stream(&shim, "MOCK_TOOL", &[]).await;
    let reasoning = streamed_reasoning(&events);
    // gateway-lab tool_call: args `{}`, the result's first text part.
    assert!(
        reasoning.starts_with("Running: `agents_list` with `{}` … done in "),
        "{reasoning:?}"
    );
    assert!(
        reasoning.contains("\"requester\": \"main\""),
        "{reasoning:?}"
    );
}

#[tokio::test]
async fn a_key_sees_no_more_than_its_ceiling() {
    let gw = mock(Protocol::V4).await;
    let key = "csk-progress-key";
    let path =
        std::env::temp_dir().join(format!("clawshim-progress-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[server]\nprogress = \"detailed\"\n[[keys]]\nname = \"guest\"\nsha256 = \"{}\"\nprogress = \"off\"\n",
            sha256_hex(key)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    let resp = client()
        .post(shim.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-clawshim-progress", "detailed")
        .json(&stream_msg("openclaw", "MOCK_TOOL MOCK_THINK"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(streamed_reasoning(&events), "");
    assert_eq!(streamed_text(&events), "echo: MOCK_TOOL MOCK_THINK");
}

#[tokio::test]
async fn another_clients_steps_never_reach_this_stream() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    // Both runs' events go to every gateway socket; each stream gets its own only.
    let (busy, quiet) = tokio::join!(
        chat_stream(&shim, "busy MOCK_TOOL MOCK_THINK", &[]),
        chat_stream(&shim, "quiet one", &[]),
    );
    assert!(!streamed_reasoning(&busy).is_empty());
    assert_eq!(streamed_reasoning(&quiet), "");
    assert_eq!(streamed_text(&quiet), "echo: quiet one");
}

#[tokio::test]
async fn responses_show_a_reasoning_item_before_the_message() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "openclaw", "input": "hi MOCK_TOOL", "stream": true});
    let resp = responses(&shim, body, &[]).await;
    assert_eq!(resp.status(), 200);
    let events = named_events(&resp.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let start = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ];
    assert_eq!(&names[..start.len()], start, "{names:?}");
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(events[2].1["item"]["type"], "reasoning");
    assert_eq!(events[9].1["item"]["type"], "message");
    assert_eq!(events[9].1["output_index"], 1);
    let summary = events[6].1["text"].as_str().unwrap();
    assert!(
        summary.starts_with("Running: Agents … blocked in "),
        "{summary}"
    );
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["type"], "reasoning");
    assert_eq!(done["output"][0]["summary"][0]["text"], summary);
    assert_eq!(
        done["output"][1]["content"][0]["text"],
        "echo: hi MOCK_TOOL"
    );

    // Not streamed: the same items; and the reasoning item sent back as input is accepted
    // (the Agents SDK replays it).
    let body = json!({"model": "openclaw", "input": "hi MOCK_TOOL"});
    let whole: Value = responses(&shim, body, &[]).await.json().await.unwrap();
    assert_eq!(whole["output"][0]["type"], "reasoning");
    assert_eq!(
        whole["output"][1]["content"][0]["text"],
        "echo: hi MOCK_TOOL"
    );
    let replay = json!({
        "model": "openclaw",
        "input": [
            {"role": "user", "content": "hi"},
            whole["output"][0].clone(),
            whole["output"][1].clone(),
            {"role": "user", "content": "again"},
        ],
    });
    let resp = responses(&shim, replay, &[]).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    // The history goes in the run's envelope; the echo is its last line.
    assert!(v["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .ends_with("again"));
}

#[tokio::test]
async fn responses_without_progress_keep_their_old_shape() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let body = json!({"model": "openclaw", "input": "hi MOCK_TOOL", "stream": true});
    let resp = responses(&shim, body, &[("x-clawshim-progress", "off")]).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains("reasoning_summary"), "{text}");
    let events = named_events(&text);
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
    assert!(events
        .iter()
        .all(|(_, d)| d["output_index"].as_u64().unwrap_or(0) == 0));
}

#[tokio::test]
async fn an_approval_that_never_comes_shows_until_the_run_times_out() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.run_timeout_secs = Some(1), true).await;
    let resp = shim
        .chat(stream_msg("openclaw", "clean up MOCK_APPROVAL"))
        .await;
    assert_eq!(
        resp.status(),
        200,
        "the steps came first: the stream had begun"
    );
    let events = parse_sse(&resp.text().await.unwrap());
    let reasoning = streamed_reasoning(&events);
    assert_eq!(
        reasoning,
        "Running: Run `rm -rf build`\nWaiting for approval of `rm -rf build` on gateway: approve it in the Control UI\n"
    );
    let last_data = chunks(&events).last().unwrap().to_string();
    assert!(
        last_data.contains("error"),
        "the timeout ends it: {last_data}"
    );
    assert_eq!(events.last(), Some(&Sse::Done));
}

#[tokio::test]
async fn a_ten_megabyte_result_and_a_nameless_step_are_bounded_lines() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.progress = Some(ProgressLevel::Detailed),
        true,
    )
    .await;
    let resp = shim
        .chat(stream_msg("openclaw", "progress MOCK_HANG"))
        .await;
    let mut body = BodyReader::new(resp);
    let run = wait_run_id(&gw, "progress MOCK_HANG").await;
    let event = |stream: &str, data: Value| {
        json!({"type": "event", "event": "agent", "payload": {
            "runId": run, "stream": stream, "data": data, "seq": 9, "ts": 1}})
        .to_string()
    };
    gw.send_raw(&event("item", json!({"kind": "tool", "phase": "start"})));
    let big = "y".repeat(10 * 1024 * 1024);
    gw.send_raw(&event(
        "tool",
        json!({"phase": "result", "name": "read", "toolCallId": "c9", "isError": false,
               "result": {"content": [{"type": "text", "text": big}]}}),
    ));
    body.until("yyyy").await;
    // The whole event that carries the excerpt (it may come in more than one read).
    while !body.text()[body.text().find("yyyy").unwrap()..].contains("\n\n") {
        assert!(body.chunk().await, "the stream ended mid-event");
    }
    let text = body.text().to_owned();
    drop(body);
    let events = parse_sse(&text[..text.rfind("\n\n").map_or(0, |i| i + 2)]);
    let reasoning = streamed_reasoning(&events);
    assert!(reasoning.contains("Running: a tool\n"), "{reasoning:?}");
    let line = reasoning.lines().find(|l| l.contains("yyy")).unwrap();
    assert!(
        line.len() < 1024,
        "an excerpt, not the result: {} bytes",
        line.len()
    );
}

#[tokio::test]
async fn a_stream_that_fails_before_anything_answers_with_a_status() {
    for protocol in [Protocol::V3, Protocol::V4] {
        let gw = mock(protocol).await;
        let shim = Shim::start(&gw.url()).await;
        // The agent with an unknown model fails at once (traces: broken_agent).
        let stream = shim.chat(stream_msg("openclaw/broken", "hi")).await;
        let whole = shim.chat(user_msg("openclaw/broken", "hi")).await;
        assert_eq!(stream.status(), whole.status(), "{protocol:?}");
        assert_eq!(
            stream.headers().get("x-should-retry"),
            whole.headers().get("x-should-retry"),
            "{protocol:?}"
        );
        let (_, s) = error_of(stream).await;
        let (_, w) = error_of(whole).await;
        assert_eq!(s["error"]["code"], w["error"]["code"], "{protocol:?}");
    }
}
