//! Precedence, in one place: for every setting the flag (or its `CLAWSHIM_*` variable; clap
//! already made the flag win over the environment) wins over the file, and the file over the
//! default from [`super::defaults`]. Both [`Settings`] and [`FileConfig`] are destructured, so
//! a new flag or file key that is not merged here does not compile. Below them all, for the
//! gateway URL, credential and CA only, comes the local gateway's own config
//! ([`super::discover`]), read only when no gateway credential is set anywhere. Its credential
//! is used only for the gateway it describes: with an explicit URL of another gateway it is
//! left out. Nothing is checked here: [`super::validate`] turns the result into a
//! [`super::Config`].

use std::path::PathBuf;

use super::cli::{ListenerSettings, Settings, TraceFlags};
use super::defaults;
use super::discover::{self, LocalAuth, LocalGateway};
use super::file::{
    AuthSection, FileConfig, GatewaySection, ImagesSection, KeyEntry, LimitsSection,
    PassthroughSection, ServerSection, StateSection, TlsSection, TracesSection,
};
use clawshim_core::gateway::{ProgressLevel, SessionCleanup};

use crate::front_door::passthrough::ForwardedHeaders;
use crate::ops::telemetry::LogFormat;

/// Every setting after precedence and defaults, as written (addresses, URLs and secrets still
/// strings).
#[derive(Debug)]
pub struct Merged {
    /// Plain listener address, or `off`.
    pub listen: String,
    /// HTTPS listener address, or `off`.
    pub tls_listen: Option<String>,
    /// HTTPS certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// HTTPS private key.
    pub tls_key: Option<PathBuf>,
    /// Metrics listener address, or `off`.
    pub metrics_listen: Option<String>,
    /// CA bundle for a `wss://` gateway.
    pub gateway_ca_file: Option<PathBuf>,
    /// Graceful-upgrade socket.
    pub upgrade_sock: PathBuf,
    /// Process id file.
    pub pid_file: Option<PathBuf>,
    /// Take over a running process's sockets.
    pub upgrade: bool,
    /// Gateway WebSocket URL.
    pub gateway_url: String,
    /// Gateway token (may be empty: then unset).
    pub gateway_token: Option<String>,
    /// Gateway password (may be empty: then unset).
    pub gateway_password: Option<String>,
    /// Device identity file.
    pub device_identity: Option<PathBuf>,
    /// Accepted client tokens; `None`: the gateway's token or password.
    pub api_tokens: Option<Vec<String>>,
    /// Gateway connect + handshake limit, seconds.
    pub gateway_connect_timeout_secs: u64,
    /// Gateway call limit, seconds.
    pub gateway_request_timeout_secs: u64,
    /// Wait for the gateway connection, seconds.
    pub gateway_wait_secs: u64,
    /// Delete per-request sessions after their run.
    pub delete_ephemeral_sessions: SessionCleanup,
    /// Requests' own function tools.
    pub client_tools: crate::run::client_tools::mode::ClientToolsMode,
    /// Follow only our own runs' sessions on protocol 4.
    pub session_scoped_events: bool,
    /// WebSocket connections kept to the gateway.
    pub gateway_sockets: usize,
    /// Failed auth attempts per client IP before 429.
    pub max_failed_auth: u32,
    /// Window of that count, seconds.
    pub failed_auth_window_secs: u64,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Run timeout, seconds.
    pub run_timeout_secs: u64,
    /// Client write timeout, seconds.
    pub write_timeout_secs: u64,
    /// SSE keep-alive interval, seconds.
    pub keepalive_secs: u64,
    /// Non-stream keep-alive interval, seconds (0 = off).
    pub json_keepalive_secs: u64,
    /// Runs in flight at once.
    pub max_concurrent_runs: usize,
    /// Request bodies read and parsed at once.
    pub max_concurrent_bodies: usize,
    /// Of those, for one API key and for one client address.
    pub max_concurrent_bodies_per_client: usize,
    /// Whole request body deadline, seconds.
    pub body_timeout_secs: u64,
    /// Slowest average body rate, bytes per second (0: none).
    pub body_min_bytes_per_sec: u64,
    /// Default run share of a key, percent.
    pub key_run_share_percent: u8,
    /// Bytes of run requests held until accepted.
    pub max_run_bytes_in_flight: u64,
    /// Longest wait in the run queue, seconds.
    pub queue_wait_secs: u64,
    /// Worker threads.
    pub threads: usize,
    /// Grace period after SIGTERM, seconds.
    pub grace_period_secs: u64,
    /// Proxy other paths to the gateway.
    pub passthrough: bool,
    /// Path prefixes passed through, as written.
    pub passthrough_allow: Vec<String>,
    /// Open client connections at once.
    pub max_connections: usize,
    /// Open client connections at once from one address.
    pub max_connections_per_address: usize,
    /// Request header deadline, seconds.
    pub header_timeout_secs: u64,
    /// Largest request header, bytes.
    pub max_header_bytes: usize,
    /// Idle connection timeout, seconds.
    pub idle_timeout_secs: u64,
    /// HTTP/2 streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 pending-accept reset streams per connection.
    pub h2_max_pending_accept_reset_streams: usize,
    /// Largest HTTP/2 header list, bytes.
    pub h2_max_header_list_bytes: u32,
    /// Passthrough client attribution.
    pub forwarded_headers: ForwardedHeaders,
    /// Trusted proxies, as written (none by default).
    pub trusted_proxies: Vec<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// The agent's work in responses.
    pub progress: ProgressLevel,
    /// `[[keys]]` (file only).
    pub keys: Vec<KeyEntry>,
    /// The local gateway config file whose URL or credential was used.
    pub discovered_from: Option<PathBuf>,
    /// Fetch remote image URLs (file only).
    pub images_allow_urls: bool,
    /// Largest fetched image, bytes (file only).
    pub images_max_url_bytes: u64,
    /// One image fetch, seconds (file only).
    pub images_fetch_timeout_secs: u64,
    /// Redis URL (none: per-instance state).
    pub redis_url: Option<String>,
    /// One Redis operation, milliseconds.
    pub state_timeout_ms: u64,
    /// Redis key prefix (file only).
    pub state_key_prefix: String,
    /// Lease time to live, seconds (file only).
    pub state_lease_ttl_secs: u64,
    /// Token usage file without Redis (file only).
    pub state_usage_file: Option<PathBuf>,
    /// Trace export settings, as written.
    pub traces: MergedTraces,
}

/// `[traces]` after precedence, as written (checked by [`super::validate`]).
#[derive(Debug)]
pub struct MergedTraces {
    /// Collector base URL.
    pub endpoint: Option<String>,
    /// Full traces URL.
    pub traces_endpoint: Option<String>,
    /// `name=value,...` headers (values may be secrets: never logged).
    pub headers: Option<String>,
    /// Transport.
    pub protocol: String,
    /// `service.name`.
    pub service_name: String,
    /// Sampler name.
    pub sampler: String,
    /// Sampler argument.
    pub sampler_arg: Option<String>,
}

/// Whether flags, env or the file set a gateway credential (even an empty one, which
/// explicitly unsets it): then the local gateway's config is not consulted.
pub fn has_explicit_credential(settings: &Settings, file: &FileConfig) -> bool {
    settings.gateway_token.is_some()
        || settings.gateway_password.is_some()
        || file.gateway.token.is_some()
        || file.gateway.password.is_some()
}

/// Apply flags/env over the file over the defaults; `local` (the local gateway's config) only
/// fills the gateway URL, credential and CA that nothing else set.
pub fn merge(settings: &Settings, file: FileConfig, local: Option<&LocalGateway>) -> Merged {
    let Settings {
        config: _,
        listen,
        gateway_url,
        gateway_token,
        gateway_password,
        device_identity,
        api_tokens,
        gateway_connect_timeout_secs,
        gateway_request_timeout_secs,
        gateway_wait_secs,
        delete_ephemeral_sessions,
        client_tools,
        session_scoped_events,
        gateway_sockets,
        redis_url,
        state_timeout_ms,
        max_failed_auth,
        failed_auth_window_secs,
        max_body_bytes,
        run_timeout_secs,
        write_timeout_secs,
        keepalive_secs,
        json_keepalive_secs,
        max_concurrent_runs,
        max_concurrent_bodies,
        max_concurrent_bodies_per_client,
        body_timeout_secs,
        body_min_bytes_per_sec,
        key_run_share_percent,
        max_run_bytes_in_flight,
        queue_wait_secs,
        threads,
        grace_period_secs,
        passthrough,
        passthrough_allow,
        max_connections,
        max_connections_per_address,
        header_timeout_secs,
        max_header_bytes,
        idle_timeout_secs,
        h2_max_concurrent_streams,
        h2_max_pending_accept_reset_streams,
        h2_max_header_list_bytes,
        forwarded_headers,
        trusted_proxies,
        log_format,
        progress,
        listeners:
            ListenerSettings {
                tls_listen,
                tls_cert,
                tls_key,
                metrics_listen,
                gateway_ca_file,
                upgrade_sock,
                pid_file,
                upgrade,
            },
        traces:
            TraceFlags {
                otlp_endpoint,
                otlp_traces_endpoint,
                otlp_headers,
                otlp_protocol,
                otel_service_name,
                otel_traces_sampler,
                otel_traces_sampler_arg,
            },
    } = settings.clone();
    let FileConfig {
        listen: file_listen,
        gateway:
            GatewaySection {
                url,
                token,
                password,
                connect_timeout_secs,
                request_timeout_secs,
                wait_secs,
                delete_ephemeral_sessions: file_delete_ephemeral_sessions,
                client_tools: file_client_tools,
                session_scoped_events: file_session_scoped_events,
                sockets,
                ca_file,
                device_identity: file_device_identity,
            },
        auth:
            AuthSection {
                tokens,
                max_failed_attempts,
                failed_window_secs,
            },
        limits:
            LimitsSection {
                max_body_bytes: file_max_body_bytes,
                run_timeout_secs: file_run_timeout_secs,
                write_timeout_secs: file_write_timeout_secs,
                keepalive_secs: file_keepalive_secs,
                json_keepalive_secs: file_json_keepalive_secs,
                max_concurrent_runs: file_max_concurrent_runs,
                max_connections: file_max_connections,
                max_connections_per_address: file_max_connections_per_address,
                header_timeout_secs: file_header_timeout_secs,
                max_header_bytes: file_max_header_bytes,
                idle_timeout_secs: file_idle_timeout_secs,
                h2_max_concurrent_streams: file_h2_max_concurrent_streams,
                h2_max_pending_accept_reset_streams: file_h2_max_pending_accept_reset_streams,
                h2_max_header_list_bytes: file_h2_max_header_list_bytes,
                max_concurrent_bodies: file_max_concurrent_bodies,
                max_concurrent_bodies_per_client: file_max_concurrent_bodies_per_client,
                body_timeout_secs: file_body_timeout_secs,
                body_min_bytes_per_sec: file_body_min_bytes_per_sec,
                key_run_share_percent: file_key_run_share_percent,
                max_run_bytes_in_flight: file_max_run_bytes_in_flight,
                queue_wait_secs: file_queue_wait_secs,
            },
        server:
            ServerSection {
                threads: file_threads,
                grace_period_secs: file_grace_period_secs,
                passthrough: file_passthrough,
                forwarded_headers: file_forwarded_headers,
                trusted_proxies: file_trusted_proxies,
                log_format: file_log_format,
                progress: file_progress,
                metrics_listen: file_metrics_listen,
                upgrade_sock: file_upgrade_sock,
                pid_file: file_pid_file,
            },
        tls:
            TlsSection {
                listen: file_tls_listen,
                cert,
                key,
            },
        passthrough: PassthroughSection { allow },
        images:
            ImagesSection {
                allow_urls,
                max_url_bytes,
                fetch_timeout_secs,
            },
        state:
            StateSection {
                redis_url: file_redis_url,
                timeout_ms: file_state_timeout_ms,
                key_prefix,
                lease_ttl_secs,
                usage_file,
            },
        keys,
        traces:
            TracesSection {
                endpoint: file_otlp_endpoint,
                traces_endpoint: file_otlp_traces_endpoint,
                headers: file_otlp_headers,
                protocol: file_otlp_protocol,
                service_name: file_service_name,
                sampler: file_sampler,
                sampler_arg: file_sampler_arg,
            },
    } = file;

    let explicit_url = gateway_url.or(url);
    let explicit_ca = gateway_ca_file.or(ca_file);
    let explicit_auth = gateway_token.is_some()
        || gateway_password.is_some()
        || token.is_some()
        || password.is_some();
    // The local gateway's credential only for that gateway, and only when none is set.
    let local = local.filter(|l| {
        !explicit_auth
            && explicit_url
                .as_deref()
                .is_none_or(|u| discover::same_gateway(u, l))
    });
    let (local_token, local_password) = match local.and_then(|l| l.auth.clone()) {
        Some(LocalAuth::Token(t)) => (Some(t), None),
        Some(LocalAuth::Password(p)) => (None, Some(p)),
        None => (None, None),
    };
    let local_ca = local
        .filter(|_| explicit_url.is_none())
        .and_then(|l| l.ca_file.clone());
    // Shares default to a part of their whole, as merged.
    let max_connections = max_connections
        .or(file_max_connections)
        .unwrap_or(defaults::MAX_CONNECTIONS);
    let max_concurrent_bodies = max_concurrent_bodies
        .or(file_max_concurrent_bodies)
        .unwrap_or_else(defaults::max_concurrent_bodies);
    Merged {
        listen: listen
            .or(file_listen)
            .unwrap_or_else(|| defaults::LISTEN.into()),
        tls_listen: tls_listen.or(file_tls_listen),
        tls_cert: tls_cert.or(cert),
        tls_key: tls_key.or(key),
        metrics_listen: metrics_listen.or(file_metrics_listen),
        gateway_ca_file: explicit_ca.or(local_ca),
        upgrade_sock: upgrade_sock
            .or(file_upgrade_sock)
            .unwrap_or_else(defaults::upgrade_sock),
        pid_file: pid_file.or(file_pid_file),
        // A flag only: an upgrade is one start, not a setting.
        upgrade,
        gateway_url: explicit_url
            .or_else(|| local.map(|l| l.url.clone()))
            .unwrap_or_else(|| defaults::GATEWAY_URL.into()),
        gateway_token: gateway_token.or(token).or(local_token),
        gateway_password: gateway_password.or(password).or(local_password),
        device_identity: device_identity.or(file_device_identity),
        api_tokens: api_tokens.or(tokens),
        gateway_connect_timeout_secs: gateway_connect_timeout_secs
            .or(connect_timeout_secs)
            .unwrap_or(defaults::GATEWAY_CONNECT_TIMEOUT_SECS),
        gateway_request_timeout_secs: gateway_request_timeout_secs
            .or(request_timeout_secs)
            .unwrap_or(defaults::GATEWAY_REQUEST_TIMEOUT_SECS),
        gateway_wait_secs: gateway_wait_secs
            .or(wait_secs)
            .unwrap_or(defaults::GATEWAY_WAIT_SECS),
        session_scoped_events: session_scoped_events
            .or(file_session_scoped_events)
            .unwrap_or(defaults::SESSION_SCOPED_EVENTS),
        gateway_sockets: gateway_sockets
            .or(sockets)
            .unwrap_or(clawshim_core::gateway::DEFAULT_SOCKETS),
        delete_ephemeral_sessions: delete_ephemeral_sessions
            .or(file_delete_ephemeral_sessions)
            .unwrap_or(defaults::DELETE_EPHEMERAL_SESSIONS),
        // `auto` (the type's default, beside the code it configures).
        client_tools: client_tools.or(file_client_tools).unwrap_or_default(),
        max_failed_auth: max_failed_auth
            .or(max_failed_attempts)
            .unwrap_or(defaults::MAX_FAILED_AUTH),
        failed_auth_window_secs: failed_auth_window_secs
            .or(failed_window_secs)
            .unwrap_or(defaults::FAILED_AUTH_WINDOW_SECS),
        max_body_bytes: max_body_bytes
            .or(file_max_body_bytes)
            .unwrap_or(defaults::MAX_BODY_BYTES),
        run_timeout_secs: run_timeout_secs
            .or(file_run_timeout_secs)
            .unwrap_or(defaults::RUN_TIMEOUT_SECS),
        write_timeout_secs: write_timeout_secs
            .or(file_write_timeout_secs)
            .unwrap_or(defaults::WRITE_TIMEOUT_SECS),
        keepalive_secs: keepalive_secs
            .or(file_keepalive_secs)
            .unwrap_or(defaults::KEEPALIVE_SECS),
        json_keepalive_secs: json_keepalive_secs
            .or(file_json_keepalive_secs)
            .unwrap_or(defaults::JSON_KEEPALIVE_SECS),
        max_concurrent_runs: max_concurrent_runs
            .or(file_max_concurrent_runs)
            .unwrap_or(defaults::MAX_CONCURRENT_RUNS),
        max_concurrent_bodies,
        max_concurrent_bodies_per_client: max_concurrent_bodies_per_client
            .or(file_max_concurrent_bodies_per_client)
            .unwrap_or_else(|| defaults::max_concurrent_bodies_per_client(max_concurrent_bodies)),
        body_timeout_secs: body_timeout_secs
            .or(file_body_timeout_secs)
            .unwrap_or(defaults::BODY_TIMEOUT_SECS),
        body_min_bytes_per_sec: body_min_bytes_per_sec
            .or(file_body_min_bytes_per_sec)
            .unwrap_or(defaults::BODY_MIN_BYTES_PER_SEC),
        key_run_share_percent: key_run_share_percent
            .or(file_key_run_share_percent)
            .unwrap_or(defaults::KEY_RUN_SHARE_PERCENT),
        max_run_bytes_in_flight: max_run_bytes_in_flight
            .or(file_max_run_bytes_in_flight)
            .unwrap_or(defaults::MAX_RUN_BYTES_IN_FLIGHT),
        queue_wait_secs: queue_wait_secs
            .or(file_queue_wait_secs)
            .unwrap_or(defaults::QUEUE_WAIT_SECS),
        threads: threads.or(file_threads).unwrap_or_else(defaults::threads),
        grace_period_secs: grace_period_secs
            .or(file_grace_period_secs)
            .unwrap_or(defaults::GRACE_PERIOD_SECS),
        passthrough: passthrough
            .or(file_passthrough)
            .unwrap_or(defaults::PASSTHROUGH),
        passthrough_allow: passthrough_allow
            .or(allow)
            .unwrap_or_else(defaults::passthrough_allow),
        max_connections,
        max_connections_per_address: max_connections_per_address
            .or(file_max_connections_per_address)
            .unwrap_or_else(|| defaults::max_connections_per_address(max_connections)),
        header_timeout_secs: header_timeout_secs
            .or(file_header_timeout_secs)
            .unwrap_or(defaults::HEADER_TIMEOUT_SECS),
        max_header_bytes: max_header_bytes
            .or(file_max_header_bytes)
            .unwrap_or(defaults::MAX_HEADER_BYTES),
        idle_timeout_secs: idle_timeout_secs
            .or(file_idle_timeout_secs)
            .unwrap_or(defaults::IDLE_TIMEOUT_SECS),
        h2_max_concurrent_streams: h2_max_concurrent_streams
            .or(file_h2_max_concurrent_streams)
            .unwrap_or(defaults::H2_MAX_CONCURRENT_STREAMS),
        h2_max_pending_accept_reset_streams: h2_max_pending_accept_reset_streams
            .or(file_h2_max_pending_accept_reset_streams)
            .unwrap_or(defaults::H2_MAX_PENDING_ACCEPT_RESET_STREAMS),
        h2_max_header_list_bytes: h2_max_header_list_bytes
            .or(file_h2_max_header_list_bytes)
            .unwrap_or(defaults::H2_MAX_HEADER_LIST_BYTES),
        forwarded_headers: forwarded_headers
            .or(file_forwarded_headers)
            .unwrap_or(defaults::FORWARDED_HEADERS),
        trusted_proxies: trusted_proxies.or(file_trusted_proxies).unwrap_or_default(),
        log_format: log_format
            .or(file_log_format)
            .unwrap_or(defaults::LOG_FORMAT),
        progress: progress.or(file_progress).unwrap_or(defaults::PROGRESS),
        keys,
        discovered_from: local.map(|l| l.path.clone()),
        images_allow_urls: allow_urls.unwrap_or(defaults::IMAGES_ALLOW_URLS),
        images_max_url_bytes: max_url_bytes.unwrap_or(defaults::IMAGES_MAX_URL_BYTES),
        images_fetch_timeout_secs: fetch_timeout_secs
            .unwrap_or(defaults::IMAGES_FETCH_TIMEOUT_SECS),
        redis_url: redis_url.or(file_redis_url),
        state_timeout_ms: state_timeout_ms
            .or(file_state_timeout_ms)
            .unwrap_or(defaults::STATE_TIMEOUT_MS),
        state_key_prefix: key_prefix.unwrap_or_else(|| defaults::STATE_KEY_PREFIX.to_string()),
        state_lease_ttl_secs: lease_ttl_secs.unwrap_or(defaults::STATE_LEASE_TTL_SECS),
        state_usage_file: usage_file,
        traces: MergedTraces {
            endpoint: otlp_endpoint.or(file_otlp_endpoint),
            traces_endpoint: otlp_traces_endpoint.or(file_otlp_traces_endpoint),
            headers: otlp_headers.or(file_otlp_headers),
            protocol: otlp_protocol
                .or(file_otlp_protocol)
                .unwrap_or_else(|| defaults::OTLP_PROTOCOL.into()),
            service_name: otel_service_name
                .or(file_service_name)
                .unwrap_or_else(|| defaults::OTEL_SERVICE_NAME.into()),
            sampler: otel_traces_sampler
                .or(file_sampler)
                .unwrap_or_else(|| defaults::OTEL_TRACES_SAMPLER.into()),
            sampler_arg: otel_traces_sampler_arg.or(file_sampler_arg),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let settings = Settings {
            listen: Some("127.0.0.1:2222".into()),
            log_format: Some(LogFormat::Json),
            ..Settings::default()
        };
        let m = merge(
            &settings,
            file("listen = \"127.0.0.1:1111\"\n[server]\nlog_format = \"text\"\nforwarded_headers = \"strip\"\n"),
            None,
        );
        assert_eq!(m.listen, "127.0.0.1:2222");
        assert_eq!(m.log_format, LogFormat::Json);
        assert_eq!(m.forwarded_headers, ForwardedHeaders::Strip);
        assert_eq!(m.gateway_url, defaults::GATEWAY_URL);
        assert_eq!(m.run_timeout_secs, defaults::RUN_TIMEOUT_SECS);
    }

    #[test]
    fn an_empty_flag_still_wins_over_the_file() {
        // Precedence first, then validation drops the empty token: an empty
        // CLAWSHIM_GATEWAY_TOKEN unsets the file's token rather than falling back to it.
        let settings = Settings {
            gateway_token: Some(String::new()),
            ..Settings::default()
        };
        let m = merge(&settings, file("[gateway]\ntoken = \"from-file\"\n"), None);
        assert_eq!(m.gateway_token.as_deref(), Some(""));
    }

    #[test]
    fn listener_flags_are_merged() {
        let mut settings = Settings::default();
        settings.listeners.tls_cert = Some("/flag/cert.pem".into());
        let m = merge(
            &settings,
            file("[tls]\ncert = \"/file/cert.pem\"\nkey = \"/file/key.pem\"\n"),
            None,
        );
        assert_eq!(m.tls_cert, Some(PathBuf::from("/flag/cert.pem")));
        assert_eq!(m.tls_key, Some(PathBuf::from("/file/key.pem")));
        assert_eq!(m.upgrade_sock, defaults::upgrade_sock());
        assert!(m.trusted_proxies.is_empty());
    }

    fn local() -> LocalGateway {
        let env = NoEnv;
        discover::read(
            std::path::Path::new("/home/u/.openclaw/openclaw.json"),
            "{gateway:{port:19000,auth:{token:'local-token'}}}",
            &env,
        )
        .unwrap()
    }

    struct NoEnv;

    impl discover::Environment for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn the_local_gateway_is_the_lowest_source() {
        let l = local();
        let m = merge(&Settings::default(), FileConfig::default(), Some(&l));
        assert_eq!(m.gateway_url, "ws://127.0.0.1:19000");
        assert_eq!(m.gateway_token.as_deref(), Some("local-token"));
        assert_eq!(m.discovered_from, Some(l.path.clone()));

        // An explicit credential wins, and the local file is then not used at all.
        let m = merge(
            &Settings::default(),
            file("[gateway]\npassword = \"p\"\n"),
            Some(&l),
        );
        assert_eq!(m.gateway_url, defaults::GATEWAY_URL);
        assert_eq!(m.gateway_token, None);
        assert_eq!(m.discovered_from, None);
    }

    #[test]
    fn the_local_credential_only_goes_to_its_own_gateway() {
        let l = local();
        let same = Settings {
            gateway_url: Some("ws://localhost:19000/".into()),
            ..Settings::default()
        };
        let m = merge(&same, FileConfig::default(), Some(&l));
        assert_eq!(m.gateway_url, "ws://localhost:19000/");
        assert_eq!(m.gateway_token.as_deref(), Some("local-token"));
        let other = Settings {
            gateway_url: Some("wss://gw.example:443".into()),
            ..Settings::default()
        };
        let m = merge(&other, FileConfig::default(), Some(&l));
        assert_eq!(m.gateway_token, None);
        assert_eq!(m.discovered_from, None);
    }
}
