//! Every exported span and attribute, in one place: the HTTP server span of a request and,
//! inside it, the `invoke_agent {agent}` span of its run (OpenTelemetry HTTP and GenAI
//! semantic conventions; the GenAI names are written out because the conventions still move).
//!
//! A [`RequestTrace`] lives in the request's context; with export off it holds nothing and
//! each call returns at once. Spans are never entered (explicit parents only), so the log
//! lines of the request are not attached to them, and nothing a client wrote (prompts,
//! answers, tool arguments, headers, the query string) becomes an attribute: names, ids,
//! counts and statuses only. Run events reach the run span through
//! [`RequestTrace::run_event`]: each tool step the gateway reports (`gateway::progress`, at
//! the run's progress level: none at `off`) becomes an `execute_tool {name}` child span, and
//! each approval wait an event of the run span (its status only, never the command).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use clawshim_core::gateway::progress::{ApprovalPhase, Progress, StepPhase, StepStatus, ToolStep};
use clawshim_core::gateway::{RunEvent, StopKind};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use pingora::http::RequestHeader;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::TARGET;

/// `gen_ai.provider.name` of every run: the agent platform clawshim talks to (the model
/// provider behind an agent is the agent's own business and not reported by the gateway).
pub const PROVIDER: &str = "openclaw";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turn span creation on (once the export pipeline is installed).
pub fn enable() {
    ENABLED.store(true, Ordering::Release);
}

/// Whether spans are made at all.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

/// What the request span starts with.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart<'a> {
    /// The request's head (method, path, `traceparent`, `tracestate`).
    pub req: &'a RequestHeader,
    /// The route template (`/v1/chat/completions`); `None` for passthrough and unknown paths.
    pub route: Option<&'static str>,
    /// The client's address, when known.
    pub client: Option<IpAddr>,
    /// Whether the request came over TLS.
    pub tls: bool,
}

/// What the run span starts with (the sampling-relevant attributes).
#[derive(Debug, Clone, Copy)]
pub struct RunStart<'a> {
    /// The agent's id.
    pub agent_id: &'a str,
    /// Its display name from the gateway's agent list, when it has one.
    pub agent_name: Option<&'a str>,
    /// The session key (`gen_ai.conversation.id`).
    pub session_key: &'a str,
    /// The backend model asked for, when the request chose one.
    pub model: Option<&'a str>,
}

/// The spans of one request; empty while export is off.
#[derive(Debug, Default)]
pub struct RequestTrace {
    request: Option<Span>,
    run: Option<RunSpan>,
    trace_id: Option<String>,
}

#[derive(Debug)]
struct RunSpan {
    span: Span,
    /// Tool steps started and not yet ended: their call id and span (at most
    /// [`MAX_OPEN_TOOL_SPANS`]; a step beyond that gets no span).
    tools: Vec<(Option<String>, Span)>,
    first_delta: bool,
    /// What went wrong as the run's events said (the access line's kind wins at the end).
    error: Option<&'static str>,
}

impl RequestTrace {
    /// The server span of a request; a valid incoming `traceparent` becomes its parent.
    pub fn start(start: RequestStart<'_>) -> RequestTrace {
        if !enabled() {
            return RequestTrace::default();
        }
        let req = start.req;
        let method = req.method.as_str();
        let name = match start.route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let span = tracing::info_span!(
            target: TARGET,
            "request",
            otel.name = %name,
            otel.kind = "server",
            http.request.method = method,
            http.route = start.route,
            url.path = req.uri.path(),
            url.scheme = if start.tls { "https" } else { "http" },
            client.address = start.client.map(|ip| ip.to_string()),
            network.protocol.version = protocol_version(req.version),
        );
        let parent = TraceContextPropagator::new().extract(&Headers(&req.headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let context = span.context();
        let ids = context.span().span_context().clone();
        RequestTrace {
            trace_id: ids.is_valid().then(|| ids.trace_id().to_string()),
            request: Some(span),
            run: None,
        }
    }

    /// The trace id, for the access line.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// Whether this request's spans are being made (export on).
    pub fn is_recording(&self) -> bool {
        self.request.is_some()
    }

    /// Open `invoke_agent {agent}` inside the request span; a request has one run span (a
    /// run that moves from the gateway's HTTP endpoint to the WebSocket keeps its first).
    pub fn start_run(&mut self, run: RunStart<'_>) {
        let Some(request) = &self.request else {
            return;
        };
        if self.run.is_some() {
            return;
        }
        let span = tracing::info_span!(
            target: TARGET,
            parent: request,
            "invoke_agent",
            otel.name = %format_args!("invoke_agent {}", run.agent_id),
            otel.kind = "client",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.provider.name = PROVIDER,
            gen_ai.agent.id = run.agent_id,
            gen_ai.agent.name = run.agent_name.unwrap_or(run.agent_id),
            gen_ai.request.model = run.model,
            gen_ai.conversation.id = run.session_key,
        );
        self.run = Some(RunSpan {
            span,
            tools: Vec::new(),
            first_delta: false,
            error: None,
        });
    }

    /// A span over the wait for an admission slot (drop it when the wait is over).
    pub fn admission_wait(&self) -> Span {
        match &self.run {
            Some(run) => tracing::info_span!(
                target: TARGET,
                parent: &run.span,
                "admission_wait",
                otel.name = "admission wait",
            ),
            None => Span::none(),
        }
    }

    /// The gateway accepted the run (`attempt` 0 unless overload refusals were retried).
    pub fn accepted(&self, run_id: &str, attempt: u32) {
        if let Some(run) = &self.run {
            run.span.add_event(
                "accepted",
                vec![
                    KeyValue::new("clawshim.run_id", run_id.to_owned()),
                    KeyValue::new("clawshim.attempt", i64::from(attempt)),
                ],
            );
        }
    }

    /// One event of the run: the first delta, the outcome (usage, finish reason), failures.
    pub fn run_event(&mut self, event: &RunEvent) {
        let Some(run) = &mut self.run else {
            return;
        };
        let span = &run.span;
        match event {
            RunEvent::Delta(_) => {
                if !run.first_delta {
                    run.first_delta = true;
                    span.add_event("first_delta", Vec::new());
                }
            }
            RunEvent::Finished(outcome) => {
                if let Some(usage) = outcome.usage {
                    span.set_attribute("gen_ai.usage.input_tokens", saturating_i64(usage.input));
                    span.set_attribute("gen_ai.usage.output_tokens", saturating_i64(usage.output));
                }
                let reason = match outcome.stop {
                    _ if !outcome.tool_calls.is_empty() => "tool_calls",
                    StopKind::Completed | StopKind::Aborted => "stop",
                    StopKind::TimedOut => "length",
                };
                span.set_attribute(
                    "gen_ai.response.finish_reasons",
                    Value::Array(vec![opentelemetry::StringValue::from(reason)].into()),
                );
            }
            RunEvent::Failed(_) => run.error = Some("gateway_error"),
            RunEvent::Lagged => run.error = Some("lagged"),
            RunEvent::TimedOut => run.error = Some("timeout"),
            RunEvent::Progress(Progress::Tool(step)) => run.tool_step(step),
            RunEvent::Progress(Progress::Approval(wait)) => {
                let phase = match wait.phase {
                    ApprovalPhase::Requested => "requested",
                    ApprovalPhase::Resolved => "resolved",
                };
                let mut attributes = vec![KeyValue::new("clawshim.approval.phase", phase)];
                if let Some(status) = &wait.status {
                    attributes.push(KeyValue::new("clawshim.approval.status", status.clone()));
                }
                span.add_event("approval", attributes);
            }
            // Thinking and command output are content: never recorded.
            RunEvent::Progress(Progress::Thinking(_) | Progress::Output(_)) => {}
        }
    }

    /// End both spans: the response status and, for a failed request, `error.type` (the
    /// error kind of the access line).
    pub fn finish(&mut self, status: u16, error_kind: Option<&'static str>, client_gone: bool) {
        if let Some(run) = self.run.take() {
            let failed = run.error.is_some() || status >= 400;
            if let Some(kind) = error_kind.filter(|_| failed).or(run.error) {
                run.span.set_attribute("error.type", kind);
                run.span.set_status(Status::error(""));
            } else if client_gone {
                run.span.set_attribute("error.type", "client_gone");
            }
        }
        let Some(span) = self.request.take() else {
            return;
        };
        if status != 0 {
            span.set_attribute("http.response.status_code", i64::from(status));
        }
        if status >= 500 || (status == 0 && error_kind.is_some()) {
            let kind = error_kind.map_or_else(|| status.to_string(), str::to_owned);
            span.set_attribute("error.type", kind);
            span.set_status(Status::error(""));
        } else if let Some(kind) = error_kind {
            // 4xx: the server span stays unset (the client's mistake), but says which.
            span.set_attribute("error.type", kind);
        }
    }
}

/// Tool spans open at once in one run; more steps are not traced (a run that starts
/// thousands of tools without ending them must not grow the request's memory).
const MAX_OPEN_TOOL_SPANS: usize = 64;

impl RunSpan {
    /// A tool step: a start opens `execute_tool {name}` inside the run span; an end closes
    /// the span its call id opened (or, without one, a span of its own) with its status.
    fn tool_step(&mut self, step: &ToolStep) {
        match step.phase {
            StepPhase::Started => {
                if self.tools.len() < MAX_OPEN_TOOL_SPANS {
                    let span = self.tool_span(step);
                    self.tools.push((step.call_id.clone(), span));
                }
            }
            StepPhase::Ended => {
                let opened = step
                    .call_id
                    .as_ref()
                    .and_then(|id| self.tools.iter().position(|(c, _)| c.as_ref() == Some(id)));
                let span = match opened {
                    Some(i) => self.tools.swap_remove(i).1,
                    None => self.tool_span(step),
                };
                let error = match &step.status {
                    StepStatus::Failed => Some("tool_error"),
                    StepStatus::Blocked => Some("tool_blocked"),
                    _ => None,
                };
                if let Some(kind) = error {
                    span.set_attribute("error.type", kind);
                    span.set_status(Status::error(""));
                }
                // Dropping the span ends it.
            }
        }
    }

    fn tool_span(&self, step: &ToolStep) -> Span {
        let name = step.name.as_deref().unwrap_or("unknown");
        tracing::info_span!(
            target: TARGET,
            parent: &self.span,
            "execute_tool",
            otel.name = %format_args!("execute_tool {name}"),
            otel.kind = "internal",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = name,
            gen_ai.tool.call.id = step.call_id.as_deref(),
        )
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn protocol_version(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The request headers as the propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
