//! Precedence, in one place: for every setting the flag (or its `CLAWSHIM_*` variable; clap
//! already made the flag win over the environment) wins over the file, and the file over the
//! default from [`super::defaults`]. Both [`Settings`] and [`FileConfig`] are destructured, so
//! a new flag or file key that is not merged here does not compile. Nothing is checked here:
//! [`super::validate`] turns the result into a [`super::Config`].

use std::path::PathBuf;

use super::cli::{ListenerSettings, Settings};
use super::defaults;
use super::file::{
    AuthSection, FileConfig, GatewaySection, KeyEntry, LimitsSection, ServerSection, TlsSection,
};
use clawshim_core::gateway::SessionCleanup;

use crate::passthrough::ForwardedHeaders;
use crate::telemetry::LogFormat;

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
    /// Follow only our own runs' sessions on protocol 4.
    pub session_scoped_events: bool,
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
    /// Runs in flight at once.
    pub max_concurrent_runs: usize,
    /// Worker threads.
    pub threads: usize,
    /// Grace period after SIGTERM, seconds.
    pub grace_period_secs: u64,
    /// Proxy other paths to the gateway.
    pub passthrough: bool,
    /// Passthrough client attribution.
    pub forwarded_headers: ForwardedHeaders,
    /// Log format.
    pub log_format: LogFormat,
    /// `[[keys]]` (file only).
    pub keys: Vec<KeyEntry>,
}

/// Apply flags/env over the file over the defaults.
pub fn merge(settings: &Settings, file: FileConfig) -> Merged {
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
        session_scoped_events,
        max_failed_auth,
        failed_auth_window_secs,
        max_body_bytes,
        run_timeout_secs,
        write_timeout_secs,
        keepalive_secs,
        max_concurrent_runs,
        threads,
        grace_period_secs,
        passthrough,
        forwarded_headers,
        log_format,
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
                session_scoped_events: file_session_scoped_events,
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
                max_concurrent_runs: file_max_concurrent_runs,
            },
        server:
            ServerSection {
                threads: file_threads,
                grace_period_secs: file_grace_period_secs,
                passthrough: file_passthrough,
                forwarded_headers: file_forwarded_headers,
                log_format: file_log_format,
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
        keys,
    } = file;

    Merged {
        listen: listen
            .or(file_listen)
            .unwrap_or_else(|| defaults::LISTEN.into()),
        tls_listen: tls_listen.or(file_tls_listen),
        tls_cert: tls_cert.or(cert),
        tls_key: tls_key.or(key),
        metrics_listen: metrics_listen.or(file_metrics_listen),
        gateway_ca_file: gateway_ca_file.or(ca_file),
        upgrade_sock: upgrade_sock
            .or(file_upgrade_sock)
            .unwrap_or_else(defaults::upgrade_sock),
        pid_file: pid_file.or(file_pid_file),
        // A flag only: an upgrade is one start, not a setting.
        upgrade,
        gateway_url: gateway_url
            .or(url)
            .unwrap_or_else(|| defaults::GATEWAY_URL.into()),
        gateway_token: gateway_token.or(token),
        gateway_password: gateway_password.or(password),
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
        delete_ephemeral_sessions: delete_ephemeral_sessions
            .or(file_delete_ephemeral_sessions)
            .unwrap_or(defaults::DELETE_EPHEMERAL_SESSIONS),
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
        max_concurrent_runs: max_concurrent_runs
            .or(file_max_concurrent_runs)
            .unwrap_or(defaults::MAX_CONCURRENT_RUNS),
        threads: threads.or(file_threads).unwrap_or_else(defaults::threads),
        grace_period_secs: grace_period_secs
            .or(file_grace_period_secs)
            .unwrap_or(defaults::GRACE_PERIOD_SECS),
        passthrough: passthrough
            .or(file_passthrough)
            .unwrap_or(defaults::PASSTHROUGH),
        forwarded_headers: forwarded_headers
            .or(file_forwarded_headers)
            .unwrap_or(defaults::FORWARDED_HEADERS),
        log_format: log_format
            .or(file_log_format)
            .unwrap_or(defaults::LOG_FORMAT),
        keys,
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
        let m = merge(&settings, file("[gateway]\ntoken = \"from-file\"\n"));
        assert_eq!(m.gateway_token.as_deref(), Some(""));
    }

    #[test]
    fn listener_flags_are_merged() {
        let mut settings = Settings::default();
        settings.listeners.tls_cert = Some("/flag/cert.pem".into());
        let m = merge(
            &settings,
            file("[tls]\ncert = \"/file/cert.pem\"\nkey = \"/file/key.pem\"\n"),
        );
        assert_eq!(m.tls_cert, Some(PathBuf::from("/flag/cert.pem")));
        assert_eq!(m.tls_key, Some(PathBuf::from("/file/key.pem")));
        assert_eq!(m.upgrade_sock, PathBuf::from(defaults::UPGRADE_SOCK));
    }
}
