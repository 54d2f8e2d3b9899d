//! TLS termination: the HTTPS listener's settings, PEM loading and checking, and certificate
//! reload without dropping connections.
//!
//! clawshim terminates TLS itself with rustls (through pingora's `rustls` listener): TLS 1.2
//! and 1.3 only, rustls' safe cipher suites, HTTP/2 and HTTP/1.1 offered by ALPN. The
//! certificate chain and key are read and checked once in [`crate::config::Config`]
//! validation (which only reads them; `build_server` registers the certificate for reload),
//! so a missing file, a file without a certificate or key, or a key that does not
//! match the certificate is a start-up error with the path in the message, never a panic.
//! The same listener can run next to the plain one (`listen`), or alone (`listen = "off"`).
//!
//! # Replacing the certificate
//!
//! Two ways, neither drops a connection:
//!
//! 1. **Reload in place (SIGHUP).** Write the new chain and key over the configured files
//!    (key first, then chain, or rename both into place), then `kill -HUP <pid>`. clawshim
//!    reads both files again and, if they parse and match, new TLS handshakes use them;
//!    connections already open keep their session. If the new files are bad, the old
//!    certificate stays in use and the reason is logged at `error`. With systemd:
//!    `ExecReload=/bin/kill -HUP $MAINPID`.
//! 2. **Graceful upgrade (SIGQUIT + `--upgrade`)**, pingora's mechanism, which also replaces
//!    the binary and every other setting. The old and the new process must agree on
//!    `[server] upgrade_sock` (`CLAWSHIM_UPGRADE_SOCK`, default `upgrade.sock` in a
//!    directory private to clawshim's user, see [`crate::front_door::upgrade_socket`]) and listen on the
//!    same addresses. Then:
//!    1. start the new process with the same configuration plus `--upgrade`:
//!       `clawshim --config /etc/clawshim.toml --upgrade`. It waits (about 5 s) for the
//!       listening sockets on the upgrade socket instead of binding them;
//!    2. within those seconds send the old process SIGQUIT:
//!       `kill -QUIT $(cat /run/clawshim.pid)` (with `[server] pid_file` set; the new
//!       process rewrites the file once it has taken over). The old process hands its
//!       listening sockets over, keeps accepting for 5 more seconds, then stops accepting
//!       and lets requests in flight finish for `grace_period_secs` before it exits.
//!
//!    Every connection is served by the old or the new process; none is refused. Streams
//!    longer than the grace period are cut when the old process exits, so set
//!    `grace_period_secs` to the longest run you want to survive an upgrade. The order of
//!    the two steps may also be reversed (pingora retries either side for about 5 s).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};

use async_trait::async_trait;
use clawshim_core::private_fs::{self, PrivateFsError};
use pingora::listeners::tls::TlsSettings;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{error, info};

/// The HTTPS listener: address, certificate chain and private key (PEM files), loaded.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where the HTTPS listener binds.
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The pair as loaded at start-up; reloaded from the same paths.
    pub store: Arc<CertStore>,
}

/// Read `cert` and `key` and check that they form a usable pair; the error names the file
/// and the problem.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    // Another local user must not read the key (the device identity's rule, shared). A file
    // that cannot be read at all is reported below, with the certificate's problems first.
    if let Err(e @ PrivateFsError::Readable { .. }) = private_fs::check_owner_only(key) {
        return Err(format!("tls key {e}"));
    }
    let chain = load_certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "tls key {}: {}",
            key.display(),
            pem_problem(e, "no PEM private key")
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key_der, &provider).map_err(|e| {
        format!(
            "tls key {} does not fit certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })
}

/// Read a PEM CA bundle into a root store (for a `wss://` gateway with a private CA).
pub fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("ca file {}: {e}", path.display()))?;
    }
    Ok(roots)
}

/// Every certificate in a PEM file; an error when there is none.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let what = |e| {
        format!(
            "{}: {}",
            path.display(),
            pem_problem(e, "no PEM certificate")
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(what)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(what)?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            path.display()
        ));
    }
    Ok(certs)
}

fn pem_problem(e: rustls_pki_types::pem::Error, missing: &str) -> String {
    use rustls_pki_types::pem::Error as E;
    match e {
        E::Io(io) => io.to_string(),
        E::NoItemsFound => format!("{missing} in the file"),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// The certificate the listener presents; [`CertStore::reload`] swaps it for new
/// handshakes while open connections keep theirs.
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

/// Every serving store in the process, for [`reload_all`].
static STORES: Mutex<Vec<Weak<CertStore>>> = Mutex::new(Vec::new());

impl CertStore {
    /// Load the pair from `cert` and `key`. Only reads the files: configuration checks call
    /// this, and [`register`] makes the store reloadable once it serves.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertStore>, String> {
        let loaded = load_certified_key(cert, key)?;
        Ok(Arc::new(CertStore {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(loaded)),
        }))
    }

    /// Read the files again; on success new handshakes use them, on failure nothing changes.
    pub fn reload(&self) -> Result<(), String> {
        let key = load_certified_key(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }

    fn reload_logged(&self) -> Result<(), String> {
        let result = self.reload();
        match &result {
            Ok(()) => info!(cert = %self.cert.display(), "TLS certificate reloaded"),
            Err(e) => error!(error = %e, "TLS certificate reload failed; keeping the old one"),
        }
        result
    }
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Make `store` one of the certificates [`reload_all`] reloads; `build_server` calls this
/// for the listener it adds.
pub fn register(store: &Arc<CertStore>) {
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    stores.retain(|w| w.strong_count() > 0);
    if !stores
        .iter()
        .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(store)))
    {
        stores.push(Arc::downgrade(store));
    }
}

/// Reload every HTTPS listener's certificate in this process, as SIGHUP does; one result per
/// listener, with its certificate path.
pub fn reload_all() -> Vec<(PathBuf, Result<(), String>)> {
    let stores: Vec<Arc<CertStore>> = STORES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    stores
        .iter()
        .map(|s| (s.cert.clone(), s.reload_logged()))
        .collect()
}

/// pingora listener settings presenting `store`'s certificate, with ALPN `h2` then
/// `http/1.1`. pingora limits rustls to TLS 1.2 and 1.3 with its safe default suites.
pub fn settings(tls: &TlsConfig) -> TlsSettings {
    let cert = tls.cert.to_string_lossy();
    let key = tls.key.to_string_lossy();
    // `intermediate` only records the paths: with a resolver set they are never read again.
    let mut settings =
        TlsSettings::intermediate(&cert, &key).expect("TlsSettings::intermediate cannot fail");
    settings.set_cert_resolver(tls.store.clone());
    settings.enable_h2();
    settings
}

/// Reloads the certificate on SIGHUP (see the module docs).
pub struct ReloadOnHangup {
    store: Arc<CertStore>,
}

impl ReloadOnHangup {
    /// A service reloading `store`.
    pub fn new(store: Arc<CertStore>) -> Self {
        ReloadOnHangup { store }
    }
}

#[async_trait]
impl BackgroundService for ReloadOnHangup {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "cannot watch SIGHUP; certificate reload needs an upgrade");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                got = hangup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    let _ = self.store.reload_logged();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        // Private like a real key file: the content is what these tests are about.
        #[cfg(unix)]
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        p
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "clawshim-tls-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_files_name_the_path() {
        let e =
            load_certified_key(Path::new("/nonexistent/c.pem"), Path::new("/x/k.pem")).unwrap_err();
        assert!(e.contains("/nonexistent/c.pem"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_other_users_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempdir("keymode");
        let key = rcgen_free_key(&d);
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = load_certified_key(&key, &key).unwrap_err();
            assert!(e.contains("chmod 600"), "{mode:o}: {e}");
            assert!(e.contains(&key.display().to_string()), "{e}");
        }
        let _ = std::fs::remove_dir_all(d);
    }

    /// A file standing in for a private key: the mode is checked before the content.
    fn rcgen_free_key(dir: &Path) -> PathBuf {
        write(
            dir,
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
        )
    }

    #[test]
    fn a_file_without_pem_is_reported_not_panicked() {
        let d = tempdir("nopem");
        let cert = write(&d, "c.pem", "hello, not a certificate\n");
        let e = load_certified_key(&cert, &cert).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = load_roots(&cert).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let _ = std::fs::remove_dir_all(d);
    }
}
