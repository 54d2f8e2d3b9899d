//! A socket's handshake with the gateway: TCP and WebSocket upgrade (TLS with the private CA
//! when configured), then `connect.challenge` -> `connect` -> `hello-ok` (gateway-lab
//! README, Handshake), with the credentials of [`ConnectCredentials`]: the shared secret, a
//! stored device token and the signed device proof. Each way it can fail is a
//! [`ConnectFailure`]; whether the connection may delete per-request sessions is decided here,
//! from what `hello-ok` granted ([`super::cleanup`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{info, warn};

use super::cleanup::AUTO_KEEPS_V4;
use super::config::{GatewayAuth, GatewayConfig};
use super::device::{now_ms, DeviceIdentity, DeviceToken, PayloadVersion, SignInput};
use super::error::ConnectFailure;
use super::frame::{Challenge, ErrorShape, InFrame, ReqFrame};
use super::ids::RequestId;
use super::methods::{
    ClientInfo, ConnectAuth, ConnectParams, DeviceProof, HelloOk, CLIENT_ID, CLIENT_MODE,
    MAX_PROTOCOL, MIN_PROTOCOL,
};
use super::state::PoolState;
use super::subscriptions::CLIENT_CAPS;

/// A WebSocket to the gateway.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// TCP + WebSocket upgrade (no `Origin`, no `X-Forwarded-*`: openclaw refuses forwarded
/// headers from untrusted peers), then `connect.challenge` -> `connect` -> `hello-ok`.
pub(crate) async fn connect(
    config: &GatewayConfig,
    pool: &PoolState,
) -> Result<(Ws, HelloOk), ConnectFailure> {
    let url = config.url.as_str();
    let unreachable = |detail: String| ConnectFailure::Unreachable {
        url: url.to_owned(),
        detail,
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_frame_bytes))
        .max_frame_size(Some(config.max_frame_bytes));
    // No connector: tokio-tungstenite verifies `wss://` against the system roots.
    let connector = config
        .tls_client_config()
        .transpose()
        .map_err(|e| unreachable(format!("TLS set-up: {e}")))?
        .map(|c| tokio_tungstenite::Connector::Rustls(Arc::new(c)));
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        config.url.as_str(),
        Some(ws_config),
        true,
        connector,
    )
    .await
    .map_err(|e| unreachable(e.to_string()))?;

    // The challenge arrives first (gateway-lab README, Handshake).
    let challenge: Challenge = loop {
        match next_frame(&mut ws, url).await? {
            InFrame::Event(ev) if ev.event == "connect.challenge" => {
                break ev
                    .payload_as()
                    .ok_or_else(|| ConnectFailure::ProtocolMismatch {
                        detail: "connect.challenge without nonce".into(),
                    })?;
            }
            _ => continue,
        }
    };

    let client = ClientInfo {
        id: CLIENT_ID,
        version: &config.client_version,
        platform: std::env::consts::OS,
        mode: CLIENT_MODE,
        display_name: Some("clawshim"),
    };
    // Admin when session cleanup may use it (cleanup.rs).
    let scopes = config.session_cleanup.scopes(config.device.is_some());
    // Shared secret, stored device token and the signed device proof (below).
    let creds = ConnectCredentials::new(
        &config.auth,
        config.device.as_deref(),
        &challenge,
        &client,
        "operator",
        scopes,
    );
    let params = ConnectParams {
        min_protocol: MIN_PROTOCOL,
        max_protocol: MAX_PROTOCOL,
        client,
        role: "operator",
        scopes,
        caps: if config.session_scoped_events {
            &CLIENT_CAPS
        } else {
            &[]
        },
        auth: creds.auth(),
        device: creds.proof.clone(),
    };
    let req_id = RequestId::new();
    let frame = ReqFrame::new(req_id.as_str(), "connect", &params).to_json();
    ws.send(Message::text(frame))
        .await
        .map_err(|e| unreachable(e.to_string()))?;

    loop {
        match next_frame(&mut ws, url).await? {
            InFrame::Res(res) if res.id == req_id.as_str() => {
                if !res.ok {
                    let error = res.error.unwrap_or(ErrorShape {
                        code: "UNKNOWN".into(),
                        message: "connect refused".into(),
                        details: None,
                    });
                    return Err(creds.rejected(&error).unwrap_or_else(|| {
                        ConnectFailure::Refused {
                            detail_code: error.details.as_ref().and_then(|d| d.code.clone()),
                            code: error.code,
                            message: error.message,
                        }
                    }));
                }
                let hello: HelloOk = res
                    .payload
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p.get()).ok())
                    .ok_or_else(|| ConnectFailure::ProtocolMismatch {
                        detail: "hello-ok without protocol".into(),
                    })?;
                if !(MIN_PROTOCOL..=MAX_PROTOCOL).contains(&hello.protocol) {
                    return Err(ConnectFailure::ProtocolMismatch {
                        detail: format!(
                            "negotiated protocol {} outside {MIN_PROTOCOL}..={MAX_PROTOCOL}",
                            hello.protocol
                        ),
                    });
                }
                // v4 clears the scopes of token-only clients it does not trust
                // (openclaw-lab README, token-only row); v3 sends no `auth`.
                if let Some(auth) = &hello.auth {
                    if !auth.can_run_agents() {
                        return Err(ConnectFailure::MissingScopes {
                            granted: auth.scopes.clone(),
                        });
                    }
                }
                creds.accepted(&hello);
                decide_cleanup(config, pool, &hello, scopes);
                return Ok((ws, hello));
            }
            _ => continue,
        }
    }
}

/// Record whether this connection may delete per-request sessions; say once why not.
fn decide_cleanup(config: &GatewayConfig, pool: &PoolState, hello: &HelloOk, requested: &[&str]) {
    let cleanup = config.session_cleanup;
    let decision = cleanup.decide(hello, requested);
    pool.deletes_sessions
        .store(decision.is_ok(), Ordering::Relaxed);
    if let Err(why) = decision {
        let first = !pool.cleanup_refusal_logged.swap(true, Ordering::Relaxed);
        if cleanup.enabled() && why != AUTO_KEEPS_V4 && first {
            warn!(reason = why, "per-request sessions are kept on the gateway; on clawdbot 2026.1.x every later run gets slower as its session store grows");
        }
    }
}

async fn next_frame(ws: &mut Ws, url: &str) -> Result<InFrame, ConnectFailure> {
    let unreachable = |detail: String| ConnectFailure::Unreachable {
        url: url.to_owned(),
        detail,
    };
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return InFrame::parse(text.as_str()).map_err(|e| {
                    ConnectFailure::ProtocolMismatch {
                        detail: format!("bad frame: {e}"),
                    }
                });
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("closed {} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "closed".into());
                return Err(unreachable(why));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(unreachable(e.to_string())),
            None => return Err(unreachable("connection closed".into())),
        }
    }
}

/// The credentials of one `connect`: the shared secret, a stored device token and the signed
/// device proof, chosen from the configuration and the challenge.
pub(crate) struct ConnectCredentials<'a> {
    device: Option<&'a DeviceIdentity>,
    token: Option<String>,
    password: Option<&'a str>,
    device_token: Option<String>,
    /// The stored device token is the credential (no shared secret is configured).
    uses_device_token: bool,
    /// openclaw (its challenge carries `capabilities`), else clawdbot 2026.1.
    openclaw: bool,
    role: &'a str,
    /// `connect.device`, when an identity is configured.
    pub(crate) proof: Option<DeviceProof>,
}

impl<'a> ConnectCredentials<'a> {
    /// A shared secret always wins over a stored device token, as in openclaw's own client
    /// (`selectGatewayConnectAuth`): the device token is sent only when neither a token nor
    /// a password is configured.
    pub(crate) fn new(
        auth: &'a GatewayAuth,
        device: Option<&'a DeviceIdentity>,
        challenge: &Challenge,
        client: &ClientInfo<'_>,
        role: &'a str,
        scopes: &[&str],
    ) -> Self {
        // openclaw-lab README, challenge row: only openclaw announces `capabilities`.
        let openclaw = challenge.capabilities.is_some();
        let (mut token, password) = match auth {
            GatewayAuth::Token(t) => (Some(t.expose().to_string()), None),
            GatewayAuth::Password(p) => (None, Some(p.expose())),
            GatewayAuth::None => (None, None),
        };
        let mut device_token = None;
        let stored = device
            .filter(|_| token.is_none() && password.is_none())
            .and_then(DeviceIdentity::device_token);
        let uses_device_token = stored.is_some();
        if let Some(stored) = stored {
            // clawdbot 2026.1.24's `connect.auth` allows only token and password
            // (`additionalProperties: false`) and checks a device token sent as `auth.token`
            // (`verifyDeviceToken` in message-handler.js); openclaw reads `auth.deviceToken`.
            if openclaw {
                device_token = Some(stored.token);
            } else {
                token = Some(stored.token);
            }
        }
        let proof = device.map(|d| {
            d.proof(&SignInput {
                version: if openclaw {
                    PayloadVersion::V3
                } else {
                    PayloadVersion::V2
                },
                client_id: client.id,
                client_mode: client.mode,
                role,
                scopes,
                // `resolveSignatureToken`: auth.token ?? auth.deviceToken (clawdbot: auth.token).
                token: token.as_deref().or(device_token.as_deref()),
                nonce: &challenge.nonce,
                platform: client.platform,
                device_family: None,
                signed_at_ms: now_ms(),
            })
        });
        ConnectCredentials {
            device,
            token,
            password,
            device_token,
            uses_device_token,
            openclaw,
            role,
            proof,
        }
    }

    /// `connect.auth`, `None` when there is no credential at all.
    pub(crate) fn auth(&self) -> Option<ConnectAuth<'_>> {
        (self.token.is_some() || self.password.is_some() || self.device_token.is_some()).then_some(
            ConnectAuth {
                token: self.token.as_deref(),
                password: self.password,
                device_token: self.device_token.as_deref(),
            },
        )
    }

    /// After `hello-ok`: keep a device token the gateway issued (clawdbot issues one to
    /// every paired device, openclaw to devices it paired by approval).
    pub(crate) fn accepted(&self, hello: &HelloOk) {
        let (Some(device), Some(auth)) = (self.device, hello.auth.as_ref()) else {
            return;
        };
        let Some(token) = auth.device_token.clone().filter(|t| !t.is_empty()) else {
            return;
        };
        let token = DeviceToken {
            token,
            role: self.role.to_string(),
            scopes: auth.scopes.clone(),
            issued_at_ms: None,
        };
        let fresh = device.device_token().as_ref() != Some(&token);
        match device.store_device_token(token) {
            Ok(()) if fresh => {
                info!(device_id = %device.device_id(), path = %device.path().display(), "gateway issued a device token; stored")
            }
            Ok(()) => {}
            Err(e) => warn!(error = %e, "device token kept in memory only"),
        }
    }

    /// After a refused `connect`: forget a stored device token the gateway no longer accepts,
    /// and for a pending pairing return what the operator needs to approve it.
    pub(crate) fn rejected(&self, error: &ErrorShape) -> Option<ConnectFailure> {
        let detail = error.details.as_ref().and_then(|d| d.code.as_deref());
        if self.uses_device_token
            && (error.message.starts_with("unauthorized")
                || detail.is_some_and(|c| c.starts_with("AUTH_")))
        {
            if let Some(device) = self.device {
                warn!(device_id = %device.device_id(), "the gateway refused the stored device token; forgetting it");
                if let Err(e) = device.clear_device_token() {
                    warn!(error = %e, "could not update the device identity file");
                }
            }
        }
        let pairing = error.code == "NOT_PAIRED"
            && (error.message.starts_with("pairing required")
                || detail == Some("PAIRING_REQUIRED"));
        let device = self.device.filter(|_| pairing)?;
        Some(ConnectFailure::PairingRequired {
            device_id: device.device_id().to_owned(),
            request_id: error.details.as_ref().and_then(|d| d.request_id.clone()),
            openclaw: self.openclaw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::Secret;
    use crate::gateway::device::tests::{fixed_identity, input, Scratch, VEC_ID};
    use crate::gateway::device::verify;
    use crate::gateway::methods::SCOPES;
    use std::path::Path;

    fn challenge(openclaw: bool) -> Challenge {
        let json = if openclaw {
            r#"{"nonce":"n-7","ts":1,"capabilities":["model-catalog-snapshot"]}"#
        } else {
            r#"{"nonce":"n-7","ts":1}"#
        };
        serde_json::from_str(json).unwrap()
    }

    fn client() -> ClientInfo<'static> {
        ClientInfo {
            id: CLIENT_ID,
            version: "0.1.0",
            platform: "linux",
            mode: CLIENT_MODE,
            display_name: None,
        }
    }

    /// The credentials of a `connect` as operator with the default scopes.
    fn operator<'a>(
        auth: &'a GatewayAuth,
        id: &'a DeviceIdentity,
        openclaw: bool,
    ) -> ConnectCredentials<'a> {
        let client = client();
        ConnectCredentials::new(
            auth,
            Some(id),
            &challenge(openclaw),
            &client,
            "operator",
            &SCOPES,
        )
    }

    /// The proof verifies as a `version` payload over the challenge's nonce and `token`.
    fn assert_signed(creds: &ConnectCredentials<'_>, version: PayloadVersion, token: &'static str) {
        let proof = creds.proof.as_ref().unwrap();
        let mut signed = input(version, Some(token));
        signed.nonce = "n-7";
        signed.signed_at_ms = proof.signed_at;
        assert!(verify(
            &proof.public_key,
            &signed.payload(VEC_ID),
            &proof.signature
        ));
    }

    fn with_token(dir: &Path) -> DeviceIdentity {
        let id = fixed_identity(dir);
        id.store_device_token(DeviceToken {
            token: "dt-9".into(),
            role: "operator".into(),
            scopes: vec![],
            issued_at_ms: None,
        })
        .unwrap();
        id
    }

    #[test]
    fn a_shared_secret_wins_over_a_stored_device_token() {
        let dir = Scratch::new();
        let id = with_token(&dir.0);
        let auth = GatewayAuth::Token(Secret::new("secret"));
        for openclaw in [false, true] {
            let creds = operator(&auth, &id, openclaw);
            let json = serde_json::to_value(creds.auth()).unwrap();
            assert_eq!(json, serde_json::json!({"token": "secret"}));
            assert_eq!(creds.proof.as_ref().unwrap().nonce, "n-7");
            let version = if openclaw {
                PayloadVersion::V3
            } else {
                PayloadVersion::V2
            };
            assert_signed(&creds, version, "secret");
        }
    }

    #[test]
    fn a_stored_device_token_alone_goes_where_each_gateway_reads_it() {
        let dir = Scratch::new();
        let id = with_token(&dir.0);
        // clawdbot: auth.token, signed as the token (v2).
        let creds = operator(&GatewayAuth::None, &id, false);
        assert_eq!(
            serde_json::to_value(creds.auth()).unwrap(),
            serde_json::json!({"token": "dt-9"})
        );
        // openclaw: auth.deviceToken, signed as the token (v3).
        let creds = operator(&GatewayAuth::None, &id, true);
        assert_eq!(
            serde_json::to_value(creds.auth()).unwrap(),
            serde_json::json!({"deviceToken": "dt-9"})
        );
        assert_signed(&creds, PayloadVersion::V3, "dt-9");
        // A refused device token is forgotten.
        let refused: ErrorShape = serde_json::from_value(serde_json::json!({
            "code": "INVALID_REQUEST",
            "message": "unauthorized: device token mismatch (rotate/reissue device token)",
            "details": {"code": "AUTH_DEVICE_TOKEN_MISMATCH"}
        }))
        .unwrap();
        assert_eq!(creds.rejected(&refused), None);
        assert_eq!(id.device_token(), None);
    }

    #[test]
    fn a_pending_pairing_reports_the_request_to_approve() {
        let dir = Scratch::new();
        let id = fixed_identity(&dir.0);
        let auth = GatewayAuth::Token(Secret::new("secret"));
        let v4: ErrorShape = serde_json::from_value(serde_json::json!({
            "code": "NOT_PAIRED",
            "message": "pairing required: device is not approved yet",
            "details": {"code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": "req-1"}
        }))
        .unwrap();
        let creds = operator(&auth, &id, true);
        assert_eq!(
            creds.rejected(&v4),
            Some(ConnectFailure::PairingRequired {
                device_id: VEC_ID.to_owned(),
                request_id: Some("req-1".to_owned()),
                openclaw: true,
            })
        );
        let v3: ErrorShape = serde_json::from_value(serde_json::json!({
            "code": "NOT_PAIRED", "message": "pairing required", "details": {"requestId": "req-2"}
        }))
        .unwrap();
        let creds = operator(&auth, &id, false);
        assert!(matches!(
            creds.rejected(&v3),
            Some(ConnectFailure::PairingRequired { request_id: Some(id), openclaw: false, .. })
                if id == "req-2"
        ));
        let no_device: ErrorShape = serde_json::from_value(serde_json::json!({
            "code": "NOT_PAIRED", "message": "device identity required"
        }))
        .unwrap();
        assert_eq!(creds.rejected(&no_device), None);
    }
}
