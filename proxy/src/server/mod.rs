//! The pingora server: [`build_server`] wires the HTTP service, the gateway connection (a
//! background service, `gateway_service`) and the other background services; start-up
//! side effects happen here. [`ChannelShutdown`] stops it from a test.

pub mod gateway_service;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clawshim_core::gateway::device::DeviceIdentity;
use clawshim_core::gateway::GatewayClient;
use pingora::proxy::HttpProxy;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::front_door::connections::Guarded;
use crate::front_door::{tls, upgrade_socket};
use crate::ops::{gateway_status, metrics};
use crate::service::ClawShim;
use crate::state::ProxyState;
use crate::usage::disk::DiskStore;
use gateway_service::GatewayService;

/// Build the pingora server: the gateway connection (a background service) and the HTTP
/// service that depends on it. Start-up side effects that validation leaves out happen here:
/// the device identity file is created when missing, the certificate is registered for
/// SIGHUP reload, and the pid file is written.
///
/// Exits the process with status 2 (that of an invalid configuration) when the device
/// identity cannot be loaded or created, the usage file cannot be opened (another process
/// has it, or a directory it may not write to), or the graceful-upgrade socket's directory is not
/// private ([`upgrade_socket::prepare`]), the start-up steps that can fail after validation
/// (e.g. a directory it may not write to).
pub fn build_server(mut config: Config) -> Server {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if let Err(e) = upgrade_socket::prepare(&config.upgrade_sock) {
        tracing::error!(error = %e, "refusing the graceful-upgrade socket");
        eprintln!("clawshim: {e}");
        std::process::exit(2);
    }
    if let Some(path) = &config.device_identity {
        match DeviceIdentity::load_or_create(path) {
            Ok(identity) => {
                tracing::info!(device_id = identity.device_id(), path = %path.display(), "device identity");
                config.gateway.device = Some(Arc::new(identity));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot load or create the device identity");
                eprintln!("clawshim: {e}");
                std::process::exit(2);
            }
        }
    }
    // Only without Redis (which keeps usage for every instance).
    let usage_file = match (
        &config.shared_state.redis_url,
        &config.shared_state.usage_file,
    ) {
        (None, Some(path)) => match DiskStore::open(path) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::error!(error = %e, "cannot open the usage file");
                eprintln!("clawshim: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let mut conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(5),
        upgrade_sock: config.upgrade_sock.to_string_lossy().into_owned(),
        // The gateway is the only TLS upstream: its CA is the connector's CA.
        ca_file: config
            .gateway_ca_file
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        ..ServerConf::default()
    };
    conf.upstream_keepalive_pool_size = 128;
    let opt = Opt {
        upgrade: config.upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    // With `--upgrade` this waits for the old process's listening sockets (see `tls`).
    server.bootstrap();
    if let Some(path) = &config.pid_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the pid file");
        }
    }

    let (gateway, conn) = GatewayClient::new(config.gateway.clone());
    let gateway_handle = server.add_service(background_service(
        "gateway connection",
        GatewayService::new(conn, config.grace_period),
    ));

    let state = Arc::new(ProxyState::new(config, gateway, usage_file));
    let mut proxy = HttpProxy::new(ClawShim::new(state.clone()), server.configuration.clone());
    proxy.handle_init_modules();
    proxy.h2_options = Some(state.config.connections.h2_options());
    proxy.server_options = Some(state.config.connections.server_options());
    let mut http = Service::new(
        "clawshim http".to_string(),
        Guarded::new(
            proxy,
            state.config.connections.clone(),
            state.config.trusted_proxies.clone(),
        ),
    );
    if let Some(addr) = state.config.listen {
        http.add_tcp(&addr.to_string());
    }
    if let Some(tls) = &state.config.tls {
        http.add_tls_with_settings(&tls.listen.to_string(), None, tls::settings(tls));
        tls::register(&tls.store);
        server.add_service(background_service(
            "tls reload",
            tls::ReloadOnHangup::new(tls.store.clone()),
        ));
    }
    let http_handle = server.add_service(http);
    http_handle.add_dependency(&gateway_handle);
    server.add_service(background_service(
        "gateway metrics",
        gateway_status::GatewayWatch::new(state.gateway.clone()),
    ));
    server.add_service(background_service(
        "gateway traffic metrics",
        gateway_status::GatewayCounters::new(state.gateway.clone()),
    ));
    if let Some(addr) = state.config.metrics_listen {
        server.add_service(metrics::service(&addr.to_string()));
    }
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
