//! Parameters and payloads of the gateway methods clawshim calls: `connect`, `agent`,
//! `agents.list`, `chat.abort`.
//!
//! Request params are validated by the gateway with `additionalProperties: false`
//! (gateway-lab README, Handshake), so these structs send exactly the documented keys.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::events::{RunOutcome, StopKind, Usage};
use crate::media::Attachment;

/// Lowest protocol we speak (clawdbot 2026.1.x).
pub const MIN_PROTOCOL: u32 = 3;
/// Highest protocol we speak (openclaw 2026.9.x).
pub const MAX_PROTOCOL: u32 = 4;
/// `client.id`: valid on both versions; on v4 a loopback `gateway-client`/`backend` keeps its
/// scopes without a device identity (openclaw-lab README, token-only row).
pub const CLIENT_ID: &str = "gateway-client";
/// `client.mode`.
pub const CLIENT_MODE: &str = "backend";
/// Scopes we ask for: read (`agents.list`) and write (`agent`, `chat.abort`).
pub const SCOPES: [&str; 2] = ["operator.read", "operator.write"];
/// Scopes when clawshim also cleans up its per-request sessions (`sessions.delete` is an
/// admin method: clawdbot 2026.1.24 `gateway/server-methods.js`).
pub const SCOPES_WITH_ADMIN: [&str; 3] = ["operator.read", "operator.write", "operator.admin"];

/// `connect` params.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams<'a> {
    pub min_protocol: u32,
    pub max_protocol: u32,
    pub client: ClientInfo<'a>,
    pub role: &'static str,
    pub scopes: &'a [&'a str],
    /// Client capabilities (`session-scoped-events`: see `subscriptions`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub caps: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectAuth<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceProof>,
}

/// `connect.client`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo<'a> {
    pub id: &'static str,
    pub version: &'a str,
    pub platform: &'a str,
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
}

/// `connect.auth`: exactly one of token / password (plus a stored device token).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectAuth<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<&'a str>,
}

/// `connect.device`: a signed device identity (openclaw-lab README, device identity row).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceProof {
    pub id: String,
    pub public_key: String,
    pub signature: String,
    pub signed_at: u64,
    pub nonce: String,
}

/// The parts of `hello-ok` we use.
#[derive(Debug, Deserialize)]
pub struct HelloOk {
    /// Negotiated protocol: 3 (clawdbot) or 4 (openclaw).
    pub protocol: u32,
    #[serde(default)]
    pub server: Option<ServerInfo>,
    #[serde(default)]
    pub policy: Option<Policy>,
    /// v4 only: what was granted.
    #[serde(default)]
    pub auth: Option<HelloAuth>,
}

/// `hello-ok.server`.
#[derive(Debug, Deserialize)]
pub struct ServerInfo {
    #[serde(default)]
    pub version: Option<String>,
}

/// `hello-ok.policy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub tick_interval_ms: Option<u64>,
    /// Largest WebSocket message the gateway reads; a bigger one closes the socket with 1009
    /// (`ws` `maxPayload`): 524288 on clawdbot 2026.1.24, 26214400 on openclaw 2026.9.6
    /// (every `hello-ok` in both labs' traces).
    #[serde(default)]
    pub max_payload: Option<usize>,
    #[serde(default)]
    pub max_buffered_bytes: Option<usize>,
    /// openclaw 2026.9 only.
    #[serde(default)]
    pub attachments: Option<AttachmentPolicy>,
}

/// `hello-ok.policy.attachments` (openclaw 2026.9).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentPolicy {
    #[serde(default)]
    pub max_bytes: Option<usize>,
    #[serde(default)]
    pub max_image_bytes: Option<usize>,
}

/// `hello-ok.auth` (v4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloAuth {
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Issued to a paired device; reused on later connects.
    #[serde(default)]
    pub device_token: Option<String>,
}

impl HelloAuth {
    /// Whether the granted scopes allow running agents (admin implies everything).
    pub fn can_run_agents(&self) -> bool {
        let has = |s: &str| self.scopes.iter().any(|g| g == s);
        has("operator.admin") || (has("operator.read") && has("operator.write"))
    }
}

/// `agent` params: the keys both versions accept, plus `provider`/`model` (openclaw 2026.9.6
/// only; the caller refuses them on v3, whose schema has `additionalProperties: false`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentParams<'a> {
    pub message: &'a str,
    pub idempotency_key: &'a str,
    pub agent_id: &'a str,
    pub session_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_system_prompt: Option<&'a str>,
    /// Whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Never deliver the reply to a chat channel: the HTTP client is the only recipient.
    pub deliver: bool,
    /// Inline images (`{type, mimeType, fileName?, content}`, base64).
    #[serde(skip_serializing_if = "<[Attachment]>::is_empty")]
    pub attachments: &'a [Attachment],
    /// Thinking level (`off`, `minimal`, `low`, `medium`, `high`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    /// Backend provider of a model override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'a str>,
    /// Backend model of a model override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
}

/// `chat.abort` params (v4; aborts `agent` runs too: openclaw-lab abort_chat).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAbortParams<'a> {
    pub session_key: &'a str,
    pub run_id: &'a str,
    pub agent_id: &'a str,
}

/// `sessions.delete` params: the session goes, its transcript stays (an admin method).
pub fn sessions_delete(key: &str) -> serde_json::Value {
    serde_json::json!({"key": key, "deleteTranscript": false})
}

/// `agent` res payload: both the `accepted` one and the final one.
#[derive(Debug, Deserialize)]
pub struct AgentResPayload {
    /// `accepted`, `ok`, `error`, `timeout`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "stopReason")]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub result: Option<AgentResult>,
}

/// `result` of a final `agent` res.
#[derive(Debug, Deserialize)]
pub struct AgentResult {
    #[serde(default)]
    pub payloads: Vec<ReplyPayload>,
    #[serde(default)]
    pub meta: Option<ResultMeta>,
}

/// One reply payload.
#[derive(Debug, Deserialize)]
pub struct ReplyPayload {
    #[serde(default)]
    pub text: Option<String>,
    /// v4 marks gateway-made error texts (e.g. the timeout notice).
    #[serde(default, rename = "isError")]
    pub is_error: bool,
}

/// `result.meta`.
#[derive(Debug, Deserialize)]
pub struct ResultMeta {
    #[serde(default)]
    pub aborted: bool,
    #[serde(default, rename = "agentMeta")]
    pub agent_meta: Option<AgentMeta>,
}

/// `result.meta.agentMeta`.
#[derive(Debug, Deserialize)]
pub struct AgentMeta {
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// `agentMeta.usage` as the gateway sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub cache_write: u64,
    #[serde(default)]
    pub total: u64,
}

impl AgentResPayload {
    /// Parse a raw payload; a missing or odd payload is an empty one.
    pub fn parse(raw: Option<&RawValue>) -> AgentResPayload {
        raw.and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or(AgentResPayload {
                status: None,
                stop_reason: None,
                result: None,
            })
    }

    /// Whether this is the first (`accepted`) answer rather than the final one.
    pub fn is_accepted(&self) -> bool {
        self.status.as_deref() == Some("accepted")
    }

    /// The outcome of a final `ok:true` answer.
    ///
    /// v3 reports a timeout as `status:"ok"` + `meta.aborted` (gateway-lab run_timeout); v4 as
    /// `status:"timeout"` with an `isError` notice payload, and an abort as `status:"timeout"`,
    /// `stopReason:"rpc"` (openclaw-lab run_timeout, abort_chat).
    pub fn into_outcome(self) -> RunOutcome {
        let (payloads, meta) = match self.result {
            Some(r) => (r.payloads, r.meta),
            None => (Vec::new(), None),
        };
        let text = payloads
            .into_iter()
            .filter(|p| !p.is_error)
            .filter_map(|p| p.text)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        let aborted_meta = meta.as_ref().is_some_and(|m| m.aborted);
        let usage = meta
            .and_then(|m| m.agent_meta)
            .and_then(|a| a.usage)
            .map(|u| Usage {
                input: u.input,
                output: u.output,
                cache_read: u.cache_read,
                cache_write: u.cache_write,
                total: u.total,
            });
        let stop = match self.status.as_deref() {
            Some("timeout") if self.stop_reason.as_deref() == Some("rpc") => StopKind::Aborted,
            Some("timeout") => StopKind::TimedOut,
            _ if aborted_meta => StopKind::TimedOut,
            _ => StopKind::Completed,
        };
        RunOutcome {
            replayed: false,
            text,
            usage,
            stop,
            tool_calls: Vec::new(),
        }
    }
}

/// `agents.list` payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentsList {
    #[serde(default)]
    pub default_id: Option<String>,
    #[serde(default)]
    pub agents: Vec<AgentEntry>,
}

/// One entry of `agents.list`.
#[derive(Debug, Deserialize)]
pub struct AgentEntry {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(json: &str) -> RunOutcome {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        AgentResPayload::parse(Some(&raw)).into_outcome()
    }

    #[test]
    fn v3_final_ok_with_usage() {
        // traces: gateway-lab simple
        let o = outcome(
            r#"{"runId":"r","status":"ok","summary":"completed","result":{"payloads":[{"text":"echo: hello from the ws harness","mediaUrl":null}],"meta":{"durationMs":256,"agentMeta":{"sessionId":"s","provider":"mock","model":"mock-echo","usage":{"input":2579,"output":7,"cacheRead":0,"cacheWrite":0,"total":2586}},"aborted":false}}}"#,
        );
        assert_eq!(o.text, "echo: hello from the ws harness");
        assert_eq!(o.stop, StopKind::Completed);
        assert_eq!(o.usage.unwrap().total, 2586);
    }

    #[test]
    fn v3_timeout_is_meta_aborted_with_no_payloads() {
        // traces: gateway-lab run_timeout
        let o = outcome(
            r#"{"runId":"r","status":"ok","summary":"completed","result":{"payloads":[],"meta":{"durationMs":1033,"agentMeta":{"sessionId":"s"},"aborted":true}}}"#,
        );
        assert_eq!(o.stop, StopKind::TimedOut);
        assert_eq!(o.text, "");
        assert!(o.usage.is_none());
    }

    #[test]
    fn v4_timeout_notice_is_not_reply_text() {
        // traces: openclaw-lab run_timeout
        let o = outcome(
            r#"{"runId":"r","status":"timeout","summary":"aborted","timeoutPhase":"provider","result":{"payloads":[{"text":"Request timed out before a response was generated.","isError":true,"mediaUrl":null}],"meta":{"durationMs":1443}}}"#,
        );
        assert_eq!(o.stop, StopKind::TimedOut);
        assert_eq!(o.text, "");
    }

    #[test]
    fn v4_abort_by_rpc() {
        // traces: openclaw-lab abort_chat
        let o =
            outcome(r#"{"runId":"r","status":"timeout","summary":"aborted","stopReason":"rpc"}"#);
        assert_eq!(o.stop, StopKind::Aborted);
    }

    #[test]
    fn accepted_payload_is_recognised() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"runId":"r","sessionKey":"k","agentId":"main","status":"accepted","acceptedAt":1}"#,
        )
        .unwrap();
        assert!(AgentResPayload::parse(Some(&raw)).is_accepted());
    }

    #[test]
    fn agent_params_serialize_to_documented_keys() {
        let p = AgentParams {
            message: "hi",
            idempotency_key: "k",
            agent_id: "main",
            session_key: "agent:main:openai:x",
            extra_system_prompt: None,
            timeout: Some(30),
            deliver: false,
            attachments: &[],
            thinking: None,
            provider: None,
            model: None,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"message":"hi","idempotencyKey":"k","agentId":"main","sessionKey":"agent:main:openai:x","timeout":30,"deliver":false}"#
        );
    }

    #[test]
    fn agent_params_carry_images_thinking_and_model() {
        let image = Attachment {
            kind: crate::media::AttachmentKind::Image,
            mime_type: "image/png".into(),
            file_name: Some("dot.png".into()),
            content_base64: "iVBORw0KGgo=".into(),
            decoded_len: 8,
            param: "messages[0].content[1]".into(),
        };
        let p = AgentParams {
            message: "hi",
            idempotency_key: "k",
            agent_id: "main",
            session_key: "s",
            extra_system_prompt: None,
            timeout: None,
            deliver: false,
            attachments: std::slice::from_ref(&image),
            thinking: Some("low"),
            provider: Some("mock"),
            model: Some("mock-echo"),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v["attachments"],
            serde_json::json!([{"type":"image","mimeType":"image/png","fileName":"dot.png","content":"iVBORw0KGgo="}])
        );
        assert_eq!(v["thinking"], "low");
        assert_eq!(v["provider"], "mock");
        assert_eq!(v["model"], "mock-echo");
    }

    #[test]
    fn policy_limits_are_read_from_hello_ok() {
        let hello: HelloOk = serde_json::from_str(
            r#"{"protocol":4,"policy":{"maxPayload":26214400,"tickIntervalMs":30000,"attachments":{"maxBytes":20000000,"maxImageBytes":10000000}}}"#,
        )
        .unwrap();
        let policy = hello.policy.unwrap();
        assert_eq!(policy.max_payload, Some(26_214_400));
        let a = policy.attachments.unwrap();
        assert_eq!(
            (a.max_bytes, a.max_image_bytes),
            (Some(20_000_000), Some(10_000_000))
        );
    }

    #[test]
    fn granted_scopes() {
        let admin = HelloAuth {
            scopes: vec!["operator.admin".into()],
            device_token: None,
        };
        assert!(admin.can_run_agents());
        let none = HelloAuth {
            scopes: vec![],
            device_token: None,
        };
        assert!(!none.can_run_agents());
    }
}
