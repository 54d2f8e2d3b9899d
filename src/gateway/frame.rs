//! Typed WebSocket frames of the gateway protocol (v3 and v4 share the envelope).
//!
//! Three kinds, one JSON object per text frame (gateway-lab README, "WebSocket protocol v3"):
//! `{"type":"req",id,method,params}` (we send), `{"type":"res",id,ok,payload?,error?}` and
//! `{"type":"event",event,payload?,seq?}` (we receive). Payloads stay raw until a consumer
//! asks for a typed view, so a broadcast event for somebody else's run costs one small parse.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A frame received from the gateway.
#[derive(Debug)]
pub enum InFrame {
    /// The answer to one of our requests.
    Res(ResFrame),
    /// A pushed event (broadcast to every operator socket).
    Event(EventFrame),
    /// Any other frame type: ignored, never an error.
    Unknown,
}

/// The flat wire shape. serde's internally tagged enums buffer their content, which cannot
/// hold a `RawValue`, so the tag is read here and the variant built by hand.
#[derive(Deserialize)]
struct WireFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<ErrorShape>,
    #[serde(default)]
    event: Option<String>,
}

impl InFrame {
    /// Parse one text frame.
    pub fn parse(text: &str) -> Result<InFrame, serde_json::Error> {
        let w: WireFrame = serde_json::from_str(text)?;
        Ok(match (w.kind.as_str(), w.id, w.event) {
            ("res", Some(id), _) => InFrame::Res(ResFrame {
                id,
                ok: w.ok.unwrap_or(false),
                payload: w.payload,
                error: w.error,
            }),
            ("event", _, Some(event)) => InFrame::Event(EventFrame {
                event,
                payload: w.payload,
            }),
            _ => InFrame::Unknown,
        })
    }
}

/// `{"type":"res",...}`: `agent` answers twice on one id (accepted, then final).
#[derive(Debug)]
pub struct ResFrame {
    /// The id of the request this answers.
    pub id: String,
    /// Whether the call succeeded.
    pub ok: bool,
    /// The result (an `agent` error res after acceptance carries both payload and error).
    pub payload: Option<Box<RawValue>>,
    /// Why it failed, when `ok` is false.
    pub error: Option<ErrorShape>,
}

/// The gateway's error object: `{code, message, details?}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ErrorShape {
    /// E.g. `INVALID_REQUEST`, `UNAVAILABLE`, `NOT_PAIRED`.
    #[serde(default)]
    pub code: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
    /// v4 adds `details.code` (e.g. `AUTH_TOKEN_MISMATCH`, `PAIRING_REQUIRED`).
    #[serde(default)]
    pub details: Option<ErrorDetails>,
}

/// The part of `error.details` we read.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ErrorDetails {
    /// Machine-readable reason (v4).
    #[serde(default)]
    pub code: Option<String>,
    /// Pairing request id, when a device must be approved.
    #[serde(default, rename = "requestId")]
    pub request_id: Option<String>,
}

/// `{"type":"event",...}`.
#[derive(Debug)]
pub struct EventFrame {
    /// Event name (`agent`, `chat`, `tick`, `shutdown`, `connect.challenge`, ...).
    pub event: String,
    /// Event body, parsed on demand.
    pub payload: Option<Box<RawValue>>,
}

impl EventFrame {
    /// Parse the payload as `T`; `None` when absent or of another shape.
    pub fn payload_as<'a, T: Deserialize<'a>>(&'a self) -> Option<T> {
        self.payload
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

/// A request we send: `{"type":"req",id,method,params}`.
#[derive(Debug, Serialize)]
pub struct ReqFrame<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Our request id (a UUID); the gateway echoes it in the `res`.
    pub id: &'a str,
    /// Method name.
    pub method: &'a str,
    /// Method parameters.
    pub params: &'a P,
}

impl<'a, P: Serialize> ReqFrame<'a, P> {
    /// A request frame.
    pub fn new(id: &'a str, method: &'a str, params: &'a P) -> Self {
        ReqFrame {
            kind: "req",
            id,
            method,
            params,
        }
    }

    /// Serialized JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("request frames always serialize")
    }
}

/// `connect.challenge` payload.
#[derive(Debug, Deserialize)]
pub struct Challenge {
    /// Nonce that a signed device identity must echo.
    pub nonce: String,
    /// Present on openclaw only (openclaw-lab README, challenge row): tells the generations
    /// apart before `connect` is sent.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
}

/// The fields of an `agent` event payload we route on (borrowed: parsed for every broadcast).
#[derive(Debug, Deserialize)]
pub struct AgentEvent<'a> {
    /// The run this event belongs to.
    #[serde(borrow, rename = "runId")]
    pub run_id: std::borrow::Cow<'a, str>,
    /// `lifecycle`, `assistant`, `tool`, `usage`, `item`, `run_status`, ... (unknown ones ignored).
    #[serde(borrow)]
    pub stream: std::borrow::Cow<'a, str>,
    /// Stream-specific data.
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    /// When the gateway emitted it, Unix milliseconds (the only time a v3 tool step has);
    /// kept raw so an odd value costs a progress time, never the event.
    #[serde(borrow, default)]
    pub ts: Option<&'a RawValue>,
}

/// `data` of an `assistant` stream event: `{text: accumulated, delta: new part}`; only the
/// delta is read (the final `res` carries the whole text).
#[derive(Debug, Deserialize)]
pub struct AssistantData {
    /// The new text since the previous event.
    #[serde(default)]
    pub delta: Option<String>,
}

/// `shutdown` event payload.
#[derive(Debug, Deserialize)]
pub struct Shutdown {
    /// E.g. "gateway stopping".
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn res_with_payload_and_error_parses() {
        // traces: gateway-lab broken_agent (an agent error res carries both)
        let f = InFrame::parse(
            r#"{"type":"res","id":"a","ok":false,"payload":{"runId":"r","status":"error"},"error":{"code":"UNAVAILABLE","message":"Error: Unknown model"}}"#,
        )
        .unwrap();
        match f {
            InFrame::Res(r) => {
                assert!(!r.ok);
                assert!(r.payload.is_some());
                assert_eq!(r.error.unwrap().code, "UNAVAILABLE");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_frame_type_is_not_an_error() {
        let f = InFrame::parse(r#"{"type":"hello","x":1}"#).unwrap();
        assert!(matches!(f, InFrame::Unknown));
    }

    #[test]
    fn agent_event_borrows_run_id() {
        // traces: openclaw-lab simple (v4 adds agentId, sessionId; ignored)
        let raw = r#"{"runId":"r1","stream":"assistant","data":{"text":"echo: hello","delta":"echo: hello","itemId":"x"},"sessionKey":"k","agentId":"main","seq":3,"ts":1}"#;
        let ev: AgentEvent = serde_json::from_str(raw).unwrap();
        assert_eq!(ev.run_id, "r1");
        assert_eq!(ev.stream, "assistant");
        let data: AssistantData = serde_json::from_str(ev.data.unwrap().get()).unwrap();
        assert_eq!(data.delta.as_deref(), Some("echo: hello"));
    }

    #[test]
    fn req_frame_serializes_with_type() {
        let params = serde_json::json!({"a": 1});
        let json = ReqFrame::new("id1", "agents.list", &params).to_json();
        assert_eq!(
            json,
            r#"{"type":"req","id":"id1","method":"agents.list","params":{"a":1}}"#
        );
    }
}
