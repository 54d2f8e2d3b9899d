//! What the sockets of the pool and the handles share: each socket's and the pool's
//! [`GatewayStatus`], and the [`PoolState`] (what the gateway said and what was counted).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::value::RawValue;

use super::agents::AgentDirectory;
use super::error::{ConnectFailure, GatewayError};
use super::hello::Hello;
use super::subscriptions::Traffic;

/// The connection's state, as `/readyz` reports it. Each change is published once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayStatus {
    /// Not connected; `last_failure` says why when a connect failed or the socket was lost.
    Connecting {
        /// Failed attempts since the last success (the failure was attempt `attempt - 1`).
        attempt: u32,
        last_failure: Option<ConnectFailure>,
    },
    /// Handshake done (what the gateway said is [`super::GatewayClient::hello`]).
    Connected { server_version: String },
    /// The connection task has stopped (shutdown).
    Stopped,
}

impl GatewayStatus {
    /// Whether requests can be served.
    pub fn is_connected(&self) -> bool {
        matches!(self, GatewayStatus::Connected { .. })
    }
}

/// What every socket of a pool learns from the gateway and every handle reads: the agent
/// directory, the last `hello-ok`, whether sessions may be deleted, and the traffic and
/// reconnect counts. One per pool, behind an `Arc`; written only by the socket tasks (and
/// by [`PoolState::store_agents`] for an on-demand `agents.list`).
#[derive(Default)]
pub(crate) struct PoolState {
    agents: RwLock<Option<AgentDirectory>>,
    /// The last `hello-ok`; kept while reconnecting, so an abort waits for the connection
    /// instead of assuming protocol 3.
    hello: RwLock<Option<Arc<Hello>>>,
    /// Whether this connection may delete sessions (decided at each handshake).
    pub(crate) deletes_sessions: AtomicBool,
    /// Set once the reason it may not has been logged.
    pub(crate) cleanup_refusal_logged: AtomicBool,
    /// Frames and bytes received from the gateway.
    pub(crate) traffic: Traffic,
    /// Handshakes of a socket after its first one.
    pub(crate) reconnects: AtomicU64,
}

impl PoolState {
    /// Parse an `agents.list` answer and make it the cached directory: the one place the
    /// cache is written (after connecting, and on demand).
    pub(crate) fn store_agents(
        &self,
        payload: Option<&RawValue>,
    ) -> Result<AgentDirectory, GatewayError> {
        let dir = AgentDirectory::parse(payload)?;
        *self.agents.write().unwrap_or_else(|p| p.into_inner()) = Some(dir.clone());
        Ok(dir)
    }

    /// The cached agent directory, if any.
    pub(crate) fn agents(&self) -> Option<AgentDirectory> {
        self.agents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the gateway said in the last `hello-ok` of any socket.
    pub(crate) fn hello(&self) -> Option<Arc<Hello>> {
        self.hello.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Record a socket's `hello-ok` (the sockets of a pool share one gateway).
    pub(crate) fn set_hello(&self, hello: Arc<Hello>) {
        *self.hello.write().unwrap_or_else(|p| p.into_inner()) = Some(hello);
    }

    /// The negotiated protocol, 0 before the first handshake.
    pub(crate) fn protocol(&self) -> u32 {
        self.hello().map_or(0, |h| h.protocol)
    }

    /// Whether the current connection may delete per-request sessions.
    pub(crate) fn deletes_sessions(&self) -> bool {
        self.deletes_sessions.load(Ordering::Relaxed)
    }
}
