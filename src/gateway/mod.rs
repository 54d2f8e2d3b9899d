//! The gateway side: protocol frames, the connection task and the cheap client handle.
//!
//! One WebSocket connection is shared by every HTTP request. Callers hold a
//! [`GatewayClient`]; the connection task owns the socket, the pending-request map and the
//! run map, and routes broadcast `agent` events to the one run that owns them.

pub mod agents;
pub mod backoff;
pub mod cleanup;
pub mod client;
pub mod conn;
pub mod device;
pub mod error;
pub(crate) mod frame;
pub mod hello;
pub mod ids;
pub(crate) mod methods;
pub(crate) mod oddities;
pub mod run;
pub(crate) mod subscriptions;

pub use agents::{AgentDirectory, AgentInfo, AgentNotFound};
pub use cleanup::SessionCleanup;
pub use client::{GatewayClient, GatewayConfig, GatewayStatus};
pub use error::{ConnectFailure, GatewayError, NotConnected};
pub use hello::{AnnouncedAttachments, Hello};
pub use ids::{RequestId, RunId};
pub use run::{Run, RunEvent, RunOutcome, RunRequest, StopKind, Usage};
