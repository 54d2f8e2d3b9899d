//! Errors of the gateway client. Every way a call or a run can fail is one variant, so the
//! proxy maps each to exactly one HTTP status.

use super::ids::RunId;

/// Why a connection attempt failed, or why an established connection ended. The proxy turns
/// it into words and the setting that fixes it; core only reports what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    /// TCP, TLS or the WebSocket upgrade failed, or the socket closed during the handshake.
    #[error("cannot reach the gateway at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// No `hello-ok` within the connect timeout.
    #[error("the gateway at {url} did not complete the handshake in time")]
    HandshakeTimeout { url: String },
    /// The gateway refused `connect` (wrong token or password, a protocol it does not speak,
    /// a device it requires): its error as sent.
    #[error("the gateway refused the connection: {message} ({code})")]
    Refused {
        code: String,
        message: String,
        /// `error.details.code`, when the gateway sent one (e.g. `AUTH_TOKEN_MISMATCH`).
        detail_code: Option<String>,
    },
    /// Our device identity waits for approval on the gateway host.
    #[error("the gateway refused the connection: pairing required for device {device_id}")]
    PairingRequired {
        device_id: String,
        /// The pairing request to approve, when the gateway named it.
        request_id: Option<String>,
        /// Whether the gateway is openclaw (else clawdbot): the approve command differs.
        openclaw: bool,
    },
    /// Connected, but with too few scopes to run agents (v4 clears them for token-only
    /// clients it does not trust).
    #[error("the gateway granted scopes {granted:?}, too few to run agents")]
    MissingScopes { granted: Vec<String> },
    /// The handshake did not follow the protocol (bad frame, protocol outside 3..=4).
    #[error("unexpected handshake from the gateway: {detail}")]
    ProtocolMismatch { detail: String },
    /// An established connection was lost (close, error, missed ticks, `shutdown`).
    #[error("connection lost: {reason}")]
    Lost { reason: String },
}

/// Why a request found no connection to send on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotConnected {
    /// Never connected yet, no failure so far.
    #[error("connecting")]
    Connecting,
    /// The last attempt failed, or the connection was lost.
    #[error("{0}")]
    Failed(ConnectFailure),
    /// Between a lost connection and the next attempt.
    #[error("reconnecting")]
    Reconnecting,
    /// The connection task stopped.
    #[error("shutting down")]
    ShuttingDown,
}

/// Why a gateway call or run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Not connected (never connected, reconnecting, or the handshake was refused).
    #[error("gateway not connected: {reason}")]
    NotConnected { reason: NotConnected },
    /// The gateway answered the request with `ok:false` before any run started
    /// (e.g. `INVALID_REQUEST` "unknown agent id").
    #[error("gateway rejected the request ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The run was accepted and then failed on the gateway (`ok:false`, e.g. `UNAVAILABLE`).
    #[error("agent run failed ({code}): {message}")]
    RunFailed { code: String, message: String },
    /// The connection was lost while the call or run was in flight. A run may have executed.
    #[error("gateway connection lost: {reason}")]
    Disconnected { reason: String },
    /// The gateway ended the run at its time limit before any reply text was produced
    /// (v3 `meta.aborted`, v4 `status:"timeout"`).
    #[error("agent run timed out on the gateway")]
    RunTimedOut,
    /// No answer within the local deadline.
    #[error("gateway did not answer in time")]
    Timeout,
    /// The gateway sent something that does not follow the protocol.
    #[error("gateway protocol error: {0}")]
    Protocol(String),
    /// The caller's run channel fell too far behind and the run was dropped.
    #[error("run dropped: reader too slow")]
    Lagged,
    /// The serialized request frame is bigger than the gateway's announced `maxPayload`; it
    /// was not sent (the gateway would close the socket with 1009, failing every call in
    /// flight).
    #[error("request frame of {size} bytes exceeds the gateway's limit of {limit} bytes")]
    FrameTooLarge { size: usize, limit: usize },
    /// A run with this id is already in flight on the connection (ids must be unique).
    #[error("a run with id {0} is already in flight")]
    DuplicateRun(RunId),
    /// clawshim is stopping and the grace period is over: the run was aborted.
    #[error("clawshim is shutting down")]
    ShuttingDown,
}

/// The start of clawdbot 2026.1.24's session-store lock timeout as the `agent` method reports
/// it. `withSessionStoreLock` gives up after 10 s with
/// ``new Error(`timeout acquiring session store lock: ${lockPath}`)`` (`config/sessions/store.js:242`);
/// after `accepted` the handler answers `UNAVAILABLE` with `String(err)`
/// (`gateway/server-methods/agent.js:285`), before it the socket handler answers `UNAVAILABLE`
/// with `formatForLog(err)` (`gateway/server/ws-connection/message-handler.js:715`): both
/// `"Error: timeout acquiring session store lock: <path>"`.
const STORE_LOCK_TIMEOUT: &str = "Error: timeout acquiring session store lock: ";

impl GatewayError {
    /// Whether this is clawdbot's session-store lock timeout (`UNAVAILABLE` with the message
    /// above), before `accepted` ([`GatewayError::Rejected`]) or after it
    /// ([`GatewayError::RunFailed`]).
    pub fn is_session_store_lock_timeout(&self) -> bool {
        match self {
            GatewayError::Rejected { code, message }
            | GatewayError::RunFailed { code, message } => {
                code == "UNAVAILABLE" && message.starts_with(STORE_LOCK_TIMEOUT)
            }
            _ => false,
        }
    }

    /// True when the gateway may already have started (or finished) a run, so a client must
    /// not blindly retry.
    pub fn run_may_have_started(&self) -> bool {
        matches!(
            self,
            GatewayError::RunFailed { .. }
                | GatewayError::RunTimedOut
                | GatewayError::Disconnected { .. }
                | GatewayError::Timeout
                | GatewayError::Lagged
                | GatewayError::ShuttingDown
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str =
        "Error: timeout acquiring session store lock: /s/agents/main/sessions/sessions.json.lock";

    #[test]
    fn the_store_lock_timeout_is_its_code_and_message_on_either_side_of_accepted() {
        let failed = |code: &str, message: &str| GatewayError::RunFailed {
            code: code.into(),
            message: message.into(),
        };
        assert!(failed("UNAVAILABLE", LOCK).is_session_store_lock_timeout());
        let refused = GatewayError::Rejected {
            code: "UNAVAILABLE".into(),
            message: LOCK.into(),
        };
        assert!(refused.is_session_store_lock_timeout());
        assert!(
            !failed("INVALID_REQUEST", LOCK).is_session_store_lock_timeout(),
            "the code is part of the signal"
        );
        assert!(
            !failed("UNAVAILABLE", "Error: Unknown model: x/y").is_session_store_lock_timeout(),
            "other run failures (gateway-lab broken_agent) are not overload"
        );
        assert!(
            !failed(
                "UNAVAILABLE",
                "LLM said: timeout acquiring session store lock: x"
            )
            .is_session_store_lock_timeout(),
            "the text must be the gateway's own error, not a quote inside another"
        );
        assert!(!GatewayError::Timeout.is_session_store_lock_timeout());
    }
}
