//! Where clawshim listens and how it hands its sockets over: the plain and HTTPS listeners,
//! the metrics listener, the graceful-upgrade socket, and the CA for a `wss://` gateway.
//! Every PEM file is read and checked here, at start-up, so a bad path or file is a
//! configuration error naming it, not a panic in the listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::file::FileConfig;
use super::DEFAULT_LISTEN;
use crate::tls::{self, TlsConfig};

/// Default graceful-upgrade socket; old and new process must use the same.
pub const DEFAULT_UPGRADE_SOCK: &str = "/tmp/clawshim_upgrade.sock";

/// Listener flags (each with its `CLAWSHIM_*` variable).
#[derive(Debug, Default, Clone, Args)]
pub struct ListenerSettings {
    /// HTTPS listen address, e.g. 0.0.0.0:8443 (needs --tls-cert and --tls-key).
    #[arg(long, env = "CLAWSHIM_TLS_LISTEN", global = true)]
    pub tls_listen: Option<String>,
    /// PEM certificate chain for the HTTPS listener, leaf first.
    #[arg(long, env = "CLAWSHIM_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the HTTPS listener.
    #[arg(long, env = "CLAWSHIM_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Prometheus metrics listen address, e.g. 127.0.0.1:9790 (default: off).
    #[arg(long, env = "CLAWSHIM_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
    /// PEM CA bundle trusted for a wss:// gateway instead of the system roots.
    #[arg(long, env = "CLAWSHIM_GATEWAY_CA_FILE", global = true)]
    pub gateway_ca_file: Option<PathBuf>,
    /// Unix socket over which a graceful upgrade hands the listening sockets over.
    #[arg(long, env = "CLAWSHIM_UPGRADE_SOCK", global = true)]
    pub upgrade_sock: Option<PathBuf>,
    /// Write the process id here once serving (for `kill -QUIT` / `kill -HUP`).
    #[arg(long, env = "CLAWSHIM_PID_FILE", global = true)]
    pub pid_file: Option<PathBuf>,
    /// Take over the listening sockets of a running clawshim (graceful upgrade; send the old
    /// process SIGQUIT within 5 seconds).
    #[arg(long, global = true)]
    pub upgrade: bool,
}

/// The validated listener settings.
#[derive(Debug, Clone)]
pub struct Listeners {
    /// Plain HTTP listener; `None` when set to `off` (HTTPS only).
    pub plain: Option<SocketAddr>,
    /// HTTPS listener.
    pub tls: Option<TlsConfig>,
    /// Prometheus metrics listener.
    pub metrics: Option<SocketAddr>,
    /// CA file for a `wss://` gateway (also used for passthrough to it).
    pub gateway_ca_file: Option<PathBuf>,
    /// Its certificates, loaded.
    pub gateway_roots: Option<Arc<rustls::RootCertStore>>,
    /// Graceful-upgrade socket.
    pub upgrade_sock: PathBuf,
    /// Process id file.
    pub pid_file: Option<PathBuf>,
    /// Start by taking over a running process's sockets.
    pub upgrade: bool,
}

/// Merge flags/env (`settings`, `listen`) over the file and check everything; problems are
/// appended to `errors`.
pub fn merge(
    settings: &ListenerSettings,
    listen: &Option<String>,
    file: &FileConfig,
    gateway_tls: bool,
    errors: &mut Vec<String>,
) -> Listeners {
    let ListenerSettings {
        tls_listen,
        tls_cert,
        tls_key,
        metrics_listen,
        gateway_ca_file,
        upgrade_sock,
        pid_file,
        upgrade,
    } = settings;

    let listen_raw = listen
        .clone()
        .or_else(|| file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.into());
    let plain = if is_off(&listen_raw) {
        None
    } else {
        addr("listen", &listen_raw, errors)
    };

    let tls_listen = tls_listen.clone().or_else(|| file.tls.listen.clone());
    let cert = tls_cert.clone().or_else(|| file.tls.cert.clone());
    let key = tls_key.clone().or_else(|| file.tls.key.clone());
    let tls_listen = tls_listen.filter(|l| !is_off(l));
    let tls_requested = tls_listen.is_some() || cert.is_some() || key.is_some();
    let tls = match (tls_listen, cert, key) {
        (None, None, None) => None,
        (Some(listen), Some(cert), Some(key)) => {
            let listen = addr("tls listen", &listen, errors);
            match tls::CertStore::load(&cert, &key) {
                Ok(store) => listen.map(|listen| TlsConfig {
                    listen,
                    cert,
                    key,
                    store,
                }),
                Err(e) => {
                    errors.push(format!("tls: {e}"));
                    None
                }
            }
        }
        (listen, cert, key) => {
            let missing: Vec<&str> = [
                (listen.is_none(), "listen (CLAWSHIM_TLS_LISTEN)"),
                (cert.is_none(), "cert (CLAWSHIM_TLS_CERT)"),
                (key.is_none(), "key (CLAWSHIM_TLS_KEY)"),
            ]
            .into_iter()
            .filter_map(|(m, name)| m.then_some(name))
            .collect();
            errors.push(format!(
                "tls: set listen, cert and key together; missing {}",
                missing.join(", ")
            ));
            None
        }
    };
    if is_off(&listen_raw) && !tls_requested {
        errors.push("listen is off and no TLS listener is set: nothing would serve".into());
    }

    let metrics = metrics_listen
        .clone()
        .or_else(|| file.server.metrics_listen.clone())
        .filter(|m| !is_off(m))
        .and_then(|m| addr("metrics_listen", &m, errors));

    let gateway_ca_file = gateway_ca_file
        .clone()
        .or_else(|| file.gateway.ca_file.clone());
    let gateway_roots = match &gateway_ca_file {
        None => None,
        Some(_) if !gateway_tls => {
            errors.push("gateway ca_file is set but the gateway URL is ws:// (no TLS)".into());
            None
        }
        Some(path) => match tls::load_roots(path) {
            Ok(roots) => Some(Arc::new(roots)),
            Err(e) => {
                errors.push(format!("gateway {e}"));
                None
            }
        },
    };

    Listeners {
        plain,
        tls,
        metrics,
        gateway_ca_file,
        gateway_roots,
        upgrade_sock: upgrade_sock
            .clone()
            .or_else(|| file.server.upgrade_sock.clone())
            .unwrap_or_else(|| DEFAULT_UPGRADE_SOCK.into()),
        pid_file: pid_file.clone().or_else(|| file.server.pid_file.clone()),
        upgrade: *upgrade,
    }
}

/// `off` or empty turns a listener off.
fn is_off(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("off")
}

fn addr(name: &str, raw: &str, errors: &mut Vec<String>) -> Option<SocketAddr> {
    match raw.trim().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(format!(
                "{name}: `{raw}` is not an address like 127.0.0.1:8790 (or `off`)"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        settings: ListenerSettings,
        listen: Option<&str>,
        file: &str,
    ) -> (Listeners, Vec<String>) {
        let file: FileConfig = toml::from_str(file).unwrap();
        let mut errors = Vec::new();
        let l = merge(
            &settings,
            &listen.map(str::to_owned),
            &file,
            false,
            &mut errors,
        );
        (l, errors)
    }

    #[test]
    fn defaults_are_one_plain_listener() {
        let (l, errors) = run(ListenerSettings::default(), None, "");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(l.plain.unwrap().to_string(), DEFAULT_LISTEN);
        assert!(l.tls.is_none() && l.metrics.is_none());
        assert_eq!(l.upgrade_sock, PathBuf::from(DEFAULT_UPGRADE_SOCK));
    }

    #[test]
    fn off_without_tls_is_an_error() {
        let (_, errors) = run(ListenerSettings::default(), Some("off"), "");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("nothing would serve"));
    }

    #[test]
    fn partial_tls_names_what_is_missing() {
        let s = ListenerSettings {
            tls_listen: Some("127.0.0.1:8443".into()),
            ..ListenerSettings::default()
        };
        let (_, errors) = run(s, None, "");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("cert (CLAWSHIM_TLS_CERT)"), "{errors:?}");
        assert!(errors[0].contains("key (CLAWSHIM_TLS_KEY)"), "{errors:?}");
    }

    #[test]
    fn unreadable_pem_files_are_reported_with_their_paths() {
        let (l, errors) = run(
            ListenerSettings::default(),
            Some("off"),
            "[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
        );
        assert!(l.tls.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("/nonexistent/cert.pem"), "{errors:?}");
    }

    #[test]
    fn metrics_listener_from_the_file() {
        let (l, errors) = run(
            ListenerSettings::default(),
            None,
            "[server]\nmetrics_listen = \"127.0.0.1:9790\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(l.metrics.unwrap().port(), 9790);
    }

    #[test]
    fn a_ca_file_for_a_plain_gateway_is_an_error() {
        let s = ListenerSettings {
            gateway_ca_file: Some("/etc/ssl/ca.pem".into()),
            ..ListenerSettings::default()
        };
        let (_, errors) = run(s, None, "");
        assert!(errors[0].contains("ws://"), "{errors:?}");
    }
}
