//! What a run's event stream carries: [`RunEvent`], and the [`RunOutcome`] of a run the
//! gateway finished. Written by the frame router (`router.rs`), read through
//! [`super::Run::next`].

use super::error::GatewayError;
use super::progress::Progress;

/// Token counts from the final result's `meta.agentMeta.usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total: u64,
}

impl Usage {
    /// All input tokens, cached or not: OpenAI counts cached input as input while the
    /// gateway reports fresh input, cache reads and cache writes apart, so the three are
    /// summed (both formats' `usage` start from this).
    pub fn input_total(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }
}

/// Why a run that ended normally stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The agent finished its reply.
    Completed,
    /// The run hit its time limit (v3 `meta.aborted`, v4 `status:"timeout"`); text may be partial.
    TimedOut,
    /// The run was aborted on request (v4 `stopReason:"rpc"`).
    Aborted,
}

/// The final result of a run that the gateway reported as finished (`res` with `ok:true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The reply text: the non-error `payloads[].text` joined by a blank line (may be empty).
    pub text: String,
    /// Token usage when the gateway reported it.
    pub usage: Option<Usage>,
    /// Why it stopped.
    pub stop: StopKind,
    /// The client tool calls the run ended with, in order (runs from the gateway's HTTP
    /// endpoint only, see `crate::http_source`; always empty on the WebSocket).
    pub tool_calls: Vec<ToolCall>,
    /// The gateway answered from its idempotency cache (a retry of a run that had finished):
    /// no new model call, so its `usage` was counted with the first answer.
    pub replayed: bool,
}

/// One call of a client tool the agent's model made, as the caller must see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The call id (the gateway's own; the caller echoes it with the result).
    pub id: String,
    /// The tool's name as the caller defined it.
    pub name: String,
    /// The arguments, a JSON text as the model wrote it (already checked by the gateway
    /// against the tool's `parameters`).
    pub arguments: String,
}

/// One item of a run's event stream, in arrival order. The stream ends after any event but
/// [`RunEvent::Delta`] and [`RunEvent::Progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// New assistant text (`agent` event, `stream:"assistant"`, `data.delta`).
    Delta(String),
    /// The agent's work: a tool step, thinking text, an approval wait (only for runs that
    /// asked for it, [`super::RunRequest::progress`]). Best effort: dropped rather than
    /// delayed when the reader falls behind.
    Progress(Progress),
    /// The run finished; the final `res` arrived.
    Finished(RunOutcome),
    /// The run failed: gateway error after acceptance or lost connection.
    Failed(GatewayError),
    /// The reader fell too far behind and the connection dropped the run (its channel
    /// closed without a final event) and aborted it on the gateway.
    Lagged,
    /// The local deadline passed before the gateway's final answer.
    TimedOut,
}

impl RunEvent {
    /// Whether nothing follows this event.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, RunEvent::Delta(_) | RunEvent::Progress(_))
    }
}
