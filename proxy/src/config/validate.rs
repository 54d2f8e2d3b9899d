//! From [`Merged`] settings to a [`Config`] of parsed types, every problem reported together.
//!
//! Validation reads but never writes: it may open files that must already exist (the TLS
//! chain and key, a gateway CA bundle, an existing device identity) to parse and check them,
//! because a bad file should fail `--check-config` and the start with its path in the
//! message; it creates, changes and registers nothing, so `--check-config` leaves the disk and
//! the process as it found them. What start-up creates (a missing device identity file, the
//! certificate's SIGHUP registration, the pid file) is done by [`crate::build_server`].

mod exposure;
mod keys;
mod listeners;
mod state;
mod traces;

use std::path::Path;
use std::time::Duration;

use clawshim_core::gateway::device::DeviceIdentity;
use clawshim_core::gateway::GatewayConfig;
use clawshim_core::gateway::{GatewayAuth, Secret};

use super::defaults;
use super::merge::Merged;
use super::{Config, ConfigError};
use crate::front_door::client_ip::TrustedProxies;
use crate::front_door::connections::ConnectionLimits;
use crate::front_door::header_guard::HeaderLimits;
use crate::front_door::passthrough::Allowlist;
use crate::request::body::BodyLimits;
use crate::run::image_fetch::ImageFetchConfig;

/// Check `m` and build the [`Config`]; `Err` lists every problem found.
pub fn validate(m: Merged) -> Result<Config, ConfigError> {
    let mut errors = Vec::new();

    let gateway_http = match parse_ws_url(&m.gateway_url) {
        Ok(hp) => hp,
        Err(e) => {
            errors.push(format!("gateway url: {e}"));
            (String::new(), false)
        }
    };
    let listen = listeners::plain(&m.listen, &mut errors);
    let tls = listeners::https(&m.listen, m.tls_listen, m.tls_cert, m.tls_key, &mut errors);
    let metrics_listen = listeners::metrics(m.metrics_listen.as_deref(), &mut errors);
    let gateway_roots =
        listeners::gateway_roots(m.gateway_ca_file.as_deref(), gateway_http.1, &mut errors);

    // Precedence first (an empty flag or variable still overrides the file), then empty
    // means unset.
    let token = m.gateway_token.filter(|t| !t.is_empty());
    let password = m.gateway_password.filter(|p| !p.is_empty());
    let auth = match (token, password) {
        (Some(_), Some(_)) => {
            errors.push("gateway: set either a token or a password, not both".into());
            GatewayAuth::None
        }
        (Some(t), None) => GatewayAuth::Token(Secret::new(t)),
        (None, Some(p)) => GatewayAuth::Password(Secret::new(p)),
        (None, None) => GatewayAuth::None,
    };
    let keys = keys::keys(&m.keys, &mut errors);
    let traces = traces::traces(&m.traces, &mut errors);
    // Without `auth.tokens` the gateway's secret is the client credential of the quick start,
    // until [[keys]] exist: then clients have their own, and the gateway's admin secret is
    // accepted only when listed.
    let api_tokens: Vec<Secret> = match m.api_tokens {
        Some(list) => list
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .collect(),
        None if !keys.is_empty() => Vec::new(),
        None => match &auth {
            GatewayAuth::Token(s) | GatewayAuth::Password(s) => vec![s.clone()],
            GatewayAuth::None => Vec::new(),
        },
    };
    let mut warnings = Vec::new();
    let listening: Vec<std::net::SocketAddr> = listen
        .iter()
        .copied()
        .chain(tls.as_ref().map(|t| t.listen))
        .collect();
    exposure::shared_gateway_secret(&listening, &auth, &api_tokens, &keys, &mut warnings);
    let trusted_proxies = TrustedProxies::parse(&m.trusted_proxies).unwrap_or_else(|e| {
        errors.push(format!("trusted_proxies: {e}"));
        TrustedProxies::default()
    });
    if api_tokens.is_empty() && keys.is_empty() {
        errors.push(
            "no accepted client token: set CLAWSHIM_GATEWAY_TOKEN (clients then use the same token) \
             or CLAWSHIM_API_TOKENS"
                .into(),
        );
    }

    for (name, secs) in [
        ("run_timeout_secs", m.run_timeout_secs),
        ("write_timeout_secs", m.write_timeout_secs),
        ("keepalive_secs", m.keepalive_secs),
    ] {
        if secs == 0 {
            errors.push(format!("{name} must be at least 1"));
        }
    }
    if m.images_max_url_bytes == 0 {
        errors.push("images.max_url_bytes must be at least 1".into());
    }
    if m.max_body_bytes == 0 {
        errors.push("max_body_bytes must be at least 1".into());
    }
    if !(1..=100).contains(&m.key_run_share_percent) {
        errors.push("limits.key_run_share_percent must be 1 to 100".into());
    }
    if !(1..=defaults::MAX_QUEUE_WAIT_SECS).contains(&m.queue_wait_secs) {
        errors.push(format!(
            "limits.queue_wait_secs must be 1 to {}",
            defaults::MAX_QUEUE_WAIT_SECS
        ));
    }
    if m.max_run_bytes_in_flight == 0 {
        errors.push("limits.max_run_bytes_in_flight must be at least 1".into());
    }
    if m.max_concurrent_bodies == 0 {
        errors.push("max_concurrent_bodies must be at least 1".into());
    }
    if !(1..=m.max_concurrent_bodies.max(1)).contains(&m.max_concurrent_bodies_per_client) {
        errors.push(
            "max_concurrent_bodies_per_client must be between 1 and max_concurrent_bodies".into(),
        );
    }
    if m.body_timeout_secs == 0 {
        errors.push("body_timeout_secs must be at least 1".into());
    }
    if m.max_concurrent_runs == 0 {
        errors.push("max_concurrent_runs must be at least 1".into());
    }
    let passthrough_allow = Allowlist::parse(&m.passthrough_allow).unwrap_or_else(|e| {
        errors.push(e);
        Allowlist::default()
    });
    if m.max_connections == 0 {
        errors.push("max_connections must be at least 1".into());
    }
    if !(1..=m.max_connections.max(1)).contains(&m.max_connections_per_address) {
        errors.push("max_connections_per_address must be between 1 and max_connections".into());
    }
    if m.header_timeout_secs == 0 {
        errors.push("header_timeout_secs must be at least 1".into());
    }
    if m.max_header_bytes < 1024 {
        errors.push("max_header_bytes must be at least 1024".into());
    }
    if m.idle_timeout_secs == 0 {
        errors.push("idle_timeout_secs must be at least 1".into());
    }
    if !(1..=defaults::H2_MAX_CONCURRENT_STREAMS).contains(&m.h2_max_concurrent_streams) {
        errors.push(format!(
            "h2_max_concurrent_streams must be between 1 and {}",
            defaults::H2_MAX_CONCURRENT_STREAMS
        ));
    }
    if m.h2_max_header_list_bytes < 1024 {
        errors.push("h2_max_header_list_bytes must be at least 1024".into());
    }
    if m.threads == 0 {
        errors.push("threads must be at least 1".into());
    }

    if let Some(path) = &m.device_identity {
        check_device_identity(path, &mut errors);
    }
    let mut gateway = GatewayConfig::new(m.gateway_url, auth);
    gateway.tls_roots = gateway_roots;
    gateway.connect_timeout = Duration::from_secs(m.gateway_connect_timeout_secs.max(1));
    gateway.request_timeout = Duration::from_secs(m.gateway_request_timeout_secs.max(1));
    gateway.wait_for_connection = Duration::from_secs(m.gateway_wait_secs);
    gateway.session_cleanup = m.delete_ephemeral_sessions;
    gateway.session_scoped_events = m.session_scoped_events;
    if !(1..=defaults::MAX_GATEWAY_SOCKETS).contains(&m.gateway_sockets) {
        errors.push(format!(
            "gateway.sockets must be between 1 and {}",
            defaults::MAX_GATEWAY_SOCKETS
        ));
    }
    gateway.sockets = m.gateway_sockets;

    let shared_state = state::shared_state(
        m.redis_url,
        m.state_timeout_ms,
        m.state_key_prefix,
        m.state_lease_ttl_secs,
        m.state_usage_file,
        &mut errors,
    );
    state::budgets_kept(&shared_state, &keys, &mut errors);

    if !errors.is_empty() {
        return Err(ConfigError(errors));
    }
    let admission = crate::run::admission::AdmissionSettings {
        max_limit: crate::run::admission::AdmissionSettings::default()
            .max_limit
            .min(m.max_concurrent_runs),
        max_queue_wait: Duration::from_secs(m.queue_wait_secs),
        ..Default::default()
    };
    Ok(Config {
        listen,
        tls,
        metrics_listen,
        gateway_ca_file: m.gateway_ca_file,
        upgrade_sock: m.upgrade_sock,
        pid_file: m.pid_file,
        upgrade: m.upgrade,
        gateway,
        device_identity: m.device_identity,
        gateway_http,
        api_tokens,
        keys: keys::share_run_slots(keys, admission.max_limit, m.key_run_share_percent),
        max_failed_auth: m.max_failed_auth,
        failed_auth_window: Duration::from_secs(m.failed_auth_window_secs.max(1)),
        delete_ephemeral_sessions: m.delete_ephemeral_sessions,
        client_tools: m.client_tools,
        admission,
        body: BodyLimits {
            max_bytes: m.max_body_bytes,
            timeout: Duration::from_secs(m.body_timeout_secs),
            min_bytes_per_sec: m.body_min_bytes_per_sec,
        },
        run_timeout: Duration::from_secs(m.run_timeout_secs),
        run_grace: defaults::RUN_GRACE,
        write_timeout: Duration::from_secs(m.write_timeout_secs),
        keepalive: Duration::from_secs(m.keepalive_secs),
        json_keepalive: Some(Duration::from_secs(m.json_keepalive_secs)).filter(|d| !d.is_zero()),
        max_concurrent_runs: m.max_concurrent_runs,
        max_concurrent_bodies: m.max_concurrent_bodies,
        max_concurrent_bodies_per_client: m.max_concurrent_bodies_per_client,
        max_run_bytes_in_flight: m.max_run_bytes_in_flight,
        threads: m.threads,
        grace_period: Duration::from_secs(m.grace_period_secs),
        passthrough: m.passthrough,
        passthrough_allow,
        connections: ConnectionLimits {
            max_connections: m.max_connections,
            max_connections_per_address: m.max_connections_per_address,
            header: HeaderLimits {
                timeout: Duration::from_secs(m.header_timeout_secs),
                max_bytes: m.max_header_bytes,
            },
            idle_timeout: Duration::from_secs(m.idle_timeout_secs),
            h2_max_concurrent_streams: m.h2_max_concurrent_streams,
            h2_max_pending_accept_reset_streams: m.h2_max_pending_accept_reset_streams,
            h2_max_header_list_bytes: m.h2_max_header_list_bytes,
        },
        forwarded_headers: m.forwarded_headers,
        trusted_proxies,
        warnings,
        log_format: m.log_format,
        progress: m.progress,
        traces,
        gateway_discovered_from: m.discovered_from,
        images: ImageFetchConfig {
            allow_urls: m.images_allow_urls,
            max_bytes: m.images_max_url_bytes,
            timeout: Duration::from_secs(m.images_fetch_timeout_secs.max(1)),
        },
        shared_state,
    })
}

/// An existing identity file must load (readable only by its owner, parseable). A missing one
/// is fine: start-up creates it. A path through a plain file fails to read (`ENOTDIR`) and is
/// reported here too. Nothing is created.
fn check_device_identity(path: &Path, errors: &mut Vec<String>) {
    if let Err(e) = DeviceIdentity::load(path) {
        errors.push(e.to_string());
    }
}

/// `ws://host:port/...` -> (`host:port`, tls?) for HTTP passthrough to the same gateway.
fn parse_ws_url(url: &str) -> Result<(String, bool), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else {
        return Err(format!("`{url}` must start with ws:// or wss://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{url}` has no usable host"));
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority.ends_with(']') && authority[i + 1..].parse::<u16>().is_ok(),
        None => false,
    };
    let hostport = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok((hostport, tls))
}
