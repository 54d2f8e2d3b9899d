//! Small JSON responses written by clawshim itself (models, health).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::Serialize;

use crate::ctx::RequestCtx;
use crate::errors::HttpError;

/// Write `value` as a complete JSON response with `status`.
pub async fn json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    value: &impl Serialize,
) -> Result<(), HttpError> {
    let body =
        Bytes::from(serde_json::to_vec(value).map_err(|e| HttpError::Internal(e.to_string()))?);
    let internal = |e: Box<pingora::Error>| HttpError::Internal(e.to_string());
    let mut resp = ResponseHeader::build(status, Some(4)).map_err(internal)?;
    resp.insert_header("content-type", "application/json")
        .map_err(internal)?;
    resp.insert_header("content-length", body.len().to_string())
        .map_err(internal)?;
    resp.insert_header("x-request-id", ctx.request_id.as_str())
        .map_err(internal)?;
    ctx.status = status;
    ctx.bytes_out += body.len();
    ctx.first_byte = Some(std::time::Instant::now());
    session
        .write_response_header(Box::new(resp), false)
        .await
        .map_err(internal)?;
    session
        .write_response_body(Some(body), true)
        .await
        .map_err(internal)?;
    Ok(())
}
