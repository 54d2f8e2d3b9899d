//! Ed25519 device identity: the optional `connect.device` proof and the device token the
//! gateway issues to a paired device.
//!
//! A gateway trusts a token-only connection fully only from its own host (openclaw-lab README,
//! token-only row: a remote token-only client gets no scopes). Anywhere else clawshim needs a
//! device identity that the gateway's owner has approved once (`devices approve`). The
//! identity is an Ed25519 key pair kept in a JSON file (mode 0600, created on first start);
//! the device id is the SHA-256 hex of the raw 32-byte public key, and each `connect` carries
//! a signature over a `|`-joined payload that binds the challenge nonce, the client, the
//! requested scopes and the token (openclaw-lab README, device identity row; traces:
//! openclaw-lab device_identity).
//!
//! Payload version: clawdbot 2026.1.24 verifies only `v2` when a nonce is sent
//! (`gateway/device-auth.js`, `message-handler.js`); openclaw 2026.9.6 tries `v3` (which adds
//! the lower-cased platform and device family) and then still `v2`
//! (`resolveDeviceSignaturePayloadVersion`). clawshim signs `v3` when the challenge announces
//! `capabilities` (openclaw) and `v2` otherwise: `v3` is what openclaw's own client signs, so
//! it is the form least likely to be retired, and `v2` is the only one the older gateway knows.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::methods::DeviceProof;
use crate::private_fs::{self, PrivateFsError};

/// Version of the identity file layout.
const FILE_VERSION: u32 = 1;

/// Why an identity file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Reading, creating or writing the file failed.
    #[error("device identity {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not an identity this version can read.
    #[error("device identity {path}: {message} (move the file away to create a new identity; the gateway then sees a new device that must be approved again)")]
    Invalid { path: PathBuf, message: String },
    /// Other users may read the private key.
    #[error("device identity {path}: mode {mode:o} lets other users read the private key; run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
}

/// A device token issued in `hello-ok.auth.deviceToken` to a paired device.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceToken {
    /// The token itself.
    pub token: String,
    /// Role it was issued for (`operator`).
    pub role: String,
    /// Scopes it grants.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When the gateway issued it, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at_ms: Option<u64>,
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceToken")
            .field("token", &"***")
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field("issued_at_ms", &self.issued_at_ms)
            .finish()
    }
}

/// The identity file as stored on disk.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityFile {
    version: u32,
    device_id: String,
    /// Raw 32-byte public key, base64url without padding.
    public_key: String,
    /// Raw 32-byte Ed25519 seed, base64url without padding.
    private_key: String,
    created_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_token: Option<DeviceToken>,
}

/// An Ed25519 device identity loaded from (or created in) its file.
pub struct DeviceIdentity {
    path: PathBuf,
    key: SigningKey,
    device_id: String,
    public_key: String,
    created_at_ms: u64,
    token: Mutex<Option<DeviceToken>>,
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("path", &self.path)
            .field("device_id", &self.device_id)
            .field("has_device_token", &self.device_token().is_some())
            .finish()
    }
}

/// Which signed payload layout to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// `v2|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce`.
    V2,
    /// `v2`'s fields plus `|platform|deviceFamily`, both trimmed and ASCII-lower-cased.
    V3,
}

/// Everything a device signature covers.
#[derive(Debug, Clone)]
pub struct SignInput<'a> {
    /// Payload layout.
    pub version: PayloadVersion,
    /// `connect.client.id`.
    pub client_id: &'a str,
    /// `connect.client.mode`.
    pub client_mode: &'a str,
    /// `connect.role`.
    pub role: &'a str,
    /// `connect.scopes`, in the order sent.
    pub scopes: &'a [&'a str],
    /// The token the gateway verifies against the signature: `auth.token`, else (openclaw)
    /// `auth.deviceToken`; empty when none. A password is never part of the payload.
    pub token: Option<&'a str>,
    /// The `connect.challenge` nonce.
    pub nonce: &'a str,
    /// `connect.client.platform` (v3 only).
    pub platform: &'a str,
    /// `connect.client.deviceFamily` (v3 only).
    pub device_family: Option<&'a str>,
    /// Signing time, ms since the epoch; the gateway allows a skew of 2 min (openclaw) or
    /// 10 min (clawdbot).
    pub signed_at_ms: u64,
}

impl SignInput<'_> {
    /// The exact text that is signed for device `device_id` (`buildDeviceAuthPayload` /
    /// `buildDeviceAuthPayloadV3` of the gateways).
    pub fn payload(&self, device_id: &str) -> String {
        let signed_at = self.signed_at_ms.to_string();
        let scopes = self.scopes.join(",");
        let mut parts = vec![
            match self.version {
                PayloadVersion::V2 => "v2",
                PayloadVersion::V3 => "v3",
            },
            device_id,
            self.client_id,
            self.client_mode,
            self.role,
            &scopes,
            &signed_at,
            self.token.unwrap_or(""),
            self.nonce,
        ];
        let platform;
        let family;
        if self.version == PayloadVersion::V3 {
            // The gateway lower-cases A-Z only (`normalizeDeviceMetadataForAuth`).
            platform = self.platform.trim().to_ascii_lowercase();
            family = self.device_family.unwrap_or("").trim().to_ascii_lowercase();
            parts.push(&platform);
            parts.push(&family);
        }
        parts.join("|")
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The device id of a base64url public key: SHA-256 hex of the raw key bytes; `None` when
/// the key is not 32 base64url bytes.
pub fn device_id_for(public_key: &str) -> Option<String> {
    let raw = decode_b64url(public_key)?;
    (raw.len() == 32).then(|| hex(&Sha256::digest(&raw)))
}

/// Whether `signature` (base64url) is a valid Ed25519 signature of `payload` by `public_key`
/// (raw 32 bytes, base64url), as the gateway's `verifyDeviceSignature` checks it.
/// Only core's own tests check signatures; the mock gateway verifies with its own code.
#[cfg(test)]
pub(crate) fn verify(public_key: &str, payload: &str, signature: &str) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
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

/// base64url with or without padding (the gateways accept both).
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl DeviceIdentity {
    /// Load the identity at `path`, or create a new key pair there (parent directories
    /// 0700, file 0600) when the file does not exist. A file that other users can read is
    /// refused, and so is a file that does not parse: it is never overwritten.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<DeviceIdentity, DeviceError> {
        let path = path.as_ref();
        match Self::load(path)? {
            Some(identity) => Ok(identity),
            None => Self::create(path.to_path_buf()),
        }
    }

    /// Load the identity at `path` with the checks of [`DeviceIdentity::load_or_create`],
    /// creating nothing: `Ok(None)` when there is no file (configuration checks use this).
    pub fn load(path: impl AsRef<Path>) -> Result<Option<DeviceIdentity>, DeviceError> {
        let path = path.as_ref().to_path_buf();
        match fs::read_to_string(&path) {
            Ok(text) => {
                check_permissions(&path)?;
                Self::parse(path, &text).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DeviceError::Io { path, source }),
        }
    }

    fn parse(path: PathBuf, text: &str) -> Result<DeviceIdentity, DeviceError> {
        let invalid = |message: String| DeviceError::Invalid {
            path: path.clone(),
            message,
        };
        let file: IdentityFile = serde_json::from_str(text)
            .map_err(|e| invalid(format!("not an identity file: {e}")))?;
        if file.version != FILE_VERSION {
            return Err(invalid(format!("unknown version {}", file.version)));
        }
        let seed = decode_b64url(&file.private_key)
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
            .ok_or_else(|| invalid("privateKey is not 32 base64url bytes".into()))?;
        let key = SigningKey::from_bytes(&seed);
        let public_key = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let device_id = hex(&Sha256::digest(key.verifying_key().as_bytes()));
        if file.public_key != public_key || file.device_id != device_id {
            return Err(invalid(
                "publicKey/deviceId do not belong to privateKey".into(),
            ));
        }
        Ok(DeviceIdentity {
            path,
            key,
            device_id,
            public_key,
            created_at_ms: file.created_at_ms,
            token: Mutex::new(file.device_token),
        })
    }

    fn create(path: PathBuf) -> Result<DeviceIdentity, DeviceError> {
        let mut seed = [0u8; 32];
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed).map_err(|e| {
            DeviceError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            }
        })?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        let identity = DeviceIdentity {
            public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            device_id: hex(&Sha256::digest(key.verifying_key().as_bytes())),
            key,
            created_at_ms: now_ms(),
            token: Mutex::new(None),
            path,
        };
        if let Some(parent) = identity.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private_fs::create_private_dir(parent).map_err(|source| DeviceError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        identity.write(None, true)?;
        Ok(identity)
    }

    /// Write the file: a new one with `create_new` (two processes starting at once cannot
    /// both create a key), an update through a 0600 temporary file and a rename.
    fn write(&self, token: Option<&DeviceToken>, create: bool) -> Result<(), DeviceError> {
        let file = IdentityFile {
            version: FILE_VERSION,
            device_id: self.device_id.clone(),
            public_key: self.public_key.clone(),
            private_key: URL_SAFE_NO_PAD.encode(self.key.to_bytes()),
            created_at_ms: self.created_at_ms,
            device_token: token.cloned(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("identity serializes");
        text.push('\n');
        let io = |source| DeviceError::Io {
            path: self.path.clone(),
            source,
        };
        if create {
            return write_private(&self.path, text.as_bytes(), true).map_err(io);
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let written =
            write_private(&tmp, text.as_bytes(), false).and_then(|()| fs::rename(&tmp, &self.path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(io)
    }

    /// SHA-256 hex of the raw public key: `connect.device.id`.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The raw public key, base64url without padding: `connect.device.publicKey`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The identity file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sign `payload`; the signature is base64url without padding.
    pub fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }

    /// The `connect.device` block for `input`.
    pub fn proof(&self, input: &SignInput<'_>) -> DeviceProof {
        DeviceProof {
            id: self.device_id.clone(),
            public_key: self.public_key.clone(),
            signature: self.sign(&input.payload(&self.device_id)),
            signed_at: input.signed_at_ms,
            nonce: input.nonce.to_string(),
        }
    }

    /// The device token stored from an earlier `hello-ok`, if any.
    pub fn device_token(&self) -> Option<DeviceToken> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Remember `token` and persist it in the identity file (unchanged tokens are not
    /// rewritten). When the file cannot be written the token is still kept in memory.
    pub fn store_device_token(&self, token: DeviceToken) -> Result<(), DeviceError> {
        let mut current = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref() == Some(&token) {
            return Ok(());
        }
        let written = self.write(Some(&token), false);
        *current = Some(token);
        written
    }

    /// Forget the stored device token (the gateway refused it) and persist that.
    pub fn clear_device_token(&self) -> Result<(), DeviceError> {
        let mut current = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if current.take().is_none() {
            return Ok(());
        }
        self.write(None, false)
    }
}

/// The identity file must be readable by its owner only (the one check shared with the TLS
/// key, [`crate::private_fs::check_owner_only`]).
fn check_permissions(path: &Path) -> Result<(), DeviceError> {
    match private_fs::check_owner_only(path) {
        Ok(()) => Ok(()),
        Err(PrivateFsError::Readable { path, mode }) => {
            Err(DeviceError::Permissions { path, mode })
        }
        Err(PrivateFsError::Io { path, source }) => Err(DeviceError::Io { path, source }),
        Err(other) => Err(DeviceError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other),
        }),
    }
}

/// Write a new 0600 file (`O_EXCL|O_NOFOLLOW`, see [`private_fs::create_private_file`]).
/// For the update's temporary file a leftover name (a crashed run, or a symlink planted by
/// another user) is unlinked (never followed) and the exclusive create tried once more.
fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> std::io::Result<()> {
    match private_fs::create_private_file(path, bytes) {
        Err(e) if !create_new && e.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            private_fs::create_private_file(path, bytes)
        }
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gateway::methods::{CLIENT_ID, CLIENT_MODE, SCOPES};

    /// A scratch directory under the system temp dir, removed on drop.
    pub(crate) struct Scratch(pub(crate) PathBuf);

    impl Scratch {
        pub(crate) fn new() -> Scratch {
            Scratch(std::env::temp_dir().join(format!("clawshim-device-{}", uuid::Uuid::new_v4())))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Seed bytes 0..32: the vectors below were computed with the openclaw lab's
    /// `ws_client.py` `DeviceIdentity.sign_connect` (Python `cryptography`) for this seed.
    const SEED: [u8; 32] = {
        let mut s = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            s[i] = i as u8;
            i += 1;
        }
        s
    };
    pub(crate) const VEC_ID: &str =
        "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
    const VEC_PUB: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
    const VEC_NONCE: &str = "ecee0d24-c29a-4771-904d-c41e44c86a98";
    const VEC_AT: u64 = 1795689989674;

    pub(crate) fn fixed_identity(dir: &Path) -> DeviceIdentity {
        let path = dir.join("identity.json");
        let key = SigningKey::from_bytes(&SEED);
        let file = IdentityFile {
            version: FILE_VERSION,
            device_id: VEC_ID.into(),
            public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            private_key: URL_SAFE_NO_PAD.encode(SEED),
            created_at_ms: 1,
            device_token: None,
        };
        fs::create_dir_all(dir).unwrap();
        write_private(
            &path,
            serde_json::to_string(&file).unwrap().as_bytes(),
            true,
        )
        .unwrap();
        DeviceIdentity::load_or_create(&path).unwrap()
    }

    pub(crate) fn input(
        version: PayloadVersion,
        token: Option<&'static str>,
    ) -> SignInput<'static> {
        SignInput {
            version,
            client_id: CLIENT_ID,
            client_mode: CLIENT_MODE,
            role: "operator",
            scopes: &SCOPES,
            token,
            nonce: VEC_NONCE,
            platform: "Linux",
            device_family: None,
            signed_at_ms: VEC_AT,
        }
    }

    #[test]
    fn v3_payload_and_signature_match_the_lab_client() {
        let dir = Scratch::new();
        let id = fixed_identity(&dir.0);
        assert_eq!(id.device_id(), VEC_ID);
        assert_eq!(id.public_key(), VEC_PUB);
        let input = input(PayloadVersion::V3, Some("secret"));
        assert_eq!(
            input.payload(VEC_ID),
            format!("v3|{VEC_ID}|gateway-client|backend|operator|operator.read,operator.write|{VEC_AT}|secret|{VEC_NONCE}|linux|")
        );
        let proof = id.proof(&input);
        assert_eq!(proof.signature, "xTpSOMiiWWi5Er7pD4G9sKhTgJyyfX71wBGoo2MD1LD0kIdkAT5HEUmVM3vmOjVTHw3apFvHHMikpCpoUWHZCA");
        assert_eq!(
            (proof.id.as_str(), proof.public_key.as_str()),
            (VEC_ID, VEC_PUB)
        );
        assert_eq!((proof.signed_at, proof.nonce.as_str()), (VEC_AT, VEC_NONCE));
    }

    #[test]
    fn v3_payload_without_token_keeps_an_empty_field() {
        let dir = Scratch::new();
        let id = fixed_identity(&dir.0);
        let mut input = input(PayloadVersion::V3, None);
        input.nonce = "n-1";
        input.platform = "linux";
        assert_eq!(
            input.payload(VEC_ID),
            format!("v3|{VEC_ID}|gateway-client|backend|operator|operator.read,operator.write|{VEC_AT}||n-1|linux|")
        );
        assert_eq!(id.proof(&input).signature, "x30nDzu1rcde4j2A0nWMXYvMAorm20I65JtfbLwqBjV8m7K690ityQvOlTEFRYsc3H2-k9qLjfK0qaMkOecXDw");
    }

    #[test]
    fn v2_payload_and_signature_match_the_gateway_format() {
        let dir = Scratch::new();
        let id = fixed_identity(&dir.0);
        let input = input(PayloadVersion::V2, Some("secret"));
        assert_eq!(
            input.payload(VEC_ID),
            format!("v2|{VEC_ID}|gateway-client|backend|operator|operator.read,operator.write|{VEC_AT}|secret|{VEC_NONCE}")
        );
        assert_eq!(id.proof(&input).signature, "TGeTRJtS5FiU8zWSlgGZnYlK-VNY-LcEFQ_9ojG2zyaSuHXGUbDxpFj5efC8IzOARkbKm9_Hw323GeSj5WslCQ");
    }

    #[test]
    fn the_traced_signature_that_openclaw_accepted_verifies() {
        // traces: openclaw-lab device_identity (connection "signed": hello-ok; the
        // "bad-signature" one signed another nonce).
        let public = "2Iw0hGDpgYxKJ65syeGcdBGCeZoiqq9olHArAZnBy58";
        let id = "117c1490b39b6bc221b608cf4a0b724d55d07177f7f55e0eac806efb5b34e975";
        let payload = format!("v3|{id}|gateway-client|backend|operator|operator.admin|1795689989674|secret|ecee0d24-c29a-4771-904d-c41e44c86a98|linux|");
        let good = "SYFZuMgjdPGbesaFodI61sdX0mD9QirPx-HPcJ_WrOu9PL2X5FnXOXO9Iv0sn4hDqiMfl8nEF22q13IjUYkmAQ";
        let other = "icnrV2Ll0Q4ZgV3jyFWsxaCCCPEKmXsgpcxJVP3rNJESXLGUx5dkIeqOlWDRv9BLloLV4T-HJAd0ClMlTcHIDw";
        assert_eq!(device_id_for(public).as_deref(), Some(id));
        assert!(verify(public, &payload, good));
        assert!(
            verify(public, &payload, &format!("{good}==")),
            "padding is accepted"
        );
        assert!(!verify(public, &payload, other));
        assert!(!verify(public, &payload.replace("secret", "secreT"), good));
        assert!(!verify("not base64!", &payload, good));
    }

    #[test]
    fn a_new_identity_is_private_signs_verifiably_and_reloads_the_same() {
        let dir = Scratch::new();
        let path = dir.0.join("nested/dir/identity.json");
        let id = DeviceIdentity::load_or_create(&path).unwrap();
        assert_eq!(id.device_id().len(), 64);
        assert_eq!(
            device_id_for(id.public_key()).as_deref(),
            Some(id.device_id())
        );
        let input = input(PayloadVersion::V3, Some("secret"));
        let proof = id.proof(&input);
        assert!(verify(
            &proof.public_key,
            &input.payload(&proof.id),
            &proof.signature
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let again = DeviceIdentity::load_or_create(&path).unwrap();
        assert_eq!(again.device_id(), id.device_id());
        assert_eq!(again.public_key(), id.public_key());
        assert_eq!(again.sign("x"), id.sign("x"));
    }

    #[test]
    fn a_device_token_is_persisted_privately_and_can_be_cleared() {
        let dir = Scratch::new();
        let path = dir.0.join("identity.json");
        let id = DeviceIdentity::load_or_create(&path).unwrap();
        assert_eq!(id.device_token(), None);
        let token = DeviceToken {
            token: "dt-1".into(),
            role: "operator".into(),
            scopes: vec!["operator.read".into()],
            issued_at_ms: Some(5),
        };
        id.store_device_token(token.clone()).unwrap();
        assert!(
            !format!("{id:?} {token:?}").contains("dt-1"),
            "Debug never shows the token"
        );
        let again = DeviceIdentity::load_or_create(&path).unwrap();
        assert_eq!(again.device_token(), Some(token));
        assert_eq!(again.device_id(), id.device_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        again.clear_device_token().unwrap();
        assert_eq!(
            DeviceIdentity::load_or_create(&path)
                .unwrap()
                .device_token(),
            None
        );
        let leftovers = fs::read_dir(&dir.0).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_other_users_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Scratch::new();
        let path = dir.0.join("identity.json");
        DeviceIdentity::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = DeviceIdentity::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, DeviceError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[cfg(unix)]
    #[test]
    fn an_update_never_writes_through_a_planted_temporary_file() {
        // Another local user who can write the directory plants a symlink where the update's
        // temporary file goes: the update must not follow it.
        let dir = Scratch::new();
        let path = dir.0.join("identity.json");
        let id = DeviceIdentity::load_or_create(&path).unwrap();
        let victim = dir.0.join("victim");
        fs::write(&victim, "untouched").unwrap();
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        let token = DeviceToken {
            token: "dt-2".into(),
            role: "operator".into(),
            scopes: vec![],
            issued_at_ms: None,
        };
        id.store_device_token(token.clone()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        let again = DeviceIdentity::load(&path).unwrap().unwrap();
        assert_eq!(again.device_token(), Some(token));
    }

    #[test]
    fn an_unreadable_file_is_refused_and_never_overwritten() {
        let dir = Scratch::new();
        fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("identity.json");
        write_private(&path, b"{\"not\": \"an identity\"}", true).unwrap();
        let err = DeviceIdentity::load_or_create(&path).unwrap_err();
        assert!(matches!(err, DeviceError::Invalid { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"not\": \"an identity\"}"
        );
    }
}
