//! What the gateway said about itself in `hello-ok`, kept by the client for the life of the
//! connection (and until the next one): the negotiated protocol, the scopes it granted and
//! the limits of its policy. One record, read by everything that must respect those limits
//! (the frame limit, attachment sizes) or report them (`clawshim doctor`).

use std::time::Duration;

use super::methods::HelloOk;
use crate::media::limits::{AttachmentLimits, CLAWDBOT_MAX_ATTACHMENT_BYTES};

/// Tick interval assumed when `hello-ok.policy` has none (both versions send 30 s).
pub const DEFAULT_TICK: Duration = Duration::from_secs(30);

/// The gateway's side of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Negotiated protocol: 3 (clawdbot 2026.1) or 4 (openclaw 2026.9).
    pub protocol: u32,
    /// `hello-ok.server.version`, or `unknown`.
    pub server_version: String,
    /// `hello-ok.auth.scopes` (protocol 4). Protocol 3 reports none: clawdbot grants a
    /// shared-secret client the scopes it asks for (gateway-lab README, connect).
    pub granted_scopes: Option<Vec<String>>,
    /// `policy.maxPayload`: the largest frame the gateway reads; a bigger one closes the
    /// socket with 1009 (524288 on clawdbot 2026.1.24, 26214400 on openclaw 2026.9.6).
    pub max_payload: Option<usize>,
    /// `policy.maxBufferedBytes`: the send buffer past which the gateway drops a slow socket.
    pub max_buffered_bytes: Option<usize>,
    /// `policy.attachments` (openclaw 2026.9): per-run and per-image attachment limits.
    pub attachments: Option<AnnouncedAttachments>,
    /// `policy.tickIntervalMs`: the gateway's keep-alive period.
    pub tick_interval: Duration,
}

/// `hello-ok.policy.attachments` (openclaw-lab traces: `{"maxBytes":19464192,"maxImageBytes":6291456}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncedAttachments {
    /// All attachments of one run together, decoded.
    pub max_bytes: Option<usize>,
    /// One image, decoded.
    pub max_image_bytes: Option<usize>,
}

impl Hello {
    /// Whether the connection holds `scope`: granted on protocol 4, asked for on protocol 3
    /// (`asked` is what clawshim's `connect` requested).
    pub fn holds_scope(&self, scope: &str, asked: &[&str]) -> bool {
        match &self.granted_scopes {
            Some(granted) => granted.iter().any(|g| g == scope || g == "operator.admin"),
            None => asked.contains(&scope),
        }
    }
}

impl Hello {
    /// The limits a run's attachments are checked against: the smaller of openclaw's
    /// announced caps, clawdbot's unannounced one on protocol 3
    /// ([`CLAWDBOT_MAX_ATTACHMENT_BYTES`]), and the frame limit.
    pub fn attachment_limits(&self) -> AttachmentLimits {
        let announced = self
            .attachments
            .and_then(|a| match (a.max_bytes, a.max_image_bytes) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            });
        AttachmentLimits {
            max_image_bytes: announced
                .or((self.protocol == 3).then_some(CLAWDBOT_MAX_ATTACHMENT_BYTES)),
            max_frame_bytes: self.max_payload,
        }
    }
}

impl From<&HelloOk> for Hello {
    fn from(hello: &HelloOk) -> Self {
        let policy = hello.policy.as_ref();
        Hello {
            protocol: hello.protocol,
            server_version: hello
                .server
                .as_ref()
                .and_then(|s| s.version.clone())
                .unwrap_or_else(|| "unknown".into()),
            granted_scopes: hello.auth.as_ref().map(|a| a.scopes.clone()),
            max_payload: policy.and_then(|p| p.max_payload),
            max_buffered_bytes: policy.and_then(|p| p.max_buffered_bytes),
            attachments: policy.and_then(|p| p.attachments.as_ref()).map(|a| {
                AnnouncedAttachments {
                    max_bytes: a.max_bytes,
                    max_image_bytes: a.max_image_bytes,
                }
            }),
            tick_interval: policy
                .and_then(|p| p.tick_interval_ms)
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TICK),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Hello {
        let hello: HelloOk = serde_json::from_str(json).unwrap();
        Hello::from(&hello)
    }

    #[test]
    fn clawdbot_hello_keeps_its_frame_limit_and_reports_no_scopes() {
        // gateway-lab README, connect: the v3 hello-ok policy.
        let h = parse(
            r#"{"type":"hello-ok","protocol":3,"server":{"version":"2026.1.24"},
                "policy":{"maxPayload":524288,"maxBufferedBytes":1572864,"tickIntervalMs":30000}}"#,
        );
        assert_eq!(h.protocol, 3);
        assert_eq!(h.max_payload, Some(524288));
        assert_eq!(h.max_buffered_bytes, Some(1572864));
        assert_eq!(h.granted_scopes, None);
        assert_eq!(h.tick_interval, Duration::from_secs(30));
        assert!(h.holds_scope("operator.admin", &["operator.read", "operator.admin"]));
        assert!(!h.holds_scope("operator.admin", &["operator.read"]));
    }

    #[test]
    fn openclaw_hello_keeps_scopes_and_attachment_limits() {
        // openclaw-lab traces: hello-ok policy with attachments.
        let h = parse(
            r#"{"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6"},
                "policy":{"maxPayload":26214400,"maxBufferedBytes":52428800,"tickIntervalMs":30000,
                          "attachments":{"maxBytes":19464192,"maxImageBytes":6291456}},
                "auth":{"scopes":["operator.read","operator.write"]}}"#,
        );
        assert_eq!(h.max_payload, Some(26214400));
        assert_eq!(
            h.attachments,
            Some(AnnouncedAttachments {
                max_bytes: Some(19464192),
                max_image_bytes: Some(6291456)
            })
        );
        assert!(h.holds_scope("operator.write", &[]));
        assert!(!h.holds_scope("operator.admin", &["operator.admin"]));
    }

    #[test]
    fn attachment_limits_follow_the_announced_policy() {
        let v4 = parse(
            r#"{"type":"hello-ok","protocol":4,"policy":{"maxPayload":26214400,
                "attachments":{"maxBytes":20000000,"maxImageBytes":10000000}}}"#,
        );
        assert_eq!(
            v4.attachment_limits(),
            AttachmentLimits {
                max_image_bytes: Some(10_000_000),
                max_frame_bytes: Some(26_214_400)
            }
        );
        // clawdbot announces only the frame limit but caps images all the same.
        let v3 = parse(r#"{"type":"hello-ok","protocol":3,"policy":{"maxPayload":524288}}"#);
        assert_eq!(
            v3.attachment_limits(),
            AttachmentLimits {
                max_image_bytes: Some(CLAWDBOT_MAX_ATTACHMENT_BYTES),
                max_frame_bytes: Some(524_288)
            }
        );
        let bare = parse(r#"{"type":"hello-ok","protocol":4}"#);
        assert_eq!(bare.attachment_limits(), AttachmentLimits::default());
    }

    #[test]
    fn a_missing_policy_falls_back_to_the_default_tick() {
        let h = parse(r#"{"type":"hello-ok","protocol":4}"#);
        assert_eq!(h.tick_interval, DEFAULT_TICK);
        assert_eq!(h.max_payload, None);
        assert_eq!(h.server_version, "unknown");
    }
}
