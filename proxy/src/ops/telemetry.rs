//! Logging set-up: `tracing` with text or JSON lines; pingora's `log` records are captured
//! too. The level comes from `RUST_LOG` (default `info`). With trace export on, the spans of
//! [`super::traces::TARGET`] go to the OTLP pipeline (and never to the log lines).

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::traces::{self, TraceSettings, Traces};

/// Log line format (`log_format`: `text` or `json` in the file, the flag and the
/// environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, event fields flattened.
    Json,
}

/// Install the global subscriber once; later calls are no-ops (tests start many servers).
/// With `traces`, also the OTLP export pipeline: keep the returned [`Traces`] for the life of
/// the process and shut it down (or drop it) at exit so queued spans are sent. A pipeline
/// that cannot start is reported on stderr and serving goes on without it.
pub fn init(format: LogFormat, traces: Option<&TraceSettings>) -> Option<Traces> {
    init_writing_to(
        format,
        traces,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    )
}

/// [`init`] with the log lines going to `writer` (colored with `ansi`) instead of stderr.
pub fn init_writing_to<W>(
    format: LogFormat,
    traces: Option<&TraceSettings>,
    writer: W,
    ansi: bool,
) -> Option<Traces>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if let Ok(off) = format!("{}=off", traces::TARGET).parse() {
        filter = filter.add_directive(off);
    }
    let lines = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(writer);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
    };
    let (pipeline, export) = match traces.map(Traces::start) {
        Some(Ok((pipeline, layer))) => (Some(pipeline), Some(layer)),
        Some(Err(e)) => {
            eprintln!("clawshim: trace export off: {e}");
            (None, None)
        }
        None => (None, None),
    };
    let only_ours = Targets::new().with_target(traces::TARGET, tracing::Level::INFO);
    let installed = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(export.map(|layer| layer.with_filter(only_ours)))
        .try_init()
        .is_ok();
    if installed && pipeline.is_some() {
        traces::spans::enable();
        pipeline
    } else {
        None
    }
}
