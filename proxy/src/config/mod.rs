//! The configuration, in three layers: [`file`] (the TOML file as written, serde with
//! `deny_unknown_fields`), [`cli`] (flags, each sharing its definition with its `CLAWSHIM_*`
//! variable) and [`Config`] here, the one validated configuration of parsed types the rest of
//! clawshim reads. [`merge`] applies the precedence flags > env > file > [`defaults`] in one
//! place; [`validate`] checks the result once and reports every problem together, without
//! creating or changing anything (see its module docs), so `--check-config` is side-effect
//! free.

pub mod cli;
pub mod defaults;
pub mod file;
pub mod merge;
pub mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clawshim_core::gateway::client::Secret;
use clawshim_core::gateway::GatewayConfig;

pub use cli::{Cli, Command, GenKey, ListenerSettings, Settings};

use crate::keys::KeySpec;
use clawshim_core::gateway::SessionCleanup;

use crate::passthrough::ForwardedHeaders;
use crate::telemetry::LogFormat;
use crate::tls::TlsConfig;
use file::FileConfig;

/// Everything clawshim needs, parsed and checked. `Debug` shows no secret: tokens and
/// passwords are [`Secret`]s, which redact themselves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Plain HTTP listener; `None` when `listen = "off"` (HTTPS only).
    pub listen: Option<SocketAddr>,
    /// HTTPS listener, its certificate loaded.
    pub tls: Option<TlsConfig>,
    /// Prometheus metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// CA bundle for a `wss://` gateway (WebSocket and passthrough); `None`: system roots.
    /// Its certificates are loaded into `gateway.tls_roots`.
    pub gateway_ca_file: Option<PathBuf>,
    /// Graceful-upgrade socket (pingora's `upgrade_sock`).
    pub upgrade_sock: PathBuf,
    /// Process id file written once serving.
    pub pid_file: Option<PathBuf>,
    /// Take over a running process's listening sockets (`--upgrade`).
    pub upgrade: bool,
    /// The gateway connection; its `device` is filled at start-up from `device_identity`.
    pub gateway: GatewayConfig,
    /// Ed25519 device identity file: checked if it exists, created at start-up by
    /// [`crate::build_server`] if not.
    pub device_identity: Option<PathBuf>,
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
    pub delete_ephemeral_sessions: SessionCleanup,
    /// Adaptive limit and queue of the runs sent to the gateway (built-in tuning).
    pub admission: crate::admission::AdmissionSettings,
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
        validate::validate(merge::merge(settings, file))
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))
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

    fn temp_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "clawshim-cfg-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    #[test]
    fn defaults_accept_the_gateway_token() {
        let c = Config::from_parts(&settings(), FileConfig::default()).unwrap();
        assert_eq!(c.listen.unwrap().to_string(), defaults::LISTEN);
        assert_eq!(c.gateway.url, defaults::GATEWAY_URL);
        assert_eq!(c.api_tokens, vec![Secret::new("secret")]);
        assert_eq!(c.gateway_http, ("127.0.0.1:18789".to_string(), false));
        assert_eq!(c.max_body_bytes, 20 << 20);
        assert_eq!(c.forwarded_headers, ForwardedHeaders::Set);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.gateway.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.gateway.wait_for_connection, Duration::from_secs(5));
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
            max_body_bytes: Some(0),
            ..Settings::default()
        };
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn unknown_file_keys_and_enum_values_are_rejected() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[server]\nlog_format = \"xml\"").is_err());
        assert!(toml::from_str::<FileConfig>("[server]\nforwarded_headers = \"keep\"").is_err());
    }

    #[test]
    fn enum_flags_are_parsed_by_clap() {
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "clawshim",
            "--log-format",
            "json",
            "--forwarded-headers",
            "strip",
        ])
        .unwrap();
        assert_eq!(cli.settings.log_format, Some(LogFormat::Json));
        assert_eq!(
            cli.settings.forwarded_headers,
            Some(ForwardedHeaders::Strip)
        );
        assert!(Cli::try_parse_from(["clawshim", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Config::from_parts(&settings(), FileConfig::default()).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn validation_creates_no_device_identity() {
        let dir = temp_dir("device");
        let path = dir.join("sub").join("device.json");
        let file: FileConfig = toml::from_str(&format!(
            "[gateway]\ndevice_identity = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        let c = Config::from_parts(&settings(), file).unwrap();
        assert_eq!(c.device_identity.as_deref(), Some(path.as_path()));
        assert!(c.gateway.device.is_none());
        assert!(!dir.exists(), "validation created {}", dir.display());
    }

    #[test]
    fn an_existing_device_identity_is_checked() {
        let dir = temp_dir("device-mode");
        let path = dir.join("device.json");
        // Created the way start-up creates it, then opened to other users.
        clawshim_core::gateway::device::DeviceIdentity::load_or_create(&path).unwrap();
        let mut s = settings();
        s.device_identity = Some(path.clone());
        Config::from_parts(&s, FileConfig::default()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::write(&path, "not json").unwrap();
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("device identity"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_device_identity_under_a_file_is_an_error() {
        let dir = temp_dir("device-parent");
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("plain-file");
        std::fs::write(&blocker, "x").unwrap();
        let mut s = settings();
        s.device_identity = Some(blocker.join("device.json"));
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        let err = err.to_string();
        assert!(err.contains("device identity"), "{err}");
        assert!(err.contains("plain-file/device.json"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
