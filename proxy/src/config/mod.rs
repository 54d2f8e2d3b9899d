//! The validated configuration: built once at start-up from the file, the environment and
//! flags (flags > env > file > defaults), every problem reported together.

pub mod cli;
pub mod file;
pub mod listeners;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clawshim_core::gateway::client::{GatewayAuth, Secret};
use clawshim_core::gateway::GatewayConfig;

pub use cli::{Cli, Command, GenKey, Settings};

use crate::keys::KeySpec;
use crate::passthrough::ForwardedHeaders;
use file::FileConfig;

/// Default gateway URL: the gateway's default port on this host.
pub const DEFAULT_GATEWAY_URL: &str = "ws://127.0.0.1:18789";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything clawshim needs, parsed and checked.
#[derive(Clone)]
pub struct Config {
    /// Plain HTTP listener; `None` when `listen = "off"` (HTTPS only).
    pub listen: Option<SocketAddr>,
    /// HTTPS listener.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Prometheus metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// CA bundle for a `wss://` gateway (WebSocket and passthrough); `None`: system roots.
    pub gateway_ca_file: Option<std::path::PathBuf>,
    /// Graceful-upgrade socket (pingora's `upgrade_sock`).
    pub upgrade_sock: std::path::PathBuf,
    /// Process id file written once serving.
    pub pid_file: Option<std::path::PathBuf>,
    /// Take over a running process's listening sockets (`--upgrade`).
    pub upgrade: bool,
    /// The gateway connection.
    pub gateway: GatewayConfig,
    /// `host:port` of the gateway for HTTP passthrough, and whether it uses TLS.
    pub gateway_http: (String, bool),
    /// Accepted client bearer tokens.
    pub api_tokens: Vec<Secret>,
    /// clawshim's own API keys.
    pub keys: Vec<KeySpec>,
    /// Failed auth attempts per client IP within `failed_auth_window` before 429 (0 = off).
    pub max_failed_auth: u32,
    /// Window for `max_failed_auth`.
    pub failed_auth_window: Duration,
    /// Delete per-request sessions after their run.
    pub delete_ephemeral_sessions: bool,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Run timeout passed to the gateway; the local deadline adds [`Config::run_grace`].
    pub run_timeout: Duration,
    /// Extra time the gateway gets to report its own timeout before we give up.
    pub run_grace: Duration,
    /// Per-write limit towards a client.
    pub write_timeout: Duration,
    /// SSE keep-alive interval.
    pub keepalive: Duration,
    /// Runs in flight at once.
    pub max_concurrent_runs: usize,
    /// HTTP worker threads.
    pub threads: usize,
    /// Grace period after SIGTERM.
    pub grace_period: Duration,
    /// Proxy other paths to the gateway.
    pub passthrough: bool,
    /// Client attribution on passthrough requests.
    pub forwarded_headers: ForwardedHeaders,
    /// Log format.
    pub log_format: LogFormat,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach a log line: only their count.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("metrics_listen", &self.metrics_listen)
            .field("gateway_ca_file", &self.gateway_ca_file)
            .field("gateway_url", &self.gateway.url)
            .field(
                "device_id",
                &self.gateway.device.as_ref().map(|d| d.device_id()),
            )
            .field(
                "gateway_auth",
                &match self.gateway.auth {
                    GatewayAuth::Token(_) => "token",
                    GatewayAuth::Password(_) => "password",
                    GatewayAuth::None => "none",
                },
            )
            .field("api_tokens", &self.api_tokens.len())
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("run_timeout", &self.run_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("keepalive", &self.keepalive)
            .field("max_concurrent_runs", &self.max_concurrent_runs)
            .field("threads", &self.threads)
            .field("grace_period", &self.grace_period)
            .field("passthrough", &self.passthrough)
            .finish()
    }
}

/// Every problem found in the configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Load from the settings (flags/env) and the file they name, if any.
    pub fn load(settings: &Settings) -> Result<Config, ConfigError> {
        let file = match &settings.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::from_parts(settings, file)
    }

    /// Merge `settings` over `file` and validate.
    pub fn from_parts(settings: &Settings, file: FileConfig) -> Result<Config, ConfigError> {
        // Destructured so that a new setting that is not merged here does not compile.
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
            listeners,
        } = settings;
        let mut errors = Vec::new();

        let url =
            pick(gateway_url, &file.gateway.url).unwrap_or_else(|| DEFAULT_GATEWAY_URL.into());
        let gateway_http = match parse_ws_url(&url) {
            Ok(hp) => hp,
            Err(e) => {
                errors.push(format!("gateway url: {e}"));
                ("127.0.0.1:18789".into(), false)
            }
        };
        let listeners = listeners::merge(listeners, listen, &file, gateway_http.1, &mut errors);

        let token = pick(gateway_token, &file.gateway.token).filter(|t| !t.is_empty());
        let password = pick(gateway_password, &file.gateway.password).filter(|p| !p.is_empty());
        let auth = match (token, password) {
            (Some(_), Some(_)) => {
                errors.push("gateway: set either a token or a password, not both".into());
                GatewayAuth::None
            }
            (Some(t), None) => GatewayAuth::Token(Secret::new(t)),
            (None, Some(p)) => GatewayAuth::Password(Secret::new(p)),
            (None, None) => GatewayAuth::None,
        };

        let api_tokens: Vec<Secret> = match api_tokens.clone().or(file.auth.tokens.clone()) {
            Some(list) => list
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(Secret::new)
                .collect(),
            None => match &auth {
                GatewayAuth::Token(s) | GatewayAuth::Password(s) => vec![s.clone()],
                GatewayAuth::None => Vec::new(),
            },
        };
        let keys = validate_keys(&file.keys, &mut errors);
        if api_tokens.is_empty() && keys.is_empty() {
            errors.push(
                "no accepted client token: set CLAWSHIM_GATEWAY_TOKEN (clients then use the same token) \
                 or CLAWSHIM_API_TOKENS"
                    .into(),
            );
        }

        let secs = |flag: &Option<u64>, file: Option<u64>, default: u64| {
            Duration::from_secs(flag.or(file).unwrap_or(default))
        };
        let run_timeout = secs(run_timeout_secs, file.limits.run_timeout_secs, 600);
        let write_timeout = secs(write_timeout_secs, file.limits.write_timeout_secs, 30);
        let keepalive = secs(keepalive_secs, file.limits.keepalive_secs, 15);
        let grace_period = secs(grace_period_secs, file.server.grace_period_secs, 10);
        for (name, d) in [
            ("run_timeout_secs", run_timeout),
            ("write_timeout_secs", write_timeout),
            ("keepalive_secs", keepalive),
        ] {
            if d.is_zero() {
                errors.push(format!("{name} must be at least 1"));
            }
        }
        let max_body_bytes = max_body_bytes
            .or(file.limits.max_body_bytes)
            .unwrap_or(20 << 20);
        if max_body_bytes == 0 {
            errors.push("max_body_bytes must be at least 1".into());
        }
        let max_concurrent_runs = max_concurrent_runs
            .or(file.limits.max_concurrent_runs)
            .unwrap_or(4096);
        if max_concurrent_runs == 0 {
            errors.push("max_concurrent_runs must be at least 1".into());
        }
        let threads = threads
            .or(file.server.threads)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        if threads == 0 {
            errors.push("threads must be at least 1".into());
        }
        let forwarded_headers =
            match pick(forwarded_headers, &file.server.forwarded_headers).as_deref() {
                None | Some("set") => ForwardedHeaders::Set,
                Some("strip") => ForwardedHeaders::Strip,
                Some(other) => {
                    errors.push(format!("forwarded_headers: `{other}` is not set or strip"));
                    ForwardedHeaders::Set
                }
            };
        let log_format = match pick(log_format, &file.server.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                errors.push(format!("log_format: `{other}` is not text or json"));
                LogFormat::Text
            }
        };

        let mut gateway = GatewayConfig::new(url, auth);
        gateway.tls_roots = listeners.gateway_roots.clone();
        // Loaded (or created) here so that an unusable key file is a start-up error.
        if let Some(path) = device_identity
            .as_ref()
            .or(file.gateway.device_identity.as_ref())
        {
            match clawshim_core::gateway::device::DeviceIdentity::load_or_create(path) {
                Ok(identity) => gateway.device = Some(std::sync::Arc::new(identity)),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if let Some(s) = gateway_connect_timeout_secs.or(file.gateway.connect_timeout_secs) {
            gateway.connect_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = gateway_request_timeout_secs.or(file.gateway.request_timeout_secs) {
            gateway.request_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = gateway_wait_secs.or(file.gateway.wait_secs) {
            gateway.wait_for_connection = Duration::from_secs(s);
        }
        let delete_ephemeral_sessions = delete_ephemeral_sessions
            .or(file.gateway.delete_ephemeral_sessions)
            .unwrap_or(false);
        gateway.admin_scope = delete_ephemeral_sessions;

        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Config {
            listen: listeners.plain,
            tls: listeners.tls,
            metrics_listen: listeners.metrics,
            gateway_ca_file: listeners.gateway_ca_file,
            upgrade_sock: listeners.upgrade_sock,
            pid_file: listeners.pid_file,
            upgrade: listeners.upgrade,
            gateway,
            gateway_http,
            api_tokens,
            keys,
            max_failed_auth: max_failed_auth
                .or(file.auth.max_failed_attempts)
                .unwrap_or(10),
            failed_auth_window: Duration::from_secs(
                failed_auth_window_secs
                    .or(file.auth.failed_window_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
            delete_ephemeral_sessions,
            max_body_bytes,
            run_timeout,
            run_grace: Duration::from_secs(30),
            write_timeout,
            keepalive,
            max_concurrent_runs,
            threads,
            grace_period,
            passthrough: passthrough.or(file.server.passthrough).unwrap_or(true),
            forwarded_headers,
            log_format,
        })
    }
}

/// Check every `[[keys]]` entry; problems go to `errors`.
fn validate_keys(entries: &[file::KeyEntry], errors: &mut Vec<String>) -> Vec<KeySpec> {
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, k) in entries.iter().enumerate() {
        let at = format!("keys[{i}] ({})", k.name);
        if k.name.trim().is_empty() {
            errors.push(format!("keys[{i}]: name must not be empty"));
        } else if !names.insert(k.name.clone()) {
            errors.push(format!("{at}: duplicate name"));
        }
        let Some(sha256) = crate::keys::parse_sha256_hex(&k.sha256) else {
            errors.push(format!(
                "{at}: sha256 must be 64 hex digits (use `clawshim gen-key`)"
            ));
            continue;
        };
        if k.agents.as_ref().is_some_and(|a| a.is_empty()) {
            errors.push(format!(
                "{at}: agents must not be empty (omit it to allow all)"
            ));
        }
        if k.requests_per_minute == Some(0) || k.max_concurrent_runs == Some(0) {
            errors.push(format!(
                "{at}: limits must be at least 1 (omit them for no limit)"
            ));
        }
        out.push(KeySpec {
            name: k.name.clone(),
            sha256,
            agents: k.agents.as_ref().map(|a| {
                a.iter()
                    .map(|id| clawshim_core::routing::normalize_agent_id(id))
                    .collect()
            }),
            requests_per_minute: k.requests_per_minute,
            max_concurrent_runs: k.max_concurrent_runs,
            session_namespace: k
                .session_namespace
                .as_ref()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty()),
        });
    }
    out
}

fn pick(flag: &Option<String>, file: &Option<String>) -> Option<String> {
    flag.clone().or_else(|| file.clone())
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            gateway_token: Some("secret".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn defaults_accept_the_gateway_token() {
        let c = Config::from_parts(&settings(), FileConfig::default()).unwrap();
        assert_eq!(c.listen.unwrap().to_string(), DEFAULT_LISTEN);
        assert_eq!(c.gateway.url, DEFAULT_GATEWAY_URL);
        assert_eq!(c.api_tokens, vec![Secret::new("secret")]);
        assert_eq!(c.gateway_http, ("127.0.0.1:18789".to_string(), false));
        assert_eq!(c.max_body_bytes, 20 << 20);
    }

    #[test]
    fn flags_win_over_file() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:1111\"\n[gateway]\nurl = \"wss://gw.example:8443/\"\n",
        )
        .unwrap();
        let mut s = settings();
        s.listen = Some("127.0.0.1:2222".into());
        let c = Config::from_parts(&s, file).unwrap();
        assert_eq!(c.listen.unwrap().port(), 2222);
        assert_eq!(c.gateway_http, ("gw.example:8443".to_string(), true));
    }

    #[test]
    fn every_problem_is_reported() {
        let s = Settings {
            listen: Some("nope".into()),
            gateway_url: Some("http://x".into()),
            log_format: Some("xml".into()),
            ..Settings::default()
        };
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Config::from_parts(&settings(), FileConfig::default()).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn device_identity_from_the_file_is_created_and_a_readable_key_is_an_error() {
        let dir = std::env::temp_dir().join(format!("clawshim-cfg-{}", std::process::id()));
        let path = dir.join("device.json");
        let file: FileConfig = toml::from_str(&format!(
            "[gateway]\ndevice_identity = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        let c = Config::from_parts(&settings(), file).unwrap();
        let id = c.gateway.device.as_ref().expect("identity loaded");
        assert!(format!("{c:?}").contains(id.device_id()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut s = settings();
            s.device_identity = Some(path.clone());
            let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
