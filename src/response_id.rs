//! Response ids that carry their gateway session, so `previous_response_id` needs no store.
//!
//! The openclaw built-in remembers `response id -> session key` in process memory (a map with
//! a 30 min TTL in `openresponses-http.ts`), so a continuation fails after a restart and on
//! any other instance. clawshim instead seals the session key into the id itself:
//!
//! `resp_<sealed>`, base64url without padding, where `sealed` is a version byte (2), 12 random
//! bytes (the nonce: every response gets a distinct id, even on one session) and the session
//! key encrypted and authenticated with ChaCha20-Poly1305 (ring, the crypto already in the tree
//! through rustls), its associated data a fixed label and the name of the credential the
//! request was made with.
//!
//! - Unreadable: the id says nothing about the session (agent, key namespace, `user`) to
//!   whoever sees it: clients, their logs, proxies.
//! - Tamper-proof: changing any byte breaks the Poly1305 tag, and forging one needs the key.
//! - Across restarts and instances: the key is derived from secret material the caller passes
//!   (the proxy uses its gateway credential), so every clawshim in front of one gateway
//!   accepts every other's ids, and none in front of another gateway does.
//! - Bound to the caller: the credential's name is authenticated but not carried, so an id
//!   opens only for the credential that created it; another key's id looks forged.
//!
//! Random 96-bit nonces under one key stay far from a collision for the ids one gateway's
//! clients can make (the usual bound is 2^32 messages per key).
//!
//! Ids issued before sealing (version 1: `resp_<payload>_<tag>`, the session key readable in
//! `payload`, signed with HMAC-SHA256) are still **accepted**, verified as before, so
//! conversations started before an upgrade continue; new ids are always sealed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix OpenAI's response ids have; clients sometimes check it.
pub const RESPONSE_ID_PREFIX: &str = "resp_";
/// Format of the signed, readable ids of earlier versions (verified, never issued).
const VERSION: u8 = 1;
/// Format of sealed ids.
const SEALED: u8 = 2;
/// Random bytes per id (the AEAD nonce of sealed ids).
const NONCE_LEN: usize = 12;
/// Poly1305 tag length.
const AEAD_TAG_LEN: usize = 16;
/// Domain separation for the derived keys, the tag and the associated data.
const KEY_LABEL: &[u8] = b"clawshim response id key v1";
const TAG_LABEL: &[u8] = b"clawshim response id v1";
const SEAL_KEY_LABEL: &[u8] = b"clawshim response id seal key v2";
const SEAL_AAD_LABEL: &[u8] = b"clawshim response id v2";
/// Session keys are short (`agent:<id>:openai:<uuid>`); a bound keeps ids header-sized.
pub const MAX_SESSION_KEY_LEN: usize = 512;

/// Why a `previous_response_id` was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseIdError {
    /// Not an id of this format (another server's id, truncated, wrong version).
    #[error("'{0}' is not a response id issued by this server")]
    Malformed(String),
    /// Well-formed but its tag does not verify: altered, or issued to another API key or by a
    /// clawshim in front of another gateway.
    #[error("response '{0}' was not found")]
    NotYours(String),
}

/// Issues and verifies response ids with keys derived from one secret.
#[derive(Clone)]
pub struct ResponseIdCodec {
    /// HMAC key of version-1 ids.
    key: [u8; 32],
    /// ChaCha20-Poly1305 key of sealed ids.
    seal_key: [u8; 32],
}

impl std::fmt::Debug for ResponseIdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseIdCodec { key: <redacted> }")
    }
}

impl ResponseIdCodec {
    /// A codec whose keys are derived from `secret` (HMAC-SHA256 with fixed labels, so the
    /// secret itself is never used as a key for anything else).
    pub fn new(secret: &[u8]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = HmacSha256::new_from_slice(label).expect("HMAC takes keys of any size");
            mac.update(secret);
            mac.finalize().into_bytes().into()
        };
        ResponseIdCodec {
            key: derive(KEY_LABEL),
            seal_key: derive(SEAL_KEY_LABEL),
        }
    }

    /// A fresh id for a response on `session_key`, bound to the credential `credential`.
    pub fn issue(&self, session_key: &str, credential: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        self.seal_with_nonce(session_key, credential, nonce)
    }

    fn seal_with_nonce(
        &self,
        session_key: &str,
        credential: &str,
        nonce: [u8; NONCE_LEN],
    ) -> String {
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + session_key.len() + AEAD_TAG_LEN);
        sealed.push(SEALED);
        sealed.extend_from_slice(&nonce);
        let mut in_out = session_key.as_bytes().to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(credential)),
                &mut in_out,
            )
            .expect("a session key is far below ChaCha20-Poly1305's message limit");
        sealed.extend_from_slice(&in_out);
        format!("{RESPONSE_ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(&sealed))
    }

    /// The session key of a response id issued to `credential`, or why not: sealed ids, and
    /// the signed ids of earlier versions (see the module docs).
    pub fn verify(&self, id: &str, credential: &str) -> Result<String, ResponseIdError> {
        let malformed = || ResponseIdError::Malformed(id.to_owned());
        let body = id.strip_prefix(RESPONSE_ID_PREFIX).ok_or_else(malformed)?;
        // A signed id's base64 starts with its version byte too (1), so the first decoded
        // byte tells the two formats apart.
        match URL_SAFE_NO_PAD.decode(body) {
            Ok(sealed) if sealed.first() == Some(&SEALED) => self.open(id, sealed, credential),
            _ => self.verify_signed(id, credential),
        }
    }

    fn open(&self, id: &str, sealed: Vec<u8>, credential: &str) -> Result<String, ResponseIdError> {
        let malformed = || ResponseIdError::Malformed(id.to_owned());
        if sealed.len() <= 1 + NONCE_LEN + AEAD_TAG_LEN
            || sealed.len() > 1 + NONCE_LEN + MAX_SESSION_KEY_LEN + AEAD_TAG_LEN
        {
            return Err(malformed());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut in_out = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .aead()
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(credential)),
                &mut in_out,
            )
            .map_err(|_| ResponseIdError::NotYours(id.to_owned()))?;
        String::from_utf8(plain.to_vec()).map_err(|_| malformed())
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &self.seal_key)
                .expect("a 32-byte key is ChaCha20-Poly1305's key length"),
        )
    }

    /// A version-1 id (readable payload, HMAC tag): verified for ids issued before sealing.
    fn verify_signed(&self, id: &str, credential: &str) -> Result<String, ResponseIdError> {
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

    /// A version-1 id, as earlier versions issued them (tests of the old format only).
    #[cfg(test)]
    fn issue_signed(&self, session_key: &str, credential: &str, nonce: [u8; NONCE_LEN]) -> String {
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

/// The associated data of a sealed id: a fixed label and the credential's name,
/// length-prefixed so no name can be shifted into the label.
fn associated_data(credential: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SEAL_AAD_LABEL.len() + 8 + credential.len());
    aad.extend_from_slice(SEAL_AAD_LABEL);
    aad.extend_from_slice(&(credential.len() as u64).to_be_bytes());
    aad.extend_from_slice(credential.as_bytes());
    aad
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
    fn the_session_key_cannot_be_read_from_the_id() {
        let c = codec();
        for session in [SESSION, "agent:beta:team:user:alice@example.com"] {
            let id = c.issue(session, "alice");
            let raw = URL_SAFE_NO_PAD
                .decode(&id[RESPONSE_ID_PREFIX.len()..])
                .unwrap();
            // No readable run of the session key in the id, nor in its decoded bytes.
            for part in session.split(':').filter(|p| p.len() >= 4) {
                assert!(!id.contains(part), "{id} shows {part}");
                assert!(
                    !raw.windows(part.len()).any(|w| w == part.as_bytes()),
                    "{id} carries {part}"
                );
            }
        }
        // The same session under two nonces: nothing in common past the version byte.
        let a = c.seal_with_nonce(SESSION, "alice", [1; NONCE_LEN]);
        let b = c.seal_with_nonce(SESSION, "alice", [2; NONCE_LEN]);
        let (a, b) = (
            URL_SAFE_NO_PAD.decode(&a[5..]).unwrap(),
            URL_SAFE_NO_PAD.decode(&b[5..]).unwrap(),
        );
        let same = a[13..].iter().zip(&b[13..]).filter(|(x, y)| x == y).count();
        assert!(same < a.len() / 4, "{same} equal bytes");
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
        // Enough ids that some contain `_` and `-` (base64url).
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
        // Nor can a name that only shifts bytes between label and name.
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
    fn any_changed_byte_breaks_the_tag() {
        let c = codec();
        let id = c.seal_with_nonce(SESSION, "alice", [7; NONCE_LEN]);
        let sealed = URL_SAFE_NO_PAD.decode(&id[5..]).unwrap();
        // Every byte after the version byte: nonce, ciphertext, tag.
        for at in 1..sealed.len() {
            let mut forged = sealed.clone();
            forged[at] ^= 1;
            let forged = format!("{RESPONSE_ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(&forged));
            assert_eq!(
                c.verify(&forged, "alice"),
                Err(ResponseIdError::NotYours(forged.clone())),
                "byte {at}"
            );
        }
    }

    #[test]
    fn signed_ids_of_earlier_versions_are_still_accepted() {
        let c = codec();
        let old = c.issue_signed(SESSION, "alice", [7; NONCE_LEN]);
        assert_eq!(c.verify(&old, "alice"), Ok(SESSION.to_owned()));
        assert!(matches!(
            c.verify(&old, "bob"),
            Err(ResponseIdError::NotYours(_))
        ));
        // Still tamper-proof: a changed session key breaks the HMAC.
        let (payload_b64, tag_b64) = split_id(&old).unwrap();
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
        // An unknown version byte, and a sealed id too short to hold a tag.
        let id = c.issue(SESSION, "alice");
        let mut sealed = URL_SAFE_NO_PAD.decode(&id[5..]).unwrap();
        sealed[0] = 9;
        let v9 = format!("resp_{}", URL_SAFE_NO_PAD.encode(&sealed));
        assert!(matches!(
            c.verify(&v9, "alice"),
            Err(ResponseIdError::Malformed(_))
        ));
        let short = format!("resp_{}", URL_SAFE_NO_PAD.encode([SEALED; 20]));
        assert!(matches!(
            c.verify(&short, "alice"),
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
