//! The configuration, in three layers: [`file`] (the TOML file as written, serde with
//! `deny_unknown_fields`), [`cli`] (flags, each sharing its definition with its `CLAWSHIM_*`
//! variable) and [`Config`] here, the one validated configuration of parsed types the rest of
//! clawshim reads. [`merge`] applies the precedence flags > env > file > [`defaults`] in one
//! place; [`validate`] checks the result once and reports every problem together, without
//! creating or changing anything (see its module docs), so `--check-config` is side-effect
//! free. [`discover`] finds the local gateway's own config, the lowest source of the gateway
//! URL and credential (zero-config on the gateway's host). [`load`] puts them together
//! (`Config::load`). The settings types of single features come from the modules they
//! configure (`front_door::keys::KeySpec`, ...), which never import this one.

pub mod cli;
pub mod defaults;
pub mod discover;
pub mod file;
pub mod load;
pub mod merge;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clawshim_core::gateway::GatewayConfig;
use clawshim_core::gateway::Secret;
use clawshim_core::gateway::{ProgressLevel, SessionCleanup};

pub use cli::{Cli, Command, GenKey, ListenerSettings, Settings, TraceFlags};

use crate::front_door::client_ip::TrustedProxies;
use crate::front_door::connections::ConnectionLimits;
use crate::front_door::keys::KeySpec;
use crate::front_door::passthrough::Allowlist;
use crate::front_door::passthrough::ForwardedHeaders;
use crate::front_door::tls::TlsConfig;
use crate::ops::telemetry::LogFormat;
use crate::ops::traces::TraceSettings;
use crate::request::body::BodyLimits;
use crate::run::image_fetch::ImageFetchConfig;

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
    /// Requests' own function tools (per key too: [`crate::keys`]).
    pub client_tools: crate::run::client_tools::mode::ClientToolsMode,
    /// Adaptive limit and queue of the runs sent to the gateway (built-in tuning).
    pub admission: crate::run::admission::AdmissionSettings,
    /// A request body's size, deadline and slowest rate.
    pub body: BodyLimits,
    /// Run timeout passed to the gateway; the local deadline adds [`Config::run_grace`].
    pub run_timeout: Duration,
    /// Extra time the gateway gets to report its own timeout before we give up.
    pub run_grace: Duration,
    /// Per-write limit towards a client.
    pub write_timeout: Duration,
    /// SSE keep-alive interval.
    pub keepalive: Duration,
    /// Non-stream keep-alive interval (`None`: off): see `chat::JsonOutput`.
    pub json_keepalive: Option<Duration>,
    /// Runs in flight at once.
    pub max_concurrent_runs: usize,
    /// Request bodies read and parsed at once; more wait up to
    /// [`defaults::BODY_SLOT_WAIT`], then get 503.
    pub max_concurrent_bodies: usize,
    /// Of those, at most this many for one API key and for one client address; more wait,
    /// then get 429.
    pub max_concurrent_bodies_per_client: usize,
    /// Bytes of run requests held until the gateway accepted them, all runs together
    /// (`run_setup`): beyond it 503.
    pub max_run_bytes_in_flight: u64,
    /// HTTP worker threads.
    pub threads: usize,
    /// Grace period after SIGTERM.
    pub grace_period: Duration,
    /// Proxy other paths to the gateway.
    pub passthrough: bool,
    /// The path prefixes passthrough forwards.
    pub passthrough_allow: Allowlist,
    /// Connection-level limits of the client listeners.
    pub connections: ConnectionLimits,
    /// Client attribution on passthrough requests.
    pub forwarded_headers: ForwardedHeaders,
    /// Proxies whose `X-Forwarded-For` names the client (passthrough attribution, the
    /// failed-auth limiter, the access log).
    pub trusted_proxies: TrustedProxies,
    /// Valid but risky settings, logged at start and printed by `--check-config`.
    pub warnings: Vec<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// The agent's work in responses, for requests whose key sets none.
    pub progress: ProgressLevel,
    /// OTLP trace export; `None`: off.
    pub traces: Option<TraceSettings>,
    /// The local gateway config file the gateway URL or credential came from, if any.
    pub gateway_discovered_from: Option<PathBuf>,
    /// Remote image URLs: refused, or fetched within these limits.
    pub images: ImageFetchConfig,
    /// `[state]`: Redis shared by several instances (none: per-instance state).
    pub shared_state: crate::shared_state::SharedStateSettings,
}

/// Every problem found in the configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

#[cfg(test)]
mod tests {
    use super::file::FileConfig;
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
        assert_eq!(c.body.max_bytes, 20 << 20);
        assert_eq!(c.forwarded_headers, ForwardedHeaders::Set);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.gateway.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.gateway.wait_for_connection, Duration::ZERO);
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
    fn traces_are_off_until_an_endpoint_is_set_and_follow_the_otel_rules() {
        use crate::ops::traces::Sampling;
        let c = Config::from_parts(&settings(), FileConfig::default()).unwrap();
        assert_eq!(c.traces, None);
        // The file's base URL gets /v1/traces; the flag's sampler wins over the file's.
        let file: FileConfig = toml::from_str(
            "[traces]\nendpoint = \"http://127.0.0.1:4318/\"\nsampler = \"always_off\"\n\
             headers = \"x-key=abc\"\nservice_name = \"edge\"\n",
        )
        .unwrap();
        let mut s = settings();
        s.traces.otel_traces_sampler = Some("parentbased_traceidratio".into());
        s.traces.otel_traces_sampler_arg = Some("0.5".into());
        let t = Config::from_parts(&s, file).unwrap().traces.unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(t.sampling, Sampling::ParentBasedRatio(0.5));
        assert_eq!(t.service_name, "edge");
        assert_eq!(t.headers, vec![("x-key".into(), "abc".into())]);
        // The traces URL is used as written and wins over the base URL.
        s.traces.otlp_endpoint = Some("http://ignored:4318".into());
        s.traces.otlp_traces_endpoint = Some("http://collector:9999/custom".into());
        let t = Config::from_parts(&s, FileConfig::default())
            .unwrap()
            .traces
            .unwrap();
        assert_eq!(t.endpoint, "http://collector:9999/custom");
        assert_eq!(t.service_name, defaults::OTEL_SERVICE_NAME);
    }

    #[test]
    fn trace_settings_that_cannot_work_are_refused_without_showing_secrets() {
        let mut s = settings();
        s.traces.otlp_endpoint = Some("https://collector:4318".into());
        s.traces.otlp_protocol = Some("grpc".into());
        s.traces.otlp_headers = Some("api-key=hunter2,broken".into());
        s.traces.otel_traces_sampler = Some("often".into());
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("http/protobuf") && text.contains("https is not built in"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        s.traces = Default::default();
        s.traces.otlp_endpoint = Some("collector:4318".into());
        assert!(Config::from_parts(&s, FileConfig::default()).is_err());
        // A valid set-up shows header names, never values, in `--check-config`.
        s.traces.otlp_endpoint = Some("http://collector:4318".into());
        s.traces.otlp_headers = Some("api-key=hunter2".into());
        let shown = format!(
            "{:?}",
            Config::from_parts(&s, FileConfig::default()).unwrap()
        );
        assert!(
            shown.contains("api-key") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn otel_variables_are_the_trace_flags() {
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "clawshim",
            "--otlp-endpoint",
            "http://127.0.0.1:4318",
            "--otel-traces-sampler",
            "always_on",
        ])
        .unwrap();
        assert_eq!(
            cli.settings.traces.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        let command = <Cli as clap::CommandFactory>::command();
        let envs: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        for var in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_SERVICE_NAME",
            "OTEL_TRACES_SAMPLER",
            "OTEL_TRACES_SAMPLER_ARG",
        ] {
            assert!(envs.iter().any(|e| e == var), "{var} not read");
        }
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
    fn with_keys_the_gateway_token_is_a_client_credential_only_when_listed() {
        let keys = format!(
            "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\n",
            "ab".repeat(32)
        );
        let mut s = settings();
        s.listen = Some("0.0.0.0:8790".into());
        let file: FileConfig = toml::from_str(&keys).unwrap();
        let c = Config::from_parts(&s, file).unwrap();
        assert!(c.api_tokens.is_empty(), "{:?}", c.api_tokens);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // Listed: accepted, and on a LAN listener warned about.
        let file: FileConfig =
            toml::from_str(&format!("{keys}[auth]\ntokens = [\"secret\"]\n")).unwrap();
        let c = Config::from_parts(&s, file).unwrap();
        assert_eq!(c.api_tokens, vec![Secret::new("secret")]);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("[auth] tokens"), "{:?}", c.warnings);
    }

    #[test]
    fn a_lan_listener_with_only_the_gateway_token_is_a_warning() {
        let mut s = settings();
        let c = Config::from_parts(&s, FileConfig::default()).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        s.listen = Some("0.0.0.0:8790".into());
        let c = Config::from_parts(&s, FileConfig::default()).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].contains("clawshim gen-key"),
            "{:?}",
            c.warnings
        );
        s.api_tokens = Some(vec!["own".into()]);
        let c = Config::from_parts(&s, FileConfig::default()).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn trusted_proxies_come_from_file_env_and_flag() {
        let file: FileConfig =
            toml::from_str("[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n").unwrap();
        let c = Config::from_parts(&settings(), file).unwrap();
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        use clap::Parser;
        let cli =
            Cli::try_parse_from(["clawshim", "--trusted-proxies", "127.0.0.1,::1/128"]).unwrap();
        let mut s = cli.settings;
        s.gateway_token = Some("secret".into());
        let c = Config::from_parts(&s, FileConfig::default()).unwrap();
        assert!(c.trusted_proxies.contains("::1".parse().unwrap()));
        assert!(c
            .trusted_proxies
            .contains("::ffff:127.0.0.1".parse().unwrap()));
        let file: FileConfig =
            toml::from_str("[server]\ntrusted_proxies = [\"10.0.0.0/99\"]\n").unwrap();
        let err = Config::from_parts(&settings(), file).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn run_memory_run_share_and_queue_wait_come_from_the_flag_over_the_file() {
        use clap::Parser;
        let file = || -> FileConfig {
            toml::from_str("[limits]\nmax_run_bytes_in_flight = 1000\nkey_run_share_percent = 30\n")
                .unwrap()
        };
        let c = Config::from_parts(&settings(), file()).unwrap();
        assert_eq!(c.max_run_bytes_in_flight, 1000);
        let cli = Cli::try_parse_from([
            "clawshim",
            "--max-run-bytes-in-flight",
            "2000",
            "--key-run-share-percent",
            "101",
        ])
        .unwrap();
        let mut s = cli.settings;
        s.gateway_token = Some("secret".into());
        let err = Config::from_parts(&s, file()).unwrap_err();
        assert!(err.to_string().contains("key_run_share_percent"), "{err}");
        s.key_run_share_percent = Some(40);
        let c = Config::from_parts(&s, file()).unwrap();
        assert_eq!(c.max_run_bytes_in_flight, 2000);
        assert_eq!(c.admission.max_queue_wait, Duration::from_secs(60));
        s.queue_wait_secs = Some(600);
        let c = Config::from_parts(&s, file()).unwrap();
        assert_eq!(c.admission.max_queue_wait, Duration::from_secs(600));
        s.queue_wait_secs = Some(0);
        let err = Config::from_parts(&s, file()).unwrap_err();
        assert!(err.to_string().contains("queue_wait_secs"), "{err}");
    }

    #[test]
    fn passthrough_allow_and_connection_limits_are_validated() {
        let file: FileConfig =
            toml::from_str("[passthrough]\nallow = [\"/ui/\"]\n[limits]\nmax_connections = 5\n")
                .unwrap();
        let c = Config::from_parts(&settings(), file).unwrap();
        assert_eq!(c.passthrough_allow.entries(), ["/ui"]);
        assert_eq!(c.connections.max_connections, 5);
        assert_eq!(c.connections.h2_max_concurrent_streams, 100);
        let mut s = settings();
        s.passthrough_allow = Some(vec!["ui".into()]);
        s.h2_max_concurrent_streams = Some(101);
        s.header_timeout_secs = Some(0);
        let err = Config::from_parts(&s, FileConfig::default()).unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.to_string().contains("must start with `/`"), "{err}");
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

#[cfg(test)]
mod zero_config {
    use std::collections::HashMap;

    use super::*;

    struct Vars(HashMap<&'static str, String>);

    impl discover::Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    /// A state dir holding the interop harness's v4 config, as `tests/interop/run.sh` writes it.
    fn v4_state_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "clawshim-zero-config-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/interop/v4/openclaw.template.json"
        ))
        .unwrap();
        let text = template
            .replace("__GATEWAY_PORT__", "18955")
            .replace("__MOCK_PORT__", "18999")
            .replace("__STATE_DIR__", &dir.display().to_string())
            .replace("__LOG_DIR__", &dir.display().to_string())
            .replace("__GATEWAY_TOKEN__", "zero-config-token");
        std::fs::write(dir.join("openclaw.json"), text).unwrap();
        dir
    }

    #[test]
    fn nothing_configured_uses_the_local_gateway() {
        let dir = v4_state_dir();
        let env = Vars(HashMap::from([
            ("HOME", "/nonexistent-clawshim-home".to_string()),
            ("OPENCLAW_STATE_DIR", dir.display().to_string()),
        ]));
        let c = Config::load_with(&Settings::default(), &env).unwrap();
        assert_eq!(c.gateway.url, "ws://127.0.0.1:18955");
        assert_eq!(c.api_tokens, vec![Secret::new("zero-config-token")]);
        assert_eq!(c.gateway_discovered_from, Some(dir.join("openclaw.json")));

        // An explicit token wins and the file is not read.
        let explicit = Settings {
            gateway_token: Some("mine".into()),
            ..Settings::default()
        };
        let c = Config::load_with(&explicit, &env).unwrap();
        assert_eq!(c.gateway.url, defaults::GATEWAY_URL);
        assert_eq!(c.gateway_discovered_from, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_configured_and_nothing_found_names_where_it_looked() {
        let env = Vars(HashMap::from([(
            "HOME",
            "/nonexistent-clawshim-home".to_string(),
        )]));
        let err = Config::load_with(&Settings::default(), &env).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("/nonexistent-clawshim-home/.openclaw/openclaw.json"),
            "{err}"
        );
        assert!(err.contains("clawshim demo"), "{err}");
    }
}
