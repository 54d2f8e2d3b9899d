//! The gateway connection's state in words: why a connect failed, with the `CLAWSHIM_*`
//! setting that fixes it (log lines and the access line of a request that found no
//! connection), and the coarse, non-leaking reason `/readyz` and 503 bodies give a
//! client. Core reports a typed [`ConnectFailure`]; the words live here.

use async_trait::async_trait;
use clawshim_core::gateway::{ConnectFailure, GatewayClient, GatewayStatus, NotConnected};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tracing::{debug, warn};

/// The full line for an operator: what failed, and what to set when a setting fixes it.
pub fn describe(failure: &ConnectFailure) -> String {
    match failure {
        ConnectFailure::Unreachable { url, detail } => {
            format!("cannot reach the gateway at {url}: {detail}")
        }
        ConnectFailure::HandshakeTimeout { url } => {
            format!("the gateway at {url} did not complete the handshake in time")
        }
        ConnectFailure::Refused {
            code,
            message,
            detail_code,
        } => {
            let hint = if message.contains("token mismatch")
                || detail_code.as_deref() == Some("AUTH_TOKEN_MISMATCH")
            {
                " (set CLAWSHIM_GATEWAY_TOKEN to the gateway's gateway.auth.token)"
            } else if message.contains("password") {
                " (set CLAWSHIM_GATEWAY_PASSWORD to the gateway's gateway.auth.password)"
            } else if message.contains("protocol mismatch") {
                " (clawshim speaks protocol 3 and 4: clawdbot 2026.1.x and openclaw 2026.x)"
            } else if message.contains("device identity required") {
                " (set CLAWSHIM_GATEWAY_TOKEN; clawdbot 2026.1 accepts CLAWSHIM_GATEWAY_PASSWORD only with CLAWSHIM_DEVICE_IDENTITY)"
            } else if code == "NOT_PAIRED" {
                " (set CLAWSHIM_DEVICE_IDENTITY and approve the device on the gateway host)"
            } else {
                ""
            };
            format!("the gateway refused the connection: {message} ({code}){hint}")
        }
        ConnectFailure::PairingRequired {
            device_id,
            request_id,
            openclaw,
        } => {
            // `openclaw devices approve` (openclaw 2026.9 `devices` CLI) or `clawdbot devices
            // approve` (2026.1.24 `cli/devices-cli.js`).
            let cli = if *openclaw { "openclaw" } else { "clawdbot" };
            let how = match request_id {
                Some(id) => format!("`{cli} devices approve {id}`"),
                None => format!("`{cli} devices list`, then `{cli} devices approve <requestId>`"),
            };
            format!(
                "the gateway refused the connection: pairing required for device {device_id}: \
                 approve it on the gateway host with {how}; clawshim keeps retrying and connects \
                 once it is approved"
            )
        }
        ConnectFailure::MissingScopes { granted } => format!(
            "the gateway granted scopes {granted:?}, too few to run agents (needs operator.read + operator.write): \
             connect from the gateway's host, or set CLAWSHIM_DEVICE_IDENTITY and approve the device"
        ),
        ConnectFailure::ProtocolMismatch { detail } => {
            format!("unexpected handshake from the gateway: {detail}")
        }
        ConnectFailure::Lost { reason } => format!("connection lost: {reason}"),
    }
}

/// Why requests cannot reach the gateway, as the 503 body says it: the coarse class of
/// [`public_reason`], never the gateway's URL or its refusal text (those tell a client
/// where the gateway is and how it authenticates; they go to the log, [`not_connected_detail`]).
pub fn not_connected(reason: &NotConnected) -> &'static str {
    match reason {
        NotConnected::Connecting => "connecting",
        NotConnected::Failed(failure) => public_reason(Some(failure)),
        NotConnected::Reconnecting => "reconnecting",
        NotConnected::ShuttingDown => "shutting_down",
    }
}

/// The operator's line for a request that found no connection: [`describe`] when a connect
/// failed, else the same words as [`not_connected`].
pub fn not_connected_detail(reason: &NotConnected) -> String {
    match reason {
        NotConnected::Failed(failure) => describe(failure),
        other => not_connected(other).to_string(),
    }
}

/// A coarse, non-leaking reason class for `/readyz`.
pub fn public_reason(last_failure: Option<&ConnectFailure>) -> &'static str {
    match last_failure {
        None => "connecting",
        Some(ConnectFailure::PairingRequired { .. }) => "pairing_required",
        Some(ConnectFailure::Refused { .. }) => "gateway_refused_credentials",
        Some(ConnectFailure::MissingScopes { .. }) => "insufficient_scopes",
        Some(ConnectFailure::Unreachable { .. }) => "gateway_unreachable",
        Some(ConnectFailure::ProtocolMismatch { .. }) => "protocol_mismatch",
        Some(ConnectFailure::HandshakeTimeout { .. } | ConnectFailure::Lost { .. }) => {
            "reconnecting"
        }
    }
}

/// Log a failed connect attempt: a warning for the first and every tenth, debug otherwise,
/// so a gateway that stays down does not flood the log. A lost connection is logged by the
/// connection itself when it happens.
pub fn log_failure(attempt: u32, failure: &ConnectFailure) {
    if matches!(failure, ConnectFailure::Lost { .. }) {
        return;
    }
    let line = describe(failure);
    // Under the connection's target, where these lines always were, so log filters such as
    // `RUST_LOG=clawshim_core::gateway=debug` keep showing them.
    if attempt == 0 || attempt.is_multiple_of(10) {
        warn!(target: "clawshim_core::gateway::conn", attempt, "{line}");
    } else {
        debug!(target: "clawshim_core::gateway::conn", attempt, "{line}");
    }
}

/// Follows the gateway connection: keeps `clawshim_gateway_connected` in step with it and
/// logs each failed connect attempt ([`log_failure`]).
pub struct GatewayWatch {
    gateway: GatewayClient,
}

impl GatewayWatch {
    /// Watch `gateway`'s status.
    pub fn new(gateway: GatewayClient) -> Self {
        GatewayWatch { gateway }
    }
}

#[async_trait]
impl BackgroundService for GatewayWatch {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let m = crate::ops::metrics::get();
        let mut status = self.gateway.watch_status();
        loop {
            let current = status.borrow_and_update().clone();
            if let GatewayStatus::Connecting {
                attempt,
                last_failure: Some(failure),
            } = &current
            {
                // Each failed attempt is published once, with the count after it.
                if let Some(failed) = attempt.checked_sub(1) {
                    log_failure(failed, failure);
                }
            }
            m.gateway_connected.set(i64::from(current.is_connected()));
            tokio::select! {
                _ = shutdown.changed() => break,
                changed = status.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        m.gateway_connected.set(0);
    }
}

/// Copies the gateway pool's counters into metrics once a second: traffic
/// (`GatewayClient::received`) into `clawshim_gateway_frames_received_total` /
/// `_bytes_received_total`, socket reconnects into `clawshim_gateway_reconnects_total`, and
/// the sockets up into `clawshim_gateway_sockets_connected`.
pub struct GatewayCounters {
    gateway: GatewayClient,
}

impl GatewayCounters {
    /// Follow `gateway`'s counters.
    pub fn new(gateway: GatewayClient) -> Self {
        GatewayCounters { gateway }
    }
}

#[async_trait]
impl BackgroundService for GatewayCounters {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let m = crate::ops::metrics::get();
        let mut copied = (0, 0);
        let mut reconnects = 0;
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let now = self.gateway.received();
            m.gateway_frames_received
                .inc_by(now.0.saturating_sub(copied.0));
            m.gateway_bytes_received
                .inc_by(now.1.saturating_sub(copied.1));
            copied = now;
            let now = self.gateway.reconnects();
            m.gateway_reconnects.inc_by(now.saturating_sub(reconnects));
            reconnects = now;
            let (up, _) = self.gateway.sockets_connected();
            m.gateway_sockets_connected.set(up as i64);
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = every.tick() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str, message: &str, detail: Option<&str>) -> ConnectFailure {
        ConnectFailure::Refused {
            code: code.into(),
            message: message.into(),
            detail_code: detail.map(str::to_owned),
        }
    }

    #[test]
    fn refusals_name_the_setting_that_fixes_them() {
        let line = describe(&refused(
            "INVALID_REQUEST",
            "unauthorized: gateway token mismatch",
            None,
        ));
        assert!(line.contains("CLAWSHIM_GATEWAY_TOKEN"), "{line}");
        assert!(line.starts_with("the gateway refused the connection: "));
        let line = describe(&refused(
            "INVALID_REQUEST",
            "unauthorized",
            Some("AUTH_TOKEN_MISMATCH"),
        ));
        assert!(line.contains("CLAWSHIM_GATEWAY_TOKEN"), "{line}");
        let line = describe(&refused("NOT_PAIRED", "device identity required", None));
        assert!(line.contains("CLAWSHIM_DEVICE_IDENTITY"), "{line}");
        let line = describe(&ConnectFailure::MissingScopes { granted: vec![] });
        assert!(line.contains("CLAWSHIM_DEVICE_IDENTITY"), "{line}");
    }

    #[test]
    fn a_pending_pairing_names_the_approve_command_of_each_gateway() {
        let pairing = |openclaw, request_id: Option<&str>| ConnectFailure::PairingRequired {
            device_id: "dev-1".into(),
            request_id: request_id.map(str::to_owned),
            openclaw,
        };
        let line = describe(&pairing(true, Some("req-1")));
        assert!(line.contains("`openclaw devices approve req-1`") && line.contains("dev-1"));
        let line = describe(&pairing(false, None));
        assert!(line.contains("`clawdbot devices list`"), "{line}");
    }

    #[test]
    fn readiness_reasons_are_coarse() {
        assert_eq!(public_reason(None), "connecting");
        assert_eq!(
            public_reason(Some(&refused("INVALID_REQUEST", "protocol mismatch", None))),
            "gateway_refused_credentials"
        );
        assert_eq!(
            public_reason(Some(&ConnectFailure::Unreachable {
                url: "ws://x".into(),
                detail: "refused".into()
            })),
            "gateway_unreachable"
        );
        assert_eq!(
            public_reason(Some(&ConnectFailure::Lost {
                reason: "closed".into()
            })),
            "reconnecting"
        );
    }
}
