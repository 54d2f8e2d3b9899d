//! Prometheus metrics: static series registered once in the process-wide registry, served by
//! pingora's Prometheus HTTP service on their own listener (`metrics_listen`), so scraping
//! needs no API key and never shares a port with clients.
//!
//! Every label value is bounded: routes and error kinds are `&'static str` labels of our own
//! enums, statuses are HTTP codes, and `key` is the name of a configured API key (`-` for
//! none), and `agent` one the gateway ran (a run only ends for an agent it has). Nothing else
//! a client sends (model names, paths) becomes a label.
//!
//! Request series are updated once per request from `logging`
//! ([`super::request_metrics::observe`]); the gateway
//! series from `gateway_status::GatewayWatch`, a background task watching the connection.

use std::sync::LazyLock;

use pingora::services::listening::Service;
use pingora_prometheus::PrometheusServer;
use prometheus::{
    register_histogram, register_histogram_vec, register_int_counter, register_int_counter_vec,
    register_int_gauge, register_int_gauge_vec, Histogram, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec,
};

/// Seconds; from a fast `/v1/models` to the 600 s default run limit.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Seconds; the first byte of a run's answer waits for the model's first token.
const TTFB_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

/// Every clawshim series.
pub struct Metrics {
    /// `clawshim_requests_total{route,status,key}`.
    pub requests: IntCounterVec,
    /// `clawshim_request_duration_seconds{route}`.
    pub request_duration: HistogramVec,
    /// `clawshim_time_to_first_byte_seconds{route}` (responses clawshim writes itself).
    pub time_to_first_byte: HistogramVec,
    /// `clawshim_active_streams`: SSE responses being written.
    pub active_streams: IntGauge,
    /// `clawshim_runs_started_total`: runs submitted to the gateway.
    pub runs_started: IntCounter,
    /// `clawshim_runs_failed_total{kind}`: submitted runs that ended in an error.
    pub runs_failed: IntCounterVec,
    /// `clawshim_gateway_connected`: 1 while some gateway socket's handshake is done.
    pub gateway_connected: IntGauge,
    /// `clawshim_gateway_sockets_connected`: gateway sockets connected now.
    pub gateway_sockets_connected: IntGauge,
    /// `clawshim_gateway_reconnects_total`: handshakes of a socket after its first one.
    pub gateway_reconnects: IntCounter,
    /// `clawshim_bytes_in_total{route}`: request body bytes.
    pub bytes_in: IntCounterVec,
    /// `clawshim_bytes_out_total{route}`: response body bytes.
    pub bytes_out: IntCounterVec,
    /// `clawshim_run_limit`: runs admitted to the gateway at once (the adaptive limit).
    pub run_limit: IntGauge,
    /// `clawshim_runs_in_flight`: runs admitted and not yet over.
    pub runs_in_flight: IntGauge,
    /// `clawshim_run_queue_length`: runs waiting for admission.
    pub run_queue_length: IntGauge,
    /// `clawshim_run_queue_wait_seconds`: time a run waited for admission.
    pub run_queue_wait: Histogram,
    /// `clawshim_run_accept_seconds`: time from sending a run to the gateway's `accepted`.
    pub run_accept: Histogram,
    /// `clawshim_run_retries_total`: refusals that ran nothing, retried.
    pub run_retries: IntCounter,
    /// `clawshim_run_overloads_total{signal}`: overload signals of the gateway
    /// (`admission::Overload`), each a reason for the limit to shrink.
    pub run_overloads: IntCounterVec,
    /// `clawshim_gateway_frames_received_total`: WebSocket text frames from the gateway.
    pub gateway_frames_received: IntCounter,
    /// `clawshim_gateway_bytes_received_total`: their bytes.
    pub gateway_bytes_received: IntCounter,
    /// `clawshim_state_backend_up`: 1 while shared state (Redis) is in use, 0 while it is
    /// configured and unreachable (never set without `state.redis_url`).
    pub state_backend_up: IntGauge,
    /// `clawshim_state_backend_errors_total`: Redis operations and connection attempts that
    /// failed or timed out (each one decided locally).
    pub state_backend_errors: IntCounter,
    /// `clawshim_tokens_total{key,agent,kind}`: tokens the gateway reported for finished
    /// runs (`kind`: input, output, cache_read, cache_write; `key` `-` for shared tokens).
    pub tokens: IntCounterVec,
    /// `clawshim_token_budget_remaining{key,period}`: a budgeted key's tokens left in the
    /// day or month, as read at its last run start (`period`: day, month).
    pub token_budget_remaining: IntGaugeVec,
    /// `clawshim_trace_spans_exported_total`: spans the OTLP collector accepted.
    pub trace_spans_exported: IntCounter,
    /// `clawshim_trace_spans_dropped_total{reason}`: spans lost, by [`SpanDrop`].
    pub trace_spans_dropped: IntCounterVec,
}

/// Why a trace span was lost: the `reason` of `clawshim_trace_spans_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanDrop {
    /// The export queue was full (the collector is slower than the traffic).
    QueueFull,
    /// The export failed (collector down, refusing, or over the timeout).
    ExportFailed,
    /// The span ended after the exporter stopped.
    ShutDown,
}

impl SpanDrop {
    /// Every reason, each a series from the start.
    pub const ALL: [SpanDrop; 3] = [
        SpanDrop::QueueFull,
        SpanDrop::ExportFailed,
        SpanDrop::ShutDown,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            SpanDrop::QueueFull => "queue_full",
            SpanDrop::ExportFailed => "export_failed",
            SpanDrop::ShutDown => "shut_down",
        }
    }
}

impl Metrics {
    /// Count `spans` lost for `reason`.
    pub fn spans_dropped(&self, reason: SpanDrop, spans: usize) {
        self.trace_spans_dropped
            .with_label_values(&[reason.label()])
            .inc_by(spans as u64);
    }
}

// Static names and label sets: registration fails only on a duplicate name, which the
// `LazyLock` rules out, so a failure here is a bug worth stopping for.
static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    Metrics {
    requests: register_int_counter_vec!(
        "clawshim_requests_total",
        "Requests by route, status and API key name.",
        &["route", "status", "key"]
    )
    .expect("register clawshim_requests_total"),
    request_duration: register_histogram_vec!(
        "clawshim_request_duration_seconds",
        "Time from request to the end of the response.",
        &["route"],
        DURATION_BUCKETS.to_vec()
    )
    .expect("register clawshim_request_duration_seconds"),
    time_to_first_byte: register_histogram_vec!(
        "clawshim_time_to_first_byte_seconds",
        "Time from request to the first response body byte clawshim wrote.",
        &["route"],
        TTFB_BUCKETS.to_vec()
    )
    .expect("register clawshim_time_to_first_byte_seconds"),
    active_streams: register_int_gauge!(
        "clawshim_active_streams",
        "Streaming (SSE) responses in progress."
    )
    .expect("register clawshim_active_streams"),
    runs_started: register_int_counter!(
        "clawshim_runs_started_total",
        "Agent runs submitted to the gateway."
    )
    .expect("register clawshim_runs_started_total"),
    runs_failed: register_int_counter_vec!(
        "clawshim_runs_failed_total",
        "Submitted agent runs that ended in an error, by error kind.",
        &["kind"]
    )
    .expect("register clawshim_runs_failed_total"),
    gateway_connected: register_int_gauge!(
        "clawshim_gateway_connected",
        "1 while the gateway connection is up (any socket of the pool), else 0."
    )
    .expect("register clawshim_gateway_connected"),
    gateway_sockets_connected: register_int_gauge!(
        "clawshim_gateway_sockets_connected",
        "WebSocket connections to the gateway that are up (gateway.sockets of them are kept)."
    )
    .expect("register clawshim_gateway_sockets_connected"),
    gateway_reconnects: register_int_counter!(
        "clawshim_gateway_reconnects_total",
        "Gateway handshakes of a socket after its first one."
    )
    .expect("register clawshim_gateway_reconnects_total"),
    bytes_in: register_int_counter_vec!(
        "clawshim_bytes_in_total",
        "Request body bytes received, by route.",
        &["route"]
    )
    .expect("register clawshim_bytes_in_total"),
    bytes_out: register_int_counter_vec!(
        "clawshim_bytes_out_total",
        "Response body bytes sent, by route.",
        &["route"]
    )
    .expect("register clawshim_bytes_out_total"),
    run_limit: register_int_gauge!(
        "clawshim_run_limit",
        "Runs admitted to the gateway at once: the adaptive limit."
    )
    .expect("register clawshim_run_limit"),
    runs_in_flight: register_int_gauge!(
        "clawshim_runs_in_flight",
        "Runs admitted to the gateway and not yet over."
    )
    .expect("register clawshim_runs_in_flight"),
    run_queue_length: register_int_gauge!(
        "clawshim_run_queue_length",
        "Runs waiting for admission to the gateway."
    )
    .expect("register clawshim_run_queue_length"),
    run_queue_wait: register_histogram!(
        "clawshim_run_queue_wait_seconds",
        "Time a run waited for admission to the gateway.",
        TTFB_BUCKETS.to_vec()
    )
    .expect("register clawshim_run_queue_wait_seconds"),
    run_accept: register_histogram!(
        "clawshim_run_accept_seconds",
        "Time from sending a run to the gateway's accepted (on clawdbot: the session-store lock wait).",
        TTFB_BUCKETS.to_vec()
    )
    .expect("register clawshim_run_accept_seconds"),
    run_retries: register_int_counter!(
        "clawshim_run_retries_total",
        "Gateway refusals that ran nothing (overload), retried."
    )
    .expect("register clawshim_run_retries_total"),
    run_overloads: register_int_counter_vec!(
        "clawshim_run_overloads_total",
        "Overload signals of the gateway, by signal: refused (before accepted), slow_accept and lock_timeout_after_accept (clawdbot's session-store lock).",
        &["signal"]
    )
    .expect("register clawshim_run_overloads_total"),
    gateway_frames_received: register_int_counter!(
        "clawshim_gateway_frames_received_total",
        "WebSocket text frames received from the gateway (every run's events on a broadcast connection)."
    )
    .expect("register clawshim_gateway_frames_received_total"),
    gateway_bytes_received: register_int_counter!(
        "clawshim_gateway_bytes_received_total",
        "Bytes of the WebSocket text frames received from the gateway."
    )
    .expect("register clawshim_gateway_bytes_received_total"),
    state_backend_up: register_int_gauge!(
        "clawshim_state_backend_up",
        "1 while the shared state backend (Redis) is in use, 0 while it is unreachable and limits are per instance."
    )
    .expect("register clawshim_state_backend_up"),
    state_backend_errors: register_int_counter!(
        "clawshim_state_backend_errors_total",
        "Shared state (Redis) operations and connection attempts that failed or timed out."
    )
    .expect("register clawshim_state_backend_errors_total"),
    tokens: register_int_counter_vec!(
        "clawshim_tokens_total",
        "Tokens the gateway reported for finished runs, by key (- for shared tokens), agent and kind.",
        &["key", "agent", "kind"]
    )
    .expect("register clawshim_tokens_total"),
    token_budget_remaining: register_int_gauge_vec!(
        "clawshim_token_budget_remaining",
        "A budgeted key's tokens left in the current UTC day or month, as read at its last run start.",
        &["key", "period"]
    )
    .expect("register clawshim_token_budget_remaining"),
    trace_spans_exported: register_int_counter!(
        "clawshim_trace_spans_exported_total",
        "Trace spans the OTLP collector accepted."
    )
    .expect("register clawshim_trace_spans_exported_total"),
    trace_spans_dropped: {
        let dropped = register_int_counter_vec!(
            "clawshim_trace_spans_dropped_total",
            "Trace spans lost: export queue full, export failed (collector down or slow), or after shutdown.",
            &["reason"]
        )
        .expect("register clawshim_trace_spans_dropped_total");
        // Each reason is a series at 0 from the start, so a rate or an alert has data before
        // the first loss.
        for reason in SpanDrop::ALL {
            dropped.with_label_values(&[reason.label()]);
        }
        dropped
    },
}
});

/// The process-wide series (registered on first use).
pub fn get() -> &'static Metrics {
    &METRICS
}

/// The Prometheus text endpoint (any path) on `addr`, pingora's stock service.
pub fn service(addr: &str) -> Service<PrometheusServer> {
    // Register before the first scrape so every series shows, even at zero.
    let _ = get();
    let mut service = pingora_prometheus::prometheus_http_service();
    service.add_tcp(addr);
    service
}

/// Counts one SSE response in `clawshim_active_streams` while alive.
pub struct ActiveStream(());

impl ActiveStream {
    /// Start counting; the count drops when the guard does, however the stream ends.
    pub fn enter() -> ActiveStream {
        get().active_streams.inc();
        ActiveStream(())
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        get().active_streams.dec();
    }
}
