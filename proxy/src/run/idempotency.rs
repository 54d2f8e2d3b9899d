//! `Idempotency-Key`: a client's retry joins or replays its first run instead of running the
//! agent twice.
//!
//! The key becomes the run's id, which clawshim sends as the gateway's `idempotencyKey`. Both
//! gateway generations cache `agent` answers by that key (gateway-lab README, "Concurrency and
//! idempotency"; openclaw-lab README, idempotency row): a request with a finished run's key
//! gets one `res` with the cached final answer and no new LLM call; with the run still in
//! flight, the cached `accepted`. The id is derived from the credential and the key (SHA-256,
//! shaped as a UUID like clawshim's own run ids), so two callers that pick the same key never
//! share a run, and the raw key never reaches the gateway.
//!
//! What a retry gets, on one clawshim instance (core's `gateway/router.rs`):
//! - the first run finished: its cached answer;
//! - the first run still going and its client gone (a cut connection the SDK retries): the
//!   run was not aborted but kept for the retry, which joins it: its later deltas and its
//!   final answer (a streaming retry gets the text from the moment it joined, then the rest
//!   of the final text if the deltas cannot be matched);
//! - the first run still going and its client still reading: `409 idempotency_key_in_use`
//!   with `Retry-After: 1`, never a second run.
//!
//! On another instance (behind a load balancer) the run id is the same, so the gateway's
//! cache still answers: a finished run is replayed and a run in flight is joined, never run
//! twice. The one thing only the first instance knows is that a client is still reading (the
//! 409). With shared state that is a lease set of one per run id, held by the request that
//! reads the run (`run::run_setup`, [`crate::shared_state`]): a retry elsewhere gets the
//! same 409 while it is held, and joins or replays once it is gone (the first client left,
//! or its instance died and the lease expired). Without Redis, or while it is down, a retry
//! on another instance joins the run instead of the 409; the agent still runs once.

use clawshim_core::gateway::RunId;
use sha2::{Digest, Sha256};

use crate::front_door::keys::Principal;
use crate::request::errors::HttpError;

/// The header, as the OpenAI SDKs send it (`extra_headers` / `idempotencyKey`).
pub const HEADER: &str = "idempotency-key";

/// Longest key accepted (Stripe's limit; the OpenAI SDKs' own keys are far shorter).
const MAX_KEY_LEN: usize = 255;

/// The run id for the request's `Idempotency-Key`, `None` without one.
pub fn run_id(header: Option<&str>, principal: &Principal) -> Result<Option<RunId>, HttpError> {
    let Some(key) = header else {
        return Ok(None);
    };
    let key = key.trim();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::BadRequest {
            message: format!(
                "Invalid Idempotency-Key header: 1 to {MAX_KEY_LEN} visible ASCII characters."
            ),
            param: Some("Idempotency-Key".into()),
        });
    }
    // Scoped by the credential itself (its hash), not by a renameable key name.
    let scope: &[u8] = match principal {
        Principal::Shared => b"shared",
        Principal::Key(k) => &k.hash,
    };
    let digest = Sha256::new()
        .chain_update(b"clawshim idempotency v1\0")
        .chain_update(scope)
        .chain_update(b"\0")
        .chain_update(key.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // A version-8 (custom) UUID: the shape of clawshim's other run ids.
    Ok(Some(RunId::from(
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .to_string(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_is_a_fresh_run() {
        assert_eq!(run_id(None, &Principal::Shared).unwrap(), None);
    }

    #[test]
    fn one_key_one_credential_is_one_stable_uuid() {
        let a = run_id(Some("retry-me"), &Principal::Shared)
            .unwrap()
            .unwrap();
        let b = run_id(Some(" retry-me "), &Principal::Shared)
            .unwrap()
            .unwrap();
        assert_eq!(a, b);
        let parsed = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_ne!(
            a.as_str(),
            "retry-me",
            "the raw key never reaches the gateway"
        );
        let other = run_id(Some("retry-me-2"), &Principal::Shared)
            .unwrap()
            .unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn bad_keys_are_a_400_naming_the_header() {
        for bad in ["", "   ", "has space", "é", &"k".repeat(256)] {
            let err = run_id(Some(bad), &Principal::Shared).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
            assert_eq!(err.api_error().param.as_deref(), Some("Idempotency-Key"));
        }
    }
}
