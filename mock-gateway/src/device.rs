//! Device identities in the mock: the `connect.device` proof check, pairing requests and
//! their approval, and the device tokens issued to paired devices.
//!
//! The checks and their order follow the gateway sources: 2026.1.24
//! `gateway/server/ws-connection/message-handler.js` (v3) and openclaw 2026.9.6
//! `verifyGatewayConnectDeviceProof` / `authorizeGatewayConnectDevice` (v4): device id =
//! SHA-256 of the public key, `signedAt` within the skew window, the challenge nonce echoed
//! (v4 requires it; v3 only on non-local connections, the mock is always local), then the
//! signature over the payload the client must have signed. The mock is always "local", so
//! without [`super::MockOptions::require_pairing`] a new device is approved silently on v3
//! (as 2026.1.24 does for loopback clients) and not paired at all on v4 (a local
//! `gateway-client`/`backend` with a shared secret skips pairing: openclaw-lab
//! device_identity got no device token). With `require_pairing` every unknown device gets a
//! pending request, as a remote client would.
//!
//! The signed payload is rebuilt here from the gateways' own rules (`gateway/device-auth.js`
//! `buildDeviceAuthPayload` / `buildDeviceAuthPayloadV3`; openclaw-lab README, device identity
//! row), not with clawshim-core's payload builder, so a client that signs the wrong text
//! fails here as it would on a real gateway.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{now_ms, uuid, Protocol, Shared};

/// Pending and approved devices.
#[derive(Default)]
pub(super) struct Devices {
    /// `requestId` -> the device waiting for approval.
    pending: BTreeMap<String, Pending>,
    /// `deviceId` -> the approved device.
    paired: HashMap<String, Paired>,
}

struct Pending {
    device_id: String,
    public_key: String,
    scopes: Vec<String>,
}

struct Paired {
    public_key: String,
    token: String,
    scopes: Vec<String>,
    issued_at_ms: u64,
}

impl Devices {
    /// Request ids waiting for approval, oldest first.
    pub(super) fn pending_ids(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// Approve `request_id`: the device is paired and gets a fresh device token.
    pub(super) fn approve(&mut self, request_id: &str) -> bool {
        let Some(p) = self.pending.remove(request_id) else {
            return false;
        };
        self.pair(p.device_id, p.public_key, p.scopes);
        true
    }

    /// Forget every paired device (see `MockGateway::revoke_pairings`).
    pub(super) fn revoke_all(&mut self) {
        self.paired.clear();
    }

    fn pair(&mut self, device_id: String, public_key: String, scopes: Vec<String>) {
        self.paired.insert(
            device_id,
            Paired {
                public_key,
                token: format!("dt-{}", uuid().replace('-', "")),
                scopes,
                issued_at_ms: now_ms(),
            },
        );
    }

    /// The pending request of `device_id`, reused while it waits (2026.1.24
    /// `requestDevicePairing` returns the existing one).
    fn request(&mut self, device_id: &str, public_key: &str, scopes: &[String]) -> String {
        if let Some((id, _)) = self.pending.iter().find(|(_, p)| p.device_id == device_id) {
            return id.clone();
        }
        let id = uuid();
        self.pending.insert(
            id.clone(),
            Pending {
                device_id: device_id.to_string(),
                public_key: public_key.to_string(),
                scopes: scopes.to_vec(),
            },
        );
        id
    }
}

/// A `connect.device` block whose proof checked out.
pub(super) struct Verified {
    id: String,
    public_key: String,
}

/// A refused handshake: the `error` object and the close reason (always code 1008).
pub(super) type Refusal = (Value, String);

/// How a connection authenticated, for `hello-ok.auth`.
pub(super) struct Admission {
    /// `token`, `password` or `device-token`.
    pub method: &'static str,
    /// `(deviceToken, issuedAtMs)` when the device is paired.
    pub device_token: Option<(String, u64)>,
    /// Scopes the device token grants.
    pub token_scopes: Vec<String>,
}

fn device_auth_error(protocol: Protocol, reason: &str, message: &str) -> Refusal {
    let mut error = json!({"code": "INVALID_REQUEST", "message": message});
    if protocol == Protocol::V4 {
        // `resolveDeviceAuthConnectErrorDetailCode`; traces: openclaw-lab device_identity
        // (`device nonce mismatch`, DEVICE_AUTH_NONCE_MISMATCH, close 1008).
        let code = match reason {
            "device-id-mismatch" => "DEVICE_AUTH_DEVICE_ID_MISMATCH",
            "device-signature-stale" => "DEVICE_AUTH_SIGNATURE_EXPIRED",
            "device-nonce-missing" => "DEVICE_AUTH_NONCE_REQUIRED",
            "device-nonce-mismatch" => "DEVICE_AUTH_NONCE_MISMATCH",
            "device-signature" => "DEVICE_AUTH_SIGNATURE_INVALID",
            _ => "DEVICE_AUTH_INVALID",
        };
        error["details"] = json!({"code": code, "reason": reason});
    }
    (error, message.to_string())
}

/// The strings of a JSON array (anything else: none).
pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Signed payload layouts, oldest first.
#[derive(Clone, Copy)]
enum Version {
    /// 2026.1.24 without a nonce: `v1|device|client|mode|role|scopes|signedAt|token`.
    V1,
    /// `v1`'s fields with the `v2` tag and the nonce appended.
    V2,
    /// openclaw: `v2`'s fields with the `v3` tag, then platform and device family.
    V3,
}

/// What the gateway reads from `connect` to rebuild the signed text.
struct Signed<'a> {
    device_id: &'a str,
    client_id: &'a str,
    client_mode: &'a str,
    role: &'a str,
    /// `connect.scopes` joined with `,`, in the order sent.
    scopes: String,
    signed_at_ms: u64,
    /// Empty when the client sent none.
    token: &'a str,
    nonce: &'a str,
    platform: &'a str,
    device_family: &'a str,
}

impl Signed<'_> {
    /// The text the client must have signed: the fields joined with `|`
    /// (`buildDeviceAuthPayload`, `buildDeviceAuthPayloadV3`).
    fn payload(&self, version: Version) -> String {
        let tag = match version {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
        };
        let mut text = format!(
            "{tag}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes,
            self.signed_at_ms,
            self.token
        );
        if !matches!(version, Version::V1) {
            text.push('|');
            text.push_str(self.nonce);
        }
        if matches!(version, Version::V3) {
            // `normalizeDeviceMetadataForAuth`: trimmed, A-Z lower-cased.
            for field in [self.platform, self.device_family] {
                text.push('|');
                text.push_str(&field.trim().to_ascii_lowercase());
            }
        }
        text
    }
}

/// base64url with or without padding (`base64UrlDecode` accepts both).
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// `deriveDeviceIdFromPublicKey`: SHA-256 hex of the raw 32-byte key.
fn device_id(public_key: &str) -> Option<String> {
    let raw = decode_b64url(public_key)?;
    (raw.len() == 32).then(|| {
        Sha256::digest(&raw)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// `verifyDeviceSignature`: an Ed25519 signature of `payload` by `public_key`.
fn signature_ok(public_key: &str, payload: &str, signature: &str) -> bool {
    let Some(key) = decode_b64url(public_key)
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
    else {
        return false;
    };
    let Some(sig) = decode_b64url(signature).and_then(|s| Signature::from_slice(&s).ok()) else {
        return false;
    };
    key.verify(payload.as_bytes(), &sig).is_ok()
}

/// Checks `params.device` against the challenge `nonce`; `Ok(None)` without a device block.
pub(super) fn verify(
    shared: &Shared,
    params: &Value,
    nonce: &str,
) -> Result<Option<Verified>, Refusal> {
    let protocol = shared.opts.protocol;
    let dev = &params["device"];
    if dev.is_null() {
        return Ok(None);
    }
    let fail = |reason: &str, message: &str| Err(device_auth_error(protocol, reason, message));
    let id = dev["id"].as_str().unwrap_or_default();
    let public_key = dev["publicKey"].as_str().unwrap_or_default();
    let signature = dev["signature"].as_str().unwrap_or_default();
    if device_id(public_key).as_deref() != Some(id) || id.is_empty() {
        return fail("device-id-mismatch", "device identity mismatch");
    }
    // 2 min on openclaw (`DEVICE_SIGNATURE_SKEW_MS = 12e4`), 10 min on 2026.1.24.
    let skew = match protocol {
        Protocol::V3 => 10 * 60 * 1000,
        Protocol::V4 => 2 * 60 * 1000,
    };
    let Some(signed_at) = dev["signedAt"].as_u64() else {
        return fail("device-signature-stale", "device signature expired");
    };
    if now_ms().abs_diff(signed_at) > skew {
        return fail("device-signature-stale", "device signature expired");
    }
    let provided = dev["nonce"].as_str().unwrap_or_default().trim();
    if provided.is_empty() && protocol == Protocol::V4 {
        return fail("device-nonce-missing", "device nonce required");
    }
    if !provided.is_empty() && provided != nonce {
        return fail("device-nonce-mismatch", "device nonce mismatch");
    }
    let auth = &params["auth"];
    let client = &params["client"];
    // v3: `auth.token`; v4 `resolveSignatureToken`: token ?? deviceToken ?? bootstrapToken.
    let token = match protocol {
        Protocol::V3 => auth["token"].as_str(),
        Protocol::V4 => auth["token"]
            .as_str()
            .or(auth["deviceToken"].as_str())
            .or(auth["bootstrapToken"].as_str()),
    };
    let signed = Signed {
        device_id: id,
        client_id: client["id"].as_str().unwrap_or_default(),
        client_mode: client["mode"].as_str().unwrap_or_default(),
        role: params["role"].as_str().unwrap_or("operator"),
        scopes: strings(&params["scopes"]).join(","),
        signed_at_ms: signed_at,
        token: token.unwrap_or(""),
        nonce: provided,
        platform: client["platform"].as_str().unwrap_or_default(),
        device_family: client["deviceFamily"].as_str().unwrap_or_default(),
    };
    let valid = |version| signature_ok(public_key, &signed.payload(version), signature);
    let ok = match protocol {
        // `resolveDeviceSignaturePayloadVersion`: v3, then v2.
        Protocol::V4 => valid(Version::V3) || valid(Version::V2),
        Protocol::V3 if !provided.is_empty() => valid(Version::V2),
        // A local client without a nonce may still sign the legacy v1 payload.
        Protocol::V3 => valid(Version::V1),
    };
    if !ok {
        return fail("device-signature", "device signature invalid");
    }
    Ok(Some(Verified {
        id: id.to_string(),
        public_key: public_key.to_string(),
    }))
}

/// Whether the connection proves itself with the device token of a paired device: v4 sends
/// it as `auth.deviceToken` (or `auth.token` with a device), v3 as `auth.token`
/// (2026.1.24 `verifyDeviceToken` after the shared token failed).
pub(super) fn token_ok(shared: &Shared, device: Option<&Verified>, params: &Value) -> bool {
    let Some(device) = device else {
        return false;
    };
    let auth = &params["auth"];
    let offered = match shared.opts.protocol {
        Protocol::V3 => auth["token"].as_str(),
        Protocol::V4 => auth["deviceToken"].as_str().or(auth["token"].as_str()),
    };
    let devices = super::lock(&shared.devices);
    matches!(
        (offered, devices.paired.get(&device.id)),
        (Some(t), Some(p)) if p.token == t && p.public_key == device.public_key
    )
}

/// The pairing step after authentication: pairs, refuses with a pending request, or lets the
/// connection through; returns the `hello-ok.auth` device token of a paired device.
pub(super) fn pair(
    shared: &Shared,
    device: Option<&Verified>,
    params: &Value,
    method: &'static str,
) -> Result<Admission, Refusal> {
    let mut admission = Admission {
        method,
        device_token: None,
        token_scopes: Vec::new(),
    };
    let Some(device) = device else {
        return Ok(admission);
    };
    let protocol = shared.opts.protocol;
    let scopes = strings(&params["scopes"]);
    let mut devices = super::lock(&shared.devices);
    let paired = devices
        .paired
        .get(&device.id)
        .is_some_and(|p| p.public_key == device.public_key);
    if !paired {
        if shared.opts.require_pairing {
            let request_id = devices.request(&device.id, &device.public_key, &scopes);
            return Err(pairing_required(protocol, &request_id, &device.id, &scopes));
        }
        if protocol == Protocol::V4 {
            // A local backend with a shared secret skips pairing: no device token.
            return Ok(admission);
        }
        // 2026.1.24 approves a local device silently (`silent: isLocalClient`).
        devices.pair(device.id.clone(), device.public_key.clone(), scopes);
    }
    let p = &devices.paired[&device.id];
    admission.device_token = Some((p.token.clone(), p.issued_at_ms));
    admission.token_scopes = p.scopes.clone();
    Ok(admission)
}

/// `NOT_PAIRED` for a device waiting for approval: 2026.1.24 `pairing required` +
/// `details.requestId`; openclaw `buildPairingConnectErrorMessage` /
/// `buildPairingConnectErrorDetails` / `buildPairingConnectCloseReason` (not traced: the labs
/// run on loopback, where pairing is skipped or silent).
fn pairing_required(
    protocol: Protocol,
    request_id: &str,
    device_id: &str,
    scopes: &[String],
) -> Refusal {
    match protocol {
        Protocol::V3 => (
            json!({"code": "NOT_PAIRED", "message": "pairing required", "details": {"requestId": request_id}}),
            "pairing required".to_string(),
        ),
        Protocol::V4 => {
            let message = "pairing required: device is not approved yet";
            (
                json!({
                    "code": "NOT_PAIRED",
                    "message": message,
                    "details": {
                        "code": "PAIRING_REQUIRED",
                        "reason": "not-paired",
                        "requestId": request_id,
                        "remediationHint": "Approve this device from the pending pairing requests.",
                        "deviceId": device_id,
                        "requestedRole": "operator",
                        "requestedScopes": scopes,
                    }
                }),
                format!("{message} (requestId: {request_id})"),
            )
        }
    }
}

/// openclaw's refusal of a device token that belongs to no paired device
/// (`formatGatewayAuthFailureMessage`, reason `device_token_mismatch`); `None` when the
/// connection offered no device token or speaks v3 (there it is an ordinary token mismatch).
pub(super) fn token_refusal(shared: &Shared, params: &Value) -> Option<Value> {
    let auth = &params["auth"];
    let only_device_token =
        auth["deviceToken"].is_string() && auth["token"].is_null() && auth["password"].is_null();
    (shared.opts.protocol == Protocol::V4 && only_device_token).then(|| {
        json!({
            "code": "INVALID_REQUEST",
            "message": "unauthorized: device token mismatch (rotate/reissue device token)",
            "details": {
                "code": "AUTH_DEVICE_TOKEN_MISMATCH",
                "authReason": "device_token_mismatch",
                "canRetryWithDeviceToken": false,
                "recommendedNextStep": "update_auth_credentials"
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> Signed<'static> {
        Signed {
            device_id: "dev",
            client_id: "gateway-client",
            client_mode: "backend",
            role: "operator",
            scopes: "operator.read,operator.write".to_string(),
            signed_at_ms: 1_700_000_000_000,
            token: "secret",
            nonce: "n-1",
            platform: " Linux ",
            device_family: "",
        }
    }

    #[test]
    fn payloads_have_the_gateways_layouts() {
        // Written out from the gateways' rules (openclaw-lab README, device identity row).
        let s = signed();
        assert_eq!(
            s.payload(Version::V1),
            "v1|dev|gateway-client|backend|operator|operator.read,operator.write|1700000000000|secret"
        );
        assert_eq!(
            s.payload(Version::V2),
            "v2|dev|gateway-client|backend|operator|operator.read,operator.write|1700000000000|secret|n-1"
        );
        assert_eq!(
            s.payload(Version::V3),
            "v3|dev|gateway-client|backend|operator|operator.read,operator.write|1700000000000|secret|n-1|linux|"
        );
    }

    #[test]
    fn a_missing_token_is_an_empty_field() {
        let s = Signed {
            token: "",
            ..signed()
        };
        assert!(s.payload(Version::V2).ends_with("|1700000000000||n-1"));
    }
}
