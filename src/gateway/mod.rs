//! The gateway side: protocol frames, the connection task and the cheap client handle.
//!
//! A small pool of WebSocket connections ([`pool`]) is shared by every HTTP request. Callers
//! hold a [`GatewayClient`]; each socket's task owns its socket, pending-request map and run
//! map, and routes `agent` events to the one run that owns them.

pub mod agents;
pub mod backoff;
pub mod cleanup;
pub mod client;
pub mod device;
pub mod error;
pub(crate) mod frame;
pub mod hello;
pub mod ids;
pub(crate) mod link;
pub(crate) mod methods;
pub(crate) mod oddities;
pub mod pool;
pub mod run;
pub(crate) mod subscriptions;

pub use agents::{AgentDirectory, AgentInfo, AgentNotFound};
pub use cleanup::SessionCleanup;
pub use client::{GatewayClient, GatewayConfig, GatewayStatus, DEFAULT_SOCKETS};
pub use error::{ConnectFailure, GatewayError, NotConnected};
pub use hello::{AnnouncedAttachments, Hello};
pub use ids::{RequestId, RunId};
pub use run::{Run, RunEvent, RunOutcome, RunRequest, StopKind, Usage};
