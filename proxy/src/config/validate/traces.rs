//! `[traces]` (and the `OTEL_*` variables): the OTLP endpoint, headers, sampler.

use super::super::merge::MergedTraces;
use crate::ops::traces::{parse_headers, Sampling, TraceSettings};

/// `[traces]`: export is on once an endpoint is set; the traces URL wins over the base URL
/// (which gets `/v1/traces`), as the OpenTelemetry specification says.
pub fn traces(t: &MergedTraces, errors: &mut Vec<String>) -> Option<TraceSettings> {
    let endpoint = match (
        t.traces_endpoint.as_deref().filter(|e| !e.is_empty()),
        t.endpoint.as_deref().filter(|e| !e.is_empty()),
    ) {
        (Some(url), _) => url.to_owned(),
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => return None,
    };
    let mut ok = true;
    let mut problem = |e: String| {
        errors.push(format!("traces: {e}"));
        ok = false;
    };
    if t.protocol != "http/protobuf" {
        problem(format!(
            "protocol `{}` is not supported: clawshim exports OTLP over HTTP with protobuf \
             (`http/protobuf`, port 4318 on a collector)",
            t.protocol
        ));
    }
    match endpoint.parse::<http::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
        Ok(uri) if uri.scheme_str() == Some("https") => problem(format!(
            "endpoint `{endpoint}`: https is not built in; send to a collector on this host or \
             network over http (e.g. an OpenTelemetry Collector that forwards over TLS)"
        )),
        _ => problem(format!(
            "endpoint `{endpoint}` is not an http:// URL with a host"
        )),
    }
    let headers = match t.headers.as_deref().map(parse_headers).transpose() {
        Ok(h) => h.unwrap_or_default(),
        Err(e) => {
            problem(format!("headers: {e}"));
            Vec::new()
        }
    };
    let sampling = match Sampling::parse(&t.sampler, t.sampler_arg.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            problem(e);
            Sampling::ParentBasedAlwaysOn
        }
    };
    if t.service_name.trim().is_empty() {
        problem("service name is empty".into());
    }
    ok.then(|| TraceSettings {
        endpoint,
        headers,
        service_name: t.service_name.clone(),
        sampling,
    })
}
