//! Reading a request body under the two limits that bound its memory: its size
//! (`limits.max_body_bytes`, 413 over it) and how many bodies are read and parsed at once
//! (`limits.max_concurrent_bodies`).
//!
//! A slot is taken before the first body byte is read and held until the caller has parsed
//! the body into its typed request, so at most that many bodies (and their parsed forms) are
//! in memory at a time, whatever the number of clients. A request that finds every slot
//! taken waits up to [`BODY_SLOT_WAIT`] (parsing is quick, so a burst of honest clients only
//! queues briefly), then gets 503 `server_busy` with `Retry-After`, which the OpenAI SDKs
//! honour. The slot is not held while the run goes on: runs have their own limit.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::defaults::BODY_SLOT_WAIT;
use crate::request::errors::HttpError;

/// A body read whole, and the slot that lets it be parsed; drop the slot once parsed.
pub struct Body {
    /// The body bytes.
    pub bytes: Bytes,
    /// The body-parsing slot; held until dropped.
    pub slot: OwnedSemaphorePermit,
}

/// Takes a slot from `slots`, then reads the whole body (at most `limit` bytes).
pub async fn read(
    session: &mut Session,
    slots: &Arc<Semaphore>,
    limit: u64,
) -> Result<Body, HttpError> {
    let slot = tokio::time::timeout(BODY_SLOT_WAIT, slots.clone().acquire_owned())
        .await
        .map_err(|_| HttpError::Busy {
            retry_after_secs: 1,
        })?
        .map_err(|_| HttpError::Internal("body slots closed".into()))?;
    let bytes = read_limited(session, limit).await?;
    Ok(Body { bytes, slot })
}

async fn read_limited(session: &mut Session, limit: u64) -> Result<Bytes, HttpError> {
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
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit) as usize);
    loop {
        match session.read_request_body().await {
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
