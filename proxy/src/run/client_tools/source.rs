//! The HTTP run source of one server, what its gateway's endpoint said lately, and the
//! route a request with function tools takes: the parts of client tools the shared state
//! holds, apart from how a run is started (`super`), so the state imports no run loop.

use std::sync::Mutex;
use std::time::Duration;

use clawshim_core::gateway::GatewayClient;
use clawshim_core::http_source::{HttpSource, HttpSourceConfig};
use tokio::time::Instant;

use super::mode::ClientToolsMode;

/// How long a gateway's answer that its endpoint is off is believed.
pub const ENDPOINT_OFF_FOR: Duration = Duration::from_secs(60);

/// Why a request's tools were not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// `client_tools = "off"` for the server or the key.
    Off,
    /// The gateway has no client tools (clawdbot 2026.1.24, protocol 3).
    Unsupported,
    /// openclaw's `/v1/chat/completions` is not enabled.
    EndpointOff,
}

impl Ignored {
    /// The `reason=` of the `x-clawshim-tools` header (`super::HEADER`).
    pub fn reason(self) -> &'static str {
        match self {
            Ignored::Off => "off",
            Ignored::Unsupported => "unsupported-gateway",
            Ignored::EndpointOff => "endpoint-off",
        }
    }

    /// The end of the 400 for a `tool_choice` that cannot be honoured.
    pub fn explanation(self) -> &'static str {
        match self {
            Ignored::Off => "client_tools is off for this server or key",
            Ignored::Unsupported => "the gateway is clawdbot 2026.1.24, which has no client tools",
            Ignored::EndpointOff => {
                "the gateway's own /v1/chat/completions is not enabled (gateway.http.endpoints.chatCompletions.enabled)"
            }
        }
    }

    /// The header value.
    pub fn header_value(self) -> String {
        format!("ignored; reason={}", self.reason())
    }
}

/// Where a request with function tools goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through the gateway's HTTP endpoint.
    Http,
    /// Through the WebSocket, tools ignored.
    Ignore(Ignored),
}

/// The route for a request with function tools: `mode` (server and key combined), the
/// gateway's protocol (`None` before the first handshake) and what the endpoint said
/// lately.
pub fn route(mode: ClientToolsMode, protocol: Option<u32>, endpoint: &EndpointMemory) -> Route {
    if mode == ClientToolsMode::Off {
        return Route::Ignore(Ignored::Off);
    }
    match protocol {
        Some(p) if p < 4 => Route::Ignore(Ignored::Unsupported),
        _ if endpoint.is_off() => Route::Ignore(Ignored::EndpointOff),
        // Unknown protocol: the run fails the same way a WebSocket run would (not connected).
        _ => Route::Http,
    }
}

/// The HTTP run source of one server and what its gateway's endpoint said lately.
#[derive(Debug)]
pub struct ToolRuns {
    /// `None` when the TLS set-up for an `https://` gateway failed (then tools are ignored,
    /// as for an endpoint that is off; logged at start).
    source: Option<HttpSource>,
    /// The endpoint's last "off".
    pub endpoint: EndpointMemory,
}

impl ToolRuns {
    /// The source for the gateway at `source` (its WebSocket's host and port, as `http(s)`).
    pub fn new(source: HttpSourceConfig) -> ToolRuns {
        let source = HttpSource::new(source);
        if let Err(e) = &source {
            tracing::warn!(error = %e, "client tools are ignored: the gateway's HTTP endpoint cannot be set up");
        }
        ToolRuns {
            source: source.ok(),
            endpoint: EndpointMemory::default(),
        }
    }

    /// The route for a request whose principal has `mode`.
    pub fn route(&self, mode: ClientToolsMode, gateway: &GatewayClient) -> Route {
        if self.source.is_none() && mode == ClientToolsMode::Auto {
            return Route::Ignore(Ignored::EndpointOff);
        }
        route(mode, gateway.protocol(), &self.endpoint)
    }

    /// The HTTP source, unless its set-up failed.
    pub fn source(&self) -> Option<&HttpSource> {
        self.source.as_ref()
    }
}

/// The gateway's last "endpoint off" answer, believed for [`ENDPOINT_OFF_FOR`].
#[derive(Debug, Default)]
pub struct EndpointMemory {
    off_until: Mutex<Option<Instant>>,
}

impl EndpointMemory {
    /// Whether the endpoint said it is off within [`ENDPOINT_OFF_FOR`].
    pub fn is_off(&self) -> bool {
        let guard = self.off_until.lock().unwrap_or_else(|e| e.into_inner());
        guard.is_some_and(|until| Instant::now() < until)
    }

    /// The endpoint just said it is off.
    pub fn set_off(&self) {
        *self.off_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + ENDPOINT_OFF_FOR);
    }

    /// The endpoint just served a run.
    pub fn set_on(&self) {
        *self.off_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let memory = EndpointMemory::default();
        assert_eq!(
            route(ClientToolsMode::Off, Some(4), &memory),
            Route::Ignore(Ignored::Off)
        );
        assert_eq!(
            route(ClientToolsMode::Auto, Some(3), &memory),
            Route::Ignore(Ignored::Unsupported)
        );
        assert_eq!(route(ClientToolsMode::Auto, Some(4), &memory), Route::Http);
        assert_eq!(route(ClientToolsMode::Auto, None, &memory), Route::Http);
        memory.set_off();
        assert_eq!(
            route(ClientToolsMode::Auto, Some(4), &memory),
            Route::Ignore(Ignored::EndpointOff)
        );
        memory.set_on();
        assert_eq!(route(ClientToolsMode::Auto, Some(4), &memory), Route::Http);
    }

    #[tokio::test(start_paused = true)]
    async fn an_off_endpoint_is_tried_again_after_a_while() {
        let memory = EndpointMemory::default();
        memory.set_off();
        assert!(memory.is_off());
        tokio::time::advance(ENDPOINT_OFF_FOR + Duration::from_millis(1)).await;
        assert!(!memory.is_off());
    }
}
