//! What a caller sees of one agent run: the request it makes and the events it receives.

use std::time::Duration;

use crate::gateway::GatewayError;

/// Input of one `agent` run, already resolved (agent, session, prompt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The agent that runs it (always sent: v4 refuses ownerless runs with several agents).
    pub agent_id: String,
    /// The session key, e.g. `agent:main:openai:<uuid>`.
    pub session_key: String,
    /// The user turn (with the history envelope when the request carried history).
    pub message: String,
    /// System and developer messages, joined by a blank line.
    pub extra_system_prompt: Option<String>,
    /// Run timeout passed to the gateway (`timeout`, whole seconds).
    pub timeout: Option<Duration>,
}

/// Token counts from the final result's `meta.agentMeta.usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total: u64,
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
}

/// One item of a run's event stream, in arrival order. The stream ends after
/// [`RunEvent::Finished`] or [`RunEvent::Failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// New assistant text (`agent` event, `stream:"assistant"`, `data.delta`).
    Delta(String),
    /// The run finished; the final `res` arrived.
    Finished(RunOutcome),
    /// The run failed: gateway error after acceptance, lost connection, or local timeout.
    Failed(GatewayError),
}

/// An accepted run: its id and the bounded stream of its events.
#[derive(Debug)]
pub struct RunHandle {
    /// The run id (= the `idempotencyKey` we sent).
    pub run_id: String,
    /// Events of this run only; bounded so a slow reader never stalls the socket.
    pub events: tokio::sync::mpsc::Receiver<RunEvent>,
}

/// One configured agent, from `agents.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: String,
    pub name: Option<String>,
}
