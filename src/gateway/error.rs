//! Errors of the gateway client. Every way a call or a run can fail is one variant, so the
//! proxy maps each to exactly one HTTP status.

/// Why a gateway call or run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Not connected (never connected, reconnecting, or the handshake was refused).
    #[error("gateway not connected: {reason}")]
    NotConnected { reason: String },
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
}

impl GatewayError {
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
        )
    }
}
