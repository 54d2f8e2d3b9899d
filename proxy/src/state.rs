//! [`ProxyState`]: what every request shares, built once from the validated configuration.

use std::sync::Arc;

use clawshim_core::gateway::GatewayAuth;
use clawshim_core::gateway::GatewayClient;
use clawshim_core::http_source::HttpSourceConfig;
use clawshim_core::response_id::ResponseIdCodec;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::front_door::failed_auth::FailedAuthLimiter;
use crate::front_door::keys::KeyStore;
use crate::request::body_slots::BodySlots;
use crate::routes::embeddings::EmbeddingsForwarder;
use crate::run::admission::Admission;
use crate::run::client_tools::source::ToolRuns;
use crate::run::image_fetch::ImageFetcher;
use crate::run::run_bytes::RunBytes;
use crate::shared_state::SharedState;
use crate::usage::disk::DiskStore;
use crate::usage::{UsageBook, UsageStore};

/// Service-wide state shared by every request.
pub struct ProxyState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Handle to the shared gateway connection.
    pub gateway: GatewayClient,
    /// One permit per run in flight.
    pub runs: Arc<Semaphore>,
    /// The slots of the request bodies being read and parsed ([`crate::request::body_slots`]).
    pub bodies: Arc<BodySlots>,
    /// Bytes of run requests waiting for the gateway ([`crate::run::run_bytes`]).
    pub run_bytes: RunBytes,
    /// Adaptive limit and queue of the runs sent to the gateway.
    pub admission: Admission,
    /// Accepted credentials: shared tokens and API keys.
    pub keys: KeyStore,
    /// Failed-auth counts per client IP.
    pub failed_auth: FailedAuthLimiter,
    /// Rate, run slots, failed-auth counts and Idempotency-Key readers shared with the
    /// other instances (Redis), when configured.
    pub shared: Arc<SharedState>,
    /// Token usage per account and the keys' budgets.
    pub usage: UsageBook,
    /// Remote image URLs: fetched or refused.
    pub images: ImageFetcher,
    /// Issues and checks response ids (`previous_response_id`).
    pub response_ids: ResponseIdCodec,
    /// `/v1/embeddings` to the gateway.
    pub embeddings: EmbeddingsForwarder,
    /// Runs with client tools, through the gateway's own chat endpoint.
    pub tool_runs: ToolRuns,
}

impl ProxyState {
    /// Service state built from `config` around a gateway handle; `usage_file` is
    /// `state.usage_file`, opened (used only without Redis).
    pub fn new(
        config: Config,
        gateway: GatewayClient,
        usage_file: Option<DiskStore>,
    ) -> ProxyState {
        let bodies = Arc::new(BodySlots::new(
            config.max_concurrent_bodies,
            config.max_concurrent_bodies_per_client,
        ));
        let shared = Arc::new(SharedState::new(&config.shared_state));
        let usage_store = match shared.status() {
            Some(_) => Some(UsageStore::Redis(shared.clone())),
            None => usage_file.map(UsageStore::Disk),
        };
        ProxyState {
            runs: Arc::new(Semaphore::new(config.max_concurrent_runs)),
            embeddings: EmbeddingsForwarder::new(&config, bodies.clone(), gateway.clone()),
            bodies,
            run_bytes: RunBytes::new(config.max_run_bytes_in_flight),
            admission: Admission::new(config.admission.clone()),
            keys: KeyStore::new(config.api_tokens.clone(), &config.keys),
            failed_auth: FailedAuthLimiter::new(config.max_failed_auth, config.failed_auth_window),
            shared,
            usage: UsageBook::new(usage_store),
            images: ImageFetcher::new(&config.images),
            tool_runs: ToolRuns::new(tool_source(&config)),
            response_ids: response_id_codec(&config.gateway.auth),
            gateway,
            config: Arc::new(config),
        }
    }
}

/// The gateway's own HTTP endpoint: its WebSocket's host and port, the same credential and
/// trust anchors.
fn tool_source(config: &Config) -> HttpSourceConfig {
    let (hostport, tls) = &config.gateway_http;
    let scheme = if *tls { "https" } else { "http" };
    HttpSourceConfig {
        base_url: format!("{scheme}://{hostport}"),
        auth: config.gateway.auth.clone(),
        tls_roots: config.gateway.tls_roots.clone(),
        connect_timeout: config.gateway.connect_timeout,
    }
}

/// Response ids are sealed with a key derived from the gateway credential, so every clawshim
/// in front of one gateway (restarted, or several at once) accepts the others' ids. Without
/// a shared secret (device identity only) the key is random: ids then last as long as the
/// process.
fn response_id_codec(auth: &GatewayAuth) -> ResponseIdCodec {
    match auth {
        GatewayAuth::Token(secret) | GatewayAuth::Password(secret) => {
            ResponseIdCodec::new(secret.expose().as_bytes())
        }
        GatewayAuth::None => {
            let key: [u8; 32] = rand::random();
            ResponseIdCodec::new(&key)
        }
    }
}
