//! Checks of where clawshim listens: the plain and HTTPS listeners, the metrics listener,
//! and the CA bundle for a `wss://` gateway. PEM files are read and parsed here, so a bad
//! path or file is a configuration error naming it rather than a panic in the listener.
//! Reading them changes nothing on disk or in the process (the certificate is registered for
//! SIGHUP reload only by `build_server`), so `--check-config` may do it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::front_door::tls::{self, TlsConfig};

/// `off` or empty turns a listener off.
pub fn is_off(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("off")
}

/// The plain listener: `None` when off.
pub fn plain(listen: &str, errors: &mut Vec<String>) -> Option<SocketAddr> {
    if is_off(listen) {
        None
    } else {
        addr("listen", listen, errors)
    }
}

/// The HTTPS listener, its certificate chain and key loaded; listen, cert and key come
/// together or not at all. At least one of the plain and HTTPS listeners must be on.
pub fn https(
    plain_listen: &str,
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    errors: &mut Vec<String>,
) -> Option<TlsConfig> {
    let listen = listen.filter(|l| !is_off(l));
    let requested = listen.is_some() || cert.is_some() || key.is_some();
    let tls = match (listen, cert, key) {
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
    if is_off(plain_listen) && !requested {
        errors.push("listen is off and no TLS listener is set: nothing would serve".into());
    }
    tls
}

/// The metrics listener: `None` when unset or off.
pub fn metrics(listen: Option<&str>, errors: &mut Vec<String>) -> Option<SocketAddr> {
    listen
        .filter(|m| !is_off(m))
        .and_then(|m| addr("metrics_listen", m, errors))
}

/// The CA bundle for a `wss://` gateway, loaded; an error for a `ws://` one.
pub fn gateway_roots(
    ca_file: Option<&std::path::Path>,
    gateway_tls: bool,
    errors: &mut Vec<String>,
) -> Option<Arc<rustls::RootCertStore>> {
    let path = ca_file?;
    if !gateway_tls {
        errors.push("gateway ca_file is set but the gateway URL is ws:// (no TLS)".into());
        return None;
    }
    match tls::load_roots(path) {
        Ok(roots) => Some(Arc::new(roots)),
        Err(e) => {
            errors.push(format!("gateway {e}"));
            None
        }
    }
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
    use crate::config::defaults;

    #[test]
    fn the_default_is_one_plain_listener() {
        let mut errors = Vec::new();
        let plain = plain(defaults::LISTEN, &mut errors);
        let tls = https(defaults::LISTEN, None, None, None, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(plain.unwrap().to_string(), defaults::LISTEN);
        assert!(tls.is_none());
    }

    #[test]
    fn off_without_tls_is_an_error() {
        let mut errors = Vec::new();
        assert!(plain("off", &mut errors).is_none());
        assert!(https("off", Some("off".into()), None, None, &mut errors).is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("nothing would serve"));
    }

    #[test]
    fn partial_tls_names_what_is_missing() {
        let mut errors = Vec::new();
        https(
            defaults::LISTEN,
            Some("127.0.0.1:8443".into()),
            None,
            None,
            &mut errors,
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("cert (CLAWSHIM_TLS_CERT)"), "{errors:?}");
        assert!(errors[0].contains("key (CLAWSHIM_TLS_KEY)"), "{errors:?}");
    }

    #[test]
    fn unreadable_pem_files_are_reported_with_their_paths() {
        let mut errors = Vec::new();
        let tls = https(
            "off",
            Some("127.0.0.1:8443".into()),
            Some("/nonexistent/cert.pem".into()),
            Some("/nonexistent/key.pem".into()),
            &mut errors,
        );
        assert!(tls.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("/nonexistent/cert.pem"), "{errors:?}");
    }

    #[test]
    fn metrics_listener_off_or_an_address() {
        let mut errors = Vec::new();
        assert_eq!(
            metrics(Some("127.0.0.1:9790"), &mut errors).unwrap().port(),
            9790
        );
        assert!(metrics(Some("off"), &mut errors).is_none());
        assert!(metrics(None, &mut errors).is_none());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(metrics(Some("nope"), &mut errors).is_none());
        assert!(errors[0].contains("metrics_listen"), "{errors:?}");
    }

    #[test]
    fn a_ca_file_for_a_plain_gateway_is_an_error() {
        let mut errors = Vec::new();
        let roots = gateway_roots(
            Some(std::path::Path::new("/etc/ssl/ca.pem")),
            false,
            &mut errors,
        );
        assert!(roots.is_none());
        assert!(errors[0].contains("ws://"), "{errors:?}");
    }
}
