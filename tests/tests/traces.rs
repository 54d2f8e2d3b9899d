//! End-to-end: OTLP trace export to a real OTLP/HTTP receiver on loopback. The receiver
//! below accepts `POST /v1/traces` and decodes each body with the official protobuf
//! definitions (`opentelemetry-proto`), so the test reads spans, not strings.
//!
//! One chat stream under a client's `traceparent` gives the server span (the client's span
//! its parent) and `invoke_agent` inside it with the GenAI attributes; a passthrough request
//! is a plain HTTP span; no prompt, answer or token appears anywhere in what is exported; each
//! request's access line carries its trace id.
//! Then the collector is killed while requests keep coming: every request still succeeds and
//! the lost spans are counted in `clawshim_trace_spans_dropped_total`.
//!
//! The trace pipeline is process-wide (one `tracing` subscriber), so this binary holds a
//! single test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clawshim_proxy::config::{Config, Settings};
use clawshim_proxy::ops::telemetry::{self, LogFormat};
use clawshim_tests::*;
use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Words that must never be exported: the prompt, and the client's bearer token.
const PROMPT: &str = "tell me about the violet heron";

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
/// The trace of the request with client tools.
/// The trace of the request whose agent runs a tool step.
const STEP_TRACE: &str = "5bf92f3577b34da6a3ce929d0e0e4737";
const TOOL_TRACE: &str = "5c0a3e8d2b1f4e6a9d7c8b0a1e2f3d4c";

/// The log lines, as JSON, kept for the test to read.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lines").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogLines {
    /// The trace id of the access line of the request to `path`, once it is written.
    fn trace_id_of(&self, path: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.0.lock().expect("log lines")).into_owned();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["target"] == "clawshim::access" && l["path"] == path)
            .map(|l| l["trace_id"].as_str().unwrap_or("").to_string())
    }
}

/// A span as received, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body, answered 200.
struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!(
            "http://{}/v1/traces",
            listener.local_addr().expect("address")
        );
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (store, count) = (spans.clone(), requests.clone());
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the task closes them all.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(serve(stream, store.clone(), count.clone()));
            }
        });
        Collector {
            endpoint,
            spans,
            requests,
            task,
        }
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().expect("spans").clone()
    }

    /// Stop listening and close every connection, as a crashed collector would.
    fn kill(&self) {
        self.task.abort();
    }
}

/// One keep-alive connection of the receiver.
async fn serve(mut stream: TcpStream, store: Arc<Mutex<Vec<Received>>>, count: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            assert!(buf.len() < 64 << 10, "request head too long");
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        assert!(head.starts_with("post /v1/traces "), "{head}");
        assert!(
            head.contains("content-type: application/x-protobuf"),
            "{head}"
        );
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("content-length");
        assert!(length < 16 << 20, "export too large: {length}");
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 65536];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        let mut received = Vec::new();
        for resource in request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| text_of(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        store.lock().expect("spans").extend(received);
        count.fetch_add(1, Ordering::Relaxed);
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn value_of<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text_of(attrs: &[KeyValue], key: &str) -> Option<String> {
    match value_of(attrs, key)? {
        Any::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_of(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match value_of(attrs, key)? {
        Any::IntValue(n) => Some(*n),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every string an exported span carries: name, attribute and event values.
fn strings_of(span: &Span) -> Vec<String> {
    fn walk(v: &Any, out: &mut Vec<String>) {
        match v {
            Any::StringValue(s) => out.push(s.clone()),
            Any::ArrayValue(a) => a
                .values
                .iter()
                .filter_map(|v| v.value.as_ref())
                .for_each(|v| walk(v, out)),
            other => out.push(format!("{other:?}")),
        }
    }
    let mut out = vec![span.name.clone()];
    let attrs = span
        .attributes
        .iter()
        .chain(span.events.iter().flat_map(|e| e.attributes.iter()));
    for kv in attrs {
        out.push(kv.key.clone());
        if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            walk(v, &mut out);
        }
    }
    out.extend(span.events.iter().map(|e| e.name.clone()));
    out
}

/// The dropped-span count by reason, from the Prometheus listener.
async fn dropped(metrics: &str) -> HashMap<String, f64> {
    let text = client()
        .get(metrics)
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter_map(|l| l.strip_prefix("clawshim_trace_spans_dropped_total{reason=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(reason, n)| (reason.to_string(), n.parse().unwrap_or(0.0)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_runs_are_exported_and_a_dead_collector_costs_nothing() {
    let collector = Collector::start().await;
    // The export settings through the configuration, as an operator would set them.
    let traces = Config::load(&Settings {
        gateway_token: Some(TOKEN.into()),
        traces: clawshim_proxy::config::TraceFlags {
            otlp_traces_endpoint: Some(collector.endpoint.clone()),
            otel_service_name: Some("clawshim-under-test".into()),
            otlp_headers: Some("x-collector-key=k%2C1".into()),
            ..Default::default()
        },
        ..Settings::default()
    })
    .expect("valid config")
    .traces
    .expect("trace export on");
    let logs = LogLines::default();
    let pipeline = {
        let logs = logs.clone();
        telemetry::init_writing_to(LogFormat::Json, Some(&traces), move || logs.clone(), false)
            .expect("pipeline installed")
    };

    let gw = mock(Protocol::V4).await;
    let metrics_port = free_port();
    let shim = Shim::start_with(
        &gw.url(),
        |s| s.listeners.metrics_listen = Some(format!("127.0.0.1:{metrics_port}")),
        true,
    )
    .await;
    let metrics = format!("http://127.0.0.1:{metrics_port}/metrics");

    // One chat stream, continuing the client's trace.
    let mut body = user_msg("openclaw/main", PROMPT);
    body["stream"] = json!(true);
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let resp = shim
        .chat_with(
            body,
            &[
                ("traceparent", traceparent.as_str()),
                ("tracestate", "vendor=opaque"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.expect("stream"));
    assert_eq!(events.last(), Some(&Sse::Done));
    // And a passthrough request (the mock has no HTTP side: a 502/503).
    let pass = client().get(shim.url("/")).send().await.expect("answer");
    let pass_status = i64::from(pass.status().as_u16());

    let spans = poll_until("the request, run and passthrough spans", || {
        let spans = collector.spans();
        std::future::ready({
            let has = |name: &str| spans.iter().any(|s| s.span.name == name);
            if has("POST /v1/chat/completions")
                && has("invoke_agent main")
                && has("admission wait")
                && has("GET")
            {
                Ok(spans)
            } else {
                Err(spans
                    .iter()
                    .map(|s| s.span.name.clone())
                    .collect::<Vec<_>>())
            }
        })
    })
    .await;
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.span.name == name)
            .map(|s| s.span.clone())
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    assert!(spans.iter().all(|s| s.service == "clawshim-under-test"));

    // The server span: the client's span is its parent, HTTP attributes.
    let server = find("POST /v1/chat/completions");
    assert_eq!(hex(&server.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    assert_eq!(server.kind, SpanKind::Server as i32);
    let a = &server.attributes;
    assert_eq!(text_of(a, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        text_of(a, "http.route").as_deref(),
        Some("/v1/chat/completions")
    );
    assert_eq!(
        text_of(a, "url.path").as_deref(),
        Some("/v1/chat/completions")
    );
    assert_eq!(int_of(a, "http.response.status_code"), Some(200));
    assert_eq!(text_of(a, "client.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(text_of(a, "url.scheme").as_deref(), Some("http"));
    assert_eq!(value_of(a, "error.type"), None);
    assert!(server.trace_state.contains("vendor=opaque"), "{server:?}");

    // invoke_agent inside it, with the GenAI attributes.
    let run = find("invoke_agent main");
    assert_eq!(run.trace_id, server.trace_id);
    assert_eq!(run.parent_span_id, server.span_id);
    assert_eq!(run.kind, SpanKind::Client as i32);
    let a = &run.attributes;
    assert_eq!(
        text_of(a, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(
        text_of(a, "gen_ai.provider.name").as_deref(),
        Some("openclaw")
    );
    assert_eq!(text_of(a, "gen_ai.agent.id").as_deref(), Some("main"));
    // The display name the gateway lists for the agent.
    assert_eq!(text_of(a, "gen_ai.agent.name").as_deref(), Some("Main"));
    let conversation = text_of(a, "gen_ai.conversation.id").expect("conversation id");
    assert!(conversation.starts_with("agent:main:"), "{conversation}");
    assert!(int_of(a, "gen_ai.usage.input_tokens").is_some_and(|n| n > 0));
    assert!(int_of(a, "gen_ai.usage.output_tokens").is_some_and(|n| n > 0));
    match value_of(a, "gen_ai.response.finish_reasons") {
        Some(Any::ArrayValue(reasons)) => assert_eq!(
            reasons.values[0].value,
            Some(Any::StringValue("stop".into()))
        ),
        other => panic!("finish reasons: {other:?}"),
    }
    assert_eq!(value_of(a, "error.type"), None);
    assert_eq!(
        value_of(a, "gen_ai.request.model"),
        None,
        "no model asked for"
    );
    let event_names: Vec<&str> = run.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(event_names, ["accepted", "first_delta"]);
    assert!(run.start_time_unix_nano >= server.start_time_unix_nano);
    assert!(run.end_time_unix_nano <= server.end_time_unix_nano);

    // The admission wait inside the run.
    let wait = find("admission wait");
    assert_eq!(wait.parent_span_id, run.span_id);
    assert!(wait.end_time_unix_nano <= run.events[0].time_unix_nano);

    // Passthrough: a plain HTTP span of its own trace, no route, the gateway's status.
    let pass = find("GET");
    assert_ne!(pass.trace_id, server.trace_id);
    assert!(pass.parent_span_id.is_empty(), "a root span");
    assert_eq!(value_of(&pass.attributes, "http.route"), None);
    assert_eq!(text_of(&pass.attributes, "url.path").as_deref(), Some("/"));
    assert_eq!(
        int_of(&pass.attributes, "http.response.status_code"),
        Some(pass_status)
    );
    assert!(text_of(&pass.attributes, "error.type").is_some());
    assert_eq!(
        pass.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );

    // The access lines name the traces.
    let access = |path: &'static str| {
        let logs = logs.clone();
        poll_until("the access line", move || {
            std::future::ready(logs.trace_id_of(path).ok_or(path))
        })
    };
    assert_eq!(access("/v1/chat/completions").await, CLIENT_TRACE);
    assert_eq!(access("/").await, hex(&pass.trace_id));

    // Nothing the client wrote or was answered, nor its token.
    for s in &spans {
        for text in strings_of(&s.span) {
            assert!(!text.contains("violet heron"), "prompt in {text}");
            assert!(!text.contains(TOKEN), "token in {text}");
            assert!(!text.contains("k,1"), "collector key in {text}");
        }
    }
    assert!(dropped(&metrics).await.values().all(|n| *n == 0.0));

    // A request with client tools runs through the gateway's own HTTP endpoint: the same
    // invoke_agent span (finish reason `tool_calls`), and no tool argument recorded.
    let tool_gw = mock_with(MockOptions {
        http_endpoint: true,
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await;
    let tool_shim = Shim::start(&tool_gw.url()).await;
    let weather = json!({"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}});
    let tool_parent = format!("00-{TOOL_TRACE}-{CLIENT_SPAN}-01");
    let resp = tool_shim
        .chat_with(
            json!({"model": "openclaw/main", "tools": [weather], "messages": [
                {"role": "user", "content": "MOCK_TOOL:get_weather {\"city\":\"Paris\"}"}]}),
            &[("traceparent", tool_parent.as_str())],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-clawshim-tools"], "run");
    let tool_spans = poll_until("the spans of the client-tool run", || {
        let spans: Vec<Span> = collector
            .spans()
            .into_iter()
            .map(|s| s.span)
            .filter(|s| hex(&s.trace_id) == TOOL_TRACE)
            .collect();
        std::future::ready({
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            if [
                "POST /v1/chat/completions",
                "invoke_agent main",
                "admission wait",
            ]
            .iter()
            .all(|n| names.contains(n))
            {
                Ok(spans)
            } else {
                Err(format!("{names:?}"))
            }
        })
    })
    .await;
    let named = |name: &str| {
        tool_spans
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    let (tool_server, tool_run) = (
        named("POST /v1/chat/completions"),
        named("invoke_agent main"),
    );
    assert_eq!(tool_run.parent_span_id, tool_server.span_id);
    assert_eq!(named("admission wait").parent_span_id, tool_run.span_id);
    let a = &tool_run.attributes;
    assert_eq!(
        text_of(a, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    match value_of(a, "gen_ai.response.finish_reasons") {
        Some(Any::ArrayValue(reasons)) => assert_eq!(
            reasons.values[0].value,
            Some(Any::StringValue("tool_calls".into()))
        ),
        other => panic!("finish reasons: {other:?}"),
    }
    assert_eq!(tool_run.events[0].name, "accepted");
    for span in &tool_spans {
        for text in strings_of(span) {
            assert!(!text.contains("Paris"), "tool argument in {text}");
        }
    }
    drop(tool_shim);

    // The agent's own tool step (a v4 `item` start and end, replayed from the lab trace):
    // `execute_tool {name}` inside its run, the step's status, and no title or argument.
    let step_parent = format!("00-{STEP_TRACE}-{CLIENT_SPAN}-01");
    let mut body = user_msg("openclaw/main", "MOCK_TOOL please, then answer");
    body["stream"] = json!(true);
    let resp = shim
        .chat_with(body, &[("traceparent", step_parent.as_str())])
        .await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.expect("stream"));
    assert_eq!(events.last(), Some(&Sse::Done));
    let step_spans = poll_until("the tool step's span", || {
        let spans: Vec<Span> = collector
            .spans()
            .into_iter()
            .map(|s| s.span)
            .filter(|s| hex(&s.trace_id) == STEP_TRACE)
            .collect();
        std::future::ready({
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            if names.contains(&"execute_tool agents_list") && names.contains(&"invoke_agent main") {
                Ok(spans)
            } else {
                Err(format!("{names:?}"))
            }
        })
    })
    .await;
    let step_named = |name: &str| {
        step_spans
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    let (step_run, step) = (
        step_named("invoke_agent main"),
        step_named("execute_tool agents_list"),
    );
    assert_eq!(step.parent_span_id, step_run.span_id);
    assert_eq!(
        step_spans
            .iter()
            .filter(|s| s.name.starts_with("execute_tool"))
            .count(),
        1,
        "one span for the start and end of one call"
    );
    let a = &step.attributes;
    assert_eq!(
        text_of(a, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        text_of(a, "gen_ai.tool.name").as_deref(),
        Some("agents_list")
    );
    assert_eq!(
        text_of(a, "gen_ai.tool.call.id").as_deref(),
        Some("call_mock_164c858e")
    );
    // The recorded step was blocked ("Tool agents_list not found").
    assert_eq!(text_of(a, "error.type").as_deref(), Some("tool_blocked"));
    assert_eq!(
        step.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert!(step.start_time_unix_nano >= step_run.start_time_unix_nano);
    assert!(step.end_time_unix_nano <= step_run.end_time_unix_nano);
    for span in &step_spans {
        for text in strings_of(span) {
            assert!(!text.contains("not found"), "tool error text in {text}");
            assert!(!text.contains("Agents"), "tool title in {text}");
        }
    }

    // The collector dies while requests keep coming: all of them succeed, and the spans that
    // could not be sent are counted.
    let killed = Arc::new(AtomicBool::new(false));
    let after_kill = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let (killed, after_kill, done) = (killed.clone(), after_kill.clone(), done.clone());
        let url = shim.url("/v1/chat/completions");
        tokio::spawn(async move {
            let requests = futures_util::stream::iter(0..)
                .take_while(move |_| {
                    let more = !killed.load(Ordering::SeqCst)
                        || after_kill.fetch_add(1, Ordering::SeqCst) < 30;
                    std::future::ready(more)
                })
                .map(|i| {
                    let url = url.clone();
                    async move {
                        let mut body = user_msg("openclaw/main", &format!("load {i}"));
                        body["stream"] = json!(true);
                        let resp = client()
                            .post(url)
                            .bearer_auth(TOKEN)
                            .json(&body)
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        let status = resp.status();
                        let text = resp.text().await.map_err(|e| e.to_string())?;
                        if status == 200 && parse_sse(&text).last() == Some(&Sse::Done) {
                            Ok(())
                        } else {
                            Err(format!("{status}: {text}"))
                        }
                    }
                })
                .buffer_unordered(6);
            let results: Vec<Result<(), String>> = requests
                .inspect(|_| {
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .collect()
                .await;
            results
        })
    };
    wait_until("20 requests of the load done", || {
        done.load(Ordering::SeqCst) >= 20
    })
    .await;
    let exports_before = collector.requests.load(Ordering::SeqCst);
    collector.kill();
    killed.store(true, Ordering::SeqCst);
    let results = tokio::time::timeout(WAIT, load)
        .await
        .expect("load within the wait")
        .expect("load task");
    assert!(results.len() >= 50, "{} requests", results.len());
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(exports_before > 0);
    poll_until("spans lost to the dead collector counted", || {
        let url = metrics.clone();
        async move {
            let d = dropped(&url).await;
            match d.get("export_failed") {
                Some(n) if *n > 0.0 => Ok(()),
                _ => Err(d),
            }
        }
    })
    .await;

    drop(shim);
    pipeline.shutdown();
}
