//! Response ids that carry their gateway session, so `previous_response_id` needs no store.
//!
//! The openclaw built-in remembers `response id -> session key` in process memory (a map with
//! a 30 min TTL in `openresponses-http.ts`), so a continuation fails after a restart and on
//! any other instance. clawshim instead puts the session key into the id itself and signs it:
//!
//! `resp_<payload>_<tag>`, both base64url without padding, where `payload` is a version byte,
//! 12 random bytes (every response gets a distinct id, even on one session) and the session
//! key, and `tag` is HMAC-SHA256 over a fixed label, the name of the credential the request
//! was made with, and the payload.
//!
//! - Tamper-proof: changing any byte of the payload (say, to reach another session) breaks the
//!   tag, and forging a tag needs the key.
//! - Across restarts and instances: the key is derived from secret material the caller passes
//!   (the proxy uses its gateway credential), so every clawshim in front of one gateway
//!   accepts every other's ids, and none in front of another gateway does.
//! - Bound to the caller: the credential's name is signed but not carried, so an id verifies
//!   only for the credential that created it; another key's id looks forged.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix OpenAI's response ids have; clients sometimes check it.
pub const RESPONSE_ID_PREFIX: &str = "resp_";
/// Payload format version; a new layout gets a new byte, old ids then fail as malformed.
const VERSION: u8 = 1;
/// Random bytes per id.
const NONCE_LEN: usize = 12;
/// Domain separation for the derived key and for the tag.
const KEY_LABEL: &[u8] = b"clawshim response id key v1";
const TAG_LABEL: &[u8] = b"clawshim response id v1";
/// Session keys are short (`agent:<id>:openai:<uuid>`); a bound keeps ids header-sized.
pub const MAX_SESSION_KEY_LEN: usize = 512;

/// Why a `previous_response_id` was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseIdError {
    /// Not an id of this format (another server's id, truncated, wrong version).
    #[error("'{0}' is not a response id issued by this server")]
    Malformed(String),
    /// Well-formed but its signature does not verify: altered, or issued to another API key
    /// or by a clawshim in front of another gateway.
    #[error("response '{0}' was not found")]
    NotYours(String),
}

/// Issues and verifies response ids with one key.
#[derive(Clone)]
pub struct ResponseIdCodec {
    key: [u8; 32],
}

impl std::fmt::Debug for ResponseIdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseIdCodec { key: <redacted> }")
    }
}

impl ResponseIdCodec {
    /// A codec whose key is derived from `secret` (HMAC-SHA256 with a fixed label, so the
    /// secret itself is never used as a MAC key for anything else).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(KEY_LABEL).expect("HMAC takes keys of any size");
        mac.update(secret);
        ResponseIdCodec {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A fresh id for a response on `session_key`, bound to the credential `credential`.
    pub fn issue(&self, session_key: &str, credential: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        self.issue_with_nonce(session_key, credential, nonce)
    }

    fn issue_with_nonce(
        &self,
        session_key: &str,
        credential: &str,
        nonce: [u8; NONCE_LEN],
    ) -> String {
        let mut payload = Vec::with_capacity(1 + NONCE_LEN + session_key.len());
        payload.push(VERSION);
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(session_key.as_bytes());
        let tag = self.mac(credential, &payload).finalize().into_bytes();
        format!(
            "{RESPONSE_ID_PREFIX}{}_{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The session key of a response id issued to `credential`, or why not.
    pub fn verify(&self, id: &str, credential: &str) -> Result<String, ResponseIdError> {
        let malformed = || ResponseIdError::Malformed(id.to_owned());
        let (payload_b64, tag_b64) = split_id(id).ok_or_else(malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| malformed())?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| malformed())?;
        if tag.len() != 32
            || payload.len() <= 1 + NONCE_LEN
            || payload.len() > 1 + NONCE_LEN + MAX_SESSION_KEY_LEN
            || payload[0] != VERSION
        {
            return Err(malformed());
        }
        self.mac(credential, &payload)
            .verify_slice(&tag)
            .map_err(|_| ResponseIdError::NotYours(id.to_owned()))?;
        String::from_utf8(payload[1 + NONCE_LEN..].to_vec()).map_err(|_| malformed())
    }

    fn mac(&self, credential: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(TAG_LABEL);
        // Length-prefixed, so no credential name can be shifted into the payload.
        mac.update(&(credential.len() as u64).to_be_bytes());
        mac.update(credential.as_bytes());
        mac.update(payload);
        mac
    }
}

/// Length of the base64url (unpadded) encoding of a 32-byte tag.
const TAG_B64_LEN: usize = 43;

/// Splits `resp_<payload>_<tag>` into its two encoded halves. base64url itself uses `_`, so
/// the split is by the tag's fixed length, not by searching for the separator.
fn split_id(id: &str) -> Option<(&str, &str)> {
    let body = id.strip_prefix(RESPONSE_ID_PREFIX)?;
    if !body.is_ascii() || body.len() < TAG_B64_LEN + 2 {
        return None;
    }
    let (head, tag) = body.split_at(body.len() - TAG_B64_LEN);
    let payload = head.strip_suffix('_')?;
    Some((payload, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "agent:main:openai:3f2b8c1e-1111-4222-8333-944455556666";

    fn codec() -> ResponseIdCodec {
        ResponseIdCodec::new(b"gateway-token")
    }

    #[test]
    fn issued_id_verifies_to_its_session() {
        let id = codec().issue(SESSION, "alice");
        assert!(id.starts_with("resp_"), "{id}");
        assert!(id.len() < 200, "{} chars", id.len());
        assert_eq!(codec().verify(&id, "alice"), Ok(SESSION.to_owned()));
    }

    #[test]
    fn another_instance_with_the_same_secret_accepts_it() {
        let id = ResponseIdCodec::new(b"gateway-token").issue(SESSION, "alice");
        assert_eq!(
            ResponseIdCodec::new(b"gateway-token").verify(&id, "alice"),
            Ok(SESSION.to_owned())
        );
    }

    #[test]
    fn ids_are_unique_per_response_and_all_verify() {
        let c = codec();
        assert_ne!(c.issue(SESSION, "alice"), c.issue(SESSION, "alice"));
        // Enough ids that some tags and payloads contain `_` and `-` (base64url).
        for i in 0..300 {
            let session = format!("{SESSION}-{i}");
            let id = c.issue(&session, "alice");
            assert_eq!(c.verify(&id, "alice"), Ok(session), "{id}");
        }
    }

    #[test]
    fn another_credential_cannot_continue_it() {
        let id = codec().issue(SESSION, "alice");
        assert_eq!(
            codec().verify(&id, "bob"),
            Err(ResponseIdError::NotYours(id.clone()))
        );
        // Nor can a name that only shifts bytes between credential and payload.
        assert!(codec().verify(&id, "alice\u{1}").is_err());
    }

    #[test]
    fn another_gateway_secret_rejects_it() {
        let id = codec().issue(SESSION, "alice");
        assert!(matches!(
            ResponseIdCodec::new(b"other-gateway").verify(&id, "alice"),
            Err(ResponseIdError::NotYours(_))
        ));
    }

    #[test]
    fn a_changed_session_key_breaks_the_signature() {
        let c = codec();
        let id = c.issue_with_nonce(SESSION, "alice", [7; NONCE_LEN]);
        let (payload_b64, tag_b64) = split_id(&id).unwrap();
        let mut payload = URL_SAFE_NO_PAD.decode(payload_b64).unwrap();
        let last = payload.len() - 1;
        payload[last] ^= 1;
        let forged = format!(
            "{RESPONSE_ID_PREFIX}{}_{tag_b64}",
            URL_SAFE_NO_PAD.encode(&payload)
        );
        assert_eq!(
            c.verify(&forged, "alice"),
            Err(ResponseIdError::NotYours(forged.clone()))
        );
        // Flipping a tag character fails too.
        let mut chars: Vec<char> = id.chars().collect();
        let n = chars.len() - 2;
        chars[n] = if chars[n] == 'A' { 'B' } else { 'A' };
        let bad_tag: String = chars.into_iter().collect();
        assert!(c.verify(&bad_tag, "alice").is_err());
    }

    #[test]
    fn foreign_and_garbled_ids_are_malformed() {
        let c = codec();
        for id in [
            "resp_68af4c2f0b8c8190a1b2c3d4e5f6",
            "chatcmpl-123",
            "resp_",
            "resp_!!!_???",
            "",
        ] {
            assert_eq!(
                c.verify(id, "alice"),
                Err(ResponseIdError::Malformed(id.to_owned())),
                "{id}"
            );
        }
        // A wrong version byte is malformed, not a signature failure.
        let id = c.issue(SESSION, "alice");
        let (payload_b64, tag_b64) = split_id(&id).unwrap();
        let mut payload = URL_SAFE_NO_PAD.decode(payload_b64).unwrap();
        payload[0] = 9;
        let v9 = format!("resp_{}_{tag_b64}", URL_SAFE_NO_PAD.encode(&payload));
        assert!(matches!(
            c.verify(&v9, "alice"),
            Err(ResponseIdError::Malformed(_))
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", codec()),
            "ResponseIdCodec { key: <redacted> }"
        );
    }
}
