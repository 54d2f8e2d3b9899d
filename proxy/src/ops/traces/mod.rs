//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless a collector endpoint is set.
//!
//! `tracing` spans of the target [`TARGET`] (made in [`spans`] only) go through
//! `tracing-opentelemetry` to the SDK, whose finished spans [`CountedBatch`] queues
//! (bounded) for one exporter thread that lives as long as the process: a collector that is
//! down or slow costs requests nothing, and every span it loses is counted in
//! `clawshim_trace_spans_dropped_total`. Nothing here reads the configuration: the settings
//! come in as a [`TraceSettings`].

pub mod export;
pub mod spans;

use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanExporter as _};
use opentelemetry_sdk::Resource;

use export::{CountedBatch, BATCH_DELAY, BATCH_SPANS, EXPORT_TIMEOUT, QUEUE_SPANS};

/// The `tracing` target of exported spans; no other span is exported.
pub const TARGET: &str = "clawshim::trace";

/// Which traces are recorded (`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces.
    Ratio(f64),
    /// `parentbased_always_on` (the default): a client's sampled flag decides, else on.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`.
    ParentBasedRatio(f64),
}

impl Sampling {
    /// The sampler from its standard name and argument (a ratio in 0..=1, default 1).
    pub fn parse(name: &str, arg: Option<&str>) -> Result<Sampling, String> {
        let ratio = || -> Result<f64, String> {
            match arg.map(str::trim).filter(|a| !a.is_empty()) {
                None => Ok(1.0),
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("sampler argument `{a}` is not a ratio from 0 to 1")),
            }
        };
        Ok(match name.trim() {
            "always_on" => Sampling::AlwaysOn,
            "always_off" => Sampling::AlwaysOff,
            "traceidratio" => Sampling::Ratio(ratio()?),
            "parentbased_always_on" => Sampling::ParentBasedAlwaysOn,
            "parentbased_always_off" => Sampling::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Sampling::ParentBasedRatio(ratio()?),
            other => {
                return Err(format!(
                    "sampler `{other}` is not one of always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
                ))
            }
        })
    }

    fn sampler(self) -> Sampler {
        let parent = |root| Sampler::ParentBased(Box::new(root));
        match self {
            Sampling::AlwaysOn => Sampler::AlwaysOn,
            Sampling::AlwaysOff => Sampler::AlwaysOff,
            Sampling::Ratio(r) => Sampler::TraceIdRatioBased(r),
            Sampling::ParentBasedAlwaysOn => parent(Sampler::AlwaysOn),
            Sampling::ParentBasedAlwaysOff => parent(Sampler::AlwaysOff),
            Sampling::ParentBasedRatio(r) => parent(Sampler::TraceIdRatioBased(r)),
        }
    }
}

/// Trace export, validated. `Debug` shows header names, never their values (API keys).
#[derive(Clone, PartialEq)]
pub struct TraceSettings {
    /// The full OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// Headers sent with every export (e.g. a vendor's API key).
    pub headers: Vec<(String, String)>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Which traces are recorded.
    pub sampling: Sampling,
}

impl std::fmt::Debug for TraceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TraceSettings")
            .field("endpoint", &self.endpoint)
            .field("header_names", &names)
            .field("service_name", &self.service_name)
            .field("sampling", &self.sampling)
            .finish()
    }
}

/// `OTEL_EXPORTER_OTLP_HEADERS` syntax: `name=value` pairs separated by commas, values
/// percent-decoded. Names are lower-cased; an entry without `=` or with an empty name is an
/// error naming the entry's position, never its value.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for (i, entry) in text.split(',').enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| format!("header {} has no `=`", i + 1))?;
        let name = name.trim().to_ascii_lowercase();
        let value = percent_decode(value.trim());
        if name.is_empty()
            || http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(&value).is_err()
        {
            return Err(format!("header {} is not a valid HTTP header", i + 1));
        }
        headers.push((name, value));
    }
    Ok(headers)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The trace pipeline of the process; [`Traces::shutdown`] (or dropping it) sends what is
/// queued, within a bounded time.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Build the exporter and its thread, and the `tracing` layer that feeds it.
    pub fn start<S>(
        settings: &TraceSettings,
    ) -> Result<(Traces, impl tracing_subscriber::Layer<S>), String>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>())
            .build()
            .map_err(|e| format!("OTLP exporter: {e}"))?;
        // The exporter moves to its thread with the resource it sends with every batch.
        exporter.set_resource(&resource);
        let processor = CountedBatch::start(exporter, QUEUE_SPANS, BATCH_SPANS, BATCH_DELAY)
            .map_err(|e| format!("OTLP export thread: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(settings.sampling.sampler())
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("clawshim");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false);
        Ok((Traces { provider }, layer))
    }

    /// Send what is queued (bounded by the export timeout) and stop the exporter thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace export did not shut down cleanly");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_parse_by_their_standard_names() {
        assert_eq!(
            Sampling::parse("parentbased_traceidratio", Some("0.25")),
            Ok(Sampling::ParentBasedRatio(0.25))
        );
        assert_eq!(
            Sampling::parse("traceidratio", None),
            Ok(Sampling::Ratio(1.0))
        );
        assert!(Sampling::parse("traceidratio", Some("2")).is_err());
        assert!(Sampling::parse("sometimes", None).is_err());
    }

    #[test]
    fn headers_parse_and_never_show_their_values() {
        let h = parse_headers("X-Api-Key=s%3Dcret, other = v").unwrap();
        assert_eq!(
            h,
            vec![
                ("x-api-key".into(), "s=cret".into()),
                ("other".into(), "v".into())
            ]
        );
        let e = parse_headers("a=b,novalue").unwrap_err();
        assert!(e.contains("header 2") && !e.contains("novalue"), "{e}");
        let settings = TraceSettings {
            endpoint: "http://127.0.0.1:4318/v1/traces".into(),
            headers: h,
            service_name: "clawshim".into(),
            sampling: Sampling::AlwaysOn,
        };
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("x-api-key") && !shown.contains("s=cret"),
            "{shown}"
        );
    }
}
