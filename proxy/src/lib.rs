//! clawshim-proxy: the pingora service that serves the OpenAI API (chat completions,
//! Responses, models, embeddings) in front of a Clawdbot / OpenClaw gateway, and passes the
//! paths of `passthrough.allow` through to it.
//!
//! [`build_server`] wires everything from a validated [`config::Config`]; `main.rs` only
//! parses flags and calls it, and tests call it with their own shutdown signal.
//!
//! Imports between modules go one way (`tests/tests/import_cycles.rs` checks it). A
//! settings type lives with the code it configures (`front_door::keys::KeySpec`, ...) and
//! imports no configuration; `config` gathers them into [`config::Config`]; the shared
//! [`state::ProxyState`] is built from it; the `routes` read it; `service` (the pingora
//! phases), `server` (the wiring) and the `commands` sit on top.

pub mod commands;
pub mod config;
pub mod front_door;
pub mod ops;
pub mod request;
pub mod routes;
pub mod run;
pub mod server;
pub mod service;
pub mod shared_state;
pub mod state;
pub mod usage;

pub use server::{build_server, ChannelShutdown};
