//! clawshim-proxy: the pingora service that serves the OpenAI chat-completions API in front
//! of a Clawdbot / OpenClaw gateway, and passes every other request through to it.
//!
//! [`build_server`] wires everything from a validated [`config::Config`]; `main.rs` only
//! parses flags and calls it, and tests call it with their own shutdown signal.

pub mod access;
pub mod auth;
pub mod chat;
pub mod config;
pub mod ctx;
pub mod demo;
pub mod errors;
pub mod gateway_service;
pub mod health;
pub mod models;
pub mod passthrough;
pub mod respond;
pub mod route;
pub mod service;
pub mod telemetry;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clawshim_core::gateway::GatewayClient;
use pingora::proxy::http_proxy_service_with_name;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::background_service;
use tokio::sync::{oneshot, Semaphore};

use config::Config;
use gateway_service::GatewayService;
use service::{App, ClawShim};

/// Build the pingora server: the gateway connection (a background service) and the HTTP
/// service that depends on it.
pub fn build_server(config: Config) -> Server {
    let mut conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    conf.upstream_keepalive_pool_size = 128;
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let (gateway, conn) = GatewayClient::new(config.gateway.clone());
    let gateway_handle = server.add_service(background_service(
        "gateway connection",
        GatewayService::new(conn),
    ));

    let app = Arc::new(App {
        runs: Arc::new(Semaphore::new(config.max_concurrent_runs)),
        gateway,
        config: Arc::new(config),
    });
    let mut http = http_proxy_service_with_name(
        &server.configuration,
        ClawShim::new(app.clone()),
        "clawshim http",
    );
    http.add_tcp(&app.config.listen.to_string());
    let http_handle = server.add_service(http);
    http_handle.add_dependency(&gateway_handle);
    server
}

/// A shutdown signal for [`Server::run`] driven by a oneshot: what tests use instead of
/// process signals.
pub struct ChannelShutdown(Mutex<Option<oneshot::Receiver<ShutdownSignal>>>);

impl ChannelShutdown {
    /// The watcher and the sender that triggers it.
    pub fn new() -> (ChannelShutdown, oneshot::Sender<ShutdownSignal>) {
        let (tx, rx) = oneshot::channel();
        (ChannelShutdown(Mutex::new(Some(rx))), tx)
    }

    /// Run arguments using this watcher.
    pub fn into_run_args(self) -> RunArgs {
        RunArgs {
            shutdown_signal: Box::new(self),
        }
    }
}

#[async_trait]
impl ShutdownSignalWatch for ChannelShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let rx = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        match rx {
            Some(rx) => rx.await.unwrap_or(ShutdownSignal::FastShutdown),
            None => std::future::pending().await,
        }
    }
}
