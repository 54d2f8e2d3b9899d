//! Server-sent event framing for the chat stream.
//!
//! Each event is one `data:` line and a blank line; JSON never contains a raw newline, so
//! one line is always enough. A comment line keeps idle connections open through proxies.

use bytes::Bytes;
use serde::Serialize;

/// The stream terminator OpenAI clients wait for.
pub const DONE: Bytes = Bytes::from_static(b"data: [DONE]\n\n");

/// An SSE comment, ignored by clients, sent while the agent is silent so idle timeouts in
/// between do not cut the stream.
pub const KEEP_ALIVE: Bytes = Bytes::from_static(b": keep-alive\n\n");

/// Encodes `value` as one `data: <json>\n\n` event.
///
/// Our wire types always serialize; if a value ever does not, an OpenAI error event is sent
/// instead so the client sees why the stream broke.
pub fn data(value: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    if let Err(err) = serde_json::to_writer(&mut buf, value) {
        buf.truncate(b"data: ".len());
        let body =
            super::error::ApiError::api_error(format!("could not encode event: {err}")).into_body();
        // An ErrorBody is plain strings and options: it cannot fail to serialize.
        let _ = serde_json::to_writer(&mut buf, &body);
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn data_frames_one_json_line() {
        let b = data(&json!({"a": "x\ny"}));
        assert_eq!(&b[..], b"data: {\"a\":\"x\\ny\"}\n\n");
    }

    #[test]
    fn done_and_keep_alive_are_exact() {
        assert_eq!(&DONE[..], b"data: [DONE]\n\n");
        assert_eq!(&KEEP_ALIVE[..], b": keep-alive\n\n");
    }

    #[test]
    fn unserializable_value_becomes_error_event() {
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 1);
        let b = data(&bad);
        let text = std::str::from_utf8(&b).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(text.strip_prefix("data: ").unwrap().trim_end()).unwrap();
        assert_eq!(json["error"]["type"], "api_error");
    }
}
