//! The mock's own frames: the few shapes it builds and checks itself, as JSON. Everything
//! else it sends is a recorded frame from `fixtures/`. Deliberately independent of
//! clawshim-core's typed frames, so a mistake there cannot hide behind the same code here.

use serde_json::{json, Value};

/// A frame the gateway's `validateRequestFrame` accepts: `{type:"req", id, method}`.
pub(crate) fn is_request(frame: &Value) -> bool {
    frame["type"] == "req"
        && frame["id"].as_str().is_some_and(|s| !s.is_empty())
        && frame["method"].as_str().is_some_and(|s| !s.is_empty())
}

/// `{type:"res", id, ok, payload}`.
pub(crate) fn res(id: &Value, ok: bool, payload: Value) -> Value {
    json!({"type": "res", "id": id, "ok": ok, "payload": payload})
}

/// A successful `res`.
pub(crate) fn res_ok(id: &Value, payload: Value) -> Value {
    res(id, true, payload)
}

/// A failed `res`: `{type:"res", id, ok:false, error}` (no payload).
pub(crate) fn res_err(id: &Value, error: Value) -> Value {
    json!({"type": "res", "id": id, "ok": false, "error": error})
}
