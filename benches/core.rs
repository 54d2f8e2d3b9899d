//! Benchmarks of the per-request pure work: parsing a request body, building the agent
//! prompt from a long history, translating a streamed run into SSE bytes, and the added cost
//! of one tool step shown as progress (the gateway event's `data` read into a typed step,
//! rendered as a line, written as a `reasoning_content` chunk).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use clawshim_core::gateway::progress::{self, ProgressLevel};
use clawshim_core::gateway::{RunEvent, RunOutcome, StopKind, Usage};
use clawshim_core::openai::{request, sse};
use clawshim_core::run_format::RunFormat;
use clawshim_core::translate::{ChatTranslator, CompletionMeta, StreamItem};
use clawshim_core::{openai::ChatMessage, prompt};

/// An Open WebUI-style request: system prompt, a short history, `tools` and sampling fields.
fn open_webui_body() -> Vec<u8> {
    serde_json::json!({
        "model": "openclaw/main",
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": 0.7,
        "max_tokens": 1024,
        "user": "alice@example.com",
        "tools": [
            {"type": "function", "function": {
                "name": "web_search", "description": "Search the web",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                               "required": ["query"]}}},
            {"type": "function", "function": {
                "name": "get_weather", "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
        ],
        "messages": [
            {"role": "system", "content": "You are a helpful assistant. Answer concisely."},
            {"role": "user", "content": "What's the capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": [
                {"type": "text", "text": "And what is this a picture of?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]}
        ],
        "metadata": {"chat_id": "c1", "message_id": "m1"}
    })
    .to_string()
    .into_bytes()
}

fn history(turns: usize) -> Vec<ChatMessage> {
    let mut messages = vec![serde_json::json!({"role": "system", "content": "Be brief."})];
    for i in 0..turns {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(serde_json::json!({
            "role": role,
            "content": format!("Message number {i}: some ordinary sentence of chat text."),
        }));
    }
    serde_json::from_value(serde_json::Value::Array(messages)).expect("valid messages")
}

fn bench_parse(c: &mut Criterion) {
    let body = open_webui_body();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("open_webui_request", |b| {
        b.iter(|| request::parse(black_box(&body)).expect("valid request"))
    });
    group.finish();
}

fn bench_prompt(c: &mut Criterion) {
    let messages = history(20);
    c.bench_function("prompt/build_20_messages", |b| {
        b.iter(|| prompt::build(black_box(&messages)).expect("has user text"))
    });
}

fn bench_translate(c: &mut Criterion) {
    let deltas: Vec<String> = (0..100).map(|i| format!("token{i} ")).collect();
    let full: String = deltas.concat();
    let meta = CompletionMeta {
        id: "chatcmpl-00000000-0000-0000-0000-000000000000".to_owned(),
        model: "openclaw/main".to_owned(),
        created: 1_700_000_000,
    };
    let mut group = c.benchmark_group("translate");
    group.throughput(Throughput::Elements(deltas.len() as u64));
    group.bench_function("100_deltas_to_sse", |b| {
        b.iter(|| {
            let mut t = ChatTranslator::new(meta.clone(), true);
            let mut bytes = sse::data(&t.role_chunk()).len();
            let events = deltas
                .iter()
                .cloned()
                .map(RunEvent::Delta)
                .chain(std::iter::once(RunEvent::Finished(RunOutcome {
                    replayed: false,
                    text: full.clone(),
                    usage: Some(Usage::default()),
                    stop: StopKind::Completed,
                    tool_calls: Vec::new(),
                })));
            for ev in events {
                for item in t.on_event(ev) {
                    bytes += match item {
                        StreamItem::Chunk(chunk) => sse::data(&chunk).len(),
                        StreamItem::Error(_) => 0,
                        StreamItem::Done => sse::DONE.len(),
                    };
                }
            }
            black_box(bytes)
        })
    });
    group.finish();
}

/// One tool step recorded on openclaw 2026.9.6 (openclaw-lab tool_call: `item` start and
/// end): gateway event data to SSE bytes, as clawshim does it for each step.
fn bench_progress(c: &mut Criterion) {
    let start = serde_json::value::RawValue::from_string(r#"{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"start","title":"Agents","status":"running","commandBearing":false,"startedAt":1795689841412}"#.to_owned()).unwrap();
    let end = serde_json::value::RawValue::from_string(r#"{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"end","title":"Agents","status":"blocked","commandBearing":false,"startedAt":1795689841412,"endedAt":1795689841418,"error":"Tool agents_list not found"}"#.to_owned()).unwrap();
    let meta = CompletionMeta {
        id: "chatcmpl-00000000-0000-0000-0000-000000000000".to_owned(),
        model: "openclaw/main".to_owned(),
        created: 1_700_000_000,
    };
    let step_bytes = |t: &mut ChatTranslator| {
        let mut bytes = 0;
        for data in [&start, &end] {
            let step = progress::parse("item", data, Some(1), ProgressLevel::Steps).unwrap();
            for item in t.on_event(RunEvent::Progress(step)) {
                if let StreamItem::Chunk(chunk) = item {
                    bytes += sse::data(&chunk).len();
                }
            }
        }
        bytes
    };
    println!(
        "progress: one tool step = {} SSE bytes (start + end chunks)",
        step_bytes(&mut ChatTranslator::new(meta.clone(), false))
    );
    let mut group = c.benchmark_group("progress");
    group.throughput(Throughput::Elements(1));
    group.bench_function("tool_step_to_sse", |b| {
        b.iter(|| {
            let mut t = ChatTranslator::new(meta.clone(), false);
            black_box(step_bytes(&mut t))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_prompt,
    bench_translate,
    bench_progress
);
criterion_main!(benches);
