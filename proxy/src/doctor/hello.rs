//! What the gateway grants, from one extra handshake that asks for everything clawshim may
//! use (`operator.read`, `operator.write`, `operator.admin`) and reads `hello-ok`: the scopes
//! it granted (`hello-ok.auth.scopes`, protocol 4; protocol 3 sends none and grants a
//! shared-secret client what it asks, gateway-lab README) and its frame limit
//! (`hello-ok.policy.maxPayload`: 512 KiB on clawdbot 2026.1.24, 25 MiB on openclaw
//! 2026.9.6, per the recorded `connect` traces). The probe uses the shared secret only: a
//! device-signed connection is clawshim's own (checked in [`super::gateway`]).

use std::sync::Arc;
use std::time::Duration;

use clawshim_core::gateway::client::GatewayAuth;
use clawshim_core::gateway::frame::ReqFrame;
use clawshim_core::gateway::methods::{
    ClientInfo, ConnectAuth, ConnectParams, HelloOk, CLIENT_ID, CLIENT_MODE, SCOPES_WITH_ADMIN,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::Check;
use crate::config::Config;

/// `scopes` and `frame limit`.
pub async fn check(config: &Config) -> Vec<Check> {
    let hello = tokio::time::timeout(config.gateway.connect_timeout, probe(config)).await;
    let hello = match hello {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => return not_read(config, &e),
        Err(_) => return not_read(config, "no hello-ok in time"),
    };
    vec![scopes(config, &hello), frame_limit(config, &hello)]
}

fn not_read(config: &Config, why: &str) -> Vec<Check> {
    let detail = if config.gateway.device.is_some() || config.device_identity.is_some() {
        format!("not read ({why}): this gateway wants the device-signed connection, which only clawshim itself makes")
    } else {
        format!("not read: {why}")
    };
    vec![
        Check::skip("scopes", detail.clone()),
        Check::skip("frame limit", detail),
    ]
}

fn scopes(config: &Config, hello: &HelloOk) -> Check {
    let Some(auth) = &hello.auth else {
        return Check::pass(
            "scopes",
            "protocol 3 reports none; clawdbot grants a shared-secret client the scopes it asks \
             for, operator.admin included",
        );
    };
    let granted = if auth.scopes.is_empty() {
        "none".to_string()
    } else {
        auth.scopes.join(", ")
    };
    if !auth.can_run_agents() {
        return Check::fail(
            "scopes",
            format!(
                "granted {granted}: too few to run agents (needs operator.read and operator.write)"
            ),
            "connect from the gateway's host with the token, or set CLAWSHIM_DEVICE_IDENTITY and \
             approve the device with those scopes",
        );
    }
    if auth.scopes.iter().any(|s| s == "operator.admin") {
        return Check::pass("scopes", format!("granted {granted}"));
    }
    let lost = "without operator.admin clawshim cannot delete finished per-request sessions \
                (delete_ephemeral_sessions): they pile up, every run on clawdbot 2026.1.x gets \
                slower, and a client that leaves cannot stop its run on protocol 3";
    if config.delete_ephemeral_sessions {
        Check::fail(
            "scopes",
            format!("granted {granted}, but delete_ephemeral_sessions is on: {lost}"),
            "approve the device with operator.admin (`openclaw devices approve`), or set \
             delete_ephemeral_sessions = false",
        )
    } else {
        Check::pass("scopes", format!("granted {granted}; {lost}"))
    }
}

fn frame_limit(config: &Config, hello: &HelloOk) -> Check {
    let Some(max) = hello.policy.as_ref().and_then(|p| p.max_payload) else {
        return Check::skip("frame limit", "the gateway announced none");
    };
    let body = config.max_body_bytes;
    if body <= max {
        return Check::pass(
            "frame limit",
            format!(
                "the gateway takes frames up to {}; clawshim's body limit ({}) fits",
                bytes(max),
                bytes(body)
            ),
        );
    }
    // The prompt travels in one `agent` frame: leave room for the envelope.
    let suggested = max.saturating_sub(64 << 10).max(1);
    Check::fail(
        "frame limit",
        format!(
            "the gateway takes frames up to {}, but clawshim accepts bodies up to {}: a larger \
             prompt makes the gateway drop the connection, failing every run in flight",
            bytes(max),
            bytes(body)
        ),
        format!("set limits.max_body_bytes (CLAWSHIM_MAX_BODY_BYTES) to {suggested} or less"),
    )
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// One handshake with the shared secret; returns `hello-ok`.
async fn probe(config: &Config) -> Result<HelloOk, String> {
    let connector = match &config.gateway.tls_roots {
        Some(roots) => Some(tokio_tungstenite::Connector::Rustls(Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots.clone())
            .with_no_client_auth(),
        ))),
        None => None,
    };
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        config.gateway.url.as_str(),
        None,
        false,
        connector,
    )
    .await
    .map_err(|e| e.to_string())?;

    // Both versions open with `connect.challenge`; its nonce only matters to a device proof.
    let challenge = Duration::from_secs(2);
    let _ = tokio::time::timeout(challenge, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["event"] == "connect.challenge" {
                    break;
                }
            }
        }
    })
    .await;

    let version = env!("CARGO_PKG_VERSION");
    let auth = match &config.gateway.auth {
        GatewayAuth::Token(t) => Some(ConnectAuth {
            token: Some(t.expose()),
            ..ConnectAuth::default()
        }),
        GatewayAuth::Password(p) => Some(ConnectAuth {
            password: Some(p.expose()),
            ..ConnectAuth::default()
        }),
        GatewayAuth::None => None,
    };
    let params = ConnectParams {
        min_protocol: 3,
        max_protocol: 4,
        client: ClientInfo {
            id: CLIENT_ID,
            version,
            platform: std::env::consts::OS,
            mode: CLIENT_MODE,
            display_name: Some("clawshim doctor"),
        },
        role: "operator",
        scopes: &SCOPES_WITH_ADMIN,
        auth,
        device: None,
    };
    let id = uuid::Uuid::new_v4().to_string();
    ws.send(Message::text(
        ReqFrame::new(&id, "connect", &params).to_json(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    while let Some(msg) = ws.next().await {
        let Message::Text(text) = msg.map_err(|e| e.to_string())? else {
            continue;
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if v["type"] != "res" || v["id"] != id.as_str() {
            continue;
        }
        let _ = ws.close(None).await;
        if v["ok"] != true {
            return Err(format!(
                "the gateway refused: {}",
                v["error"]["message"].as_str().unwrap_or("no reason")
            ));
        }
        return serde_json::from_value(v["payload"].clone()).map_err(|e| e.to_string());
    }
    Err("the gateway closed the connection".into())
}
