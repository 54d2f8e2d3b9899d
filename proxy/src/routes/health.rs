//! `GET /healthz` (the process is up) and `GET /readyz` (the gateway connection is up).
//! Unauthenticated, so they say nothing that helps an attacker: no URLs, no versions.
//!
//! `/readyz` also says whether shared state (Redis) is in use (`"shared_state"`: `up`,
//! `down`, `off`), but does not depend on it: without Redis every instance still serves,
//! with its own counts ([`crate::shared_state`]), so taking instances out of a load
//! balancer because Redis is away would turn a degraded fleet into a dead one.

use clawshim_core::gateway::GatewayStatus;
use pingora::proxy::Session;
use serde_json::json;

use crate::ops::gateway_status::public_reason;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::request::respond;
use crate::shared_state::BackendStatus;
use crate::state::ProxyState;

/// `GET /healthz`.
pub async fn healthz(session: &mut Session, ctx: &mut RequestCtx) -> Result<(), HttpError> {
    respond::json(session, ctx, 200, &json!({"status": "ok"})).await
}

/// `GET /readyz`: 200 once some gateway socket is connected (with how many of the pool are),
/// 503 with a short reason otherwise.
pub async fn readyz(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
) -> Result<(), HttpError> {
    let (status, mut body) = match app.gateway.status() {
        GatewayStatus::Connected { .. } => {
            let (up, sockets) = app.gateway.sockets_connected();
            (
                200,
                json!({"status": "ready", "gateway": "connected", "protocol": app.gateway.protocol(),
                       "sockets_up": up, "sockets": sockets}),
            )
        }
        GatewayStatus::Connecting { last_failure, .. } => (
            503,
            json!({"status": "not_ready", "gateway": "connecting", "reason": public_reason(last_failure.as_ref())}),
        ),
        GatewayStatus::Stopped => (503, json!({"status": "not_ready", "gateway": "stopped"})),
    };
    body["shared_state"] = json!(match app.shared.status() {
        None => "off",
        Some(BackendStatus::Up) => "up",
        Some(BackendStatus::Down) => "down",
    });
    respond::json(session, ctx, status, &body).await
}
