//! Reading a request body under the limits that bound what it costs the others: its size
//! (`limits.max_body_bytes`, 413 over it), its time (`limits.body_timeout_secs` for the whole
//! body, and `limits.body_min_bytes_per_sec` on average: 408 past either), and a body slot
//! ([`crate::request::body_slots`]: how many bodies are read and parsed at once, and how many of them
//! one key or one address may hold).
//!
//! A slot is taken before the first body byte is read and held until the caller has parsed
//! the body into its typed request, so at most that many bodies (and their parsed forms) are
//! in memory at a time, whatever the number of clients. The deadline is what keeps a slot
//! from being held by a client that sends slowly: a body must be whole within the body
//! timeout, and may not fall more than [`BODY_RATE_ALLOWANCE`] behind the minimum rate (the
//! rule of Apache's `mod_reqtimeout`: the time allowed grows with the bytes received). A body
//! cut by it gets 408 `request_timeout`, its connection is closed, and its slot is free for
//! the next request. The slot is not held while the run goes on: runs have their own limit.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tokio::time::Instant;

use crate::config::defaults::BODY_RATE_ALLOWANCE;
use crate::request::body_slots::{BodySlot, BodySlots, Reader};
use crate::request::errors::HttpError;

/// The limits on one request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body, bytes.
    pub max_bytes: u64,
    /// Time to send the whole body.
    pub timeout: Duration,
    /// Slowest average rate, bytes per second (0: none).
    pub min_bytes_per_sec: u64,
}

impl BodyLimits {
    /// How long after its start a body that has sent `received` bytes may still take: the
    /// timeout, or sooner when it is more than [`BODY_RATE_ALLOWANCE`] behind the minimum rate.
    pub fn allowed(&self, received: u64) -> Duration {
        if self.min_bytes_per_sec == 0 {
            return self.timeout;
        }
        let earned = Duration::from_secs_f64(received as f64 / self.min_bytes_per_sec as f64);
        self.timeout.min(BODY_RATE_ALLOWANCE + earned)
    }
}

/// A body read whole, and the slot that lets it be parsed; drop the slot once parsed.
pub struct Body {
    /// The body bytes.
    pub bytes: Bytes,
    /// The body-parsing slot; held until dropped.
    pub slot: BodySlot,
}

/// Takes a slot for `reader` from `slots`, then reads the whole body within `limits`.
pub async fn read(
    session: &mut Session,
    slots: &BodySlots,
    reader: &Reader,
    limits: &BodyLimits,
) -> Result<Body, HttpError> {
    let slot = slots.acquire(reader).await?;
    let bytes = read_limited(session, limits).await?;
    Ok(Body { bytes, slot })
}

async fn read_limited(session: &mut Session, limits: &BodyLimits) -> Result<Bytes, HttpError> {
    let limit = limits.max_bytes;
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Not reading the body: the connection cannot be reused afterwards.
        session.set_keepalive(None);
        return Err(HttpError::PayloadTooLarge { limit });
    }
    let started = Instant::now();
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit) as usize);
    loop {
        let until = started + limits.allowed(buf.len() as u64);
        let Ok(read) = tokio::time::timeout_at(until, session.read_request_body()).await else {
            // The rest of the body is not read: the connection cannot be reused.
            session.set_keepalive(None);
            return Err(HttpError::BodyTimeout {
                timeout_secs: limits.timeout.as_secs(),
                min_bytes_per_sec: limits.min_bytes_per_sec,
            });
        };
        match read {
            Ok(Some(chunk)) => {
                if (buf.len() + chunk.len()) as u64 > limit {
                    session.set_keepalive(None);
                    return Err(HttpError::PayloadTooLarge { limit });
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => {
                session.set_keepalive(None);
                return Err(HttpError::BadRequest {
                    message: format!("Could not read the request body: {e}"),
                    param: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_allowed_grows_with_the_bytes_up_to_the_timeout() {
        let limits = BodyLimits {
            max_bytes: 20 << 20,
            timeout: Duration::from_secs(60),
            min_bytes_per_sec: 1024,
        };
        // Nothing yet: the allowance.
        assert_eq!(limits.allowed(0), BODY_RATE_ALLOWANCE);
        // One byte every 5 s falls behind at once.
        assert!(limits.allowed(2) < BODY_RATE_ALLOWANCE + Duration::from_millis(2));
        // Ten seconds' worth at the minimum rate: ten more seconds.
        assert_eq!(
            limits.allowed(10 * 1024),
            BODY_RATE_ALLOWANCE + Duration::from_secs(10)
        );
        // Never past the timeout, however fast.
        assert_eq!(limits.allowed(20 << 20), Duration::from_secs(60));
        // No minimum rate: the timeout alone.
        let no_rate = BodyLimits {
            min_bytes_per_sec: 0,
            ..limits
        };
        assert_eq!(no_rate.allowed(0), Duration::from_secs(60));
    }
}
