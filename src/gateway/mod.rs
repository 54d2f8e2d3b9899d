//! The gateway side: protocol frames, the socket tasks and the cheap client handle.
//!
//! A small pool of WebSocket connections ([`pool`]) is shared by every HTTP request. Callers
//! hold a [`GatewayClient`]; a started [`Run`] holds the one socket its frames go to
//! (`socket`). Each socket's task (`link`) owns its WebSocket: it connects
//! (`handshake`), and its `router` routes answers to their waiters and `agent` events to
//! the one run that owns them. [`config`] and [`state`] hold what the handle and the sockets
//! share.

pub mod agents;
pub mod backoff;
pub mod cleanup;
pub mod client;
pub mod config;
pub mod device;
pub mod error;
pub mod events;
pub(crate) mod frame;
pub(crate) mod handshake;
pub mod hello;
pub mod ids;
pub(crate) mod link;
pub(crate) mod methods;
pub(crate) mod oddities;
pub mod pool;
pub mod progress;
pub(crate) mod router;
pub mod run;
pub(crate) mod socket;
pub mod state;
pub(crate) mod subscriptions;

pub use agents::{AgentDirectory, AgentInfo, AgentNotFound};
pub use cleanup::SessionCleanup;
pub use client::GatewayClient;
pub use config::{GatewayAuth, GatewayConfig, Secret, DEFAULT_SOCKETS};
pub use error::{ConnectFailure, GatewayError, NotConnected};
pub use events::{RunEvent, RunOutcome, StopKind, ToolCall, Usage};
pub use hello::{AnnouncedAttachments, Hello};
pub use ids::{RequestId, RunId};
pub use progress::{Progress, ProgressLevel};
pub use run::{ExternalEvents, Run, RunRequest};
pub use state::GatewayStatus;
